// qcow2 v2/v3 read side (qemu docs/interop/qcow2.txt; block/qcow2.c qcow2_do_open,
// block/qcow2-cluster.c qcow2_get_host_offset, qcow2_get_subcluster_type): header and extensions,
// the L1 table read once, L2 tables on demand (a small cache), standard and extended (subcluster)
// L2 entries, zero flags, compressed clusters, an external data file. Field positions come from
// qcow2Format.ts. Every offset read from the file is checked before use (source.ts), and each
// error names the table and the offset at fault.
import {
  QCOW2_AUTOCLEAR,
  QCOW2_COMPRESSION,
  QCOW2_CRYPT,
  QCOW2_EXT,
  QCOW2_HEADER,
  QCOW2_INCOMPAT,
  QCOW2_MAGIC,
  QCOW2_OFLAG_HI,
  QCOW2_OFLAG_ZERO,
  QCOW2_TABLE_ENTRY_BYTES,
  QCOW2_V2_HEADER_LENGTH,
} from '../qcow2Format';
import { be32, be64 } from '../../common/bytes';
import { decodeQcow2Header, headerName, qcow2ExtensionArea, qcow2Extensions } from '../qcow2Header';
import { decompressCluster, decompressClusterAsync, type CompressionType } from './decompress';
import { readStored, type Layer, type LayerCipher, type Piece } from './layer';
import { at, corrupt, type BoundedFile } from './source';

/** What the header says, before any table is read. */
export interface Qcow2Header {
  version: number;
  clusterBits: number;
  clusterSize: number;
  size: number;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  incompatible: number;
  /** Compatible feature bits (low word: lazy refcounts). */
  compatible: number;
  autoclear: number;
  /** 16 for version 2; 2^refcount_order for version 3. */
  refcountBits: number;
  headerLength: number;
  compression: CompressionType;
  extendedL2: boolean;
  backingFile?: string;
  backingFormat?: string;
  dataFile?: string;
  dataFileRaw: boolean;
  /** The LUKS area named by the crypto header extension. */
  cryptoHeader?: { offset: number; length: number };
  /** nb_snapshots: internal snapshots in the table (reader/snapshots.ts reads it). */
  nbSnapshots: number;
}

/** qemu's QCOW_MAX_L1_SIZE (block/qcow2.h): 32 MiB of L1 entries. */
const MAX_L1_BYTES = 0x2000000;
/** Bits 9–55 of an L1/L2 entry (L1E_OFFSET_MASK, L2E_OFFSET_MASK), as the high word's part. */
const OFFSET_HI_MASK = 0x00ffffff;
const SUBCLUSTERS = 32;
/** L2 tables kept in memory: 16 MiB whatever the cluster size (2 MiB clusters: 8 tables). */
const L2_CACHE_BYTES = 16 << 20;
const KNOWN_INCOMPAT =
  QCOW2_INCOMPAT.dirty |
  QCOW2_INCOMPAT.corrupt |
  QCOW2_INCOMPAT.dataFile |
  QCOW2_INCOMPAT.compression |
  QCOW2_INCOMPAT.extendedL2;

