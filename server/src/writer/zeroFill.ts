// The one zero writer (full preallocation, falloc without fallocate, raw LUKS payloads): chunks of
// a shared read-only zero buffer, two writes in flight so the disk queue never drains, flushed
// in the background (backgroundFlush.ts), cancellable between chunks.
import { BackgroundFlush } from './backgroundFlush';
import { throwIfAborted } from './errors';
import type { Fd, WriterIO } from './io';

/** Write size: large enough for full disk bandwidth, small enough for a < 64 MB process. */
export const ZERO_CHUNK = 2 * 1024 * 1024;

let zeroBuf: Uint8Array | undefined;

/** `n` ≤ ZERO_CHUNK zero bytes (a view of one shared buffer: never write into it). */
export function zeros(n: number): Uint8Array {
  if (!zeroBuf) zeroBuf = new Uint8Array(ZERO_CHUNK);
  return zeroBuf.subarray(0, n);
}

/** Writes `length` zero bytes at `offset`; `onBytes` after each chunk lands. */
export async function writeZeros(
  io: WriterIO,
  fd: Fd,
  offset: number,
  length: number,
  onBytes: (n: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  let done = 0;
  let pending: Promise<void> | undefined;
  const flush = new BackgroundFlush(io, fd);
  try {
    while (done < length) {
      throwIfAborted(signal);
      const n = Math.min(ZERO_CHUNK, length - done);
      const w = io.pwrite(fd, zeros(n), offset + done).then(() => onBytes(n));
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
