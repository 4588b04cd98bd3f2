// The writer against the real qemu-img 7.2: the same `create` arguments through both, in two
// scratch folders with the same relative names. Compared: exit status, stderr message (with
// `qemu-img:` read as `libvirt-volume:`), the `Formatting …` line; for created images the bytes
// (cmp) of qcow2 files and external data files, size and allocation of raw files, `qemu-img
// check` clean, `qemu-img info --output=json` equal (filename / actual-size dropped), and a
// qemu-io write/read pattern round trip on our image. Deliberate differences (existing files,
// a -F contradicting the backing file's magic) are tested separately below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { runCreate } from '../../server/src/cli/create';
import { qemuImgSkip, runOracle } from '../helpers/oracle';

const QEMU_IMG = qemuImgSkip() === false;
const skip = QEMU_IMG ? false : 'qemu-img is not installed (scripts/setup-debian.sh installs qemu-utils)';

interface Case { args: string[]; /** false when the image cannot be opened (missing backing file with -u). */ opens?: boolean }

// `F` is the image name, `D` a data file name, `B` a qcow2 base image, `R` a raw base (3 MiB).
const CASES: Case[] = [
  // sizes
  { args: ['-f', 'qcow2', 'F', '1G'] }, { args: ['-f', 'qcow2', 'F', '0'] }, { args: ['-f', 'qcow2', 'F', '1'] },
  { args: ['-f', 'qcow2', 'F', '513'] }, { args: ['-f', 'qcow2', 'F', '1.5G'] }, { args: ['-f', 'qcow2', 'F', '0x100000'] },
  { args: ['-f', 'qcow2', 'F', '2P'] }, { args: ['-f', 'qcow2', 'F', '3P'] }, { args: ['-f', 'qcow2', 'F', '12Q'] },
  { args: ['-f', 'qcow2', 'F', '1e3'] }, { args: ['-f', 'qcow2', 'F', '--', '-1'] }, { args: ['-f', 'qcow2', 'F', '8E'] },
  { args: ['-f', 'qcow2', 'F'] }, { args: ['-f', 'qcow2', '-o', 'size=64M', 'F'] }, { args: ['-f', 'qcow2', '-o', 'size=64M', 'F', '1G'] },
  { args: ['-f', 'raw', 'F', '1G'] }, { args: ['-f', 'raw', 'F', '513'] }, { args: ['-f', 'raw', 'F', '0'] },
  // compat
  ...['0.10', '1.1', 'v2', 'v3', '2.0'].map((c) => ({ args: ['-f', 'qcow2', '-o', `compat=${c}`, 'F', '100G'] })),
  { args: ['-f', 'qcow2', '-o', 'compat=0.10,lazy_refcounts=on', 'F', '1G'] },
  { args: ['-f', 'qcow2', '-o', 'compat=0.10,refcount_bits=8', 'F', '1G'] },
  { args: ['-f', 'qcow2', '-o', 'compat=0.10,data_file=D', 'F', '1G'] },
  { args: ['-f', 'qcow2', '-o', 'compat=0.10,compression_type=zstd', 'F', '1G'] },
  { args: ['-f', 'qcow2', '-o', 'compat=0.10,extended_l2=on', 'F', '1G'] },
  { args: ['-f', 'qcow2', '-o', 'compat=0.10,extended_l2=on,cluster_size=1000', 'F', '1G'] },
  // cluster sizes
  ...['256', '512', '1024', '4k', '8k', '64k', '2M', '4M', '48k', '0', 'abc'].map((c) => ({ args: ['-f', 'qcow2', '-o', `cluster_size=${c}`, 'F', '1G'] })),
  // preallocation
  ...['off', 'metadata', 'falloc', 'full', 'bogus'].map((m) => ({ args: ['-f', 'qcow2', '-o', `preallocation=${m}`, 'F', '64M'] })),
  ...['off', 'metadata', 'falloc', 'full', 'bogus'].map((m) => ({ args: ['-f', 'raw', '-o', `preallocation=${m}`, 'F', '8M'] })),
  { args: ['-f', 'qcow2', '-o', 'preallocation=metadata', 'F', '2100M'] },
  { args: ['-f', 'qcow2', '-o', 'preallocation=falloc', 'F', '2100M'] },
  { args: ['-f', 'qcow2', '-o', 'preallocation=metadata,cluster_size=512', 'F', '12M'] },
  { args: ['-f', 'qcow2', '-o', 'preallocation=full,cluster_size=1k', 'F', '9M'] },
  { args: ['-f', 'qcow2', '-o', 'preallocation=metadata', 'F', '1000000'] },
  { args: ['-f', 'qcow2', '-o', 'preallocation=metadata,data_file=D', 'F', '1000000'] },
  { args: ['-f', 'qcow2', '-o', 'preallocation=falloc,data_file=D', 'F', '1000000'] },
  { args: ['-f', 'qcow2', '-o', 'preallocation=full,cluster_size=4k,data_file=D', 'F', '1000000'] },
  { args: ['-f', 'qcow2', '-o', 'preallocation=falloc', 'F', '1000000'] },
  { args: ['-f', 'qcow2', '-o', 'preallocation=metadata,extended_l2=on', 'F', '1000000'] },
  { args: ['-f', 'qcow2', '-b', 'B', '-F', 'qcow2', '-o', 'preallocation=metadata,extended_l2=on', 'F', '1000000'] },
  { args: ['-f', 'qcow2', '-o', 'preallocation=metadata,extended_l2=on,data_file=D', 'F', '999936'] },
  { args: ['-f', 'qcow2', '-o', 'compat=0.10,preallocation=full', 'F', '9M'] },
  { args: ['-f', 'qcow2', '-o', 'refcount_bits=2,preallocation=falloc,cluster_size=4k', 'F', '9M'] },
  { args: ['-f', 'qcow2', '-o', 'refcount_bits=4,preallocation=metadata,cluster_size=2k', 'F', '9M'] },
  { args: ['-f', 'qcow2', '-o', 'cluster_size=2M,preallocation=metadata', 'F', '3G'] },
  { args: ['-f', 'qcow2', '-o', 'cluster_size=512', 'F', '100G'] },
  { args: ['-f', 'qcow2', '-o', 'cluster_size=1k,refcount_bits=64,preallocation=metadata', 'F', '6M'] },
  // refcounts, lazy refcounts
  ...['1', '2', '4', '8', '16', '32', '64', '128', '3', '0', '0x10', 'abc'].map((b) => ({ args: ['-f', 'qcow2', '-o', `refcount_bits=${b}`, 'F', '1G'] })),
  { args: ['-f', 'qcow2', '-o', 'refcount_bits=1,preallocation=metadata,cluster_size=4k', 'F', '40M'] },
  { args: ['-f', 'qcow2', '-o', 'lazy_refcounts=on', 'F', '1G'] }, { args: ['-f', 'qcow2', '-o', 'lazy_refcounts=yes,preallocation=metadata', 'F', '32M'] },
  { args: ['-f', 'qcow2', '-o', 'lazy_refcounts=maybe', 'F', '1G'] },
  // extended L2, compression
  { args: ['-f', 'qcow2', '-o', 'extended_l2=on', 'F', '1G'] }, { args: ['-f', 'qcow2', '-o', 'extended_l2=on,cluster_size=8k', 'F', '1G'] },
  { args: ['-f', 'qcow2', '-o', 'extended_l2=on,cluster_size=16k,preallocation=metadata', 'F', '48M'] },
  { args: ['-f', 'qcow2', '-o', 'compression_type=zstd', 'F', '1G'] }, { args: ['-f', 'qcow2', '-o', 'compression_type=lz4', 'F', '1G'] },
  // data files
  { args: ['-f', 'qcow2', '-o', 'data_file=D', 'F', '64M'] },
  { args: ['-f', 'qcow2', '-o', 'data_file=D,data_file_raw=on', 'F', '64M'] },
  { args: ['-f', 'qcow2', '-o', 'data_file=D,preallocation=metadata', 'F', '64M'] },
  { args: ['-f', 'qcow2', '-o', 'data_file=D,data_file_raw=on,preallocation=full', 'F', '16M'] },
  { args: ['-f', 'qcow2', '-o', 'data_file=D,preallocation=falloc', 'F', '16M'] },
  { args: ['-f', 'qcow2', '-o', 'data_file_raw=on', 'F', '1G'] },
  // backing files
  { args: ['-f', 'qcow2', '-b', 'B', '-F', 'qcow2', 'F'] }, { args: ['-f', 'qcow2', '-b', 'B', '-F', 'qcow2', 'F', '2G'] },
  { args: ['-f', 'qcow2', '-b', 'B', '-F', 'qcow2', 'F', '512M'] }, { args: ['-f', 'qcow2', '-b', 'R', '-F', 'raw', 'F'] },
  { args: ['-f', 'qcow2', '-b', 'B', 'F'] }, { args: ['-f', 'qcow2', '-b', 'R', '-F', 'qcow2', 'F'] },
  { args: ['-f', 'qcow2', '-b', 'nonexist.qcow2', '-F', 'qcow2', 'F'] }, { args: ['-f', 'qcow2', '-u', '-b', 'nonexist.qcow2', '-F', 'qcow2', 'F', '1G'], opens: false },
  { args: ['-f', 'qcow2', '-u', '-b', 'nonexist.qcow2', '-F', 'qcow2', 'F'] }, { args: ['-f', 'qcow2', '-o', 'backing_fmt=qcow2', 'F', '1G'] },
  { args: ['-f', 'qcow2', '-b', 'B', '-F', 'bogus', 'F'] }, { args: ['-f', 'qcow2', '-u', '-b', 'x', '-F', 'bogus', 'F', '1G'] },
  { args: ['-f', 'raw', '-b', 'B', '-F', 'qcow2', 'F'] }, { args: ['-f', 'qcow2', '-b', 'B', '-F', 'qcow2', '-o', 'data_file=D', 'F'] },
  { args: ['-f', 'qcow2', '-b', 'B', '-F', 'qcow2', '-o', 'data_file=D,data_file_raw=on', 'F'] },
  { args: ['-f', 'qcow2', '-b', 'B', '-F', 'qcow2', '-o', 'preallocation=metadata', 'F'] },
  { args: ['-f', 'qcow2', '-b', 'B', '-F', 'qcow2', '-o', 'preallocation=metadata,extended_l2=on', 'F', '64M'] },
  { args: ['-f', 'qcow2', '-b', 'B', '-F', 'qcow2', '-o', 'cluster_size=4k', 'F'] },
  { args: ['-f', 'qcow2', '-o', 'backing_file=B,backing_fmt=qcow2', 'F'] },
  // option syntax
  { args: ['-f', 'qcow2', '-o', 'foo=bar', 'F', '1G'] }, { args: ['-f', 'raw', '-o', 'cluster_size=64k', 'F', '1G'] },
  { args: ['-f', 'qcow2', '-o', 'nocow=on', 'F', '1G'] }, { args: ['-f', 'raw', '-o', 'nocow=on', 'F', '1G'] },
  { args: ['-f', 'qcow2', '-o', 'cluster_size=64k', '-o', 'compat=0.10', 'F', '1M'] },
  { args: ['-f', 'qcow2', '-o', 'extent_size_hint=1M', 'F', '1M'] }, { args: ['-f', 'bogus', 'F', '1G'] },
  { args: ['-f', 'qcow2', '-o', 'encryption=on,encrypt.format=luks', 'F', '1M'] },
  { args: ['-f', 'qcow2', '-o', 'encrypt.cipher-alg=aes-256', 'F', '1M'] },
  { args: ['-f', 'qcow2', '-o', 'extent_size_hint=8G,compat=2.0', 'F', '1M'] },
  { args: ['-f', 'raw', '-o', 'extent_size_hint=8G,preallocation=metadata', 'F', '1M'] },
  { args: ['-f', 'raw', '-o', 'size=8E', 'F'] }, { args: ['-f', 'qcow2', '-o', 'help'] }, { args: ['-f', 'raw', '-o', 'help', 'F', '1M'] },
  { args: ['-f', 'qcow2', '-o', '?', 'F'] }, { args: ['-f', 'raw', 'F', '4E'] },
  { args: ['-f', 'qcow2', '-u', '-b', 'x'.repeat(1030), '-F', 'qcow2', 'F', '1M'] },
  { args: ['-f', 'qcow2', '-o', 'cluster_size=512', '-u', '-b', './'.repeat(300) + 'B', '-F', 'qcow2', 'F', '1M'] },
];

