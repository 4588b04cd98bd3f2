// `libvirt-volume check [--json] [--libvirt-version X.Y.Z] PATH...` (to be completed: issue 2).
export const USAGE = 'check [--json] [--libvirt-version X.Y.Z] [--pool-type T] PATH...';
export async function runCheck(_args: string[]): Promise<number> {
  process.stderr.write('check: not implemented yet\n');
  return 2;
}
