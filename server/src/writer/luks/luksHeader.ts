// LUKS1 header + key slot 0 exactly as qemu 7.2 writes it (crypto/block-luks.c
// qcrypto_block_luks_create; cryptsetup's LUKS1 on-disk format specification): big-endian fields,
// cipher name / mode spec / hash spec strings, master-key digest = PBKDF2(master key, 20 bytes),
// slot 0 enabled with 4000 AF stripes encrypted by a PBKDF2-derived key with the volume's own
// cipher, mode and IV generator (sectors numbered from 0), slots 1–7 disabled but with their key
// material offsets filled in, payload offset after eight 4 KiB-aligned key material areas.
// The result is the whole area before the payload (header + key material, zero elsewhere).
import { randomBytes, randomUUID } from 'node:crypto';
import { LUKS1, scaleIterations, type ResolvedLuksOptions, cipherAlgInfo } from '../../../../schemas/luksOptions';
import { createBlockCipher } from '../crypto/blockCipher';
import { createIvGen } from '../crypto/ivgen';
import { cryptSectors, type CipherMode, type SectorCipher } from '../crypto/modes';
import { afSplit } from '../crypto/afsplit';
import { abortError, measureBlockRate, pbkdf2Async, rateFor } from '../crypto/pbkdf';
import { splitCipherModeSpec, writeLuks1Header, type Luks1Header } from './luksFormat';

export interface LuksKeyDerivationReport {
  masterKeyIters: number;
  slotIters: number;
  /** Wall milliseconds spent measuring and deriving. */
  benchmarkMs: number;
  deriveMs: number;
}

export interface BuildLuksOptions {
  resolved: ResolvedLuksOptions;
  /** Passphrase bytes (qemu: the secret's UTF-8 text up to the first NUL). */
  passphrase: Uint8Array;
  signal?: AbortSignal;
  /** Fraction 0..1 of the key derivation done (time-based estimate). */
  onProgress?: (fraction: number) => void;
  /** Override the measured speed (tests); iterations/s for one digest-sized PBKDF2 block. */
  blockRate?: number;
  /** Fixed iteration counts (tests, reproducibility); bypasses measuring. */
  iterations?: { masterKey: number; slot: number };
  /** Also return the payload's sector cipher (a writer that encrypts data right after: convert). */
  keepCipher?: boolean;
}

export interface LuksHeaderResult {
  /** payloadOffset × 512 bytes: header, key material of slot 0, zeros elsewhere. */
  bytes: Buffer;
  uuid: string;
  payloadOffsetBytes: number;
  report: LuksKeyDerivationReport;
  /** With keepCipher: the payload cipher (master key, the volume's mode and IV generator). */
  cipher?: SectorCipher;
}

/** Builds a sector cipher for a given key with the volume's algorithm (qemu qcrypto_cipher_new + ivgen_new). */
export function sectorCipherFor(
  r: Pick<ResolvedLuksOptions, 'family' | 'cipherMode' | 'ivgenAlg' | 'essivCipherAlg' | 'ivgenHashAlg'>,
  key: Uint8Array,
): SectorCipher {
  const mode = r.cipherMode as CipherMode;
  const half = mode === 'xts' ? key.length / 2 : key.length;
  const sc: SectorCipher = { mode, cipher: createBlockCipher(r.family, key.subarray(0, half)) };
  if (mode === 'xts') sc.tweak = createBlockCipher(r.family, key.subarray(half));
  const essivFamily = r.essivCipherAlg ? cipherAlgInfo(r.essivCipherAlg)?.family.name : undefined;
  sc.ivgen = createIvGen(r.ivgenAlg, essivFamily, r.ivgenHashAlg, key);
  return sc;
}

