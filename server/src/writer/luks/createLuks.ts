// `-f luks`: a raw LUKS1 container as qemu-img 7.2 creates it (block/crypto.c
// block_crypto_co_create_generic): the file is sized payload_offset + size in one truncate with the
// requested preallocation, then the 592-byte header and slot 0's key material are written; the
// other key slot areas stay holes (qemu-made 16M image: 262144 bytes allocated).
// Every option is checked before a byte is written; the image is built in a temporary file in the
// target folder and published with link() (never replacing a file) or, with --force, rename();
// the temporary file is removed on error or cancel.
import { basename, dirname } from 'node:path';
import type { Fd, WriterIO } from '../io';
import { checkLuksOptions, LUKS1, type LuksOptionInput, type ResolvedLuksOptions } from '../../../../schemas/luksOptions';
import { buildLuksHeader, type LuksKeyDerivationReport } from './luksHeader';
import { abortError } from '../crypto/pbkdf';
import { BackgroundFlush } from '../backgroundFlush';
import { PREALLOCATION_MODES, type PreallocMode } from '../../../../schemas/qcow2Options';

// qemu's preallocation modes: the one list is schemas/qcow2Options.ts'.
export type Preallocation = PreallocMode;
export const PREALLOCATIONS: readonly Preallocation[] = PREALLOCATION_MODES;

