// The image writer: raw and qcow2 exactly as qemu-img 7.2 writes them, through injected I/O.
//
// Safety (ARCHITECTURE.md invariant 6): every option is checked (schemas/qcow2Options.ts) and the
// whole layout planned before the first byte is written; the image (and an external data file)
// is written to a temporary file in the target's folder and published at the end — with link()
// so that an existing file is never replaced unless `force` (then rename()); any error or a
// cancellation removes the temporary files. An existing target or data file is refused unless
// `force` (qemu-img silently truncates both).
//
// Paths: a relative image name is resolved against `cwd`. A relative backing file is resolved
// against the image's folder (as qemu does when it opens it). A relative data_file is resolved
// against the image's folder too — qemu 7.2 resolves it against the current directory at create
// and open time (measured), which breaks as soon as the image is used from elsewhere; the
// name is stored in the header as given either way, so qemu finds it when run from that folder.
import { dirname, basename, isAbsolute, resolve } from 'node:path';
import {
  checkCreate, QEMU_MESSAGES, type BackingFacts, type CreateArgs, type CreateSpec, type CreateVerdict,
} from '../../../schemas/qcow2Options';
import { BackgroundFlush } from './backgroundFlush';
import { ioError, type Fd, type ProbeIO, type WriterIO } from './io';
import { probeImage } from './probe';
import { Qcow2Plan, Qcow2TooLarge } from './qcow2Layout';

export interface CancellationToken {
  readonly isCancellationRequested: boolean;
}

export interface WriteProgress {
  /** Bytes written (or allocated) so far and in total. */
  done: number;
  total: number;
  phase: 'metadata' | 'data' | 'sync';
}

/**
 * Encryption inside qcow2 (issue 5 plugs LUKS in here): the writer allocates `headerLength`
 * bytes of zeroed clusters after the other metadata, writes `headerBytes()` at their start, adds
 * the crypto header extension and sets crypt_method — qcow2_set_up_encryption's layout.
 */
export interface QcowEncryptionProvider {
  /** 2 = LUKS (1 = legacy AES, which has no header area). */
  cryptMethod: 1 | 2;
  /** Length of the LUKS header area in bytes (its payload offset); 0 for AES. */
  headerLength: number;
  /** The header bytes; called before anything is written (key derivation may take seconds). */
  headerBytes(): Promise<Uint8Array>;
}

export interface CreateImageOptions {
  io: WriterIO;
  /** Folder relative image names are resolved against. */
  cwd: string;
  force?: boolean;
  onProgress?(p: WriteProgress): void;
  token?: CancellationToken;
  encryption?: QcowEncryptionProvider;
}

export interface CreateResult {
  path: string;
  dataFile?: string;
  /** Final file length. */
  fileSize: number;
}

export class WriterError extends Error {
  constructor(message: string, readonly code: 'exists' | 'cancelled' | 'io' | 'refused') { super(message); }
}

/** Write size: large enough for full disk bandwidth, small enough for a < 64 MB process. */
const CHUNK = 2 * 1024 * 1024;
const META_CHUNK = 256 * 1024;

function checkCancel(token?: CancellationToken): void {
  if (token?.isCancellationRequested) throw new WriterError('cancelled', 'cancelled');
}


/** qemu's path_combine for a backing file name relative to the image name as given. */
export function backingPathAsQemuSees(imageName: string, backing: string): string {
  if (backing.startsWith('/')) return backing;
  const slash = imageName.lastIndexOf('/');
  return slash < 0 ? backing : imageName.slice(0, slash + 1) + backing;
}

const KNOWN_MAGIC_FORMATS = new Set(['raw', 'qcow2', 'qcow', 'luks', 'vmdk', 'vdi', 'vpc', 'qed', 'vhdx']);

/**
 * What qemu-img learns by opening the backing image with the requested driver (bdrv_img_create),
 * plus this project's stricter check: a format that contradicts the file's magic is refused
 * (qemu-img accepts `-F raw` on a qcow2 and the guest then sees qcow2 metadata as disk content).
 */