/** Parses the header and its extensions (bounded by the file and the first cluster). */
export async function readQcow2Header(file: BoundedFile): Promise<Qcow2Header> {
  const bad = (m: string) => corrupt(file.path, m);
  if (file.size < QCOW2_V2_HEADER_LENGTH) throw bad(`file of ${file.size} bytes is too small for a qcow2 header`);
  const h0 = decodeQcow2Header(await file.read(0, QCOW2_V2_HEADER_LENGTH, 'qcow2 header'));
  if (h0.magic !== QCOW2_MAGIC) throw bad('Image is not in qcow2 format');
  const version = h0.version;
  if (version !== 2 && version !== 3) throw bad(`Unsupported qcow2 version ${version}`);
  const clusterBits = h0.clusterBits;
  if (clusterBits < 9 || clusterBits > 21) throw bad(`Unsupported cluster size: 2^${clusterBits}`);
  const clusterSize = 2 ** clusterBits;
  const first = await file.read(0, Math.min(clusterSize, file.size), 'qcow2 header cluster');
  if (version === 3 && first.length < QCOW2_HEADER.headerLength[0] + 4) throw bad('qcow2 header too short');
  const f = decodeQcow2Header(first);
  let compression: CompressionType = 'zlib';
  if (version === 3) {
    if (f.headerLength < QCOW2_HEADER.compressionType[0]) {
      throw bad(`qcow2 header too short (header_length ${f.headerLength})`);
    }
    if (f.headerLength > first.length) throw bad(`qcow2 header exceeds cluster size (header_length ${f.headerLength})`);
    if (f.incompatibleHigh !== 0 || (f.incompatible & ~KNOWN_INCOMPAT) !== 0) {
      const unknown = f.incompatibleHigh * 2 ** 32 + ((f.incompatible & ~KNOWN_INCOMPAT) >>> 0);
      throw bad(`Unsupported qcow2 feature(s): Unknown incompatible feature: ${unknown.toString(16)}`);
    }
    if (f.refcountOrder > 6) {
      throw bad(`Reference count entry width too large; may not exceed 64 bits (order ${f.refcountOrder})`);
    }
    const t = f.compressionType;
    if (t !== undefined) {
      if (t === QCOW2_COMPRESSION.zstd) compression = 'zstd';
      else if (t !== QCOW2_COMPRESSION.zlib) throw bad(`Unknown compression type ${t}`);
      if (t !== QCOW2_COMPRESSION.zlib && !(f.incompatible & QCOW2_INCOMPAT.compression)) {
        throw bad(`Compression type ${t} requires the compression type bit`);
      }
    }
  }
  const { size, cryptMethod, l1Size, l1TableOffset, incompatible } = f;
  if (!Number.isSafeInteger(size)) throw bad('virtual size is beyond 2^53 bytes, more than this reader handles');
  if (cryptMethod > QCOW2_CRYPT.luks) throw bad(`Unsupported encryption method: ${cryptMethod}`);
  if (l1Size * QCOW2_TABLE_ENTRY_BYTES > MAX_L1_BYTES) throw bad(`Active L1 table too large (${l1Size} entries)`);
  if (!Number.isSafeInteger(l1TableOffset) || l1TableOffset % clusterSize !== 0) {
    throw bad(`Active L1 table offset invalid (not cluster-aligned or beyond 2^53)`);
  }
  const extendedL2 = (incompatible & QCOW2_INCOMPAT.extendedL2) !== 0;
  if (extendedL2 && clusterBits < 14) {
    throw bad('Extended L2 entries are only supported with cluster sizes of at least 16384 bytes');
  }
  const hdr: Qcow2Header = {
    version,
    clusterBits,
    clusterSize,
    size,
    cryptMethod,
    l1Size,
    l1TableOffset,
    incompatible,
    compatible: f.compatible,
    autoclear: f.autoclear,
    refcountBits: 2 ** f.refcountOrder,
    headerLength: f.headerLength,
    compression,
    extendedL2,
    dataFileRaw: false,
    nbSnapshots: f.nbSnapshots,
  };
  for (const ext of qcow2Extensions(first, qcow2ExtensionArea(f, first.length))) {
    const { type, at: o, length: len, data: d } = ext;
    if (!d) {
      throw bad(
        `header extension 0x${type.toString(16)} at offset ${at(o)} (${len} bytes) extends past the end ` +
          'of the header area',
      );
    }
    if (type === QCOW2_EXT.backingFormat) hdr.backingFormat = headerName(d);
    else if (type === QCOW2_EXT.dataFile) hdr.dataFile = headerName(d);
    else if (type === QCOW2_EXT.cryptoHeader) {
      if (len < 16) throw bad(`crypto header extension at offset ${at(o)} is ${len} bytes, not 16`);
      const offset = be64(d, 0),
        length = be64(d, 8);
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length)) {
        throw bad(`crypto header extension at offset ${at(o)} is invalid`);
      }
      file.check(offset, length, 'LUKS header area (crypto header extension)');
      hdr.cryptoHeader = { offset, length };
    }
  }
  const backingOffset = f.backingFileOffset;
  if (backingOffset) {
    const len = f.backingFileSize;
    // qemu: backing_file_offset beyond the first cluster or a name over 1023 bytes is refused.
    if (backingOffset > clusterSize || len > 1023) {
      throw bad(`backing file name at offset ${at(backingOffset)} (${len} bytes) is invalid`);
    }
    hdr.backingFile = headerName(await file.read(backingOffset, len, 'backing file name'));
  }
  if (incompatible & QCOW2_INCOMPAT.dataFile) {
    if (!hdr.dataFile) throw bad("'data-file' is required for this image");
    hdr.dataFileRaw = (f.autoclear & QCOW2_AUTOCLEAR.dataFileRaw) !== 0;
  } else if (hdr.dataFile) hdr.dataFile = undefined; // qemu ignores the extension without the bit
  if (cryptMethod === QCOW2_CRYPT.luks && !hdr.cryptoHeader) {
    throw bad('Could not read encryption header (no crypto header extension)');
  }
  return hdr;
}