export interface CreateLuksParams {
  path: string;
  /** Virtual size in bytes (qemu-img's size argument, already parsed). */
  size: number;
  options: LuksOptionInput;
  passphrase: Uint8Array;
  preallocation?: string;
  force?: boolean;
  signal?: AbortSignal;
  /** Polled cancellation flag (the LSP worker's shared flag; the qcow2 writer's token shape). */
  token?: { readonly isCancellationRequested: boolean };
  /** phase + fraction 0..1 of the whole job. */
  onProgress?: (fraction: number, phase: 'derive' | 'write') => void;
  io: WriterIO;
  /** Set the no-copy-on-write attribute on the new file (btrfs), like qemu's nocow=on. */
  nocow?: boolean;
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

/** An error whose message is qemu's (or ours where qemu has none); never contains the passphrase. */
export class WriterError extends Error {
  constructor(message: string, readonly option?: string) { super(message); this.name = 'WriterError'; }
}

/** qemu-img's `Formatting '…'` line for -f luks: options echoed as given, in qemu's order. */
export function luksFormattingLine(path: string, size: number, keySecret: string | undefined, o: LuksOptionInput,
  file?: string | { nocow?: string; preallocation?: string; extentSizeHint?: number }): string {
  const f = typeof file === 'string' ? { preallocation: file } : file ?? {};
  const parts = [`fmt=luks`, `size=${size}`];
  if (keySecret !== undefined) parts.push(`key-secret=${keySecret}`);
  for (const k of ['cipher-alg', 'cipher-mode', 'ivgen-alg', 'ivgen-hash-alg', 'hash-alg', 'iter-time'] as const) {
    if (o[k] !== undefined) parts.push(`${k}=${o[k]}`);
  }
  // Then the file protocol's options, in file-posix's order (measured: nocow, preallocation, extent_size_hint).
  if (f.nocow !== undefined) parts.push(`nocow=${f.nocow}`);
  if (f.preallocation !== undefined) parts.push(`preallocation=${f.preallocation}`);
  if (f.extentSizeHint !== undefined) parts.push(`extent_size_hint=${f.extentSizeHint}`);
  return `Formatting '${path}', ${parts.join(' ')}`;
}

const ZERO_CHUNK = 1 << 20;

export async function createLuksImage(params: CreateLuksParams): Promise<CreateLuksResult> {
  if (!params.token) return createLuksImageWithSignal(params);
  // Turn the polled flag into an AbortSignal so the key derivation wait is interrupted too.
  const ac = new AbortController();
  const outer = params.signal;
  const onOuter = () => ac.abort();
  outer?.addEventListener('abort', onOuter, { once: true });
  if (outer?.aborted) ac.abort();
  const poll = setInterval(() => { if (params.token!.isCancellationRequested) ac.abort(); }, 50);
  try {
    return await createLuksImageWithSignal({ ...params, signal: ac.signal });
  } finally {
    clearInterval(poll);
    outer?.removeEventListener('abort', onOuter);
  }
}

async function createLuksImageWithSignal(p: CreateLuksParams): Promise<CreateLuksResult> {
  const io = p.io;
  // 1. Every check before any byte (qemu's order: option parsing, then the LUKS rules).
  const prealloc = p.preallocation ?? 'off';
  if (!PREALLOCATIONS.includes(prealloc as Preallocation)) {
    throw new WriterError(`Parameter 'preallocation' does not accept value '${prealloc}'`, 'preallocation');
  }
  if (!Number.isSafeInteger(p.size) || p.size < 0) throw new WriterError(`Invalid image size specified. Must be between 0 and ${Number.MAX_SAFE_INTEGER}.`, 'size');
  const checked = checkLuksOptions(p.options);
  if (!checked.ok) throw new WriterError(checked.message, checked.option);
  if (!p.force && await io.stat(p.path)) {
    throw new WriterError(`${p.path} already exists (pass --force to overwrite it)`);
  }
  if (p.signal?.aborted) throw abortError();

  // 2. Key derivation (the long part) before touching the disk.
  const header = await buildLuksHeader({
    resolved: checked, passphrase: p.passphrase, signal: p.signal, iterations: p.iterations,
    onProgress: (f) => p.onProgress?.(f * 0.9, 'derive'),
  });

  // 3. Temporary file in the target folder, published by link (no replace) or rename (--force).
  const tmp = io.tempName(dirname(p.path), `.${basename(p.path)}.`);
  const fileSize = header.payloadOffsetBytes + p.size;
  let fd: Fd | undefined;
  let created = false;
  try {
    fd = await io.open(tmp, 'create-exclusive');
    created = true;
    if (p.nocow && io.setNocow) await io.setNocow(fd);
    if (prealloc === 'falloc' && io.fallocate) {
      await io.fallocate(fd, 0, fileSize);
    } else if (prealloc === 'full' || prealloc === 'falloc') {
      // qemu preallocates the whole file (header area included) before writing the header.
      const zeros = new Uint8Array(Math.min(ZERO_CHUNK, Math.max(fileSize, 1)));
      const flush = new BackgroundFlush(io, fd);
      try {
        for (let pos = 0; pos < fileSize; pos += zeros.length) {
          if (p.signal?.aborted) throw abortError();
          const n = Math.min(zeros.length, fileSize - pos);
          await io.pwrite(fd, zeros.subarray(0, n), pos);
          await flush.wrote(n, async () => undefined);
          p.onProgress?.(0.9 + 0.1 * (pos / fileSize), 'write');
        }
        await flush.done();
      } catch (err) {
        await flush.settled();
        throw err;
      }
    } else {
      await io.ftruncate(fd, fileSize);
    }
    if (p.signal?.aborted) throw abortError();
    await io.pwrite(fd, header.bytes.subarray(0, LUKS1.headerBytes), 0);
    const slot0 = checked.keySlotOffsets[0] * LUKS1.sectorSize;
    await io.pwrite(fd, header.bytes.subarray(slot0, slot0 + checked.keyBytes * LUKS1.stripes), slot0);
    await io.fsync(fd);
    await io.close(fd);
    fd = undefined;
    if (p.signal?.aborted) throw abortError();
    if (p.force) await io.rename(tmp, p.path);
    else {
      try { await io.link(tmp, p.path); } catch (err) {
        if ((err as { code?: string }).code === 'EEXIST') throw new WriterError(`${p.path} already exists (pass --force to overwrite it)`);
        throw err;
      }
      await io.unlink(tmp);
    }
    created = false;
  } catch (err) {
    if (fd !== undefined) await io.close(fd).catch(() => undefined);
    if (created) await io.unlink(tmp).catch(() => undefined);
    throw err;
  } finally {
    header.bytes.fill(0);
  }
  p.onProgress?.(1, 'write');
  return { path: p.path, uuid: header.uuid, resolved: checked, payloadOffsetBytes: header.payloadOffsetBytes, fileSize, report: header.report };
}
