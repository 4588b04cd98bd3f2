// The image reader: opens raw, qcow2 (v2/v3) and LUKS1 images and their backing chains, and
// answers block status (so a converter keeps holes) and reads (decrypted, decompressed, with
// backing data where a layer has none). Formats are probed like qemu's bdrv_probe_all when not
// given (qcow2 magic, LUKS magic, otherwise raw); a qcow2's backing format comes from its header
// extension, else it is probed. A loop, a missing backing file or a chain deeper than 64 images
// is an error naming the file. I/O is injected (writer/io.ts); cancellation by AbortSignal.
import { dirname, isAbsolute, resolve } from 'node:path';
import { INSECURE_AES_FLAG } from '../../../../schemas/luksOptions';
import { LUKS_MAGIC } from '../luks/luksFormat';
import { qcowAesCipher, unlockLuksArea } from '../luks/unlock';
import { QCOW2_CRYPT, QCOW2_MAGIC } from '../qcow2Format';
import { WriterError, throwIfAborted } from '../errors';
import { RawLayer, type BlockRange, type ImageFormat, type Layer, type LayerCipher } from './layer';
import { Qcow2Layer, readQcow2Header, type Qcow2Header } from './qcow2Layer';
import { findSnapshot, findSnapshotByIdOrName, readSnapshotTable } from './snapshots';
import { BoundedFile, type ReaderIO } from './source';

export type { BlockKind, BlockRange, ImageFormat } from './layer';
export type { ReaderIO } from './source';

/** Deepest backing chain opened (the image itself is depth 0). */
export const MAX_CHAIN_DEPTH = 64;

export interface OpenImageOptions {
  io: ReaderIO;
  /** Folder for relative paths (the image's own folder is used for its backing file). */
  cwd: string;
  /** raw, qcow2 or luks; probed when absent. */
  format?: string;
  /** The passphrase of every encrypted image of the chain (qemu: the key-secret's data). */
  passphrase?: Uint8Array;
  /** Read legacy qcow AES images (crypt_method 1); without it they are refused. */
  allowInsecureAes?: boolean;
  signal?: AbortSignal;
  /**
   * Read the image (not its backing files) as an internal snapshot left it (qemu-img convert -l):
   * by id and/or name (snapshot.id=, snapshot.name=) or by id, else name (-l NAME). Not found:
   * WriterError "Can't find snapshot" with option 'snapshot'.
   */
  snapshot?: { id?: string; name?: string } | { idOrName: string };
}

export interface ImageReader {
  readonly path: string;
  readonly format: ImageFormat;
  readonly virtualSize: number;
  /** qcow2 only. */
  readonly qcow2?: Readonly<Qcow2Header>;
  /** 'luks' for raw LUKS and qcow2+LUKS, 'aes' for legacy qcow AES. */
  readonly encryption?: 'luks' | 'aes';
  readonly backing?: ImageReader;
  /**
   * Ranges covering [offset, offset + length) of the whole chain: data (some image holds bytes),
   * zero (an image says the range reads as zeros), unallocated (no image has it: zeros too).
   */
  readBlockStatus(offset: number, length: number): Promise<BlockRange[]>;
  /**
   * The image's own ranges, its backing chain not consulted (qemu's bdrv_block_status, what
   * `qemu-img convert -B` copies): data, zero, or unallocated where the backing file shows
   * through. Without a backing file, or beyond its end, unallocated reads as zero.
   */
  readTopStatus(offset: number, length: number): Promise<BlockRange[]>;
  /** Fills `buf` with the guest bytes at `offset` (offset + buf.length ≤ virtualSize). */
  read(offset: number, buf: Uint8Array): Promise<void>;
  /** Closes every file of the chain. */
  close(): Promise<void>;
}

function hasPrefix(b: Uint8Array, magic: readonly number[]): boolean {
  return b.length >= magic.length && magic.every((v, i) => b[i] === v);
}

const QCOW2_MAGIC_BYTES = [24, 16, 8, 0].map((shift) => (QCOW2_MAGIC >>> shift) & 0xff);

/** qemu's probe among the formats this reader knows: qcow2 magic, LUKS magic, else raw. */
async function probe(file: BoundedFile): Promise<ImageFormat> {
  const b = await file.read(0, Math.min(8, file.size), 'format probe');
  if (hasPrefix(b, QCOW2_MAGIC_BYTES)) return 'qcow2';
  if (hasPrefix(b, LUKS_MAGIC)) return 'luks';
  return 'raw';
}

