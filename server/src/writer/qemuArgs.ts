// qemu-img argument helpers the writer's callers share (the CLI and the editor's worker).
import { parseQemuSize } from '../../../schemas/qcow2Options';
import { splitQemuOptions } from '../common/qemuOpts';

/** `-o a=b,c=d` (qemu's QemuOpts syntax, `,,` escapes a comma); later occurrences win. */
export function parseQemuImgOptions(list: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const s of list) {
    for (const { name, value } of splitQemuOptions(s)) {
      if (name || value !== 'on') m.set(name, value); // an empty part (`,a`) is no option
    }
  }
  return m;
}

/** qemu-img size syntax (qemu_strtosz: bytes, or k/M/G/T/P/E suffixes, powers of 1024). */
export function parseSize(s: string): number | undefined {
  const r = parseQemuSize(s);
  return r.ok && r.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(r.value) : undefined;
}
