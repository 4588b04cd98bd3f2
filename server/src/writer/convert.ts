// Image conversion (qemu-img 7.2 convert, libvirt's vol-create-from): any image the reader opens
// (writer/reader/imageReader.ts: raw, qcow2, LUKS, qcow2+LUKS, backing chains) copied into a new
// raw, qcow2 (LUKS inside included, -c zlib or zstd compression, -B backing, an external data
// file; preallocated: qcow2Preplaced.ts over create's layout) or raw LUKS image, or with -n into an
// existing raw or raw LUKS image (in place) or qcow2 / qcow2+LUKS (rebuilt and renamed over it:
// intoExistingQcow2; -c included).
//
// What is copied where follows qemu-img.c (img_convert, convert_iteration_sectors,
// convert_co_write, is_allocated_sectors_min):
//  - block status of the whole chain (of the top image only with -B: BLK_BACKING_FILE ranges are
//    left unallocated so that the output's backing file shows through);
//  - data ranges are read in chunks of at most 2 MiB (IO_BUF_SIZE) and split by
//    is_allocated_sectors_min: zero runs of at least `minSparse` bytes (-S, default 4 KiB)
//    aligned to the target's alignment stay holes; -S 0 writes everything, zeros included;
//  - zero ranges are skipped when the new target reads as zeros (has_zero_init: a new raw or
//    qcow2 file without a backing file) and written as zeros otherwise (-B, -n, LUKS, whose
//    payload must be encrypted everywhere as qemu's crypto driver writes it);
//  - -c: whole clusters, each compressed (qcow2Stream.ts), all-zero clusters skipped.
// Safety (ARCHITECTURE.md invariant 6): every option is checked before a byte is written (the
// create job comes from writer/create.ts planCreate, convert's own rules are checkConvert); the
// output goes through publish.ts (temporary file in the target folder, link/rename, removal on
// error or cancel); an existing output is refused unless `force` (qemu-img overwrites it). The
// output is flushed before the rename only when the cache mode asks for it (-t): qemu-img
// convert's default, 'unsafe', never flushes.
// Memory is bounded: one 2 MiB chunk, one L2 table, the L1 table (8 bytes per 512 MiB of a
// 64 KiB-cluster image) and, with -c only, 2 bytes of refcount per output cluster.
import { dirname, resolve } from 'node:path';
import { LUKS1, checkLuksOptions, type LuksOptionInput } from '../../../schemas/luksOptions';
import {
  backingPathAsQemuSees,
  openQcow2Files,
  planCreate,
  planQcow2Job,
  preflight,
  sizeFile,
  writeQcow2Layout,
  type ImageJob,
  type LuksSpec,
  type PlannedCreate,
  type QcowEncryptionProvider,
} from './create';
import type { SectorCipher } from './crypto/modes';
import { pwriteEncrypted } from './crypto/sectorWrite';
import { cancellationPoint, throwIfAborted, WriterError } from './errors';
import type { Fd, ProbeIO, WriterIO } from './io';
import { QCOW2_AUTOCLEAR, QCOW2_COMPAT, QCOW2_CRYPT, QCOW2_INCOMPAT } from './qcow2Format';
import type { Layer, LayerCipher } from './reader/layer';
import { Qcow2Layer, readQcow2Header, type Qcow2Header } from './reader/qcow2Layer';
import { BoundedFile } from './reader/source';
import type { CreateSpec } from '../../../schemas/qcow2Options';
import { buildLuksHeader, type LuksKeyDerivationReport } from './luks/luksHeader';
import { unlockLuksArea } from './luks/unlock';
import { qcowLuksEncryption, type QcowLuksProvider } from './luks/qcowEncryption';
import { LUKS_MAGIC } from './luks/luksFormat';
import { PendingFile, type FilePermissions } from './publish';
import { openImage, type BlockRange, type ImageReader } from './reader/imageReader';
import { Qcow2PreplacedWriter } from './qcow2Preplaced';
import { Qcow2StreamWriter } from './qcow2Stream';
import { writeZeros, zeros } from './zeroFill';
import { loadZstdCompressor } from './zstdCompress';

/** qemu-img convert's IO_BUF_SIZE: the largest chunk read and judged at once. */
export const CONVERT_CHUNK = 2 * 1024 * 1024;
/** qemu-img convert's default -S: 8 sectors. */
export const DEFAULT_MIN_SPARSE = 4096;
/** qemu-img convert's largest -S (MAX_BUF_SECTORS, 16 MiB). */
export const MAX_MIN_SPARSE = 16 * 1024 * 1024;
const SECTOR = 512;

/** The target cache modes qemu-img convert's -t takes (block.c bdrv_parse_cache_mode; 'off' = 'none'). */
export const CACHE_MODES = ['off', 'none', 'directsync', 'writeback', 'unsafe', 'writethrough'] as const;
export type CacheMode = (typeof CACHE_MODES)[number];
/**
 * qemu-img convert's default target cache mode (qemu-img.c img_convert: cache = "unsafe"; its help
 * text: "'unsafe' (default for convert)"): BDRV_O_NO_FLUSH, so the output is never flushed.
 */
export const CONVERT_DEFAULT_CACHE: CacheMode = 'unsafe';

/**
 * Whether the output is flushed before it is published: every mode but 'unsafe' (qemu flushes the
 * target when the block backend is closed; BDRV_O_NO_FLUSH makes that flush a no-op).
 */
export function cacheFlushes(mode: CacheMode | undefined): boolean {
  return (mode ?? CONVERT_DEFAULT_CACHE) !== 'unsafe';
}

/**
 * -n: an existing image (qemu-img convert -n: nothing is created). raw and raw LUKS are written in
 * place; a qcow2 is rebuilt in a temporary file with its options and renamed over it.
 */
export interface ExistingTarget {
  /** Path of the existing image (relative to `cwd`). */
  filename: string;
  /**
   * raw; luks (raw LUKS, opened with `passphrase`); qcow2 (also qcow2+LUKS with `passphrase`)
   * holding no clusters yet — what `qemu-img create` made, as libvirt's vol-create-from runs it.
   */
  format: 'raw' | 'luks' | 'qcow2';
  passphrase?: Uint8Array;
  /**
   * --target-is-zero: the user says the target reads as zeros, so zero ranges are not written
   * (img_convert's has_zero_init = true); where it does not, the target's bytes stay.
   */
  targetIsZero?: boolean;
}

export interface ConvertJob {
  /** The input, opened by the caller (writer/reader/imageReader.ts openImage); not closed here. */
  source: ImageReader;
  /**
   * A new output: the create job exactly as createImage takes it, judged by planConvertCreate (or
   * writer/create.ts planCreate with size = the source's size rounded up to 512): raw / qcow2
   * CreateSpec (backingFile/backingFmt are -B/-F; qcow2+LUKS needs opts.encryption), or a raw
   * LUKS LuksSpec with its passphrase. Exactly one of `target` and `existing`.
   */
  target?: ImageJob;
  /** -n: write into this existing image instead of creating one. */
  existing?: ExistingTarget;
  /** -c: compressed clusters (qcow2 output only, the image's compression_type: zlib or zstd). */
  compress?: boolean;
  /** -S in bytes: 0 = allocate everything; a multiple of 512 up to 16 MiB. Default 4096. */
  minSparse?: number;
}

