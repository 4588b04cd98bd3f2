// The image writer: raw and qcow2 exactly as qemu-img 7.2 writes them, through injected I/O.
//
// Safety (ARCHITECTURE.md invariant 6): every option is checked (schemas/qcow2Options.ts) and the
// whole layout planned before the first byte is written; the image (and an external data file)
// goes through the one publish protocol (publish.ts: exclusive temporary file, permissions,
// link/rename, removal on error or cancel). An existing target or data file is refused unless
// `force` (qemu-img silently truncates both); a non-regular one always.
// createImage is the one entry for every format: raw LUKS jobs are handed to luks/createLuks.ts.
//
// Paths: a relative image name is resolved against `cwd`. A relative backing file is resolved
// against the image's folder (as qemu does when it opens it). A relative data_file is resolved
// against the image's folder too — qemu 7.2 resolves it against the current directory at create
// and open time (measured), which breaks as soon as the image is used from elsewhere; the
// name is stored in the header as given either way, so qemu finds it when run from that folder.
import { dirname, isAbsolute, resolve } from 'node:path';
import {
  BLOCKDEV_DRIVERS,
  checkCreate,
  QEMU_MESSAGES,
  type BackingFacts,
  type CreateArgs,
  type CreateSpec,
  type CreateVerdict,
} from '../../../schemas/qcow2Options';
import { cancellationPoint, throwIfAborted, WriterError } from './errors';
import { ioError, type Fd, type ProbeIO, type WriterIO } from './io';
import {
  checkLuksCreate,
  createLuksImage,
  type CreateLuksParams,
  type CreateLuksResult,
  type LuksVerdict,
} from './luks/createLuks';
import { probeImage } from './probe';
import { checkTarget, PendingFile, type FilePermissions } from './publish';
import { planQcow2, Qcow2TooLarge, type Qcow2Layout } from './qcow2Layout';
import { Qcow2Renderer } from './qcow2Render';
import { writeZeros, zeros } from './zeroFill';

export { WriterError } from './errors';

export interface WriteProgress {
  /** Bytes written (or allocated) so far and in total (key derivation: thousandths). */
  done: number;
  total: number;
  phase: 'derive' | 'metadata' | 'data' | 'sync';
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
  /** The one cancellation type: an abort ends the job with WriterError 'cancelled', nothing left. */
  signal?: AbortSignal;
  encryption?: QcowEncryptionProvider;
  /** <permissions> of the new image (and data file): default mode 0600 as libvirt's. */
  permissions?: FilePermissions;
}

export interface CreateResult {
  path: string;
  dataFile?: string;
  /** Final file length. */
  fileSize: number;
}