export function backingFacts(probe: ProbeIO, cwd: string, imageName: string, backing: string, fmt: string | undefined): BackingFacts & { mismatch?: string } {
  const shown = backingPathAsQemuSees(imageName, backing);
  const path = resolve(cwd, shown);
  let facts;
  try {
    facts = probeImage(probe, path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === 'ENOENT' ? 'No such file or directory' : code === 'EACCES' ? 'Permission denied' : code === 'EISDIR' ? 'Is a directory' : String((e as Error).message);
    if (fmt !== undefined && !isDriver(fmt)) return { error: `Unknown driver '${fmt}'` };
    return { error: `Could not open '${shown}': ${why}` };
  }
  if (fmt === undefined) return { detectedFormat: facts.format, length: facts.virtualSize };
  if (!isDriver(fmt)) return { error: `Unknown driver '${fmt}'` };
  if (fmt === 'qcow2' && facts.format !== 'qcow2') return { error: 'Image is not in qcow2 format' };
  if (fmt === 'luks' && facts.format !== 'luks') return { error: 'Volume is not in LUKS format' };
  const out: BackingFacts & { mismatch?: string } = { detectedFormat: facts.format, length: fmt === 'raw' ? facts.fileSize : facts.virtualSize };
  if (KNOWN_MAGIC_FORMATS.has(fmt) && fmt !== facts.format) {
    out.mismatch = `Backing format '${fmt}' does not match '${shown}', whose header says ${facts.format}: use -F ${facts.format} (qemu-img would accept this and expose the ${facts.format} metadata as disk content)`;
  }
  return out;
}

function isDriver(fmt: string): boolean {
  return ['raw', 'qcow2', 'qcow', 'luks', 'vmdk', 'vdi', 'vpc', 'qed', 'vhdx', 'bochs', 'cloop', 'dmg', 'parallels', 'vvfat', 'file',
    'blkdebug', 'blklogwrites', 'blkreplay', 'blkverify', 'compress', 'copy-before-write', 'copy-on-read', 'snapshot-access',
    'ftp', 'ftps', 'gluster', 'host_cdrom', 'host_device', 'http', 'https', 'iscsi', 'nbd', 'nfs', 'null-aio', 'null-co',
    'nvme', 'preallocate', 'quorum', 'rbd', 'replication', 'ssh', 'throttle'].includes(fmt);
}

export interface PlannedCreate {
  verdict: CreateVerdict;
  /** Set when this project refuses although qemu-img would accept (stricter checks). */
  refusal?: string;
}

/**
 * Judges a `qemu-img create` invocation like qemu-img 7.2 (same verdict, same message), then
 * applies this project's stricter checks. Reads only headers; writes nothing.
 */
export function planCreate(args: CreateArgs, probe: ProbeIO, cwd: string): PlannedCreate {
  let mismatch: string | undefined;
  const verdict = checkCreate(args, (b, fmt) => {
    const f = backingFacts(probe, cwd, args.filename, b, fmt);
    mismatch = f.mismatch;
    return f;
  });
  if (!verdict.ok) return { verdict };
  if (mismatch) return { verdict, refusal: mismatch };
  return { verdict };
}

/** Checks that do need the file system but precede any write: targets that exist. */
export async function preflight(spec: CreateSpec, opts: CreateImageOptions): Promise<string | undefined> {
  const path = resolve(opts.cwd, spec.filename);
  const st = await opts.io.stat(path);
  if (st?.isDirectory) return 'Is a directory';
  if (st && !opts.force) return 'the file exists; use --force to overwrite it';
  const dir = await opts.io.stat(dirname(path));
  if (!dir?.isDirectory) return `Could not create '${spec.filename}': No such file or directory`;
  if (spec.dataFile !== undefined) {
    const dpath = dataFilePath(spec, opts.cwd);
    const dst = await opts.io.stat(dpath);
    if (dst?.isDirectory) return `data file '${spec.dataFile}': Is a directory`;
    if (dst && !opts.force) return `the data file '${spec.dataFile}' exists and qemu-img would truncate it; use --force to overwrite it`;
    if (dpath === path) return `the data file '${spec.dataFile}' cannot be the image itself`;
  }
  return undefined;
}

export function dataFilePath(spec: CreateSpec, cwd: string): string {
  const image = resolve(cwd, spec.filename);
  return isAbsolute(spec.dataFile!) ? spec.dataFile! : resolve(dirname(image), spec.dataFile!);
}

/** A file being written: a temporary name until publish(). */
class PendingFile {
  fd: Fd | undefined;
  published = false;
  constructor(readonly io: WriterIO, readonly target: string, readonly temp: string) {}

  static async create(io: WriterIO, target: string): Promise<PendingFile> {
    const temp = io.tempName(dirname(target), `.${basename(target)}`);
    const p = new PendingFile(io, target, temp);
    p.fd = await io.open(temp, 'create-exclusive');
    return p;
  }

  async close(): Promise<void> {
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      await this.io.close(fd);
    }
  }

  async publish(force: boolean): Promise<void> {
    await this.close();
    if (force) {
      await this.io.rename(this.temp, this.target);
    } else {
      // link() refuses to replace an existing file: no window in which a concurrent file is clobbered.
      try {
        await this.io.link(this.temp, this.target);
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'EEXIST') throw new WriterError(`'${this.target}' appeared meanwhile; use --force to overwrite it`, 'exists');
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw e;
        if (await this.io.stat(this.target)) throw new WriterError(`'${this.target}' appeared meanwhile; use --force to overwrite it`, 'exists');
        await this.io.rename(this.temp, this.target);
        this.published = true;
        return;
      }
      await this.io.unlink(this.temp);
    }
    this.published = true;
  }

  /** Removes whatever this file left behind (best effort; never throws). */
  async discard(): Promise<void> {
    try { await this.close(); } catch { /* already failing */ }
    try { await this.io.unlink(this.published ? this.target : this.temp); } catch { /* gone */ }
  }
}

