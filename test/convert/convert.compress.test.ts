// `libvirt-volume convert -c` (bin/libvirt-volume.js) side by side with qemu-img 7.2 convert -c, on
// inputs made by qemu-img and qemu-io (and raw files of seeded text and random bytes):
//  - compression_type=zstd outputs: `qemu-img check` clean, `qemu-img compare` identical with the
//    input and with qemu-img's output, `qemu-img info` says zstd, the `qemu-img map` data/zero
//    pattern and the allocated and compressed cluster counts of `qemu-img check` as qemu-img's;
//    qemu's own zstd clusters read back by this reader;
//  - -c with -n into an empty qcow2 made by `qemu-img create` (zlib, zstd, subclusters): the same;
//  - -c with encryption: a new qcow2+LUKS output refused with qemu-img's message; -c -n into an
//    empty qcow2+LUKS refused (qemu-img accepts it and stores the compressed clusters in clear:
//    shown below by inflating its cluster without the key), the target left as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { constants, inflateRawSync } from 'node:zlib';
import { io, ok, qemuMap, run as oracleRun, skip, tmpdir } from '../reader/oracle';

const root = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
const CLI = join(root, 'bin', 'libvirt-volume.js');
const SECRET = ['--object', 'secret,id=s0,file=pw'];
const K = 1024,
  M = 1 << 20,
  CS = 64 * K;

