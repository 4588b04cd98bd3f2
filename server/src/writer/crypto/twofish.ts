// Twofish (Schneier, Kelsey, Whiting, Wagner, Hall, Ferguson: "Twofish: A 128-Bit Block Cipher",
// 1998), written from the paper's description: q0/q1 built from the 4-bit tables t0..t3 (§4.3.5),
// the MDS matrix over GF(2^8) mod x^8+x^6+x^5+x^3+1 (§4.2), the RS matrix mod x^8+x^6+x^3+x^2+1
// (§4.3), the h function (§4.3.2), the key schedule K0..K39 and 16 Feistel rounds with input and
// output whitening (§4.1). Keys of 128, 192 and 256 bits. Little-endian words, as the paper and
// Linux/nettle (what dm-crypt and qemu use) do. Verified with the paper's test vectors.
import type { BlockCipher } from './blockCipher';

const Q_TABLES: number[][][] = [
  // q0: t0..t3
  [
    [0x8, 0x1, 0x7, 0xd, 0x6, 0xf, 0x3, 0x2, 0x0, 0xb, 0x5, 0x9, 0xe, 0xc, 0xa, 0x4],
    [0xe, 0xc, 0xb, 0x8, 0x1, 0x2, 0x3, 0x5, 0xf, 0x4, 0xa, 0x6, 0x7, 0x0, 0x9, 0xd],
    [0xb, 0xa, 0x5, 0xe, 0x6, 0xd, 0x9, 0x0, 0xc, 0x8, 0xf, 0x3, 0x2, 0x4, 0x7, 0x1],
    [0xd, 0x7, 0xf, 0x4, 0x1, 0x2, 0x6, 0xe, 0x9, 0xb, 0x3, 0x0, 0x8, 0x5, 0xc, 0xa],
  ],
  // q1: t0..t3
  [
    [0x2, 0x8, 0xb, 0xd, 0xf, 0x7, 0x6, 0xe, 0x3, 0x1, 0x9, 0x4, 0x0, 0xa, 0xc, 0x5],
    [0x1, 0xe, 0x2, 0xb, 0x4, 0xc, 0x3, 0x7, 0x6, 0xd, 0xa, 0x5, 0xf, 0x9, 0x0, 0x8],
    [0x4, 0xc, 0x7, 0x5, 0x1, 0x6, 0x9, 0xa, 0x0, 0xe, 0xd, 0x8, 0x2, 0xb, 0x3, 0xf],
    [0xb, 0x9, 0x5, 0x1, 0xc, 0x3, 0xd, 0xe, 0x6, 0x4, 0x7, 0xf, 0x2, 0x0, 0x8, 0xa],
  ],
];

const ror4 = (x: number, n: number) => ((x >>> n) | (x << (4 - n))) & 0xf;

function buildQ(t: number[][]): Uint8Array {
  const q = new Uint8Array(256);
  for (let x = 0; x < 256; x++) {
    let a = x >>> 4,
      b = x & 0xf;
    let a1 = a ^ b,
      b1 = (a ^ ror4(b, 1) ^ ((8 * a) & 0xf)) & 0xf;
    a = t[0][a1];
    b = t[1][b1];
    a1 = a ^ b;
    b1 = (a ^ ror4(b, 1) ^ ((8 * a) & 0xf)) & 0xf;
    a = t[2][a1];
    b = t[3][b1];
    q[x] = (b << 4) | a;
  }
  return q;
}
const Q0 = buildQ(Q_TABLES[0]);
const Q1 = buildQ(Q_TABLES[1]);

/** Multiplication in GF(2^8) modulo the given polynomial (with the x^8 bit). */
function gfMul(a: number, b: number, poly: number): number {
  let r = 0;
  while (b) {
    if (b & 1) r ^= a;
    a <<= 1;
    if (a & 0x100) a ^= poly;
    b >>>= 1;
  }
  return r & 0xff;
}

const MDS = [
  [0x01, 0xef, 0x5b, 0x5b],
  [0x5b, 0xef, 0xef, 0x01],
  [0xef, 0x5b, 0x01, 0xef],
  [0xef, 0x01, 0xef, 0x5b],
];
const MDS_POLY = 0x169;
const RS = [
  [0x01, 0xa4, 0x55, 0x87, 0x5a, 0x58, 0xdb, 0x9e],
  [0xa4, 0x56, 0x82, 0xf3, 0x1e, 0xc6, 0x68, 0xe5],
  [0x02, 0xa1, 0xfc, 0xc1, 0x47, 0xae, 0x3d, 0x19],
  [0xa4, 0x55, 0x87, 0x5a, 0x58, 0xdb, 0x9e, 0x03],
];
const RS_POLY = 0x14d;

