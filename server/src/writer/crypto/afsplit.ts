// LUKS anti-forensic information splitter (cryptsetup's LUKS1 on-disk format spec, "AF-Splitter";
// qemu crypto/afsplit.c): the key is spread over `stripes` blocks, all but the last random, each
// folded into a running buffer that is XORed and "diffused" with the hash; the last stripe is the
// key XOR that buffer. Diffusion hashes each digest-sized chunk with its big-endian 32-bit index
// prepended (a short tail chunk takes a truncated digest).
import { createHash, randomBytes } from 'node:crypto';
import { nodeHashName } from './ivgen';

function diffuse(hash: string, block: Uint8Array): void {
  const h = nodeHashName(hash);
  const dlen = createHash(h).digest().length;
  const full = Math.floor(block.length / dlen);
  const tail = block.length % dlen;
  const iv = Buffer.alloc(4);
  for (let i = 0; i <= full; i++) {
    const n = i < full ? dlen : tail;
    if (!n) break;
    iv.writeUInt32BE(i, 0);
    const d = createHash(h)
      .update(iv)
      .update(block.subarray(i * dlen, i * dlen + n))
      .digest();
    block.set(d.subarray(0, n), i * dlen);
  }
}

export function afSplit(
  hash: string,
  key: Uint8Array,
  stripes: number,
  random: (n: number) => Uint8Array = randomBytes,
): Uint8Array {
  const n = key.length;
  const out = new Uint8Array(n * stripes);
  const buf = new Uint8Array(n);
  const rnd = random(n * (stripes - 1));
  out.set(rnd, 0);
  for (let i = 0; i < stripes - 1; i++) {
    for (let j = 0; j < n; j++) buf[j] ^= out[i * n + j];
    diffuse(hash, buf);
  }
  for (let j = 0; j < n; j++) out[(stripes - 1) * n + j] = buf[j] ^ key[j];
  return out;
}

export function afMerge(hash: string, split: Uint8Array, keyLen: number, stripes: number): Uint8Array {
  const buf = new Uint8Array(keyLen);
  for (let i = 0; i < stripes - 1; i++) {
    for (let j = 0; j < keyLen; j++) buf[j] ^= split[i * keyLen + j];
    diffuse(hash, buf);
  }
  const key = new Uint8Array(keyLen);
  for (let j = 0; j < keyLen; j++) key[j] = buf[j] ^ split[(stripes - 1) * keyLen + j];
  return key;
}
