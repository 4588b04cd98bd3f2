// PBKDF2 (RFC 8018) through node:crypto, which runs the async form on libuv's thread pool: the
// event loop stays free for progress and cancellation while the key slot is derived.
// Iteration counts follow qemu's rule (crypto/block-luks.c): iterations per second measured for
// the output length, scaled to iter-time — but measured in ~30 ms instead of qemu's two fixed
// >500 ms CPU benchmarks, which is what makes qemu-img's default create take 4+ seconds.
import { pbkdf2, pbkdf2Sync, createHash } from 'node:crypto';
import { nodeHashName } from './ivgen';

/**
 * Iterations per second of PBKDF2 producing one digest-sized block with `hash` on this machine.
 * Timed in CPU time of this process (like qemu's getrusage-based qcrypto_pbkdf2_count_iters), so
 * a loaded machine does not make the count smaller than the iter-time asked for.
 */
export function measureBlockRate(hash: string, minMs = 30): number {
  const h = nodeHashName(hash);
  const salt = Buffer.alloc(32, 7);
  const pw = Buffer.from('benchmark-passphrase');
  const dlen = createHash(h).digest().length;
  let iters = 1 << 12;
  for (;;) {
    const c0 = process.cpuUsage();
    pbkdf2Sync(pw, salt, iters, dlen, h);
    const c = process.cpuUsage(c0);
    const ms = (c.user + c.system) / 1000;
    if (ms >= minMs || iters >= 1 << 26) return (iters * 1000) / Math.max(ms, 0.001);
    // Jump straight to ~1.1 × minMs from what this run showed (doubling would spend 2 × minMs).
    iters = ms < 0.5 ? iters * 16 : Math.ceil((iters * minMs * 1.1) / ms);
  }
}

/** Iterations per second for an output of `outLen` bytes (PBKDF2 computes one chain per block). */
export function rateFor(hash: string, blockRate: number, outLen: number): number {
  const dlen = createHash(nodeHashName(hash)).digest().length;
  return blockRate / Math.ceil(outLen / dlen);
}

export function pbkdf2Async(password: Uint8Array, salt: Uint8Array, iterations: number, keyLen: number, hash: string, signal?: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(abortError()); return; }
    const onAbort = () => reject(abortError());
    signal?.addEventListener('abort', onAbort, { once: true });
    // A thread-pool job cannot be interrupted; on cancel we stop waiting and drop its result.
    pbkdf2(password, salt, iterations, keyLen, nodeHashName(hash), (err, key) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return;
      if (err) reject(err); else resolve(key);
    });
  });
}

export function abortError(): Error {
  const e = new Error('cancelled');
  e.name = 'AbortError';
  return e;
}