/** MDS column tables: MDS_COL[j][y] = column j of MDS times byte y, packed little-endian. */
const MDS_COL: Uint32Array[] = [0, 1, 2, 3].map((j) => {
  const t = new Uint32Array(256);
  for (let y = 0; y < 256; y++) {
    t[y] =
      (gfMul(MDS[0][j], y, MDS_POLY) |
        (gfMul(MDS[1][j], y, MDS_POLY) << 8) |
        (gfMul(MDS[2][j], y, MDS_POLY) << 16) |
        (gfMul(MDS[3][j], y, MDS_POLY) << 24)) >>>
      0;
  }
  return t;
});

const rol = (x: number, n: number) => ((x << n) | (x >>> (32 - n))) >>> 0;
const ror = (x: number, n: number) => ((x >>> n) | (x << (32 - n))) >>> 0;
const byte = (x: number, i: number) => (x >>> (8 * i)) & 0xff;

/** The h function (§4.3.2): X a word, L the list of k key words. */
function h(x: number, L: number[]): number {
  const k = L.length;
  let y0 = byte(x, 0),
    y1 = byte(x, 1),
    y2 = byte(x, 2),
    y3 = byte(x, 3);
  if (k === 4) {
    y0 = Q1[y0] ^ byte(L[3], 0);
    y1 = Q0[y1] ^ byte(L[3], 1);
    y2 = Q0[y2] ^ byte(L[3], 2);
    y3 = Q1[y3] ^ byte(L[3], 3);
  }
  if (k >= 3) {
    y0 = Q1[y0] ^ byte(L[2], 0);
    y1 = Q1[y1] ^ byte(L[2], 1);
    y2 = Q0[y2] ^ byte(L[2], 2);
    y3 = Q0[y3] ^ byte(L[2], 3);
  }
  y0 = Q1[Q0[Q0[y0] ^ byte(L[1], 0)] ^ byte(L[0], 0)];
  y1 = Q0[Q0[Q1[y1] ^ byte(L[1], 1)] ^ byte(L[0], 1)];
  y2 = Q1[Q1[Q0[y2] ^ byte(L[1], 2)] ^ byte(L[0], 2)];
  y3 = Q0[Q1[Q1[y3] ^ byte(L[1], 3)] ^ byte(L[0], 3)];
  return (MDS_COL[0][y0] ^ MDS_COL[1][y1] ^ MDS_COL[2][y2] ^ MDS_COL[3][y3]) >>> 0;
}

