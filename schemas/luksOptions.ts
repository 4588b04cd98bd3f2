// LUKS creation options as data, and a pure checker that answers with qemu-img 7.2's own message
// for the first rule an option set breaks, in the order qemu checks them.
//
// Order (measured with qemu-img 7.2, and read from qemu's
// block/crypto.c + crypto/block-luks.c `qcrypto_block_luks_create`):
//   1. QemuOpts number parsing of iter-time            "Parameter 'iter-time' expects a number"
//   2. QAPI enums, in struct order (cipher-alg, cipher-mode, ivgen-alg, ivgen-hash-alg, hash-alg)
//                                                      "Parameter 'cipher-alg' does not accept value 'x'"
//   3. key-secret present, then the secret object exists
//   4. cipher family the LUKS writer knows              "Algorithm '3des' not supported"
//   5. essiv: digest length must be a key size of the family ("No AES cipher with key size 20 available")
//   6. the cipher backend accepts the mode              "Unsupported cipher mode xts" (cast5)
//   7. PBKDF iteration scaling (depends on the machine's PBKDF2 speed)
//   8. qemu 7.2 then *aborts* for 192-bit keys outside xts (oracles §8); this project refuses them.
// Inside qcow2 the iter-time and key-secret messages carry the `encrypt.` prefix, the enum messages
// do not (measured). Imports nothing but the vocabulary: safe for the language service.
import {
  CIPHERS,
  CIPHER_MODES,
  HASHES,
  IVGENS,
  LUKS_DEFAULTS,
  QEMU_CIPHER_ALGS,
  type CipherFamily,
} from './vocabulary';

/** LUKS1 constants (cryptsetup's LUKS1 on-disk format spec; qemu crypto/block-luks.c). */
export const LUKS1 = {
  sectorSize: 512,
  headerBytes: 592,
  keySlots: 8,
  stripes: 4000,
  /** First key material sector (4096 bytes); slot areas are rounded to 8-sector multiples. */
  keySlotOffsetSectors: 8,
  keySlotAlignSectors: 8,
  saltBytes: 32,
  digestBytes: 20,
  uuidBytes: 40,
  minMasterKeyIters: 1000,
  minSlotKeyIters: 1000,
  slotEnabled: 0x00ac71f3,
  slotDisabled: 0x0000dead,
} as const;

export type LuksOptionName =
  'cipher-alg' | 'cipher-mode' | 'ivgen-alg' | 'ivgen-hash-alg' | 'hash-alg' | 'iter-time' | 'key-secret';

/** The option names in the order qemu's QAPI visitor checks the enum ones. */
export const LUKS_ENUM_OPTIONS: { name: Exclude<LuksOptionName, 'iter-time' | 'key-secret'>; values: string[] }[] = [
  { name: 'cipher-alg', values: QEMU_CIPHER_ALGS },
  { name: 'cipher-mode', values: CIPHER_MODES.map((m) => m.value) },
  { name: 'ivgen-alg', values: IVGENS.map((i) => i.value) },
  { name: 'ivgen-hash-alg', values: HASHES.map((h) => h.value) },
  { name: 'hash-alg', values: HASHES.map((h) => h.value) },
];

