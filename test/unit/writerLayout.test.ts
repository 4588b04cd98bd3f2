// Writer layouts checked field by field against the on-disk specifications, without qemu-img:
// qcow2 as qemu's docs/interop/qcow2.txt defines it (header, header extensions, feature bits,
// refcount table and blocks, L1/L2 entries), LUKS1 as the LUKS On-Disk Format Specification
// 1.2.3 defines it (phdr fields, key slots, key material placement). The offsets below are the
// specifications' own, written out here on purpose: the writer's names (qcow2Format.ts,
// luksFormat.ts) are what is under test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { checkCreate } from '../../schemas/qcow2Options';
import { createImage, type ImageJob } from '../../server/src/writer/create';
import { nodeWriterIO } from '../../server/src/writer/nodeIO';
import { qcowLuksEncryption } from '../../server/src/writer/luks/qcowEncryption';
import { unlockLuks } from '../../server/src/writer/luks/unlock';

const ITER = { masterKey: 1000, slot: 1000 };
const PASS = new TextEncoder().encode('unit passphrase');

function u16(b: Uint8Array, o: number): number { return (b[o] << 8) | b[o + 1]; }
function u32(b: Uint8Array, o: number): number { return new DataView(b.buffer, b.byteOffset).getUint32(o); }
function u64(b: Uint8Array, o: number): bigint { return new DataView(b.buffer, b.byteOffset).getBigUint64(o); }
function str(b: Uint8Array, o: number, n: number): string {
  const s = b.subarray(o, o + n);
  const z = s.indexOf(0);
  return Buffer.from(s.subarray(0, z < 0 ? n : z)).toString('latin1');
}
const isZero = (b: Uint8Array) => b.every((x) => x === 0);

async function make(args: { format: string; size: string; options?: string[]; backing?: [string, string] },
  extra: { encrypt?: boolean } = {}): Promise<{ bytes: Buffer; dir: string }> {
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'lv-layout-'));
  if (args.backing) fs.writeFileSync(join(dir, args.backing[0]), Buffer.alloc(1 << 20));
  const v = checkCreate({
    format: args.format, filename: 'img', size: args.size, options: args.options ?? [],
    backingFile: args.backing?.[0], backingFmt: args.backing?.[1],
  }, () => ({ detectedFormat: 'raw', length: 1 << 20 }));
  assert.ok(v.ok, v.ok ? '' : v.message);
  const encryption = extra.encrypt ? qcowLuksEncryption({}, PASS, { iterations: ITER }) : undefined;
  await createImage(v.spec, { io: nodeWriterIO(), cwd: dir, encryption });
  return { bytes: fs.readFileSync(join(dir, 'img')), dir };
}

interface Qcow2Header {
  version: number; backingOffset: bigint; backingSize: number; clusterBits: number; size: bigint; cryptMethod: number;
  l1Size: number; l1Offset: bigint; reftableOffset: bigint; reftableClusters: number; nbSnapshots: number;
  snapshotsOffset: bigint; incompat: bigint; compat: bigint; autoclear: bigint; refcountOrder: number;
  headerLength: number; compressionType: number; extensions: Map<number, Uint8Array>;
}

/** qcow2.txt "Header": fields by offset; then the header extensions until the end marker. */
function readQcow2(b: Uint8Array): Qcow2Header {
  assert.deepEqual([...b.subarray(0, 4)], [0x51, 0x46, 0x49, 0xfb], 'magic QFI\\xfb');
  const version = u32(b, 4);
  const v3 = version >= 3;
  const h: Qcow2Header = {
    version, backingOffset: u64(b, 8), backingSize: u32(b, 16), clusterBits: u32(b, 20), size: u64(b, 24),
    cryptMethod: u32(b, 32), l1Size: u32(b, 36), l1Offset: u64(b, 40), reftableOffset: u64(b, 48),
    reftableClusters: u32(b, 56), nbSnapshots: u32(b, 60), snapshotsOffset: u64(b, 64),
    incompat: v3 ? u64(b, 72) : 0n, compat: v3 ? u64(b, 80) : 0n, autoclear: v3 ? u64(b, 88) : 0n,
    refcountOrder: v3 ? u32(b, 96) : 4, headerLength: v3 ? u32(b, 100) : 72, compressionType: v3 && u32(b, 100) > 104 ? b[104] : 0,
    extensions: new Map(),
  };
  // "Header extensions": directly after the header, {u32 type, u32 length, data padded to 8}.
  let off = h.headerLength;
  const cs = 2 ** h.clusterBits;
  for (;;) {
    assert.ok(off + 8 <= cs, 'extensions end inside the first cluster');
    const type = u32(b, off), len = u32(b, off + 4);
    if (type === 0) break;
    assert.equal(h.extensions.has(type), false, `extension 0x${type.toString(16)} once`);
    h.extensions.set(type, b.subarray(off + 8, off + 8 + len));
    off += 8 + Math.ceil(len / 8) * 8;
  }
  if (h.backingOffset) assert.ok(Number(h.backingOffset) >= off + 8, 'backing name after the extensions');
  return h;
}

