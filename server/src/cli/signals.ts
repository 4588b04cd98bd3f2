// SIGINT, SIGTERM and SIGHUP during a creation: abort the writer (it removes its temporary files)
// instead of dying with a hidden full-size temporary file left in the target folder. The exit
// status is the shell's 128 + signal number.
import { constants } from 'node:os';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface InterruptGuard {
  readonly signal: AbortSignal;
  /** 128 + the number of the signal received (130 for SIGINT), or undefined. */
  readonly exitCode: number | undefined;
  dispose(): void;
}

/** Aborts on the first of SIGINT/SIGTERM/SIGHUP (or when `outer` aborts) until disposed. */
export function guardInterrupts(outer?: AbortSignal): InterruptGuard {
  const ac = new AbortController();
  let exitCode: number | undefined;
  const handlers = SIGNALS.map((name) => {
    const h = (): void => {
      exitCode ??= 128 + constants.signals[name];
      ac.abort();
    };
    process.on(name, h);
    return [name, h] as const;
  });
  const onOuter = (): void => ac.abort();
  outer?.addEventListener('abort', onOuter, { once: true });
  if (outer?.aborted) ac.abort();
  return {
    signal: ac.signal,
    get exitCode() {
      return exitCode ?? (ac.signal.aborted ? 130 : undefined);
    },
    dispose() {
      for (const [name, h] of handlers) process.off(name, h);
      outer?.removeEventListener('abort', onOuter);
    },
  };
}