class ChainImage implements ImageReader {
  constructor(
    readonly path: string,
    private readonly layer: Layer,
    readonly backing: ImageReader | undefined,
    readonly encryption: 'luks' | 'aes' | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {}

  get format(): ImageFormat {
    return this.layer.format;
  }
  get virtualSize(): number {
    return this.layer.virtualSize;
  }
  get qcow2(): Qcow2Header | undefined {
    return this.layer instanceof Qcow2Layer ? this.layer.header : undefined;
  }

  private checkRange(offset: number, length: number): void {
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.virtualSize
    ) {
      throw new WriterError(
        `${this.path}: range ${offset}+${length} is outside the image (${this.virtualSize} bytes)`,
        'refused',
      );
    }
  }

  async readBlockStatus(offset: number, length: number): Promise<BlockRange[]> {
    this.checkRange(offset, length);
    const out: BlockRange[] = [];
    const push = (r: BlockRange) => {
      const last = out[out.length - 1];
      if (last && last.kind === r.kind && last.offset + last.length === r.offset) last.length += r.length;
      else if (r.length > 0) out.push({ offset: r.offset, length: r.length, kind: r.kind });
    };
    for (const p of await this.layer.map(offset, length)) {
      throwIfAborted(this.signal);
      if (p.kind !== 'unallocated' || !this.backing) {
        push(p);
        continue;
      }
      // Through to the backing file as far as it reaches; beyond its end, nothing is allocated.
      const inBacking = Math.max(0, Math.min(p.length, this.backing.virtualSize - p.offset));
      if (inBacking > 0) for (const r of await this.backing.readBlockStatus(p.offset, inBacking)) push(r);
      push({ offset: p.offset + inBacking, length: p.length - inBacking, kind: 'unallocated' });
    }
    return out;
  }

  async readTopStatus(offset: number, length: number): Promise<BlockRange[]> {
    this.checkRange(offset, length);
    const out: BlockRange[] = [];
    for (const p of await this.layer.map(offset, length)) {
      if (p.kind !== 'unallocated') {
        out.push({ offset: p.offset, length: p.length, kind: p.kind });
        continue;
      }
      const shows = this.backing ? Math.max(0, Math.min(p.length, this.backing.virtualSize - p.offset)) : 0;
      if (shows > 0) out.push({ offset: p.offset, length: shows, kind: 'unallocated' });
      if (p.length > shows) out.push({ offset: p.offset + shows, length: p.length - shows, kind: 'zero' });
    }
    return out;
  }

  async read(offset: number, buf: Uint8Array): Promise<void> {
    this.checkRange(offset, buf.length);
    const pieces = await this.layer.map(offset, buf.length);
    const bulk = this.layer.readPieces ? pieces.filter((p) => p.kind === 'data') : [];
    if (bulk.length) await this.layer.readPieces!(bulk, buf, offset);
    for (const p of pieces) {
      throwIfAborted(this.signal);
      const at = p.offset - offset;
      if (p.kind === 'data') {
        if (!bulk.length) await this.layer.readPiece(p, buf, at);
        continue;
      }
      const inBacking =
        p.kind === 'unallocated' && this.backing
          ? Math.max(0, Math.min(p.length, this.backing.virtualSize - p.offset))
          : 0;
      if (inBacking > 0) await this.backing!.read(p.offset, buf.subarray(at, at + inBacking));
      buf.fill(0, at + inBacking, at + p.length);
    }
  }

  async close(): Promise<void> {
    await this.layer.close();
    await this.backing?.close();
  }
}

function refused(message: string, option?: string): WriterError {
  return new WriterError(message, 'refused', option);
}

/** Opens `path` and its backing chain. Throws WriterError ('refused' or 'corrupt') naming the file. */
export async function openImage(path: string, opts: OpenImageOptions): Promise<ImageReader> {
  return openAt(resolve(opts.cwd, path), path, opts.format, opts, []);
}

