// What the -n / several-inputs / snapshot / rate tests share: our CLI run like qemu-img, qemu-img's
// stderr with our program name, and `qemu-img map` as a data / zero / hole pattern.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { qemuMap } from '../reader/oracle';

const root = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
export const CLI = join(root, 'bin', 'libvirt-volume.js');
export const SECRET = ['--object', 'secret,id=s0,file=pw'];

/** `libvirt-volume convert ARGS` in `dir`. */
export function ours(dir: string, args: string[]) {
  const r = spawnSync(process.execPath, [CLI, 'convert', ...args], { cwd: dir, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** qemu-img's stderr as ours prints it. */
export const asOurs = (s: string) => s.replace(/^qemu-img: /gm, 'libvirt-volume: ');

/**
 * qemu-img map as runs of data (with its depth in the chain), zero (a zero cluster) and hole
 * (unallocated) — host offsets are each writer's own, so left out. A data cluster whose host bytes
 * are a file hole ("zero": true, "data": true) is still data. `holes`: false counts unallocated
 * ranges as zero (outputs whose zero ranges qemu may leave either way).
 */
export function mapPattern(dir: string, file: string, holes = true): string {
  const runs: [string, number, number][] = [];
  type M = { start: number; length: number; data: boolean; present?: boolean; depth: number };
  for (const m of qemuMap(dir, ['-U', file]) as M[]) {
    const kind = m.data ? `data${m.depth}` : holes && m.present === false ? 'hole' : 'zero';
    const last = runs[runs.length - 1];
    if (last && last[0] === kind && last[2] === m.start) last[2] = m.start + m.length;
    else runs.push([kind, m.start, m.start + m.length]);
  }
  return runs.map(([k, s, e]) => `${k}@${s}-${e}`).join(' ');
}
