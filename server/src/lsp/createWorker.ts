// Worker-thread side of Create Volume: receives one job, runs the image writer, posts progress.
// Cancellation is the writer's one type, an AbortSignal, aborted by a `cancel` message from the
// main thread (which terminates the thread if the writer does not stop within its grace period).
import { parentPort } from 'node:worker_threads';
import { errorText, isCancellation } from '../writer/errors';
import { writeVolumeImage, writeVolumeImageFrom, type VolumeFromJob, type VolumeImageJob } from '../volumeImage';

/** The job the server posts to its worker: one volume image, or one made from an input image (volumeImage.ts). */
export type WorkerJob = VolumeImageJob | VolumeFromJob;

export type WorkerMessage = { type: 'start'; job: WorkerJob } | { type: 'cancel' };

export type WorkerReply =
  | { type: 'progress'; done: number; total: number; message?: string }
  | { type: 'done'; format: string }
  | { type: 'error'; message: string; cancelled?: boolean };

export function runCreateWorker(): void {
  const port = parentPort;
  if (!port) return;
  const ac = new AbortController();
  const reply = (r: WorkerReply) => port.postMessage(r);
  port.on('message', async (m: WorkerMessage) => {
    if (m.type === 'cancel') {
      ac.abort();
      return;
    }
    try {
      const progress = (done: number, total: number, message?: string) =>
        reply({ type: 'progress', done, total, message });
      const hooks = { progress, signal: ac.signal };
      const r = 'from' in m.job ? await writeVolumeImageFrom(m.job, hooks) : await writeVolumeImage(m.job, hooks);
      reply({ type: 'done', format: r.format });
    } catch (err) {
      // The message must not carry the passphrase: writer errors name options, never secret values.
      reply({ type: 'error', message: errorText(err), cancelled: ac.signal.aborted || isCancellation(err) });
    }
  });
}
