// `npm start` installs npm packages and builds only: no Debian packages (issue 16 §5). The package
// tools are replaced, first on PATH, by recorders that say every package is missing; whatever would
// be installed lands in a log. `--editor`'s Debian step asks only for what code-server's install needs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
let dir: string, log: string, env: NodeJS.ProcessEnv;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lv-start-'));
  log = join(dir, 'apt.log');
  for (const tool of ['apt-get', 'sudo']) {
    writeFileSync(join(dir, tool), `#!/bin/sh\necho "${tool} $*" >> '${log}'\n[ "${tool}" = sudo ] && exec "$@"\nexit 0\n`, { mode: 0o755 });
  }
  writeFileSync(join(dir, 'dpkg-query'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  env = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('npm start builds and checks the examples without installing a Debian package', { timeout: 180_000 }, () => {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'start.mjs')], { cwd: root, env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /\d+ files? checked/, 'the example check ran');
  assert.equal(existsSync(log) ? readFileSync(log, 'utf8') : '', '', 'no apt-get run');
});

test('the editor path installs only what code-server needs; the test path installs the oracles', () => {
  const ed = spawnSync('bash', [join(root, 'scripts', 'setup-debian.sh'), '--editor'], { env, encoding: 'utf8' });
  assert.equal(ed.status, 0, ed.stderr);
  const installs = readFileSync(log, 'utf8').split('\n').filter((l) => l.includes(' install '));
  assert.equal(installs.length, 1, installs.join('\n'));
  assert.deepEqual(installs[0].split(' ').slice(-2), ['libkrb5-dev', 'ripgrep']);
  rmSync(log);
  const all = spawnSync('bash', [join(root, 'scripts', 'setup-debian.sh')], { env, encoding: 'utf8' });
  assert.equal(all.status, 0, all.stderr);
  const text = readFileSync(log, 'utf8');
  for (const p of ['qemu-utils', 'cryptsetup-bin', 'libvirt-clients', 'libvirt-daemon']) assert.match(text, new RegExp(`install .*\\b${p}\\b`));
});
