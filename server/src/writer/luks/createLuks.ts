// `-f luks`: a raw LUKS1 container as qemu-img 7.2 creates it (block/crypto.c
// block_crypto_co_create_generic): the file is sized payload_offset + size in one truncate with the
// requested preallocation, then the 592-byte header and slot 0's key material are written; the
// other key slot areas stay holes (qemu-made 16M image: 262144 bytes allocated).
// Every option is checked before a byte is written; the file goes through the writer's one publish
// protocol (publish.ts) and zero writer (zeroFill.ts); cancellation is the caller's AbortSignal.
import { dirname } from 'node:path';
import type { WriterIO } from '../io';
import {
  checkLuksOptions, LUKS_CRYPTO_OPTIONS, LUKS1, type LuksOptionInput, type ResolvedLuksOptions,
} from '../../../../schemas/luksOptions';
import { PREALLOCATION_MODES, type PreallocMode } from '../../../../schemas/qcow2Options';
import { buildLuksHeader, type LuksKeyDerivationReport } from './luksHeader';
import { throwIfAborted, WriterError } from '../errors';
import { checkTarget, PendingFile, type FilePermissions } from '../publish';
import { writeZeros } from '../zeroFill';

export { WriterError } from '../errors';

export interface CreateLuksParams {
  path: string;
  /** Virtual size in bytes (qemu-img's size argument, already parsed). */
  size: number;
  options: LuksOptionInput;
  passphrase: Uint8Array;
  preallocation?: string;
  force?: boolean;
  signal?: AbortSignal;
  /** phase + fraction 0..1 of the whole job. */
  onProgress?: (fraction: number, phase: 'derive' | 'write') => void;
  io: WriterIO;
  /** Set the no-copy-on-write attribute on the new file (btrfs), like qemu's nocow=on. */
  nocow?: boolean;
  /** Owner, group and mode of the new file (default mode 0600, libvirt's). */
  permissions?: FilePermissions;
  /** Tests: fixed PBKDF2 iteration counts. */
  iterations?: { masterKey: number; slot: number };
}

export interface CreateLuksResult {
  path: string;
  uuid: string;
  resolved: ResolvedLuksOptions;
  payloadOffsetBytes: number;
  fileSize: number;
  report: LuksKeyDerivationReport;
}

/** qemu-img's `Formatting '…'` line for -f luks: options echoed as given, in qemu's order. */
export function luksFormattingLine(path: string, size: number, keySecret: string | undefined, o: LuksOptionInput,
  file?: string | { nocow?: string; preallocation?: string; extentSizeHint?: number }): string {
  const f = typeof file === 'string' ? { preallocation: file } : file ?? {};
  const parts = [`fmt=luks`, `size=${size}`];
  if (keySecret !== undefined) parts.push(`key-secret=${keySecret}`);
  for (const k of LUKS_CRYPTO_OPTIONS) if (o[k] !== undefined) parts.push(`${k}=${o[k]}`);
  // Then the file protocol's options, in file-posix's order (measured: nocow, preallocation, extent_size_hint).
  if (f.nocow !== undefined) parts.push(`nocow=${f.nocow}`);
  if (f.preallocation !== undefined) parts.push(`preallocation=${f.preallocation}`);
  if (f.extentSizeHint !== undefined) parts.push(`extent_size_hint=${f.extentSizeHint}`);
  return `Formatting '${path}', ${parts.join(' ')}`;
}

export async function createLuksImage(p: CreateLuksParams): Promise<CreateLuksResult> {
  const io = p.io;
  // 1. Every check before any byte (qemu's order: option parsing, then the LUKS rules).
  const prealloc = p.preallocation ?? 'off';
  if (!(PREALLOCATION_MODES as readonly string[]).includes(prealloc)) {
    throw new WriterError(`Parameter 'preallocation' does not accept value '${prealloc}'`, 'refused', 'preallocation');
  }
  if (!Number.isSafeInteger(p.size) || p.size < 0) {
    throw new WriterError(`Invalid image size specified. Must be between 0 and ${Number.MAX_SAFE_INTEGER}.`, 'refused', 'size');
  }
  const checked = checkLuksOptions(p.options);
  if (!checked.ok) throw new WriterError(checked.message, 'refused', checked.option);
  const refusal = await checkTarget(io, p.path, !!p.force);
  if (refusal) throw refusal;
  if (!(await io.stat(dirname(p.path)))?.isDirectory) {
    throw new WriterError(`Could not create '${p.path}': No such file or directory`, 'refused');
  }
  throwIfAborted(p.signal);

  // 2. Key derivation (the long part) before touching the disk.
  const header = await buildLuksHeader({
    resolved: checked, passphrase: p.passphrase, signal: p.signal, iterations: p.iterations,
    onProgress: (f) => p.onProgress?.(f * 0.9, 'derive'),
  });

  // 3. The publish protocol: exclusive temporary file, permissions, link (or rename with force).
  const fileSize = header.payloadOffsetBytes + p.size;
  let file: PendingFile | undefined;
  try {
    throwIfAborted(p.signal);
    file = await PendingFile.create(io, p.path);
    const fd = file.fd;
    await file.applyPermissions(p.permissions);
    if (p.nocow && io.setNocow) await io.setNocow(fd);
    const mode = prealloc as PreallocMode;
    if (mode === 'falloc' && io.fallocate) {
      if (fileSize > 0) await io.fallocate(fd, 0, fileSize);
    } else if (mode === 'full' || mode === 'falloc') {
      // qemu preallocates the whole file (header area included) before writing the header.
      await io.ftruncate(fd, fileSize);
      let done = 0;
      await writeZeros(io, fd, 0, fileSize, (n) => {
        done += n;
        p.onProgress?.(0.9 + 0.1 * (done / fileSize), 'write');
      }, p.signal);
    } else {
      await io.ftruncate(fd, fileSize);
    }
    throwIfAborted(p.signal);
    await io.pwrite(fd, header.bytes.subarray(0, LUKS1.headerBytes), 0);
    const slot0 = checked.keySlotOffsets[0] * LUKS1.sectorSize;
    await io.pwrite(fd, header.bytes.subarray(slot0, slot0 + checked.keyBytes * LUKS1.stripes), slot0);
    await io.fsync(fd);
    throwIfAborted(p.signal);
    await file.publish(!!p.force);
  } catch (err) {
    await file?.discard();
    throw err;
  } finally {
    header.bytes.fill(0);
  }
  p.onProgress?.(1, 'write');
  return {
    path: p.path, uuid: header.uuid, resolved: checked, payloadOffsetBytes: header.payloadOffsetBytes, fileSize,
    report: header.report,
  };
}
