// Fuzzing the image reader: headers, header extensions, L1 and L2 tables of real images (made by
// qemu-img/qemu-io) and LUKS headers are mutated at random (seeded, so a failure replays), then
// opened, mapped and read. Asserts: every failure is a WriterError ('corrupt' or 'refused') with
// a message naming the file, never another exception; no read is issued past the end of a file
// (the I/O is wrapped and checks each pread against the file's size).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { openImage, type ReaderIO } from '../../server/src/writer/reader/imageReader';
import { nodeWriterIO } from '../../server/src/writer/nodeIO';
import { WriterError } from '../../server/src/writer/errors';
import { LUKS1_HEADER, LUKS1_KEY_SLOT, LUKS1_KEY_SLOT_BYTES } from '../../server/src/writer/luks/luksFormat';
import { rng } from '../oracle/generator';
import { io, ok, skip, tmpdir } from './oracle';

/** nodeWriterIO with every read checked against the size of the file it reads. */
function guardedIO(violations: string[]): ReaderIO {
  const base = nodeWriterIO();
  const sizes = new Map<number, { size: number; path: string }>();
  return {
    stat: (p) => base.stat(p),
    fstat: (fd) => base.fstat!(fd),
    async open(p, mode) {
      const fd = await base.open(p, mode);
      sizes.set(fd, { size: fs.fstatSync(fd).size, path: p });
      return fd;
    },
    async close(fd) { sizes.delete(fd); await base.close(fd); },
    async pread(fd, length, offset) {
      const f = sizes.get(fd)!;
      if (offset < 0 || length < 0 || offset + length > f.size) violations.push(`${f.path}: read ${length} at ${offset} of ${f.size}`);
      return base.pread(fd, length, offset);
    },
  };
}

/** Byte ranges worth mutating in a qcow2 file: header cluster start, L1 table, L2 tables. */
function qcow2Targets(b: Buffer): [number, number][] {
  const t: [number, number][] = [[0, Math.min(b.length, 512)]];
  const l1 = Number(b.readBigUInt64BE(40)), l1Size = b.readUInt32BE(36);
  if (l1 + l1Size * 8 <= b.length) {
    t.push([l1, l1 + l1Size * 8]);
    for (let i = 0; i < l1Size; i++) {
      const l2 = Number(b.readBigUInt64BE(l1 + 8 * i) & 0x00fffffffffffe00n);
      if (l2 && l2 + 512 <= b.length) t.push([l2, l2 + 512]);
    }
  }
  return t;
}

function mutate(r: () => number, b: Buffer, targets: [number, number][]): Buffer {
  const m = Buffer.from(b);
  const n = 1 + Math.floor(r() * 4);
  for (let k = 0; k < n; k++) {
    const [s, e] = targets[Math.floor(r() * targets.length)];
    const at = s + Math.floor(r() * (e - s));
    const kind = r();
    if (kind < 0.4) m[at] ^= 1 << Math.floor(r() * 8);
    else if (kind < 0.7) m[at] = Math.floor(r() * 256);
    else {
      // A whole aligned 64-bit entry: an interesting value or random bits.
      const o = Math.min(e - 8, at - (at % 8));
      const pick = [0n, 0xffffffffffffffffn, BigInt(b.length), BigInt(b.length) - 512n, 1n << 62n, 0x8000000000000000n | BigInt(b.length * 2)];
      const v = r() < 0.5 ? pick[Math.floor(r() * pick.length)] : BigInt(Math.floor(r() * 2 ** 32)) << BigInt(Math.floor(r() * 32));
      if (o >= 0) m.writeBigUInt64BE(BigInt.asUintN(64, v), o);
    }
  }
  return m;
}

