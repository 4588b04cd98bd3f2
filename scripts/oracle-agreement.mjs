// `node scripts/oracle-agreement.mjs [--seeds N] [--first-seed S] [--per-seed N] [--max-encrypted N]`
// Generates mutated volume documents, judges each by libvirt 9.0 (test-driver parser; session
// libvirtd's storage driver for those that parse) and by the language service, prints the
// agreement table by layer and writes the disagreements to .tmp/disagreements.txt.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { root, ensureNpm, ensureDebian } from './bootstrap.mjs';

ensureNpm();
ensureDebian();
const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test', 'oracle', 'agreementMain.ts'), ...process.argv.slice(2)], {
  cwd: root, stdio: 'inherit', env: { ...process.env, LIBVIRT_VOLUME_ROOT: root },
});
process.exit(r.status ?? 1);
