// `libvirt-volume check` reads the images documents name (issue 7) and prints the weak-encryption
// verdicts; `--no-image-checks` turns the image part off. Runs the bundled CLI on real files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { qemuImgOk } from '../helpers/oracle';

const root = join(__dirname, '..', '..');
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lv-cli-img-'));
  qemuImgOk(['create', '-q', '-f', 'qcow2', 'a.qcow2', '1M'], { cwd: dir });
  writeFileSync(join(dir, 'v.xml'), `<volume><name>v</name><capacity unit='M'>1</capacity><target><path>a.qcow2</path><format type='raw'/>`
    + `<encryption format='luks'><secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/><cipher name='aes' size='256' mode='ecb' hash='sha256'/><ivgen name='plain64'/></encryption></target></volume>`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function check(...args: string[]): { codes: string[]; status: number | null } {
  const r = spawnSync(process.execPath, [join(root, 'bin/libvirt-volume.js'), 'check', '--json', ...args, join(dir, 'v.xml')], { encoding: 'utf8' });
  const out = JSON.parse(r.stdout) as Array<{ diagnostics: Array<{ code: string }> }>;
  return { codes: out.flatMap((f) => f.diagnostics.map((d) => d.code)).filter((c) => /^(image-|weak-)/.test(c)).sort(), status: r.status };
}

test('check reports image mismatches and weak choices', () => {
  const r = check();
  assert.deepEqual(r.codes, ['image-encryption-unexpected', 'image-format-mismatch', 'weak-cipher-mode-ecb']);
});

test('check --no-image-checks keeps the lint, drops the image checks', () => {
  assert.deepEqual(check('--no-image-checks').codes, ['weak-cipher-mode-ecb']);
});
