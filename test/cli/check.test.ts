// `libvirt-volume check` end to end: the bundled CLI (dist/cli.js via bin/, built by the test
// runner) on temporary files; output format and exit codes 0/1/2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

const root = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
const bin = join(root, 'bin', 'libvirt-volume.js');
let dir = '';

const GOOD = `<volume>
  <name>a.img</name>
  <capacity unit='G'>1</capacity>
  <target><format type='raw'/></target>
</volume>
`;
const BAD = `<volume>
  <name>b.img</name>
  <capacity unit='G'>1</capacity>
  <target>
    <format type='luks'/>
  </target>
</volume>
`;
const QCOW2 = `<volume><name>c.qcow2</name><capacity>1024</capacity><target><format type='qcow2'/><features><data_file/></features></target></volume>`;

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, 'check', ...args], { cwd: dir, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lv-check-'));
  writeFileSync(join(dir, 'good.xml'), GOOD);
  writeFileSync(join(dir, 'bad.xml'), BAD);
  mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
  writeFileSync(join(dir, 'sub', 'deeper', 'c.xml'), QCOW2);
  writeFileSync(join(dir, 'sub', 'pool.xml'), `<pool type='dir'><name>p</name></pool>`);
  writeFileSync(join(dir, 'sub', 'notes.txt'), BAD);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('a clean file: exit 0, no output lines, a summary on stderr', () => {
  const r = run('good.xml');
  assert.equal(r.code, 0);
  assert.equal(r.out, '');
  assert.match(r.err, /^1 file checked: 0 errors, 0 warnings\n$/);
});

test('errors: compiler-style lines with 1-based positions, exit 1', () => {
  const r = run('bad.xml');
  assert.equal(r.code, 1);
  assert.equal(r.out, "bad.xml:5:19: error volume-format-luks: unsupported configuration: unknown volume format type luks\n");
});

test('folders recurse into *.xml; other roots and non-xml files are skipped', () => {
  const r = run('.');
  assert.equal(r.code, 1);
  const lines = r.out.trim().split('\n');
  assert.deepEqual(lines.map((l) => l.split(':')[0]).sort(), ['bad.xml', 'sub/deeper/c.xml']);
  assert.match(r.err, /3 files checked, 1 skipped: 1 error, 1 warning/);
});

test('--libvirt-version changes the verdict (data_file arrived in 10.10.0)', () => {
  assert.equal(run('sub/deeper/c.xml').code, 0);
  const r = run('--libvirt-version', '9.0.0', 'sub/deeper/c.xml');
  assert.equal(r.code, 1);
  assert.match(r.out, /^sub\/deeper\/c\.xml:1:\d+: error volume-feature-unknown: unsupported configuration: unsupported feature data_file$/m);
});

test('--pool-type changes the verdict', () => {
  const r = run('--pool-type=iscsi', 'good.xml');
  assert.equal(r.code, 1);
  assert.match(r.out, /error volume-pool-no-create: /);
});

test('--json prints LSP diagnostics with 0-based positions', () => {
  const r = run('--json', 'bad.xml', 'good.xml');
  assert.equal(r.code, 1);
  const j = JSON.parse(r.out) as Array<{ file: string; diagnostics: Array<{ range: { start: { line: number; character: number } }; code: string; severity: number; source: string; message: string }> }>;
  assert.deepEqual(j.map((f) => f.file), ['bad.xml', 'good.xml']);
  assert.equal(j[1].diagnostics.length, 0);
  const d = j[0].diagnostics[0];
  assert.deepEqual(d.range.start, { line: 4, character: 18 });
  assert.equal(d.code, 'volume-format-luks');
  assert.equal(d.severity, 1);
  assert.equal(d.source, 'libvirt');
});

test('a folder named like a document is walked, in its place among the files named', () => {
  // Names ending in .xml are read without a stat first (issue 15): a folder of that name is found by the read.
  mkdirSync(join(dir, 'pool.xml', 'inner'), { recursive: true });
  writeFileSync(join(dir, 'pool.xml', 'inner', 'v.xml'), BAD);
  mkdirSync(join(dir, 'empty.xml'), { recursive: true });
  try {
    const r = run('good.xml', 'pool.xml', 'bad.xml');
    assert.equal(r.code, 1);
    const files = r.out.split('\n').filter(Boolean).map((l) => l.split(':')[0]);
    assert.deepEqual([...new Set(files)], [join('pool.xml', 'inner', 'v.xml'), 'bad.xml']);
    assert.match(r.err, /^3 files checked: 2 errors/m);
    const e = run('empty.xml', 'good.xml');
    assert.equal(e.code, 2);
    assert.match(e.err, /no \*\.xml, playbook, template or Terraform files in 'empty\.xml'/);
  } finally {
    rmSync(join(dir, 'pool.xml'), { recursive: true, force: true });
    rmSync(join(dir, 'empty.xml'), { recursive: true, force: true });
  }
});

test('usage and I/O errors exit 2', () => {
  assert.equal(run().code, 2);
  assert.equal(run('--bogus', 'good.xml').code, 2);
  assert.equal(run('--libvirt-version', 'nine', 'good.xml').code, 2);
  assert.equal(run('--pool-type', 'lake', 'good.xml').code, 2);
  const r = run('missing.xml', 'good.xml');
  assert.equal(r.code, 2);
  assert.match(r.err, /cannot read 'missing\.xml': ENOENT/);
});
