// The writer's one error type and its one cancellation check. Every refusal, cancellation and
// publish conflict of every creation path (raw, qcow2, raw LUKS, the files Create Volume writes)
// is a WriterError with a code; I/O failures pass through as Node's errno errors.
// Messages are qemu-img's where qemu has one, and never contain a passphrase.

export type WriterErrorCode =
  /** The target (or a data file) exists, or appeared while writing; only `force` replaces it. */
  | 'exists'
  /** The caller's AbortSignal fired; nothing was left behind. */
  | 'cancelled'
  /** An option or target this writer refuses before writing a byte. */
  | 'refused'
  /** An image the reader cannot trust: a table or offset outside the file, a bad header field. */
  | 'corrupt';

export class WriterError extends Error {
  constructor(
    message: string,
    readonly code: WriterErrorCode,
    readonly option?: string,
  ) {
    super(message);
    // A cancellation looks like the DOM's AbortError too, so `await` sites that only know
    // AbortSignal (key derivation, worker threads) recognise it.
    this.name = code === 'cancelled' ? 'AbortError' : 'WriterError';
  }
}

export function cancelledError(): WriterError {
  return new WriterError('cancelled', 'cancelled');
}

/** The one cancellation check: an aborted signal ends the job with a 'cancelled' WriterError. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelledError();
}

/** True for a cancellation from any layer (the writer's WriterError, an AbortError from a wait). */
export function isCancellation(e: unknown): boolean {
  return (e instanceof WriterError && e.code === 'cancelled') || (e as Error | undefined)?.name === 'AbortError';
}

/**
 * One line for an error: a WriterError's message as is; an errno error's code once — Node's own
 * messages already start with it ("ENOSPC: no space left on device, write"), injected or
 * child-process ones may not.
 */
export function errorText(e: unknown): string {
  if (e instanceof WriterError) return e.message;
  const err = e as NodeJS.ErrnoException | undefined;
  const message = err?.message ?? String(e);
  if (!err?.code || message.startsWith(`${err.code}:`) || message.startsWith(err.code + ' ')) return message;
  return `${err.code}: ${message}`;
}

/**
 * Cancellation check inside long loops whose writes complete synchronously (nodeIO writes small
 * buffers in place): every ~50 ms the loop yields to the event loop once, so that a signal
 * handler (CLI) or a `cancel` message (the editor's worker thread) can run and abort.
 */
export function cancellationPoint(): (signal: AbortSignal | undefined) => Promise<void> {
  let last = Date.now();
  return async (signal) => {
    throwIfAborted(signal);
    if (Date.now() - last < 50) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    last = Date.now();
    throwIfAborted(signal);
  };
}