class Progress {
  done = 0;
  constructor(readonly total: number, readonly opts: CreateImageOptions) {}
  add(n: number, phase: WriteProgress['phase']): void {
    this.done += n;
    this.opts.onProgress?.({ done: this.done, total: this.total, phase });
  }
}

let zeroBuf: Uint8Array | undefined;
function zeros(n: number): Uint8Array {
  if (!zeroBuf) zeroBuf = new Uint8Array(CHUNK);
  return zeroBuf.subarray(0, n);
}

async function writeZeros(io: WriterIO, fd: Fd, offset: number, length: number, progress: Progress, token?: CancellationToken): Promise<void> {
  // Two writes of the shared (read-only) zero buffer in flight keep the disk queue non-empty.
  let done = 0;
  let pending: Promise<void> | undefined;
  const flush = new BackgroundFlush(io, fd);
  try {
    while (done < length) {
      checkCancel(token);
      const n = Math.min(CHUNK, length - done);
      const w = io.pwrite(fd, zeros(n), offset + done).then(() => progress.add(n, 'data'));
      w.catch(() => undefined); // observed below; not an unhandled rejection meanwhile
      done += n;
      if (pending) await pending;
      pending = w;
      await flush.wrote(n, () => w);
    }
    if (pending) await pending;
    await flush.done();
  } catch (e) {
    if (pending) await pending.catch(() => undefined);
    await flush.settled();
    throw e;
  }
}

/** file-posix allocate_first_block: qemu writes the first block so that alignment probing is cheap. */
async function allocateFirstBlock(io: WriterIO, fd: Fd, length: number): Promise<void> {
  if (length <= 0) return;
  await io.pwrite(fd, zeros(length < 4096 ? 512 : 4096), 0);
}

/** file-posix raw_regular_truncate on a new, empty file. */
async function sizeFile(io: WriterIO, fd: Fd, length: number, mode: 'off' | 'falloc' | 'full', progress: Progress, token?: CancellationToken): Promise<void> {
  if (mode === 'off') {
    await truncate(io, fd, length);
    await allocateFirstBlock(io, fd, length);
  } else if (mode === 'falloc') {
    if (io.fallocate) {
      if (length > 0) await io.fallocate(fd, 0, length);
      progress.add(length, 'data');
    } else {
      await io.ftruncate(fd, length);
      await writeZeros(io, fd, 0, length, progress, token);
    }
    await allocateFirstBlock(io, fd, length);
  } else {
    await truncate(io, fd, length);
    await writeZeros(io, fd, 0, length, progress, token);
  }
}

