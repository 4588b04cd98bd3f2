// The image reader (server/src/writer/reader) against qemu on images qemu-img and qemu-io made:
// every byte equals `qemu-img convert -O raw`, block status agrees with `qemu-img map` on where
// data is, and refusals (wrong or missing passphrase, missing backing file, loops, deep chains,
// legacy AES without the flag, corrupt tables) are clear WriterErrors naming the file and table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { openImage, MAX_CHAIN_DEPTH, type ImageReader } from '../../server/src/writer/reader/imageReader';
import { nodeWriterIO } from '../../server/src/writer/nodeIO';
import { WriterError } from '../../server/src/writer/errors';
import { io, ok, qemuMap, qemuRaw, skip, tmpdir } from './oracle';

const PW = 'pw-reader';
const SECRET = ['--object', `secret,id=s,data=${PW}`];

async function readAll(r: ImageReader): Promise<Buffer> {
  const b = Buffer.alloc(r.virtualSize);
  // Odd-sized pieces, so reads start and end inside clusters, subclusters and sectors.
  for (let o = 0; o < b.length;) {
    const n = Math.min(b.length - o, 777_777);
    await r.read(o, b.subarray(o, o + n));
    o += n;
  }
  return b;
}

async function open(dir: string, file: string, extra: { format?: string; passphrase?: string; aes?: boolean } = {}) {
  return openImage(file, {
    io: nodeWriterIO(), cwd: dir, format: extra.format,
    passphrase: extra.passphrase === undefined ? undefined : Buffer.from(extra.passphrase), allowInsecureAes: extra.aes,
  });
}

/** Data / not-data per 512-byte sector, from qemu-img map and from our block status. */
async function sameDataMap(dir: string, file: string, r: ImageReader, src: string[] = [file]): Promise<void> {
  const sectors = Math.ceil(r.virtualSize / 512);
  const theirs = new Uint8Array(sectors), ours = new Uint8Array(sectors);
  for (const e of qemuMap(dir, src)) if (e.data) theirs.fill(1, e.start / 512, (e.start + e.length) / 512);
  for (const e of await r.readBlockStatus(0, r.virtualSize)) {
    if (e.kind === 'data') ours.fill(1, e.offset / 512, Math.ceil((e.offset + e.length) / 512));
  }
  const first = theirs.findIndex((v, i) => v !== ours[i]);
  assert.equal(first, -1, `${file}: qemu-img map and readBlockStatus disagree at sector ${first}`);
}

async function expectSameAsQemu(dir: string, file: string, opts: Parameters<typeof open>[2] = {}, src = [file]) {
  const r = await open(dir, file, opts);
  try {
    const ours = await readAll(r);
    const theirs = qemuRaw(dir, src);
    assert.equal(ours.length, theirs.length, `${file}: virtual size`);
    assert.ok(ours.equals(theirs), `${file}: bytes differ from qemu-img convert -O raw at ${ours.findIndex((v, i) => v !== theirs[i])}`);
    return r;
  } finally {
    await r.close();
  }
}

