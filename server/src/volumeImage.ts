// The one "volume XML → image" step with this machine's file I/O: the service's libvirt mapping
// (service/volumeCreate.ts), then the writer's one verdict and creation entry (writer/create.ts).
// The editor's Create Volume worker (lsp/createWorker.ts) and `create --pool` when the host cannot
// make the image itself (cli/createInPool.ts) both call it; it imports neither lsp/ nor cli/.
import { mkdtempSync, rmSync, truncateSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { NEWEST_LIBVIRT, type PoolType } from '../../schemas/vocabulary';
import { pickLuksOptions } from '../../schemas/luksOptions';
import {
  inputVolume,
  readVolume,
  unwritableFormat,
  volumeCreation,
  volumeCreationFrom,
  WRITER_FORMATS,
  type VolumeFromCreation,
} from './service/volumeCreate';
import { parseXml } from './service/xmlModel';
import { createImage, planCreate, type ImageJob } from './writer/create';
import type { CreateArgs } from '../../schemas/qcow2Options';
import type { FilePermissions } from './writer/publish';
import { qcowAesEncryption, qcowLuksEncryption } from './writer/luks/qcowEncryption';
import { nodeProbeIO, nodeWriterIO } from './writer/nodeIO';
import { probeImage } from './writer/probe';
import { errorText, throwIfAborted, WriterError } from './writer/errors';
import { convertEncryption, convertImage, convertOutputSize } from './writer/convert';
import { openImage, type ImageReader } from './writer/reader/imageReader';
import { checkTarget } from './writer/publish';

export interface VolumeImageJob {
  /** The volume XML (already validated by the server: no errors). */
  xmlText: string;
  xmlPath?: string;
  /** Absolute image path. */
  output: string;
  force: boolean;
  /** Only for encrypted volumes; never logged, never written anywhere but into key derivation. */
  passphrase?: string;
  /** LUKS iter-time in ms (default: the writer's, qemu's 2000). */
  iterTimeMs?: number;
  /** Fixed PBKDF2 iteration counts instead of iter-time (the convert bench gives qemu-img's). */
  luksIterations?: { masterKey: number; slot: number };
  /** Decides libvirt's defaults (qcow2 compat). */
  libvirtVersion?: string;
  /** The user confirmed legacy qcow AES (only reachable for libvirt < 4.5.0 documents). */
  allowInsecureAes?: boolean;
  /** <permissions> of the new image (default mode 0600, libvirt's). */
  permissions?: FilePermissions;
  /** `virsh vol-create --prealloc-metadata`. */
  preallocMetadata?: boolean;
}

export interface WriterHooks {
  progress(done: number, total: number, message?: string): void;
  signal: AbortSignal;
}

/**
 * Maps the volume XML to qemu-img arguments as libvirt's storage driver does
 * (service/volumeCreate.ts), judges them like qemu-img (writer/create.ts planCreate) and writes the image:
 * raw LUKS through writer/luks/createLuks.ts, raw and qcow2 (LUKS inside included) through
 * writer/create.ts. All checks happen before the first byte.
 */
export async function writeVolumeImage(job: VolumeImageJob, hooks: WriterHooks): Promise<{ format: string }> {
  const m = volumeCreation(readVolume(parseXml(job.xmlText).root), {
    output: job.output,
    libvirtVersion: job.libvirtVersion || NEWEST_LIBVIRT,
    preallocMetadata: !!job.preallocMetadata,
  });
  if (m.refusal) throw new Error(m.refusal);
  if (!WRITER_FORMATS.includes(m.format)) throw new Error(unwritableFormat(m));
  const passphrase = job.passphrase !== undefined ? new TextEncoder().encode(job.passphrase) : undefined;
  try {
    const { spec, encryption, opts } = plannedImage(m.args, m.length, job, passphrase, hooks);
    await createImage(spec, { ...opts, encryption, permissions: job.permissions ?? m.permissions });
    return { format: spec.format };
  } finally {
    passphrase?.fill(0);
  }
}

/**
 * The writer's job for creation arguments (one verdict for every format: writer/create.ts
 * planCreate), its qcow2 encryption provider and the options createImage and convertImage take.
 * `rawLength`: libvirt's own raw file is exactly that long (qemu-img would round up to 512).
 */
function plannedImage(
  args: CreateArgs,
  rawLength: bigint | undefined,
  job: VolumeImageJob,
  passphrase: Uint8Array | undefined,
  hooks: WriterHooks,
  /** The converter encrypts the payload itself: a qcow2+LUKS provider keeps its sector cipher (convertEncryption). */
  converting = false,
) {
  const signal = hooks.signal;
  const cwd = dirname(job.output);
  const report = (p: { done: number; total: number; phase: string }): void => {
    const message = p.phase === 'derive' ? 'deriving the LUKS key' : p.phase === 'data' ? undefined : p.phase;
    hooks.progress(p.done, p.total, message);
  };
  const planned = planCreate(args, nodeProbeIO(), cwd);
  const v = planned.verdict;
  if (!v.ok) throw new Error(v.message);
  if (rawLength !== undefined && v.spec.format === 'raw') v.spec.size = Number(rawLength);
  if (planned.refusal) throw new Error(planned.refusal);
  const opts = { io: nodeWriterIO(), cwd, force: job.force, signal, onProgress: report };
  if (v.spec.format === 'luks') {
    if (!passphrase) throw new Error('an encrypted volume needs a passphrase');
    const options = { ...v.spec.options, ...(job.iterTimeMs ? { 'iter-time': job.iterTimeMs } : {}) };
    const iterations = job.luksIterations;
    return { spec: { ...v.spec, options, passphrase, iterations } as ImageJob, opts, encryption: undefined };
  }
  let encryption;
  if (v.spec.encrypt?.format === 'aes') {
    // libvirt before 4.5.0 made qcow AES from format qcow/default; nothing is derived or stored.
    encryption = qcowAesEncryption(!!job.allowInsecureAes);
  } else if (v.spec.encrypt) {
    if (!passphrase) throw new Error('an encrypted volume needs a passphrase');
    const given = v.spec.encrypt.options;
    const o = pickLuksOptions((k) => given[k]);
    if (job.iterTimeMs) o['iter-time'] = job.iterTimeMs;
    encryption = (converting ? convertEncryption : qcowLuksEncryption)(o, passphrase, {
      signal,
      iterations: job.luksIterations,
      onProgress: (f) => report({ done: Math.round(f * 1000), total: 1000, phase: 'derive' }),
    });
  }
  return { spec: v.spec as ImageJob, opts, encryption };
}

/** `create VOLUME.xml --from INPUT` / Create Volume from Image: the output XML and an input image. */
export interface VolumeFromJob extends VolumeImageJob {
  /** The input image (vol-create-from's input volume): raw, qcow2 (chains too) or LUKS. */
  from: string;
  /** The input's passphrase when it is encrypted; never logged. */
  fromPassphrase?: string;
  /** The pool the volume goes to (default dir): what libvirt does depends on it. */
  poolType?: PoolType;
}

/** Formats the image reader opens (writer/reader/imageReader.ts). */
const READER_FORMATS = ['raw', 'qcow2', 'luks'];

/**
 * vol-create-from's plan for this machine: the input probed as a pool's refresh sees it, libvirt's
 * runs (service/volumeCreate.ts volumeCreationFrom), and every refusal before a byte is written:
 * libvirt's, an input the reader cannot open, an output format the writer does not make, the input
 * named as output, a missing passphrase.
 */
export function planVolumeFrom(job: Omit<VolumeFromJob, 'force'>): VolumeFromCreation {
  const from = resolve(job.from);
  let facts;
  try {
    facts = probeImage(nodeProbeIO(), from);
  } catch (e) {
    throw new Error(`cannot open the input image ${job.from}: ${errorText(e)}`, { cause: e });
  }
  const m = volumeCreationFrom(readVolume(parseXml(job.xmlText).root), inputVolume(from, facts), {
    output: job.output,
    libvirtVersion: job.libvirtVersion || NEWEST_LIBVIRT,
    preallocMetadata: !!job.preallocMetadata,
    poolType: job.poolType,
  });
  if (m.refusal ?? m.notAFilePool) throw new Error(m.refusal ?? m.notAFilePool);
  if (!READER_FORMATS.includes(facts.format)) {
    throw new Error(`${job.from} is a ${facts.format} image; libvirt-volume reads ${READER_FORMATS.join(', ')} images`);
  }
  if (!WRITER_FORMATS.includes(m.format)) throw new Error(unwritableFormat(m.output));
  if (resolve(job.output) === from) throw new Error(`the output is the input image ${job.from}`);
  if (m.inputEncrypted && !job.fromPassphrase)
    throw new Error(`the input image ${job.from} is encrypted: it needs its passphrase`);
  if (m.output.encrypted && !m.output.legacyAes && !job.passphrase) {
    throw new Error('an encrypted volume needs a passphrase');
  }
  return m;
}

/**
 * Makes the volume vol-create-from would make, with the image reader and converter
 * (writer/convert.ts): the output's format, options and permissions are the vol-create mapping's,
 * its content the input's (holes kept). Where libvirt's output is larger than the input (its
 * capacity raised above the input's: a raw copy, or create + `convert -n`), the output is created
 * first at that size in a private folder next to it and converted into (-n), then published.
 */
export async function writeVolumeImageFrom(job: VolumeFromJob, hooks: WriterHooks): Promise<{ format: string }> {
  const plan = planVolumeFrom(job);
  const enc = new TextEncoder();
  const passphrase = job.passphrase !== undefined ? enc.encode(job.passphrase) : undefined;
  const fromPassphrase = job.fromPassphrase !== undefined ? enc.encode(job.fromPassphrase) : undefined;
  const io = nodeWriterIO();
  const from = resolve(job.from);
  const source = await openImage(from, {
    io,
    cwd: dirname(from),
    passphrase: fromPassphrase,
    signal: hooks.signal,
  });
  try {
    const inputSize = convertOutputSize(source);
    const out = plan.output;
    // libvirt's output size: the raw copy's capacity in bytes, qemu-img create's in KiB; a one-step
    // convert makes the input's size.
    const wanted =
      plan.tool === 'copy' ? Number(plan.size) : plan.runs.length > 1 ? Number(kib(out.args.size)) : inputSize;
    const permissions = job.permissions ?? out.permissions;
    // libvirt's raw copy allocates up front (fallocate): created allocated, then converted into.
    const allocated = plan.tool === 'copy' && plan.allocate !== undefined;
    if (!allocated && (wanted === inputSize || plan.runs.length === 1)) {
      const args = { ...out.args, size: String(inputSize) };
      const { spec, encryption, opts } = plannedImage(args, undefined, job, passphrase, hooks, true);
      await convertImage({ source, target: spec }, { ...opts, encryption, permissions });
      return { format: spec.format };
    }
    return await convertIntoLarger(plan, job, { source, passphrase, wanted, permissions }, hooks);
  } finally {
    await source.close();
    passphrase?.fill(0);
    fromPassphrase?.fill(0);
  }
}

/** `8192K` (qemu-img create's size as libvirt passes it) → bytes. */
const kib = (size: string | undefined): bigint =>
  size?.endsWith('K') ? BigInt(size.slice(0, -1)) * 1024n : BigInt(size ?? 0);

/**
 * libvirt's two steps for an output larger than its input: the image created at the
 * wanted size (`qemu-img create`, or the raw file libvirt truncates), then `convert -n` into it
 * (raw, LUKS, or qcow2 with LUKS inside or not).
 * libvirt's sparse raw copy (storage_util.c createRawFile: ftruncate to the capacity in bytes,
 * then the input file's bytes copied, zero blocks skipped) is a plain conversion here, whose
 * file is then cut or extended to the capacity: the reader pads a raw input to whole sectors as
 * qemu's block layer does, and the capacity is never below the input file's length, so only
 * that padding is cut, and an extension is a hole — a capacity that is no multiple of 512 gives
 * libvirt's length, not qemu-img's rounded one.
 * Both happen under a private folder in the output's folder; the finished image is then linked
 * to its name (renamed with force), and the folder removed whatever happens.
 */
async function convertIntoLarger(
  plan: VolumeFromCreation,
  job: VolumeFromJob,
  w: { source: ImageReader; passphrase?: Uint8Array; wanted: number; permissions?: FilePermissions },
  hooks: WriterHooks,
): Promise<{ format: string }> {
  const dir = mkdtempSync(join(dirname(job.output), '.libvirt-volume-from-'));
  try {
    const temp = join(dir, basename(job.output));
    const step = { ...job, output: temp, force: false };
    let made: string;
    if (plan.tool === 'copy' && plan.allocate === undefined) {
      const args = { ...plan.output.args, filename: temp, size: String(convertOutputSize(w.source)) };
      const { spec, opts } = plannedImage(args, undefined, step, w.passphrase, hooks, true);
      await convertImage({ source: w.source, target: spec }, { ...opts, permissions: w.permissions });
      truncateSync(temp, w.wanted);
      made = spec.format;
    } else {
      const args = { ...plan.output.args, filename: temp, size: String(w.wanted) };
      const { spec, encryption, opts } = plannedImage(args, BigInt(w.wanted), step, w.passphrase, hooks);
      await createImage(spec, { ...opts, encryption, permissions: w.permissions });
      const format = spec.format === 'luks' || spec.format === 'qcow2' ? spec.format : 'raw';
      await convertImage(
        { source: w.source, existing: { filename: temp, format, passphrase: w.passphrase } },
        { ...opts, permissions: w.permissions },
      );
      made = spec.format;
    }
    throwIfAborted(hooks.signal);
    const io = nodeWriterIO();
    if (job.force) {
      const refusal = await checkTarget(io, job.output, true, job.output);
      if (refusal) throw refusal;
      await io.rename(temp, job.output);
    } else {
      try {
        await io.link(temp, job.output);
      } catch (e) {
        if ((e as { code?: string }).code === 'EEXIST') {
          throw new WriterError(`'${job.output}' appeared meanwhile; use --force to overwrite it`, 'exists');
        }
        throw e;
      }
    }
    return { format: made };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
