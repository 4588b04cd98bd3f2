// Block cipher modes as qemu's crypto layer applies them to 512-byte sectors (crypto/block.c
// do_qcrypto_block_cipher_encdec: the IV is regenerated for every sector, numbered from the start
// of the encrypted area). ecb has no IV; cbc chains from the IV; ctr uses the IV as a big-endian
// counter block (nettle ctr_crypt, OpenSSL CTR); xts (IEEE 1619) encrypts the IV with the second
// key half to get the tweak and multiplies it by α in GF(2^128) (little-endian) per block.
import type { BlockCipher } from './blockCipher';
import { Plain64IvGen, PlainIvGen, type IvGen } from './ivgen';

export type CipherMode = 'ecb' | 'cbc' | 'ctr' | 'xts';

export interface SectorCipher {
  mode: CipherMode;
  /** Data cipher (the first key half in xts). */
  cipher: BlockCipher;
  /** xts only: tweak cipher (second key half). */
  tweak?: BlockCipher;
  ivgen?: IvGen;
}

/** IV length qemu uses (qcrypto_cipher_get_iv_len): none for ecb, one block otherwise. */
export function ivLength(mode: CipherMode, blockSize: number): number {
  return mode === 'ecb' ? 0 : blockSize;
}

function xorInto(dst: Uint8Array, d: number, a: Uint8Array, ao: number, n: number): void {
  for (let i = 0; i < n; i++) dst[d + i] ^= a[ao + i];
}

/** Multiplies a 16-byte XTS tweak by α (little-endian convention, reduction 0x87). */
function mulAlpha(t: Uint8Array): void {
  let carry = 0;
  for (let i = 0; i < 16; i++) {
    const b = t[i];
    t[i] = ((b << 1) | carry) & 0xff;
    carry = b >>> 7;
  }
  if (carry) t[0] ^= 0x87;
}

/** Encrypts or decrypts one run of whole blocks with the given IV, in place. */
export function cryptRun(
  sc: SectorCipher,
  iv: Uint8Array,
  buf: Uint8Array,
  off: number,
  len: number,
  decrypt: boolean,
): void {
  const c = sc.cipher,
    bs = c.blockSize;
  if (len % bs !== 0) throw new Error(`length ${len} is not a multiple of the ${bs}-byte block`);
  switch (sc.mode) {
    case 'ecb':
      if (!decrypt && c.encryptBlocks) {
        c.encryptBlocks(buf, off, len);
        return;
      }
      if (decrypt && c.decryptBlocks) {
        c.decryptBlocks(buf, off, len);
        return;
      }
      for (let p = off; p < off + len; p += bs)
        decrypt ? c.decryptBlock(buf, p, buf, p) : c.encryptBlock(buf, p, buf, p);
      return;
    case 'cbc': {
      if (!decrypt && c.encryptCbc) {
        c.encryptCbc(iv, buf, off, len);
        return;
      }
      if (decrypt && c.decryptBlocks) {
        // P[i] = D(C[i]) ^ C[i-1]: every block decrypts independently, then one XOR pass.
        const prev = new Uint8Array(len);
        prev.set(iv.subarray(0, bs), 0);
        prev.set(buf.subarray(off, off + len - bs), bs);
        c.decryptBlocks(buf, off, len);
        xorInto(buf, off, prev, 0, len);
        return;
      }
      const prev = Uint8Array.from(iv);
      const save = new Uint8Array(bs);
      for (let p = off; p < off + len; p += bs) {
        if (decrypt) {
          save.set(buf.subarray(p, p + bs));
          c.decryptBlock(buf, p, buf, p);
          xorInto(buf, p, prev, 0, bs);
          prev.set(save);
        } else {
          xorInto(buf, p, prev, 0, bs);
          c.encryptBlock(buf, p, buf, p);
          prev.set(buf.subarray(p, p + bs));
        }
      }
      return;
    }
    case 'ctr': {
      const ctr = Uint8Array.from(iv);
      if (c.encryptBlocks) {
        // The key stream is the counter blocks encrypted: build them all, encrypt them at once.
        const ks = new Uint8Array(len);
        for (let p = 0; p < len; p += bs) {
          ks.set(ctr, p);
          for (let i = bs - 1; i >= 0; i--) {
            ctr[i] = (ctr[i] + 1) & 0xff;
            if (ctr[i]) break;
          }
        }
        c.encryptBlocks(ks, 0, len);
        xorInto(buf, off, ks, 0, len);
        return;
      }
      const ks = new Uint8Array(bs);
      for (let p = off; p < off + len; p += bs) {
        c.encryptBlock(ctr, 0, ks, 0);
        xorInto(buf, p, ks, 0, bs);
        for (let i = bs - 1; i >= 0; i--) {
          ctr[i] = (ctr[i] + 1) & 0xff;
          if (ctr[i]) break;
        }
      }
      return;
    }
    case 'xts': {
      if (bs !== 16 || !sc.tweak) throw new Error('xts needs a 128-bit block cipher and a tweak key');
      const t = new Uint8Array(16);
      sc.tweak.encryptBlock(iv, 0, t, 0);
      const batch = decrypt ? c.decryptBlocks?.bind(c) : c.encryptBlocks?.bind(c);
      if (batch) {
        // XOR with every block's tweak, one ECB pass over the run, XOR again.
        const tw = new Uint8Array(len);
        for (let p = 0; p < len; p += 16) {
          tw.set(t, p);
          mulAlpha(t);
        }
        xorInto(buf, off, tw, 0, len);
        batch(buf, off, len);
        xorInto(buf, off, tw, 0, len);
        return;
      }
      for (let p = off; p < off + len; p += 16) {
        xorInto(buf, p, t, 0, 16);
        decrypt ? c.decryptBlock(buf, p, buf, p) : c.encryptBlock(buf, p, buf, p);
        xorInto(buf, p, t, 0, 16);
        mulAlpha(t);
      }
      return;
    }
  }
}

