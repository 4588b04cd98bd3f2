// `libvirt-volume convert -r RATE`: writes to the output throttled to RATE bytes per second as
// qemu-img 7.2 throttles them (set_rate_limit: an average write rate on the target). 8 MiB of data
// at -r 2M cannot be written in less than about 3 s by either tool (the first 2 MiB chunk and a
// tenth of a second's burst are free); a loaded machine only makes both slower, so only that lower
// bound is asserted, side by side with qemu-img on the same command line, and the outputs compared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { io, ok, run as oracleRun, skip, tmpdir } from '../reader/oracle';
import { ours } from './convertCli';

test('convert -r limits the output write rate as qemu-img convert -r does', { skip, timeout: 120_000 }, () => {
  const dir = tmpdir('convert-rate');
  try {
    ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', 'in.qcow2', '8M');
    io(dir, 'in.qcow2', ['write -P 0x42 0 8M']);
    const timed = (run: () => { status: number | null; stderr: string }) => {
      const t0 = performance.now();
      const r = run();
      return { ...r, ms: performance.now() - t0 };
    };
    const q = timed(() => oracleRun('qemu-img', dir, ['convert', '-r', '2M', '-O', 'qcow2', 'in.qcow2', 'ref.qcow2']));
    const o = timed(() => ours(dir, ['-r', '2M', '-O', 'qcow2', 'in.qcow2', 'mine.qcow2']));
    assert.equal(q.status, 0, q.stderr);
    assert.deepEqual([o.status, o.stderr], [0, '']);
    assert.ok(q.ms >= 2500, `qemu-img -r 2M took ${q.ms} ms`);
    assert.ok(o.ms >= 2500, `ours -r 2M took ${o.ms} ms (qemu-img ${q.ms} ms)`);
    assert.equal(oracleRun('qemu-img', dir, ['compare', 'ref.qcow2', 'mine.qcow2']).status, 0);
    ok('qemu-img', dir, 'check', '-q', 'mine.qcow2');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
