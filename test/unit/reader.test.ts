// The image reader's pieces without external tools (the qemu-made image matrix is in test/reader):
// bounded file access, the zlib/zstd cluster decoders on streams followed by the next cluster's
// bytes, raw images through an in-memory I/O, cancellation, and LUKS header checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { openImage, type ReaderIO } from '../../server/src/writer/reader/imageReader';
import { BoundedFile } from '../../server/src/writer/reader/source';
import { decompressCluster, zstdFrameLength } from '../../server/src/writer/reader/decompress';
import { unlockLuksArea } from '../../server/src/writer/luks/unlock';
import { writeLuks1Header, LUKS1_HEADER } from '../../server/src/writer/luks/luksFormat';
import { LUKS1 } from '../../schemas/luksOptions';
import { WriterError } from '../../server/src/writer/errors';

/** Files in memory; `fifo` names report a non-regular file. */
function memIO(files: Record<string, Uint8Array>, reads: [number, number][] = []): ReaderIO {
  const fds: string[] = [];
  const st = (p: string) => ({ size: files[p].length, isFile: !p.endsWith('.fifo'), isDirectory: false });
  return {
    async stat(p) { return p in files ? st(p) : undefined; },
    async fstat(fd) { return st(fds[fd]); },
    async open(p) { fds.push(p); return fds.length - 1; },
    async close() { /* nothing held */ },
    async pread(fd, length, offset) { reads.push([offset, length]); return files[fds[fd]].slice(offset, offset + length); },
  };
}

/** A zstd frame holding `data` in raw blocks (RFC 8878: single segment, 4-byte content size). */
function zstdRawFrame(data: Uint8Array): Uint8Array {
  const parts: number[] = [0x28, 0xb5, 0x2f, 0xfd, 0b1010_0000];
  parts.push(data.length & 0xff, (data.length >> 8) & 0xff, (data.length >> 16) & 0xff, (data.length >>> 24) & 0xff);
  const out: number[] = [...parts];
  for (let o = 0; o < data.length; o += 100_000) {
    const n = Math.min(100_000, data.length - o);
    const last = o + n >= data.length ? 1 : 0;
    const h = (n << 3) | last; // block type 0: raw
    out.push(h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff, ...data.subarray(o, o + n));
  }
  return Uint8Array.from(out);
}

test('BoundedFile: offsets from the file are checked before any read; non-regular files refused', async () => {
  const reads: [number, number][] = [];
  const data = randomBytes(3000);
  const io = memIO({ '/img': data, '/x.fifo': data }, reads);
  const f = await BoundedFile.open(io, '/img', 'image');
  assert.deepEqual(await f.read(100, 50, 'L2 table'), data.subarray(100, 150));
  await assert.rejects(f.read(2990, 11, 'L2 table (L1 table at offset 0, entry 3)'),
    (e: WriterError) => e.code === 'corrupt' && /L2 table \(L1 table at offset 0, entry 3\) at offset 2990 \(0xbae\)/.test(e.message) &&
      /past the end of the file \(3000 bytes\)/.test(e.message));
  await assert.rejects(f.read(-1, 1, 'L1 table'), (e: WriterError) => e.code === 'corrupt');
  await assert.rejects(f.read(2 ** 60, 1, 'L1 table'), (e: WriterError) => e.code === 'corrupt');
  assert.deepEqual(reads, [[100, 50]], 'the refused reads were never issued');
  await assert.rejects(BoundedFile.open(io, '/x.fifo', 'image'), /not a regular file/);
  await assert.rejects(BoundedFile.open(io, '/none', 'backing file of /img'), /No such file.*backing file of \/img/);
});