/** Every LUKS option with its default and meaning (for completion/hover and the CLI's help). */
export const LUKS_OPTIONS: { name: LuksOptionName; default?: string; description: string }[] = [
  { name: 'key-secret', description: 'ID of a `--object secret,…` holding the passphrase. Required.' },
  {
    name: 'cipher-alg',
    default: LUKS_DEFAULTS.cipherAlg,
    description:
      'Cipher and key size: aes-128/192/256, twofish-128/192/256, serpent-128/192/256, ' +
      "cast5-128. qemu's enum also lists des and 3des, which the LUKS writer refuses.",
  },
  {
    name: 'cipher-mode',
    default: LUKS_DEFAULTS.cipherMode,
    description: 'Block cipher mode: xts (key doubled), cbc, ctr, ecb.',
  },
  { name: 'ivgen-alg', default: LUKS_DEFAULTS.ivgenAlg, description: 'IV generator: plain64, plain, essiv.' },
  {
    name: 'ivgen-hash-alg',
    description:
      'Hash for essiv (default sha256 with essiv). With plain/plain64 it is only stored in the ' +
      'mode string (`xts-plain64:sha256`).',
  },
  { name: 'hash-alg', default: LUKS_DEFAULTS.hashAlg, description: 'PBKDF2 / anti-forensic splitter hash.' },
  {
    name: 'iter-time',
    default: String(LUKS_DEFAULTS.iterTimeMs),
    description: 'Milliseconds of PBKDF2 work for the key slot (the master-key digest gets an eighth).',
  },
];

/** The cipher-alg values qemu 7.2 parses but its LUKS writer refuses (`Algorithm 'des' not supported`). */
export const LUKS_REFUSED_CIPHER_ALGS = QEMU_CIPHER_ALGS.filter((a) => !familyOf(a));

export interface CipherAlgInfo {
  alg: string;
  family: CipherFamily;
  keyBytes: number;
}

function familyOf(alg: string): CipherAlgInfo | undefined {
  const m = /^([a-z0-9]+)-(\d+)$/.exec(alg);
  if (!m) return undefined;
  const family = CIPHERS.find((c) => c.name === m[1]);
  const bits = Number(m[2]);
  if (!family || !family.keySizes.includes(bits)) return undefined;
  return { alg, family, keyBytes: bits / 8 };
}

/** The cipher-alg values the LUKS writer accepts, e.g. `aes-256`, `cast5-128`. */
export const LUKS_CIPHER_ALGS = QEMU_CIPHER_ALGS.filter((a) => familyOf(a));
export function cipherAlgInfo(alg: string): CipherAlgInfo | undefined {
  return familyOf(alg);
}

/** Digest length of a hash in bytes (undefined for an unknown name). */
export function digestBytes(hash: string): number | undefined {
  return HASHES.find((h) => h.value === hash)?.digestBytes;
}

/** Human names qemu uses in the essiv messages. */
const ESSIV_FAMILY_NAME: Record<string, string> = { aes: 'AES', serpent: 'Serpent', twofish: 'Twofish' };

/**
 * qemu 7.2 aborts (`Assertion QEMU_IS_ALIGNED(len, sectorsize)`, exit 134) when the AF-split key
 * material (key bytes × 4000 stripes) is not a whole number of 512-byte sectors: every 192-bit
 * cipher outside xts (24 × 4000 = 96000 bytes). It aborts the same way *opening* such an image
 * (measured with a cryptsetup-made aes-192-cbc image), so an image we could write would be
 * unusable by qemu 7.2 and libvirt's creation of it fails. The writer refuses these.
 */
export function qemuAbortsOn(cipherAlg: string, cipherMode: string): boolean {
  const info = familyOf(cipherAlg);
  if (!info) return false;
  const keyBytes = cipherMode === 'xts' ? info.keyBytes * 2 : info.keyBytes;
  return (keyBytes * LUKS1.stripes) % LUKS1.sectorSize !== 0;
}

/** Raw option values as typed (strings from `-o`, or numbers from code). */
/** The crypto driver's options without key-secret, in qemu's order (the Formatting line's too). */
export const LUKS_CRYPTO_OPTIONS = LUKS_OPTIONS.map((o) => o.name).filter(
  (n): n is Exclude<LuksOptionName, 'key-secret'> => n !== 'key-secret',
);

/** The LUKS options present in a qemu option set (`get` answers undefined for absent ones). */
export function pickLuksOptions(get: (name: string) => string | undefined, prefix = ''): LuksOptionInput {
  const o: LuksOptionInput = {};
  for (const k of LUKS_CRYPTO_OPTIONS) {
    const v = get(prefix + k);
    if (v !== undefined) o[k] = v;
  }
  return o;
}