async function openAt(
  abs: string,
  shown: string,
  format: string | undefined,
  opts: OpenImageOptions,
  chain: string[],
): Promise<ImageReader> {
  throwIfAborted(opts.signal);
  if (chain.includes(abs)) {
    const path = [...chain, abs].join(' -> ');
    throw refused(`Could not open backing file '${shown}': backing chain loop, it is already in the chain (${path})`);
  }
  if (chain.length > MAX_CHAIN_DEPTH) {
    throw refused(
      `Could not open backing file '${shown}' of ${chain[0]}: backing chain deeper than ` + `${MAX_CHAIN_DEPTH} images`,
    );
  }
  if (format !== undefined && !['raw', 'qcow2', 'luks'].includes(format)) {
    throw refused(`Could not open '${shown}': format '${format}' is not supported by this reader (raw, qcow2, luks)`);
  }
  const role = chain.length ? `backing file of ${chain[chain.length - 1]}` : 'image';
  const file = await BoundedFile.open(opts.io, abs, role, chain.length ? abs : shown);
  const owned: { close(): Promise<void> }[] = [file];
  try {
    const fmt = (format ?? (await probe(file))) as ImageFormat;
    const snapshot = chain.length ? undefined : opts.snapshot;
    if (snapshot && fmt !== 'qcow2') {
      throw refused(
        `Block format '${fmt}' used by device '' does not support temporarily loading internal snapshots`,
        'snapshot',
      );
    }
    if (fmt === 'raw') return new ChainImage(abs, new RawLayer('raw', file), undefined, undefined, opts.signal);
    if (fmt === 'luks') {
      const head = await file.read(0, Math.min(8, file.size), 'LUKS header');
      if (!hasPrefix(head, LUKS_MAGIC)) throw refused(`Could not open '${shown}': Volume is not in LUKS format`);
      if (!opts.passphrase) {
        throw refused(`Could not open '${shown}': Parameter 'key-secret' is required for cipher`, 'passphrase');
      }
      const u = await unlockLuksArea((o, l, w) => file.read(o, l, w), file.size, opts.passphrase, shown, opts.signal);
      const enc: LayerCipher = { cipher: u.cipher, physical: true, base: u.payloadOffset };
      return new ChainImage(abs, new RawLayer('luks', file, u.payloadOffset, enc), undefined, 'luks', opts.signal);
    }
    const h = await readQcow2Header(file);
    let enc: LayerCipher | undefined;
    let encryption: 'luks' | 'aes' | undefined;
    if (h.cryptMethod !== QCOW2_CRYPT.none) {
      if (!opts.passphrase) {
        throw refused(`Could not open '${shown}': Parameter 'encrypt.key-secret' is required for cipher`, 'passphrase');
      }
      if (h.cryptMethod === QCOW2_CRYPT.aes) {
        if (!opts.allowInsecureAes) {
          throw refused(
            `Could not open '${shown}': legacy qcow2 AES encryption is insecure; pass ` +
              `${INSECURE_AES_FLAG} to read it, for instance to convert it to an image with encrypt.format=luks ` +
              '(migrating away from AES)',
            'encrypt.format',
          );
        }
        enc = { cipher: qcowAesCipher(opts.passphrase), physical: false, base: 0 };
        encryption = 'aes';
      } else {
        const area = h.cryptoHeader!;
        const read = (o: number, l: number, w: string) => file.read(area.offset + o, l, w);
        const u = await unlockLuksArea(read, area.length, opts.passphrase, shown, opts.signal);
        // qcow2+LUKS numbers sectors by host offset (qcow2_co_encdec, crypt_physical_offset).
        enc = { cipher: u.cipher, physical: true, base: 0 };
        encryption = 'luks';
      }
    }
    let data: BoundedFile | undefined;
    if (h.dataFile !== undefined) {
      data = await BoundedFile.open(opts.io, besides(abs, h.dataFile), `external data file of ${abs}`);
      owned.push(data);
    }
    let snapshotL1: { offset: number; size: number } | undefined;
    if (snapshot) {
      const list = await readSnapshotTable(file, h.clusterSize);
      const i =
        'idOrName' in snapshot
          ? findSnapshotByIdOrName(list, snapshot.idOrName)
          : findSnapshot(list, snapshot.id, snapshot.name);
      if (i < 0) throw refused("Can't find snapshot", 'snapshot');
      snapshotL1 = { offset: list[i].l1TableOffset, size: list[i].l1Size };
    }
    const layer = await Qcow2Layer.open(h, file, data, enc, snapshotL1);
    let backing: ImageReader | undefined;
    if (h.backingFile !== undefined && h.backingFile !== '') {
      if (h.backingFile.startsWith('json:')) {
        throw refused(`Could not open '${shown}': json: backing file names are not supported`);
      }
      const babs = besides(abs, h.backingFile);
      const st = await opts.io.stat(babs);
      if (!st) throw refused(`Could not open backing file '${h.backingFile}' of '${shown}': No such file or directory`);
      backing = await openAt(babs, h.backingFile, h.backingFormat, opts, [...chain, abs]);
    }
    return new ChainImage(abs, layer, backing, encryption, opts.signal);
  } catch (e) {
    for (const f of owned) await f.close().catch(() => undefined);
    throw e;
  }
}

/** A name from an image's header, relative to the image's folder (bdrv_get_full_backing_filename). */
function besides(image: string, name: string): string {
  return isAbsolute(name) ? name : resolve(dirname(image), name);
}