/**
 * Encrypts (or decrypts) `buf` in place as consecutive sectors starting at `startSector`,
 * regenerating the IV for each sector like qemu's qcrypto_block_cipher_encrypt_helper.
 */
export function cryptSectors(
  sc: SectorCipher,
  buf: Uint8Array,
  startSector: bigint,
  decrypt = false,
  sectorSize = 512,
): void {
  if (xtsBatchable(sc, buf, sectorSize)) {
    xtsSectors(sc, buf, startSector, decrypt, sectorSize);
    return;
  }
  const niv = ivLength(sc.mode, sc.cipher.blockSize);
  let sector = startSector;
  for (let off = 0; off < buf.length; off += sectorSize, sector++) {
    const n = Math.min(sectorSize, buf.length - off);
    const iv = niv ? (sc.ivgen ? sc.ivgen.calculate(sector, niv) : new Uint8Array(niv)) : new Uint8Array(0);
    cryptRun(sc, iv, buf, off, n, decrypt);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Sectors per batch of the bulk xts path (2 MiB of 512-byte sectors). */
const XTS_BATCH = 4096;
let tweakScratch = new Uint32Array(0);
let ivScratch = new Uint8Array(0);

function xtsBatchable(sc: SectorCipher, buf: Uint8Array, sectorSize: number): boolean {
  return (
    sc.mode === 'xts' &&
    LITTLE_ENDIAN &&
    sc.cipher.blockSize === 16 &&
    !!sc.cipher.encryptBlocks &&
    !!sc.cipher.decryptBlocks &&
    !!sc.tweak?.encryptBlocks &&
    sectorSize % 16 === 0 &&
    buf.length % sectorSize === 0 &&
    buf.byteOffset % 4 === 0 &&
    (sc.ivgen instanceof Plain64IvGen || sc.ivgen instanceof PlainIvGen)
  );
}

/**
 * xts over many sectors at once, the same result as cryptRun per sector: every sector's initial
 * tweak (its plain/plain64 IV encrypted with the second key) in one ECB pass, the per-block
 * tweaks (× α in GF(2^128), little-endian words) in one table, XOR, one ECB pass over all the
 * data, XOR. Block ciphers with a batch ECB (AES through OpenSSL) then run at memory speed
 * instead of two cipher calls per sector.
 */
function xtsSectors(
  sc: SectorCipher,
  buf: Uint8Array,
  startSector: bigint,
  decrypt: boolean,
  sectorSize: number,
): void {
  const blocks = sectorSize / 16;
  const plain = sc.ivgen instanceof PlainIvGen;
  const total = buf.length / sectorSize;
  for (let first = 0; first < total; first += XTS_BATCH) {
    const count = Math.min(XTS_BATCH, total - first);
    const len = count * sectorSize;
    if (ivScratch.length < count * 16) ivScratch = new Uint8Array(XTS_BATCH * 16);
    if (tweakScratch.length < len / 4) tweakScratch = new Uint32Array((XTS_BATCH * sectorSize) / 4);
    const ivs = ivScratch.subarray(0, count * 16);
    const iv32 = new Uint32Array(ivs.buffer, ivs.byteOffset, count * 4);
    // IVs: the sector number little-endian, 32 bits (plain) or 64 bits (plain64), zero-padded.
    const s0 = startSector + BigInt(first);
    let lo = Number(BigInt.asUintN(32, s0));
    let hi = plain ? 0 : Number(BigInt.asUintN(32, s0 >> 32n));
    for (let k = 0; k < count; k++) {
      iv32[k * 4] = lo;
      iv32[k * 4 + 1] = hi;
      iv32[k * 4 + 2] = 0;
      iv32[k * 4 + 3] = 0;
      lo = (lo + 1) >>> 0;
      if (lo === 0 && !plain) hi = (hi + 1) >>> 0;
    }
    sc.tweak!.encryptBlocks!(ivs, 0, ivs.length);
    const tw = tweakScratch;
    for (let k = 0; k < count; k++) {
      let w0 = iv32[k * 4],
        w1 = iv32[k * 4 + 1],
        w2 = iv32[k * 4 + 2],
        w3 = iv32[k * 4 + 3];
      let p = k * blocks * 4;
      for (let j = 0; j < blocks; j++) {
        tw[p] = w0;
        tw[p + 1] = w1;
        tw[p + 2] = w2;
        tw[p + 3] = w3;
        p += 4;
        const carry = w3 >>> 31;
        w3 = ((w3 << 1) | (w2 >>> 31)) >>> 0;
        w2 = ((w2 << 1) | (w1 >>> 31)) >>> 0;
        w1 = ((w1 << 1) | (w0 >>> 31)) >>> 0;
        w0 = ((w0 << 1) ^ (carry ? 0x87 : 0)) >>> 0;
      }
    }
    const off = first * sectorSize;
    const data = new Uint32Array(buf.buffer, buf.byteOffset + off, len / 4);
    for (let i = 0; i < data.length; i++) data[i] ^= tw[i];
    if (decrypt) sc.cipher.decryptBlocks!(buf, off, len);
    else sc.cipher.encryptBlocks!(buf, off, len);
    for (let i = 0; i < data.length; i++) data[i] ^= tw[i];
  }
}