export interface LuksOptionInput {
  'key-secret'?: string;
  'cipher-alg'?: string;
  'cipher-mode'?: string;
  'ivgen-alg'?: string;
  'ivgen-hash-alg'?: string;
  'hash-alg'?: string;
  'iter-time'?: string | number;
}

export interface CheckLuksContext {
  /** `encrypt.` inside qcow2; '' for `-f luks`. */
  prefix?: string;
  /** Check key-secret presence (qemu's step 3). Off for diagnostics that only judge the cipher. */
  requireKeySecret?: boolean;
  /** Known secret object ids; when given, an unknown key-secret gives `No secret with id 'x'`. */
  secretIds?: Iterable<string>;
  /**
   * PBKDF2 iterations per second measured for (hash, 20-byte output) and (hash, key-size output).
   * Needed only to reproduce qemu's iteration-range errors exactly; defaults are this machine's
   * order of magnitude for sha256 (the message then names an approximate count).
   */
  itersPerSecond?: { masterKey: number; slot: number };
}

export type LuksCheckKind =
  'number' | 'enum' | 'key-secret' | 'secret' | 'algorithm' | 'essiv' | 'mode' | 'iterations' | 'qemu-abort';

export interface LuksCheckError {
  ok: false;
  kind: LuksCheckKind;
  /** The option at fault (for diagnostic ranges). */
  option: LuksOptionName;
  /** qemu-img 7.2's message, without the `qemu-img: FILE: ` prefix (or ours for `qemu-abort`). */
  message: string;
  /** True when qemu-img itself fails differently (aborts) and the message is this project's. */
  ours?: boolean;
}

export interface ResolvedLuksOptions {
  ok: true;
  cipherAlg: string;
  family: string;
  /** Key size of one cipher instance. */
  cipherKeyBytes: number;
  /** Master key length stored in the header (doubled for xts). */
  keyBytes: number;
  blockBytes: number;
  cipherMode: string;
  ivgenAlg: string;
  /** Set when given, or sha256 with essiv (qemu's rule). */
  ivgenHashAlg?: string;
  /** The cipher essiv encrypts the sector number with (key size = digest length). */
  essivCipherAlg?: string;
  hashAlg: string;
  /** Milliseconds, as qemu reads it (unsigned 64-bit; exact value: parseIterTime). */
  iterTimeMs: number;
  /** LUKS header strings. */
  cipherName: string;
  cipherModeSpec: string;
  /** Layout in 512-byte sectors. */
  keyMaterialSectors: number;
  keySlotOffsets: number[];
  payloadOffsetSectors: number;
}

export type LuksCheckResult = LuksCheckError | ResolvedLuksOptions;

const U64_MAX = (1n << 64n) - 1n;
const U32_MAX = 0xffffffffn;

/**
 * qemu parses iter-time with QemuOpts (`qemu_strtou64`, base 0: leading blanks, a sign, 0x hex,
 * leading-0 octal; nothing may trail). A minus sign wraps modulo 2^64 like strtoull.
 */
export function parseIterTime(v: string | number | undefined): bigint | undefined {
  if (v === undefined) return BigInt(LUKS_DEFAULTS.iterTimeMs);
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt.asUintN(64, BigInt(v)) : undefined;
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(v);
  if (!m) return undefined;
  const digits = m[2];
  let n: bigint;
  if (/^0[xX]/.test(digits)) n = BigInt(digits);
  else if (digits.length > 1 && digits[0] === '0') n = BigInt('0o' + digits.slice(1));
  else n = BigInt(digits);
  if (n > U64_MAX) return undefined; // ERANGE → "expects a number"
  return m[1] === '-' ? BigInt.asUintN(64, -n) : n;
}

