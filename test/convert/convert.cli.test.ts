// `libvirt-volume convert` (bin/libvirt-volume.js) on a matrix of inputs made by qemu-img and
// qemu-io only — raw with holes, qcow2 v2/v3 with patterns, zeroed ranges and compressed clusters
// (zlib, zstd), subclusters, an external data file, a 3-deep chain with zeros over backing data,
// LUKS and qcow2+LUKS — into raw, qcow2 (with options), -c, luks, qcow2+luks, -B and -n targets.
// Each output is run side by side with `qemu-img convert` on the same command line and checked
// with qemu's tools: `qemu-img compare` identical against the input and against qemu-img's output,
// `qemu-img check` clean, `qemu-img info` equal on format, size, cluster size, compat, encryption
// and backing file; for unencrypted qcow2 the `qemu-img map` data/zero pattern equals qemu-img's;
// raw outputs are as sparse as qemu-img's; LUKS outputs open in qemu-io and cryptsetup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { io, ok, qemuMap, run as oracleRun, skip, tmpdir } from '../reader/oracle';

const root = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
const CLI = join(root, 'bin', 'libvirt-volume.js');
const SECRET = ['--object', 'secret,id=s0,file=pw'];
const FAST = 'iter-time=10';

function ours(dir: string, args: string[], input?: string) {
  const r = spawnSync(process.execPath, [CLI, 'convert', ...args], { cwd: dir, encoding: 'utf8', input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** An image as the tools open it: plain name, or --image-opts for an encrypted one. */
interface Img {
  file: string;
  /** --image-opts string (encrypted images). */
  opts?: string;
}
const plain = (file: string): Img => ({ file });
const luks = (file: string): Img => ({ file, opts: `driver=luks,key-secret=s0,file.filename=${file}` });
const qluks = (file: string): Img => ({ file, opts: `driver=qcow2,encrypt.key-secret=s0,file.filename=${file}` });

function compare(dir: string, a: Img, b: Img): void {
  const enc = !!(a.opts || b.opts);
  const side = (i: Img) => (enc ? (i.opts ?? `driver=${info(dir, i).format},file.filename=${i.file}`) : i.file);
  const args = enc ? ['compare', ...SECRET, '--image-opts', side(a), side(b)] : ['compare', a.file, b.file];
  const r = oracleRun('qemu-img', dir, args);
  assert.equal(r.status, 0, `qemu-img ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  assert.equal(r.stdout, 'Images are identical.\n');
}

/** `qemu-img info` of each image once (every image of a test is written once, then only read). */
const infos = new Map<string, Record<string, any>>();
function info(dir: string, i: Img): Record<string, any> {
  const key = `${dir}/${i.file}`;
  const args = i.opts ? ['info', '--output=json', ...SECRET, '--image-opts', i.opts] : ['info', '--output=json', '-U', i.file];
  if (!infos.has(key)) infos.set(key, JSON.parse(ok('qemu-img', dir, ...args)));
  return infos.get(key)!;
}

/** What must be equal between two outputs in `qemu-img info`. */
function infoKey(dir: string, i: Img) {
  const j = info(dir, i);
  const spec = j['format-specific']?.data ?? {};
  return {
    format: j.format,
    size: j['virtual-size'],
    cluster: j['cluster-size'],
    compat: spec.compat,
    encrypted: !!j.encrypted,
    encryption: spec.encrypt?.format ?? (j.format === 'luks' ? 'luks' : undefined),
    cipher: spec.encrypt ? `${spec.encrypt['cipher-alg']}-${spec.encrypt['cipher-mode']}` : spec['cipher-alg'],
    backing: j['backing-filename'],
    backingFormat: j['backing-filename-format'],
    extendedL2: spec['extended-l2'],
    compression: spec['compression-type'],
    dataFile: spec['data-file'],
    lazy: spec['lazy-refcounts'],
  };
}

/** qemu-img map as data/zero runs (offsets in the file are qemu's own choice, so left out). */
function pattern(dir: string, file: string): string {
  const runs: string[] = [];
  for (const m of qemuMap(dir, ['-U', file]) as { start: number; length: number; data: boolean; zero?: boolean }[]) {
    const kind = m.data ? 'data' : m.zero ? 'zero' : 'hole';
    const last = runs[runs.length - 1];
    if (last?.startsWith(kind + '@')) {
      const [, s, e] = /@(\d+)-(\d+)/.exec(last)!;
      if (Number(e) === m.start) {
        runs[runs.length - 1] = `${kind}@${s}-${m.start + m.length}`;
        continue;
      }
    }
    runs.push(`${kind}@${m.start}-${m.start + m.length}`);
  }
  return runs.join(' ');
}

const blocks = (dir: string, f: string) => fs.statSync(join(dir, f)).blocks;

interface Case {
  name: string;
  input: Img;
  /** Options before the input (output format, -o, -c, -B …). */
  args: string[];
  /** How the output opens (encrypted outputs: with the secret). */
  out: (file: string) => Img;
  /** -n: the target qemu-img creates first (create arguments without the file name). */
  target?: string[];
  /** qemu's map of this output is not comparable (compressed, encrypted). */
  noMap?: boolean;
}

test('convert: a qemu-img/qemu-io-built matrix through the CLI agrees with qemu-img convert', { skip, timeout: 600_000 }, () => {
  const dir = tmpdir('convert-matrix');
  try {
    fs.writeFileSync(join(dir, 'pw'), 'pw-convert-matrix');
    const img = (...a: string[]) => ok('qemu-img', dir, 'create', '-q', ...a);
    const M = 1 << 20;
    const writes = ['write -P 0x41 0 64k', 'write -P 0x42 300k 5k', 'write -P 0x43 1M 1M', 'write -z 1536k 64k',
      'write -P 0x44 3M 4k', 'write -c -P 0x45 4M 64k', 'write -P 0x46 6143k 1k'];
    // raw with holes.
    img('-f', 'raw', 'in.raw', '6M');
    io(dir, 'in.raw', writes.filter((w) => !w.includes(' -c ')).map((w) => w.replace('-z ', '-P 0 ')), ['-f', 'raw']);
    // qcow2 v3 and v2, zstd-compressed, subclusters, external data file.
    img('-f', 'qcow2', 'in.qcow2', '6M');
    io(dir, 'in.qcow2', writes);
    img('-f', 'qcow2', '-o', 'compat=0.10', 'v2.qcow2', '6M');
    io(dir, 'v2.qcow2', writes.filter((w) => !w.includes('-z')));
    ok('qemu-img', dir, 'convert', '-c', '-O', 'qcow2', '-o', 'compression_type=zstd', 'in.qcow2', 'zstd.qcow2');
    img('-f', 'qcow2', '-o', 'extended_l2=on,cluster_size=128k', 'sub.qcow2', '6M');
    io(dir, 'sub.qcow2', ['write -P 0x51 4k 4k', 'write -P 0x52 1M 12k', 'write -z 1028k 4k', 'write -P 0x53 5M 130k']);
    img('-f', 'qcow2', '-o', `data_file=${join(dir, 'ext.data')}`, 'ext.qcow2', '6M');
    io(dir, 'ext.qcow2', ['write -P 0x61 0 100k', 'write -P 0x62 2M 64k']);
    // A 3-deep chain: raw base, qcow2 middle with zeros over base data, qcow2 top.
    img('-f', 'raw', 'base.raw', '6M');
    io(dir, 'base.raw', ['write -P 0x71 0 3M'], ['-f', 'raw']);
    img('-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', 'mid.qcow2', '6M');
    io(dir, 'mid.qcow2', ['write -P 0x72 1M 64k', 'write -z 2M 128k']);
    img('-f', 'qcow2', '-b', 'mid.qcow2', '-F', 'qcow2', 'top.qcow2', '6M');
    io(dir, 'top.qcow2', ['write -P 0x73 5M 64k', 'write -z 0 64k']);
    // LUKS and qcow2+LUKS.
    img('-f', 'luks', ...SECRET, '-o', `key-secret=s0,${FAST}`, 'in.luks', '6M');
    io(dir, luks('in.luks').opts!, writes.filter((w) => !w.includes(' -c ')), [...SECRET, '--image-opts']);
    img('-f', 'qcow2', ...SECRET, '-o', `encrypt.format=luks,encrypt.key-secret=s0,encrypt.${FAST}`, 'enc.qcow2', '6M');
    io(dir, qluks('enc.qcow2').opts!, writes.filter((w) => !w.includes(' -c ')), [...SECRET, '--image-opts']);

    const inputs = [plain('in.raw'), plain('in.qcow2'), plain('v2.qcow2'), plain('zstd.qcow2'), plain('sub.qcow2'),
      plain('ext.qcow2'), plain('top.qcow2'), luks('in.luks'), qluks('enc.qcow2')];
    const cases: Case[] = [];
    for (const input of inputs) {
      cases.push({ name: `${input.file} → raw`, input, args: ['-O', 'raw'], out: plain });
      cases.push({ name: `${input.file} → qcow2`, input, args: ['-O', 'qcow2'], out: plain, noMap: !!input.opts });
    }
    const a = plain('in.qcow2');
    cases.push(
      { name: 'qcow2 options', input: a, args: ['-O', 'qcow2', '-o', 'cluster_size=4k,compat=0.10'], out: plain },
      { name: 'qcow2 refcount_bits, 2M clusters', input: a, args: ['-O', 'qcow2', '-o', 'refcount_bits=8,cluster_size=2M'],
        out: plain },
      { name: 'qcow2 lazy_refcounts, subclusters', input: a, args: ['-O', 'qcow2', '-o', 'lazy_refcounts=on,extended_l2=on'],
        out: plain },
      { name: '-c zlib', input: a, args: ['-c', '-O', 'qcow2'], out: plain, noMap: true },
      { name: '-c from subclusters', input: plain('sub.qcow2'), args: ['-c', '-O', 'qcow2'], out: plain, noMap: true },
      { name: '-S 0', input: a, args: ['-S', '0', '-O', 'raw'], out: plain },
      { name: 'raw preallocation=falloc', input: plain('top.qcow2'), args: ['-O', 'raw', '-o', 'preallocation=falloc'],
        out: plain },
      { name: '-S 64k', input: plain('in.raw'), args: ['-S', '64k', '-O', 'qcow2'], out: plain },
      { name: '-B over the chain', input: plain('top.qcow2'), args: ['-O', 'qcow2', '-B', 'mid.qcow2', '-F', 'qcow2'],
        out: plain },
      { name: 'luks out', input: a, args: ['-O', 'luks', '-o', `key-secret=s0,${FAST}`], out: luks, noMap: true },
      { name: 'qcow2+luks out', input: a,
        args: ['-O', 'qcow2', '-o', `encrypt.format=luks,encrypt.key-secret=s0,encrypt.${FAST}`], out: qluks,
        noMap: true },
      { name: 'luks in → qcow2+luks out (serpent)', input: luks('in.luks'),
        args: ['-O', 'qcow2', '-o', `encrypt.format=luks,encrypt.key-secret=s0,encrypt.${FAST},encrypt.cipher-alg=serpent-256`],
        out: qluks, noMap: true },
      { name: '-n into luks', input: a, args: ['-n', '--target-image-opts'], out: luks,
        target: ['-f', 'luks', ...SECRET, '-o', `key-secret=s0,${FAST}`] },
      { name: '-n into qcow2', input: plain('top.qcow2'), args: ['-n', '-O', 'qcow2'], out: plain,
        target: ['-f', 'qcow2', '-o', 'cluster_size=16k'] },
      { name: '-n into qcow2+luks', input: a, args: ['-n', '--target-image-opts'], out: qluks, noMap: true,
        target: ['-f', 'qcow2', ...SECRET, '-o', `encrypt.format=luks,encrypt.key-secret=s0,encrypt.${FAST}`] },
      { name: '-n into raw', input: plain('top.qcow2'), args: ['-n'], out: plain, target: ['-f', 'raw'] },
    );

    for (const [n, c] of cases.entries()) {
      const mine = `o${n}.mine`,
        theirs = `o${n}.qemu`;
      const size = info(dir, c.input)['virtual-size'];
      if (c.target) for (const f of [mine, theirs]) img(...c.target, f, String(size));
      // The secret once, for an encrypted input, output or both.
      const secret = c.input.opts || c.out('x').opts ? SECRET : [];
      const argv = [...secret, ...c.args, ...(c.input.opts ? ['--image-opts', c.input.opts] : [c.input.file])];
      const target = (f: string) => (c.args.includes('--target-image-opts') ? c.out(f).opts! : f);
      const q = oracleRun('qemu-img', dir, ['convert', ...argv, target(theirs)]);
      assert.equal(q.status, 0, `${c.name}: qemu-img: ${q.stderr}`);
      const o = ours(dir, [...argv, target(mine)]);
      assert.equal(o.status, 0, `${c.name}: ${o.stderr}`);
      assert.equal(o.stdout, '', c.name);
      const out = c.out(mine);
      compare(dir, out, c.input);
      compare(dir, out, c.out(theirs));
      assert.deepEqual(infoKey(dir, out), infoKey(dir, c.out(theirs)), c.name);
      const fmt = info(dir, out).format;
      if (fmt === 'qcow2') {
        const chk = oracleRun('qemu-img', dir, ['check', ...(out.opts ? [...SECRET, '--image-opts', out.opts] : [mine])]);
        assert.equal(chk.status, 0, `${c.name}: qemu-img check: ${chk.stdout}${chk.stderr}`);
        assert.match(chk.stdout, /No errors were found on the image\./);
        if (!c.noMap) assert.equal(pattern(dir, mine), pattern(dir, theirs), `${c.name}: qemu-img map`);
      }
      if (fmt === 'raw' && !c.target) {
        // As sparse as qemu-img's (one 4 KiB block of slack per MiB for allocation granularity).
        assert.ok(blocks(dir, mine) <= blocks(dir, theirs) + Math.ceil(size / M) * 8,
          `${c.name}: ${blocks(dir, mine)} blocks, qemu-img ${blocks(dir, theirs)}`);
      }
      if (fmt === 'luks') {
        const t = spawnSync('cryptsetup', ['open', '--test-passphrase', '--key-file', 'pw', mine], { cwd: dir, encoding: 'utf8' });
        assert.equal(t.status, 0, `${c.name}: cryptsetup: ${t.stderr}`);
      }
      if (out.opts) {
        const r = ok('qemu-io', dir, ...SECRET, '--image-opts', '-c', 'read -P 0x41 0 64k', out.opts);
        assert.match(r, /read 65536\/65536 bytes/, c.name);
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('convert: -p progress as qemu-img, -q, one-command encryption, --passphrase-stdin, AES migration, --force',
  { skip, timeout: 300_000 }, () => {
    const dir = tmpdir('convert-cli');
    try {
      ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', 'plain.qcow2', '8M');
      io(dir, 'plain.qcow2', ['write -P 0x41 0 64k', 'write -P 0x42 5M 1M']);
      const p = ours(dir, ['-p', '-O', 'raw', 'plain.qcow2', 'p.raw']);
      const q = oracleRun('qemu-img', dir, ['convert', '-p', '-O', 'raw', 'plain.qcow2', 'q.raw']);
      assert.equal(p.status, 0, p.stderr);
      const steps = (s: string) => s.split('\r').filter((x) => x !== '\n' && x !== '');
      for (const s of [p.stdout, q.stdout]) {
        assert.match(s, /^ {4}\(0\.00\/100%\)\r/);
        assert.match(s, / {4}\(100\.00\/100%\)\r\n$/);
        for (const step of steps(s)) assert.match(step, /^ {4}\(\d{1,3}\.\d\d\/100%\)$/);
      }
      const quiet = ours(dir, ['-p', '-q', '-O', 'raw', 'plain.qcow2', 'q2.raw']);
      assert.deepEqual([quiet.status, quiet.stdout, quiet.stderr], [0, '', '']);
      // The README's recipe: the passphrase from a file, no key-secret needed.
      fs.writeFileSync(join(dir, 'pw'), 'pw-convert-matrix');
      const e = ours(dir, ['--passphrase-file', 'pw', '-O', 'qcow2', '-o', `encrypt.format=luks,encrypt.${FAST}`, 'plain.qcow2',
        'secret.qcow2']);
      assert.equal(e.status, 0, e.stderr);
      compare(dir, qluks('secret.qcow2'), plain('plain.qcow2'));
      // --passphrase-stdin decrypts it again (the input names no key-secret).
      const d = ours(dir, ['--passphrase-stdin', '-O', 'raw', 'secret.qcow2', 'back.raw'], 'pw-convert-matrix\n');
      assert.equal(d.status, 0, d.stderr);
      compare(dir, plain('back.raw'), plain('plain.qcow2'));
      // Migrating away from legacy qcow2 AES: read only with --allow-insecure-aes, written as qcow2+LUKS.
      ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', ...SECRET, '-o', 'encrypt.format=aes,encrypt.key-secret=s0', 'aes.qcow2', '4M');
      const aes = 'driver=qcow2,encrypt.key-secret=s0,file.filename=aes.qcow2';
      io(dir, aes, ['write -P 0x41 0 64k', 'write -P 0x42 3M 5k'], [...SECRET, '--image-opts']);
      const migrate = [...SECRET, '--image-opts', aes, '-O', 'qcow2', '-o', `encrypt.format=luks,encrypt.key-secret=s0,encrypt.${FAST}`,
        'migrated.qcow2'];
      const refusedAes = ours(dir, migrate);
      assert.equal(refusedAes.status, 1);
      assert.match(refusedAes.stderr, /legacy qcow2 AES encryption is insecure; pass --allow-insecure-aes/);
      assert.equal(fs.existsSync(join(dir, 'migrated.qcow2')), false);
      const m = ours(dir, ['--allow-insecure-aes', ...migrate]);
      assert.equal(m.status, 0, m.stderr);
      compare(dir, qluks('migrated.qcow2'), { file: 'aes.qcow2', opts: aes });
      assert.equal(infoKey(dir, qluks('migrated.qcow2')).encryption, 'luks');
      // An existing output needs --force; with it, it is replaced.
      assert.equal(ours(dir, ['-O', 'raw', 'plain.qcow2', 'back.raw']).status, 1);
      const f = ours(dir, ['--force', '-O', 'qcow2', 'plain.qcow2', 'back.raw']);
      infos.delete(`${dir}/back.raw`);
      assert.equal(f.status, 0, f.stderr);
      assert.equal(info(dir, plain('back.raw')).format, 'qcow2');
      assert.deepEqual(fs.readdirSync(dir).filter((x) => x.startsWith('.')), [], 'no temporary file left');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

test('convert: Ctrl+C during the copy exits 130 and leaves no output and no temporary file', { skip, timeout: 120_000 },
  async () => {
    const dir = tmpdir('convert-sigint');
    try {
      ok('qemu-img', dir, 'create', '-q', '-f', 'raw', 'big.raw', '256M');
      // -S 0: every byte is written, so the copy lasts long enough to be interrupted.
      const child = spawn(process.execPath, [CLI, 'convert', '-p', '-S', '0', '-O', 'qcow2', 'big.raw', 'out.qcow2'],
        { cwd: dir });
      let out = '';
      const status = await new Promise<number | null>((done) => {
        child.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          // Interrupted once the copy has made progress past 0 %.
          if (/\((?!0\.00)\d+\.\d\d\/100%\)/.test(out) && !child.killed) child.kill('SIGINT');
        });
        child.on('close', (code) => done(code));
      });
      assert.match(out, /\((?!0\.00)\d+\.\d\d\/100%\)/, 'the copy had started');
      assert.doesNotMatch(out, /100\.00\/100%/, 'interrupted before the end');
      assert.equal(status, 130);
      assert.deepEqual(fs.readdirSync(dir), ['big.raw']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
