// Background flushing for the writer's big writes (qcow2 metadata, zero fill, LUKS preallocation).
import type { Fd, WriterIO } from './io';

/** Bytes written between background flushes. */
const EARLY_FLUSH_BYTES = 32 << 20;

/**
 * Flushes in the background while a big write goes on, as long as that pays. Without it every byte
 * reaches the page cache first and the final flush then waits for the disk to write all of it
 * (160 MiB of L2 tables for 1 TiB preallocated, 2 GiB of zeros): with it the disk works while the
 * next bytes are produced. But each flush is an fdatasync, i.e. a device cache flush as well, and
 * Node has no writeback-only call (sync_file_range, fadvise): where the disk makes those flushes
 * slow (strace of a 512 MiB create: 16 fdatasync against qemu-img's single fsync, 2.5-4x slower
 * on such a disk, bench/writer.bench.ts), the flushes cost more than the overlap saves.
 * So one flush runs at a time, and the first time the writer would have to wait for one (the disk
 * is not keeping up with the flushes) background flushing stops for the rest of this write: the
 * kernel's own writeback and the final flush do the rest, as with qemu-img. Raw 2 GiB
 * preallocation=full through the CLI, medians of 4-5 interleaved runs on a shared VM (seconds,
 * idle disk / with a competing `dd conv=fsync` loop): qemu-img 5.1 / 10.4, a flush every 32 MiB
 * 8.2 / 13.4, no background flush 1.9 / 7.9, this policy 4.8 / 3.8 (bench/writer.bench.ts §4).
 */
export class BackgroundFlush {
  private unflushed = 0;
  private flushing: Promise<void> | undefined;
  /** Set once a flush was still running when the next one was due. */
  private stopped = false;
  constructor(
    private readonly io: WriterIO,
    private readonly fd: Fd,
  ) {}

  /** After `bytes` more were handed to pwrite; `settle` waits for the writes in flight. */
  async wrote(bytes: number, settle: () => Promise<unknown>): Promise<void> {
    if (this.stopped) return;
    this.unflushed += bytes;
    if (this.unflushed < EARLY_FLUSH_BYTES) return;
    if (this.flushing) {
      this.stopped = true;
      return;
    }
    this.unflushed = 0;
    await settle();
    const f: Promise<void> = this.io.fsync(this.fd).then(() => {
      if (this.flushing === f) this.flushing = undefined;
    });
    f.catch(() => undefined); // awaited by done()
    this.flushing = f;
  }

  /** Waits for the flush in flight (rejects with its error). */
  async done(): Promise<void> {
    await this.flushing;
  }

  /** Waits for the flush in flight, ignoring its error (cleanup paths). */
  async settled(): Promise<void> {
    await this.flushing?.catch(() => undefined);
  }
}