const FEATURE_TABLE = 0x6803f857, BACKING_FORMAT = 0xe2792aca, DATA_FILE = 0x44415441, FULL_DISK_ENCRYPTION = 0x0537be77;
const COPIED = 1n << 63n;
const OFFSET_MASK = 0x00fffffffffffe00n;

/**
 * The refcounts say exactly which clusters are in use: the header, refcount table and blocks, L1,
 * L2 tables, data clusters and crypto header clusters each have refcount 1, every other cluster
 * of the file 0 (qcow2.txt "Host cluster management").
 */
function checkRefcounts(b: Uint8Array, h: Qcow2Header, used: Set<number>): void {
  const cs = 2 ** h.clusterBits;
  const bits = 2 ** h.refcountOrder;
  const perBlock = (cs * 8) / bits;
  const refcount = (c: number): number => {
    const entry = Number(u64(b, Number(h.reftableOffset) + Math.floor(c / perBlock) * 8) & OFFSET_MASK);
    if (!entry) return 0;
    const i = c % perBlock;
    if (bits >= 8) {
      // Big-endian entries of refcount_bits / 8 bytes.
      const n = bits / 8;
      return [...b.subarray(entry + i * n, entry + (i + 1) * n)].reduce((v, x) => v * 256 + x, 0);
    }
    // Narrower entries share a byte, the first in its least significant bits.
    const perByte = 8 / bits;
    return (b[entry + Math.floor(i / perByte)] >> (bits * (i % perByte))) & ((1 << bits) - 1);
  };
  used.add(0);
  for (let k = 0; k < h.reftableClusters; k++) used.add(Number(h.reftableOffset) / cs + k);
  for (let t = 0; t < (h.reftableClusters * cs) / 8; t++) {
    const e = Number(u64(b, Number(h.reftableOffset) + t * 8));
    if (e) { assert.equal(e % cs, 0, 'refcount block aligned'); used.add(e / cs); }
  }
  const clusters = Math.ceil(b.length / cs);
  for (let c = 0; c < clusters; c++) assert.equal(refcount(c), used.has(c) ? 1 : 0, `refcount of cluster ${c}`);
  assert.ok([...used].every((c) => c < clusters), 'every cluster in use lies inside the file');
}

/** L1 and L2 (qcow2.txt "Cluster mapping"): COPIED set, offsets aligned, data clusters returned. */
function walkL1(b: Uint8Array, h: Qcow2Header, used: Set<number>, extendedL2 = false): number[] {
  const cs = 2 ** h.clusterBits;
  const entryBytes = extendedL2 ? 16 : 8;
  const l2Entries = cs / entryBytes;
  assert.equal(h.l1Size, Math.ceil(Number(h.size) / (l2Entries * cs)), 'l1_size = ceil(size / (L2 entries × cluster size))');
  const data: number[] = [];
  if (!h.l1Size) return data;
  assert.equal(Number(h.l1Offset) % cs, 0);
  for (let k = 0; k < Math.ceil((h.l1Size * 8) / cs); k++) used.add(Number(h.l1Offset) / cs + k);
  for (let i = 0; i < h.l1Size; i++) {
    const e = u64(b, Number(h.l1Offset) + i * 8);
    if (!e) continue;
    assert.equal(e & COPIED, COPIED, 'L1 entry has COPIED (refcount 1)');
    const l2 = Number(e & OFFSET_MASK);
    assert.equal(l2 % cs, 0);
    used.add(l2 / cs);
    for (let j = 0; j < l2Entries; j++) {
      const d = u64(b, l2 + j * entryBytes);
      if (!d) continue;
      assert.equal(d & COPIED, COPIED, 'L2 entry has COPIED');
      assert.equal(d & (1n << 62n), 0n, 'not compressed');
      data.push(Number(d & OFFSET_MASK));
    }
  }
  return data;
}