/** ftruncate; a length the file system cannot hold gets bdrv_img_create's -EFBIG message. */
async function truncate(io: WriterIO, fd: Fd, length: number): Promise<void> {
  try {
    await io.ftruncate(fd, length);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'EFBIG' || code === 'ERR_OUT_OF_RANGE') throw new WriterError(QEMU_MESSAGES.tooLarge('raw', false), 'refused');
    throw e;
  }
}

/**
 * Writes the image a checked CreateSpec describes. Throws WriterError (exists, cancelled,
 * refused) or the I/O error; in every failure case nothing is left behind.
 */
export async function createImage(spec: CreateSpec, opts: CreateImageOptions): Promise<CreateResult> {
  const { io, token } = opts;
  checkCancel(token);
  const refusal = await preflight(spec, opts);
  if (refusal) throw new WriterError(refusal, refusal.includes('exists') ? 'exists' : 'refused');
  const path = resolve(opts.cwd, spec.filename);
  if (spec.format === 'raw') return createRaw(spec, path, opts);

  let plan: Qcow2Plan;
  try {
    plan = new Qcow2Plan({
      size: spec.size, clusterSize: spec.clusterSize, version: spec.version, refcountBits: spec.refcountBits,
      extendedL2: spec.extendedL2, lazyRefcounts: spec.lazyRefcounts, compressionType: spec.compressionType,
      preallocation: spec.preallocation, dataFile: spec.dataFile, dataFileRaw: spec.dataFileRaw,
      backingFile: spec.backingFile, backingFmt: spec.backingFmt,
      encryption: opts.encryption ? { cryptMethod: opts.encryption.cryptMethod, headerLength: opts.encryption.headerLength } : undefined,
    });
  } catch (e) {
    if (e instanceof Qcow2TooLarge) throw new WriterError(QEMU_MESSAGES.tooLarge('qcow2', true), 'refused');
    throw e;
  }
  if (plan.headerBytesNeeded() > plan.cs) {
    // qcow2_update_header returns -ENOSPC: the backing file name does not fit in the header cluster.
    throw new WriterError(`Could not assign backing file '${spec.backingFile}' with format '${spec.backingFmt ?? ''}': No space left on device`, 'refused');
  }
  const crypto = opts.encryption ? await opts.encryption.headerBytes() : undefined;
  checkCancel(token);

  const clusters = plan.metadataClusters();
  const dataBytes = plan.dataArea && plan.dataArea.mode === 'full' ? plan.dataArea.length : 0;
  const dataFileBytes = plan.dataFileTruncate && plan.dataFileTruncate.mode === 'full' ? plan.dataFileTruncate.length : 0;
  const progress = new Progress(clusters.length * plan.cs + plan.l1Size * 8 + dataBytes + dataFileBytes, opts);

  const files: PendingFile[] = [];
  try {
    let data: PendingFile | undefined;
    if (spec.dataFile !== undefined) {
      data = await PendingFile.create(io, dataFilePath(spec, opts.cwd));
      files.push(data);
      if (spec.nocow) await io.setNocow?.(data.fd!);
    }
    const image = await PendingFile.create(io, path);
    files.push(image);
    const fd = image.fd!;
    if (spec.nocow) await io.setNocow?.(fd);
    await io.ftruncate(fd, plan.fileLength);
    if (plan.dataArea?.mode === 'falloc' && io.fallocate) {
      await io.fallocate(fd, plan.dataArea.offset, plan.dataArea.length);
    }
    await writeMetadata(plan, io, fd, clusters, progress, token, crypto);
    if (plan.l1Size) {
      const per = META_CHUNK / 8;
      const buf = new Uint8Array(META_CHUNK);
      for (let first = 0; first < plan.l1Size; first += per) {
        checkCancel(token);
        const count = Math.min(per, plan.l1Size - first);
        plan.renderL1(first, count, buf);
        await io.pwrite(fd, buf.subarray(0, count * 8), plan.l1Cluster * plan.cs + first * 8);
        progress.add(count * 8, 'metadata');
      }
    }
    if (plan.dataArea && (plan.dataArea.mode === 'full' || !io.fallocate)) {
      await writeZeros(io, fd, plan.dataArea.offset, plan.dataArea.length, progress, token);
    }
    if (plan.tailZeros) {
      const t = plan.tailZeros;
      await io.pwrite(t.inDataFile ? data!.fd! : fd, zeros(t.length), t.offset);
    }
    if (data && plan.dataFileTruncate) {
      const d = plan.dataFileTruncate;
      if (plan.tailZeros?.inDataFile) {
        // The file is not empty any more: no first-block write (file-posix only does it from length 0).
        if (d.mode === 'full') await writeZeros(io, data.fd!, plan.tailZeros.offset + plan.tailZeros.length, d.length - plan.tailZeros.offset - plan.tailZeros.length, progress, token);
        else if (d.mode === 'falloc' && io.fallocate) await io.fallocate(data.fd!, 0, d.length);
        await io.ftruncate(data.fd!, d.length);
      } else {
        await sizeFile(io, data.fd!, d.length, d.mode, progress, token);
      }
    }
    checkCancel(token);
    opts.onProgress?.({ done: progress.done, total: progress.total, phase: 'sync' });
    for (const f of files) await io.fsync(f.fd!);
    checkCancel(token);
    if (data) await data.publish(!!opts.force);
    await image.publish(!!opts.force);
    return { path, dataFile: data?.target, fileSize: plan.fileLength };
  } catch (e) {
    for (const f of files.reverse()) await f.discard();
    throw e;
  }
}