test('compressed clusters: zlib and zstd streams followed by the next cluster decode to exactly one cluster', () => {
  const cluster = Buffer.from('qcow2 compressed cluster '.repeat(3000)).subarray(0, 65536);
  const next = randomBytes(700);
  const z = deflateRawSync(cluster, { windowBits: 12 });
  assert.deepEqual(Buffer.from(decompressCluster('zlib', Buffer.concat([z, next]), 65536) as Uint8Array), cluster);
  assert.match(decompressCluster('zlib', z.subarray(0, z.length >> 1), 65536) as string, /decompresses to \d+ bytes/);
  assert.match(decompressCluster('zlib', z, 4096) as string, /zlib/);
  const frame = zstdRawFrame(cluster);
  assert.equal(zstdFrameLength(Buffer.concat([frame, next])), frame.length);
  assert.deepEqual(Buffer.from(decompressCluster('zstd', Buffer.concat([frame, next]), 65536) as Uint8Array), cluster);
  assert.equal(typeof zstdFrameLength(frame.subarray(0, frame.length - 1)), 'string');
  assert.match(decompressCluster('zstd', next, 65536) as string, /zstd/);
});

test('raw images through injected I/O: probe, reads, block status, range checks, cancellation', async () => {
  const data = randomBytes(1 << 20);
  const io = memIO({ '/d/disk.img': data });
  const r = await openImage('disk.img', { io, cwd: '/d' });
  assert.equal(r.format, 'raw');
  assert.equal(r.virtualSize, data.length);
  const buf = new Uint8Array(5000);
  await r.read(12345, buf);
  assert.deepEqual(Buffer.from(buf), data.subarray(12345, 17345));
  assert.deepEqual(await r.readBlockStatus(0, data.length), [{ offset: 0, length: data.length, kind: 'data' }]);
  await assert.rejects(r.read(data.length - 10, new Uint8Array(11)), /outside the image/);
  await assert.rejects(openImage('disk.img', { io, cwd: '/d', format: 'vmdk' }), /not supported by this reader/);
  await assert.rejects(openImage('disk.img', { io, cwd: '/d', format: 'qcow2' }), /not in qcow2 format/);
  await assert.rejects(openImage('disk.img', { io, cwd: '/d', format: 'luks' }), /not in LUKS format/);
  const ac = new AbortController();
  const c = await openImage('disk.img', { io, cwd: '/d', signal: ac.signal });
  ac.abort();
  await assert.rejects(c.read(0, buf), (e: WriterError) => e.code === 'cancelled');
});

test('LUKS headers: corrupt fields are refused before a key is derived, naming the field', async () => {
  const area = new Uint8Array(LUKS1_HEADER.keySlots[0] + 8 * 48 + 4000 * 32 + 4096);
  const slot = { active: true, iterations: 1000, salt: randomBytes(32), keyMaterialOffset: 8, stripes: LUKS1.stripes };
  const header = {
    version: 1, cipherName: 'aes', cipherMode: 'xts-plain64', hashSpec: 'sha256', payloadOffset: area.length / 512,
    keyBytes: 32, mkDigest: randomBytes(20), mkDigestSalt: randomBytes(32), mkDigestIterations: 1000,
    uuid: 'b5f5a6d4-0000-4000-8000-000000000000', keySlots: [slot],
  };
  const tryWith = async (patch: object) => {
    const b = new Uint8Array(area.length);
    writeLuks1Header(b, { ...header, ...patch });
    return unlockLuksArea(async (o, l) => b.slice(o, o + l), b.length, Buffer.from('pw'), 'x.luks');
  };
  await assert.rejects(tryWith({ keySlots: [{ ...slot, stripes: 3999 }] }), /key slot 0 is corrupted \(stripes 3999 != 4000\)/);
  await assert.rejects(tryWith({ keySlots: [{ ...slot, keyMaterialOffset: 1 << 20 }] }), /key slot 0's key material at offset/);
  await assert.rejects(tryWith({ cipherName: 'rot13' }), (e: WriterError) => e.code === 'corrupt' && /rot13/.test(e.message));
  await assert.rejects(tryWith({ cipherMode: 'xts-fancy64' }), /Unsupported IV generator/);
  await assert.rejects(tryWith({ hashSpec: 'md4' }), /Unsupported hash 'md4'/);
  await assert.rejects(tryWith({ payloadOffset: 1 << 30 }), /payload offset .* past the end/);
  // Well-formed but the digest does not match: a wrong passphrase, not a corrupt header.
  await assert.rejects(tryWith({}), (e: WriterError) => e.code === 'refused' && /Invalid password/.test(e.message));
});
