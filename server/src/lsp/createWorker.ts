// Worker-thread side of Create Volume: receives one job, runs the image writer, posts progress.
// Cancellation is a SharedArrayBuffer flag the main thread sets, so the writer sees it even while
// this thread is busy (no message round trip needed).
import { dirname } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { NEWEST_LIBVIRT } from '../../../schemas/vocabulary';
import type { LuksOptionInput } from '../../../schemas/luksOptions';
import { parseSize } from '../writer/qemuArgs';
import { readVolume, unwritableFormat, volumeCreation, WRITER_FORMATS } from '../service/volumeCreate';
import { parseXml } from '../service/xmlModel';
import { createImage, planCreate } from '../writer/create';
import { createLuksImage } from '../writer/luks/createLuks';
import { qcowAesEncryption, qcowLuksEncryption } from '../writer/luks/qcowEncryption';
import { nodeProbeIO, nodeWriterIO } from '../writer/nodeIO';

export interface WorkerJob {
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
  /** Decides libvirt's defaults (qcow2 compat). */
  libvirtVersion?: string;
  /** The user confirmed legacy qcow AES (only reachable for libvirt < 4.5.0 documents). */
  allowInsecureAes?: boolean;
  /** `virsh vol-create --prealloc-metadata`. */
  preallocMetadata?: boolean;
}

export type WorkerReply =
  | { type: 'progress'; done: number; total: number; message?: string }
  | { type: 'done'; format: string }
  | { type: 'error'; message: string; cancelled?: boolean };

export interface WriterHooks {
  progress(done: number, total: number, message?: string): void;
  token: { readonly isCancellationRequested: boolean };
}

/**
 * Maps the volume XML to qemu-img arguments as libvirt's storage driver does
 * (service/volumeCreate.ts), judges them like qemu-img (writer/create.ts planCreate) and writes the image:
 * raw LUKS through writer/luks/createLuks.ts, raw and qcow2 (LUKS inside included) through
 * writer/create.ts. All checks happen before the first byte.
 */
export async function writeVolumeImage(job: WorkerJob, hooks: WriterHooks): Promise<{ format: string }> {
  const m = volumeCreation(readVolume(parseXml(job.xmlText).root), {
    output: job.output, libvirtVersion: job.libvirtVersion || NEWEST_LIBVIRT, preallocMetadata: !!job.preallocMetadata,
  });
  if (m.refusal) throw new Error(m.refusal);
  if (!WRITER_FORMATS.includes(m.format)) throw new Error(unwritableFormat(m));
  const ac = new AbortController();
  const poll = setInterval(() => { if (hooks.token.isCancellationRequested) ac.abort(); }, 50);
  const passphrase = job.passphrase !== undefined ? new TextEncoder().encode(job.passphrase) : undefined;
  try {
    if (m.args.format === 'luks') {
      const size = parseSize(m.args.size ?? '');
      if (size === undefined) throw new Error(`invalid size ${m.args.size}`);
      if (!passphrase) throw new Error('an encrypted volume needs a passphrase');
      // The mapping's typed LUKS values: libvirt passes no preallocation for raw LUKS.
      const o: LuksOptionInput = { ...m.luks };
      if (job.iterTimeMs) o['iter-time'] = job.iterTimeMs;
      await createLuksImage({
        path: job.output, size, options: o, passphrase, force: job.force, signal: ac.signal, io: nodeWriterIO(),
        onProgress: (f, phase) => hooks.progress(Math.round(f * 1000), 1000, phase === 'derive' ? 'deriving the LUKS key' : 'writing'),
      });
      return { format: 'luks' };
    }
    const planned = planCreate(m.args, nodeProbeIO(), dirname(job.output));
    const v = planned.verdict;
    if (!v.ok) throw new Error(v.message);
    // libvirt's own raw file is exactly the capacity long (qemu-img would round up to 512).
    if (m.length !== undefined && v.spec.format === 'raw') v.spec.size = Number(m.length);
    if (planned.refusal) throw new Error(planned.refusal);
    let encryption;
    if (v.spec.encrypt?.format === 'aes') {
      // libvirt before 4.5.0 made qcow AES from format qcow/default; nothing is derived or stored.
      encryption = qcowAesEncryption(!!job.allowInsecureAes);
    } else if (v.spec.encrypt) {
      if (!passphrase) throw new Error('an encrypted volume needs a passphrase');
      const { 'key-secret': _k, ...luksOpts } = v.spec.encrypt.options as Record<string, string>;
      const o = luksOpts as LuksOptionInput;
      if (job.iterTimeMs) o['iter-time'] = job.iterTimeMs;
      encryption = qcowLuksEncryption(o, passphrase, { signal: ac.signal, onProgress: (f) => hooks.progress(Math.round(f * 1000), 1000, 'deriving the LUKS key') });
    }
    await createImage(v.spec, {
      io: nodeWriterIO(), cwd: dirname(job.output), force: job.force, token: hooks.token, encryption,
      onProgress: (p) => hooks.progress(p.done, p.total, p.phase === 'data' ? undefined : p.phase),
    });
    return { format: v.spec.format };
  } finally {
    clearInterval(poll);
    passphrase?.fill(0);
  }
}

export function runCreateWorker(): void {
  const port = parentPort;
  if (!port) return;
  const flag = (workerData as { cancelFlag: Int32Array }).cancelFlag;
  const token = { get isCancellationRequested() { return Atomics.load(flag, 0) === 1; } };
  port.once('message', async (m: { type: 'start'; job: WorkerJob }) => {
    const reply = (r: WorkerReply) => port.postMessage(r);
    try {
      const r = await writeVolumeImage(m.job, { progress: (done, total, message) => reply({ type: 'progress', done, total, message }), token });
      reply({ type: 'done', format: r.format });
    } catch (err) {
      // The message must not carry the passphrase: writer errors name options, never secret values.
      const e = err as Error & { code?: string };
      const cancelled = token.isCancellationRequested || e?.name === 'AbortError' || e?.code === 'cancelled';
      reply({ type: 'error', message: e?.message ?? String(err), cancelled });
    }
  });
}