export class Qcow2Layer implements Layer {
  readonly format = 'qcow2';
  readonly virtualSize: number;
  private readonly l2Entries: number;
  private readonly entryBytes: number;
  private readonly l2Cache = new Map<number, Uint8Array>();
  private lastCompressed?: { offset: number; bytes: Uint8Array };

  private constructor(
    readonly header: Qcow2Header,
    private readonly file: BoundedFile,
    private readonly l1: Uint8Array,
    private readonly data: BoundedFile | undefined,
    private readonly enc: LayerCipher | undefined,
  ) {
    this.virtualSize = header.size;
    this.entryBytes = header.extendedL2 ? 2 * QCOW2_TABLE_ENTRY_BYTES : QCOW2_TABLE_ENTRY_BYTES;
    this.l2Entries = header.clusterSize / this.entryBytes;
  }

  /**
   * Reads and checks the L1 table; the files are then owned by the layer (closed by close()).
   * `snapshotL1`: an internal snapshot's L1 table instead (qcow2_snapshot_load_tmp: the size stays
   * the image's; L1 entries past a shorter snapshot table are unallocated, as qcow2_get_host_offset
   * reads l1_index >= l1_size).
   */
  static async open(
    header: Qcow2Header,
    file: BoundedFile,
    data: BoundedFile | undefined,
    enc: LayerCipher | undefined,
    snapshotL1?: { offset: number; size: number },
  ): Promise<Qcow2Layer> {
    const perL1 = header.clusterSize * (header.clusterSize / (header.extendedL2 ? 16 : 8));
    const needed = Math.ceil(header.size / perL1);
    if (snapshotL1) {
      const l1 = new Uint8Array(Math.max(needed, snapshotL1.size) * QCOW2_TABLE_ENTRY_BYTES);
      l1.set(await file.read(snapshotL1.offset, snapshotL1.size * QCOW2_TABLE_ENTRY_BYTES, 'snapshot L1 table'));
      const h = { ...header, l1TableOffset: snapshotL1.offset, l1Size: l1.length / QCOW2_TABLE_ENTRY_BYTES };
      return new Qcow2Layer(h, file, l1, data, enc);
    }
    if (header.l1Size < needed) {
      throw corrupt(file.path, `L1 table is too small (${header.l1Size} entries for ${needed})`);
    }
    const l1 = await file.read(header.l1TableOffset, header.l1Size * QCOW2_TABLE_ENTRY_BYTES, 'L1 table');
    return new Qcow2Layer(header, file, l1, data, enc);
  }

  private async l2Table(l1Index: number): Promise<{ table: Uint8Array; offset: number } | undefined> {
    const o = l1Index * QCOW2_TABLE_ENTRY_BYTES;
    const off = (be32(this.l1, o) & OFFSET_HI_MASK) * 2 ** 32 + ((be32(this.l1, o + 4) & 0xfffffe00) >>> 0);
    if (off === 0) return undefined;
    const where = `L1 table at offset ${at(this.header.l1TableOffset)}, entry ${l1Index}`;
    if (off % this.header.clusterSize !== 0) {
      throw corrupt(this.file.path, `L2 table offset ${at(off)} unaligned (${where})`);
    }
    let table = this.l2Cache.get(off);
    if (!table) {
      table = await this.file.read(off, this.header.clusterSize, `L2 table (${where})`);
      if ((this.l2Cache.size + 1) * this.header.clusterSize > L2_CACHE_BYTES) {
        this.l2Cache.delete(this.l2Cache.keys().next().value!);
      }
      this.l2Cache.set(off, table);
    }
    return { table, offset: off };
  }