function ours(dir: string, args: string[]) {
  const r = spawnSync(process.execPath, [CLI, 'convert', ...args], { cwd: dir, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function qemu(dir: string, args: string[]) {
  return oracleRun('qemu-img', dir, ['convert', ...args]);
}

function identical(dir: string, a: string, b: string): void {
  const r = oracleRun('qemu-img', dir, ['compare', '-U', a, b]);
  assert.equal(r.status, 0, `qemu-img compare ${a} ${b}: ${r.stdout}${r.stderr}`);
}

interface Check {
  'check-errors': number;
  'allocated-clusters': number;
  'compressed-clusters'?: number;
  corruptions?: number;
  leaks?: number;
}

/** `qemu-img check --output=json`: no errors, the cluster counts. */
function check(dir: string, file: string): Check {
  const r = oracleRun('qemu-img', dir, ['check', '--output=json', file]);
  assert.equal(r.status, 0, `qemu-img check ${file}: ${r.stdout}${r.stderr}`);
  const c = JSON.parse(r.stdout) as Check;
  assert.equal(c['check-errors'], 0, `${file}: ${r.stdout}`);
  assert.ok(!c.corruptions && !c.leaks, `${file}: ${r.stdout}`);
  return c;
}

function info(dir: string, file: string): Record<string, any> {
  return JSON.parse(ok('qemu-img', dir, 'info', '--output=json', '-U', file));
}

/** qemu-img map as data/zero/hole runs (host offsets are each tool's own choice). */
function pattern(dir: string, file: string): string {
  const runs: [string, number, number][] = [];
  for (const m of qemuMap(dir, ['-U', file]) as { start: number; length: number; data: boolean; zero?: boolean }[]) {
    const kind = m.data ? 'data' : m.zero ? 'zero' : 'hole';
    const last = runs[runs.length - 1];
    if (last && last[0] === kind && last[2] === m.start) last[2] = m.start + m.length;
    else runs.push([kind, m.start, m.start + m.length]);
  }
  return runs.map(([k, s, e]) => `${k}@${s}-${e}`).join(' ');
}

/** Seeded bytes: xorshift32. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/**
 * A raw image of clusters of several kinds: English-like text (compresses well), random bytes
 * (does not compress: stored uncompressed), text with a random half (near the limit), zeros.
 */
function mixedRaw(size: number, seed: number): Buffer {
  const rnd = prng(seed);
  const words = ['volume', 'pool', 'qcow2', 'cluster', 'the', 'of', 'secret', 'luks', 'image', 'backing', 'zstd',
    'compress', 'header', 'table', 'guest', 'host', 'refcount', 'sector', 'a', 'and'];
  const b = Buffer.alloc(Math.ceil(size / CS) * CS);
  for (let c = 0; c * CS < size; c++) {
    const at = c * CS;
    const kind = c % 5;
    if (kind === 4) continue; // zeros
    if (kind === 1) {
      for (let i = 0; i < CS; i += 4) b.writeUInt32LE(rnd(), at + i);
      continue;
    }
    let p = at;
    while (p < at + CS) {
      const w = words[rnd() % words.length] + (rnd() % 7 === 0 ? '.\n' : ' ');
      p += b.write(w, p, Math.min(w.length, at + CS - p), 'latin1');
    }
    if (kind === 2) for (let i = CS / 2; i < CS; i += 4) b.writeUInt32LE(rnd(), at + i);
  }
  return b.subarray(0, size);
}

test('convert -c -o compression_type=zstd agrees with qemu-img 7.2 (check, compare, info, map, compressed counts)',
  { skip, timeout: 600_000 }, () => {
    const dir = tmpdir('convert-zstd');
    try {
      const img = (...a: string[]) => ok('qemu-img', dir, 'create', '-q', ...a);
      fs.writeFileSync(join(dir, 'mixed.raw'), mixedRaw(8 * M + 5 * 512, 7));
      // qcow2 inputs written by qemu-io: patterns, a zeroed range, a zlib cluster, a partial last cluster.
      img('-f', 'qcow2', 'in.qcow2', '6M');
      io(dir, 'in.qcow2', ['write -P 0x41 0 64k', 'write -P 0x42 300k 5k', 'write -P 0x43 1M 1M', 'write -z 1536k 64k',
        'write -c -P 0x45 4M 64k', 'write -P 0x46 6143k 1k']);
      img('-f', 'qcow2', '-o', 'extended_l2=on,cluster_size=128k', 'sub.qcow2', '6M');
      io(dir, 'sub.qcow2', ['write -P 0x51 4k 4k', 'write -P 0x52 1M 12k', 'write -z 1028k 4k', 'write -P 0x53 5M 130k']);
      // qemu's own zstd clusters (of mixed data: compressed and uncompressed clusters side by side).
      ok('qemu-img', dir, 'convert', '-c', '-O', 'qcow2', '-o', 'compression_type=zstd', 'mixed.raw', 'qzstd.qcow2');
      // A chain for -B: the output keeps mid.qcow2 as its backing file.
      img('-f', 'qcow2', 'mid.qcow2', '6M');
      io(dir, 'mid.qcow2', ['write -P 0x71 0 3M']);
      img('-f', 'qcow2', '-b', 'mid.qcow2', '-F', 'qcow2', 'top.qcow2', '6M');
      io(dir, 'top.qcow2', ['write -P 0x73 1M 64k', 'write -z 2M 128k', 'write -P 0x74 2200k 3k']);

      const z = ['-O', 'qcow2', '-o', 'compression_type=zstd'];
      const cases: { name: string; input: string; args: string[] }[] = [
        { name: 'qcow2 with patterns, zeros, a zlib cluster', input: 'in.qcow2', args: z },
        { name: 'mixed raw (text, random, half random, zeros)', input: 'mixed.raw', args: z },
        { name: "qemu's zstd clusters", input: 'qzstd.qcow2', args: z },
        { name: 'subclusters in and out, 128k clusters', input: 'sub.qcow2',
          args: ['-O', 'qcow2', '-o', 'compression_type=zstd,extended_l2=on,cluster_size=128k'] },
        { name: '4k clusters, refcount_bits=2', input: 'mixed.raw',
          args: ['-O', 'qcow2', '-o', 'compression_type=zstd,cluster_size=4k,refcount_bits=2'] },
        { name: '-B: the top image only, zeros over backing data', input: 'top.qcow2',
          args: [...z, '-B', 'mid.qcow2', '-F', 'qcow2'] },
      ];
      let compressedSeen = 0,
        plainSeen = 0;
      for (const [i, c] of cases.entries()) {
        const mine = `ours${i}.qcow2`,
          theirs = `qemu${i}.qcow2`;
        const o = ours(dir, ['-c', ...c.args, c.input, mine]);
        assert.deepEqual([o.status, o.stdout, o.stderr], [0, '', ''], c.name);
        const q = qemu(dir, ['-c', ...c.args, c.input, theirs]);
        assert.equal(q.status, 0, `${c.name}: ${q.stderr}`);
        const oc = check(dir, mine),
          qc = check(dir, theirs);
        identical(dir, c.input, mine);
        identical(dir, theirs, mine);
        const oi = info(dir, mine),
          qi = info(dir, theirs);
        assert.equal(oi['format-specific'].data['compression-type'], 'zstd', c.name);
        for (const k of ['virtual-size', 'cluster-size', 'backing-filename', 'backing-filename-format']) {
          assert.equal(oi[k], qi[k], `${c.name}: ${k}`);
        }
        assert.deepEqual(oi['format-specific'].data, qi['format-specific'].data, c.name);
        assert.equal(pattern(dir, mine), pattern(dir, theirs), `${c.name}: qemu-img map`);
        // The same clusters allocated; compressed where qemu-img's zstd compresses them (qemu may link
        // another zstd version: a cluster at the cluster_size - 1 limit could go either way).
        assert.equal(oc['allocated-clusters'], qc['allocated-clusters'], `${c.name}: allocated clusters`);
        const oComp = oc['compressed-clusters'] ?? 0,
          qComp = qc['compressed-clusters'] ?? 0;
        assert.ok(Math.abs(oComp - qComp) <= Math.max(1, qc['allocated-clusters'] / 100),
          `${c.name}: ${oComp} compressed clusters, qemu-img ${qComp}`);
        compressedSeen += oComp;
        plainSeen += oc['allocated-clusters'] - oComp;
      }
      assert.ok(compressedSeen > 0 && plainSeen > 0, 'both compressed and uncompressed clusters were written');

      // This reader reads qemu's zstd clusters (and its own) back: bytes as qemu-img convert -O raw.
      for (const f of ['qzstd.qcow2', 'ours1.qcow2']) {
        const o = ours(dir, ['-O', 'raw', f, `${f}.raw`]);
        assert.equal(o.status, 0, o.stderr);
        assert.ok(fs.readFileSync(join(dir, `${f}.raw`)).equals(fs.readFileSync(join(dir, 'mixed.raw')).subarray(0, 8 * M + 5 * 512)),
          `${f} read back`);
      }
      // compat=0.10 has no compression type: the same refusal as qemu-img's, nothing written.
      const args = ['-c', '-O', 'qcow2', '-o', 'compat=0.10,compression_type=zstd', 'in.qcow2', 'v2.qcow2'];
      const o = ours(dir, args),
        q = qemu(dir, args);
      assert.equal(q.status, 1);
      assert.equal(o.status, 1);
      assert.equal(o.stderr.replace(/^libvirt-volume: /, ''), q.stderr.replace(/^qemu-img: /, ''));
      assert.ok(!fs.existsSync(join(dir, 'v2.qcow2')));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

test('convert -n -c into an empty qcow2 made by qemu-img create agrees with qemu-img 7.2', { skip, timeout: 300_000 }, () => {
  const dir = tmpdir('convert-nc');
  try {
    fs.writeFileSync(join(dir, 'mixed.raw'), mixedRaw(4 * M, 11));
    ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', 'in.qcow2', '4M');
    io(dir, 'in.qcow2', ['write -P 0x41 0 64k', 'write -P 0x43 1M 1M', 'write -z 2M 64k', 'write -P 0x44 3M 4k']);
    const targets = [['-o', 'compression_type=zstd'], [], ['-o', 'compression_type=zstd,extended_l2=on'],
      ['-o', 'compat=0.10']];
    for (const input of ['in.qcow2', 'mixed.raw']) {
      for (const opts of targets) {
        const name = `${input} into qcow2 ${opts.join(' ')}`;
        ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', ...opts, 'mine.qcow2', '5M');
        fs.copyFileSync(join(dir, 'mine.qcow2'), join(dir, 'theirs.qcow2'));
        const o = ours(dir, ['-n', '-c', '-O', 'qcow2', input, 'mine.qcow2']);
        assert.deepEqual([o.status, o.stdout, o.stderr], [0, '', ''], name);
        const q = qemu(dir, ['-n', '-c', '-O', 'qcow2', input, 'theirs.qcow2']);
        assert.equal(q.status, 0, `${name}: ${q.stderr}`);
        const oc = check(dir, 'mine.qcow2'),
          qc = check(dir, 'theirs.qcow2');
        identical(dir, input, 'mine.qcow2');
        identical(dir, 'theirs.qcow2', 'mine.qcow2');
        assert.deepEqual(info(dir, 'mine.qcow2')['format-specific'], info(dir, 'theirs.qcow2')['format-specific'], name);
        // Zero ranges of the input are zero clusters in both (nothing reads as zero in an existing target).
        assert.equal(pattern(dir, 'mine.qcow2'), pattern(dir, 'theirs.qcow2'), `${name}: qemu-img map`);
        assert.equal(oc['allocated-clusters'], qc['allocated-clusters'], `${name}: allocated`);
        assert.ok(Math.abs((oc['compressed-clusters'] ?? 0) - (qc['compressed-clusters'] ?? 0)) <= 1, `${name}: compressed`);
        assert.ok((oc['compressed-clusters'] ?? 0) > 0, `${name}: compressed clusters written`);
        // Random clusters do not compress: stored as they are, as qemu-img stores them.
        if (input === 'mixed.raw') assert.ok(oc['allocated-clusters'] > (oc['compressed-clusters'] ?? 0), name);
        fs.rmSync(join(dir, 'mine.qcow2'));
        fs.rmSync(join(dir, 'theirs.qcow2'));
      }
    }
    // Into a qcow2 that holds clusters: qemu-img fails part-way (a compressed cluster cannot
    // overwrite an allocated one: EIO); ours refuses before writing, the target byte for byte as it was.
    ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', 'full.qcow2', '4M');
    io(dir, 'full.qcow2', ['write -P 0x5b 0 4M']);
    fs.copyFileSync(join(dir, 'full.qcow2'), join(dir, 'full2.qcow2'));
    const before = fs.readFileSync(join(dir, 'full.qcow2'));
    const qf = qemu(dir, ['-n', '-c', '-O', 'qcow2', 'in.qcow2', 'full2.qcow2']);
    assert.equal(qf.status, 1, qf.stderr);
    assert.match(qf.stderr, /Input\/output error/);
    const of = ours(dir, ['-n', '-c', '-O', 'qcow2', 'in.qcow2', 'full.qcow2']);
    assert.equal(of.status, 1);
    assert.match(of.stderr, /-c -n into a qcow2 that holds clusters is refused/);
    assert.ok(fs.readFileSync(join(dir, 'full.qcow2')).equals(before), 'the qcow2 target is untouched');
    // Into raw: qemu-img's refusal, the target untouched.
    fs.writeFileSync(join(dir, 't.raw'), Buffer.alloc(4 * M, 0x5a));
    const args = ['-n', '-c', '-O', 'raw', 'in.qcow2', 't.raw'];
    const o = ours(dir, args),
      q = qemu(dir, args);
    assert.deepEqual([o.status, q.status], [1, 1]);
    assert.equal(o.stderr.replace(/^libvirt-volume: /, ''), q.stderr.replace(/^qemu-img: /, ''));
    assert.ok(fs.readFileSync(join(dir, 't.raw')).equals(Buffer.alloc(4 * M, 0x5a)), 'the raw target is untouched');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('convert -c with encryption: qemu-img 7.2 refuses a new qcow2+LUKS output; -c -n into qcow2+LUKS refused here',
  { skip, timeout: 300_000 }, () => {
    const dir = tmpdir('convert-cenc');
    try {
      fs.writeFileSync(join(dir, 'pw'), 'pw-convert-compress');
      ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', 'in.qcow2', '1M');
      io(dir, 'in.qcow2', ['write -P 0x41 0 64k']);
      const listing = () => fs.readdirSync(dir).sort();
      const before = listing();
      // A new encrypted output: the same message as qemu-img, nothing created by either.
      for (const enc of [['-o', 'encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10'],
        ['-o', 'encryption=on,encrypt.key-secret=s0'],
        ['-o', 'compression_type=zstd,encrypt.format=luks,encrypt.key-secret=s0']]) {
        const args = ['-c', ...SECRET, '-O', 'qcow2', ...enc, 'in.qcow2', 'out.qcow2'];
        const o = ours(dir, args),
          q = qemu(dir, args);
        assert.deepEqual([o.status, q.status], [1, 1], enc.join(' '));
        assert.equal(q.stderr, 'qemu-img: Compression and encryption not supported at the same time\n');
        assert.equal(o.stderr, 'libvirt-volume: Compression and encryption not supported at the same time\n');
        assert.deepEqual(listing(), before);
      }
      // -n -c into an empty qcow2+LUKS: qemu-img 7.2 converts, and its compressed cluster is the
      // guest's data in clear (raw deflate, no key needed) — refused here, the target unchanged.
      const create = ['create', '-q', '-f', 'qcow2', ...SECRET, '-o', 'encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10'];
      ok('qemu-img', dir, ...create, 'mine.qcow2', '1M');
      ok('qemu-img', dir, ...create, 'theirs.qcow2', '1M');
      const target = (f: string) => `driver=qcow2,encrypt.key-secret=s0,file.filename=${f}`;
      const q = qemu(dir, ['-n', '-c', ...SECRET, '--target-image-opts', 'in.qcow2', target('theirs.qcow2')]);
      assert.equal(q.status, 0, q.stderr);
      const b = fs.readFileSync(join(dir, 'theirs.qcow2'));
      const l2 = Number(b.readBigUInt64BE(Number(b.readBigUInt64BE(40))) & 0x00fffffffffffe00n);
      const entry = b.readBigUInt64BE(l2);
      assert.equal(entry >> 62n, 1n, 'qemu-img wrote a compressed cluster');
      const host = Number(entry & ((1n << 54n) - 1n)); // 64 KiB clusters: 62 - (16 - 8) offset bits
      const clear = inflateRawSync(b.subarray(host, host + CS), { finishFlush: constants.Z_SYNC_FLUSH });
      assert.ok(clear.subarray(0, CS).equals(Buffer.alloc(CS, 0x41)), 'qemu-img stored the cluster unencrypted');
      const bytes = fs.readFileSync(join(dir, 'mine.qcow2'));
      const o = ours(dir, ['-n', '-c', ...SECRET, '--target-image-opts', 'in.qcow2', target('mine.qcow2')]);
      assert.equal(o.status, 1);
      assert.match(o.stderr, /-c into an encrypted qcow2 is refused: qemu-img 7\.2 would store the compressed clusters unencrypted/);
      assert.ok(fs.readFileSync(join(dir, 'mine.qcow2')).equals(bytes), 'the target is unchanged');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

test('the bundled CLI without its zstd.wasm: zstd -c refused before anything is written, zlib -c unaffected',
  { skip, timeout: 120_000 }, () => {
    const dir = tmpdir('convert-nowasm');
    try {
      // dist/cli.js alone in a folder: the bundle looks for zstd.wasm beside itself.
      fs.mkdirSync(join(dir, 'bundle'));
      fs.copyFileSync(join(root, 'dist', 'cli.js'), join(dir, 'bundle', 'cli.js'));
      fs.writeFileSync(join(dir, 'bundle', 'run.js'), "require('./cli.js').runCli();\n");
      ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', 'in.qcow2', '1M');
      io(dir, 'in.qcow2', ['write -P 0x41 0 64k']);
      const cli = (args: string[]) =>
        spawnSync(process.execPath, [join(dir, 'bundle', 'run.js'), 'convert', ...args], { cwd: dir, encoding: 'utf8' });
      const before = fs.readdirSync(dir).sort();
      const r = cli(['-c', '-O', 'qcow2', '-o', 'compression_type=zstd', 'in.qcow2', 'out.qcow2']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^libvirt-volume: zstd compression is not available: .*zstd\.wasm/);
      assert.deepEqual(fs.readdirSync(dir).sort(), before, 'nothing written');
      const z = cli(['-c', '-O', 'qcow2', 'in.qcow2', 'out.qcow2']);
      assert.equal(z.status, 0, z.stderr);
      identical(dir, 'in.qcow2', 'out.qcow2');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
