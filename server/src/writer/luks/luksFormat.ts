// The LUKS1 on-disk format, once: magic, every header and key-slot field with its offset and
// size, one reader and one writer of the 592-byte header. The writer (luksHeader.ts), the image
// reader (probe.ts) and the tests all go through here.
// Source: the LUKS On-Disk Format Specification 1.2.3 (cryptsetup), as qemu implements it in
// crypto/block-luks.c (QCryptoBlockLUKSHeader, QCryptoBlockLUKSKeySlot): all integers big-endian,
// strings NUL-padded. The layout figures (sector size, stripes, slot count, key-slot
// states) are schemas/luksOptions.ts LUKS1, which the language service shares.
import { LUKS1 } from '../../../../schemas/luksOptions';
import { be32 } from '../../common/bytes';

/** "LUKS" 0xBA 0xBE (QCRYPTO_BLOCK_LUKS_MAGIC). */
export const LUKS_MAGIC: readonly number[] = [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe];

/** Header fields: [offset, length] in bytes. */
export const LUKS1_HEADER = {
  magic: [0, 6],
  version: [6, 2],
  cipherName: [8, 32],
  cipherMode: [40, 32],
  hashSpec: [72, 32],
  payloadOffset: [104, 4],
  keyBytes: [108, 4],
  mkDigest: [112, 20],
  mkDigestSalt: [132, 32],
  mkDigestIterations: [164, 4],
  uuid: [168, 40],
  keySlots: [208, 48 * 8],
} as const satisfies Record<string, readonly [number, number]>;

/** Key-slot fields, relative to the slot: [offset, length]. */
export const LUKS1_KEY_SLOT = {
  active: [0, 4],
  iterations: [4, 4],
  salt: [8, 32],
  keyMaterialOffset: [40, 4],
  stripes: [44, 4],
} as const satisfies Record<string, readonly [number, number]>;

export const LUKS1_KEY_SLOT_BYTES = 48;

export interface Luks1KeySlot {
  active: boolean;
  iterations: number;
  salt: Uint8Array;
  /** In 512-byte sectors. */
  keyMaterialOffset: number;
  stripes: number;
}

/** The header's fields under the specification's names (sectors where the format stores sectors). */
export interface Luks1Header {
  version: number;
  cipherName: string;
  /** The mode spec, e.g. `xts-plain64` or `cbc-essiv:sha256`. */
  cipherMode: string;
  hashSpec: string;
  /** In 512-byte sectors. */
  payloadOffset: number;
  keyBytes: number;
  mkDigest: Uint8Array;
  mkDigestSalt: Uint8Array;
  mkDigestIterations: number;
  uuid: string;
  /** As many as fit in the bytes given (all 8 in a full header). */
  keySlots: Luks1KeySlot[];
}

/**
 * The parts of a header's mode spec `MODE-IVGEN[:IVHASH]`, e.g. `cbc-essiv:sha256`; a spec without
 * '-' is a mode alone (ivgen ''). The one reading of it for the unlock, the cipher and the probe.
 */
export function splitCipherModeSpec(spec: string): { mode: string; ivgen: string; ivHash?: string } {
  const dash = spec.indexOf('-');
  if (dash < 0) return { mode: spec, ivgen: '' };
  const [ivgen, ivHash] = spec.slice(dash + 1).split(':');
  return { mode: spec.slice(0, dash), ivgen, ivHash };
}

function cstr(b: Uint8Array, [o, n]: readonly [number, number]): string {
  let s = '';
  for (let i = o; i < o + n && i < b.length && b[i] !== 0; i++) s += String.fromCharCode(b[i]);
  return s;
}

export function hasLuksMagic(b: Uint8Array): boolean {
  return b.length >= LUKS_MAGIC.length && LUKS_MAGIC.every((v, i) => b[i] === v);
}

/** The version field of a LUKS header (1 or 2), or undefined without the magic. */
export function luksVersion(b: Uint8Array): number | undefined {
  return hasLuksMagic(b) && b.length >= 8 ? (b[6] << 8) | b[7] : undefined;
}

/**
 * Reads a LUKS1 header. Needs the fields up to the uuid (208 bytes); key slots are read as far as
 * `b` holds them. undefined without the magic, for another version, or when too short.
 */