const readLE = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
function writeLE(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

export class Twofish implements BlockCipher {
  readonly blockSize = 16;
  private K = new Uint32Array(40);
  /** Key-dependent S-boxes folded with the MDS columns: g(X) = S0[b0]^S1[b1]^S2[b2]^S3[b3]. */
  private S: Uint32Array[] = [new Uint32Array(256), new Uint32Array(256), new Uint32Array(256), new Uint32Array(256)];

  constructor(key: Uint8Array) {
    if (![16, 24, 32].includes(key.length))
      throw new Error(`Twofish key must be 16, 24 or 32 bytes, not ${key.length}`);
    const k = key.length / 8;
    const Me: number[] = [],
      Mo: number[] = [],
      Sv: number[] = [];
    for (let i = 0; i < k; i++) {
      Me.push(readLE(key, 8 * i));
      Mo.push(readLE(key, 8 * i + 4));
      // S_i = RS · (m_8i .. m_8i+7), a word of 4 bytes; the S list is used in reverse order.
      let s = 0;
      for (let r = 0; r < 4; r++) {
        let acc = 0;
        for (let c = 0; c < 8; c++) acc ^= gfMul(RS[r][c], key[8 * i + c], RS_POLY);
        s |= acc << (8 * r);
      }
      Sv.unshift(s >>> 0);
    }
    const rho = 0x01010101;
    for (let i = 0; i < 20; i++) {
      const A = h(Math.imul(2 * i, rho) >>> 0, Me);
      const B = rol(h(Math.imul(2 * i + 1, rho) >>> 0, Mo), 8);
      this.K[2 * i] = (A + B) >>> 0;
      this.K[2 * i + 1] = rol((A + 2 * B) >>> 0, 9);
    }
    // g(X) = MDS · (byte chains of h keyed by S); MDS is linear over the bytes, so each input byte
    // position j contributes MDS column j applied to its own q chain: one table per position.
    for (let j = 0; j < 4; j++) {
      for (let x = 0; x < 256; x++) this.S[j][x] = hByte(j, x, Sv);
    }
  }

  private g(x: number): number {
    return (
      (this.S[0][x & 0xff] ^ this.S[1][(x >>> 8) & 0xff] ^ this.S[2][(x >>> 16) & 0xff] ^ this.S[3][x >>> 24]) >>> 0
    );
  }

  encryptBlock(src: Uint8Array, so: number, dst: Uint8Array, d: number): void {
    const K = this.K;
    let r0 = readLE(src, so) ^ K[0],
      r1 = readLE(src, so + 4) ^ K[1];
    let r2 = readLE(src, so + 8) ^ K[2],
      r3 = readLE(src, so + 12) ^ K[3];
    for (let r = 0; r < 16; r++) {
      const t0 = this.g(r0 >>> 0),
        t1 = this.g(rol(r1 >>> 0, 8));
      const f0 = (t0 + t1 + K[2 * r + 8]) >>> 0;
      const f1 = (t0 + 2 * t1 + K[2 * r + 9]) >>> 0;
      const n2 = ror((r2 ^ f0) >>> 0, 1);
      const n3 = (rol(r3 >>> 0, 1) ^ f1) >>> 0;
      r2 = r0;
      r3 = r1;
      r0 = n2;
      r1 = n3;
    }
    // Undo the last swap, then output whitening.
    writeLE(dst, d, (r2 ^ K[4]) >>> 0);
    writeLE(dst, d + 4, (r3 ^ K[5]) >>> 0);
    writeLE(dst, d + 8, (r0 ^ K[6]) >>> 0);
    writeLE(dst, d + 12, (r1 ^ K[7]) >>> 0);
  }

  decryptBlock(src: Uint8Array, so: number, dst: Uint8Array, d: number): void {
    const K = this.K;
    let r2 = readLE(src, so) ^ K[4],
      r3 = readLE(src, so + 4) ^ K[5];
    let r0 = readLE(src, so + 8) ^ K[6],
      r1 = readLE(src, so + 12) ^ K[7];
    for (let r = 15; r >= 0; r--) {
      // Before this round's swap: (r0, r1) were produced from (r2, r3) of the previous state.
      const t0 = this.g(r2 >>> 0),
        t1 = this.g(rol(r3 >>> 0, 8));
      const f0 = (t0 + t1 + K[2 * r + 8]) >>> 0;
      const f1 = (t0 + 2 * t1 + K[2 * r + 9]) >>> 0;
      const p2 = (rol(r0 >>> 0, 1) ^ f0) >>> 0;
      const p3 = ror((r1 ^ f1) >>> 0, 1);
      r0 = r2;
      r1 = r3;
      r2 = p2;
      r3 = p3;
    }
    writeLE(dst, d, (r0 ^ K[0]) >>> 0);
    writeLE(dst, d + 4, (r1 ^ K[1]) >>> 0);
    writeLE(dst, d + 8, (r2 ^ K[2]) >>> 0);
    writeLE(dst, d + 12, (r3 ^ K[3]) >>> 0);
  }
}

/** Byte j of h(X, L) before the MDS, for a single input byte, times MDS column j. */
function hByte(j: number, x: number, L: number[]): number {
  const k = L.length;
  let y = x;
  // Per-position q sequences of h (§4.3.2), from the outermost (k = 4) layer inwards.
  const q4 = [Q1, Q0, Q0, Q1][j],
    q3 = [Q1, Q1, Q0, Q0][j];
  const q2 = [Q0, Q1, Q0, Q1][j],
    q1 = [Q0, Q0, Q1, Q1][j],
    q0 = [Q1, Q0, Q1, Q0][j];
  if (k === 4) y = q4[y] ^ byte(L[3], j);
  if (k >= 3) y = q3[y] ^ byte(L[2], j);
  y = q0[q1[q2[y] ^ byte(L[1], j)] ^ byte(L[0], j)];
  return MDS_COL[j][y];
}
