// Running qemu-img as an oracle. Every test that runs qemu-img goes through here, so qemu's LUKS
// key-derivation benchmark flake ("Unable to get accurate CPU usage", see flakeRetry.cjs) is retried
// a bounded number of times and, when it persists, fails the test as an error of the harness,
// never as qemu-img's verdict on the options. The session libvirtd runs qemu-img itself: it finds
// the same core first on its PATH (installQemuImgWrapper).
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  FLAKE_MESSAGE, FLAKE_TRIES, isFlake, runRetrying, runRetryingAsync, type Retried, type RunOptions, type RunResult,
} from './flakeRetry.cjs';

export { FLAKE_MESSAGE, FLAKE_TRIES, isFlake, type RunOptions, type RunResult };
export type OracleResult = Retried<RunResult>;

/** The benchmark failed on every try: the run tells nothing, so the test stops here. */
function verdictOrThrow(cmd: string, args: readonly string[], r: OracleResult): OracleResult {
  if (isFlake(r)) {
    throw new Error(`${cmd} ${args.join(' ')}: "${FLAKE_MESSAGE}" on all ${r.attempts} tries (qemu's PBKDF benchmark ` +
      `on a loaded machine), not a verdict`);
  }
  return r;
}

/** Runs any command with the flake retry (qemu-img through a shell line, fakes in the helper's own test). */
export function runOracle(cmd: string, args: readonly string[], opts: RunOptions = {}): OracleResult {
  return verdictOrThrow(cmd, args, runRetrying(cmd, args, opts));
}
export async function runOracleAsync(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<OracleResult> {
  return verdictOrThrow(cmd, args, await runRetryingAsync(cmd, args, opts));
}

/** `qemu-img ARGS`: status, stdout, stderr of the first run that is not the benchmark flake. */
export function qemuImg(args: readonly string[], opts: RunOptions = {}): OracleResult {
  return runOracle('qemu-img', args, opts);
}
export function qemuImgAsync(args: readonly string[], opts: RunOptions = {}): Promise<OracleResult> {
  return runOracleAsync('qemu-img', args, opts);
}
/** `qemu-img ARGS` that must succeed (a fixture, `info`): its stdout, or an error with its stderr. */
export function qemuImgOk(args: readonly string[], opts: RunOptions = {}): string {
  const r = qemuImg(args, opts);
  if (r.status !== 0) throw new Error(`qemu-img ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.error ?? r.stderr.trim()}`);
  return r.stdout;
}
/** `qemu-img info --output=json FILE`, parsed. */
export function qemuImgInfo(file: string, opts: RunOptions = {}): Record<string, any> {
  return JSON.parse(qemuImgOk(['info', '--output=json', file], opts)) as Record<string, any>;
}

/**
 * Puts `name` (default qemu-img) into binDir: a node script that runs `target` through the same retry
 * core. The core is copied next to it, so a daemon running as another user needs no access to the
 * checkout. Returns the wrapper's path.
 */
export function installQemuImgWrapper(binDir: string, target = '/usr/bin/qemu-img', name = 'qemu-img'): string {
  copyFileSync(join(__dirname, 'flakeRetry.cjs'), join(binDir, 'flakeRetry.cjs'));
  const file = join(binDir, name);
  writeFileSync(file, `#!${process.execPath}\n'use strict';\n// Retries qemu's PBKDF benchmark flake (test/helpers/flakeRetry.cjs).\n` +
    `require(${JSON.stringify(join(binDir, 'flakeRetry.cjs'))}).wrapperMain(${JSON.stringify(target)}, process.argv.slice(2));\n`,
  { mode: 0o755 });
  return file;
}

/** For `test(…, { skip })`: false when qemu-img runs here, else why the test cannot. */
export function qemuImgSkip(): false | string {
  return qemuImg(['--version']).status === 0 ? false : 'qemu-img is not installed (scripts/setup-debian.sh)';
}