async function exercise(
  dir: string,
  file: string,
  violations: string[],
  passphrase?: Buffer,
  snapshot?: { idOrName: string },
): Promise<string> {
  try {
    const r = await openImage(file, { io: guardedIO(violations), cwd: dir, passphrase, snapshot });
    try {
      const n = Math.min(r.virtualSize, 4 << 20);
      await r.readBlockStatus(0, n);
      const buf = new Uint8Array(1 << 20);
      for (let o = 0; o < n; o += buf.length) await r.read(o, buf.subarray(0, Math.min(buf.length, n - o)));
      return 'read';
    } finally {
      await r.close();
    }
  } catch (e) {
    assert.ok(e instanceof WriterError, `${file}: not a WriterError: ${(e as Error)?.stack ?? e}`);
    assert.ok(['corrupt', 'refused'].includes(e.code), `${file}: code ${e.code}: ${e.message}`);
    assert.ok(e.message.length > 10 && !/undefined|NaN/.test(e.message), `${file}: unclear message: ${e.message}`);
    return e.code;
  }
}

test('fuzzed qcow2 headers, extensions, L1 and L2 tables: clear errors only, no read past the end',
  { skip, timeout: 300_000 }, async () => {
    const dir = tmpdir('fuzz');
    try {
      const img = (...a: string[]) => ok('qemu-img', dir, 'create', '-q', ...a);
      img('-f', 'raw', 'base.raw', '4M');
      io(dir, 'base.raw', ['write -P 0x10 0 4M'], ['-f', 'raw']);
      img('-f', 'qcow2', '-o', 'cluster_size=4096', 'v3.qcow2', '4M');
      io(dir, 'v3.qcow2', ['write -P 0x11 0 64k', 'write -c -P 0x12 1M 8k', 'write -z 2M 8k', 'write -P 0x13 3M 100k']);
      img('-f', 'qcow2', '-o', 'compat=0.10,cluster_size=512', 'v2.qcow2', '2M');
      io(dir, 'v2.qcow2', ['write -P 0x21 0 10k', 'write -c -P 0x22 1M 4k']);
      img('-f', 'qcow2', '-o', 'extended_l2=on,cluster_size=16k', '-b', 'base.raw', '-F', 'raw', 'ext.qcow2', '4M');
      io(dir, 'ext.qcow2', ['write -P 0x31 4k 4k', 'write -z 40k 2k', 'write -c -P 0x32 1M 16k']);
      img('-f', 'qcow2', '-o', 'compression_type=zstd,cluster_size=8k', 'zstd.qcow2', '4M');
      io(dir, 'zstd.qcow2', ['write -c -P 0x41 0 64k', 'write -P 0x42 1M 8k']);
      img('-f', 'qcow2', '-o', 'data_file=df.img,cluster_size=4k', 'df.qcow2', '4M');
      io(dir, 'df.qcow2', ['write -P 0x51 8k 20k']);
      const outcomes = new Map<string, number>();
      const violations: string[] = [];
      // FUZZ_SEED replays or widens a run (3,000 mutants per image were run clean while writing this).
      const r = rng(Number(process.env.FUZZ_SEED ?? 20261205));
      for (const src of ['v3.qcow2', 'v2.qcow2', 'ext.qcow2', 'zstd.qcow2', 'df.qcow2']) {
        const b = fs.readFileSync(join(dir, src));
        const targets = qcow2Targets(b);
        for (let i = 0; i < 100; i++) {
          const name = `m-${i}-${src}`;
          fs.writeFileSync(join(dir, name), mutate(r, b, targets));
          const what = await exercise(dir, name, violations);
          outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
          fs.rmSync(join(dir, name));
        }
        // Truncated at random points as well: the file ends inside a table or a cluster.
        for (let i = 0; i < 10; i++) {
          const name = `t-${i}-${src}`;
          fs.writeFileSync(join(dir, name), b.subarray(0, Math.floor(r() * b.length)));
          const what = await exercise(dir, name, violations);
          outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
          fs.rmSync(join(dir, name));
        }
      }
      assert.deepEqual(violations, []);
      // The fuzzer reached both sides: some mutants still read, many are refused as corrupt.
      assert.ok((outcomes.get('read') ?? 0) > 0 && (outcomes.get('corrupt') ?? 0) > 0, JSON.stringify([...outcomes]));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

test('fuzzed qcow2 snapshot tables (convert -l): clear errors only, no read past the end',
  { skip, timeout: 300_000 }, async () => {
    const dir = tmpdir('fuzz-snapshots');
    try {
      ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', 's.qcow2', '2M');
      io(dir, 's.qcow2', ['write -P 0x61 0 64k', 'write -P 0x62 1M 8k']);
      ok('qemu-img', dir, 'snapshot', '-c', 'one', 's.qcow2');
      io(dir, 's.qcow2', ['write -P 0x63 0 8k']);
      ok('qemu-img', dir, 'snapshot', '-c', 'two', 's.qcow2');
      const b = fs.readFileSync(join(dir, 's.qcow2'));
      // nb_snapshots and snapshots_offset, the table (two entries), each snapshot's L1 table.
      const table = Number(b.readBigUInt64BE(64));
      const targets: [number, number][] = [[60, 72], [table, table + 128]];
      for (let o = table, i = 0; i < 2; i++) {
        const l1 = Number(b.readBigUInt64BE(o)), l1Size = b.readUInt32BE(o + 8);
        targets.push([l1, l1 + l1Size * 8]);
        o += Math.ceil((40 + b.readUInt32BE(o + 36) + b.readUInt16BE(o + 12) + b.readUInt16BE(o + 14)) / 8) * 8;
      }
      const violations: string[] = [];
      const outcomes = new Map<string, number>();
      const r = rng(Number(process.env.FUZZ_SEED ?? 20261205));
      for (let i = 0; i < 200; i++) {
        fs.writeFileSync(join(dir, 'm.qcow2'), mutate(r, b, targets));
        const what = await exercise(dir, 'm.qcow2', violations, undefined, { idOrName: i % 2 ? 'one' : '2' });
        outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
      }
      assert.deepEqual(violations, []);
      assert.ok((outcomes.get('read') ?? 0) > 0 && (outcomes.get('corrupt') ?? 0) > 0, JSON.stringify([...outcomes]));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

test('fuzzed LUKS1 headers: clear errors only, no read past the end', { skip, timeout: 300_000 }, async () => {
  const dir = tmpdir('fuzz-luks');
  try {
    const pw = 'pw-fuzz';
    ok('qemu-img', dir, 'create', '-q', '-f', 'luks', '--object', `secret,id=s,data=${pw}`, '-o', 'key-secret=s,iter-time=10',
      'l.luks', '1M');
    const b = fs.readFileSync(join(dir, 'l.luks'));
    // Every field but the iteration counts (a huge count is a slow unlock, not a corrupt header).
    const slots = LUKS1_HEADER.keySlots[0];
    const skipRanges: [number, number][] = [[LUKS1_HEADER.mkDigestIterations[0], LUKS1_HEADER.mkDigestIterations[0] + 4]];
    for (let i = 0; i < 8; i++) {
      const o = slots + i * LUKS1_KEY_SLOT_BYTES + LUKS1_KEY_SLOT.iterations[0];
      skipRanges.push([o, o + 4], [o - 4, o]); // and `active`: enabling an empty slot gives it 0 or garbage iterations
    }
    const violations: string[] = [];
    const outcomes = new Map<string, number>();
    const r = rng(1205);
    for (let i = 0; i < 40; i++) {
      const m = Buffer.from(b);
      for (let k = 0; k < 1 + Math.floor(r() * 3); k++) {
        let at: number;
        do at = Math.floor(r() * (slots + 8 * LUKS1_KEY_SLOT_BYTES)); while (skipRanges.some(([s, e]) => at >= s && at < e));
        m[at] = r() < 0.5 ? m[at] ^ (1 << Math.floor(r() * 8)) : Math.floor(r() * 256);
      }
      fs.writeFileSync(join(dir, 'm.luks'), m);
      const what = await exercise(dir, 'm.luks', violations, Buffer.from(pw));
      outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
    }
    assert.deepEqual(violations, []);
    assert.ok((outcomes.get('corrupt') ?? 0) + (outcomes.get('refused') ?? 0) > 0, JSON.stringify([...outcomes]));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
