// Makes a fresh clone runnable: npm packages from the committed lock file, the Debian packages
// (scripts/setup-debian.sh: the oracles and editors the tests drive, or with 'editor' only what
// code-server's install needs), then the bundles. Every step is idempotent and cheap when already
// done. `npm start` installs npm packages and builds only (Debian packages for --editor alone);
// `npm test` and `npm run bench` add the Debian oracles.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
}

export function ensureNpm() {
  const stamp = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= statSync(lock).mtimeMs) return;
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error']);
}

/** @param {'all' | 'editor'} [group] */
export function ensureDebian(group = 'all') {
  if (process.platform !== 'linux' || !existsSync('/usr/bin/dpkg-query')) return;
  run('bash', [join(root, 'scripts', 'setup-debian.sh'), ...(group === 'editor' ? ['--editor'] : [])]);
}

export function build() {
  run(process.execPath, [join(root, 'scripts', 'build.mjs')]);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  ensureNpm();
  ensureDebian();
  build();
}