const META_CHUNK = 256 * 1024;

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
export function backingFacts(
  probe: ProbeIO,
  cwd: string,
  imageName: string,
  backing: string,
  fmt: string | undefined,
): BackingFacts & { mismatch?: string } {
  const shown = backingPathAsQemuSees(imageName, backing);
  const path = resolve(cwd, shown);
  let facts;
  try {
    facts = probeImage(probe, path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why =
      code === 'ENOENT'
        ? 'No such file or directory'
        : code === 'EACCES'
          ? 'Permission denied'
          : code === 'EISDIR'
            ? 'Is a directory'
            : String((e as Error).message);
    if (fmt !== undefined && !isDriver(fmt)) return { error: `Unknown driver '${fmt}'` };
    return { error: `Could not open '${shown}': ${why}` };
  }
  if (fmt === undefined) return { detectedFormat: facts.format, length: facts.virtualSize };
  if (!isDriver(fmt)) return { error: `Unknown driver '${fmt}'` };
  if (fmt === 'qcow2' && facts.format !== 'qcow2') return { error: 'Image is not in qcow2 format' };
  if (fmt === 'luks' && facts.format !== 'luks') return { error: 'Volume is not in LUKS format' };
  const out: BackingFacts & { mismatch?: string } = {
    detectedFormat: facts.format,
    length: fmt === 'raw' ? facts.fileSize : facts.virtualSize,
  };
  if (KNOWN_MAGIC_FORMATS.has(fmt) && fmt !== facts.format) {
    out.mismatch =
      `Backing format '${fmt}' does not match '${shown}', whose header says ${facts.format}: use ` +
      `-F ${facts.format} (qemu-img would accept this and expose the ${facts.format} metadata as ` +
      `disk content)`;
  }
  return out;
}

/** qemu 7.2's BlockdevDriver names (the one list, schemas/qcow2Options.ts). */
function isDriver(fmt: string): boolean {
  return (BLOCKDEV_DRIVERS as readonly string[]).includes(fmt);
}

export interface PlannedCreate<V = CreateVerdict | LuksVerdict> {
  verdict: V;
  /** Set when this project refuses although qemu-img would accept (stricter checks). */
  refusal?: string;
}

/**
 * Judges a `qemu-img create` invocation like qemu-img 7.2 (same verdict, same message), then
 * applies this project's stricter checks. Reads only headers; writes nothing. The one place the
 * format decides the path: raw LUKS (`-f luks`) is judged by luks/createLuks.ts checkLuksCreate,
 * raw and qcow2 (LUKS inside included) by schemas/qcow2Options.ts checkCreate.
 */
export function planCreate(args: CreateArgs, probe: ProbeIO, cwd: string): PlannedCreate {
  if (args.format === 'luks') return { verdict: checkLuksCreate(args) };
  return planQemuCreate(args, probe, cwd);
}

/** planCreate for the formats schemas/qcow2Options.ts judges (raw, qcow2). */
export function planQemuCreate(args: CreateArgs, probe: ProbeIO, cwd: string): PlannedCreate<CreateVerdict> {
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

/**
 * Checks that need the file system but precede any write: targets that exist (publish.ts
 * checkTarget: non-regular ones always refused), a missing folder. `spec` needs only the file
 * names, so raw LUKS jobs are checked here too.
 */
export async function preflight(
  spec: Pick<CreateSpec, 'filename' | 'dataFile'>,
  opts: CreateImageOptions,
): Promise<WriterError | undefined> {
  const path = resolve(opts.cwd, spec.filename);
  const force = !!opts.force;
  const refusal = await checkTarget(opts.io, path, force);
  if (refusal) return refusal;
  const dir = await opts.io.stat(dirname(path));
  if (!dir?.isDirectory) {
    return new WriterError(`Could not create '${spec.filename}': No such file or directory`, 'refused');
  }
  if (spec.dataFile !== undefined) {
    const dpath = dataFilePath(spec, opts.cwd);
    const dst = await opts.io.stat(dpath);
    const label = `data file '${spec.dataFile}'`;
    if (dst && (!dst.isFile || dst.isDirectory)) return checkTarget(opts.io, dpath, true, label);
    if (dst && !force) {
      const why = 'exists and qemu-img would truncate it; use --force to overwrite it';
      return new WriterError(`the ${label} ${why}`, 'exists');
    }
    if (dpath === path) return new WriterError(`the ${label} cannot be the image itself`, 'refused');
    const ddir = await opts.io.stat(dirname(dpath));
    if (!ddir?.isDirectory) {
      return new WriterError(`Could not create '${spec.dataFile}': No such file or directory`, 'refused');
    }
  }
  return undefined;
}

export function dataFilePath(spec: Pick<CreateSpec, 'filename' | 'dataFile'>, cwd: string): string {
  const image = resolve(cwd, spec.filename);
  return isAbsolute(spec.dataFile!) ? spec.dataFile! : resolve(dirname(image), spec.dataFile!);
}

/** Bytes done of a create job, reported through its onProgress. */
export class Progress {
  done = 0;
  constructor(
    readonly total: number,
    readonly opts: CreateImageOptions,
  ) {}
  add(n: number, phase: WriteProgress['phase']): void {
    this.done += n;
    this.opts.onProgress?.({ done: this.done, total: this.total, phase });
  }
  bytes(phase: WriteProgress['phase']): (n: number) => void {
    return (n) => this.add(n, phase);
  }
}

/** file-posix allocate_first_block: qemu writes the first block so that alignment probing is cheap. */
async function allocateFirstBlock(io: WriterIO, fd: Fd, length: number): Promise<void> {
  if (length <= 0) return;
  await io.pwrite(fd, zeros(length < 4096 ? 512 : 4096), 0);
}

/** file-posix raw_regular_truncate on a new, empty file. */
export async function sizeFile(
  io: WriterIO,
  fd: Fd,
  length: number,
  mode: 'off' | 'falloc' | 'full',
  progress: Progress = new Progress(0, { io, cwd: '' }),
  signal?: AbortSignal,
): Promise<void> {
  if (mode === 'off') {
    await truncate(io, fd, length);
    await allocateFirstBlock(io, fd, length);
  } else if (mode === 'falloc') {
    if (io.fallocate) {
      if (length > 0) await io.fallocate(fd, 0, length);
      progress.add(length, 'data');
    } else {
      await io.ftruncate(fd, length);
      await writeZeros(io, fd, 0, length, progress.bytes('data'), signal);
    }
    await allocateFirstBlock(io, fd, length);
  } else {
    await truncate(io, fd, length);
    await writeZeros(io, fd, 0, length, progress.bytes('data'), signal);
  }
}

/** ftruncate; a length the file system cannot hold gets bdrv_img_create's -EFBIG message. */
async function truncate(io: WriterIO, fd: Fd, length: number): Promise<void> {
  try {
    await io.ftruncate(fd, length);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'EFBIG' || code === 'ERR_OUT_OF_RANGE')
      throw new WriterError(QEMU_MESSAGES.tooLarge('raw', false), 'refused');
    throw e;
  }
}

/** A raw LUKS container job (`-f luks`): the checked size, options and the passphrase. */
export interface LuksSpec extends Pick<
  CreateLuksParams,
  'size' | 'options' | 'passphrase' | 'preallocation' | 'nocow' | 'iterations'
> {
  format: 'luks';
  filename: string;
}

export type ImageJob = CreateSpec | LuksSpec;
export type ImageResult = CreateResult & { luks?: CreateLuksResult };

/**
 * The one creation entry (CLI `create`, `create -f luks`, the editor's worker, convert): writes
 * the image a checked job describes. Throws WriterError (exists, cancelled, refused) or the I/O
 * error; in every failure case nothing is left behind.
 */
export async function createImage(job: ImageJob, opts: CreateImageOptions): Promise<ImageResult> {
  const { io, signal } = opts;
  throwIfAborted(signal);
  const refusal = await preflight(job, opts);
  if (refusal) throw refusal;
  const path = resolve(opts.cwd, job.filename);
  if (job.format === 'luks') {
    const luks = await createLuksImage({
      ...job,
      path,
      io: opts.io,
      force: opts.force,
      signal,
      permissions: opts.permissions,
      onProgress: (f, phase) =>
        opts.onProgress?.({ done: Math.round(f * 1000), total: 1000, phase: phase === 'derive' ? 'derive' : 'data' }),
    });
    return { path, fileSize: luks.fileSize, luks };
  }
  const spec = job;
  if (spec.format === 'raw') return createRaw(spec, path, opts);

  const { plan, render } = planQcow2Job(spec, opts.encryption);
  const crypto = opts.encryption ? await opts.encryption.headerBytes() : undefined;
  throwIfAborted(signal);

  const dataBytes = plan.dataArea && plan.dataArea.mode === 'full' ? plan.dataArea.length : 0;
  const dataFileBytes =
    plan.dataFileTruncate && plan.dataFileTruncate.mode === 'full' ? plan.dataFileTruncate.length : 0;
  const metadata = render.metadataClusters().length * plan.cs + plan.l1Size * 8;
  const progress = new Progress(metadata + dataBytes + dataFileBytes, opts);

  const files: PendingFile[] = [];
  try {
    const { image, data } = await openQcow2Files(spec, path, opts, files);
    await writeQcow2Layout(plan, render, io, { image: image.fd, data: data?.fd }, { crypto, signal, progress });
    throwIfAborted(signal);
    opts.onProgress?.({ done: progress.done, total: progress.total, phase: 'sync' });
    for (const f of files) await io.fsync(f.fd);
    throwIfAborted(signal);
    if (data) await data.publish(!!opts.force);
    await image.publish(!!opts.force);
    return { path, dataFile: data?.target, fileSize: plan.fileLength };
  } catch (e) {
    for (const f of files.reverse()) await f.discard();
    throw e;
  }
}

/**
 * qemu's create layout of a qcow2 job (qcow2Layout.ts planQcow2) and its renderer, with qemu-img's
 * refusals: an image too large for the geometry, a backing file name that does not fit in the
 * header cluster. Used by createImage and by convert's preallocated outputs (one layout).
 */
export function planQcow2Job(
  spec: CreateSpec,
  encryption?: Pick<QcowEncryptionProvider, 'cryptMethod' | 'headerLength'>,
): { plan: Qcow2Layout; render: Qcow2Renderer } {
  let plan: Qcow2Layout;
  try {
    plan = planQcow2({
      size: spec.size,
      clusterSize: spec.clusterSize,
      version: spec.version,
      refcountBits: spec.refcountBits,
      extendedL2: spec.extendedL2,
      lazyRefcounts: spec.lazyRefcounts,
      compressionType: spec.compressionType,
      preallocation: spec.preallocation,
      dataFile: spec.dataFile,
      dataFileRaw: spec.dataFileRaw,
      backingFile: spec.backingFile,
      backingFmt: spec.backingFmt,
      encryption: encryption
        ? { cryptMethod: encryption.cryptMethod, headerLength: encryption.headerLength }
        : undefined,
    });
  } catch (e) {
    if (e instanceof Qcow2TooLarge) throw new WriterError(QEMU_MESSAGES.tooLarge('qcow2', true), 'refused');
    throw e;
  }
  const render = new Qcow2Renderer(plan);
  if (render.headerBytesNeeded() > plan.cs) {
    // qcow2_update_header returns -ENOSPC: the backing file name does not fit in the header cluster.
    throw new WriterError(
      `Could not assign backing file '${spec.backingFile}' with format ` +
        `'${spec.backingFmt ?? ''}': No space left on device`,
      'refused',
    );
  }
  return { plan, render };
}

/**
 * The temporary files of a qcow2 job (the data file first, as qemu creates it first), with the
 * volume's permissions and nocow; pushed onto `files` as they are made, for the caller to discard.
 */
export async function openQcow2Files(
  spec: CreateSpec,
  path: string,
  opts: Pick<CreateImageOptions, 'io' | 'cwd' | 'permissions'>,
  files: PendingFile[],
): Promise<{ image: PendingFile; data?: PendingFile }> {
  const { io } = opts;
  let data: PendingFile | undefined;
  if (spec.dataFile !== undefined) {
    data = await PendingFile.create(io, dataFilePath(spec, opts.cwd));
    files.push(data);
    await data.applyPermissions(opts.permissions);
    if (spec.nocow) await io.setNocow?.(data.fd);
  }
  const image = await PendingFile.create(io, path);
  files.push(image);
  await image.applyPermissions(opts.permissions);
  if (spec.nocow) await io.setNocow?.(image.fd);
  return { image, data };
}

/**
 * Writes a planned qcow2 into open (empty) files, as qemu-img create leaves it: metadata, L1
 * table, the data area's preallocation, the zeroed tail of the last cluster, the data file's
 * length and allocation. `deferData` (convert into an encrypted preallocated image): the data
 * area and data file are only sized, not allocated — every cluster that stays allocated is
 * written whole by the conversion, and the rest is freed (qemu allocates, then discards it).
 */
export async function writeQcow2Layout(
  plan: Qcow2Layout,
  render: Qcow2Renderer,
  io: WriterIO,
  fds: { image: Fd; data?: Fd },
  o: { crypto?: Uint8Array; signal?: AbortSignal; progress?: Progress; deferData?: boolean },
): Promise<void> {
  const { signal } = o;
  const fd = fds.image;
  const progress = o.progress ?? new Progress(0, { io, cwd: '' });
  const dataArea = o.deferData ? undefined : plan.dataArea;
  await io.ftruncate(fd, plan.fileLength);
  if (dataArea?.mode === 'falloc' && io.fallocate) await io.fallocate(fd, dataArea.offset, dataArea.length);
  await writeMetadata(plan, render, io, fd, render.metadataClusters(), progress, signal, o.crypto);
  if (plan.l1Size) {
    const checkpoint = cancellationPoint();
    const per = META_CHUNK / 8;
    const buf = new Uint8Array(META_CHUNK);
    for (let first = 0; first < plan.l1Size; first += per) {
      await checkpoint(signal);
      const count = Math.min(per, plan.l1Size - first);
      render.renderL1(first, count, buf);
      await io.pwrite(fd, buf.subarray(0, count * 8), plan.l1Cluster * plan.cs + first * 8);
      progress.add(count * 8, 'metadata');
    }
  }
  if (dataArea && (dataArea.mode === 'full' || !io.fallocate)) {
    await writeZeros(io, fd, dataArea.offset, dataArea.length, progress.bytes('data'), signal);
  }
  const data = fds.data;
  if (plan.tailZeros) {
    const t = plan.tailZeros;
    await io.pwrite(t.inDataFile ? data! : fd, zeros(t.length), t.offset);
  }
  if (data !== undefined && plan.dataFileTruncate) {
    const d = { ...plan.dataFileTruncate };
    if (o.deferData) d.mode = 'off';
    if (plan.tailZeros?.inDataFile) {
      // The file is not empty any more: no first-block write (file-posix only does it from length 0).
      const from = plan.tailZeros.offset + plan.tailZeros.length;
      if (d.mode === 'full') await writeZeros(io, data, from, d.length - from, progress.bytes('data'), signal);
      else if (d.mode === 'falloc' && io.fallocate) await io.fallocate(data, 0, d.length);
      await io.ftruncate(data, d.length);
    } else {
      await sizeFile(io, data, d.length, d.mode, progress, signal);
    }
  }
}

/**
 * Metadata clusters, consecutive ones gathered into buffers of up to 1 MiB, with a few writes in
 * flight (the L2 tables of a preallocated image are scattered: one every cl² / 8 bytes).
 */
async function writeMetadata(
  plan: Qcow2Layout,
  render: Qcow2Renderer,
  io: WriterIO,
  fd: Fd,
  clusters: number[],
  progress: Progress,
  signal: AbortSignal | undefined,
  crypto?: Uint8Array,
): Promise<void> {
  const per = Math.max(1, Math.floor(META_CHUNK / plan.cs));
  const slots = 4;
  const bufs: Uint8Array[] = [];
  const inflight: (Promise<void> | undefined)[] = new Array(slots);
  let next = 0;
  let i = 0;
  const checkpoint = cancellationPoint();
  try {
    while (i < clusters.length) {
      await checkpoint(signal);
      const slot = next++ % slots;
      if (inflight[slot]) await inflight[slot];
      const buf = bufs[slot] ?? (bufs[slot] = new Uint8Array(per * plan.cs));
      const first = clusters[i];
      let n = 0;
      while (i < clusters.length && n < per && clusters[i] === first + n) {
        render.renderCluster(clusters[i], buf.subarray(n * plan.cs, (n + 1) * plan.cs), crypto);
        n++;
        i++;
      }
      const bytes = n * plan.cs;
      const w = io.pwrite(fd, buf.subarray(0, bytes), first * plan.cs).then(() => progress.add(bytes, 'metadata'));
      w.catch(() => undefined); // awaited later; keep it from counting as unhandled meanwhile
      inflight[slot] = w;
    }
    await Promise.all(inflight);
  } catch (e) {
    await Promise.allSettled(inflight); // never close the file under a write still running
    throw e;
  }
}

async function createRaw(spec: CreateSpec, path: string, opts: CreateImageOptions): Promise<CreateResult> {
  const { io, signal } = opts;
  const progress = new Progress(spec.preallocation === 'full' ? spec.size : 0, opts);
  const file = await PendingFile.create(io, path);
  try {
    await file.applyPermissions(opts.permissions);
    if (spec.nocow) await io.setNocow?.(file.fd);
    const mode = spec.preallocation === 'metadata' ? 'off' : spec.preallocation;
    await sizeFile(io, file.fd, spec.size, mode, progress, signal);
    throwIfAborted(signal);
    opts.onProgress?.({ done: progress.done, total: progress.total, phase: 'sync' });
    await io.fsync(file.fd);
    throwIfAborted(signal);
    await file.publish(!!opts.force);
    return { path, fileSize: spec.size };
  } catch (e) {
    await file.discard();
    throw e;
  }
}

export { ioError };
