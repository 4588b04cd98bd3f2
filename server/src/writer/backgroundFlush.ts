// Background flushing for the writer's big writes (qcow2 metadata, zero fill, LUKS preallocation).
import type { Fd, WriterIO } from './io';

/** Bytes written between background flushes. */
const EARLY_FLUSH_BYTES = 32 << 20;

/**
 * Flushes in the background while a big write goes on. Without it every byte reaches the page
 * cache first and the final flush then waits for the disk to write all of it (160 MiB of L2
 * tables for 1 TiB preallocated, 2 GiB of zeros): with it the disk works while the next bytes are
 * produced. One flush at a time; when the disk falls behind, the writer waits for it.
 */
export class BackgroundFlush {
  private unflushed = 0;
  private flushing: Promise<void> | undefined;
  constructor(private readonly io: WriterIO, private readonly fd: Fd) {}

  /** After `bytes` more were handed to pwrite; `settle` waits for the writes in flight. */
  async wrote(bytes: number, settle: () => Promise<unknown>): Promise<void> {
    this.unflushed += bytes;
    if (this.unflushed < EARLY_FLUSH_BYTES) return;
    if (this.flushing) { await this.flushing; return; }
    this.unflushed = 0;
    await settle();
    const f: Promise<void> = this.io.fsync(this.fd).then(() => { if (this.flushing === f) this.flushing = undefined; });
    f.catch(() => undefined); // awaited by the next round or by done()
    this.flushing = f;
  }

  /** Waits for the flush in flight (rejects with its error). */
  async done(): Promise<void> { await this.flushing; }

  /** Waits for the flush in flight, ignoring its error (cleanup paths). */
  async settled(): Promise<void> { await this.flushing?.catch(() => undefined); }
}