test('qcow2 v2/v3, zero clusters, zlib and zstd clusters, subclusters, data files, 3-deep chain: bytes and map as qemu',
  { skip, timeout: 300_000 }, async () => {
    const dir = tmpdir('qcow2');
    try {
      const img = (...a: string[]) => ok('qemu-img', dir, 'create', '-q', ...a);
      // A 3-deep chain raw ← qcow2 ← qcow2, zeroed ranges over backing data, a top larger than its backing.
      img('-f', 'raw', 'base.raw', '8M');
      io(dir, 'base.raw', ['write -P 0xaa 0 8M'], ['-f', 'raw']);
      img('-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', 'mid.qcow2', '8M');
      io(dir, 'mid.qcow2', ['write -P 0x11 1M 100k', 'write -z 3M 1M', 'write -c -P 0x12 5M 64k']);
      img('-f', 'qcow2', '-b', 'mid.qcow2', '-F', 'qcow2', 'top.qcow2', '12M');
      io(dir, 'top.qcow2', ['write -P 0x22 1050k 10k', 'write -z 0 64k', 'write -P 0x33 9M 3k', 'write -z 3200k 4k']);
      // v2 (compat=0.10, no zero flag) with 4 KiB clusters and a compressed cluster; 512-byte clusters.
      img('-f', 'qcow2', '-o', 'compat=0.10,cluster_size=4096', 'v2.qcow2', '5M');
      io(dir, 'v2.qcow2', ['write -P 0x44 7 10000', 'write -c -P 0x55 1M 4k', 'write -P 0x56 4M 1M']);
      img('-f', 'qcow2', '-o', 'cluster_size=512', 'c512.qcow2', '3000001');
      io(dir, 'c512.qcow2', ['write -P 0x57 0 1536', 'write -z 512 512', 'write -P 0x58 2M 777']);
      // Extended L2: allocated, zero and unallocated subclusters over a backing file, plus a compressed cluster.
      img('-f', 'qcow2', '-o', 'extended_l2=on,cluster_size=128k', '-b', 'base.raw', '-F', 'raw', 'ext.qcow2', '8M');
      io(dir, 'ext.qcow2', ['write -P 0x66 4k 4k', 'write -z 20k 8k', 'write -P 0x67 200k 1k', 'write -c -P 0x68 1M 128k']);
      // Compressed clusters of both types, several packed one after the other.
      img('-f', 'qcow2', '-o', 'compression_type=zlib', 'zlib.qcow2', '4M');
      img('-f', 'qcow2', '-o', 'compression_type=zstd', 'zstd.qcow2', '4M');
      img('-f', 'qcow2', '-o', 'compression_type=zstd,cluster_size=2M', 'zstd2m.qcow2', '8M');
      for (const f of ['zlib.qcow2', 'zstd.qcow2', 'zstd2m.qcow2']) {
        io(dir, f, ['write -c -P 0x71 0 2M', 'write -c -P 0x72 2M 2M', 'write -P 0x73 3M 5000']);
      }
      // Text-like input compresses well, so many clusters share host sectors (qemu-img convert -c packs them).
      fs.writeFileSync(join(dir, 'text.raw'), Buffer.from('libvirt volume reader '.repeat(50_000)).subarray(0, 1 << 20));
      ok('qemu-img', dir, 'convert', '-c', '-f', 'raw', '-O', 'qcow2', '-o', 'compression_type=zstd', 'text.raw', 'text-zstd.qcow2');
      ok('qemu-img', dir, 'convert', '-c', '-f', 'raw', '-O', 'qcow2', '-o', 'cluster_size=4096', 'text.raw', 'text-zlib.qcow2');
      // External data files, raw and not.
      img('-f', 'qcow2', '-o', 'data_file=df.img', 'df.qcow2', '4M');
      io(dir, 'df.qcow2', ['write -P 0x77 64k 100k', 'write -z 200k 64k']);
      img('-f', 'qcow2', '-o', 'data_file=dfraw.img,data_file_raw=on', 'dfraw.qcow2', '4M');
      io(dir, 'dfraw.qcow2', ['write -P 0x78 64k 100k', 'write -P 0x79 3M 1k']);

      for (const f of ['top.qcow2', 'mid.qcow2', 'v2.qcow2', 'c512.qcow2', 'ext.qcow2', 'zlib.qcow2', 'zstd.qcow2',
        'zstd2m.qcow2', 'text-zstd.qcow2', 'text-zlib.qcow2', 'df.qcow2', 'dfraw.qcow2', 'base.raw']) {
        const r = await expectSameAsQemu(dir, f);
        assert.equal(r.format, f.endsWith('.raw') ? 'raw' : 'qcow2');
        if (f !== 'base.raw') {
          const again = await open(dir, f);
          try { await sameDataMap(dir, f, again); } finally { await again.close(); }
        }
      }
      const top = await open(dir, 'top.qcow2');
      try {
        assert.equal(top.backing?.format, 'qcow2');
        assert.equal(top.backing?.backing?.format, 'raw');
        assert.equal(top.qcow2?.compression, 'zlib');
        // The part of top beyond its backing's end is unallocated: no image of the chain has it.
        const tail = await top.readBlockStatus(10 << 20, 1 << 20);
        assert.deepEqual(tail.map((r) => r.kind), ['unallocated']);
        // Zeroed over backing data: 'zero', not the backing's data.
        assert.deepEqual((await top.readBlockStatus(0, 64 << 10)).map((r) => r.kind), ['zero']);
      } finally { await top.close(); }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

test('LUKS1 raw and qcow2+LUKS with several ciphers, legacy qcow AES only when allowed: bytes as qemu',
  { skip, timeout: 300_000 }, async () => {
    const dir = tmpdir('luks');
    try {
      const ciphers = [
        ['aes-256', 'xts', 'plain64', 'sha256'], ['serpent-128', 'cbc', 'essiv', 'sha256'],
        ['twofish-256', 'xts', 'plain', 'sha1'], ['cast5-128', 'cbc', 'plain64', 'sha256'], ['aes-128', 'ctr', 'plain64', 'sha512'],
        // No 192-bit keys: qemu 7.2 aborts creating them (24 × 4000 stripes of key material is not whole sectors).
        ['serpent-256', 'ecb', 'plain64', 'sha256'], ['twofish-128', 'cbc', 'essiv', 'sha256'],
      ];
      for (const [i, [alg, mode, ivgen, hash]] of ciphers.entries()) {
        const o = `cipher-alg=${alg},cipher-mode=${mode},ivgen-alg=${ivgen},ivgen-hash-alg=${hash},hash-alg=${hash},iter-time=10`;
        const raw = `l${i}.luks`, q = `q${i}.qcow2`;
        ok('qemu-img', dir, 'create', '-q', '-f', 'luks', ...SECRET, '-o', `key-secret=s,${o}`, raw, '2M');
        io(dir, `driver=luks,key-secret=s,file.filename=${raw}`, ['write -P 0x12 3 70000', 'write -P 0x13 1M 4k'],
          [...SECRET, '--image-opts']);
        const r = await expectSameAsQemu(dir, raw, { passphrase: PW }, [...SECRET, '--image-opts',
          `driver=luks,key-secret=s,file.filename=${raw}`]);
        assert.equal(r.format, 'luks');
        assert.equal(r.encryption, 'luks');
        const qo = o.split(',').map((x) => `encrypt.${x}`).join(',');
        ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', ...SECRET, '-o', `encrypt.format=luks,encrypt.key-secret=s,${qo}`, q, '3M');
        io(dir, `driver=qcow2,encrypt.key-secret=s,file.filename=${q}`,
          ['write -P 0x14 3 70000', 'write -z 1M 64k', 'write -P 0x15 2M 1000'], [...SECRET, '--image-opts']);
        await expectSameAsQemu(dir, q, { passphrase: PW }, [...SECRET, '--image-opts',
          `driver=qcow2,encrypt.key-secret=s,file.filename=${q}`]);
      }
      // Wrong and missing passphrases: refused, naming the file; qemu's messages.
      await assert.rejects(open(dir, 'l0.luks', { passphrase: 'wrong' }),
        (e: WriterError) => e.code === 'refused' && /l0\.luks.*Invalid password, cannot unlock any keyslot/.test(e.message));
      await assert.rejects(open(dir, 'q0.qcow2', { passphrase: 'wrong' }), /q0\.qcow2.*Invalid password/);
      await assert.rejects(open(dir, 'q0.qcow2'), /q0\.qcow2.*'encrypt\.key-secret' is required/);
      await assert.rejects(open(dir, 'l0.luks'), /l0\.luks.*'key-secret' is required/);
      // Legacy AES (crypt_method 1): refused without the flag, the message says why and what for.
      ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', ...SECRET, '-o', 'encrypt.format=aes,encrypt.key-secret=s', 'aes.qcow2', '2M');
      io(dir, 'driver=qcow2,encrypt.key-secret=s,file.filename=aes.qcow2', ['write -P 0x31 5 9000', 'write -P 0x32 1M 64k'],
        [...SECRET, '--image-opts']);
      await assert.rejects(open(dir, 'aes.qcow2', { passphrase: PW }),
        (e: WriterError) => e.code === 'refused' && /--allow-insecure-aes/.test(e.message) && /migrat/.test(e.message));
      const aes = await expectSameAsQemu(dir, 'aes.qcow2', { passphrase: PW, aes: true }, [...SECRET, '--image-opts',
        'driver=qcow2,encrypt.key-secret=s,file.filename=aes.qcow2']);
      assert.equal(aes.encryption, 'aes');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

test('backing chains: a missing backing file, a loop and a chain deeper than 64 are refused naming the file',
  { skip, timeout: 300_000 }, async () => {
    const dir = tmpdir('chain');
    try {
      const img = (...a: string[]) => ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', ...a);
      img('-u', '-b', 'gone.qcow2', '-F', 'qcow2', 'orphan.qcow2', '1M');
      await assert.rejects(open(dir, 'orphan.qcow2'),
        (e: WriterError) => e.code === 'refused' && /gone\.qcow2/.test(e.message) && /orphan\.qcow2/.test(e.message));
      img('-u', '-b', 'b.qcow2', '-F', 'qcow2', 'a.qcow2', '1M');
      img('-u', '-b', 'a.qcow2', '-F', 'qcow2', 'b.qcow2', '1M');
      await assert.rejects(open(dir, 'a.qcow2'), (e: WriterError) => /loop/.test(e.message) && /a\.qcow2/.test(e.message));
      // MAX_CHAIN_DEPTH + 1 backing files under the top: one too many.
      img('d0.qcow2', '1M');
      for (let i = 1; i <= MAX_CHAIN_DEPTH + 1; i++) img('-u', '-b', `d${i - 1}.qcow2`, '-F', 'qcow2', `d${i}.qcow2`, '1M');
      await assert.rejects(open(dir, `d${MAX_CHAIN_DEPTH + 1}.qcow2`),
        (e: WriterError) => new RegExp(`deeper than ${MAX_CHAIN_DEPTH}`).test(e.message) && /d0\.qcow2/.test(e.message));
      const deepest = await open(dir, `d${MAX_CHAIN_DEPTH}.qcow2`);
      await deepest.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

/** The big-endian u64 at `o` as a number (test images are small). */
function be64(b: Buffer, o: number): number { return Number(b.readBigUInt64BE(o)); }
/** Bits 9–55 of an L1/L2 entry: the table or cluster offset (qcow2.txt). */
function entryOffset(b: Buffer, o: number): number { return Number(b.readBigUInt64BE(o) & 0x00fffffffffffe00n); }

test('corrupt images: a truncated L2 table and an L1 entry past the end are refused naming the table and offset',
  { skip, timeout: 120_000 }, async () => {
    const dir = tmpdir('corrupt');
    try {
      // 4 KiB clusters: one L2 table maps 2 MiB, so 0 and 40 MiB use different L1 entries.
      ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', 'c.qcow2', '64M');
      io(dir, 'c.qcow2', ['write -P 0x5a 0 64k', 'write -P 0x5b 40M 64k']);
      const b = fs.readFileSync(join(dir, 'c.qcow2'));
      const l1 = be64(b, 40);
      const l2 = entryOffset(b, l1);
      // Truncated L2 table: the file ends inside it.
      fs.writeFileSync(join(dir, 'trunc.qcow2'), b.subarray(0, l2 + 100));
      await assert.rejects(open(dir, 'trunc.qcow2').then((r) => r.read(0, new Uint8Array(4096))),
        (e: WriterError) => e.code === 'corrupt' && /trunc\.qcow2/.test(e.message) && /L2 table/.test(e.message) &&
          e.message.includes(`offset ${l2} `) && /past the end/.test(e.message));
      // An L1 entry pointing far past the end of the file.
      const bad = Buffer.from(b);
      const past = Math.ceil((b.length + (1 << 20)) / 4096) * 4096;
      bad.writeBigUInt64BE(BigInt(past) | 0x8000000000000000n, l1);
      fs.writeFileSync(join(dir, 'l1past.qcow2'), bad);
      const r = await open(dir, 'l1past.qcow2');
      try {
        await assert.rejects(r.readBlockStatus(0, 1 << 20),
          (e: WriterError) => e.code === 'corrupt' && /L2 table/.test(e.message) && /L1 table at offset .*entry 0/.test(e.message) &&
            e.message.includes(`offset ${past} `));
        // The other L2 table is fine: the range it maps still reads.
        const buf = new Uint8Array(65536);
        await r.read(40 << 20, buf);
        assert.ok(buf.every((v) => v === 0x5b));
      } finally { await r.close(); }
      // The L1 table itself past the end.
      const l1bad = Buffer.from(b);
      l1bad.writeBigUInt64BE(BigInt(past), 40);
      fs.writeFileSync(join(dir, 'l1table.qcow2'), l1bad);
      await assert.rejects(open(dir, 'l1table.qcow2'), (e: WriterError) => e.code === 'corrupt' && /L1 table at offset/.test(e.message));
      // A data cluster past the end (L2 entry), and a compressed cluster past the end.
      const dbad = Buffer.from(b);
      dbad.writeBigUInt64BE(BigInt(past) | 0x8000000000000000n, l2);
      fs.writeFileSync(join(dir, 'data.qcow2'), dbad);
      await assert.rejects(open(dir, 'data.qcow2').then((x) => x.read(0, new Uint8Array(512))),
        (e: WriterError) => e.code === 'corrupt' && /data cluster/.test(e.message) && e.message.includes(`L2 table at offset ${l2}`));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
