// The decryption side of the LUKS1 writer, for the image reader: unlock a key slot with the
// passphrase and return the volume's sector cipher (qemu crypto/block-luks.c
// qcrypto_block_luks_open / qcrypto_block_luks_load_key). Every field taken from the header is
// checked before it sizes a read or a key (a corrupt header is an error naming the field), and
// the header is read through a bounded reader. Also the legacy qcow AES cipher (crypto/block-qcow.c
// qcrypto_block_qcow_init), which only the reader uses: migrating away from it is the point.
import { timingSafeEqual } from 'node:crypto';
import { LUKS1, cipherAlgInfo } from '../../../../schemas/luksOptions';
import { createBlockCipher } from '../crypto/blockCipher';
import { createIvGen } from '../crypto/ivgen';
import { cryptSectors, type SectorCipher } from '../crypto/modes';
import { afMerge } from '../crypto/afsplit';
import { pbkdf2Async } from '../crypto/pbkdf';
import { WriterError, throwIfAborted } from '../errors';
import { LUKS1_HEADER, readLuks1Header, splitCipherModeSpec, type Luks1Header } from './luksFormat';
import { resolvedFromHeader, sectorCipherFor } from './luksHeader';

/** Reads `length` bytes at `offset` of the LUKS area (bounded by the caller), naming `what` on error. */
export type AreaRead = (offset: number, length: number, what: string) => Promise<Uint8Array>;

export interface UnlockedLuks {
  header: Luks1Header;
  /** Payload offset in bytes from the start of the LUKS area. */
  payloadOffset: number;
  cipher: SectorCipher;
}

const HEADER_BYTES = LUKS1_HEADER.keySlots[0] + LUKS1_HEADER.keySlots[1];
const MODES = ['ecb', 'cbc', 'ctr', 'xts'];
const IVGENS = ['plain', 'plain64', 'essiv'];
const HASHES = ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'ripemd160'];

/** Why the header's algorithm cannot be used, or undefined (qemu's messages where it has one). */
function algorithmProblem(h: Luks1Header): string | undefined {
  const { mode, ivgen, ivHash } = splitCipherModeSpec(h.cipherMode);
  if (!MODES.includes(mode)) return `Unsupported cipher mode '${h.cipherMode}'`;
  if (mode !== 'ecb' && !IVGENS.includes(ivgen)) return `Unsupported IV generator '${h.cipherMode}'`;
  if (ivgen === 'essiv' && !HASHES.includes(ivHash ?? '')) return `Unsupported IV generator hash '${h.cipherMode}'`;
  if (!HASHES.includes(h.hashSpec)) return `Unsupported hash '${h.hashSpec}'`;
  const cipherBytes = mode === 'xts' ? h.keyBytes / 2 : h.keyBytes;
  if (!Number.isInteger(cipherBytes) || !cipherAlgInfo(`${h.cipherName}-${cipherBytes * 8}`)) {
    return `Algorithm '${h.cipherName}' with key size ${h.keyBytes} bytes not supported`;
  }
  if (h.mkDigestIterations < 1) return 'master key digest iterations is 0';
  return undefined;
}

/** A LUKS1 area opened with a passphrase: the header and the master key (the caller wipes it). */
interface UnlockedKey {
  header: Luks1Header;
  payloadOffset: number;
  masterKey: Buffer;
}

/**
 * The one LUKS1 unlock (qemu qcrypto_block_luks_find_key / qcrypto_block_luks_load_key): every
 * field that sizes a read or a key checked first, each active key slot tried in turn. Throws
 * WriterError: 'corrupt' for a bad header, 'refused' for a wrong passphrase.
 */
