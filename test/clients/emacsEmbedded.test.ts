// emacs 28 + eglot on an Ansible playbook (issue 12): flymake shows libvirt's message at the line and
// column of the value inside the `xml: |` block (test/clients/emacs/lv-eglot.el).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');

test('emacs eglot: a playbook block diagnostic at its YAML line and column', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lv-emacs-yaml-'));
  try {
    copyFileSync(join(ROOT, 'test', 'fixtures', 'embedded', 'playbook.yml'), join(dir, 'site.yml'));
    const out = join(dir, 'out.json');
    const p = spawnSync('emacs', ['--batch', '-q', '-l', join(ROOT, 'test', 'clients', 'emacs', 'lv-eglot.el')], {
      cwd: dir, timeout: 120_000, encoding: 'utf8',
      env: { ...process.env, LV_SERVER: join(ROOT, 'dist', 'server.js'), LV_FILE: join(dir, 'site.yml'), LV_OUT: out, HOME: dir },
    });
    let r: { diagnostics: { line: number; col: number; type: string; text: string }[]; error?: string };
    try {
      r = JSON.parse(readFileSync(out, 'utf8'));
    } catch {
      throw new Error(`emacs wrote no result (exit ${p.status}):\n${p.stdout}\n${p.stderr}`);
    }
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
