// Marketplace readiness (issue 12): `vsce package` (scripts/package.mjs) succeeds without a warning
// and the .vsix carries the license, changelog, icon, grammars and walkthrough media the manifest names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

test('the icon is a 128×128 PNG', () => {
  const png = readFileSync(join(ROOT, pkg.icon));
  assert.equal(png.subarray(1, 4).toString('ascii'), 'PNG');
  assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [128, 128]);
});

test('every file the manifest names exists (grammars, walkthrough media, license, changelog)', () => {
  const files = [pkg.icon, 'LICENSE', 'CHANGELOG.md', ...pkg.contributes.grammars.map((g: { path: string }) => g.path),
    ...pkg.contributes.walkthroughs.flatMap((w: { steps: { media: { markdown: string } }[] }) =>
      w.steps.map((s) => s.media.markdown))];
  for (const f of files) assert.ok(existsSync(join(ROOT, f)), f);
  assert.match(readFileSync(join(ROOT, 'LICENSE'), 'utf8'), /^MIT License/);
  assert.equal(pkg.license, 'MIT');
  const steps = pkg.contributes.walkthroughs[0].steps.map((s: { title: string }) => s.title);
  assert.deepEqual(steps, ['Check a document', 'Complete a cipher', 'Create an encrypted volume', 'Write its secret']);
});

test('vsce package: no warnings, and the .vsix holds what the manifest needs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lv-vsix-'));
  try {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'package.mjs'), '--out', join(dir, 'x.vsix')], {
      cwd: ROOT, encoding: 'utf8',
      timeout: 300_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    // eslint-disable-next-line no-control-regex -- vsce colours its output with ANSI escapes
    const all = (r.stdout + r.stderr).replace(/\x1b\[[0-9;]*m/g, '');
    assert.doesNotMatch(all, /WARNING|warn/i, all);
    for (const f of ['LICENSE.txt', 'changelog.md', 'icon.png', 'libvirt-xml.yaml-injection.tmLanguage.json',
      'libvirt-xml.hcl-injection.tmLanguage.json', 'libvirt-xml.values.tmLanguage.json', 'check.md', 'secret.md',
      'extension.js', 'server.js']) assert.ok(all.includes(f), `${f} not in the package:\n${all}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
