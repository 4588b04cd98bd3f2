// emacs 28 + eglot (Debian elpa-eglot) as a second independent LSP client: diagnostics through
// flymake, and Create Volume through workspace/executeCommand (the README's emacs recipe).
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
const UUID = '3d1f0c2e-7a55-4b9e-8c61-0f2a9b7e5d44';
let dir: string;
let r: { diagnostics_ms: number; diagnostics: { line: number; type: string; text: string }[]; create?: { image: string; format: string; secretXml: string }; error?: string };
let wall = 0;

function run(file: string, text: string, env: Record<string, string>) {
  writeFileSync(join(dir, file), text);
  const out = join(dir, `${file}.json`);
  const t0 = Date.now();
  const p = spawnSync('emacs', ['--batch', '-q', '-l', join(ROOT, 'test', 'clients', 'emacs', 'lv-eglot.el')], {
    cwd: dir, encoding: 'utf8', timeout: 90_000,
    env: { ...process.env, LV_SERVER: join(ROOT, 'dist', 'server.js'), LV_FILE: join(dir, file), LV_OUT: out, HOME: dir, ...env },
  });
  wall = Date.now() - t0;
  try {
    return JSON.parse(readFileSync(out, 'utf8'));
  } catch {
    throw new Error(`emacs wrote no result (exit ${p.status}):\n${p.stdout}\n${p.stderr}`);
  }
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lv-emacs-'));
  r = run('vol.xml', `<volume>
  <name>emacs.qcow2</name>
  <capacity unit='M'>16</capacity>
  <target>
    <format type='qcow2'/>
    <compat>1.1</compat>
    <encryption format='luks'>
      <secret type='passphrase' uuid='${UUID}'/>
      <cipher name='aes' size='256' mode='xts' hash='SHA256'/>
    </encryption>
  </target>
</volume>
`, {});
  console.log(`# emacs session: ${wall} ms wall, diagnostics after ${r.diagnostics_ms} ms`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('emacs eglot: flymake shows the server diagnostic on its line', () => {
  assert.equal(r.error, undefined);
  const d = r.diagnostics.find((x) => /hash-alg/.test(x.text));
  assert.ok(d, JSON.stringify(r.diagnostics));
  assert.equal(d.line, 9);
  assert.equal(d.type, 'eglot-error');
});

test('emacs eglot: Create Volume through workspace/executeCommand writes a LUKS qcow2 that qemu-io opens', () => {
  const xml = `<volume>
  <name>ok.qcow2</name>
  <capacity unit='M'>16</capacity>
  <target>
    <format type='qcow2'/>
    <compat>1.1</compat>
    <encryption format='luks'>
      <secret type='passphrase' uuid='${UUID}'/>
    </encryption>
  </target>
</volume>
`;
  const image = join(dir, 'ok.qcow2');
  const res = run('ok.xml', xml, { LV_CREATE_OUTPUT: image, LV_PASSPHRASE: 'from emacs' });
  assert.equal(res.error, undefined);
  assert.equal(res.create.image, image);
  writeFileSync(join(dir, 'pw'), 'from emacs');
  const io = execFileSync('qemu-io', ['--object', `secret,id=s0,file=${join(dir, 'pw')}`, '--image-opts', `driver=qcow2,file.filename=${image},encrypt.key-secret=s0`, '-c', 'write -P 0x11 0 4k', '-c', 'read -P 0x11 0 4k'], { encoding: 'utf8' });
  assert.match(io, /read 4096\/4096 bytes/);
  assert.match(readFileSync(res.create.secretXml, 'utf8'), new RegExp(`<uuid>${UUID}</uuid>`));
});