export interface ConvertProgress {
  /** Guest bytes done and in total; during key derivation thousandths of it. */
  done: number;
  total: number;
  phase: 'derive' | 'data' | 'sync';
}

export interface ConvertOptions {
  io: WriterIO;
  /** Folder relative output names (and -B) are resolved against. */
  cwd: string;
  /** Replace an existing output (never a directory, device or FIFO). */
  force?: boolean;
  /** The one cancellation type: an abort ends the job with WriterError 'cancelled', nothing left. */
  signal?: AbortSignal;
  onProgress?(p: ConvertProgress): void;
  /**
   * LUKS inside a qcow2 output, as createImage takes it, built by convertEncryption (or
   * luks/qcowEncryption.ts qcowLuksEncryption with keepCipher: true, so that headerBytes() also
   * sets `sectorCipher`); any other provider is refused before key derivation.
   */
  encryption?: QcowEncryptionProvider & { sectorCipher?: SectorCipher; keepsCipher?: boolean };
  /** <permissions> of the new image: default mode 0600 as libvirt's. */
  permissions?: FilePermissions;
  /** Passphrase of an encrypted -B backing file (opened to size it and to fill partial clusters). */
  backingPassphrase?: Uint8Array;
  /**
   * -t: the target cache mode, default qemu-img convert's 'unsafe' (no flush: the data reaches the
   * disk when the kernel writes it back). Any other mode fdatasyncs the output before the rename.
   */
  cache?: CacheMode;
  /**
   * -r: bytes per second written to the output at most (qemu-img.c set_rate_limit: a write
   * throttle of that average on the target, zero writes included); 0 or absent: no limit.
   */
  rateLimit?: number;
}

export interface ConvertResult {
  path: string;
  /** The external data file written beside a qcow2 output (-o data_file=). */
  dataFile?: string;
  /** Final file length. */
  fileSize: number;
  /** Guest bytes written as data (what qemu-img's progress counts). */
  dataBytes: number;
  /** A LUKS output: its uuid and key derivation figures. */
  luks?: { uuid: string; report: LuksKeyDerivationReport };
}

/** The arguments of a convert's create step, as qemu-img convert takes them (-O, -o, -B, -F). */
export interface ConvertCreateArgs {
  format: string;
  filename: string;
  options?: string[];
  backingFile?: string;
  backingFmt?: string;
}

/** The output size qemu-img convert creates: the input's size in whole sectors (total_sectors). */
export function convertOutputSize(source: Pick<ImageReader, 'virtualSize'>): number {
  return Math.ceil(source.virtualSize / SECTOR) * SECTOR;
}

/**
 * -c -n into a qcow2+LUKS: qemu-img 7.2 accepts it and stores the compressed clusters unencrypted
 * (block/qcow2.c qcow2_co_pwritev_compressed_task compresses and writes, it never calls
 * qcow2_co_encrypt; its reader decompresses without decrypting), so the guest's data would sit in
 * clear in an image that says it is encrypted. Refused instead.
 */
export const COMPRESSED_ENCRYPTED =
  '-c into an encrypted qcow2 is refused: qemu-img 7.2 would store the compressed clusters unencrypted';

/**
 * Convert's own rules, before anything is written (qemu-img.c img_convert's checks plus this
 * writer's limits); undefined when the job can run. planCreate judged the create options.
 */
export function checkConvert(job: ConvertJob, opts: Pick<ConvertOptions, 'encryption'> = {}): WriterError | undefined {
  const refuse = (m: string, option?: string) => new WriterError(m, 'refused', option);
  if (!job.target === !job.existing) return refuse('convert needs exactly one output: a new image or -n');
  const ms = job.minSparse ?? DEFAULT_MIN_SPARSE;
  if (!Number.isSafeInteger(ms) || ms < 0 || ms % SECTOR !== 0 || ms > MAX_MIN_SPARSE) {
    return refuse('Invalid buffer size for sparse output specified', 'S');
  }
  const format = job.target?.format ?? job.existing!.format;
  if (job.compress && format !== 'qcow2') return refuse('Compression not supported for this file format', 'c');
  if (job.existing) {
    if (job.existing.format === 'luks' && !job.existing.passphrase) {
      return refuse(`Could not open '${job.existing.filename}': Parameter 'key-secret' is required for cipher`);
    }
    return undefined;
  }
  const t = job.target!;
  if (t.format === 'luks') {
    const c = checkLuksOptions(t.options);
    if (!c.ok) return refuse(c.message, c.option);
    // Every payload sector is written (encrypted) anyway: falloc/full change nothing visible.
    return undefined;
  }
  if (t.format === 'raw') {
    if (opts.encryption) return refuse('raw output cannot carry qcow2 encryption');
    return undefined;
  }
  if (job.compress && t.dataFile !== undefined) {
    // qcow2 stores no compressed cluster in an external data file: qemu's first write fails so.
    return refuse('Operation not supported: compressed clusters cannot be written to a data_file', 'c');
  }
  if (job.compress && t.preallocation !== 'off') {
    return refuse('Compression and preallocation not supported at the same time', 'c');
  }
  if (t.preallocation !== 'off' && t.backingFile !== undefined) {
    // qemu accepts it with extended_l2 (subclusters left to the backing file); not written here.
    return refuse(
      `preallocation=${t.preallocation} with a backing file (-B) is not supported by this writer yet`,
      'preallocation',
    );
  }
  // qemu-img.c img_convert's own check of -c against the create options.
  if (job.compress && (opts.encryption || t.encrypt)) {
    return refuse('Compression and encryption not supported at the same time', 'c');
  }
  if (opts.encryption && opts.encryption.cryptMethod !== 2) {
    return refuse('convert writes LUKS encryption only (encrypt.format=luks), never legacy AES', 'encrypt.format');
  }
  if (t.encrypt && !opts.encryption) return refuse('an encrypted output needs its passphrase (encryption provider)');
  if (opts.encryption && !opts.encryption.keepsCipher) {
    return refuse('the encryption provider must keep its payload cipher (convertEncryption / keepCipher: true)');
  }
  return undefined;
}

/** The per-target behaviour of the copy loop (qemu's BlockDriver of the output). */
interface Sink {
  /** The new target reads as zeros where nothing was written (qemu bdrv_has_zero_init). */
  readonly hasZeroInit: boolean;
  /** Sectors the ends of data runs are aligned to (ImgConvertState.alignment). */
  readonly alignment: number;
  /** -c: whole clusters of this size. */
  readonly compressCluster?: number;
  data(offset: number, buf: Uint8Array): Promise<void>;
  zero(offset: number, length: number): Promise<void>;
  finish(): Promise<number>;
}