function run(cmd: string, args: string[], cwd?: string): { status: number; stdout: string; stderr: string } {
  const r = runOracle(cmd, args, { cwd }); // qemu-img's PBKDF benchmark flake is retried there
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function prepare(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  assert.equal(run('qemu-img', ['create', '-q', '-f', 'qcow2', 'B', '1G'], dir).status, 0);
  assert.equal(run('qemu-img', ['create', '-q', '-f', 'raw', 'R', '3M'], dir).status, 0);
}

function clean(dir: string): void {
  for (const f of fs.readdirSync(dir)) if (f !== 'B' && f !== 'R') fs.rmSync(join(dir, f), { force: true });
}

function infoJson(dir: string, file: string): unknown {
  const r = run('qemu-img', ['info', '--output=json', file], dir);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  delete j.filename;
  delete j['actual-size'];
  return j;
}

test('create matrix: same verdicts, messages and bytes as qemu-img 7.2', { skip, timeout: 600_000 }, async (t) => {
  const root = fs.mkdtempSync(join(os.tmpdir(), 'lv-matrix-'));
  const qd = join(root, 'q'), od = join(root, 'o');
  prepare(qd);
  prepare(od);
  let created = 0, refused = 0, compared = 0, listed = 0;
  try {
    for (const c of CASES) {
      await t.test(c.args.join(' '), async () => {
        clean(qd);
        clean(od);
        const q = run('qemu-img', ['create', ...c.args], qd);
        let out = '', err = '';
        const status = await runCreate([...c.args], { out: (s) => { out += s; }, err: (s) => { err += s; }, cwd: od, isTTY: false });
        assert.equal(status === 0, q.status === 0, `verdict: qemu-img rc ${q.status} (${q.stderr.trim()}), ours ${status} (${err.trim()})`);
        // Our own advice (relative data_file) is an addition, asserted where it is printed; qemu's
        // messages must be the same.
        const advice = /^libvirt-volume: warning: data_file '[^']*' is relative: .*\n/gm;
        if (c.args.some((a) => /data_file=[^/,]/.test(a)) && status === 0) assert.match(err, advice, 'relative data_file advice');
        assert.equal(err.replace(advice, '').replace(/^libvirt-volume: /gm, 'qemu-img: ').replace(/\n$/, ''), q.stderr.replace(/\n$/, ''), 'stderr');
        assert.equal(out, q.stdout, 'stdout (Formatting line)');
        // Deliberate difference: qemu-img leaves a 0-byte file after refusing raw metadata
        // preallocation (measured with qemu-img 7.2); the writer leaves nothing.
        const leftQ = fs.readdirSync(qd).filter((f) => q.status === 0 || fs.statSync(join(qd, f)).size > 0 || f !== 'F').sort();
        const leftO = fs.readdirSync(od).sort();
        assert.deepEqual(leftO, leftQ, 'files left behind');
        if (q.status !== 0) { refused++; return; }
        if (!fs.existsSync(join(qd, 'F'))) { listed++; return; } // `-o help`
        created++;
        const fmt = c.args[c.args.indexOf('-f') + 1];
        const qs = fs.statSync(join(qd, 'F')), os_ = fs.statSync(join(od, 'F'));
        assert.equal(os_.size, qs.size, 'file size');
        // qemu-img's own allocation varies by a few KiB between identical runs (measured: 2 of 12
        // runs of the extended_l2 16k metadata case gave 208 instead of 200 blocks): allow 8 KiB.
        assert.ok(Math.abs(os_.blocks - qs.blocks) <= 16, `allocated blocks: ours ${os_.blocks}, qemu-img ${qs.blocks}`);
        if (fmt === 'qcow2') {
          assert.equal(run('cmp', [join(qd, 'F'), join(od, 'F')]).status, 0, 'qcow2 bytes differ (cmp)');
          compared++;
        }
        if (c.opens === false) return;
        if (fmt === 'qcow2') {
          const chk = run('qemu-img', ['check', 'F'], od);
          assert.equal(chk.status, 0, `qemu-img check: ${chk.stdout}${chk.stderr}`);
        }
        if (fs.existsSync(join(qd, 'D'))) {
          assert.equal(run('cmp', [join(qd, 'D'), join(od, 'D')]).status, 0, 'data file bytes');
          assert.equal(fs.statSync(join(od, 'D')).blocks, fs.statSync(join(qd, 'D')).blocks, 'data file allocation');
        }
        assert.deepEqual(infoJson(od, 'F'), infoJson(qd, 'F'), 'qemu-img info');
        const bigEnough = (JSON.parse(run('qemu-img', ['info', '--output=json', 'F'], od).stdout) as { 'virtual-size': number })['virtual-size'] >= 65536;
        if (bigEnough) {
          const io = run('qemu-io', ['-f', fmt, '-c', 'write -P 0xab 0 64k', '-c', 'read -P 0xab 0 64k', 'F'], od);
          assert.equal(io.status, 0, io.stderr);
          assert.match(io.stdout, /read 65536\/65536 bytes/);
          assert.doesNotMatch(io.stdout + io.stderr, /Pattern verification failed/);
        }
      });
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  assert.ok(created >= 60 && refused >= 30, `matrix ran ${created} creations and ${refused} refusals`);
  t.diagnostic(`${CASES.length} cases: ${created} created (${compared} qcow2 byte-identical), ${refused} refused identically, ${listed} option listings`);
});

test('stricter than qemu-img: -F raw on a qcow2 base is refused; existing target and data file are kept', { skip }, async () => {
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'lv-strict-'));
  try {
    prepare(dir);
    const io = () => { const o = { out: '', err: '' }; return { o, io: { out: (s: string) => { o.out += s; }, err: (s: string) => { o.err += s; }, cwd: dir, isTTY: false } }; };
    const a = io();
    assert.equal(run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'B', '-F', 'raw', 'Q'], dir).status, 0, 'qemu-img accepts the mismatch');
    assert.equal(await runCreate(['-f', 'qcow2', '-b', 'B', '-F', 'raw', 'F'], a.io), 1);
    assert.match(a.o.err, /Backing format 'raw' does not match 'B', whose header says qcow2: use -F qcow2/);
    assert.ok(!fs.existsSync(join(dir, 'F')));

    fs.writeFileSync(join(dir, 'F'), 'keep me');
    const b = io();
    assert.equal(await runCreate(['-f', 'qcow2', 'F', '1G'], b.io), 1);
    assert.match(b.o.err, /the file exists; use --force/);
    assert.equal(fs.readFileSync(join(dir, 'F'), 'utf8'), 'keep me');
    fs.writeFileSync(join(dir, 'D'), 'data');
    const c = io();
    assert.equal(await runCreate(['-f', 'qcow2', '-o', 'data_file=D', 'G', '1G'], c.io), 1);
    assert.match(c.o.err, /the data file 'D' exists and qemu-img would truncate it/);
    assert.equal(fs.readFileSync(join(dir, 'D'), 'utf8'), 'data');
    assert.ok(!fs.existsSync(join(dir, 'G')));
    const d = io();
    assert.equal(await runCreate(['-q', '--force', '-f', 'qcow2', 'F', '1G'], d.io), 0, d.o.err);
    assert.equal(run('qemu-img', ['check', 'F'], dir).status, 0);
    // Size taken from the backing image's virtual size (qcow2 base of 1 GiB).
    const e = io();
    assert.equal(await runCreate(['-q', '-f', 'qcow2', '-b', 'B', '-F', 'qcow2', 'H'], e.io), 0, e.o.err);
    assert.equal((JSON.parse(run('qemu-img', ['info', '--output=json', 'H'], dir).stdout) as { 'virtual-size': number })['virtual-size'], 2 ** 30);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary files');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('qemu-io round trip through a backing file and an external data file made by the writer', { skip }, async () => {
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'lv-rt-'));
  const io = { out: () => {}, err: (s: string) => { throw new Error(s); }, cwd: dir, isTTY: false };
  try {
    assert.equal(await runCreate(['-q', '-f', 'qcow2', 'base.qcow2', '4M'], io), 0);
    let r = run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 0 64k', 'base.qcow2'], dir);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(await runCreate(['-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', 'top.qcow2'], io), 0);
    r = run('qemu-io', ['-f', 'qcow2', '-c', 'read -P 0x5a 0 64k', '-c', 'write -P 0xab 64k 64k', '-c', 'read -P 0xab 64k 64k', 'top.qcow2'], dir);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /verification failed/);
    assert.match(r.stdout, /read 65536\/65536 bytes at offset 65536/);
    const data = join(dir, 'd.raw');
    assert.equal(await runCreate(['-q', '-f', 'qcow2', '-o', `data_file=${data},data_file_raw=on`, 'ext.qcow2', '4M'], io), 0);
    r = run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xcd 128k 64k', '-c', 'read -P 0xcd 128k 64k', 'ext.qcow2'], dir);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /verification failed/);
    // data_file_raw: the data file alone is the disk.
    r = run('qemu-io', ['-f', 'raw', '-c', 'read -P 0xcd 128k 64k', data], dir);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /verification failed/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** Every metadata cluster (header, L1, L2 tables, refcount table and blocks) of a qcow2 file. */