export function readLuks1Header(b: Uint8Array): Luks1Header | undefined {
  if (luksVersion(b) !== 1 || b.length < LUKS1_HEADER.keySlots[0]) return undefined;
  const at = (f: readonly [number, number]) => be32(b, f[0]);
  const bytes = (f: readonly [number, number], base = 0) => b.slice(base + f[0], base + f[0] + f[1]);
  const keySlots: Luks1KeySlot[] = [];
  for (let i = 0; i < LUKS1.keySlots; i++) {
    const s = LUKS1_HEADER.keySlots[0] + i * LUKS1_KEY_SLOT_BYTES;
    if (s + LUKS1_KEY_SLOT_BYTES > b.length) break;
    keySlots.push({
      active: be32(b, s + LUKS1_KEY_SLOT.active[0]) === LUKS1.slotEnabled,
      iterations: be32(b, s + LUKS1_KEY_SLOT.iterations[0]),
      salt: bytes(LUKS1_KEY_SLOT.salt, s),
      keyMaterialOffset: be32(b, s + LUKS1_KEY_SLOT.keyMaterialOffset[0]),
      stripes: be32(b, s + LUKS1_KEY_SLOT.stripes[0]),
    });
  }
  return {
    version: 1,
    cipherName: cstr(b, LUKS1_HEADER.cipherName),
    cipherMode: cstr(b, LUKS1_HEADER.cipherMode),
    hashSpec: cstr(b, LUKS1_HEADER.hashSpec),
    payloadOffset: at(LUKS1_HEADER.payloadOffset),
    keyBytes: at(LUKS1_HEADER.keyBytes),
    mkDigest: bytes(LUKS1_HEADER.mkDigest),
    mkDigestSalt: bytes(LUKS1_HEADER.mkDigestSalt),
    mkDigestIterations: at(LUKS1_HEADER.mkDigestIterations),
    uuid: cstr(b, LUKS1_HEADER.uuid),
    keySlots,
  };
}

/** Writes `h` into the first 592 bytes of `out` (which must be zeroed where fields are short). */
export function writeLuks1Header(out: Uint8Array, h: Luks1Header): void {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const str = ([o, n]: readonly [number, number], s: string) => {
    const bytes = new TextEncoder().encode(s);
    // A field keeps at least one NUL (cryptsetup reads them as C strings).
    if (bytes.length >= n) throw new Error(`'${s}' is too long for the LUKS header`);
    out.set(bytes, o);
  };
  out.set(LUKS_MAGIC, LUKS1_HEADER.magic[0]);
  v.setUint16(LUKS1_HEADER.version[0], h.version);
  str(LUKS1_HEADER.cipherName, h.cipherName);
  str(LUKS1_HEADER.cipherMode, h.cipherMode);
  str(LUKS1_HEADER.hashSpec, h.hashSpec);
  v.setUint32(LUKS1_HEADER.payloadOffset[0], h.payloadOffset);
  v.setUint32(LUKS1_HEADER.keyBytes[0], h.keyBytes);
  out.set(h.mkDigest, LUKS1_HEADER.mkDigest[0]);
  out.set(h.mkDigestSalt, LUKS1_HEADER.mkDigestSalt[0]);
  v.setUint32(LUKS1_HEADER.mkDigestIterations[0], h.mkDigestIterations);
  str(LUKS1_HEADER.uuid, h.uuid);
  h.keySlots.forEach((k, i) => {
    const s = LUKS1_HEADER.keySlots[0] + i * LUKS1_KEY_SLOT_BYTES;
    v.setUint32(s + LUKS1_KEY_SLOT.active[0], k.active ? LUKS1.slotEnabled : LUKS1.slotDisabled);
    v.setUint32(s + LUKS1_KEY_SLOT.iterations[0], k.iterations);
    out.set(k.salt, s + LUKS1_KEY_SLOT.salt[0]);
    v.setUint32(s + LUKS1_KEY_SLOT.keyMaterialOffset[0], k.keyMaterialOffset);
    v.setUint32(s + LUKS1_KEY_SLOT.stripes[0], k.stripes);
  });
}