type Status = 'data' | 'zero' | 'backing';

/**
 * qemu-img.c is_allocated_sectors: the run of sectors sharing the first one's zero-ness, its end
 * aligned to `alignment` sectors (data rounded up, zero rounded down; a zero run shorter than
 * the tail counts as data). Returns [allocated, sectors].
 */
function allocatedRun(buf: Uint8Array, off: number, n: number, sector: number, alignment: number): [boolean, number] {
  if (n <= 0) return [false, 0];
  let zero = isZeroSector(buf, off);
  let i = 1;
  while (i < n && isZeroSector(buf, off + i * SECTOR) === zero) i++;
  if (i === n) return [!zero, i];
  const tail = (sector + i) % alignment;
  if (tail) {
    if (zero && i <= tail) zero = false;
    if (!zero) i = Math.min(n, i + alignment - tail);
    else i -= tail;
  }
  return [!zero, i];
}

/**
 * qemu-img.c is_allocated_sectors_min: a leading zero run is a hole; after data, zero runs
 * shorter than `min` sectors are written with the data around them.
 */
function allocatedRunMin(
  buf: Uint8Array,
  off: number,
  n: number,
  min: number,
  sector: number,
  alignment: number,
): [boolean, number] {
  if (n < min) min = n;
  const [first, len] = allocatedRun(buf, off, n, sector, alignment);
  if (!first) return [false, len];
  let used = len,
    checked = len;
  while (checked < n) {
    const [alloc, l] = allocatedRun(buf, off + checked * SECTOR, n - checked, sector + checked, alignment);
    checked += l;
    if (alloc) used = checked;
    else if (l >= min) break;
  }
  return [true, used];
}

/** Zeros compared against (Buffer#compare takes ranges: no view is made per sector or block). */
let zeroBuf: Buffer | undefined;

/** buf[from, to) all zero: native memcmp, after the first and last byte (most data fails there). */
function zeroRange(buf: Uint8Array, from: number, to: number): boolean {
  if (to <= from) return true;
  if (buf[from] !== 0 || buf[to - 1] !== 0) return false;
  zeroBuf ??= Buffer.alloc(CONVERT_CHUNK);
  for (let o = from; o < to; o += zeroBuf.length) {
    const n = Math.min(zeroBuf.length, to - o);
    if (zeroBuf.compare(buf, o, o + n, 0, n) !== 0) return false;
  }
  return true;
}

/** One sector (or the short last one) all zero. */
function isZeroSector(buf: Uint8Array, off: number): boolean {
  return zeroRange(buf, off, Math.min(off + SECTOR, buf.length));
}

function isZero(buf: Uint8Array): boolean {
  return zeroRange(buf, 0, buf.length);
}

/** Block status with the convert's classes (convert_iteration_sectors). */
async function statusRanges(
  src: ImageReader,
  offset: number,
  length: number,
  topOnly: boolean,
  backingEnd: number,
): Promise<{ offset: number; length: number; status: Status }[]> {
  const inImage = Math.max(0, Math.min(length, src.virtualSize - offset));
  const ranges: BlockRange[] = inImage
    ? topOnly
      ? await src.readTopStatus(offset, inImage)
      : await src.readBlockStatus(offset, inImage)
    : [];
  // The last partial sector of a raw input: the output is whole sectors, zero-padded.
  if (inImage < length) ranges.push({ offset: offset + inImage, length: length - inImage, kind: 'zero' });
  const out: { offset: number; length: number; status: Status }[] = [];
  const push = (o: number, l: number, status: Status) => {
    const last = out[out.length - 1];
    if (last && last.status === status && last.offset + last.length === o) last.length += l;
    else if (l > 0) out.push({ offset: o, length: l, status });
  };
  for (const r of ranges) {
    if (r.kind === 'data') push(r.offset, r.length, 'data');
    else if (!topOnly) push(r.offset, r.length, 'zero');
    else if (r.kind === 'unallocated') push(r.offset, r.length, 'backing');
    else {
      // -B: zeros past the end of the output's backing file need no write (post_backing_zero).
      const before = Math.max(0, Math.min(r.length, backingEnd - r.offset));
      push(r.offset, before, 'zero');
      push(r.offset + before, r.length - before, 'backing');
    }
  }
  return out;
}

/** Reads [offset, offset + buf.length) of the input; bytes past its end (last sector) are zeros. */
async function readSource(src: ImageReader, offset: number, buf: Uint8Array): Promise<void> {
  const n = Math.max(0, Math.min(buf.length, src.virtualSize - offset));
  if (n) await src.read(offset, buf.subarray(0, n));
  if (n < buf.length) buf.fill(0, n);
}

const STATUS_WINDOW = 1 << 30;
/** Read-ahead ring: four full chunks; at most 16 reads in flight. */
const READ_AHEAD = 4 * CONVERT_CHUNK;
const READ_AHEAD_CHUNKS = 16;

