// One interface for the four LUKS cipher families, so modes (modes.ts), IV generators (ivgen.ts)
// and the LUKS writer do not care which one they drive. AES comes from node:crypto (OpenSSL);
// Twofish, Serpent and CAST5 are implemented here from their specifications because OpenSSL's
// default provider lacks them (CAST5 lives only in the optional "legacy" provider).
import { createCipheriv, createDecipheriv, type Cipher, type Decipher } from 'node:crypto';
import { Twofish } from './twofish';
import { Serpent } from './serpent';
import { Cast5 } from './cast5';

export interface BlockCipher {
  readonly blockSize: number;
  /** Encrypts one block from src[srcOff..] into dst[dstOff..] (src and dst may be the same). */
  encryptBlock(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void;
  decryptBlock(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void;
  /** Optional whole-run forms, in place (ECB over buf[off, off+len)); a native cipher offers them. */
  encryptBlocks?(buf: Uint8Array, off: number, len: number): void;
  decryptBlocks?(buf: Uint8Array, off: number, len: number): void;
  /** Optional native CBC encryption of a run, in place (CBC encryption cannot be batched as ECB). */
  encryptCbc?(iv: Uint8Array, buf: Uint8Array, off: number, len: number): void;
}

/**
 * AES through OpenSSL: ECB contexts kept open (without padding OpenSSL returns every whole block at
 * once), so the modes hand it whole 512-byte sectors — one call per sector instead of 32.
 */
export class Aes implements BlockCipher {
  readonly blockSize = 16;
  private enc: Cipher;
  private dec: Decipher;
  private readonly key: Uint8Array;
  constructor(key: Uint8Array) {
    if (![16, 24, 32].includes(key.length)) throw new Error(`AES key must be 16, 24 or 32 bytes, not ${key.length}`);
    const alg = `aes-${key.length * 8}-ecb`;
    this.key = key;
    this.enc = createCipheriv(alg, key, null).setAutoPadding(false);
    this.dec = createDecipheriv(alg, key, null).setAutoPadding(false);
  }
  encryptBlocks(buf: Uint8Array, off: number, len: number): void {
    buf.set(this.enc.update(buf.subarray(off, off + len)), off);
  }
  decryptBlocks(buf: Uint8Array, off: number, len: number): void {
    buf.set(this.dec.update(buf.subarray(off, off + len)), off);
  }
  encryptCbc(iv: Uint8Array, buf: Uint8Array, off: number, len: number): void {
    const c = createCipheriv(`aes-${this.key.length * 8}-cbc`, this.key, iv).setAutoPadding(false);
    buf.set(c.update(buf.subarray(off, off + len)), off);
  }
  encryptBlock(src: Uint8Array, so: number, dst: Uint8Array, d: number): void {
    const out = this.enc.update(src.subarray(so, so + 16));
    dst.set(out, d);
  }
  decryptBlock(src: Uint8Array, so: number, dst: Uint8Array, d: number): void {
    const out = this.dec.update(src.subarray(so, so + 16));
    dst.set(out, d);
  }
}

export type CipherFamilyName = 'aes' | 'twofish' | 'serpent' | 'cast5';

export function createBlockCipher(family: string, key: Uint8Array): BlockCipher {
  switch (family) {
    case 'aes':
      return new Aes(key);
    case 'twofish':
      return new Twofish(key);
    case 'serpent':
      return new Serpent(key);
    case 'cast5':
      return new Cast5(key);
    default:
      throw new Error(`Algorithm '${family}' not supported`);
  }
}
