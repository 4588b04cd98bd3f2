// emacs 28 + eglot (Debian elpa-eglot) as a second independent LSP client: diagnostics through
// flymake, and Create Volume through workspace/executeCommand (the README's emacs recipe).
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertQemuIoRoundTrip, runClient } from './run';

const UUID = '3d1f0c2e-7a55-4b9e-8c61-0f2a9b7e5d44';
let dir: string;
interface EmacsResult {
  diagnostics_ms: number;
  diagnostics: { line: number; type: string; text: string }[];
  create?: { image: string; format: string; secretXml: string };
  error?: string;
}
let r: EmacsResult;
let wall = 0;

function run(file: string, text: string, env: Record<string, string>): EmacsResult {
  writeFileSync(join(dir, file), text);
  const res = runClient<EmacsResult>('emacs', join(dir, file), dir, { env });
  wall = res.wallMs;
  return res.r;
}

/** A 16 MiB qcow2 + LUKS volume; `cipher` is an optional <cipher> line. */
function volume(name: string, cipher = ''): string {
  return `<volume>
  <name>${name}</name>
  <capacity unit='M'>16</capacity>
  <target>
    <format type='qcow2'/>
    <compat>1.1</compat>
    <encryption format='luks'>
      <secret type='passphrase' uuid='${UUID}'/>${cipher}
    </encryption>
  </target>
</volume>
`;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lv-emacs-'));
  r = run('vol.xml', volume('emacs.qcow2', `\n      <cipher name='aes' size='256' mode='xts' hash='SHA256'/>`), {});
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
  const image = join(dir, 'ok.qcow2');
  const res = run('ok.xml', volume('ok.qcow2'), { LV_CREATE_OUTPUT: image, LV_PASSPHRASE: 'from emacs' });
  assert.equal(res.error, undefined);
  assert.equal(res.create?.image, image);
  assertQemuIoRoundTrip(image, 'from emacs', '0x11', dir);
  assert.match(readFileSync(res.create!.secretXml, 'utf8'), new RegExp(`<uuid>${UUID}</uuid>`));
});