/** The copy loop: every range of the input judged and handed to the sink. Returns data bytes. */
async function copy(
  src: ImageReader,
  sink: Sink,
  total: number,
  cfg: { minSparse: number; topOnly: boolean; backingEnd: number; rate?: number },
  progress: (n: number) => void,
  signal: AbortSignal | undefined,
): Promise<number> {
  if (cfg.rate) sink = new ThrottledSink(sink, cfg.rate, signal);
  const checkpoint = cancellationPoint();
  const minSectors = cfg.minSparse / SECTOR;
  let dataBytes = 0;
  const cs = sink.compressCluster;
  // -c: whole clusters of a data range are read up to CONVERT_CHUNK at once (qemu-img reads
  // buf_sectors, then the qcow2 driver compresses cluster by cluster), not one read per cluster.
  const buf = new Uint8Array(cs ? Math.max(cs, CONVERT_CHUNK - (CONVERT_CHUNK % cs)) : CONVERT_CHUNK);
  const ring = cs ? buf : new Uint8Array(READ_AHEAD);
  let readAt = 0,
    readLen = 0;
  /** One chunk through is_allocated_sectors_min to the sink; returns the data bytes written. */
  const judge = async (b: Uint8Array, o: number, isDataStatus: boolean): Promise<number> => {
    let written = 0;
    // A raw input has no block status in this reader (Node has no SEEK_DATA): its all-zero
    // file-system blocks stand for the holes file-posix would report, so the runs judged
    // below end where qemu's status runs end.
    const runs: [number, number, boolean][] =
      isDataStatus && src.format === 'raw' && !src.backing ? rawRuns(b, o) : [[0, b.length, isDataStatus]];
    for (const [from0, to0, isData] of runs) {
      const piece = b.subarray(from0, to0);
      const at = o + from0;
      if (!cfg.minSparse) {
        await sink.data(at, piece);
        written += piece.length;
      } else if (!isData) {
        if (!sink.hasZeroInit) await sink.zero(at, piece.length);
      } else {
        // Sector runs of the piece (the last sector of a raw input may be short).
        const sectors = Math.ceil(piece.length / SECTOR);
        for (let s = 0; s < sectors;) {
          const [alloc, k] = allocatedRunMin(
            piece,
            s * SECTOR,
            sectors - s,
            minSectors,
            at / SECTOR + s,
            sink.alignment,
          );
          const from = s * SECTOR,
            to = Math.min(piece.length, (s + k) * SECTOR);
          if (alloc) {
            await sink.data(at + from, piece.subarray(from, to));
            written += to - from;
          } else if (!sink.hasZeroInit) await sink.zero(at + from, to - from);
          s += k;
        }
      }
    }
    return written;
  };
  for (let w = 0; w < total; w += STATUS_WINDOW) {
    const wlen = Math.min(STATUS_WINDOW, total - w);
    const ranges = await statusRanges(src, w, wlen, cfg.topOnly, cfg.backingEnd);
    if (cs) {
      // -c: one cluster at a time; a cluster not wholly zero / backing is data (convert_iteration_sectors).
      let ri = 0;
      for (let c = w; c < w + wlen; c += cs) {
        await checkpoint(signal);
        const n = Math.min(cs, total - c);
        while (ranges[ri].offset + ranges[ri].length <= c) ri++;
        const r = ranges[ri];
        const whole = r.offset <= c && r.offset + r.length >= c + n;
        const status: Status = whole ? r.status : 'data';
        if (status === 'data') {
          if (c < readAt || c + n > readAt + readLen) {
            // From this cluster to the end of its range (whole clusters), at most one buffer.
            const end = whole ? Math.min(r.offset + r.length, total) : c + n;
            readLen = Math.max(n, Math.min(buf.length, Math.floor((end - c) / cs) * cs));
            if (c + readLen > total) readLen = total - c;
            readAt = c;
            await readSource(src, c, buf.subarray(0, readLen));
          }
          const b = buf.subarray(c - readAt, c - readAt + n);
          if (!cfg.minSparse || !isZero(b)) {
            await sink.data(c, b);
            dataBytes += n;
          } else if (!sink.hasZeroInit) await sink.zero(c, n);
        } else if (status === 'zero') {
          if (!cfg.minSparse) {
            await sink.data(c, zeros(n));
            dataBytes += n;
          } else if (!sink.hasZeroInit) await sink.zero(c, n);
        }
        progress(n);
      }
      continue;
    }
    // Chunks of at most 2 MiB from each range's start (convert_iteration_sectors); the next
    // chunk is read while this one is judged and written (two buffers).
    type Part = { o: number; n: number; status: Status };
    const single: Part[] = [];
    for (const r of ranges) {
      if (r.status === 'backing' || (r.status === 'zero' && cfg.minSparse)) {
        single.push({ o: r.offset, n: r.length, status: r.status });
        continue;
      }
      for (let o = r.offset; o < r.offset + r.length; o += CONVERT_CHUNK) {
        single.push({ o, n: Math.min(CONVERT_CHUNK, r.offset + r.length - o), status: r.status });
      }
    }
    // Short data runs separated by zeros (a cluster of data, a cluster of zeros, …) are read as one
    // chunk of at most CONVERT_CHUNK: the reader fills the zeros and gathers the data clusters
    // stored one after the other in one preadv; each run is still judged and written as its own.
    // Backing ranges (-B) are never read over.
    const chunks: (Part & { parts?: Part[] })[] = [];
    for (let i = 0; i < single.length;) {
      const g = single[i];
      let last = i;
      if (g.status === 'data') {
        for (let j = i + 1; j < single.length; j++) {
          const c = single[j];
          if (c.status === 'backing' || c.o + c.n - g.o > CONVERT_CHUNK) break;
          if (c.status === 'data') last = j;
        }
      }
      if (last === i) chunks.push(g);
      else {
        const parts = single.slice(i, last + 1);
        chunks.push({ o: g.o, n: parts[parts.length - 1].o + parts[parts.length - 1].n - g.o, status: 'data', parts });
      }
      i = last + 1;
    }
    // Read-ahead: up to READ_AHEAD_CHUNKS data chunks in flight in a ring of READ_AHEAD bytes
    // (consumed in order), so that small runs (one compressed cluster each) are read and inflated
    // concurrently while earlier chunks are judged and written.
    const reading = new Map<number, Promise<Uint8Array>>();
    const live: { i: number; start: number; end: number }[] = [];
    let pos = 0,
      next = 0;
    const pump = () => {
      while (next < chunks.length && reading.size < READ_AHEAD_CHUNKS) {
        const c = chunks[next];
        if (c.status !== 'data') {
          next++;
          continue;
        }
        const start = pos + c.n > ring.length ? 0 : pos;
        if (!live.every((r) => start + c.n <= r.start || start >= r.end)) break;
        const b = ring.subarray(start, start + c.n);
        live.push({ i: next, start, end: start + c.n });
        pos = start + c.n;
        const p = readSource(src, c.o, b).then(() => b);
        p.catch(() => undefined); // awaited when its turn comes
        reading.set(next, p);
        next++;
      }
    };
    try {
      pump();
      for (let i = 0; i < chunks.length; i++) {
        const c = chunks[i];
        await checkpoint(signal);
        if (c.status === 'backing' || (c.status === 'zero' && cfg.minSparse)) {
          if (c.status === 'zero' && !sink.hasZeroInit) await sink.zero(c.o, c.n);
          progress(c.n);
          continue;
        }
        let b: Uint8Array;
        if (c.status === 'data') {
          b = await reading.get(i)!;
          reading.delete(i);
          pump();
        } else b = zeros(c.n);
        for (const p of c.parts ?? [c]) {
          if (p.status === 'data') dataBytes += await judge(b.subarray(p.o - c.o, p.o - c.o + p.n), p.o, true);
          else if (!cfg.minSparse) dataBytes += await judge(zeros(p.n), p.o, false);
          else if (!sink.hasZeroInit) await sink.zero(p.o, p.n);
          progress(p.n);
        }
        if (c.status === 'data') {
          live.shift();
          pump();
        }
      }
    } finally {
      await Promise.allSettled(reading.values());
    }
  }
  return dataBytes;
}

/** File-system block size the raw input's holes are judged at. */
const FS_BLOCK = 4096;

/** [from, to, data] runs of a chunk of a raw input at `offset`: all-zero file-system blocks are holes. */
function rawRuns(b: Uint8Array, offset: number): [number, number, boolean][] {
  const out: [number, number, boolean][] = [];
  for (let p = 0; p < b.length;) {
    const e = Math.min(b.length, (Math.floor((offset + p) / FS_BLOCK) + 1) * FS_BLOCK - offset);
    const data = !zeroRange(b, p, e);
    const last = out[out.length - 1];
    if (last && last[2] === data) last[1] = e;
    else out.push([p, e, data]);
    p = e;
  }
  return out;
}

