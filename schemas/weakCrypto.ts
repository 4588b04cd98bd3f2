// The weak-encryption judgement as data plus one pure function, shared by the language service
// (rules/security.ts, validation/security.ts) and the image writer's `create` output, so that an
// editor squiggle and a CLI warning always agree. Inputs are qemu's LUKS option names
// (qapi/crypto.json QCryptoBlockCreateOptionsLUKS); libvirt's `<cipher name size mode hash>` and
// `<ivgen name hash>` map onto them as storage_util.c storageBackendBuildQemuImgEncriptionOpts does.
//
// Nothing here is an error: qemu and libvirt accept every one of these choices. Each entry says
// why it is weak and where to read more; `weakChoices` returns the ones that apply.
import { LUKS_DEFAULTS } from './vocabulary';
import { formatBytes } from '../server/src/common/bytes';

export type WeakSeverity = 'warning' | 'hint';

/** The option a judgement is about (where an editor puts the squiggle). */
export type CryptoField = 'cipherAlg' | 'cipherMode' | 'ivgenAlg' | 'ivgenHashAlg' | 'hashAlg' | 'format';

export interface WeakRule {
  id: string;
  severity: WeakSeverity;
  /** Short statement with `{placeholders}` filled from the choice. */
  summary: string;
  /** Why it is weak (one or two sentences). */
  reason: string;
  doc: string;
}

const LINK = {
  ecb: 'https://en.wikipedia.org/wiki/Block_cipher_mode_of_operation#Electronic_codebook_(ECB)',
  cbc: 'https://en.wikipedia.org/wiki/Disk_encryption_theory#Cipher-block_chaining_(CBC)',
  xts: 'https://en.wikipedia.org/wiki/Disk_encryption_theory#XEX-based_tweaked-codebook_mode_with_ciphertext_stealing_(XTS)',
  ctr: 'https://en.wikipedia.org/wiki/Disk_encryption_theory#Problem_definition',
  ivModes: 'https://gitlab.com/cryptsetup/cryptsetup/-/wikis/DMCrypt',
  sweet32: 'https://sweet32.info/',
  hash: 'https://gitlab.com/cryptsetup/cryptsetup/-/wikis/FrequentlyAskedQuestions',
  qcowAes: 'https://www.qemu.org/docs/master/about/removed-features.html',
  luks: 'https://www.qemu.org/docs/master/system/qemu-block-drivers.html#luks',
} as const;

