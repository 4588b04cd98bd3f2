// neovim (Debian's 0.7, headless) on an Ansible playbook (issue 12): libvirt's message at the YAML
// line/column of the `xml: |` block, completion there, and the quick fix applied to the buffer.
// See test/clients/nvim/embedded.lua.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runClient } from './run';

test('neovim: playbook diagnostics at the YAML position, completion, and the quick fix edits the buffer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lv-nvim-yaml-'));
  try {
    copyFileSync(join(ROOT, 'test', 'fixtures', 'embedded', 'playbook.yml'), join(dir, 'playbook.yml'));
    const { r } = runClient<{
      errors: string[]; filetype: string; diagnostics: { lnum: number; col: number; end_col: number; message: string; code: string }[];
      completion: string[]; actions: string[]; applied: string; line_after: string; fixed: boolean;
    }>('nvim', join(dir, 'playbook.yml'), dir, { script: 'embedded.lua' });
    assert.deepEqual(r.errors, []);
    assert.equal(r.filetype, 'yaml');
    assert.deepEqual(r.diagnostics, [{ lnum: 26, col: 28, end_col: 33, code: 'volume-format-unknown',
      message: 'unsupported configuration: unknown volume format type qcow3' }]);
    assert.ok(r.completion.includes('qcow2'), r.completion.join(','));
    assert.ok(r.applied, r.actions.join(' | '));
    assert.equal(r.line_after, '              <format type="qcow2"/>');
    assert.equal(r.fixed, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