/** Largest power of two ≤ n (qemu's pow2floor), at least 1. */
function pow2floor(n: number): number {
  return n < 1 ? 1 : 2 ** Math.floor(Math.log2(n));
}

/**
 * -r: every write waits until the bytes written before it fit the rate (a leaky bucket as qemu's
 * throttle, util/throttle.c: its burst when no maximum is set is a tenth of a second's worth).
 */
class ThrottledSink implements Sink {
  readonly hasZeroInit: boolean;
  readonly alignment: number;
  readonly compressCluster: number | undefined;
  private readonly start = performance.now();
  private written = 0;
  constructor(
    private readonly inner: Sink,
    private readonly rate: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.hasZeroInit = inner.hasZeroInit;
    this.alignment = inner.alignment;
    this.compressCluster = inner.compressCluster;
  }
  private async wait(n: number): Promise<void> {
    const due = this.start + ((this.written - this.rate / 10) / this.rate) * 1000;
    this.written += n;
    const ms = due - performance.now();
    if (ms <= 0) return;
    const signal = this.signal;
    await new Promise<void>((done) => {
      const finish = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', finish);
        done();
      };
      const timer = setTimeout(finish, ms);
      signal?.addEventListener('abort', finish, { once: true });
    });
    throwIfAborted(this.signal);
  }
  async data(offset: number, buf: Uint8Array): Promise<void> {
    await this.wait(buf.length);
    await this.inner.data(offset, buf);
  }
  async zero(offset: number, length: number): Promise<void> {
    await this.wait(length);
    await this.inner.zero(offset, length);
  }
  finish(): Promise<number> {
    return this.inner.finish();
  }
}

/** A raw file: data written where it is, zeros skipped (new file) or written (-n). */
class RawSink implements Sink {
  readonly compressCluster = undefined;
  constructor(
    private readonly io: WriterIO,
    private readonly fd: Fd,
    readonly hasZeroInit: boolean,
    readonly alignment: number,
    private readonly size: number,
  ) {}
  async data(offset: number, buf: Uint8Array): Promise<void> {
    await this.io.pwrite(this.fd, buf, offset);
  }
  async zero(offset: number, length: number): Promise<void> {
    for (let done = 0; done < length;) {
      const n = Math.min(CONVERT_CHUNK, length - done);
      await this.io.pwrite(this.fd, zeros(n), offset + done);
      done += n;
    }
  }
  async finish(): Promise<number> {
    return this.size;
  }
}

/**
 * A raw LUKS payload: every sector encrypted (block/crypto.c has no zero-init and no
 * write-zeroes: qemu encrypts zeros too), IVs numbered from the payload's first sector.
 */
class LuksSink implements Sink {
  readonly compressCluster = undefined;
  private readonly scratch = new Uint8Array(CONVERT_CHUNK);
  constructor(
    private readonly io: WriterIO,
    private readonly fd: Fd,
    private readonly cipher: SectorCipher,
    private readonly payload: number,
    readonly alignment: number,
    private readonly fileSize: number,
    /** -n --target-is-zero: zeros are not written (the user says the payload reads as zeros). */
    readonly hasZeroInit = false,
  ) {}
  async data(offset: number, buf: Uint8Array): Promise<void> {
    await pwriteEncrypted(this.io, this.fd, this.cipher, this.scratch, buf, this.payload + offset, offset / SECTOR);
  }
  async zero(offset: number, length: number): Promise<void> {
    for (let done = 0; done < length;) {
      const n = Math.min(CONVERT_CHUNK, length - done);
      await this.data(offset + done, zeros(n));
      done += n;
    }
  }
  async finish(): Promise<number> {
    return this.fileSize;
  }
}

/**
 * The qcow2+LUKS provider for a convert output: luks/qcowEncryption.ts qcowLuksEncryption (same
 * option names, checks and messages as `create`) keeping the payload cipher for the data.
 */
export function convertEncryption(
  options: LuksOptionInput,
  passphrase: Uint8Array,
  ctx: Omit<NonNullable<Parameters<typeof qcowLuksEncryption>[2]>, 'keepCipher'> = {},
): QcowLuksProvider {
  return qcowLuksEncryption(options, passphrase, { ...ctx, keepCipher: true });
}

/**
 * Judges a convert's create step like qemu-img convert does: the output format's create options
 * (writer/create.ts planCreate, qemu-img 7.2's verdicts and messages) with the input's size,
 * which replaces any `-o size=` (img_convert sets BLOCK_OPT_SIZE after parsing -o).
 */
export function planConvertCreate(
  args: ConvertCreateArgs,
  source: Pick<ImageReader, 'virtualSize'>,
  probe: ProbeIO,
  cwd: string,
): PlannedCreate {
  return planCreate({ ...args, size: String(convertOutputSize(source)) }, probe, cwd);
}

/**
 * Converts `job.source` into a new image (`job.target`) or an existing one (`job.existing`).
 * Throws WriterError (exists, cancelled, refused, corrupt — the input's) or the I/O error; in
 * every failure case nothing is left behind (a -n target keeps what was written into it, as
 * qemu-img's does).
 */
