// How `libvirt-volume check` starts (issue 15): bin/libvirt-volume.js runs it from dist/check.js
// (a bundle of the check alone) with the V8 code cache the build made, and writes its report with
// writeSync on fd 1/2. Each way of starting must give the same report and exit status as the full
// CLI bundle (dist/cli.js): without dist/check.js, with a cache that is stale, cut short or made for
// another file, and with a stdout that is a full non-blocking pipe (the write falls back to Node's
// stream). The build's caches are accepted by this Node (a cache V8 rejects is a silent loss).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import vm from 'node:vm';
import { after, before, test } from 'node:test';

const root = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
let dir = '';

/** A document with one hint (the output-only type) and a luks format libvirt refuses: exit 1. */
const doc = (i: number) => `<volume type='file'>
  <name>v${i}.img</name>
  <capacity unit='G'>1</capacity>
  <target><format type='${i % 7 === 0 ? 'luks' : 'raw'}'/></target>
</volume>
`;

interface Result {
  code: number | null;
  out: string;
  err: string;
}
const result = (r: ReturnType<typeof spawnSync>): Result => ({ code: r.status, out: String(r.stdout), err: String(r.stderr) });

/** `check ARGS` through a launcher root (bin/ and dist/ as installed). */
function viaBin(base: string, ...args: string[]): Result {
  return result(spawnSync(process.execPath, [join(base, 'bin', 'libvirt-volume.js'), 'check', ...args], { cwd: dir }));
}

/** `check ARGS` through the full CLI bundle's main(), as every other command runs. */
function viaCliBundle(...args: string[]): Result {
  const script = `require(${JSON.stringify(join(root, 'dist', 'cli.js'))}).main(['check', ...process.argv.slice(1)])
    .then((c) => { process.exitCode = c; })`;
  return result(spawnSync(process.execPath, ['-e', script, '--', ...args], { cwd: dir }));
}

/** A copy of the installed launcher and the bundles named, in a folder of its own. */
function install(name: string, bundles: string[]): string {
  const base = join(dir, name);
  mkdirSync(join(base, 'dist'), { recursive: true });
  cpSync(join(root, 'bin'), join(base, 'bin'), { recursive: true });
  for (const b of bundles) cpSync(join(root, 'dist', b), join(base, 'dist', b), { preserveTimestamps: true });
  return base;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lv-check-start-'));
  mkdirSync(join(dir, 'docs'));
  // 600 documents: a report of ~70 KB, more than a pipe holds (64 KiB on Linux).
  for (let i = 0; i < 600; i++) writeFileSync(join(dir, 'docs', `v${i}.xml`), doc(i));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('check from dist/check.js answers as dist/cli.js does: report, skips, summary, exit status', () => {
  for (const args of [['docs'], ['--json', 'docs'], ['docs/v0.xml', 'docs/v1.xml'], [join(root, 'examples')], ['nowhere']]) {
    const a = viaBin(root, ...args);
    const b = viaCliBundle(...args);
    assert.deepEqual(a, b, `check ${args.join(' ')}`);
  }
  const r = viaBin(root, 'docs');
  assert.equal(r.code, 1);
  assert.match(r.err, /^600 files checked: 86 errors, 0 warnings\n$/);
  assert.equal(r.out.split('\n').filter((l) => / error volume-format-luks: /.test(l)).length, 86);
});

test('bin/ runs check from dist/check.js alone, and everything from dist/cli.js without it', () => {
  const want = viaCliBundle('docs');
  // Only check.js installed: check works (it is the bundle in use), another command cannot start.
  const alone = install('alone', ['check.js', 'check.js.cache']);
  assert.deepEqual(viaBin(alone, 'docs'), want);
  const info = spawnSync(process.execPath, [join(alone, 'bin', 'libvirt-volume.js'), 'info', 'x'], { encoding: 'utf8' });
  assert.notEqual(info.status, 0);
  assert.match(info.stderr, /Cannot find module .*cli\.js/);
  // Only cli.js installed (a build from before dist/check.js): check runs from it.
  const old = install('old', ['cli.js', 'cli.js.cache']);
  assert.deepEqual(viaBin(old, 'docs'), want);
});

test('a stale, truncated or foreign code cache costs only the compile: same report', () => {
  const want = viaCliBundle('docs');
  // Stale: check.js changed after its cache was made (its mtime no longer matches the stamp).
  const stale = install('stale', ['check.js', 'check.js.cache']);
  utimesSync(join(stale, 'dist', 'check.js'), new Date(), new Date(Date.now() + 5000));
  assert.deepEqual(viaBin(stale, 'docs'), want);
  // Cut short (a full disk, an interrupted copy): the stamp matches, V8 rejects the payload's length.
  const damaged = install('damaged', ['check.js', 'check.js.cache']);
  const cache = readFileSync(join(damaged, 'dist', 'check.js.cache'));
  writeFileSync(join(damaged, 'dist', 'check.js.cache'), cache.subarray(0, cache.length >> 1));
  assert.deepEqual(viaBin(damaged, 'docs'), want);
  // Foreign: cli.js's cache under check.js's stamp (V8 sees another source and rejects it).
  const foreign = install('foreign', ['check.js', 'check.js.cache']);
  const own = readFileSync(join(foreign, 'dist', 'check.js.cache'));
  const other = readFileSync(join(root, 'dist', 'cli.js.cache'));
  const head = own.subarray(0, own.indexOf(10) + 1);
  writeFileSync(join(foreign, 'dist', 'check.js.cache'), Buffer.concat([head, other.subarray(other.indexOf(10) + 1)]));
  assert.deepEqual(viaBin(foreign, 'docs'), want);
});

test("the build's code caches are accepted by this Node (a rejected cache would only be slower)", () => {
  for (const bundle of ['check.js', 'cli.js']) {
    const file = join(root, 'dist', bundle);
    const cache = readFileSync(`${file}.cache`);
    const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), {
      filename: file,
      cachedData: cache.subarray(cache.indexOf(10) + 1),
    });
    assert.equal(script.cachedDataRejected, false, bundle);
  }
});

test('a stdout that is a full non-blocking pipe still gets the whole report, in order', () => {
  const want = viaCliBundle('docs');
  // python3 makes the pipe non-blocking (as a parent's event loop may leave it) and reads it only
  // after the report has filled it: the direct write meets EAGAIN and hands the rest to the stream.
  const py = String.raw`
import fcntl, os, subprocess, sys, time
r, w = os.pipe()
fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
p = subprocess.Popen(sys.argv[1:], stdout=w, stderr=subprocess.DEVNULL)
os.close(w)
time.sleep(1)
out = b''
while True:
    b = os.read(r, 65536)
    if not b: break
    out += b
sys.stdout.buffer.write(out)
sys.exit(p.wait())
`;
  const bin = join(root, 'bin', 'libvirt-volume.js');
  const r = spawnSync('python3', ['-c', py, process.execPath, bin, 'check', 'docs'], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, want.code);
  assert.ok(want.out.length > 65536, `report of ${want.out.length} bytes`);
  assert.equal(r.stdout, want.out);
});