export async function buildLuksHeader(o: BuildLuksOptions): Promise<LuksHeaderResult> {
  const r = o.resolved;
  // iterTimeMs is exact below 2^53; anything larger already failed checkLuksOptions' range rule.
  const iterTime = BigInt(Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, Math.round(r.iterTimeMs))));
  const t0 = Date.now();
  let mkIters: number, slotIters: number;
  if (o.iterations) {
    mkIters = o.iterations.masterKey;
    slotIters = o.iterations.slot;
  } else {
    const blockRate = o.blockRate ?? measureBlockRate(r.hashAlg);
    const mk = scaleIterations(rateFor(r.hashAlg, blockRate, LUKS1.digestBytes), iterTime, true);
    if ('error' in mk) throw new Error(mk.error);
    const slot = scaleIterations(rateFor(r.hashAlg, blockRate, r.keyBytes), iterTime, false);
    if ('error' in slot) throw new Error(slot.error);
    mkIters = mk.iters;
    slotIters = slot.iters;
  }
  const t1 = Date.now();
  if (o.signal?.aborted) throw abortError();

  const masterKey = randomBytes(r.keyBytes);
  const mkSalt = randomBytes(LUKS1.saltBytes);
  const slotSalt = randomBytes(LUKS1.saltBytes);
  const uuid = randomUUID();

  // Both derivations run at once on the thread pool; progress follows the slot's expected time.
  const expectedMs = Math.max(1, Number(iterTime));
  const timer = o.onProgress
    ? setInterval(() => o.onProgress!(Math.min(0.99, (Date.now() - t1) / expectedMs)), 100)
    : undefined;
  let mkDigest: Buffer, slotKey: Buffer, material: Uint8Array;
  try {
    const mkJob = pbkdf2Async(masterKey, mkSalt, mkIters, LUKS1.digestBytes, r.hashAlg, o.signal);
    const slotJob = pbkdf2Async(o.passphrase, slotSalt, slotIters, r.keyBytes, r.hashAlg, o.signal);
    slotJob.catch(() => undefined); // awaited below; a cancel rejects both
    mkDigest = await mkJob;
    // The master-key digest takes 1/8 of the slot's time; the AF split (8,000 hashes) then runs
    // on the freed core while the slot key is still being derived, off the critical path.
    material = afSplit(r.hashAlg, masterKey, LUKS1.stripes);
    slotKey = await slotJob;
  } finally {
    if (timer) clearInterval(timer);
  }
  const t2 = Date.now();
  o.onProgress?.(1);

  const layout = { offsets: r.keySlotOffsets, payload: r.payloadOffsetSectors };
  const bytes = Buffer.alloc(layout.payload * LUKS1.sectorSize);
  // Slot 0 enabled with the passphrase's key; slots 1–7 disabled, zero salt and iterations, but
  // with their key material offsets and stripes (qcrypto_block_luks_create).
  writeLuks1Header(bytes, {
    version: 1,
    cipherName: r.cipherName,
    cipherMode: r.cipherModeSpec,
    hashSpec: r.hashAlg,
    payloadOffset: layout.payload,
    keyBytes: r.keyBytes,
    mkDigest,
    mkDigestSalt: mkSalt,
    mkDigestIterations: mkIters,
    uuid,
    keySlots: layout.offsets.map((offset, i) => ({
      active: i === 0,
      iterations: i === 0 ? slotIters : 0,
      salt: i === 0 ? slotSalt : new Uint8Array(LUKS1.saltBytes),
      keyMaterialOffset: offset,
      stripes: LUKS1.stripes,
    })),
  });

  // Key material: AF-split master key, encrypted sector by sector with the slot key.
  cryptSectors(sectorCipherFor(r, slotKey), material, 0n, false);
  bytes.set(material, layout.offsets[0] * LUKS1.sectorSize);
  // The cipher keeps its own copy of the key: the master key buffer is wiped either way.
  const cipher = o.keepCipher ? sectorCipherFor(r, Uint8Array.from(masterKey)) : undefined;
  masterKey.fill(0);
  slotKey.fill(0);

  return {
    bytes,
    uuid,
    payloadOffsetBytes: layout.payload * LUKS1.sectorSize,
    report: { masterKeyIters: mkIters, slotIters, benchmarkMs: t1 - t0, deriveMs: t2 - t1 },
    cipher,
  };
}

/** Resolves the algorithm of a parsed header the way qemu's open does (for our own round trips). */
export function resolvedFromHeader(
  h: Luks1Header,
): Pick<
  ResolvedLuksOptions,
  'family' | 'cipherMode' | 'ivgenAlg' | 'essivCipherAlg' | 'ivgenHashAlg' | 'hashAlg' | 'keyBytes'
> {
  const { mode, ivgen: ivgenAlg, ivHash } = splitCipherModeSpec(h.cipherMode);
  const cipherKeyBytes = mode === 'xts' ? h.keyBytes / 2 : h.keyBytes;
  let essivCipherAlg: string | undefined;
  if (ivgenAlg === 'essiv' && ivHash) {
    const dlen = { md5: 16, sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64, ripemd160: 20 }[ivHash] ?? 0;
    essivCipherAlg = `${h.cipherName}-${(dlen || cipherKeyBytes) * 8}`;
  }
  return {
    family: h.cipherName,
    cipherMode: mode,
    ivgenAlg,
    ivgenHashAlg: ivHash,
    essivCipherAlg,
    hashAlg: h.hashSpec,
    keyBytes: h.keyBytes,
  };
}