export async function convertImage(job: ConvertJob, opts: ConvertOptions): Promise<ConvertResult> {
  const { io, signal } = opts;
  throwIfAborted(signal);
  const bad = checkConvert(job, opts);
  if (bad) throw bad;
  // The zstd compressor (WebAssembly) loads before anything is created: a missing module is a refusal.
  if (job.compress && job.target?.format === 'qcow2' && job.target.compressionType === 'zstd') {
    await loadZstdCompressor();
  }
  const src = job.source;
  const total = convertOutputSize(src);
  const minSparse = job.minSparse ?? DEFAULT_MIN_SPARSE;
  const alignment = Math.max(pow2floor(minSparse / SECTOR), 1);
  let done = 0;
  const progress = (n: number) => {
    done += n;
    opts.onProgress?.({ done, total, phase: 'data' });
  };
  if (job.existing) return convertIntoExisting(job, job.existing, opts, total, minSparse, alignment, progress);

  const t = job.target!;
  const pre = await preflight(t, opts);
  if (pre) throw pre;
  const path = resolve(opts.cwd, t.filename);
  if (t.format !== 'luks' && t.size !== total) {
    throw new WriterError(`the output size ${t.size} is not the input's size ${total}`, 'refused', 'size');
  }

  // -B: the output's backing file is opened before anything is written: its size decides which
  // zeros need writing (post_backing_zero), its bytes fill the unwritten part of a cluster.
  let backing: ImageReader | undefined;
  if (t.format === 'qcow2' && t.backingFile !== undefined) {
    backing = await openImage(resolve(opts.cwd, backingPathAsQemuSees(t.filename, t.backingFile)), {
      io,
      cwd: dirname(path),
      format: t.backingFmt,
      passphrase: opts.backingPassphrase,
      signal,
    });
  }
  try {
    if (t.format === 'luks') return await convertToLuks(src, t, path, opts, total, minSparse, alignment, progress);
    // Key derivation (the long part) before the disk is touched, as createImage does.
    // A preallocated qcow2 (data_file_raw included: metadata) is qemu-img create's layout, planned
    // (and refused when too large) before anything happens; the data then fills its clusters.
    const preplaced =
      t.format === 'qcow2' && t.preallocation !== 'off'
        ? planQcow2Job(t, opts.encryption && { cryptMethod: 2, headerLength: opts.encryption.headerLength })
        : undefined;
    const crypto = t.format === 'qcow2' && opts.encryption ? await deriveQcowLuks(opts, total) : undefined;
    throwIfAborted(signal);
    const files: PendingFile[] = [];
    try {
      let file: PendingFile, data: PendingFile | undefined;
      if (t.format === 'qcow2') {
        ({ image: file, data } = await openQcow2Files(t, path, opts, files));
      } else {
        file = await PendingFile.create(io, path);
        files.push(file);
        await file.applyPermissions(opts.permissions);
        if (t.nocow) await io.setNocow?.(file.fd);
      }
      let sink: Sink;
      if (t.format === 'qcow2' && preplaced) {
        const { plan, render } = preplaced;
        // Encrypted: every zero range is written, whole clusters freed; the data area is not
        // allocated first (qcow2Preplaced.ts).
        const deferred = crypto && (t.preallocation === 'falloc' || t.preallocation === 'full');
        await writeQcow2Layout(
          plan,
          render,
          io,
          { image: file.fd, data: data?.fd },
          {
            crypto: crypto?.header,
            signal,
            deferData: !!crypto,
          },
        );
        sink = new Qcow2PreplacedWriter(io, file.fd, plan, {
          cipher: crypto?.cipher,
          alignment,
          signal,
          dataFd: data?.fd,
          deferredMode: deferred ? (t.preallocation as 'falloc' | 'full') : undefined,
        });
      } else if (t.format === 'raw') {
        await io.ftruncate(file.fd, total);
        // file-posix raw_regular_truncate as at create: falloc/full allocate the whole file
        // first (the new file still reads as zeros: has_zero_init), then allocate_first_block.
        if (t.preallocation === 'falloc' && io.fallocate && total > 0) await io.fallocate(file.fd, 0, total);
        else if (t.preallocation === 'falloc' || t.preallocation === 'full') {
          await writeZeros(io, file.fd, 0, total, () => undefined, signal);
        }
        if (total > 0) await io.pwrite(file.fd, zeros(Math.min(4096, total)), 0);
        sink = new RawSink(io, file.fd, true, alignment, total);
      } else {
        // An external data file without preallocation: qemu-img create sizes it (raw_regular_truncate).
        if (data) await sizeFile(io, data.fd, t.size, 'off');
        const qcow = new Qcow2StreamWriter(io, file.fd, t, {
          backing,
          crypto,
          compress: !!job.compress,
          alignment,
          signal,
          dataFd: data?.fd,
        });
        await qcow.start();
        sink = qcow;
      }
      const dataBytes = await copy(
        src,
        sink,
        total,
        {
          minSparse,
          topOnly: !!backing,
          backingEnd: backing ? convertOutputSize(backing) : 0,
          rate: opts.rateLimit,
        },
        progress,
        signal,
      );
      const fileSize = await sink.finish();
      if (data) await flush(opts, data.fd, done, total);
      await flush(opts, file.fd, done, total);
      // The data file first, as createImage publishes it: the image never names a missing file.
      if (data) await data.publish(!!opts.force);
      await file.publish(!!opts.force);
      return { path, fileSize, dataBytes, dataFile: data?.target };
    } catch (e) {
      for (const f of files.reverse()) await f.discard();
      throw e;
    }
  } finally {
    await backing?.close();
  }
}

/**
 * The end of the copy: the cache mode's flush (none with 'unsafe', qemu-img convert's default),
 * cancellation checked on both sides of it.
 */
async function flush(opts: ConvertOptions, fd: Fd, done: number, total: number): Promise<void> {
  throwIfAborted(opts.signal);
  if (!cacheFlushes(opts.cache)) return;
  opts.onProgress?.({ done, total, phase: 'sync' });
  await opts.io.fsync(fd);
  throwIfAborted(opts.signal);
}

/** qcow2+LUKS: the LUKS header area and the payload cipher (key derivation before the disk). */
async function deriveQcowLuks(
  opts: ConvertOptions,
  total: number,
): Promise<{ header: Uint8Array; cipher: SectorCipher; headerLength: number }> {
  const enc = opts.encryption!;
  opts.onProgress?.({ done: 0, total, phase: 'derive' });
  const header = await enc.headerBytes();
  if (!enc.sectorCipher) {
    throw new WriterError('the qcow2 encryption provider gave no payload cipher (use qcowLuksEncryption)', 'refused');
  }
  return { header, cipher: enc.sectorCipher, headerLength: enc.headerLength };
}

async function convertToLuks(
  src: ImageReader,
  t: LuksSpec,
  path: string,
  opts: ConvertOptions,
  total: number,
  minSparse: number,
  alignment: number,
  progress: (n: number) => void,
): Promise<ConvertResult> {
  const { io, signal } = opts;
  const checked = checkLuksOptions(t.options);
  if (!checked.ok) throw new WriterError(checked.message, 'refused', checked.option);
  opts.onProgress?.({ done: 0, total: 1000, phase: 'derive' });
  const header = await buildLuksHeader({
    resolved: checked,
    passphrase: t.passphrase,
    signal,
    iterations: t.iterations,
    keepCipher: true,
    onProgress: (f) => opts.onProgress?.({ done: Math.round(f * 1000), total: 1000, phase: 'derive' }),
  });
  const payload = header.payloadOffsetBytes;
  const fileSize = payload + total;
  let file: PendingFile | undefined;
  try {
    throwIfAborted(signal);
    file = await PendingFile.create(io, path);
    await file.applyPermissions(opts.permissions);
    if (t.nocow) await io.setNocow?.(file.fd);
    await io.ftruncate(file.fd, fileSize);
    // Header and slot 0's key material; the other slots' areas stay holes (as at create).
    await io.pwrite(file.fd, header.bytes.subarray(0, LUKS1.headerBytes), 0);
    const slot0 = checked.keySlotOffsets[0] * LUKS1.sectorSize;
    await io.pwrite(file.fd, header.bytes.subarray(slot0, slot0 + checked.keyBytes * LUKS1.stripes), slot0);
    const sink = new LuksSink(io, file.fd, header.cipher!, payload, alignment, fileSize);
    const dataBytes = await copy(
      src,
      sink,
      total,
      { minSparse, topOnly: false, backingEnd: 0, rate: opts.rateLimit },
      progress,
      signal,
    );
    await flush(opts, file.fd, total, total);
    await file.publish(!!opts.force);
    return { path, fileSize, dataBytes, luks: { uuid: header.uuid, report: header.report } };
  } catch (e) {
    await file?.discard();
    throw e;
  } finally {
    header.bytes.fill(0);
  }
}

