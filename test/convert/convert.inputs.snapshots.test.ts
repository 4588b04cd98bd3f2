// `libvirt-volume convert -l …`: an internal snapshot of a qcow2 input (made by `qemu-img snapshot
// -c`) read as qemu-img 7.2 reads it (bdrv_snapshot_load_tmp: the snapshot's L1 table, the image's
// current size). Side by side with qemu-img on the same command line: -l NAME, -l ID,
// snapshot.id= / snapshot.name= (alone and together), a snapshot taken before the image grew past
// its L1 table, an encrypted input; the refusals (no such snapshot, a bad snapshot.* option, a raw
// input, -l NAME with several inputs) with qemu-img's status and message. Corrupt snapshot tables
// (the table or a snapshot's L1 table past the end of the file, a truncated entry) are refused
// naming the table and offset, nothing left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { io, ok, run as oracleRun, skip, tmpdir } from '../reader/oracle';
import { SECRET, ours, asOurs, mapPattern } from './convertCli';

test('convert -l reads an internal snapshot of a qcow2 input as qemu-img convert -l does', { skip, timeout: 600_000 }, () => {
  const dir = tmpdir('convert-snapshots');
  try {
    fs.writeFileSync(join(dir, 'pw'), 'pw-convert-snapshots');
    // s.qcow2: "first" at 2 MiB, then rewritten and grown to 1100 MiB (its L1 table grows past the
    // one "first" kept), "second" taken, then written again (the active view differs from both).
    ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', 's.qcow2', '2M');
    io(dir, 's.qcow2', ['write -P 0x01 0 64k', 'write -P 0x02 1M 4k', 'write -z 1536k 64k']);
    ok('qemu-img', dir, 'snapshot', '-c', 'first', 's.qcow2');
    ok('qemu-img', dir, 'resize', '-q', 's.qcow2', '1100M');
    io(dir, 's.qcow2', ['write -P 0x11 0 128k', 'write -z 1M 4k', 'write -P 0x12 1000M 64k']);
    ok('qemu-img', dir, 'snapshot', '-c', 'second', 's.qcow2');
    io(dir, 's.qcow2', ['write -P 0x21 0 64k', 'write -P 0x22 1050M 64k']);
    // An encrypted input with a snapshot.
    const eo = 'driver=qcow2,encrypt.key-secret=s0,file.filename=e.qcow2';
    ok('qemu-img', dir, 'create', '-q', ...SECRET, '-f', 'qcow2', '-o',
      'encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10', 'e.qcow2', '1M');
    ok('qemu-io', dir, ...SECRET, '--image-opts', '-c', 'write -P 0xe1 0 64k', eo);
    ok('qemu-img', dir, 'snapshot', ...SECRET, '--image-opts', '-c', 'enc1', eo);
    ok('qemu-io', dir, ...SECRET, '--image-opts', '-c', 'write -P 0xe2 0 64k', eo);

    const cases: string[][] = [
      ['-l', 'first', '-O', 'qcow2', 's.qcow2'],
      ['-l', '1', '-O', 'raw', 's.qcow2'],
      ['-l', 'snapshot.name=second', '-O', 'qcow2', 's.qcow2'],
      ['-l', 'snapshot.id=1', '-O', 'qcow2', '-o', 'compat=0.10', 's.qcow2'],
      ['-l', 'snapshot.id=2,snapshot.name=second', '-O', 'qcow2', 's.qcow2'],
      ['-l', 'snapshot.name=first', '-O', 'qcow2', 's.qcow2', 's.qcow2'],
      [...SECRET, '--image-opts', '-l', 'enc1', '-O', 'qcow2', eo],
    ];
    for (const [i, args] of cases.entries()) {
      const raw = args.includes('raw');
      const ref = `ref${i}.${raw ? 'raw' : 'qcow2'}`, mine = `mine${i}.${raw ? 'raw' : 'qcow2'}`;
      const r = oracleRun('qemu-img', dir, ['convert', ...args, ref]);
      assert.equal(r.status, 0, `${args.join(' ')}: qemu-img ${r.stderr}`);
      const o = ours(dir, [...args, mine]);
      assert.deepEqual([o.status, o.stdout, o.stderr], [0, '', ''], args.join(' '));
      const cmp = oracleRun('qemu-img', dir, ['compare', '-U', ref, mine]);
      assert.equal(cmp.status, 0, `${args.join(' ')}: ${cmp.stdout}${cmp.stderr}`);
      if (!raw) {
        ok('qemu-img', dir, 'check', '-q', mine);
        assert.equal(mapPattern(dir, mine, false), mapPattern(dir, ref, false), `${args.join(' ')}: map`);
      }
      fs.rmSync(join(dir, ref));
      fs.rmSync(join(dir, mine));
    }
    // The snapshot's content, not the active one's: "first" holds 0x01 / 0x02, nothing at 1000M.
    assert.equal(ours(dir, ['-l', 'first', '-O', 'raw', 's.qcow2', 'first.raw']).status, 0);
    ok('qemu-io', dir, '-f', 'raw', '-r', '-c', 'read -P 0x01 0 64k', '-c', 'read -P 0x02 1M 4k',
      '-c', 'read -P 0 1000M 64k', 'first.raw');
    fs.rmSync(join(dir, 'first.raw'));

    // Refusals, side by side; nothing left behind.
    ok('qemu-img', dir, 'create', '-q', '-f', 'raw', 'r.raw', '1M');
    const before = fs.readdirSync(dir).sort();
    for (const args of [
      ['-l', 'nosuch', 's.qcow2', 'o.raw'],
      ['-l', 'snapshot.id=2,snapshot.name=first', 's.qcow2', 'o.raw'],
      ['-l', 'snapshot.name=', 's.qcow2', 'o.raw'],
      ['-l', 'snapshot.foo=1', 's.qcow2', 'o.raw'],
      ['-l', 'first', 'r.raw', 'o.raw'],
      ['-l', 'snapshot.name=first', 'r.raw', 's.qcow2', 'o.raw'],
      ['-l', 'first', 's.qcow2', 'r.raw', 'o.raw'],
    ]) {
      const r = oracleRun('qemu-img', dir, ['convert', ...args]);
      const o = ours(dir, args);
      assert.deepEqual([o.status, o.stderr], [r.status, asOurs(r.stderr)], args.join(' '));
      for (const f of fs.readdirSync(dir)) if (!before.includes(f)) fs.rmSync(join(dir, f));
    }

    // Corrupt snapshot tables, named with their offset (qemu-img 7.2 opens a table past the end of
    // the file without a word: it reads zeros there).
    const head = fs.readFileSync(join(dir, 's.qcow2')).subarray(0, 72);
    const table = Number(head.readBigUInt64BE(64));
    const mutate = (name: string, at: number, value: bigint, bytes: 4 | 8) => {
      fs.copyFileSync(join(dir, 's.qcow2'), join(dir, name));
      const b = Buffer.alloc(bytes);
      if (bytes === 8) b.writeBigUInt64BE(value);
      else b.writeUInt32BE(Number(value));
      const fd = fs.openSync(join(dir, name), 'r+');
      fs.writeSync(fd, b, 0, bytes, at);
      fs.closeSync(fd);
    };
    const size = fs.statSync(join(dir, 's.qcow2')).size;
    mutate('table-past-end.qcow2', 64, BigInt(size + 65536 - (size % 65536)), 8);
    mutate('l1-past-end.qcow2', table, BigInt(size + 65536 - (size % 65536)), 8);
    mutate('extra-too-big.qcow2', table + 36, 4096n, 4);
    const listing = fs.readdirSync(dir).sort();
    for (const [file, message] of [
      ['table-past-end.qcow2', /snapshot table entry 0 at offset \d+ \(0x[0-9a-f]+\) \(40 bytes\) extends past the end/],
      ['l1-past-end.qcow2', /L1 table of snapshot table entry 0 at offset \d+ \(0x[0-9a-f]+\).*extends past the end/],
      ['extra-too-big.qcow2', /snapshot table entry 0 at offset \d+ \(0x[0-9a-f]+\): 4096 bytes of extra data/],
    ] as const) {
      const o = ours(dir, ['-l', 'first', '-O', 'raw', file, 'o.raw']);
      assert.equal(o.status, 1, file);
      assert.match(o.stderr, message, file);
      assert.deepEqual(fs.readdirSync(dir).sort(), listing, `${file}: nothing left behind`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
