// neovim (Debian's 0.7, headless) as an independent LSP client over stdio: diagnostics,
// completion, hover, an edit, and the Create Volume command. See test/clients/nvim/init.lua.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertQemuIoRoundTrip, runClient } from './run';

const DOC = `<volume>
  <name>nvim.qcow2</name>
  <capacity unit='M'>16</capacity>
  <target>
    <format type='qcow3'/>
    <compat>1.1</compat>
    <encryption format='luks'>
      <secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/>
    </encryption>
  </target>
</volume>
`;

interface NvimResult {
  errors: string[];
  diagnostics_arrived: boolean;
  diagnostics_ms: number;
  diagnostics: { lnum: number; col: number; end_col: number; severity: number; message: string; code: string; source: string }[];
  completion: string[];
  hover: string | null;
  fixed_by_edit: boolean;
  create?: { image: string; format: string; secretXml?: string } | null;
  total_ms: number;
}

function runNvim(env: Record<string, string> = {}, text = DOC): { r: NvimResult; wallMs: number; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'lv-nvim-'));
  const file = join(dir, 'vol.xml');
  writeFileSync(file, text);
  return { ...runClient<NvimResult>('nvim', file, dir, { env }), dir };
}

let run: { r: NvimResult; wallMs: number; dir: string };
before(() => {
  run = runNvim();
  rmSync(run.dir, { recursive: true, force: true });
  console.log(`# neovim session: ${run.wallMs} ms wall, first diagnostics after ${run.r.diagnostics_ms.toFixed(0)} ms`);
});

test('neovim: no client-side errors', () => {
  assert.deepEqual(run.r.errors, []);
});

test('neovim: diagnostics arrive with code, source and the range of the value', () => {
  assert.ok(run.r.diagnostics_arrived);
  const d = run.r.diagnostics.find((x) => x.code === 'volume-format-unknown');
  assert.ok(d, JSON.stringify(run.r.diagnostics));
  assert.deepEqual({ lnum: d.lnum, col: d.col, end_col: d.end_col, severity: d.severity, message: d.message, source: d.source },
    { lnum: 4, col: 18, end_col: 23, severity: 1, message: 'unsupported configuration: unknown volume format type qcow3', source: 'libvirt' });
});

test('neovim: completion offers the format types', () => {
  for (const f of ['raw', 'qcow2']) assert.ok(run.r.completion.includes(f), `${f} in ${run.r.completion.join(',')}`);
});

test('neovim: hover explains the encryption format', () => {
  assert.match(String(run.r.hover), /LUKS/);
  assert.match(String(run.r.hover), /libvirt\.org/);
});

test('neovim: an edit (didChange) clears the diagnostic it fixes', () => {
  assert.equal(run.r.fixed_by_edit, true);
});

test('neovim: Create Volume through workspace/executeCommand (the README mapping) writes a LUKS qcow2', () => {
  const valid = DOC.replace("type='qcow3'", "type='qcow2'");
  const dir = mkdtempSync(join(tmpdir(), 'lv-nvim-create-'));
  try {
    const image = join(dir, 'nvim.qcow2');
    const { r } = runNvim({ LV_CREATE_OUTPUT: image, LV_PASSPHRASE: 'from neovim' }, valid);
    assert.deepEqual(r.errors, []);
    assert.equal(r.create?.image, image);
    assertQemuIoRoundTrip(image, 'from neovim', '0x22', dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