/** What -n's paths share: the existing target, the copy's parameters and the progress callback. */
interface IntoExisting {
  job: ConvertJob;
  ex: ExistingTarget;
  opts: ConvertOptions;
  /** The target's absolute path. */
  path: string;
  total: number;
  minSparse: number;
  progress: (n: number) => void;
  alignment: number;
}

/**
 * -n (qemu-img convert's skip_create): the input copied over an existing image's guest view. The
 * target must be at least as large as the input ("output file is smaller than input file"); every
 * range of the input is written, zeros included (qemu: blk_co_pwrite_zeroes), unless
 * --target-is-zero says the target already reads as zeros (img_convert sets has_zero_init);
 * the target's bytes past the input's end are kept.
 */
async function convertIntoExisting(
  job: ConvertJob,
  ex: ExistingTarget,
  opts: ConvertOptions,
  total: number,
  minSparse: number,
  alignment: number,
  progress: (n: number) => void,
): Promise<ConvertResult> {
  const run: IntoExisting = {
    job,
    ex,
    opts,
    path: resolve(opts.cwd, ex.filename),
    total,
    minSparse,
    progress,
    alignment,
  };
  return ex.format === 'qcow2' ? intoExistingQcow2(run) : intoExistingRaw(run);
}

/** The copy loop of a -n run into `sink`, its end, then the cache mode's flush of `fd`. */
async function copyIntoExisting(r: IntoExisting, sink: Sink, fd: Fd): Promise<{ dataBytes: number; fileSize: number }> {
  const cfg = { minSparse: r.minSparse, topOnly: false, backingEnd: 0, rate: r.opts.rateLimit };
  const dataBytes = await copy(r.job.source, sink, r.total, cfg, r.progress, r.opts.signal);
  const fileSize = await sink.finish();
  await flush(r.opts, fd, r.total, r.total);
  return { dataBytes, fileSize };
}

/** -n into a raw or raw LUKS image: written in place (LUKS sectors encrypted with its master key). */
async function intoExistingRaw(r: IntoExisting): Promise<ConvertResult> {
  const { ex, opts, path } = r;
  const { io, signal } = opts;
  const st = await io.stat(path);
  if (!st) throw new WriterError(`Could not open '${ex.filename}': No such file or directory`, 'refused');
  if (!st.isFile) throw new WriterError(`Could not open '${ex.filename}': not a regular file`, 'refused');
  const fd = await io.open(path, 'write');
  try {
    let sink: Sink;
    let size = st.size;
    const zeroInit = !!ex.targetIsZero;
    if (ex.format === 'luks') {
      const head = await io.pread(fd, 8, 0);
      if (!LUKS_MAGIC.every((v, i) => head[i] === v)) {
        throw new WriterError(`Could not open '${ex.filename}': Volume is not in LUKS format`, 'refused');
      }
      const read = async (o: number, l: number, what: string) => {
        if (o + l > st.size) throw new WriterError(`${ex.filename}: ${what} is past the end of the file`, 'corrupt');
        return io.pread(fd, l, o);
      };
      const u = await unlockLuksArea(read, st.size, ex.passphrase!, ex.filename, signal);
      size = st.size - u.payloadOffset;
      sink = new LuksSink(io, fd, u.cipher, u.payloadOffset, r.alignment, st.size, zeroInit);
    } else {
      sink = new RawSink(io, fd, zeroInit, r.alignment, st.size);
    }
    if (size < r.total) throw new WriterError('output file is smaller than input file', 'refused');
    throwIfAborted(signal);
    return { path, ...(await copyIntoExisting(r, sink, fd)) };
  } finally {
    await io.close(fd);
  }
}

/**
 * -n into an existing qcow2 / qcow2+LUKS, empty (libvirt's vol-create-from runs `qemu-img create`
 * then convert -n) or holding clusters. The result is qemu-img's guest view: the input over
 * [0, input size), zero ranges as qemu writes them (qcow2_subcluster_zeroize: zero flags in
 * version 3; version 2 discards when there is no backing file, else writes zero data), and the
 * target's own content elsewhere — past the input's end, and where --target-is-zero skips zeros.
 * Its header options, backing file and LUKS area (unlocked with the passphrase: its master key
 * encrypts the data) are kept. The new content is built in a temporary file with the target's
 * owner, group and mode, then renamed over it: every check (header, passphrase, the target's
 * tables) passes before a byte is written, and a failure or cancellation leaves the target as it
 * was. What a rebuild would lose is refused: an external data file, internal snapshots,
 * persistent bitmaps.
 */