/** Key material size in sectors and the resulting slot offsets / payload offset (qemu = cryptsetup). */
export function luksLayout(keyBytes: number): {
  keyMaterialSectors: number;
  keySlotOffsets: number[];
  payloadOffsetSectors: number;
} {
  const materialSectors = Math.ceil((keyBytes * LUKS1.stripes) / LUKS1.sectorSize);
  const perSlot = Math.ceil(materialSectors / LUKS1.keySlotAlignSectors) * LUKS1.keySlotAlignSectors;
  const keySlotOffsets = Array.from({ length: LUKS1.keySlots }, (_, i) => LUKS1.keySlotOffsetSectors + perSlot * i);
  return {
    keyMaterialSectors: materialSectors,
    keySlotOffsets,
    payloadOffsetSectors: LUKS1.keySlotOffsetSectors + perSlot * LUKS1.keySlots,
  };
}

/**
 * The iteration counts qemu derives for a given speed, or qemu's error. masterKey gets an eighth
 * of iter-time (cryptsetup's convention qemu follows), the slot the whole of it; both at least 1000.
 */
export function scaleIterations(
  itersPerSecond: number,
  iterTimeMs: bigint,
  eighth: boolean,
): { iters: number } | { error: string } {
  const rate = BigInt(Math.max(0, Math.floor(itersPerSecond)));
  if (iterTimeMs !== 0n && rate > U64_MAX / iterTimeMs) {
    return { error: `PBKDF iterations ${rate} too large to scale: Numerical result out of range` };
  }
  let iters = (rate * iterTimeMs) / 1000n;
  if (eighth) iters /= 8n;
  if (iters > U32_MAX)
    return { error: `PBKDF iterations ${iters} larger than ${U32_MAX}: Numerical result out of range` };
  const floor = BigInt(eighth ? LUKS1.minMasterKeyIters : LUKS1.minSlotKeyIters);
  return { iters: Number(iters < floor ? floor : iters) };
}

/** Rough sha256 PBKDF2 speeds (iterations/s) used when the caller has not measured any. */
const DEFAULT_RATES = { masterKey: 5_000_000, slot: 2_500_000 };

