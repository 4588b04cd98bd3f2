// One image file of a chain as the reader sees it: a virtual size, a map of a guest range into
// data / zero / unallocated pieces, and the bytes of a data piece (decrypted, decompressed).
// Unallocated pieces fall through to the backing file (imageReader.ts resolves the chain).
import { cryptSectors, type SectorCipher } from '../crypto/modes';
import type { BoundedFile } from './source';

export type BlockKind = 'data' | 'zero' | 'unallocated';

export interface BlockRange {
  offset: number;
  length: number;
  kind: BlockKind;
}

export interface Piece extends BlockRange {
  /** data: where the piece's first byte is stored (in `file`). */
  host?: number;
  /** data stored compressed: the cluster's stored bytes and the guest offset of the cluster. */
  compressed?: { offset: number; size: number; clusterStart: number };
}

export type ImageFormat = 'raw' | 'qcow2' | 'luks';

export interface Layer {
  readonly format: ImageFormat;
  readonly virtualSize: number;
  /** Pieces covering [offset, offset + length) in order, offset + length ≤ virtualSize. */
  map(offset: number, length: number): Promise<Piece[]>;
  /** Writes the bytes of a data piece into dst[dstOff, dstOff + p.length). */
  readPiece(p: Piece, dst: Uint8Array, dstOff: number): Promise<void>;
  /** Optional bulk form: data pieces of one read (dst[p.offset - base]), possibly concurrently. */
  readPieces?(pieces: Piece[], dst: Uint8Array, base: number): Promise<void>;
  close(): Promise<void>;
}

/** Sector encryption of a layer: which sector number a byte's IV uses (qemu qcow2_co_encdec). */
export interface LayerCipher {
  cipher: SectorCipher;
  /** true: sectors count host (file) offsets from `base` (LUKS); false: guest offsets (qcow AES). */
  physical: boolean;
  base: number;
}

const SECTOR = 512;
/** Largest single read: bounds the memory a huge data piece takes. */
const READ_CHUNK = 4 << 20;

/**
 * Reads `length` bytes stored at `host` of `file` for guest offset `guest` into dst, decrypting
 * whole 512-byte sectors when the layer is encrypted (host and guest share their offset within a
 * sector: clusters and LUKS payloads are sector-aligned).
 */
export async function readStored(
  file: BoundedFile,
  host: number,
  guest: number,
  length: number,
  dst: Uint8Array,
  dstOff: number,
  what: string,
  enc?: LayerCipher,
): Promise<void> {
  for (let done = 0; done < length;) {
    const n = Math.min(READ_CHUNK, length - done);
    const h = host + done,
      g = guest + done;
    if (!enc) {
      await file.readInto(h, dst.subarray(dstOff + done, dstOff + done + n), what);
    } else {
      const pre = h % SECTOR;
      const total = Math.ceil((pre + n) / SECTOR) * SECTOR;
      const b = await file.read(h - pre, Math.min(total, file.size - (h - pre)), what);
      const sectors = b.length === total ? b : Uint8Array.from({ length: total }, (_, i) => b[i] ?? 0);
      const first = enc.physical ? (h - pre - enc.base) / SECTOR : (g - pre) / SECTOR;
      cryptSectors(enc.cipher, sectors, BigInt(first), true);
      dst.set(sectors.subarray(pre, pre + n), dstOff + done);
    }
    done += n;
  }
}

/** A raw file, or the payload of a raw LUKS file (`payload` bytes in, decrypted). All data. */
export class RawLayer implements Layer {
  readonly virtualSize: number;
  constructor(
    readonly format: 'raw' | 'luks',
    private readonly file: BoundedFile,
    private readonly payload = 0,
    private readonly enc?: LayerCipher,
  ) {
    this.virtualSize = file.size - payload;
  }
  async map(offset: number, length: number): Promise<Piece[]> {
    return length > 0 ? [{ offset, length, kind: 'data', host: this.payload + offset }] : [];
  }
  async readPiece(p: Piece, dst: Uint8Array, dstOff: number): Promise<void> {
    const what = this.format === 'luks' ? 'LUKS payload' : 'data';
    await readStored(this.file, p.host!, p.offset, p.length, dst, dstOff, what, this.enc);
  }
  async close(): Promise<void> {
    await this.file.close();
  }
}
