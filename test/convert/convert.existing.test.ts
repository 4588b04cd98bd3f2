// `libvirt-volume convert -n` into qcow2 / qcow2+LUKS targets that already hold clusters, and
// --target-is-zero. Every target is made by qemu-img and qemu-io (data, zeroed clusters, a backing
// file, compressed clusters, subclusters, LUKS), copied twice: `qemu-img convert -n` writes one,
// our CLI the other, on the same command line. The two must be `qemu-img compare`-identical over
// the whole target (the input over its head, the target's own bytes past the input's end, and with
// --target-is-zero where the input has zeros), `qemu-img check` clean, `qemu-img info` equal on the
// header's options, and for unencrypted targets `qemu-img map`'s data / zero / unallocated pattern
// equal. Refusals (internal snapshots, an external data file, a corrupt target table) leave the
// target byte for byte as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { io, ok, run as oracleRun, skip, tmpdir } from '../reader/oracle';
import { SECRET, ours, asOurs, mapPattern } from './convertCli';
import { convertImage } from '../../server/src/writer/convert';
import { WriterError } from '../../server/src/writer/errors';
import { nodeWriterIO } from '../../server/src/writer/nodeIO';
import { openImage } from '../../server/src/writer/reader/imageReader';

/** qemu-img map as data / zero / hole (unallocated) runs; host offsets are each writer's own. */

function infoKey(dir: string, args: string[]) {
  const j = JSON.parse(ok('qemu-img', dir, 'info', '--output=json', '-U', ...args));
  const spec = j['format-specific']?.data ?? {};
  return {
    size: j['virtual-size'],
    cluster: j['cluster-size'],
    compat: spec.compat,
    encrypted: !!j.encrypted,
    backing: j['backing-filename'],
    backingFormat: j['backing-filename-format'],
    extendedL2: spec['extended-l2'],
    compression: spec['compression-type'],
    lazy: spec['lazy-refcounts'],
    refcountBits: spec['refcount-bits'],
  };
}

function identical(dir: string, args: string[]): void {
  const r = oracleRun('qemu-img', dir, ['compare', ...args]);
  assert.equal(r.status, 0, `qemu-img compare ${args.join(' ')}: ${r.stdout}${r.stderr}`);
}

/** The inputs: a qcow2 with data, zeroed ranges and short runs; a raw file not a multiple of 512. */
function inputs(dir: string): void {
  ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', 'in.qcow2', '4M');
  io(dir, 'in.qcow2', ['write -P 0xaa 0 128k', 'write -z 1M 128k', 'write -P 0xbb 2M 64k', 'write -P 0xcc 3M 4k',
    'write -P 0xcd 3200k 8k', 'write -P 0xce 4092k 4k']);
  ok('qemu-img', dir, 'create', '-q', '-f', 'raw', 'base.raw', '6M');
  io(dir, 'base.raw', ['write -P 0x55 0 6M'], ['-f', 'raw']);
}

/** What the targets hold before the convert: data over the input's range and past it, zeros. */
const TARGET_WRITES = ['write -P 0x11 1M 3M', 'write -z 5M 64k', 'write -P 0x12 5200k 4k', 'write -P 0x13 5800k 200k'];

