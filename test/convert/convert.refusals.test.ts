// `libvirt-volume convert` refuses what `qemu-img convert` (7.2) refuses: each command line is
// run through both, side by side, on images made by qemu-img and qemu-io; the exit status, stdout
// and stderr must be equal (modulo the program name), and our refusal leaves nothing on disk —
// also where qemu-img creates the output before failing (a bad -t, a missing backing file, -c
// with a data_file: then qemu-img's leftovers are listed in the test, and removed).
// Then what this tool refuses on purpose where qemu-img goes on: an existing output without
// --force, -n writing a qcow2 target as raw, corrupt input tables (named, with their offset).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { io, ok, run as oracleRun, skip, tmpdir } from '../reader/oracle';

const root = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
const CLI = join(root, 'bin', 'libvirt-volume.js');

function ours(dir: string, args: string[], input?: string) {
  const r = spawnSync(process.execPath, [CLI, 'convert', ...args], { cwd: dir, encoding: 'utf8', input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const listing = (dir: string) => fs.readdirSync(dir).sort();
/** qemu-img's text with our program name. */
const asOurs = (s: string) =>
  s.replace(/^qemu-img: /gm, 'libvirt-volume: ').replace("Try 'qemu-img --help'", "Try 'libvirt-volume convert --help'");

/** Builds the fixtures: every image by qemu-img / qemu-io. */
function fixtures(dir: string): void {
  const img = (...a: string[]) => ok('qemu-img', dir, 'create', '-q', ...a);
  fs.writeFileSync(join(dir, 'pw'), 'pw-convert');
  const secret = ['--object', 'secret,id=s0,file=pw'];
  img('-f', 'qcow2', 'a.qcow2', '4M');
  io(dir, 'a.qcow2', ['write -P 0x11 0 64k', 'write -P 0x12 1M 64k']);
  img('-f', 'raw', 'r.raw', '4M');
  img('-f', 'qcow2', 'small.qcow2', '1M');
  img('-f', 'luks', ...secret, '-o', 'key-secret=s0,iter-time=10', 'l.luks', '4M');
  img('-f', 'qcow2', ...secret, '-o', 'encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10', 'e.qcow2', '4M');
  // Chains whose backing file is missing (-u: qemu-img does not open it), one and two levels down.
  fs.mkdirSync(join(dir, 'sub'));
  img('-f', 'qcow2', '-u', '-b', 'gone.raw', '-F', 'raw', 'orphan.qcow2', '4M');
  img('-f', 'qcow2', '-u', '-b', 'gone.qcow2', '-F', 'qcow2', 'sub/mid.qcow2', '4M');
  img('-f', 'qcow2', '-u', '-b', 'mid.qcow2', '-F', 'qcow2', 'sub/top.qcow2', '4M');
}

test('convert refuses as qemu-img convert does: same status, same message, nothing left behind',
  { skip, timeout: 300_000 }, () => {
    const dir = tmpdir('convert-refusals');
    try {
      fixtures(dir);
      const before = listing(dir);
      const lo = 'driver=luks,key-secret=s0,file.filename=l.luks';
      const cases: { args: string[]; qemuLeaves?: string[] }[] = [
        // The command line.
        { args: ['-x', 'a.qcow2', 'out.img'] },
        { args: ['--bogus', 'a.qcow2', 'out.img'] },
        { args: ['--image-opts=x', 'a.qcow2', 'out.img'] },
        { args: ['a.qcow2', 'out.img', '-O'] },
        { args: ['--object'] },
        { args: ['-S', '100', 'a.qcow2', 'out.img'] },
        { args: ['-S', 'abc', 'a.qcow2', 'out.img'] },
        { args: ['-S', '32M', 'a.qcow2', 'out.img'] },
        { args: ['-S', '99999999999999999999', 'a.qcow2', 'out.img'] },
        { args: ['-m', '0', 'a.qcow2', 'out.img'] },
        { args: ['-m', '17', 'a.qcow2', 'out.img'] },
        { args: ['-m', '4x', 'a.qcow2', 'out.img'] },
        { args: ['-r', 'abc', 'a.qcow2', 'out.img'] },
        { args: ['--object', 'secret,id=s0,file=missing-pw', 'a.qcow2', 'out.img'] },
        { args: ['-C', '-c', '-O', 'qcow2', 'a.qcow2', 'out.img'] },
        { args: ['-C', '-S', '8k', 'a.qcow2', 'out.img'] },
        { args: ['--target-image-opts', 'a.qcow2', 'driver=qcow2,file.filename=out.img'] },
        { args: ['-n', '-O', 'qcow2', '-o', 'cluster_size=4k', 'a.qcow2', 'r.raw'] },
        { args: ['--target-is-zero', 'a.qcow2', 'out.img'] },
        { args: ['a.qcow2'] },
        { args: [] },
        { args: ['-o', 'help', '-O', 'foo'] },
        { args: ['-T', 'bogus', 'a.qcow2', 'out.img'] },
        // The input.
        { args: ['-O', 'qcow2', 'missing.qcow2', 'out.img'] },
        // -p: qemu-img's 0 % line comes after the command line's checks, then the newline of the end.
        { args: ['-p', '-O', 'qcow2', 'missing.qcow2', 'out.img'] },
        { args: ['-p', '-S', 'abc', 'a.qcow2', 'out.img'] },
        { args: ['-p', '-O', 'qcow2', '-o', 'foo=1', 'a.qcow2', 'out.img'] },
        { args: ['-f', 'qcow2', 'r.raw', 'out.img'] },
        { args: ['-f', 'foo', 'r.raw', 'out.img'] },
        { args: ['l.luks', 'out.img'] },
        { args: ['e.qcow2', 'out.img'] },
        { args: ['--object', 'secret,id=s0,data=wrong', '--image-opts', lo, 'out.img'] },
        { args: ['--object', 'secret,id=s0,data=wrong', '--image-opts', 'driver=qcow2,encrypt.key-secret=s0,file.filename=e.qcow2',
          'out.img'] },
        { args: ['--image-opts', 'driver=luks,key-secret=nope,file.filename=l.luks', 'out.img'] },
        { args: ['--image-opts', 'driver=qcow2,file.filename=missing.qcow2', 'out.img'] },
        { args: ['orphan.qcow2', 'out.img'] },
        { args: ['sub/top.qcow2', 'out.img'] },
        // The output format and its options.
        { args: ['-O', 'foo', 'a.qcow2', 'out.img'] },
        { args: ['-c', '-O', 'raw', 'a.qcow2', 'out.img'] },
        { args: ['-c', '-O', 'luks', '--object', 'secret,id=s0,file=pw', '-o', 'key-secret=s0', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'raw', '-B', 'a.qcow2', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'luks', '-F', 'raw', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'qcow2', '-B', 'a.qcow2', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'qcow2', '-o', 'backing_file=a.qcow2', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'qcow2', '-F', 'qcow2', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'qcow2', '-o', 'foo=1', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'raw', '-o', 'cluster_size=64k', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'luks', '-o', 'foo=1', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'qcow2', '-o', 'cluster_size=abc', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'qcow2', '-o', 'size=abc', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'qcow2', '-o', 'lazy_refcounts=maybe', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'qcow2', '-o', 'compat=v4', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'qcow2', '-o', 'cluster_size=3k', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'qcow2', '-o', 'extended_l2=on,cluster_size=4k', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'qcow2', '-o', 'compat=0.10,lazy_refcounts=on', 'a.qcow2', 'out.img'] },
        { args: ['-c', '-O', 'qcow2', '-o', 'preallocation=metadata', 'a.qcow2', 'out.img'] },
        { args: ['-c', '-O', 'qcow2', '-o', 'encrypt.format=luks', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'qcow2', '-o', 'encrypt.format=luks', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'qcow2', '-o', 'encryption=on', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'qcow2', '--object', 'secret,id=s0,file=pw', '-o',
          'encrypt.format=luks,encrypt.key-secret=s0,encrypt.cipher-alg=foo', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'luks', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'luks', '--object', 'secret,id=s0,file=pw', '-o', 'key-secret=s1', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'luks', '--object', 'secret,id=s0,file=pw', '-o', 'key-secret=s0,cipher-alg=foo', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'qcow2', 'a.qcow2', 'no-such-dir/out.img'] },
        // Preallocation and data files: qemu's create verdicts (a data file's folder included).
        { args: ['-O', 'qcow2', '-o', 'data_file_raw=on', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'qcow2', '-o', 'data_file=no-such-dir/out.data', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'qcow2', '-o', 'compat=0.10,data_file=out.data', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'qcow2', '-B', 'a.qcow2', '-F', 'qcow2', '-o', 'preallocation=metadata', 'a.qcow2', 'out.img'] },
        { args: ['-O', 'qcow2', '-B', 'a.qcow2', '-F', 'qcow2', '-o', 'data_file=out.data,data_file_raw=on', 'a.qcow2', 'out.img'] },
        { args: ['-c', '-O', 'qcow2', '-o', 'preallocation=falloc', 'a.qcow2', 'out.img'] },
        { args: ['-c', '-O', 'qcow2', '-o', 'data_file=out.data,data_file_raw=on', 'a.qcow2', 'out.img'],
          qemuLeaves: ['out.data', 'out.img'] },
        // Checked by qemu-img after it has created the output (which it leaves behind).
        { args: ['-t', 'bogus', 'a.qcow2', 'out.img'], qemuLeaves: ['out.img'] },
        { args: ['-O', 'qcow2', '-B', 'missing.raw', '-F', 'raw', 'a.qcow2', 'out.img'], qemuLeaves: ['out.img'] },
        { args: ['-c', '-O', 'qcow2', '-o', 'data_file=out.data', 'a.qcow2', 'out.img'], qemuLeaves: ['out.data', 'out.img'] },
        // An existing target (-n).
        { args: ['-n', '-O', 'qcow2', 'a.qcow2', 'missing.img'] },
        { args: ['-n', '-t', 'bogus', 'a.qcow2', 'missing.img'] },
        { args: ['-n', '-O', 'qcow2', 'a.qcow2', 'small.qcow2'] },
        { args: ['-n', '-c', 'a.qcow2', 'r.raw'] },
        { args: ['-n', '--target-image-opts', 'a.qcow2', 'driver=qcow2'] },
        { args: ['-n', '--target-image-opts', 'a.qcow2', 'driver=qcow2,file.filename=missing.img'] },
        { args: ['-n', '-O', 'qcow2', 'a.qcow2', 'r.raw'] },
        { args: ['-n', '--object', 'secret,id=s0,data=wrong', '--target-image-opts', 'a.qcow2',
          'driver=qcow2,encrypt.key-secret=s0,file.filename=e.qcow2'] },
        { args: ['-n', '-O', 'qcow2', 'a.qcow2', 'e.qcow2'] },
        { args: ['-n', '--object', 'secret,id=s0,data=wrong', '--target-image-opts', 'a.qcow2',
          'driver=luks,key-secret=s0,file.filename=l.luks'] },
      ];
      for (const c of cases) {
        const q = oracleRun('qemu-img', dir, ['convert', ...c.args]);
        const left = listing(dir).filter((f) => !before.includes(f));
        assert.deepEqual(left, c.qemuLeaves ?? [], `qemu-img convert ${c.args.join(' ')} left ${left}`);
        for (const f of left) fs.rmSync(join(dir, f));
        const o = ours(dir, c.args);
        const what = `convert ${c.args.join(' ')}\nours: ${o.status} ${o.stderr}\nqemu-img: ${q.status} ${q.stderr}`;
        assert.equal(q.status, 1, what);
        assert.equal(o.status, q.status, what);
        assert.equal(o.stdout, q.stdout, what);
        assert.equal(o.stderr, asOurs(q.stderr), what);
        assert.deepEqual(listing(dir), before, `ours left files: ${what}`);
      }
      // -o help: the output format's options (with a file name: the file protocol's too), exit 0.
      for (const args of [['-o', 'help'], ['-O', 'qcow2', '-o', 'help'], ['-O', 'luks', '-o', 'help'],
        ['-O', 'qcow2', '-o', 'help', 'a.qcow2', 'out.img'], ['-O', 'raw', '-o', '?', 'a.qcow2', 'out.img'],
        ['-O', 'luks', '-o', 'help', 'a.qcow2', 'out.img']]) {
        const q = oracleRun('qemu-img', dir, ['convert', ...args]);
        const o = ours(dir, args);
        assert.equal(q.status, 0);
        assert.deepEqual([o.status, o.stdout, o.stderr], [0, q.stdout, q.stderr], args.join(' '));
        assert.deepEqual(listing(dir), before);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

test('convert refuses where qemu-img goes on: existing output, -n over qcow2 as raw, corrupt tables',
  { skip, timeout: 300_000 }, () => {
    const dir = tmpdir('convert-stricter');
    try {
      fixtures(dir);
      const before = listing(dir);
      const refused = (args: string[], pattern: RegExp) => {
        const o = ours(dir, args);
        assert.equal(o.status, 1, `${args.join(' ')}: ${o.stderr}`);
        assert.match(o.stderr, pattern);
        assert.equal(o.stdout, '');
        assert.deepEqual(listing(dir), before, `${args.join(' ')} left files`);
        return o.stderr;
      };
      // qemu-img overwrites an existing output; we need --force.
      const bytes = fs.readFileSync(join(dir, 'small.qcow2'));
      refused(['-O', 'qcow2', 'a.qcow2', 'small.qcow2'], /^libvirt-volume: small\.qcow2: .*--force/m);
      assert.deepEqual(fs.readFileSync(join(dir, 'small.qcow2')), bytes);
      // -n without -O writes the target as raw: qemu-img writes guest data over the qcow2 metadata.
      fs.copyFileSync(join(dir, 'a.qcow2'), join(dir, 'big.qcow2'));
      ok('qemu-img', dir, 'resize', '-q', 'big.qcow2', '8M');
      before.push('big.qcow2');
      before.sort();
      refused(['-n', 'a.qcow2', 'big.qcow2'], /big\.qcow2: the target is a qcow2 image .*-O qcow2/);
      // -B with -n: qemu-img copies only the input's own clusters; refused here. With --target-is-zero
      // qemu-img prints this message and exits 0 having copied nothing.
      refused(['-n', '-B', 'a.qcow2', 'a.qcow2', 'r.raw'], /r\.raw: -B with -n .* is not supported/);
      refused(['-n', '--target-is-zero', '-B', 'a.qcow2', 'a.qcow2', 'r.raw'],
        /^libvirt-volume: Cannot use --target-is-zero when the destination image has a backing file\n$/);
      // -B with a backing format that contradicts the backing file's header (qemu-img accepts -F raw on a qcow2).
      refused(['-O', 'qcow2', '-B', 'a.qcow2', '-F', 'raw', 'a.qcow2', 'out.img'], /Backing format 'raw' does not match/);


      // An existing data file is kept (qemu-img truncates it); preallocation with -B (qemu: with
      // extended_l2 only) is not written yet.
      fs.writeFileSync(join(dir, 'keep.data'), 'keep me');
      before.push('keep.data');
      before.sort();
      refused(['-O', 'qcow2', '-o', 'data_file=keep.data', 'a.qcow2', 'out.img'],
        /^libvirt-volume: out\.img: the data file 'keep\.data' exists .*--force/m);
      assert.equal(fs.readFileSync(join(dir, 'keep.data'), 'utf8'), 'keep me');
      refused(['-O', 'qcow2', '-B', 'a.qcow2', '-F', 'qcow2', '-o', 'preallocation=metadata,extended_l2=on', 'a.qcow2', 'out.img'],
        /out\.img: preallocation=metadata with a backing file \(-B\) is not supported by this writer yet/);

      // Corrupt inputs: the file ends inside an L2 table; an L1 entry points past the end of the file.
      const b = fs.readFileSync(join(dir, 'a.qcow2'));
      const l1 = Number(b.readBigUInt64BE(40));
      const l2 = Number(b.readBigUInt64BE(l1) & 0x00fffffffffffe00n);
      fs.writeFileSync(join(dir, 'cut.qcow2'), b.subarray(0, l2 + 8));
      const past = Buffer.from(b);
      const beyond = Math.ceil((b.length + (1 << 20)) / 65536) * 65536;
      past.writeBigUInt64BE(BigInt(beyond) | (1n << 63n), l1);
      fs.writeFileSync(join(dir, 'l1past.qcow2'), past);
      before.push('cut.qcow2', 'l1past.qcow2');
      before.sort();
      for (const out of [['-O', 'raw'], ['-O', 'qcow2'], ['-O', 'qcow2', '-c']]) {
        refused([...out, 'cut.qcow2', 'out.img'], new RegExp(`cut\\.qcow2: L2 table .*at offset ${l2} .*past the end of the file`));
        refused([...out, 'l1past.qcow2', 'out.img'], new RegExp(`l1past\\.qcow2: L2 table .*at offset ${beyond} .*past the end`));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
