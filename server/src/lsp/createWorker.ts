// Worker-thread side of Create Volume: receives one job, runs the image writer, posts progress.
// Cancellation is a SharedArrayBuffer flag the main thread sets, so the writer sees it even while
// this thread is busy (no message round trip needed).
import { parentPort, workerData } from 'node:worker_threads';

export interface WorkerJob {
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
}

export type WorkerReply =
  | { type: 'progress'; done: number; total: number; message?: string }
  | { type: 'done'; format: string }
  | { type: 'error'; message: string; cancelled?: boolean };

export interface WriterHooks {
  progress(done: number, total: number, message?: string): void;
  token: { readonly isCancellationRequested: boolean };
}

/** Maps the volume XML to writer options and writes the image (filled in by the writer integration). */
export async function writeVolumeImage(_job: WorkerJob, _hooks: WriterHooks): Promise<{ format: string }> {
  throw new Error('the image writer is not available in this build');
}

export function runCreateWorker(): void {
  const port = parentPort;
  if (!port) return;
  const flag = (workerData as { cancelFlag: Int32Array }).cancelFlag;
  const token = { get isCancellationRequested() { return Atomics.load(flag, 0) === 1; } };
  port.once('message', async (m: { type: 'start'; job: WorkerJob }) => {
    const reply = (r: WorkerReply) => port.postMessage(r);
    try {
      const r = await writeVolumeImage(m.job, { progress: (done, total, message) => reply({ type: 'progress', done, total, message }), token });
      reply({ type: 'done', format: r.format });
    } catch (err) {
      // The message must not carry the passphrase: writer errors name options, never secret values.
      reply({ type: 'error', message: (err as Error)?.message ?? String(err), cancelled: token.isCancellationRequested });
    }
  });
}