/** Every weak-crypto judgement. The ids are also the language service's rule ids. */
export const WEAK_CRYPTO_RULES = [
  {
    id: 'weak-cipher-mode-ecb',
    severity: 'warning',
    summary: 'cipher mode ecb shows data patterns',
    reason:
      'ECB encrypts equal plaintext blocks to equal ciphertext and ignores the IV, so the ' +
      "structure of the disk content shows through. Use xts (qemu's default).",
    doc: LINK.ecb,
  },
  {
    id: 'weak-cipher-mode-ctr',
    severity: 'warning',
    summary: 'cipher mode ctr reuses the keystream when a sector is rewritten',
    reason:
      'CTR turns the cipher into a stream cipher whose keystream depends only on the sector ' +
      'number: two versions of one sector XOR to the XOR of their plaintexts, and bits can be ' +
      'flipped undetected. Use xts.',
    doc: LINK.ctr,
  },
  {
    id: 'weak-cbc-predictable-iv',
    severity: 'warning',
    summary: 'cbc with the predictable ivgen {ivgen}',
    reason:
      'With the sector number as IV, CBC allows watermarking attacks (crafted plaintext whose ' +
      'encryption is recognisable) and leaks where sectors start to differ. Use xts with ' +
      'plain64, or at least essiv.',
    doc: LINK.cbc,
  },
  {
    id: 'weak-ivgen-plain-wrap',
    severity: 'warning',
    summary: 'ivgen plain on a {size} volume: the 32-bit IV repeats past 2 TiB',
    reason:
      'plain uses the low 32 bits of the 512-byte sector number (qemu crypto/ivgen-plain.c), so ' +
      'sectors 2 TiB apart get the same IV. plain64 has no such limit.',
    doc: LINK.ivModes,
  },
  {
    id: 'weak-cipher-64bit-block',
    severity: 'warning',
    summary: '{cipher} has a 64-bit block',
    reason:
      'with 64-bit blocks, colliding ciphertext blocks (which leak plaintext relations) are ' +
      'expected after about 2^32 blocks = 32 GiB under one key (birthday bound, Sweet32), less ' +
      'than a disk holds; qemu cannot use it with xts either. Use aes-256 with xts.',
    doc: LINK.sweet32,
  },
  {
    id: 'weak-pbkdf-hash',
    severity: 'warning',
    summary: 'PBKDF2 hash {hash}',
    reason:
      "{hash} is {why}; use sha256 (qemu's default) for the PBKDF2 that turns the passphrase " +
      'into the keys of the slots guarding the master key{extra}.',
    doc: LINK.hash,
  },
  {
    id: 'weak-essiv-hash',
    severity: 'warning',
    summary: 'essiv hash {hash}',
    reason: 'essiv hashes the master key with {hash} ({why}) and uses the {bits}-bit digest as the IV key; use sha256.',
    doc: LINK.ivModes,
  },
  {
    id: 'weak-xts-128-key',
    severity: 'hint',
    summary: '{cipher} with xts gives 128-bit strength',
    reason:
      'qemu does not halve the size under xts (a {cipher} xts master key is 2 × {half} bits, as ' +
      'cryptsetup luksDump shows), so this is the 128-bit cipher in each half, the strength ' +
      "cryptsetup users get from --key-size 256. qemu's default aes-256 gives 256 bits per half.",
    doc: LINK.xts,
  },
  {
    id: 'weak-legacy-qcow-aes',
    severity: 'warning',
    summary: 'legacy qcow AES encryption',
    reason:
      'qcow AES-CBC uses the sector number as IV, derives the key from the passphrase without a ' +
      'KDF and has no way to change the passphrase; qemu system emulators refuse to open such ' +
      'images and libvirt refuses to create them since 4.5.0. Use luks.',
    doc: LINK.qcowAes,
  },
] as const satisfies readonly WeakRule[];

/** The id of a weak-encryption rule (they join the rule catalogue as its LINT rows). */
export type WeakRuleId = (typeof WEAK_CRYPTO_RULES)[number]['id'];

export const WEAK_RULE_BY_ID: ReadonlyMap<string, WeakRule> = new Map(WEAK_CRYPTO_RULES.map((r) => [r.id, r]));

/** Encryption choices in qemu's terms. Absent fields take qemu's defaults (LUKS_DEFAULTS). */
export interface CryptoChoices {
  /** qemu `cipher-alg`, e.g. `aes-256`; libvirt `<cipher name size>` as `${name}-${size}`. */
  cipherAlg?: string;
  cipherMode?: string;
  ivgenAlg?: string;
  ivgenHashAlg?: string;
  /** PBKDF2 / master-key digest hash (qemu `hash-alg`, libvirt `<cipher hash>`). */
  hashAlg?: string;
  /** Virtual size of the volume in bytes (judges the `plain` IV wrap); unknown = not judged. */
  sizeBytes?: number | bigint;
  /** Legacy qcow/qcow2 AES (`encrypt.format=aes`, libvirt `format='qcow'`/`'default'`). */
  legacyAes?: boolean;
}

/** A replacement, in qemu option terms; `null` means "drop the option". */
export type CryptoFix = Partial<Record<Exclude<CryptoField, 'format'>, string | null>> & { format?: 'luks' };

export interface WeakChoice {
  id: WeakRuleId;
  severity: WeakSeverity;
  field: CryptoField;
  /** Full sentence: summary and reason. */
  message: string;
  summary: string;
  reason: string;
  doc: string;
  /** Placeholder values used in the message (for the language service's rule templates). */
  args: Record<string, string>;
  /** The smallest change that removes this judgement and keeps a combination qemu accepts. */
  fix: CryptoFix;
}

