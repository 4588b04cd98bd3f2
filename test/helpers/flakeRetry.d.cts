// Types of flakeRetry.cjs (the retry core shared with the session libvirtd's qemu-img wrapper).
export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** spawn error (e.g. ENOENT), if the command could not run at all */
  error?: string;
}
export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  timeout?: number;
  /** bound on runs (default FLAKE_TRIES) */
  tries?: number;
}
export type Retried<R> = R & { attempts: number };
export const FLAKE_MESSAGE: string;
export const FLAKE_TRIES: number;
export function isFlake(r: { status: number | null; stderr?: string }): boolean;
export function retrySync<R extends { status: number | null; stderr?: string }>(attempt: () => R, tries?: number): Retried<R>;
export function retryAsync<R extends { status: number | null; stderr?: string }>(attempt: () => Promise<R>, tries?: number): Promise<Retried<R>>;
export function runRetrying(cmd: string, args: readonly string[], opts?: RunOptions): Retried<RunResult>;
export function runRetryingAsync(cmd: string, args: readonly string[], opts?: RunOptions): Promise<Retried<RunResult>>;
export function wrapperMain(target: string, argv: readonly string[]): void;
