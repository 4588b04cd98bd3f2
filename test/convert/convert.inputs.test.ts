// `libvirt-volume convert IN1 IN2 … OUT`: several inputs concatenated as qemu-img 7.2 does
// (img_convert: the inputs' sizes in whole sectors summed, each read at its own offset; a raw
// input of 1000 bytes is followed by 24 zero bytes). Inputs by qemu-img / qemu-io only: qcow2 with
// data and zeroed ranges, a raw file not a multiple of 512, a qcow2 over a backing file, a LUKS
// image. Each output is run side by side with `qemu-img convert` on the same command line:
// identical (`qemu-img compare`), same virtual size, raw outputs byte for byte, qcow2 outputs with
// qemu-img's data / zero map, `qemu-img check` clean. qemu-img's refusal of -B with several inputs
// is checked side by side.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { io, ok, run as oracleRun, skip, tmpdir } from '../reader/oracle';
import { SECRET, ours, asOurs, mapPattern } from './convertCli';

/** qemu-img map as data / zero runs (host offsets are each writer's own). */

const size = (dir: string, f: string) =>
  JSON.parse(ok('qemu-img', dir, 'info', '--output=json', '-U', f))['virtual-size'] as number;

test('convert with several inputs concatenates them as qemu-img convert does', { skip, timeout: 600_000 }, () => {
  const dir = tmpdir('convert-inputs');
  try {
    fs.writeFileSync(join(dir, 'pw'), 'pw-convert-inputs');
    ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', 'a.qcow2', '1M');
    io(dir, 'a.qcow2', ['write -P 0xa1 0 64k', 'write -z 128k 64k', 'write -P 0xa2 1020k 4k']);
    fs.writeFileSync(join(dir, 'odd.raw'), Buffer.alloc(1000, 0x5a));
    ok('qemu-img', dir, 'create', '-q', '-f', 'raw', 'base.raw', '2M');
    io(dir, 'base.raw', ['write -P 0xb0 0 2M'], ['-f', 'raw']);
    ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', 'b.qcow2', '2M');
    io(dir, 'b.qcow2', ['write -P 0xb1 64k 64k', 'write -z 1M 128k']);
    ok('qemu-img', dir, 'create', '-q', '-f', 'raw', 'hole.raw', '3M');
    io(dir, 'hole.raw', ['write -P 0xc1 2M 8k'], ['-f', 'raw']);

    const cases: { name: string; inputs: string[]; args: string[]; out: string; n?: string[] }[] = [
      { name: 'qcow2+raw+chain -> raw', inputs: ['a.qcow2', 'odd.raw', 'b.qcow2'], args: ['-O', 'raw'], out: 'o1.raw' },
      { name: 'the same -> qcow2', inputs: ['a.qcow2', 'odd.raw', 'b.qcow2'], args: ['-O', 'qcow2'], out: 'o2.qcow2' },
      { name: 'raw+raw -> raw', inputs: ['odd.raw', 'hole.raw', 'odd.raw'], args: ['-O', 'raw'], out: 'o3.raw' },
      { name: '-c', inputs: ['a.qcow2', 'hole.raw'], args: ['-O', 'qcow2', '-c'], out: 'o4.qcow2' },
      { name: '-S 0 -> qcow2 v2', inputs: ['hole.raw', 'a.qcow2'], args: ['-O', 'qcow2', '-o', 'compat=0.10', '-S', '0'],
        out: 'o5.qcow2' },
      { name: '-n into a qcow2', inputs: ['b.qcow2', 'a.qcow2'], args: ['-n', '-O', 'qcow2'], out: 'o6.qcow2',
        n: ['-f', 'qcow2', 'o6.qcow2', '4M'] },
    ];
    for (const c of cases) {
      const ref = `ref-${c.out}`, mine = `mine-${c.out}`;
      if (c.n) {
        ok('qemu-img', dir, 'create', '-q', ...c.n);
        io(dir, c.out, ['write -P 0x77 0 4M']);
        fs.copyFileSync(join(dir, c.out), join(dir, ref));
        fs.copyFileSync(join(dir, c.out), join(dir, mine));
      }
      const r = oracleRun('qemu-img', dir, ['convert', ...c.args, ...c.inputs, ref]);
      assert.equal(r.status, 0, `${c.name}: qemu-img ${r.stderr}`);
      const o = ours(dir, [...c.args, ...c.inputs, mine]);
      assert.deepEqual([o.status, o.stdout, o.stderr], [0, '', ''], c.name);
      const cmp = oracleRun('qemu-img', dir, ['compare', ref, mine]);
      assert.equal(cmp.status, 0, `${c.name}: ${cmp.stdout}${cmp.stderr}`);
      assert.equal(size(dir, mine), size(dir, ref), `${c.name}: virtual size`);
      if (mine.endsWith('.raw')) {
        assert.ok(fs.readFileSync(join(dir, mine)).equals(fs.readFileSync(join(dir, ref))), `${c.name}: bytes`);
      } else {
        ok('qemu-img', dir, 'check', '-q', mine);
        if (!c.args.includes('-c')) assert.equal(mapPattern(dir, mine, false), mapPattern(dir, ref, false), `${c.name}: map`);
      }
    }
    // The concatenation itself, against the inputs: the 1000-byte raw file padded to 1024.
    ok('qemu-io', dir, '-f', 'raw', '-r', '-c', 'read -P 0xa1 0 64k', '-c', 'read -P 0x5a 1M 1000',
      '-c', 'read -P 0 1049576 24', '-c', 'read -P 0xb0 1049600 64k', '-c', 'read -P 0xb1 1115136 64k', 'mine-o1.raw');

    // LUKS among the inputs, the passphrase given once.
    ok('qemu-img', dir, 'create', '-q', ...SECRET, '-f', 'luks', '-o', 'key-secret=s0,iter-time=10', 'e.luks', '1M');
    ok('qemu-io', dir, ...SECRET, '--image-opts', '-c', 'write -P 0xe1 4k 8k',
      'driver=luks,key-secret=s0,file.filename=e.luks');
    const luksIn = ['--image-opts', 'driver=qcow2,file.filename=a.qcow2', 'driver=luks,key-secret=s0,file.filename=e.luks'];
    ok('qemu-img', dir, 'convert', ...SECRET, ...luksIn, '-O', 'raw', 'ref-o7.raw');
    const o = ours(dir, [...SECRET, ...luksIn, '-O', 'raw', 'mine-o7.raw']);
    assert.deepEqual([o.status, o.stderr], [0, ''], 'luks input');
    assert.ok(fs.readFileSync(join(dir, 'mine-o7.raw')).equals(fs.readFileSync(join(dir, 'ref-o7.raw'))), 'luks input');

    // qemu-img's refusals with several inputs, side by side; nothing left behind.
    const before = fs.readdirSync(dir).sort();
    for (const args of [
      ['-O', 'qcow2', '-B', 'base.raw', '-F', 'raw', 'a.qcow2', 'odd.raw', 'no.qcow2'],
      ['-O', 'qcow2', 'a.qcow2', 'missing.qcow2', 'no.qcow2'],
      ['-n', '-O', 'qcow2', 'a.qcow2', 'b.qcow2', 'a.qcow2'],
    ]) {
      const r = oracleRun('qemu-img', dir, ['convert', ...args]);
      const mine = ours(dir, args);
      assert.deepEqual([mine.status, mine.stderr], [r.status, asOurs(r.stderr)], args.join(' '));
      assert.deepEqual(fs.readdirSync(dir).sort(), before, `${args.join(' ')}: nothing left behind`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
