// The one "volume XML → image" step with this machine's file I/O: the service's libvirt mapping
// (service/volumeCreate.ts), then the writer's one verdict and creation entry (writer/create.ts).
// The editor's Create Volume worker (lsp/createWorker.ts) and `create --pool` when the host cannot
// make the image itself (cli/createInPool.ts) both call it; it imports neither lsp/ nor cli/.
import { dirname } from 'node:path';
import { NEWEST_LIBVIRT } from '../../schemas/vocabulary';
import { pickLuksOptions } from '../../schemas/luksOptions';
import { readVolume, unwritableFormat, volumeCreation, WRITER_FORMATS } from './service/volumeCreate';
import { parseXml } from './service/xmlModel';
import { createImage, planCreate, type WriteProgress } from './writer/create';
import type { FilePermissions } from './writer/publish';
import { qcowAesEncryption, qcowLuksEncryption } from './writer/luks/qcowEncryption';
import { nodeProbeIO, nodeWriterIO } from './writer/nodeIO';

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
  const signal = hooks.signal;
  const passphrase = job.passphrase !== undefined ? new TextEncoder().encode(job.passphrase) : undefined;
  const io = nodeWriterIO();
  const cwd = dirname(job.output);
  const report = (p: WriteProgress): void => {
    const message = p.phase === 'derive' ? 'deriving the LUKS key' : p.phase === 'data' ? undefined : p.phase;
    hooks.progress(p.done, p.total, message);
  };
  try {
    // One verdict for every format (writer/create.ts planCreate), then the one creation entry.
    const planned = planCreate(m.args, nodeProbeIO(), cwd);
    const v = planned.verdict;
    if (!v.ok) throw new Error(v.message);
    // libvirt's own raw file is exactly the capacity long (qemu-img would round up to 512).
    if (m.length !== undefined && v.spec.format === 'raw') v.spec.size = Number(m.length);
    if (planned.refusal) throw new Error(planned.refusal);
    const opts = {
      io,
      cwd,
      force: job.force,
      signal,
      onProgress: report,
      permissions: job.permissions ?? m.permissions,
    };
    if (v.spec.format === 'luks') {
      if (!passphrase) throw new Error('an encrypted volume needs a passphrase');
      const options = { ...v.spec.options, ...(job.iterTimeMs ? { 'iter-time': job.iterTimeMs } : {}) };
      await createImage({ ...v.spec, options, passphrase }, opts);
      return { format: 'luks' };
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
      encryption = qcowLuksEncryption(o, passphrase, {
        signal,
        onProgress: (f) => report({ done: Math.round(f * 1000), total: 1000, phase: 'derive' }),
      });
    }
    await createImage(v.spec, { ...opts, encryption });
    return { format: v.spec.format };
  } finally {
    passphrase?.fill(0);
  }
}
