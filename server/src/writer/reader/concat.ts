// Several inputs read as one (qemu-img convert IN1 IN2 … OUT): qemu-img.c img_convert sums the
// inputs' sizes in whole sectors (bs_sectors[i] = blk_nb_sectors, total_sectors += …) and
// convert_iteration_sectors reads each at its own offset (src_cur, src_cur_offset), so an input
// whose size is not a multiple of 512 is followed by zeros up to its sector's end.
import { WriterError } from '../errors';
import type { BlockRange, ImageFormat, ImageReader } from './imageReader';

const SECTOR = 512;

/** One image whose guest view is `parts` one after the other, each padded to whole sectors. */
export class ConcatReader implements ImageReader {
  readonly path: string;
  /** raw when every part is a raw file (the copy loop then judges holes as a raw input's). */
  readonly format: ImageFormat;
  readonly virtualSize: number;
  readonly backing = undefined;
  private readonly starts: number[] = [];

  constructor(private readonly parts: readonly ImageReader[]) {
    if (!parts.length) throw new Error('ConcatReader needs at least one image');
    this.path = parts[0].path;
    this.format = parts.every((p) => p.format === 'raw' && !p.backing) ? 'raw' : parts[0].format;
    let at = 0;
    for (const p of parts) {
      this.starts.push(at);
      at += Math.ceil(p.virtualSize / SECTOR) * SECTOR;
    }
    this.virtualSize = at;
  }

  /** [part, its start, offset in it, bytes of it] pieces of [offset, offset + length). */
  private *pieces(offset: number, length: number): Generator<[ImageReader, number, number, number]> {
    const end = offset + length;
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      end > this.virtualSize
    ) {
      throw new WriterError(
        `${this.path}: range ${offset}+${length} is outside the inputs (${this.virtualSize} bytes)`,
        'refused',
      );
    }
    for (let i = 0; i < this.parts.length; i++) {
      const from = Math.max(offset, this.starts[i]);
      const to = Math.min(end, i + 1 < this.parts.length ? this.starts[i + 1] : this.virtualSize);
      if (from < to) yield [this.parts[i], this.starts[i], from - this.starts[i], to - from];
    }
  }

  private async status(offset: number, length: number, top: boolean): Promise<BlockRange[]> {
    const out: BlockRange[] = [];
    const push = (r: BlockRange) => {
      const last = out[out.length - 1];
      if (last && last.kind === r.kind && last.offset + last.length === r.offset) last.length += r.length;
      else if (r.length > 0) out.push({ ...r });
    };
    for (const [part, start, o, n] of this.pieces(offset, length)) {
      const inPart = Math.max(0, Math.min(n, part.virtualSize - o));
      if (inPart > 0) {
        const rs = top ? await part.readTopStatus(o, inPart) : await part.readBlockStatus(o, inPart);
        for (const r of rs) push({ offset: r.offset + start, length: r.length, kind: r.kind });
      }
      // The padding of a part's last partial sector reads as zeros.
      push({ offset: start + o + inPart, length: n - inPart, kind: 'zero' });
    }
    return out;
  }

  readBlockStatus(offset: number, length: number): Promise<BlockRange[]> {
    return this.status(offset, length, false);
  }

  readTopStatus(offset: number, length: number): Promise<BlockRange[]> {
    return this.status(offset, length, true);
  }

  async read(offset: number, buf: Uint8Array): Promise<void> {
    for (const [part, start, o, n] of this.pieces(offset, buf.length)) {
      const at = start + o - offset;
      const inPart = Math.max(0, Math.min(n, part.virtualSize - o));
      if (inPart > 0) await part.read(o, buf.subarray(at, at + inPart));
      buf.fill(0, at + inPart, at + n);
    }
  }

  async close(): Promise<void> {
    for (const p of this.parts) await p.close();
  }
}
