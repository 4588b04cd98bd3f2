// CAST-128 / CAST5 (RFC 2144) with a 128-bit key (16 rounds; qemu's LUKS driver only knows
// cast5-128). Written from the RFC: §2.2 the three round-function types, §2.4 the key schedule
// (the z/x byte formulas, expressed below as data), Appendix A the S-boxes (cast5Sboxes.ts).
// Big-endian words, 64-bit block.
import type { BlockCipher } from './blockCipher';
import { CAST5_SBOX_HEX } from './cast5Sboxes';

const S: Uint32Array[] = CAST5_SBOX_HEX.map((hex) => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) t[i] = parseInt(hex.slice(8 * i, 8 * i + 8), 16) >>> 0;
  return t;
});
const [S1, S2, S3, S4] = S;

/*
 * RFC 2144 §2.4 key schedule as data. State bytes: x0..xF are indices 0..15, z0..zF are 16..31.
 * A "word" step computes 4 bytes at `dst` from the 4 bytes at `src` XOR S5[a] ^ S6[b] ^ S7[c] ^
 * S8[d] ^ S(extraBox)[e]; a "key" step yields one subkey S5[a] ^ S6[b] ^ S7[c] ^ S8[d] ^
 * S(extraBox)[e]. extraBox is 5..8.
 */
type Step = { dst: number; src: number; idx: number[]; box: number } | { key: true; idx: number[]; box: number };
const X = (i: number) => i,
  Z = (i: number) => 16 + i;
const zFromX: Step[] = [
  { dst: Z(0x0), src: X(0x0), idx: [X(0xd), X(0xf), X(0xc), X(0xe), X(0x8)], box: 7 },
  { dst: Z(0x4), src: X(0x8), idx: [Z(0x0), Z(0x2), Z(0x1), Z(0x3), X(0xa)], box: 8 },
  { dst: Z(0x8), src: X(0xc), idx: [Z(0x7), Z(0x6), Z(0x5), Z(0x4), X(0x9)], box: 5 },
  { dst: Z(0xc), src: X(0x4), idx: [Z(0xa), Z(0x9), Z(0xb), Z(0x8), X(0xb)], box: 6 },
];
const xFromZ: Step[] = [
  { dst: X(0x0), src: Z(0x8), idx: [Z(0x5), Z(0x7), Z(0x4), Z(0x6), Z(0x0)], box: 7 },
  { dst: X(0x4), src: Z(0x0), idx: [X(0x0), X(0x2), X(0x1), X(0x3), Z(0x2)], box: 8 },
  { dst: X(0x8), src: Z(0x4), idx: [X(0x7), X(0x6), X(0x5), X(0x4), Z(0x1)], box: 5 },
  { dst: X(0xc), src: Z(0xc), idx: [X(0xa), X(0x9), X(0xb), X(0x8), Z(0x3)], box: 6 },
];
const keys = (v: (i: number) => number, rows: number[][]): Step[] =>
  rows.map((r) => ({
    key: true as const,
    idx: [v(r[0]), v(r[1]), v(r[2]), v(r[3]), v(r[4])],
    box: 5 + (rows.indexOf(r) % 4),
  }));
const SCHEDULE: Step[] = [
  ...zFromX,
  ...keys(Z, [
    [0x8, 0x9, 0x7, 0x6, 0x2],
    [0xa, 0xb, 0x5, 0x4, 0x6],
    [0xc, 0xd, 0x3, 0x2, 0x9],
    [0xe, 0xf, 0x1, 0x0, 0xc],
  ]),
  ...xFromZ,
  ...keys(X, [
    [0x3, 0x2, 0xc, 0xd, 0x8],
    [0x1, 0x0, 0xe, 0xf, 0xd],
    [0x7, 0x6, 0x8, 0x9, 0x3],
    [0x5, 0x4, 0xa, 0xb, 0x7],
  ]),
  ...zFromX,
  ...keys(Z, [
    [0x3, 0x2, 0xc, 0xd, 0x9],
    [0x1, 0x0, 0xe, 0xf, 0xc],
    [0x7, 0x6, 0x8, 0x9, 0x2],
    [0x5, 0x4, 0xa, 0xb, 0x6],
  ]),
  ...xFromZ,
  ...keys(X, [
    [0x8, 0x9, 0x7, 0x6, 0x3],
    [0xa, 0xb, 0x5, 0x4, 0x7],
    [0xc, 0xd, 0x3, 0x2, 0x8],
    [0xe, 0xf, 0x1, 0x0, 0xd],
  ]),
];