/** Checks LUKS options like qemu-img 7.2 and resolves defaults; the first violated rule wins. */
export function checkLuksOptions(opts: LuksOptionInput, ctx: CheckLuksContext = {}): LuksCheckResult {
  const prefix = ctx.prefix ?? '';
  const iterTime = parseIterTime(opts['iter-time']);
  if (iterTime === undefined) {
    return {
      ok: false,
      kind: 'number',
      option: 'iter-time',
      message: `Parameter '${prefix}iter-time' expects a number`,
    };
  }
  for (const e of LUKS_ENUM_OPTIONS) {
    const v = opts[e.name];
    if (v !== undefined && !e.values.includes(v)) {
      return { ok: false, kind: 'enum', option: e.name, message: `Parameter '${e.name}' does not accept value '${v}'` };
    }
  }
  const cipherAlg = opts['cipher-alg'] ?? LUKS_DEFAULTS.cipherAlg;
  const cipherMode = opts['cipher-mode'] ?? LUKS_DEFAULTS.cipherMode;
  const ivgenAlg = opts['ivgen-alg'] ?? LUKS_DEFAULTS.ivgenAlg;
  const hashAlg = opts['hash-alg'] ?? LUKS_DEFAULTS.hashAlg;
  const ivgenHashAlg = opts['ivgen-hash-alg'] ?? (ivgenAlg === 'essiv' ? 'sha256' : undefined);

  if (ctx.requireKeySecret || ctx.secretIds) {
    const secret = opts['key-secret'];
    if (secret === undefined) {
      return {
        ok: false,
        kind: 'key-secret',
        option: 'key-secret',
        message: `Parameter '${prefix}key-secret' is required for cipher`,
      };
    }
    if (ctx.secretIds && ![...ctx.secretIds].includes(secret)) {
      return { ok: false, kind: 'secret', option: 'key-secret', message: `No secret with id '${secret}'` };
    }
  }

  const info = familyOf(cipherAlg);
  if (!info)
    return { ok: false, kind: 'algorithm', option: 'cipher-alg', message: `Algorithm '${cipherAlg}' not supported` };

  let essivCipherAlg: string | undefined;
  if (ivgenAlg === 'essiv') {
    const dlen = digestBytes(ivgenHashAlg!)!;
    const bits = dlen * 8;
    if (dlen === info.keyBytes) essivCipherAlg = cipherAlg;
    else if (!ESSIV_FAMILY_NAME[info.family.name]) {
      return {
        ok: false,
        kind: 'essiv',
        option: 'ivgen-hash-alg',
        message: `Cipher ${cipherAlg} not supported with essiv`,
      };
    } else if (info.family.keySizes.includes(bits)) essivCipherAlg = `${info.family.name}-${bits}`;
    else {
      return {
        ok: false,
        kind: 'essiv',
        option: 'ivgen-hash-alg',
        message: `No ${ESSIV_FAMILY_NAME[info.family.name]} cipher with key size ${dlen} available`,
      };
    }
  }

  if (info.family.excludedModes.includes(cipherMode)) {
    return { ok: false, kind: 'mode', option: 'cipher-mode', message: `Unsupported cipher mode ${cipherMode}` };
  }

  const rates = ctx.itersPerSecond ?? DEFAULT_RATES;
  for (const [rate, eighth] of [
    [rates.masterKey, true],
    [rates.slot, false],
  ] as const) {
    const r = scaleIterations(rate, iterTime, eighth);
    if ('error' in r) return { ok: false, kind: 'iterations', option: 'iter-time', message: r.error };
  }

  if (qemuAbortsOn(cipherAlg, cipherMode)) {
    return {
      ok: false,
      kind: 'qemu-abort',
      option: 'cipher-alg',
      ours: true,
      message:
        `Cipher ${cipherAlg} with cipher mode ${cipherMode} is not supported: qemu 7.2 aborts ` +
        `creating or opening it (the key material, ${info.keyBytes} bytes × ${LUKS1.stripes} ` +
        `stripes, is not a whole number of 512-byte sectors); use xts or a 128/256-bit key`,
    };
  }

  const keyBytes = cipherMode === 'xts' ? info.keyBytes * 2 : info.keyBytes;
  return {
    ok: true,
    cipherAlg,
    family: info.family.name,
    cipherKeyBytes: info.keyBytes,
    keyBytes,
    blockBytes: info.family.blockBits / 8,
    cipherMode,
    ivgenAlg,
    ivgenHashAlg,
    essivCipherAlg,
    hashAlg,
    iterTimeMs: Number(iterTime),
    cipherName: info.family.name,
    cipherModeSpec:
      opts['ivgen-hash-alg'] !== undefined || ivgenAlg === 'essiv'
        ? `${cipherMode}-${ivgenAlg}:${ivgenHashAlg}`
        : `${cipherMode}-${ivgenAlg}`,
    ...luksLayout(keyBytes),
  };
}

/**
 * The qcow2 `encrypt.*` / `encryption` front (block/qcow2.c `qcow2_co_create_opts`,
 * measured in oracles §2.3). Returns qemu's message for the first violation, or which format
 * applies. `luks` options then go through checkLuksOptions with prefix `encrypt.`.
 */
