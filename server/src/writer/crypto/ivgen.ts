// IV generators as qemu implements them (crypto/ivgen-plain.c, ivgen-plain64.c, ivgen-essiv.c),
// which match dm-crypt's: plain = low 32 bits of the sector number, little-endian; plain64 = the
// 64-bit sector number, little-endian; essiv = the 64-bit little-endian sector number (zero-padded
// to a block) encrypted with a cipher keyed by hash(master key). The rest of the IV is zero.
import { createHash } from 'node:crypto';
import { createBlockCipher, type BlockCipher } from './blockCipher';

export interface IvGen {
  calculate(sector: bigint, niv: number): Uint8Array;
}

function le(sector: bigint, bytes: number, niv: number): Uint8Array {
  const iv = new Uint8Array(niv);
  let s = BigInt.asUintN(bytes * 8, sector);
  for (let i = 0; i < Math.min(bytes, niv); i++) {
    iv[i] = Number(s & 0xffn);
    s >>= 8n;
  }
  return iv;
}

export class PlainIvGen implements IvGen {
  calculate(s: bigint, niv: number) {
    return le(s, 4, niv);
  }
}
export class Plain64IvGen implements IvGen {
  calculate(s: bigint, niv: number) {
    return le(s, 8, niv);
  }
}

export class EssivIvGen implements IvGen {
  private cipher: BlockCipher;
  /** family: cipher family of the essiv cipher; hash: node digest name; key: the whole (xts: double) key. */
  constructor(family: string, hash: string, key: Uint8Array) {
    const salt = createHash(nodeHashName(hash)).update(key).digest();
    this.cipher = createBlockCipher(family, salt);
  }
  calculate(sector: bigint, niv: number): Uint8Array {
    const bs = this.cipher.blockSize;
    const data = le(sector, 8, bs);
    this.cipher.encryptBlock(data, 0, data, 0);
    const iv = new Uint8Array(niv);
    iv.set(data.subarray(0, Math.min(bs, niv)));
    return iv;
  }
}

/** qemu hash names → node:crypto digest names (identical except none today; kept explicit). */
export function nodeHashName(hash: string): string {
  return hash === 'ripemd160' ? 'ripemd160' : hash;
}

export function createIvGen(
  alg: string,
  essivFamily: string | undefined,
  essivHash: string | undefined,
  key: Uint8Array,
): IvGen {
  switch (alg) {
    case 'plain':
      return new PlainIvGen();
    case 'plain64':
      return new Plain64IvGen();
    case 'essiv':
      return new EssivIvGen(essivFamily!, essivHash!, key);
    default:
      throw new Error(`IV generator ${alg} not supported`);
  }
}
