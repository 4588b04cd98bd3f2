// Serpent (Anderson, Biham, Knudsen: "Serpent: A Proposal for the Advanced Encryption Standard",
// 1998), in the paper's bitslice form: 32 rounds of key mixing, one of eight 4-bit S-boxes applied
// across the four 32-bit words, and the linear transformation; the key schedule pads short keys
// with a single 1 bit, expands with the golden-ratio constant and rotates by 11, and derives the
// 33 round keys through the S-boxes (S3, S2, S1, S0, S7, …). Byte order is little-endian words,
// as in the NESSIE test vectors, Linux's "serpent" (dm-crypt) and nettle (qemu).
import type { BlockCipher } from './blockCipher';

/** The eight S-boxes of the specification (S0..S7), as 4-bit permutations. */
const SBOX: number[][] = [
  [3, 8, 15, 1, 10, 6, 5, 11, 14, 13, 4, 2, 7, 0, 9, 12],
  [15, 12, 2, 7, 9, 0, 5, 10, 1, 11, 14, 8, 6, 13, 3, 4],
  [8, 6, 7, 9, 3, 12, 10, 15, 13, 1, 14, 4, 0, 11, 5, 2],
  [0, 15, 11, 8, 12, 9, 6, 3, 13, 1, 2, 4, 10, 7, 5, 14],
  [1, 15, 8, 3, 12, 0, 11, 6, 2, 5, 4, 10, 9, 14, 7, 13],
  [15, 5, 2, 11, 4, 10, 9, 12, 0, 3, 14, 8, 13, 6, 7, 1],
  [7, 2, 12, 5, 8, 4, 6, 11, 14, 9, 1, 15, 13, 3, 10, 0],
  [1, 13, 15, 0, 14, 8, 2, 11, 7, 4, 12, 10, 9, 3, 5, 6],
];
const INV_SBOX = SBOX.map((s) => {
  const inv = new Array<number>(16);
  s.forEach((v, i) => {
    inv[v] = i;
  });
  return inv;
});

/**
 * For each S-box, the input values whose output has bit k set (k = 0..3): applying an S-box to
 * four words in bitslice form is then an OR of minterms, computed once per application.
 */
function outputMinterms(box: number[]): number[][] {
  return [0, 1, 2, 3].map((k) => box.map((v, i) => ((v >>> k) & 1 ? i : -1)).filter((i) => i >= 0));
}
const FWD_TERMS = SBOX.map(outputMinterms);
const INV_TERMS = INV_SBOX.map(outputMinterms);

const mt = new Int32Array(16);
/** Applies a 4-bit S-box bitwise across (x[0], x[1], x[2], x[3]); x[0] carries the low bit. */
function sboxApply(terms: number[][], x: Int32Array): void {
  const a = x[0],
    b = x[1],
    c = x[2],
    d = x[3];
  const na = ~a,
    nb = ~b,
    nc = ~c,
    nd = ~d;
  const lo = [na & nb, a & nb, na & b, a & b];
  const hi = [nc & nd, c & nd, nc & d, c & d];
  for (let v = 0; v < 16; v++) mt[v] = lo[v & 3] & hi[v >>> 2];
  for (let k = 0; k < 4; k++) {
    let r = 0;
    for (const v of terms[k]) r |= mt[v];
    x[k] = r;
  }
}

const rol = (v: number, n: number) => (v << n) | (v >>> (32 - n));

function lt(x: Int32Array): void {
  let x0 = rol(x[0], 13),
    x2 = rol(x[2], 3);
  let x1 = x[1] ^ x0 ^ x2,
    x3 = x[3] ^ x2 ^ (x0 << 3);
  x1 = rol(x1, 1);
  x3 = rol(x3, 7);
  x0 = x0 ^ x1 ^ x3;
  x2 = x2 ^ x3 ^ (x1 << 7);
  x0 = rol(x0, 5);
  x2 = rol(x2, 22);
  x[0] = x0;
  x[1] = x1;
  x[2] = x2;
  x[3] = x3;
}

const ror = (v: number, n: number) => (v >>> n) | (v << (32 - n));

function ltInverse(x: Int32Array): void {
  let x0 = ror(x[0], 5),
    x2 = ror(x[2], 22);
  let x1 = x[1],
    x3 = x[3];
  x2 = x2 ^ x3 ^ (x1 << 7);
  x0 = x0 ^ x1 ^ x3;
  x3 = ror(x3, 7);
  x1 = ror(x1, 1);
  x3 = x3 ^ x2 ^ (x0 << 3);
  x1 = x1 ^ x0 ^ x2;
  x2 = ror(x2, 3);
  x0 = ror(x0, 13);
  x[0] = x0;
  x[1] = x1;
  x[2] = x2;
  x[3] = x3;
}

const readLE = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
function writeLE(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

const PHI = 0x9e3779b9 | 0;

export class Serpent implements BlockCipher {
  readonly blockSize = 16;
  /** 33 round keys × 4 words. */
  private rk = new Int32Array(132);
  private x = new Int32Array(4);

  constructor(key: Uint8Array) {
    if (![16, 24, 32].includes(key.length))
      throw new Error(`Serpent key must be 16, 24 or 32 bytes, not ${key.length}`);
    const padded = new Uint8Array(32);
    padded.set(key);
    if (key.length < 32) padded[key.length] = 0x01; // the single 1 bit right after the key
    const w = new Int32Array(140);
    for (let i = 0; i < 8; i++) w[i] = readLE(padded, 4 * i);
    for (let i = 8; i < 140; i++) w[i] = rol(w[i - 8] ^ w[i - 5] ^ w[i - 3] ^ w[i - 1] ^ PHI ^ (i - 8), 11);
    const t = new Int32Array(4);
    for (let r = 0; r < 33; r++) {
      t.set(w.subarray(8 + 4 * r, 12 + 4 * r));
      sboxApply(FWD_TERMS[(((3 - r) % 8) + 8) % 8], t);
      this.rk.set(t, 4 * r);
    }
  }

  encryptBlock(src: Uint8Array, so: number, dst: Uint8Array, d: number): void {
    const x = this.x,
      rk = this.rk;
    for (let i = 0; i < 4; i++) x[i] = readLE(src, so + 4 * i);
    for (let r = 0; r < 32; r++) {
      for (let i = 0; i < 4; i++) x[i] ^= rk[4 * r + i];
      sboxApply(FWD_TERMS[r % 8], x);
      if (r < 31) lt(x);
      else for (let i = 0; i < 4; i++) x[i] ^= rk[128 + i];
    }
    for (let i = 0; i < 4; i++) writeLE(dst, d + 4 * i, x[i]);
  }

  decryptBlock(src: Uint8Array, so: number, dst: Uint8Array, d: number): void {
    const x = this.x,
      rk = this.rk;
    for (let i = 0; i < 4; i++) x[i] = readLE(src, so + 4 * i);
    for (let r = 31; r >= 0; r--) {
      if (r === 31) for (let i = 0; i < 4; i++) x[i] ^= rk[128 + i];
      else ltInverse(x);
      sboxApply(INV_TERMS[r % 8], x);
      for (let i = 0; i < 4; i++) x[i] ^= rk[4 * r + i];
    }
    for (let i = 0; i < 4; i++) writeLE(dst, d + 4 * i, x[i]);
  }
}
