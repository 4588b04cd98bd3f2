// The reasons the weak-encryption warnings give (schemas/weakCrypto.ts), shown on real LUKS
// images: headers by the project's writer (payload claims) or by qemu-img (header claims), data
// written through the encryption by qemu-io, raw payload bytes compared; cryptsetup reads the
// headers. Each weakness next to its fix.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { weakChoices, PLAIN_IV_LIMIT } from '../../schemas/weakCrypto';
import { createLuksImage } from '../../server/src/writer/luks/createLuks';
import { nodeWriterIO } from '../../server/src/writer/nodeIO';
import { qemuImgInfo, qemuImgOk } from '../helpers/oracle';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lv-weak-'));
  writeFileSync(join(dir, 'pw'), 'pw', { mode: 0o600 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

const S = () => ['--object', `secret,id=s,file=${join(dir, 'pw')}`];

/** A LUKS image by qemu-img (the oracle's own headers); one per option set (qemu-img takes seconds). */
const made = new Map<string, string>();
function luks(name: string, opts: string, size = '1M'): string {
  const key = `${opts}|${size}`;
  if (made.has(key)) return made.get(key)!;
  const f = join(dir, name);
  made.set(key, f);
  qemuImgOk(['create', '-q', '-f', 'luks', ...S(), '-o', `key-secret=s,iter-time=10${opts ? ',' + opts : ''}`, f, size]);
  return f;
}

/**
 * A LUKS image by the project's writer (fixed low iteration counts: fast). The payload is then
 * written by qemu-io, i.e. encrypted by qemu itself with the parameters the header names.
 */
async function writerLuks(name: string, opts: string, size = 1 << 20): Promise<string> {
  const f = join(dir, name);
  const options = Object.fromEntries(opts.split(',').filter(Boolean).map((kv) => kv.split('=')));
  await createLuksImage({ path: f, size, options, passphrase: new TextEncoder().encode('pw'), io: nodeWriterIO(), iterations: { masterKey: 1000, slot: 1000 } });
  return f;
}
function io(f: string, ...cmds: string[]): void {
  execFileSync('qemu-io', [...S(), '--image-opts', `driver=luks,key-secret=s,file.filename=${f}`, ...cmds.flatMap((c) => ['-c', c])], { stdio: 'ignore' });
}
function payloadOffset(f: string): number {
  const j = qemuImgInfo(f);
  return j['format-specific'].data['payload-offset'];
}
function raw(f: string, offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  const fd = openSync(f, 'r');
  try { readSync(fd, b, 0, length, offset); } finally { closeSync(fd); }
  return b;
}
const ids = (c: Parameters<typeof weakChoices>[0]) => weakChoices(c).map((w) => w.id);

test('ecb: equal plaintext blocks give equal ciphertext blocks; xts does not', async () => {
  for (const [mode, weak] of [['ecb', true], ['xts', false]] as const) {
    const f = await writerLuks(`${mode}.luks`, `cipher-mode=${mode}`);
    io(f, 'write -P 0xab 0 4k');
    const c = raw(f, payloadOffset(f), 4096);
    const distinct = new Set(Array.from({ length: 256 }, (_, i) => c.subarray(i * 16, i * 16 + 16).toString('hex'))).size;
    assert.equal(distinct === 1, weak, `${mode}: ${distinct} distinct 16-byte blocks in 4 KiB of 0xab`);
    assert.equal(ids({ cipherMode: mode }).includes('weak-cipher-mode-ecb'), weak);
  }
});

test('ctr: two versions of a sector XOR to the XOR of their plaintexts; xts does not', async () => {
  for (const [mode, weak] of [['ctr', true], ['xts', false]] as const) {
    const f = await writerLuks(`${mode}2.luks`, `cipher-mode=${mode}`);
    const off = payloadOffset(f);
    io(f, 'write -P 0x11 0 512');
    const c1 = raw(f, off, 512);
    io(f, 'write -P 0x5a 0 512');
    const c2 = raw(f, off, 512);
    const leak = c1.every((b, i) => (b ^ c2[i]) === (0x11 ^ 0x5a));
    assert.equal(leak, weak, mode);
    assert.equal(ids({ cipherMode: mode }).includes('weak-cipher-mode-ctr'), weak);
  }
});

test('plain ivgen: sectors 2 TiB apart get the same IV (sparse 3 TiB image); plain64 does not', async () => {
  for (const [ivgen, weak] of [['plain', true], ['plain64', false]] as const) {
    const f = await writerLuks(`${ivgen}.luks`, `ivgen-alg=${ivgen}`, 3 * 2 ** 40);
    io(f, 'write -P 0xab 0 512', `write -P 0xab ${PLAIN_IV_LIMIT} 512`);
    const off = payloadOffset(f);
    const same = raw(f, off, 512).equals(raw(f, off + Number(PLAIN_IV_LIMIT), 512));
    assert.equal(same, weak, ivgen);
    assert.equal(ids({ ivgenAlg: ivgen, sizeBytes: 3n * 2n ** 40n }).includes('weak-ivgen-plain-wrap'), weak);
  }
  // Up to 2 TiB every sector has its own IV: no warning.
  assert.deepEqual(ids({ ivgenAlg: 'plain', sizeBytes: PLAIN_IV_LIMIT }), []);
});

test('xts does not halve the key in qemu: aes-128 → 256-bit master key, aes-256 → 512', () => {
  for (const [alg, bits] of [['aes-128', 256], ['aes-256', 512]] as const) {
    // aes-256 with xts is qemu's default: the same options as the default image below.
    const f = alg === 'aes-256' ? luks('default.luks', '') : luks(`${alg}.luks`, `cipher-alg=${alg},cipher-mode=xts`);
    const dump = execFileSync('cryptsetup', ['luksDump', f]).toString();
    assert.match(dump, new RegExp(`MK bits:\\s+${bits}\\b`), alg);
    assert.equal(ids({ cipherAlg: alg, cipherMode: 'xts' }).includes('weak-xts-128-key'), alg === 'aes-128');
  }
});

test('md5 PBKDF hash: cryptsetup cannot open the header; sha256 it can', () => {
  for (const [hash, weak] of [['md5', true], ['sha256', false]] as const) {
    const f = hash === 'sha256' ? luks('default.luks', '') : luks(`${hash}.luks`, `hash-alg=${hash}`);
    const r = spawnSync('cryptsetup', ['luksDump', f], { encoding: 'utf8' });
    assert.equal(r.status !== 0, weak, `${hash}: ${r.stderr}`);
    if (weak) assert.match(r.stderr, /md5 is not supported|not a valid LUKS device/);
    assert.equal(ids({ hashAlg: hash }).includes('weak-pbkdf-hash'), weak);
  }
});

test('cbc with plain64: equal plaintext sectors differ only through the public sector number', async () => {
  // With a predictable IV the first ciphertext block is E(P0 ⊕ IV): an attacker who can choose
  // P0 = IV ⊕ X (watermarking) makes two sectors encrypt identically. qemu-io writes such a pair.
  const f = await writerLuks('cbc.luks', 'cipher-mode=cbc,ivgen-alg=plain64');
  const off = payloadOffset(f);
  // plain64 IV of sector n: n as 64-bit little endian, then zeros. Plaintexts P(n) = IV(n) ⊕ 0x00…
  // are the IVs themselves, so the first block of both sectors is E(0).
  const sector = (n: number) => { const b = Buffer.alloc(512, 0); b.writeBigUInt64LE(BigInt(n), 0); return b; };
  const p = join(dir, 'wm.bin');
  writeFileSync(p, Buffer.concat([sector(0), sector(1)]));
  io(f, `write -s ${p} 0 1024`);
  const c0 = raw(f, off, 16), c1 = raw(f, off + 512, 16);
  assert.ok(c0.equals(c1), 'watermark: chosen plaintexts collide under cbc-plain64');
  // The same two sectors under cbc-essiv: the IV is secret, the blocks differ.
  const e = await writerLuks('cbc-essiv.luks', 'cipher-mode=cbc,ivgen-alg=essiv,ivgen-hash-alg=sha256');
  io(e, `write -s ${p} 0 1024`);
  const eo = payloadOffset(e);
  assert.ok(!raw(e, eo, 16).equals(raw(e, eo + 512, 16)), 'essiv hides the IV');
  assert.ok(ids({ cipherMode: 'cbc', ivgenAlg: 'plain64' }).includes('weak-cbc-predictable-iv'));
  assert.ok(!ids({ cipherMode: 'cbc', ivgenAlg: 'essiv', ivgenHashAlg: 'sha256' }).includes('weak-cbc-predictable-iv'));
});
