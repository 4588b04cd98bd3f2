// Image headers for the language server without blocking its main thread. The header reader
// (writer/probe.ts) is synchronous; here it runs against a cache of reads, and each read it
// misses is done asynchronously (fs.promises, libuv's thread pool) before it runs again: a probe
// needs the size and at most three reads (first 64 KiB, first cluster, LUKS header), so at most
// five passes over bytes already in memory.
// Chosen over a worker thread by measurement (2 cores at load average 18): a worker loading the
// server bundle took 1.8–2 s to answer its first probe (an empty worker 0.2 s), then 0.35–0.45 ms
// a probe; through the thread pool a qcow2 probe takes ~2.4 ms of wall time and no start-up,
// against 0.3–0.5 ms of main-thread time for the synchronous reader.
// Non-regular files never reach open(2) (nodeIO.ts); a read that hangs anyway (a dead network
// file system) holds one pool thread: after PROBE_TIMEOUT_MS it is reported as
// "no facts", and while MAX_STUCK such reads are outstanding no new one starts, so the pool
// keeps threads for everything else.
import type { ImageFacts } from '../service/types';
import type { AsyncProbeIO, ProbeIO } from '../writer/io';
import { nodeAsyncProbeIO } from '../writer/nodeIO';
import { probeImage } from '../writer/probe';

/** How long one probe may take before it is given up (ms). */
export const PROBE_TIMEOUT_MS = 3000;
/** Timed-out probes that may still hold a pool thread (libuv has 4 by default). */
const MAX_STUCK = 2;

class Miss {
  constructor(
    readonly offset: number,
    readonly length: number,
  ) {}
}
const SIZE_MISS = new Miss(-1, 0);

/** probeImage through asynchronous I/O; undefined when the file cannot be read. */
export async function probeImageAsync(io: AsyncProbeIO, path: string): Promise<ImageFacts | undefined> {
  let stat: { size: number; allocated?: number } | undefined;
  const reads = new Map<string, Uint8Array>();
  const cached: ProbeIO = {
    size: () => {
      if (!stat) throw SIZE_MISS;
      return stat.size;
    },
    read: (_p, offset, length) => {
      const b = reads.get(`${offset}:${length}`);
      if (!b) throw new Miss(offset, length);
      return b;
    },
  };
  try {
    for (let pass = 0; pass < 8; pass++) {
      try {
        const facts: ImageFacts = probeImage(cached, path);
        // Allocation for the path hover's "disk size" (issue 7): st_blocks, which no header says.
        if (stat!.allocated !== undefined) facts.actualSize = stat!.allocated;
        return facts;
      } catch (e) {
        if (e === SIZE_MISS) stat = await io.stat(path);
        else if (e instanceof Miss) reads.set(`${e.offset}:${e.length}`, await io.read(path, e.offset, e.length));
        else throw e;
      }
    }
  } catch {
    /* missing, unreadable, not a regular file or block device: no facts */
  }
  return undefined;
}

interface Job {
  path: string;
  resolve(r: { facts?: ImageFacts; timedOut?: boolean }): void;
}

/** One probe at a time, each bounded in time. */
export class ImageProbes {
  private queue: Job[] = [];
  private busy = false;
  private stuck = 0;
  private disposed = false;

  constructor(
    private readonly log: (m: string) => void,
    private readonly io: AsyncProbeIO = nodeAsyncProbeIO(),
  ) {}

  /** The facts of `path`; none when unreadable, not an image file, or too slow (timedOut). */
  probe(path: string): Promise<{ facts?: ImageFacts; timedOut?: boolean }> {
    return new Promise((resolve) => {
      if (this.disposed) return resolve({});
      this.queue.push({ path, resolve });
      this.pump();
    });
  }

  dispose(): void {
    this.disposed = true;
    for (const j of this.queue.splice(0)) j.resolve({});
  }

  private pump(): void {
    if (this.busy || !this.queue.length) return;
    const job = this.queue.shift()!;
    if (this.stuck >= MAX_STUCK) {
      job.resolve({ timedOut: true });
      return this.pump();
    }
    this.busy = true;
    let done = false;
    const finish = (r: { facts?: ImageFacts; timedOut?: boolean }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.busy = false;
      job.resolve(r);
      this.pump();
    };
    const timer = setTimeout(() => {
      this.log(`image header read of ${job.path} took over ${PROBE_TIMEOUT_MS} ms; given up`);
      this.stuck++;
      finish({ timedOut: true });
    }, PROBE_TIMEOUT_MS);
    timer.unref();
    void probeImageAsync(this.io, job.path).then((facts) => {
      if (done) this.stuck--; // the late one let go of its thread
      finish({ facts });
    });
  }
}
