// PBKDF2 (RFC 8018) through node:crypto, which runs the async form on libuv's thread pool: the
// event loop stays free for progress and cancellation while the key slot is derived.
// Iteration counts follow qemu's rule (crypto/block-luks.c): iterations per second measured for
// the output length, scaled to iter-time — but measured in ~30 ms instead of qemu's two fixed
// >500 ms CPU benchmarks, which is what makes qemu-img's default create take 4+ seconds.
import { pbkdf2, pbkdf2Sync, createHash } from 'node:crypto';
import { nodeHashName } from './ivgen';
import { cancelledError } from '../errors';

/**
 * Iterations per second of PBKDF2 producing one digest-sized block with `hash` on this machine.
 * qemu times its own thread's CPU (getrusage RUSAGE_THREAD); Node 20 only has the process's CPU,
 * which at start-up also counts V8's compiler and GC threads (measured: rates 35 % low). So each
 * ~10 ms run is timed by the smaller of wall and process CPU time — other threads inflate only
 * the CPU figure, preemption only the wall figure — and the median of three runs is taken (the
 * fastest one overestimated what a 2-second derivation sustains on a VM: +5 % measured).
 */
export function measureBlockRate(hash: string, budgetMs = 30): number {
  const h = nodeHashName(hash);
  const salt = Buffer.alloc(32, 7);
  const pw = Buffer.from('benchmark-passphrase');
  const dlen = createHash(h).digest().length;
  pbkdf2Sync(pw, salt, 1, dlen, h); // first call fetches the digest from OpenSSL's provider
  const chunkMs = budgetMs / 3;
  let iters = 1 << 12;
  const rates: number[] = [];
  let last = 0;
  for (let spent = 0; (spent < budgetMs || rates.length < 3) && spent < budgetMs * 10;) {
    const w0 = performance.now();
    const c0 = process.cpuUsage();
    pbkdf2Sync(pw, salt, iters, dlen, h);
    const c = process.cpuUsage(c0);
    const wall = performance.now() - w0;
    spent += wall;
    const ms = Math.max(Math.min(wall, (c.user + c.system) / 1000), 0.001);
    last = (iters * 1000) / ms;
    if (ms >= chunkMs / 2) rates.push(last);
    if (iters >= 1 << 26) break;
    iters = Math.max(1, Math.ceil((iters * chunkMs) / ms));
  }
  rates.sort((a, b) => a - b);
  return rates.length ? rates[Math.floor(rates.length / 2)] : last;
}

/** Iterations per second for an output of `outLen` bytes (PBKDF2 computes one chain per block). */
export function rateFor(hash: string, blockRate: number, outLen: number): number {
  const dlen = createHash(nodeHashName(hash)).digest().length;
  return blockRate / Math.ceil(outLen / dlen);
}

export function pbkdf2Async(
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
  keyLen: number,
  hash: string,
  signal?: AbortSignal,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError());
      return;
    }
    const onAbort = () => reject(abortError());
    signal?.addEventListener('abort', onAbort, { once: true });
    // A thread-pool job cannot be interrupted; on cancel we stop waiting and drop its result.
    pbkdf2(password, salt, iterations, keyLen, nodeHashName(hash), (err, key) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return;
      if (err) reject(err);
      else resolve(key);
    });
  });
}

/** A cancelled wait: the writer's one cancellation error (errors.ts). */
export const abortError = cancelledError;