test('convert -n into a qcow2 holding clusters: the same target as qemu-img convert -n makes', { skip, timeout: 600_000 }, () => {
  const dir = tmpdir('convert-existing');
  try {
    fs.writeFileSync(join(dir, 'pw'), 'pw-convert-existing');
    inputs(dir);
    const cases: { name: string; create: string[]; enc?: boolean; extra?: string[]; compressed?: boolean }[] = [
      { name: 'v3', create: [] },
      { name: 'v2', create: ['-o', 'compat=0.10'] },
      { name: 'v3-backing', create: ['-b', 'base.raw', '-F', 'raw'] },
      { name: 'v2-backing', create: ['-o', 'compat=0.10', '-b', 'base.raw', '-F', 'raw'] },
      { name: 'ext-l2', create: ['-o', 'extended_l2=on,cluster_size=128k,lazy_refcounts=on,refcount_bits=8'] },
      { name: 'v3-S0', create: [], extra: ['-S', '0'] },
      { name: 'v3-target-is-zero', create: [], extra: ['--target-is-zero'] },
      { name: 'ext-l2-backing', create: ['-o', 'extended_l2=on', '-b', 'base.raw', '-F', 'raw'], extra: ['-S', '64k'] },
      { name: 'c4k', create: ['-o', 'cluster_size=4k'], extra: ['-S', '64k'] },
      { name: 'c2m-target-is-zero', create: ['-o', 'cluster_size=2M'], extra: ['--target-is-zero'] },
      { name: 'compressed', create: [], compressed: true },
      { name: 'luks', create: [...SECRET, '-o', 'encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10'], enc: true },
    ];
    const qluks = (f: string) => `driver=qcow2,encrypt.key-secret=s0,file.filename=${f}`;
    for (const c of cases) {
      const t = `${c.name}.qcow2`;
      ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', ...c.create, t, '6M');
      if (c.enc) ok('qemu-io', dir, ...SECRET, '--image-opts', qluks(t), ...TARGET_WRITES.flatMap((w) => ['-c', w]));
      else io(dir, t, TARGET_WRITES);
      if (c.compressed) {
        // Compressed clusters over the whole target (qemu-img convert -c), then rewritten over.
        ok('qemu-img', dir, 'convert', '-c', '-O', 'qcow2', t, `${c.name}.c.qcow2`);
        fs.renameSync(join(dir, `${c.name}.c.qcow2`), join(dir, t));
      }
      fs.chmodSync(join(dir, t), 0o640);
      const ref = `${c.name}.ref.qcow2`, mine = `${c.name}.mine.qcow2`;
      fs.copyFileSync(join(dir, t), join(dir, ref));
      fs.copyFileSync(join(dir, t), join(dir, mine));
      fs.chmodSync(join(dir, mine), 0o640);
      const target = (f: string) => (c.enc ? [...SECRET, '--target-image-opts', qluks(f)] : ['-O', 'qcow2', f]);
      const r = oracleRun('qemu-img', dir, ['convert', '-n', ...(c.extra ?? []), 'in.qcow2', ...target(ref)]);
      const o = ours(dir, ['-n', ...(c.extra ?? []), 'in.qcow2', ...target(mine)]);
      assert.equal(r.status, 0, `${c.name}: qemu-img ${r.stderr}`);
      assert.deepEqual([o.status, o.stdout, o.stderr], [0, '', ''], `${c.name}: ours`);
      if (c.enc) {
        identical(dir, [...SECRET, '--image-opts', qluks(ref), qluks(mine)]);
        ok('qemu-img', dir, 'check', '-q', ...SECRET, '--image-opts', qluks(mine));
      } else {
        identical(dir, [ref, mine]);
        ok('qemu-img', dir, 'check', '-q', mine);
        assert.equal(mapPattern(dir, mine), mapPattern(dir, ref), `${c.name}: map pattern`);
      }
      assert.deepEqual(infoKey(dir, [mine]), infoKey(dir, [ref]), `${c.name}: info`);
      assert.equal(fs.statSync(join(dir, mine)).mode & 0o777, 0o640, `${c.name}: the target's mode kept`);
      // The head is the input's; past it the target's own bytes (the 0x13 run) stay.
      const read = (...cmds: string[]) =>
        ok('qemu-io', dir, ...(c.enc ? [...SECRET, '--image-opts'] : []), '-r', ...cmds.flatMap((x) => ['-c', x]),
          c.enc ? qluks(mine) : mine);
      read('read -P 0xaa 0 128k', 'read -P 0x13 5800k 200k');
      // Where the input has zeros: zeros, or with --target-is-zero the target's 0x11 bytes (as qemu-img's).
      read(c.extra?.includes('--target-is-zero') ? 'read -P 0x11 1M 1M' : 'read -P 0 1M 1M');
    }
    // --target-is-zero into raw and raw LUKS targets (written in place): zeros of the input not written.
    ok('qemu-img', dir, 'create', '-q', '-f', 'raw', 'tz.raw', '6M');
    io(dir, 'tz.raw', TARGET_WRITES.map((w) => w.replace('-z ', '-P 0 ')), ['-f', 'raw']);
    ok('qemu-img', dir, 'create', '-q', ...SECRET, '-f', 'luks', '-o', 'key-secret=s0,iter-time=10', 'tz.luks', '6M');
    const lk = (f: string) => `driver=luks,key-secret=s0,file.filename=${f}`;
    ok('qemu-io', dir, ...SECRET, '--image-opts', ...TARGET_WRITES.flatMap((w) => ['-c', w]), lk('tz.luks'));
    for (const [t, target] of [
      ['tz.raw', (f: string) => ['-O', 'raw', f]],
      ['tz.luks', (f: string) => [...SECRET, '--target-image-opts', lk(f)]],
    ] as const) {
      const ref = `ref.${t}`, mine = `mine.${t}`;
      fs.copyFileSync(join(dir, t), join(dir, ref));
      fs.copyFileSync(join(dir, t), join(dir, mine));
      ok('qemu-img', dir, 'convert', '-n', '--target-is-zero', 'in.qcow2', ...target(ref));
      const o = ours(dir, ['-n', '--target-is-zero', 'in.qcow2', ...target(mine)]);
      assert.deepEqual([o.status, o.stderr], [0, ''], t);
      if (t === 'tz.raw') assert.ok(fs.readFileSync(join(dir, mine)).equals(fs.readFileSync(join(dir, ref))), t);
      else identical(dir, [...SECRET, '--image-opts', lk(ref), lk(mine)]);
    }
    // A target named through a symbolic link: the image it points to is rewritten, the link stays.
    fs.mkdirSync(join(dir, 'links'));
    fs.copyFileSync(join(dir, 'v3.qcow2'), join(dir, 'linked.qcow2'));
    fs.symlinkSync('../linked.qcow2', join(dir, 'links', 'l.qcow2'));
    assert.equal(ours(dir, ['-n', '-O', 'qcow2', 'in.qcow2', 'links/l.qcow2']).status, 0);
    assert.ok(fs.lstatSync(join(dir, 'links', 'l.qcow2')).isSymbolicLink());
    identical(dir, ['linked.qcow2', 'v3.ref.qcow2']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('convert -n into a qcow2: what a rebuild would lose or cannot read is refused, the target untouched', { skip, timeout: 300_000 }, () => {
  const dir = tmpdir('convert-existing-refusals');
  try {
    inputs(dir);
    const make = (name: string, ...create: string[]) => {
      ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', ...create, name, '6M');
      io(dir, name, TARGET_WRITES);
    };
    make('snap.qcow2');
    ok('qemu-img', dir, 'snapshot', '-c', 'before', 'snap.qcow2');
    make('df.qcow2', '-o', 'data_file=df.data');
    make('bitmap.qcow2');
    ok('qemu-img', dir, 'bitmap', '--add', 'bitmap.qcow2', 'b0');
    make('corrupt.qcow2');
    // The first L1 entry's L2 table moved past the end of the file.
    const l1 = Number(fs.readFileSync(join(dir, 'corrupt.qcow2')).readBigUInt64BE(40));
    const fd = fs.openSync(join(dir, 'corrupt.qcow2'), 'r+');
    const e = Buffer.alloc(8);
    e.writeBigUInt64BE((1n << 63n) | (1n << 40n));
    fs.writeSync(fd, e, 0, 8, l1);
    fs.closeSync(fd);
    const expect: [string, RegExp][] = [
      ['snap.qcow2', /internal snapshots \(1\) is not supported: they would be lost/],
      ['df.qcow2', /external data file is not supported/],
      ['bitmap.qcow2', /persistent dirty bitmaps is not supported/],
      ['corrupt.qcow2', /^libvirt-volume: corrupt\.qcow2: L2 table .*L1 table at offset/],
    ];
    for (const [file, message] of expect) {
      const before = fs.readFileSync(join(dir, file));
      const listing = fs.readdirSync(dir).sort();
      const o = ours(dir, ['-n', '-O', 'qcow2', 'in.qcow2', file]);
      assert.equal(o.status, 1, `${file}: ${o.stderr}`);
      assert.match(o.stderr, message, file);
      assert.ok(fs.readFileSync(join(dir, file)).equals(before), `${file}: untouched`);
      assert.deepEqual(fs.readdirSync(dir).sort(), listing, `${file}: nothing left behind`);
    }
    // qemu-img's own refusals (an image marked corrupt, --target-is-zero), side by side.
    ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', 'small.qcow2', '1M');
    make('marked.qcow2');
    const fd2 = fs.openSync(join(dir, 'marked.qcow2'), 'r+');
    fs.writeSync(fd2, Buffer.from([2]), 0, 1, 79); // incompatible_features bit 1: corrupt
    fs.closeSync(fd2);
    for (const args of [
      ['-n', '-O', 'qcow2', 'in.qcow2', 'marked.qcow2'],
      ['--target-is-zero', '-O', 'qcow2', 'in.qcow2', 'new.qcow2'],
      ['-n', '--target-is-zero', '-O', 'qcow2', 'in.qcow2', 'small.qcow2'],
    ]) {
      const r = oracleRun('qemu-img', dir, ['convert', ...args]);
      const o = ours(dir, args);
      assert.deepEqual([o.status, o.stderr], [r.status, asOurs(r.stderr)], args.join(' '));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('convert -n into a qcow2 cancelled mid-way or failing: the target exactly as it was, nothing left', { skip, timeout: 300_000 }, async () => {
  const dir = tmpdir('convert-existing-cancel');
  try {
    ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', 'in.qcow2', '16M');
    io(dir, 'in.qcow2', ['write -P 0x21 0 16M']);
    ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', 't.qcow2', '20M');
    io(dir, 't.qcow2', ['write -P 0x31 0 20M']);
    const before = fs.readFileSync(join(dir, 't.qcow2'));
    const listing = fs.readdirSync(dir).sort();
    const source = await openImage('in.qcow2', { io: nodeWriterIO(), cwd: dir });
    try {
      // Cancelled once the copy has written a few MiB (the rebuilt file exists by then).
      const ac = new AbortController();
      const job = { source, existing: { filename: 't.qcow2', format: 'qcow2' as const } };
      const onProgress = (p: { done: number; phase: string }) => {
        if (p.phase === 'data' && p.done >= 4 << 20) ac.abort();
      };
      await assert.rejects(convertImage(job, { io: nodeWriterIO(), cwd: dir, signal: ac.signal, onProgress }),
        (e: WriterError) => e.code === 'cancelled');
      assert.ok(fs.readFileSync(join(dir, 't.qcow2')).equals(before), 'cancelled: the target is as it was');
      assert.deepEqual(fs.readdirSync(dir).sort(), listing, 'cancelled: no temporary file left');
      // A write failing mid-way (the I/O's pwrite throws after 4 MiB): the same.
      const io0 = nodeWriterIO();
      let written = 0;
      const failing = {
        ...io0,
        async pwrite(fd: number, b: Uint8Array, at: number) {
          written += b.length;
          if (written > 4 << 20) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
          return io0.pwrite(fd, b, at);
        },
      };
      await assert.rejects(convertImage(job, { io: failing, cwd: dir }), /ENOSPC/);
      assert.ok(fs.readFileSync(join(dir, 't.qcow2')).equals(before), 'failed: the target is as it was');
      assert.deepEqual(fs.readdirSync(dir).sort(), listing, 'failed: no temporary file left');
    } finally {
      await source.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