function schedule(key: Uint8Array): Uint32Array {
  const st = new Uint8Array(32);
  st.set(key);
  const out = new Uint32Array(32);
  let n = 0;
  const sb = (box: number, i: number) => S[box - 1][st[i]];
  for (let half = 0; half < 2; half++) {
    for (const step of SCHEDULE) {
      const v =
        (sb(5, step.idx[0]) ^
          sb(6, step.idx[1]) ^
          sb(7, step.idx[2]) ^
          sb(8, step.idx[3]) ^
          sb(step.box, step.idx[4])) >>>
        0;
      if ('key' in step) out[n++] = v;
      else {
        const w =
          (((st[step.src] << 24) | (st[step.src + 1] << 16) | (st[step.src + 2] << 8) | st[step.src + 3]) ^ v) >>> 0;
        st[step.dst] = w >>> 24;
        st[step.dst + 1] = (w >>> 16) & 0xff;
        st[step.dst + 2] = (w >>> 8) & 0xff;
        st[step.dst + 3] = w & 0xff;
      }
    }
  }
  return out;
}

const rol = (v: number, n: number) => (n === 0 ? v >>> 0 : ((v << n) | (v >>> (32 - n))) >>> 0);

export class Cast5 implements BlockCipher {
  readonly blockSize = 8;
  private km: Uint32Array;
  private kr: Uint8Array;

  constructor(key: Uint8Array) {
    if (key.length !== 16) throw new Error(`CAST5 key must be 16 bytes (cast5-128), not ${key.length}`);
    const k = schedule(key);
    this.km = k.slice(0, 16);
    this.kr = Uint8Array.from(k.slice(16), (v) => v & 31);
  }

  private f(round: number, d: number): number {
    const km = this.km[round],
      kr = this.kr[round];
    let i: number;
    switch (round % 3) {
      case 0: // type 1
        i = rol((km + d) >>> 0, kr);
        return ((S1[i >>> 24] ^ S2[(i >>> 16) & 0xff]) - S3[(i >>> 8) & 0xff] + S4[i & 0xff]) >>> 0;
      case 1: // type 2
        i = rol((km ^ d) >>> 0, kr);
        return ((S1[i >>> 24] - S2[(i >>> 16) & 0xff] + S3[(i >>> 8) & 0xff]) ^ S4[i & 0xff]) >>> 0;
      default: // type 3
        i = rol((km - d) >>> 0, kr);
        return (((S1[i >>> 24] + S2[(i >>> 16) & 0xff]) ^ S3[(i >>> 8) & 0xff]) - S4[i & 0xff]) >>> 0;
    }
  }

  encryptBlock(src: Uint8Array, so: number, dst: Uint8Array, d: number): void {
    let l = readBE(src, so),
      r = readBE(src, so + 4);
    for (let i = 0; i < 16; i++) {
      const t = r;
      r = (l ^ this.f(i, r)) >>> 0;
      l = t;
    }
    writeBE(dst, d, r);
    writeBE(dst, d + 4, l);
  }

  decryptBlock(src: Uint8Array, so: number, dst: Uint8Array, d: number): void {
    let l = readBE(src, so),
      r = readBE(src, so + 4);
    for (let i = 15; i >= 0; i--) {
      const t = r;
      r = (l ^ this.f(i, r)) >>> 0;
      l = t;
    }
    writeBE(dst, d, r);
    writeBE(dst, d + 4, l);
  }
}

const readBE = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
function writeBE(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}