export function checkQcow2EncryptOptions(o: {
  encryption?: string;
  format?: string;
  has: (name: string) => boolean;
}): { ok: true; format?: 'luks' | 'aes' } | { ok: false; message: string; option: string } {
  const bools: Record<string, boolean> = {
    on: true,
    yes: true,
    true: true,
    y: true,
    off: false,
    no: false,
    false: false,
    n: false,
  };
  let legacy: boolean | undefined;
  if (o.encryption !== undefined) {
    legacy = bools[o.encryption];
    if (legacy === undefined)
      return { ok: false, option: 'encryption', message: `Parameter 'encryption' expects 'on' or 'off'` };
  }
  if (o.format !== undefined && legacy) {
    return {
      ok: false,
      option: 'encryption',
      message: `'encrypt.format' and its alias 'encryption' can't be used at the same time`,
    };
  }
  const format = o.format ?? (legacy ? 'aes' : undefined);
  if (format === undefined) {
    const sub = LUKS_OPTIONS.map((x) => x.name).find((n) => o.has(`encrypt.${n}`));
    if (sub) return { ok: false, option: 'encrypt.format', message: `Parameter 'encrypt.format' is missing` };
    return { ok: true };
  }
  if (format !== 'luks' && format !== 'aes')
    return { ok: false, option: 'encrypt.format', message: `Parameter 'format' does not accept value '${format}'` };
  if (format === 'aes') {
    const extra = LUKS_CRYPTO_OPTIONS.find((n) => o.has(`encrypt.${n}`));
    if (extra) return { ok: false, option: `encrypt.${extra}`, message: `Parameter 'encrypt.${extra}' is unexpected` };
    if (!o.has('encrypt.key-secret'))
      return {
        ok: false,
        option: 'encrypt.key-secret',
        message: `Parameter 'encrypt.key-secret' is required for cipher`,
      };
  }
  return { ok: true, format: format as 'luks' | 'aes' };
}

/** Why legacy qcow2 AES is refused unless asked for (qemu docs/tools/qemu-img.rst, block/qcow2.c). */
export const INSECURE_AES_FLAG = '--allow-insecure-aes';
export const INSECURE_AES_WARNING =
  'legacy qcow2 AES encryption is insecure: AES-CBC with the sector number as IV (predictable, leaks patterns), ' +
  'the key is the passphrase itself padded to 16 bytes (no key derivation, no salt), and ' +
  'there is no way to change the passphrase. ' +
  'qemu system emulators refuse to open such images; libvirt refuses to create them since ' +
  '4.5.0. Use encrypt.format=luks.';
export const INSECURE_AES_REFUSAL =
  `legacy qcow2 AES encryption (encryption=on / encrypt.format=aes) is insecure and not ` +
  `created by default; pass ${INSECURE_AES_FLAG} to create it anyway, or use ` +
  `encrypt.format=luks`;

/**
 * libvirt's mapping of `<encryption format='luks'>` to qemu-img options (storage_util.c
 * storageBackendBuildQemuImgEncriptionOpts): `<cipher name size>` becomes
 * cipher-alg=NAME-SIZE (joined even when that names no qemu cipher: des-56, sm4-128, aes-0),
 * mode → cipher-mode, `<cipher hash>` → hash-alg (the PBKDF2/AF hash), `<ivgen name hash>` →
 * ivgen-alg / ivgen-hash-alg. No `<cipher>`: nothing, qemu's defaults apply. The result then goes
 * through checkLuksOptions, which gives qemu-img's verdict on what libvirt would pass.
 */
export function luksOptionsFromLibvirt(
  cipher?: { name?: string; size?: string | number; mode?: string; hash?: string },
  ivgen?: { name?: string; hash?: string },
): LuksOptionInput {
  const o: LuksOptionInput = {};
  if (cipher) {
    if (cipher.name !== undefined) o['cipher-alg'] = `${cipher.name}-${cipher.size ?? 0}`;
    if (cipher.mode !== undefined) o['cipher-mode'] = cipher.mode;
    if (cipher.hash !== undefined) o['hash-alg'] = cipher.hash;
  }
  if (ivgen) {
    if (ivgen.name !== undefined) o['ivgen-alg'] = ivgen.name;
    if (ivgen.hash !== undefined) o['ivgen-hash-alg'] = ivgen.hash;
  }
  return o;
}