/** qemu's modern default (crypto/block-luks.c): aes-256, xts, plain64, sha256. */
export const MODERN_DEFAULT: Required<Omit<CryptoFix, 'format'>> = {
  cipherAlg: LUKS_DEFAULTS.cipherAlg,
  cipherMode: LUKS_DEFAULTS.cipherMode,
  ivgenAlg: LUKS_DEFAULTS.ivgenAlg,
  ivgenHashAlg: null,
  hashAlg: LUKS_DEFAULTS.hashAlg,
};

/** 2 TiB: 2^32 sectors of 512 bytes, where a 32-bit sector IV wraps (qemu LUKS sector size is 512). */
export const PLAIN_IV_LIMIT = 2n ** 32n * 512n;

const WEAK_HASHES = new Set(['md5', 'sha1', 'ripemd160']);
const DIGEST_BITS: Record<string, number> = { md5: 128, sha1: 160, ripemd160: 160 };
const HASH_WHY: Record<string, string> = {
  md5: 'a broken hash (practical collisions since 2004)',
  sha1: 'a collision-broken hash (SHAttered, 2017)',
  ripemd160: 'a legacy 160-bit hash',
};

function fill(template: string, args: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, k: string) => args[k] ?? '');
}

function cipherFamily(alg: string): { family: string; bits: number | undefined } {
  const m = /^([a-z0-9]+)-(\d+)$/.exec(alg);
  return m ? { family: m[1], bits: Number(m[2]) } : { family: alg, bits: undefined };
}

/**
 * The weak choices among `c`, in a stable order. Pure; never throws. Values qemu would refuse
 * are not judged here (the validity rules say so); unknown values are ignored.
 */
export function weakChoices(c: CryptoChoices): WeakChoice[] {
  const out: WeakChoice[] = [];
  const add = (id: WeakRuleId, field: CryptoField, args: Record<string, string>, fix: CryptoFix) => {
    const r = WEAK_RULE_BY_ID.get(id)!;
    const summary = fill(r.summary, args);
    const reason = fill(r.reason, args);
    out.push({
      id,
      severity: r.severity,
      field,
      summary,
      reason,
      message: `${summary}: ${reason}`,
      doc: r.doc,
      args,
      fix,
    });
  };

  if (c.legacyAes) {
    // qcow AES has no cipher options at all (crypto/block-qcow.c); the rest does not apply.
    add('weak-legacy-qcow-aes', 'format', {}, { format: 'luks' });
    return out;
  }

  // qemu's enums are case-sensitive (QAPI): 'ECB' is refused by qemu, not judged weak here.
  const alg = c.cipherAlg || LUKS_DEFAULTS.cipherAlg;
  const mode = c.cipherMode || LUKS_DEFAULTS.cipherMode;
  const ivgen = c.ivgenAlg || LUKS_DEFAULTS.ivgenAlg;
  const hash = c.hashAlg || LUKS_DEFAULTS.hashAlg;
  const ivgenHash = c.ivgenHashAlg;
  const { family, bits } = cipherFamily(alg);
  const is64bitBlock = family === 'cast5' || family === 'des' || family === '3des';
  // A replacement mode must suit the cipher: qemu has no xts for 64-bit block ciphers
  // (crypto/cipher.c), so their mode fixes bring the whole modern default.
  const modeFix: CryptoFix = is64bitBlock
    ? { ...MODERN_DEFAULT }
    : { cipherMode: 'xts', ivgenAlg: 'plain64', ivgenHashAlg: null };

  if (is64bitBlock) add('weak-cipher-64bit-block', 'cipherAlg', { cipher: alg }, { ...MODERN_DEFAULT });
  if (mode === 'ecb') add('weak-cipher-mode-ecb', 'cipherMode', { mode }, modeFix);
  if (mode === 'ctr') add('weak-cipher-mode-ctr', 'cipherMode', { mode }, modeFix);
  if (mode === 'cbc' && (ivgen === 'plain' || ivgen === 'plain64'))
    add('weak-cbc-predictable-iv', 'cipherMode', { ivgen }, modeFix);
  if (ivgen === 'plain' && c.sizeBytes !== undefined && toBig(c.sizeBytes) > PLAIN_IV_LIMIT) {
    add('weak-ivgen-plain-wrap', 'ivgenAlg', { size: formatBytes(c.sizeBytes) }, { ivgenAlg: 'plain64' });
  }
  if (WEAK_HASHES.has(hash)) {
    // cryptsetup 2.6 refuses md5 headers: "Requested LUKS hash md5 is not supported" (measured).
    const extra = hash === 'md5' ? ', and cryptsetup cannot open a LUKS header that uses md5' : '';
    add('weak-pbkdf-hash', 'hashAlg', { hash, why: HASH_WHY[hash], extra }, { hashAlg: 'sha256' });
  }
  if (ivgen === 'essiv' && ivgenHash && WEAK_HASHES.has(ivgenHash)) {
    add(
      'weak-essiv-hash',
      'ivgenHashAlg',
      { hash: ivgenHash, why: HASH_WHY[ivgenHash], bits: String(DIGEST_BITS[ivgenHash]) },
      is64bitBlock ? { ...MODERN_DEFAULT } : { ivgenHashAlg: 'sha256' },
    );
  }
  if (mode === 'xts' && bits === 128 && !is64bitBlock) {
    add('weak-xts-128-key', 'cipherAlg', { cipher: alg, half: '128' }, { cipherAlg: `${family}-256` });
  }
  return out;
}