test('qcow2 v3, 1 MiB, 64 KiB clusters: every header field, the feature table, the refcounts', async () => {
  const { bytes: b, dir } = await make({ format: 'qcow2', size: '1M' });
  try {
    const h = readQcow2(b);
    assert.equal(h.version, 3);
    assert.equal(h.clusterBits, 16);
    assert.equal(h.size, 1n << 20n);
    assert.deepEqual([h.backingOffset, h.backingSize, h.cryptMethod, h.nbSnapshots, h.snapshotsOffset], [0n, 0, 0, 0, 0n]);
    assert.deepEqual([h.incompat, h.compat, h.autoclear], [0n, 0n, 0n]);
    assert.equal(h.refcountOrder, 4, '16-bit refcounts');
    assert.ok(h.headerLength >= 104 && h.headerLength % 8 === 0, 'header_length: v3 fields, a multiple of 8');
    assert.equal(h.compressionType, 0, 'zlib');
    assert.equal(Number(h.reftableOffset) % 65536, 0);
    // Feature name table: 48-byte entries {u8 type 0..2, u8 bit, 46-byte name}.
    const ft = h.extensions.get(FEATURE_TABLE)!;
    assert.ok(ft && ft.length % 48 === 0 && ft.length > 0);
    const features = new Map<string, string>();
    for (let i = 0; i < ft.length; i += 48) {
      assert.ok(ft[i] <= 2 && ft[i + 1] < 64);
      features.set(`${ft[i]}/${ft[i + 1]}`, str(ft, i + 2, 46));
    }
    // The bits qcow2.txt defines, each named once.
    for (const key of ['0/0', '0/1', '0/2', '0/3', '0/4', '1/0', '2/0', '2/1']) assert.ok(features.get(key), key);
    const used = new Set<number>();
    assert.deepEqual(walkL1(b, h, used), [], 'preallocation=off: no data clusters');
    checkRefcounts(b, h, used);
    // The last cluster in use ends the file (qemu writes only the L1 table's bytes of it).
    assert.equal(Math.ceil(b.length / 65536), Math.max(...used) + 1, 'the file ends in its last cluster in use');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('qcow2 metadata preallocation: L2 maps every guest cluster to its own host cluster', async () => {
  const { bytes: b, dir } = await make({ format: 'qcow2', size: '1M', options: ['preallocation=metadata'] });
  try {
    const h = readQcow2(b);
    const used = new Set<number>();
    const data = walkL1(b, h, used);
    assert.equal(data.length, (1 << 20) / 65536, 'one data cluster per guest cluster');
    assert.equal(new Set(data).size, data.length, 'no two guest clusters share one');
    for (const d of data) { assert.equal(d % 65536, 0); used.add(d / 65536); }
    checkRefcounts(b, h, used);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('qcow2 v2 (compat=0.10): 72-byte header, no v3 fields or feature table', async () => {
  const { bytes: b, dir } = await make({ format: 'qcow2', size: '3M', options: ['compat=0.10', 'cluster_size=4096'] });
  try {
    const h = readQcow2(b);
    assert.equal(h.version, 2);
    assert.equal(h.headerLength, 72);
    assert.equal(h.clusterBits, 12);
    assert.equal(h.extensions.has(FEATURE_TABLE), false);
    const used = new Set<number>();
    walkL1(b, h, used);
    checkRefcounts(b, h, used);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('qcow2 feature bits and extensions: lazy refcounts, zstd, data file, refcount width, backing file', async () => {
  let r = await make({ format: 'qcow2', size: '1M', options: ['lazy_refcounts=on', 'compression_type=zstd', 'refcount_bits=64'] });
  try {
    const h = readQcow2(r.bytes);
    assert.equal(h.compat, 1n, 'compatible bit 0: lazy refcounts');
    assert.equal(h.incompat, 1n << 3n, 'incompatible bit 3: compression type');
    assert.equal(h.compressionType, 1, 'zstd');
    assert.equal(h.refcountOrder, 6);
    const used = new Set<number>();
    walkL1(r.bytes, h, used);
    checkRefcounts(r.bytes, h, used);
  } finally {
    fs.rmSync(r.dir, { recursive: true, force: true });
  }
  r = await make({ format: 'qcow2', size: '1M', options: ['refcount_bits=1', 'preallocation=metadata'] });
  try {
    const h = readQcow2(r.bytes);
    assert.equal(h.refcountOrder, 0);
    const used = new Set<number>();
    for (const d of walkL1(r.bytes, h, used)) used.add(d / 65536);
    checkRefcounts(r.bytes, h, used);
  } finally {
    fs.rmSync(r.dir, { recursive: true, force: true });
  }
  r = await make({ format: 'qcow2', size: '1M', options: ['data_file=img.data', 'data_file_raw=on'] });
  try {
    const h = readQcow2(r.bytes);
    assert.equal(h.incompat, 1n << 2n, 'incompatible bit 2: external data file');
    assert.equal(h.autoclear, 1n << 1n, 'autoclear bit 1: raw external data');
    assert.equal(Buffer.from(h.extensions.get(DATA_FILE)!).toString(), 'img.data');
  } finally {
    fs.rmSync(r.dir, { recursive: true, force: true });
  }
  r = await make({ format: 'qcow2', size: '1M', options: ['extended_l2=on', 'preallocation=metadata'] });
  try {
    const h = readQcow2(r.bytes);
    assert.equal(h.incompat, 1n << 4n, 'incompatible bit 4: extended L2 entries');
    const used = new Set<number>();
    const data = walkL1(r.bytes, h, used, true);
    assert.equal(data.length, 16);
  } finally {
    fs.rmSync(r.dir, { recursive: true, force: true });
  }
  r = await make({ format: 'qcow2', size: '1M', backing: ['base.raw', 'raw'] });
  try {
    const h = readQcow2(r.bytes);
    assert.equal(str(r.bytes, Number(h.backingOffset), h.backingSize), 'base.raw');
    assert.equal(Buffer.from(h.extensions.get(BACKING_FORMAT)!).toString(), 'raw');
  } finally {
    fs.rmSync(r.dir, { recursive: true, force: true });
  }
});

interface Phdr {
  version: number; cipherName: string; cipherMode: string; hashSpec: string; payloadOffset: number; keyBytes: number;
  mkDigest: Uint8Array; mkDigestSalt: Uint8Array; mkDigestIter: number; uuid: string;
  slots: { active: number; iterations: number; salt: Uint8Array; keyMaterialOffset: number; stripes: number }[];
}

/** LUKS1 spec §2.4 "phdr" and §2.5 key slots: offsets as the specification's table gives them. */
function readPhdr(b: Uint8Array): Phdr {
  assert.deepEqual([...b.subarray(0, 6)], [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe], 'magic LUKS\\xba\\xbe');
  return {
    version: u16(b, 6), cipherName: str(b, 8, 32), cipherMode: str(b, 40, 32), hashSpec: str(b, 72, 32),
    payloadOffset: u32(b, 104), keyBytes: u32(b, 108), mkDigest: b.subarray(112, 132), mkDigestSalt: b.subarray(132, 164),
    mkDigestIter: u32(b, 164), uuid: str(b, 168, 40),
    slots: Array.from({ length: 8 }, (_, i) => {
      const s = 208 + 48 * i;
      return { active: u32(b, s), iterations: u32(b, s + 4), salt: b.subarray(s + 8, s + 40), keyMaterialOffset: u32(b, s + 40), stripes: u32(b, s + 44) };
    }),
  };
}

/** Key slot 0 enabled, 1–7 disabled; key material areas 4 KiB-aligned, in order, not overlapping. */
function checkPhdr(b: Uint8Array, p: Phdr, expect: { cipherName: string; cipherMode: string; hashSpec: string; keyBytes: number }): void {
  assert.equal(p.version, 1);
  assert.deepEqual({ cipherName: p.cipherName, cipherMode: p.cipherMode, hashSpec: p.hashSpec, keyBytes: p.keyBytes }, expect);
  assert.equal(p.mkDigestIter, ITER.masterKey);
  assert.ok(!isZero(p.mkDigest) && !isZero(p.mkDigestSalt));
  assert.match(p.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const sectors = Math.ceil((p.keyBytes * 4000) / 512);
  const aligned = Math.ceil(sectors / 8) * 8;
  p.slots.forEach((s, i) => {
    assert.equal(s.active, i === 0 ? 0x00ac71f3 : 0x0000dead, `slot ${i} state`);
    assert.equal(s.stripes, 4000);
    assert.equal(s.keyMaterialOffset % 8, 0, 'key material 4 KiB-aligned');
    assert.equal(s.keyMaterialOffset, 8 + i * aligned, `slot ${i} key material after the previous one`);
    if (i === 0) { assert.equal(s.iterations, ITER.slot); assert.ok(!isZero(s.salt)); } else {
      assert.equal(s.iterations, 0);
      assert.ok(isZero(s.salt));
      const at = s.keyMaterialOffset * 512;
      assert.ok(isZero(b.subarray(at, at + sectors * 512)), `slot ${i} has no key material`);
    }
  });
  assert.equal(p.payloadOffset, 8 + 8 * aligned, 'payload after the last key material area');
  assert.ok(isZero(b.subarray(592, 4096)), 'nothing between the phdr and the first key material');
}

test('raw LUKS1: phdr fields, key slots and key material layout; the passphrase unlocks slot 0', async () => {
  const cases = [
    { options: {}, expect: { cipherName: 'aes', cipherMode: 'xts-plain64', hashSpec: 'sha256', keyBytes: 64 } },
    { options: { 'cipher-alg': 'aes-128', 'cipher-mode': 'cbc', 'ivgen-alg': 'essiv', 'hash-alg': 'sha1' },
      expect: { cipherName: 'aes', cipherMode: 'cbc-essiv:sha256', hashSpec: 'sha1', keyBytes: 16 } },
  ];
  for (const c of cases) {
    const dir = fs.mkdtempSync(join(os.tmpdir(), 'lv-luks-layout-'));
    try {
      const job: ImageJob = { format: 'luks', filename: 'img', size: 1 << 20, options: c.options, passphrase: PASS, iterations: ITER };
      await createImage(job, { io: nodeWriterIO(), cwd: dir });
      const b = fs.readFileSync(join(dir, 'img'));
      const p = readPhdr(b);
      checkPhdr(b, p, c.expect);
      assert.equal(b.length, p.payloadOffset * 512 + (1 << 20), 'file = payload offset + virtual size');
      assert.ok(await unlockLuks(b, PASS), 'the passphrase unlocks a key slot');
      assert.equal(await unlockLuks(b, new TextEncoder().encode('wrong')), undefined);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('qcow2 + LUKS: crypt_method 2, the full disk encryption extension names the LUKS1 header clusters', async () => {
  const { bytes: b, dir } = await make({ format: 'qcow2', size: '1M', options: ['encrypt.format=luks', 'encrypt.key-secret=s'] },
    { encrypt: true });
  try {
    const h = readQcow2(b);
    assert.equal(h.cryptMethod, 2);
    const ext = h.extensions.get(FULL_DISK_ENCRYPTION)!;
    assert.equal(ext.length, 16, 'u64 offset, u64 length');
    const offset = Number(u64(ext, 0)), length = Number(u64(ext, 8));
    assert.equal(offset % 65536, 0, 'the LUKS header starts on a cluster');
    const area = b.subarray(offset, offset + length);
    const p = readPhdr(area);
    checkPhdr(area, p, { cipherName: 'aes', cipherMode: 'xts-plain64', hashSpec: 'sha256', keyBytes: 64 });
    assert.equal(length, p.payloadOffset * 512, 'the extension length is the LUKS payload offset');
    assert.ok(await unlockLuks(Buffer.from(area), PASS));
    const used = new Set<number>();
    walkL1(b, h, used);
    for (let c = offset / 65536; c < Math.ceil((offset + length) / 65536); c++) used.add(c);
    checkRefcounts(b, h, used);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
