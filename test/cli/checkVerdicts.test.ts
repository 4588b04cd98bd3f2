// `check` on files libvirt refuses before any volume rule (issue 16 §2) and on hostile folders (§4).
// A named file is always judged: exit 1 with the message libvirt itself prints for the same file
// (`virsh -c test:///default vol-create` / `define` as the oracle). A folder walk lists what it
// skipped (text and --json), enters each folder once and reads only regular *.xml files, within a
// time and memory bound; a folder without any *.xml is exit 2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

const root = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
const bin = join(root, 'bin', 'libvirt-volume.js');
let dir = '';
const run = (args: string[], cwd = dir) => {
  const r = spawnSync(process.execPath, [bin, 'check', ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const virsh = (cmd: string, file: string) => {
  const r = spawnSync('virsh', ['-q', '-c', 'test:///default', ...(cmd === 'define' ? ['define'] : ['vol-create', 'default-pool']), file], { encoding: 'utf8' });
  return { code: r.status, err: r.stderr };
};

const VOL = "<volume><name>a</name><capacity>1</capacity></volume>\n";
const FILES: Record<string, Buffer> = {
  'empty.xml': Buffer.alloc(0),
  'text.xml': Buffer.from('hello world\n'),
  'utf16.xml': Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(VOL, 'utf16le')]),
  'latin.xml': Buffer.from([...Buffer.from('<volume><name>a'), 0xff, ...Buffer.from('</name><capacity>1</capacity></volume>')]),
  'Volume.xml': Buffer.from('<Volume><name>a</name><capacity>1</capacity></Volume>'),
  'volumes.xml': Buffer.from('<volumes/>'),
  'foo.xml': Buffer.from('<foo/>'),
  'Domain.xml': Buffer.from("<Domain type='test'><name>d</name></Domain>"),
};
const EXPECT: Record<string, [string, string]> = {
  'empty.xml': ['xml-not-well-formed', 'Document is empty'],
  'text.xml': ['xml-not-well-formed', "Start tag expected, '<' not found"],
  'utf16.xml': ['xml-not-well-formed', "Start tag expected, '<' not found"],
  'latin.xml': ['xml-not-well-formed', 'Input is not proper UTF-8, indicate encoding !'],
  'Volume.xml': ['root-element-near-miss', "expecting root element of 'volume', not 'Volume'"],
  'volumes.xml': ['root-element-near-miss', "expecting root element of 'volume', not 'volumes'"],
  'foo.xml': ['root-element-foreign', "expecting root element of 'volume', not 'foo'"],
  'Domain.xml': ['root-element-near-miss', "expecting root element of 'domain', not 'Domain'"],
};

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lv-check-verdicts-'));
  for (const [f, b] of Object.entries(FILES)) writeFileSync(join(dir, f), b);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('a named file libvirt refuses is exit 1 with libvirt\'s message, never "0 checked, 1 skipped"', () => {
  for (const [f, [code, message]] of Object.entries(EXPECT)) {
    const r = run([f]);
    assert.equal(r.code, 1, `${f}: ${r.out}${r.err}`);
    const [line, ...rest] = r.out.trim().split('\n');
    assert.deepEqual(rest, [], f);
    assert.match(line, new RegExp(`^${f}:1:\\d+: error ${code}: `), f);
    assert.ok(line.includes(message), `${f}: ${line}`);
    assert.match(r.err, /^1 file checked: 1 error, 0 warnings\n$/, f);
    // libvirt says the same of the same bytes.
    const v = virsh(f === 'Domain.xml' ? 'define' : 'vol', join(dir, f));
    assert.notEqual(v.code, 0, f);
    assert.ok(v.err.includes(message), `${f}: libvirt says ${v.err}`);
  }
});

test('a folder walk skips foreign XML but lists it, in text and --json; near-miss roots are warned', () => {
  const w = join(dir, 'walk');
  mkdirSync(w);
  writeFileSync(join(w, 'good.xml'), "<volume><name>a.img</name><capacity unit='G'>1</capacity><target><format type='raw'/></target></volume>");
  writeFileSync(join(w, 'pool.xml'), "<pool type='dir'><name>p</name></pool>");
  writeFileSync(join(w, 'empty.xml'), '');
  writeFileSync(join(w, 'Volume.xml'), FILES['Volume.xml']);
  const r = run(['.'], w);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /^Volume\.xml:1:2: warning root-element-near-miss: XML error: expecting root element of 'volume', not 'Volume'$/m);
  assert.ok(r.err.includes('pool.xml: skipped: root <pool> is not a libvirt document\n'), r.err);
  assert.ok(r.err.includes('empty.xml: skipped: not XML (Document is empty)\n'), r.err);
  assert.match(r.err, /2 files checked, 2 skipped: 0 errors, 1 warning\n$/);
  const j = JSON.parse(run(['--json', '.'], w).out) as Array<{ file: string; skipped?: string; diagnostics: unknown[] }>;
  assert.deepEqual(j.filter((e) => e.skipped).map((e) => [e.file, e.skipped]), [
    ['empty.xml', 'not XML (Document is empty)'], ['pool.xml', 'root <pool> is not a libvirt document'],
  ]);
  assert.deepEqual(j.filter((e) => !e.skipped).map((e) => e.file).sort(), ['Volume.xml', 'good.xml']);
});

test('a folder with no XML at all is exit 2 with a message', () => {
  const e = join(dir, 'noxml');
  mkdirSync(join(e, 'sub'), { recursive: true });
  writeFileSync(join(e, 'notes.txt'), VOL);
  const r = run([e]);
  assert.equal(r.code, 2);
  assert.match(r.err, /no \*\.xml, playbook, template or Terraform files in '.*noxml'/);
});

test('directory symlink cycles and non-regular *.xml: bounded time and memory', () => {
  const h = join(dir, 'hostile');
  mkdirSync(h);
  symlinkSync('.', join(h, 'a'));
  symlinkSync('.', join(h, 'b'));
  symlinkSync('/dev/zero', join(h, 'z.xml'));
  writeFileSync(join(h, 'v.xml'), FILES['Volume.xml']);
  const t0 = Date.now();
  // GNU time reports the peak RSS (kB) of the CLI; the spawn timeout bounds a run that would not end.
  const r = spawnSync('/usr/bin/time', ['-f', 'maxrss=%M', process.execPath, bin, 'check', '.'], { cwd: h, encoding: 'utf8', timeout: 30_000 });
  const ms = Date.now() - t0;
  assert.equal(r.signal, null, `killed after ${ms} ms`);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(ms < 15_000, `${ms} ms`);
  const rss = Number(/maxrss=(\d+)/.exec(r.stderr)?.[1]);
  assert.ok(rss > 0 && rss < 256 * 1024, `peak RSS ${rss} kB`);
  assert.ok(r.stderr.includes('z.xml: skipped: not a regular file\n'), r.stderr);
  assert.match(r.stderr, /1 file checked, 1 skipped: 0 errors, 1 warning/);
  assert.equal(r.stdout.trim().split('\n').length, 1, 'v.xml reported once, not once per symlink path');
});