/**
 * Metadata clusters, consecutive ones gathered into buffers of up to 1 MiB, with a few writes in
 * flight (the L2 tables of a preallocated image are scattered: one every cl² / 8 bytes).
 */
async function writeMetadata(plan: Qcow2Plan, io: WriterIO, fd: Fd, clusters: number[], progress: Progress, token: CancellationToken | undefined, crypto?: Uint8Array): Promise<void> {
  const per = Math.max(1, Math.floor(META_CHUNK / plan.cs));
  const slots = 4;
  const bufs: Uint8Array[] = [];
  const inflight: (Promise<void> | undefined)[] = new Array(slots);
  let next = 0;
  let i = 0;
  const flush = new BackgroundFlush(io, fd);
  try {
    while (i < clusters.length) {
      checkCancel(token);
      const slot = next++ % slots;
      if (inflight[slot]) await inflight[slot];
      const buf = bufs[slot] ?? (bufs[slot] = new Uint8Array(per * plan.cs));
      const first = clusters[i];
      let n = 0;
      while (i < clusters.length && n < per && clusters[i] === first + n) {
        plan.renderCluster(clusters[i], buf.subarray(n * plan.cs, (n + 1) * plan.cs), crypto);
        n++;
        i++;
      }
      const bytes = n * plan.cs;
      const w = io.pwrite(fd, buf.subarray(0, bytes), first * plan.cs).then(() => progress.add(bytes, 'metadata'));
      w.catch(() => undefined); // awaited later; keep it from counting as unhandled meanwhile
      inflight[slot] = w;
      await flush.wrote(bytes, () => Promise.all(inflight));
    }
    await Promise.all(inflight);
    await flush.done();
  } catch (e) {
    await Promise.allSettled(inflight); // never close the file under a write still running
    await flush.settled();
    throw e;
  }
}

async function createRaw(spec: CreateSpec, path: string, opts: CreateImageOptions): Promise<CreateResult> {
  const { io, token } = opts;
  const progress = new Progress(spec.preallocation === 'full' ? spec.size : 0, opts);
  const file = await PendingFile.create(io, path);
  try {
    if (spec.nocow) await io.setNocow?.(file.fd!);
    await sizeFile(io, file.fd!, spec.size, spec.preallocation === 'metadata' ? 'off' : spec.preallocation, progress, token);
    checkCancel(token);
    opts.onProgress?.({ done: progress.done, total: progress.total, phase: 'sync' });
    await io.fsync(file.fd!);
    checkCancel(token);
    await file.publish(!!opts.force);
    return { path, fileSize: spec.size };
  } catch (e) {
    await file.discard();
    throw e;
  }
}

export { ioError };