async function unlockKey(
  read: AreaRead,
  areaSize: number,
  passphrase: Uint8Array,
  where: string,
  signal?: AbortSignal,
): Promise<UnlockedKey> {
  const bad = (m: string) => new WriterError(`${where}: LUKS header: ${m}`, 'corrupt');
  if (areaSize < HEADER_BYTES) throw bad(`the area of ${areaSize} bytes cannot hold the ${HEADER_BYTES}-byte header`);
  const h = readLuks1Header(await read(0, HEADER_BYTES, 'LUKS header'));
  if (!h) throw bad('no LUKS1 magic and version at offset 0');
  const problem = algorithmProblem(h);
  if (problem) throw bad(problem);
  const payloadOffset = h.payloadOffset * LUKS1.sectorSize;
  if (payloadOffset > areaSize && areaSize !== Infinity) {
    throw bad(`payload offset ${payloadOffset} is past the end of the area (${areaSize} bytes)`);
  }
  const r = resolvedFromHeader(h);
  for (const [i, slot] of h.keySlots.entries()) {
    if (!slot.active) continue;
    // qemu checks these too (qcrypto_block_luks_check_header): stripes is always 4000.
    if (slot.stripes !== LUKS1.stripes) {
      throw bad(`key slot ${i} is corrupted (stripes ${slot.stripes} != ${LUKS1.stripes})`);
    }
    if (slot.iterations < 1) throw bad(`key slot ${i} has 0 iterations`);
    const len = h.keyBytes * slot.stripes;
    const start = slot.keyMaterialOffset * LUKS1.sectorSize;
    if (start < HEADER_BYTES || start + len > Math.min(areaSize, payloadOffset)) {
      throw bad(`key slot ${i}'s key material at offset ${start} (${len} bytes) is outside the header area`);
    }
    throwIfAborted(signal);
    const material = Uint8Array.from(await read(start, len, `key slot ${i} key material`));
    const slotKey = await pbkdf2Async(passphrase, slot.salt, slot.iterations, h.keyBytes, h.hashSpec, signal);
    cryptSectors(sectorCipherFor(r, slotKey), material, 0n, true);
    const mk = Buffer.from(afMerge(h.hashSpec, material, h.keyBytes, slot.stripes));
    const digest = await pbkdf2Async(mk, h.mkDigestSalt, h.mkDigestIterations, LUKS1.digestBytes, h.hashSpec, signal);
    slotKey.fill(0);
    if (timingSafeEqual(digest, h.mkDigest)) return { header: h, payloadOffset, masterKey: mk };
    mk.fill(0);
  }
  throw new WriterError(
    `Could not open '${where}': Invalid password, cannot unlock any keyslot`,
    'refused',
    'passphrase',
  );
}

/**
 * Opens a LUKS1 area (at the start of a raw LUKS file, or the qcow2 crypto header extension's
 * area) of `areaSize` bytes. Throws WriterError: 'corrupt' for a bad header, 'refused' for a
 * wrong passphrase (qemu's "Invalid password, cannot unlock any keyslot").
 */
export async function unlockLuksArea(
  read: AreaRead,
  areaSize: number,
  passphrase: Uint8Array,
  where: string,
  signal?: AbortSignal,
): Promise<UnlockedLuks> {
  const { header, payloadOffset, masterKey } = await unlockKey(read, areaSize, passphrase, where, signal);
  const cipher = sectorCipherFor(resolvedFromHeader(header), masterKey);
  masterKey.fill(0);
  return { header, payloadOffset, cipher };
}

/**
 * The master key of a LUKS1 area held in memory, or undefined for a wrong passphrase: tests check
 * the project's own images (and qemu's, cryptsetup's) with it, independently of qemu.
 */
export async function unlockLuks(area: Uint8Array, passphrase: Uint8Array): Promise<Buffer | undefined> {
  if (!readLuks1Header(area)) throw new Error('not a LUKS1 header');
  const read: AreaRead = async (offset, length) => area.subarray(offset, offset + length);
  try {
    return (await unlockKey(read, area.length, passphrase, 'LUKS area')).masterKey;
  } catch (e) {
    if (e instanceof WriterError && e.code === 'refused') return undefined;
    throw e;
  }
}

/**
 * The legacy qcow AES-CBC cipher (crypt_method 1): the key is the passphrase's first 16 bytes,
 * zero-padded; AES-128-CBC with plain64 IVs of the guest sector number (crypto/block-qcow.c).
 */
export function qcowAesCipher(passphrase: Uint8Array): SectorCipher {
  const key = new Uint8Array(16);
  key.set(passphrase.subarray(0, 16));
  const ivgen = createIvGen('plain64', undefined, undefined, key);
  return { mode: 'cbc', cipher: createBlockCipher('aes', key), ivgen };
}