function toBig(n: number | bigint): bigint {
  return typeof n === 'bigint' ? n : BigInt(Math.max(0, Math.trunc(Number.isFinite(n) ? n : 0)));
}

/** libvirt `<cipher name size>` → qemu `cipher-alg` (storage_util.c joins them with '-'). */
export function libvirtCipherAlg(name: string | undefined, size: string | undefined): string | undefined {
  if (name === undefined && size === undefined) return undefined;
  return `${name ?? ''}-${(size ?? '').trim().replace(/^\+/, '')}`;
}

/** One line per weak choice, for command-line output (`create`, `check`). */
export function formatWeakChoice(w: WeakChoice): string {
  return `${w.severity}: ${w.message} [${w.id}] ${w.doc}`;
}

/** CryptoChoices from qemu-img option names (`cipher-alg`, …; with or without `encrypt.`). */
export function choicesFromQemuOptions(
  opts: object | ReadonlyMap<string, string>,
  sizeBytes?: number | bigint,
): CryptoChoices {
  const get = (k: string): string | undefined => {
    const v =
      opts instanceof Map
        ? (opts.get(k) ?? opts.get(`encrypt.${k}`))
        : ((opts as Record<string, unknown>)[k] ?? (opts as Record<string, unknown>)[`encrypt.${k}`]);
    return v === undefined || v === null || v === '' ? undefined : String(v);
  };
  return {
    cipherAlg: get('cipher-alg'),
    cipherMode: get('cipher-mode'),
    ivgenAlg: get('ivgen-alg'),
    ivgenHashAlg: get('ivgen-hash-alg'),
    hashAlg: get('hash-alg'),
    sizeBytes,
  };
}

/**
 * The warning lines `create` prints (stderr) for the choices it was given: the same verdicts the
 * editor shows on `<cipher>`/`<ivgen>`. `legacyAes` for qcow2 `encrypt.format=aes`/`encryption=on`.
 */
export function weakCryptoLines(
  opts: object | ReadonlyMap<string, string>,
  sizeBytes?: number | bigint,
  legacyAes = false,
  prog = 'libvirt-volume',
): string[] {
  const choices = legacyAes ? { legacyAes: true } : choicesFromQemuOptions(opts, sizeBytes);
  return weakChoices(choices).map((w) => `${prog}: ${formatWeakChoice(w)}`);
}