  async map(offset: number, length: number): Promise<Piece[]> {
    const out: Piece[] = [];
    const push = (p: Piece) => {
      const last = out[out.length - 1];
      if (
        last &&
        last.kind === p.kind &&
        last.offset + last.length === p.offset &&
        !p.compressed &&
        !last.compressed &&
        (p.kind !== 'data' || last.host! + last.length === p.host)
      )
        last.length += p.length;
      else out.push(p);
    };
    const cs = this.header.clusterSize;
    const end = offset + length;
    for (let g = offset; g < end;) {
      const clusterStart = g - (g % cs);
      const clusterEnd = Math.min(clusterStart + cs, end);
      const clusterIndex = clusterStart / cs;
      const l1Index = Math.floor(clusterIndex / this.l2Entries);
      const l2 = await this.l2Table(l1Index);
      if (!l2) {
        push({ offset: g, length: clusterEnd - g, kind: 'unallocated' });
        g = clusterEnd;
        continue;
      }
      const l2Index = clusterIndex % this.l2Entries;
      const e = l2Index * this.entryBytes;
      const hi = be32(l2.table, e),
        lo = be32(l2.table, e + 4);
      const where = `L2 table at offset ${at(l2.offset)}, entry ${l2Index}`;
      if (hi & QCOW2_OFLAG_HI.compressed) {
        if (this.data) throw corrupt(this.file.path, `compressed cluster with an external data file (${where})`);
        if (this.enc) throw corrupt(this.file.path, `compressed cluster in an encrypted image (${where})`);
        // Bits 0..x-1 host offset, x..61 additional 512-byte sectors, x = 62 - (cluster_bits - 8).
        const entry = (BigInt(hi) << 32n) | BigInt(lo);
        const shift = BigInt(62 - (this.header.clusterBits - 8));
        const coffset = Number(entry & ((1n << shift) - 1n));
        const sectors = Number((entry >> shift) & ((1n << BigInt(this.header.clusterBits - 8)) - 1n)) + 1;
        const csize = sectors * 512 - (coffset % 512);
        if (coffset >= this.file.size) {
          throw corrupt(
            this.file.path,
            `compressed cluster at offset ${at(coffset)} is past the end of the file ` +
              `(${this.file.size} bytes) (${where})`,
          );
        }
        const compressed = { offset: coffset, size: csize, clusterStart };
        push({ offset: g, length: clusterEnd - g, kind: 'data', compressed });
        g = clusterEnd;
        continue;
      }
      const host = (hi & OFFSET_HI_MASK) * 2 ** 32 + ((lo & 0xfffffe00) >>> 0);
      const copied = (hi & QCOW2_OFLAG_HI.copied) !== 0;
      const allocated = host !== 0 || (copied && this.data !== undefined);
      if (allocated && host % cs !== 0) {
        throw corrupt(this.file.path, `Cluster allocation offset ${at(host)} unaligned (${where})`);
      }
      if (!this.header.extendedL2) {
        if (lo & QCOW2_OFLAG_ZERO) push({ offset: g, length: clusterEnd - g, kind: 'zero' });
        else if (!allocated) push({ offset: g, length: clusterEnd - g, kind: 'unallocated' });
        else push(this.dataPiece(g, clusterEnd - g, host + (g - clusterStart), where));
        g = clusterEnd;
        continue;
      }
      // Extended L2: 32 allocation bits (low word) and 32 reads-as-zero bits (high word).
      const zeroBits = be32(l2.table, e + 8),
        allocBits = be32(l2.table, e + 12);
      const sc = cs / SUBCLUSTERS;
      for (; g < clusterEnd;) {
        const i = Math.floor((g - clusterStart) / sc);
        const scEnd = Math.min(clusterStart + (i + 1) * sc, clusterEnd);
        const a = (allocBits >>> i) & 1,
          z = (zeroBits >>> i) & 1;
        if (a && z) throw corrupt(this.file.path, `subcluster ${i} is both allocated and zero (${where})`);
        if (a && !allocated) {
          throw corrupt(this.file.path, `subcluster ${i} allocated in an unallocated cluster (${where})`);
        }
        if (a) push(this.dataPiece(g, scEnd - g, host + (g - clusterStart), where));
        else push({ offset: g, length: scEnd - g, kind: z ? 'zero' : 'unallocated' });
        g = scEnd;
      }
    }
    return out;
  }

  private dataPiece(g: number, n: number, host: number, where: string): Piece {
    const f = this.data ?? this.file;
    f.check(host, n, `data cluster (${where})`);
    return { offset: g, length: n, kind: 'data', host };
  }