async function intoExistingQcow2(r: IntoExisting): Promise<ConvertResult> {
  const { ex, opts } = r;
  const { io, signal } = opts;
  const refuse = (m: string) => new WriterError(`Could not open '${ex.filename}': ${m}`, 'refused');
  // The rebuilt file replaces the image itself, not a symbolic link naming it (qemu writes through
  // links); a relative backing file name is still resolved from the name given (bs->filename).
  const path = io.realpath ? await io.realpath(r.path).catch(() => r.path) : r.path;
  const file = await BoundedFile.open(io, path, 'image', ex.filename);
  let h: Qcow2Header;
  let crypto: { header: Uint8Array; cipher: SectorCipher; headerLength: number } | undefined;
  let old: Qcow2Layer | undefined;
  let backing: ImageReader | undefined;
  try {
    h = await readQcow2Header(file);
    const why = existingQcow2Refusal(h);
    if (why) throw refuse(why);
    if (r.job.compress && h.cryptMethod !== QCOW2_CRYPT.none) {
      throw new WriterError(COMPRESSED_ENCRYPTED, 'refused', 'c');
    }
    // qcow2 cannot write a compressed cluster over an allocated one (block/qcow2-cluster.c
    // qcow2_alloc_compressed_cluster_offset fails with EIO): qemu-img -c -n into a qcow2 holding
    // clusters stops with "Input/output error" after writing part of it. Said before, here.
    if (r.job.compress) {
      const l1 = await file.read(h.l1TableOffset, h.l1Size * 8, 'L1 table');
      if (l1.some((b) => b !== 0)) throw refuse(COMPRESSED_OVER_CLUSTERS);
    }
    let enc: LayerCipher | undefined;
    if (h.cryptMethod === QCOW2_CRYPT.luks) {
      if (!ex.passphrase) throw refuse("Parameter 'encrypt.key-secret' is required for cipher");
      const area = h.cryptoHeader!;
      const read = (o: number, l: number, w: string) => file.read(area.offset + o, l, w);
      const u = await unlockLuksArea(read, area.length, ex.passphrase, ex.filename, signal);
      crypto = {
        header: await file.read(area.offset, area.length, 'LUKS header area'),
        cipher: u.cipher,
        headerLength: area.length,
      };
      // qcow2+LUKS numbers sectors by host offset (qcow2_co_encdec, crypt_physical_offset).
      enc = { cipher: u.cipher, physical: true, base: 0 };
    }
    if (h.size < r.total) throw new WriterError('output file is smaller than input file', 'refused');
    old = await Qcow2Layer.open(h, file, undefined, enc);
  } catch (e) {
    if (!old) await file.close();
    crypto?.header.fill(0);
    throw e;
  }
  try {
    const st = await io.stat(path);
    // The target's own tables are walked before anything is written: a corrupt one is named now.
    await KeepTargetSink.check(old, h.size, signal);
    const spec: CreateSpec = {
      format: 'qcow2',
      filename: ex.filename,
      size: h.size,
      preallocation: 'off',
      nocow: false,
      version: h.version === 2 ? 2 : 3,
      clusterSize: h.clusterSize,
      extendedL2: h.extendedL2,
      lazyRefcounts: (h.compatible & QCOW2_COMPAT.lazyRefcounts) !== 0,
      refcountBits: h.refcountBits,
      compressionType: h.compression,
      backingFile: h.backingFile || undefined,
      backingFmt: h.backingFormat,
      dataFileRaw: false,
    };
    if (spec.backingFile !== undefined) {
      backing = await openImage(spec.backingFile, {
        io,
        cwd: dirname(r.path),
        format: spec.backingFmt,
        passphrase: opts.backingPassphrase,
        signal,
      });
    }
    throwIfAborted(signal);
    const out = await PendingFile.create(io, path);
    try {
      await out.applyPermissions({ mode: st?.mode, owner: st?.uid, group: st?.gid });
      const qcow = new Qcow2StreamWriter(io, out.fd, spec, {
        backing,
        crypto,
        compress: !!r.job.compress,
        alignment: r.alignment,
        signal,
        zeroInit: false,
      });
      await qcow.start();
      const sink = new KeepTargetSink(qcow, old, h.size, !!ex.targetIsZero, signal);
      const done = await copyIntoExisting(r, sink, out.fd);
      await out.publish(true);
      return { path, ...done };
    } catch (e) {
      await out.discard();
      throw e;
    }
  } finally {
    crypto?.header.fill(0);
    await old.close();
    await backing?.close();
  }
}

/** -c -n into a qcow2 that holds clusters: qemu-img's failure, said before a byte is written. */
export const COMPRESSED_OVER_CLUSTERS =
  '-c -n into a qcow2 that holds clusters is refused: qemu cannot write a compressed cluster over an ' +
  'allocated one (qemu-img fails with an Input/output error part-way)';

/**
 * Why -n cannot take this qcow2 target (undefined: it can), before a byte is written: qemu's own
 * refusal of an image marked corrupt (qcow2_do_open), then what a rebuild would lose or cannot
 * write (internal snapshots, persistent bitmaps, an external data file) and legacy AES.
 */
export function existingQcow2Refusal(h: Qcow2Header): string | undefined {
  if (h.incompatible & QCOW2_INCOMPAT.corrupt) return 'qcow2: Image is corrupt; cannot be opened read/write';
  if (h.dataFile !== undefined) return '-n into a qcow2 with an external data file is not supported';
  if (h.cryptMethod === QCOW2_CRYPT.aes) return '-n into a legacy AES qcow2 is refused (insecure)';
  if (h.nbSnapshots > 0) {
    return `-n into a qcow2 with internal snapshots (${h.nbSnapshots}) is not supported: they would be lost`;
  }
  if (h.autoclear & QCOW2_AUTOCLEAR.bitmaps) {
    return '-n into a qcow2 with persistent dirty bitmaps is not supported: they would be lost';
  }
  return undefined;
}

/**
 * The rebuilt qcow2 of a -n run: what the copy loop writes goes to the new image; every range it
 * leaves alone (past the input's end; zeros skipped with --target-is-zero) keeps the target's own
 * state — its data copied, its zero clusters zero, its unallocated clusters unallocated (the
 * backing file still shows through). The copy writes in guest order, so the kept ranges are the
 * gaps before each write and the tail at finish.
 */
class KeepTargetSink implements Sink {
  /** -c (into a target without clusters: nothing of its own is kept): the writer's clusters. */
  readonly compressCluster: number | undefined;
  readonly alignment: number;
  /** Guest offset up to which the new image's content is decided. */
  private at = 0;
  private buf: Uint8Array | undefined;

  constructor(
    private readonly out: Qcow2StreamWriter,
    private readonly old: Layer,
    private readonly size: number,
    readonly hasZeroInit: boolean,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.alignment = out.alignment;
    this.compressCluster = out.compressCluster;
  }

  /** Maps the whole target (every L2 table read and bounds-checked): a corrupt table throws here. */
  static async check(layer: Layer, size: number, signal: AbortSignal | undefined): Promise<void> {
    for (let o = 0; o < size; o += STATUS_WINDOW) {
      throwIfAborted(signal);
      await layer.map(o, Math.min(STATUS_WINDOW, size - o));
    }
  }

  async data(offset: number, buf: Uint8Array): Promise<void> {
    await this.keep(offset);
    await this.out.data(offset, buf);
    this.at = offset + buf.length;
  }

  async zero(offset: number, length: number): Promise<void> {
    await this.keep(offset);
    await this.out.zero(offset, length);
    this.at = offset + length;
  }

  async finish(): Promise<number> {
    await this.keep(this.size);
    return this.out.finish();
  }

  /** The target's own content of [this.at, to). */
  private async keep(to: number): Promise<void> {
    for (let w = this.at; w < to; w += STATUS_WINDOW) {
      for (const p of await this.old.map(w, Math.min(STATUS_WINDOW, to - w))) {
        throwIfAborted(this.signal);
        if (p.kind === 'zero') await this.out.zero(p.offset, p.length);
        if (p.kind !== 'data') continue;
        // A compressed piece is one cluster at most; a run of clusters is read in chunks.
        const step = p.compressed ? p.length : CONVERT_CHUNK;
        for (let d = 0; d < p.length; d += step) {
          const n = Math.min(step, p.length - d);
          this.buf ??= new Uint8Array(Math.max(CONVERT_CHUNK, step));
          if (this.buf.length < n) this.buf = new Uint8Array(n);
          const b = this.buf.subarray(0, n);
          const piece = p.compressed ? p : { ...p, offset: p.offset + d, length: n, host: p.host! + d };
          await this.old.readPiece(piece, b, 0);
          await this.out.data(piece.offset, b);
        }
      }
    }
    this.at = Math.max(this.at, to);
  }
}