function metadataOf(file: string): Map<number, Buffer> {
  const fd = fs.openSync(file, 'r');
  const read = (off: number, len: number) => { const b = Buffer.alloc(len); fs.readSync(fd, b, 0, len, off); return b; };
  try {
    const h = read(0, 104);
    const cs = 2 ** h.readUInt32BE(20);
    const out = new Map<number, Buffer>([[0, read(0, cs)]]);
    const l1Size = h.readUInt32BE(36), l1Off = Number(h.readBigUInt64BE(40));
    const l1 = read(l1Off, l1Size * 8);
    out.set(l1Off, l1);
    for (let i = 0; i < l1Size; i++) {
      const l2 = Number(l1.readBigUInt64BE(i * 8) & 0x00fffffffffffe00n);
      if (l2) out.set(l2, read(l2, cs));
    }
    const rtOff = Number(h.readBigUInt64BE(48)), rtClusters = h.readUInt32BE(56);
    const rt = read(rtOff, rtClusters * cs);
    out.set(rtOff, rt);
    for (let i = 0; i < rt.length / 8; i++) {
      const rb = Number(rt.readBigUInt64BE(i * 8));
      if (rb) out.set(rb, read(rb, cs));
    }
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

test('large metadata preallocation (host offsets past 4 GiB): every metadata cluster as qemu-img writes it', { skip, timeout: 300_000 }, async () => {
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'lv-big-'));
  try {
    assert.equal(run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'preallocation=metadata', 'q.qcow2', '6G'], dir).status, 0);
    const rc = await runCreate(['-q', '-f', 'qcow2', '-o', 'preallocation=metadata', 'o.qcow2', '6G'], { out: () => {}, err: () => {}, cwd: dir, isTTY: false });
    assert.equal(rc, 0);
    assert.equal(fs.statSync(join(dir, 'o.qcow2')).size, fs.statSync(join(dir, 'q.qcow2')).size);
    assert.equal(fs.statSync(join(dir, 'o.qcow2')).blocks, fs.statSync(join(dir, 'q.qcow2')).blocks);
    const q = metadataOf(join(dir, 'q.qcow2')), o = metadataOf(join(dir, 'o.qcow2'));
    assert.deepEqual([...o.keys()].sort((a, b) => a - b), [...q.keys()].sort((a, b) => a - b), 'metadata cluster offsets');
    assert.ok(q.size > 15, `${q.size} metadata clusters compared`);
    for (const [off, bytes] of q) assert.ok(bytes.equals(o.get(off)!), `metadata cluster at ${off}`);
    assert.equal(run('qemu-img', ['check', 'o.qcow2'], dir).status, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
