// Images for the reader tests, made by qemu-img and qemu-io only (never by this project's writer),
// and the oracle's answers (qemu-img convert -O raw bytes, qemu-img map, qemu-img compare).
// qemu-img's LUKS key-slot benchmark flake is retried by the shared oracle helper (helpers/oracle.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { qemuImgSkip, runOracle, type OracleResult } from '../helpers/oracle';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';

export const haveQemu = qemuImgSkip() === false && spawnSync('qemu-io', ['--version']).status === 0;
export const skip = haveQemu ? false : 'qemu-img/qemu-io are not installed (scripts/setup-debian.sh)';

/** Runs qemu-img or qemu-io through the shared helper (only qemu's PBKDF benchmark flake is retried). */
export function run(tool: 'qemu-img' | 'qemu-io', cwd: string, args: string[]): OracleResult {
  return runOracle(tool, args, { cwd });
}

export function ok(tool: 'qemu-img' | 'qemu-io', cwd: string, ...args: string[]): string {
  const r = run(tool, cwd, args);
  assert.equal(r.status, 0, `${tool} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  // qemu-io reports a failed command on stdout and still exits 0.
  if (tool === 'qemu-io') assert.doesNotMatch(r.stdout, /failed|error/i, `${tool} ${args.join(' ')}: ${r.stdout}`);
  return r.stdout;
}

export function tmpdir(tag: string): string {
  return fs.mkdtempSync(join(os.tmpdir(), `lv-reader-${tag}-`));
}

/** qemu-io -c … with each command. */
export function io(cwd: string, file: string, cmds: string[], extra: string[] = []): void {
  ok('qemu-io', cwd, ...extra, ...cmds.flatMap((c) => ['-c', c]), file);
}

/** The guest bytes as qemu-img convert -O raw produces them. */
export function qemuRaw(cwd: string, src: string[], name = 'oracle.raw'): Buffer {
  ok('qemu-img', cwd, 'convert', ...src, '-O', 'raw', join(cwd, name));
  const b = fs.readFileSync(join(cwd, name));
  fs.rmSync(join(cwd, name));
  return b;
}

/** qemu-img map --output=json as [start, length, data] triples. */
export function qemuMap(cwd: string, src: string[]): { start: number; length: number; data: boolean }[] {
  return JSON.parse(ok('qemu-img', cwd, 'map', '--output=json', ...src));
}