  async readPiece(p: Piece, dst: Uint8Array, dstOff: number): Promise<void> {
    if (p.compressed) {
      const c = p.compressed;
      let bytes = this.lastCompressed?.offset === c.offset ? this.lastCompressed.bytes : undefined;
      if (!bytes) {
        // The stored bytes are rounded up to sectors; the last cluster's may end with the file.
        const n = Math.min(c.size, this.file.size - c.offset);
        const stored = await this.file.read(c.offset, n, 'compressed cluster');
        const r = decompressCluster(this.header.compression, stored, this.header.clusterSize);
        if (typeof r === 'string') throw corrupt(this.file.path, `compressed cluster at offset ${at(c.offset)} ${r}`);
        bytes = r;
        this.lastCompressed = { offset: c.offset, bytes };
      }
      const from = p.offset - c.clusterStart;
      dst.set(bytes.subarray(from, from + p.length), dstOff);
      return;
    }
    await readStored(this.data ?? this.file, p.host!, p.offset, p.length, dst, dstOff, 'data cluster', this.enc);
  }

  /**
   * Several data pieces at once (a bulk read): the stored bytes of compressed clusters are read
   * concurrently, at most PARALLEL_PIECES in flight, each inflated as it arrives (zlib on the
   * thread pool: decompressClusterAsync);
   * the same bytes as readPiece one by one.
   */
  async readPieces(pieces: Piece[], dst: Uint8Array, base: number): Promise<void> {
    const inflating = new Map<number, Promise<Uint8Array>>();
    const one = async (p: Piece | Piece[]): Promise<void> => {
      if (Array.isArray(p)) return this.readGathered(p, dst, base);
      const c = p.compressed;
      if (!c) return this.readPiece(p, dst, p.offset - base);
      let job = inflating.get(c.offset);
      if (!job) {
        const last = this.lastCompressed;
        job =
          last?.offset === c.offset
            ? Promise.resolve(last.bytes)
            : (async () => {
                const n = Math.min(c.size, this.file.size - c.offset);
                const stored = await this.file.read(c.offset, n, 'compressed cluster');
                const r = await decompressClusterAsync(this.header.compression, stored, this.header.clusterSize);
                if (typeof r === 'string')
                  throw corrupt(this.file.path, `compressed cluster at offset ${at(c.offset)} ${r}`);
                return r;
              })();
        inflating.set(c.offset, job);
      }
      const bytes = await job;
      this.lastCompressed = { offset: c.offset, bytes };
      const from = p.offset - c.clusterStart;
      dst.set(bytes.subarray(from, from + p.length), p.offset - base);
    };
    const jobs = this.gather(pieces);
    for (let i = 0; i < jobs.length; i += PARALLEL_PIECES) {
      const r = await Promise.allSettled(jobs.slice(i, i + PARALLEL_PIECES).map(one));
      const failed = r.find((x) => x.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
  }

  /**
   * Unencrypted, uncompressed pieces stored one after the other (a converted image's data clusters
   * between zero clusters: consecutive in the file, not in the guest) as one group each, read with
   * one preadv into their places; every other piece alone.
   */
  private gather(pieces: Piece[]): (Piece | Piece[])[] {
    if (this.enc) return pieces;
    const out: (Piece | Piece[])[] = [];
    let run: Piece[] = [];
    const end = () => {
      if (run.length > 1) out.push(run);
      else if (run.length) out.push(run[0]);
      run = [];
    };
    for (const p of pieces) {
      if (p.compressed) {
        end();
        out.push(p);
        continue;
      }
      const last = run[run.length - 1];
      if (last && (last.host! + last.length !== p.host || p.host! - run[0].host! >= GATHER_MAX)) end();
      run.push(p);
    }
    end();
    return out;
  }

  private async readGathered(run: Piece[], dst: Uint8Array, base: number): Promise<void> {
    const f = this.data ?? this.file;
    const dsts = run.map((p) => dst.subarray(p.offset - base, p.offset - base + p.length));
    await f.readvInto(run[0].host!, dsts, 'data cluster');
  }

  async close(): Promise<void> {
    await this.file.close();
    await this.data?.close();
  }
}

/** Pieces of one bulk read in flight at once. */
const PARALLEL_PIECES = 16;
/** Largest span of the file one gathered read covers. */
const GATHER_MAX = 4 << 20;
