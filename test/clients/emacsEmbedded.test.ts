// emacs 28 + eglot on an Ansible playbook (issue 12): flymake shows libvirt's message at the line and
// column of the value inside the `xml: |` block (test/clients/emacs/lv-eglot.el).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runClient } from './run';

test('emacs eglot: a playbook block diagnostic at its YAML line and column', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lv-emacs-yaml-'));
  try {
    copyFileSync(join(ROOT, 'test', 'fixtures', 'embedded', 'playbook.yml'), join(dir, 'site.yml'));
    const { r } = runClient<{ diagnostics: { line: number; col: number; type: string; text: string }[]; error?: string }>(
      'emacs', join(dir, 'site.yml'), dir);
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.diagnostics.length, 1, JSON.stringify(r.diagnostics));
    const [d] = r.diagnostics;
    assert.deepEqual([d.line, d.col], [27, 28]);
    assert.match(d.text, /unknown volume format type qcow3/);
    assert.match(d.type, /error/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
