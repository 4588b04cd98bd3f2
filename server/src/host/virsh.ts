// libvirt through `virsh -c URI` child processes (libvirt-clients): every transport and
// authentication libvirt supports, nothing native in the extension. Each call has a deadline, is
// cancellable (AbortSignal) and runs with a minimal environment, so nothing of ours (a passphrase
// in an environment variable, say) reaches a child. Input that must stay off command lines (XML,
// a passphrase) goes through the child's stdin as `/dev/stdin`, which virsh reads like any file
// (tools/virsh-secret.c cmdSecretSetValue and virsh-volume.c cmdVolCreate use virFileReadAll).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** A libvirt connection: the URI virsh is given with -c. */
export interface HostConnection {
  uri: string;
  /** virsh executable (tests, or a non-standard install); default `virsh` on PATH. */
  virsh?: string;
}

export type HostErrorCode = 'no-virsh' | 'timeout' | 'cancelled' | 'libvirt' | 'refused';

export class HostError extends Error {
  constructor(
    readonly code: HostErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** An unreachable host must be an error within 10 s (issue 11). */
export const QUERY_TIMEOUT_MS = 10_000;
/** vol-create (full preallocation) and vol-upload move whole images: a long deadline, plus keepalive. */
export const TRANSFER_TIMEOUT_MS = 6 * 3600_000;
/**
 * virsh's keepalive (-k interval, -K count): a remote daemon that stops answering during a long
 * call is declared dead after about 3 × 2 s (virsh.c, virConnectSetKeepAlive). Local connections
 * ignore it.
 */
const KEEPALIVE = ['-k', '3', '-K', '2'];

/**
 * Variables virsh needs to find and authenticate to a daemon: the session socket lives under
 * XDG_RUNTIME_DIR, auth.conf and known_hosts under HOME/XDG_CONFIG_HOME, ssh uses its agent.
 * Everything else (LIBVIRT_DEFAULT_URI included: the URI is always passed) stays behind.
 */
const ENV_KEEP = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'XDG_RUNTIME_DIR',
  'XDG_CONFIG_HOME',
  'XDG_CACHE_HOME',
  'SSH_AUTH_SOCK',
  'LIBVIRT_AUTH_FILE',
];

export function minimalEnv(from: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { LC_ALL: 'C' };
  for (const k of ENV_KEEP) if (from[k] !== undefined) env[k] = from[k];
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  return env;
}

/**
 * virsh's error text without its generic headline ("error: Failed to create vol from F",
 * "error: failed to get pool 'x'"): the detail lines libvirt's driver wrote.
 */
export function libvirtMessage(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const detail = lines.filter((l) => !/^error: (Failed|failed) to /.test(l));
  return (detail.length ? detail : lines).map((l) => l.replace(/^error: /, '')).join('; ');
}

export interface VirshCall {
  /** Bytes or text written to virsh's stdin (read by it as /dev/stdin), then stdin is closed. */
  stdin?: Uint8Array | string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * LC_ALL=C.UTF-8 instead of C: virsh's tables (vshTableSafeEncode in tools/vsh-table.c) print a
   * name that is not ASCII as `\xNN` escapes in the C locale, losing it; messages stay English.
   */
  utf8?: boolean;
}

export interface VirshResult {
  stdout: string;
  stderr: string;
}

const noVirsh = (conn: HostConnection): HostError =>
  new HostError('no-virsh', `${conn.virsh ?? 'virsh'} not found: install the Debian package libvirt-clients`);

/** Runs `virsh -c URI ARGS…`; resolves on exit 0, rejects with a HostError otherwise. */
export function virsh(conn: HostConnection, args: string[], call: VirshCall = {}): Promise<VirshResult> {
  const timeoutMs = call.timeoutMs ?? QUERY_TIMEOUT_MS;
  const what = `virsh ${args[0]}`;
  return new Promise((resolve, reject) => {
    if (call.signal?.aborted) {
      reject(new HostError('cancelled', `${what}: cancelled`));
      return;
    }
    // The test driver (test:///…) runs inside virsh and refuses keepalive (virConnectSetKeepAlive).
    const argv = ['-c', conn.uri, ...(/^test:/.test(conn.uri) ? [] : KEEPALIVE), ...args];
    const env = call.utf8 ? { ...minimalEnv(), LC_ALL: 'C.UTF-8' } : minimalEnv();
    // Node's 'pipe' is a socket pair, which open("/dev/stdin") refuses (ENXIO): with input, `cat`
    // copies it into a real pipe(2) the shell makes for virsh. Nothing but the pipe carries it.
    // Own process group (detached), so a timeout or cancel kills the whole pipeline.
    const child =
      call.stdin === undefined
        ? spawn(conn.virsh ?? 'virsh', argv, { env, stdio: ['pipe', 'pipe', 'pipe'] })
        : spawn('/bin/sh', ['-c', 'cat | "$0" "$@"', conn.virsh ?? 'virsh', ...argv], {
            env,
            stdio: ['pipe', 'pipe', 'pipe'],
            detached: true,
          });
    const kill = (): void => {
      try {
        if (call.stdin !== undefined && child.pid) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let failure: HostError | undefined;
    const stop = (e: HostError): void => {
      failure ??= e;
      kill();
    };
    const timer = setTimeout(
      () =>
        stop(new HostError('timeout', `${what}: no answer from ${conn.uri} within ${Math.round(timeoutMs / 1000)} s`)),
      timeoutMs,
    );
    const onAbort = (): void => stop(new HostError('cancelled', `${what}: cancelled`));
    call.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    // virsh may exit before reading all of stdin (a refused call): that EPIPE is no error of ours.
    child.stdin.on('error', () => undefined);
    child.stdin.end(call.stdin ?? '');
    const done = (): void => {
      clearTimeout(timer);
      call.signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      done();
      reject(e.code === 'ENOENT' ? noVirsh(conn) : new HostError('libvirt', `${what}: ${e.message}`));
    });
    child.on('close', (code) => {
      done();
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (failure) reject(failure);
      else if (code === 127 && /not found/.test(stderr)) {
        reject(noVirsh(conn));
      } else if (code === 0) resolve({ stdout, stderr });
      else reject(new HostError('libvirt', libvirtMessage(stderr) || `${what} exited with status ${code}`));
    });
  });
}

/**
 * Runs many commands in one virsh process (virsh's own command-string syntax, tools/vsh.c
 * vshCommandStringParse): one connection — one ssh login remotely — instead of one per command.
 * Every command is followed by `echo MARK` (a fresh random marker), so the output splits back per
 * command; virsh's exit status is the last command's, an echo, so one failing command (an object
 * removed meanwhile) does not fail the run: its section is empty and its message is in stderr.
 */
export async function virshBatch(
  conn: HostConnection,
  commands: string[][],
  call: Omit<VirshCall, 'stdin'> = {},
): Promise<{ stdout: string[]; stderr: string }> {
  if (!commands.length) return { stdout: [], stderr: '' };
  const mark = `@@lv-${randomBytes(6).toString('hex')}@@`;
  const script = commands.map((c) => `${c.map(virshQuote).join(' ')}; echo ${mark}`).join('; ');
  let r: VirshResult;
  try {
    r = await virsh(conn, [script], call);
  } catch (e) {
    // virsh() names the call by its first argument: here the whole script, not worth a log line.
    if (e instanceof HostError) throw new HostError(e.code, e.message.split(script).join(`${commands[0][0]} …`));
    throw e;
  }
  const parts = r.stdout.split(`${mark}\n`);
  return { stdout: commands.map((_, i) => parts[i] ?? ''), stderr: r.stderr };
}

/**
 * The connection to use: `--connect` / the command argument, else LIBVIRT_DEFAULT_URI (as virsh
 * itself), else the `libvirtVolume.connection` setting; undefined = offline.
 */
export function resolveConnection(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv,
  setting?: string,
): string | undefined {
  for (const v of [explicit, env.LIBVIRT_DEFAULT_URI, setting]) if (v && v.trim()) return v.trim();
  return undefined;
}

/**
 * The server's connection for a host command the user asked for (listPools, createVolume with a
 * pool): the command's argument, else the `libvirtVolume.connection` setting (this workspace's
 * choice beats an inherited default, as `-c` beats it for virsh), else the server process'
 * LIBVIRT_DEFAULT_URI (the editor was started where virsh would use it). Diagnostics and other
 * background work use the setting alone: with no setting the editor stays offline.
 */
export function commandConnection(
  explicit: string | undefined,
  setting: string | undefined,
  env: NodeJS.ProcessEnv,
): string | undefined {
  return resolveConnection(explicit, {}, setting) ?? resolveConnection(undefined, env);
}

/**
 * One argument as virsh's command-string parser reads it (vsh.c vshCommandStringGetArg: sh-like
 * quotes), for virshBatch's command strings and virshSteps' interactive lines alike.
 */
export function virshQuote(arg: string): string {
  if (/[\n\r\0]/.test(arg))
    throw new HostError('refused', `virsh cannot take ${JSON.stringify(arg)} in a command line`);
  return /^[\w/.:@%+=,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export interface VirshStep {
  args: string[];
  timeoutMs?: number;
}

/** A failed step of virshSteps: which one, and libvirt's message. */
export class HostStepError extends HostError {
  constructor(
    readonly step: number,
    message: string,
  ) {
    super('libvirt', message);
  }
}

/**
 * Several commands over one connection (one ssh login for a remote host, instead of one per
 * command): virsh's interactive mode reads them from our pipe, one at a time. After each,
 * `echo --err MARK` puts a mark on stderr (virsh.c cmdEcho), so that what virsh reported before
 * the mark is that command's errors; the next command is sent only when it reported none.
 * `onStep(i)` is called as step i starts. Deadlines are per step; the signal kills virsh.
 */
export function virshSteps(
  conn: HostConnection,
  steps: VirshStep[],
  call: { signal?: AbortSignal; onStep?(i: number): void } = {},
): Promise<void> {
  const lines = steps.map((s) => s.args.map(virshQuote).join(' '));
  const mark = `lv-step-${process.pid}-${Date.now().toString(36)}`;
  return new Promise((resolve, reject) => {
    if (call.signal?.aborted) {
      reject(new HostError('cancelled', `virsh ${steps[0]?.args[0]}: cancelled`));
      return;
    }
    const child = spawn(conn.virsh ?? 'virsh', ['-q', '-c', conn.uri, ...KEEPALIVE], {
      env: minimalEnv(),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let step = -1;
    let err = '';
    let failure: HostError | undefined;
    let timer: NodeJS.Timeout | undefined;
    const stop = (e: HostError): void => {
      failure ??= e;
      child.kill('SIGKILL');
    };
    const what = (i: number): string => `virsh ${steps[i].args[0]}`;
    const next = (): void => {
      clearTimeout(timer);
      step++;
      if (step === steps.length) {
        child.stdin.end('quit\n');
        return;
      }
      const ms = steps[step].timeoutMs ?? QUERY_TIMEOUT_MS;
      const i = step;
      timer = setTimeout(
        () =>
          stop(new HostError('timeout', `${what(i)}: no answer from ${conn.uri} within ${Math.round(ms / 1000)} s`)),
        ms,
      );
      call.onStep?.(i);
      child.stdin.write(`${lines[i]}\necho --err ${mark}-${i}\n`);
    };
    const onAbort = (): void =>
      stop(new HostError('cancelled', `${what(Math.min(Math.max(step, 0), steps.length - 1))}: cancelled`));
    call.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdin.on('error', () => undefined);
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString('utf8');
      const at = err.indexOf(`${mark}-${step}`);
      if (at < 0 || failure) return;
      const end = err.indexOf('\n', at);
      if (end < 0) return;
      // What precedes the mark's line is this step's errors.
      const before = err.slice(0, err.lastIndexOf('\n', at) + 1);
      err = err.slice(end + 1);
      if (before.trim()) stop(new HostStepError(step, libvirtMessage(before)));
      else next();
    });
    const done = (): void => {
      clearTimeout(timer);
      call.signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      done();
      reject(e.code === 'ENOENT' ? noVirsh(conn) : new HostError('libvirt', `virsh: ${e.message}`));
    });
    child.on('close', (code) => {
      done();
      if (failure) reject(failure);
      else if (step === steps.length && code === 0) resolve();
      else {
        const i = Math.min(Math.max(step, 0), steps.length - 1);
        reject(new HostStepError(i, libvirtMessage(err) || `${what(i)}: virsh exited with status ${code}`));
      }
    });
    next();
  });
}
