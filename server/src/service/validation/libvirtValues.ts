// Pure re-implementations of the value parsers libvirt's XML parsers use, so that our verdicts
// match libvirt's byte for byte. Each function cites the libvirt source it mirrors.

import { unitMultiplier } from '../../../../schemas/vocabulary';

const ULLONG_MAX = (1n << 64n) - 1n;
export const LLONG_MAX = (1n << 63n) - 1n;
const UINT_MAX = (1n << 32n) - 1n;

/** g_ascii_isspace: space, \t, \n, \v, \f, \r. */
export function isAsciiSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
}

const ALL_DIGITS = /^[0-9]+$/;

export type UllResult =
  { ok: true; value: bigint; negative: boolean } | { ok: false; reason: 'empty' | 'junk' | 'range' | 'negative' };

/** strtol's prefix (glibc): leading blanks, then one optional sign; where the digits start. */
function strtolPrefix(s: string): { start: number; negative: boolean } {
  let i = 0;
  while (i < s.length && isAsciiSpace(s[i])) i++;
  const negative = s[i] === '-';
  if (s[i] === '+' || s[i] === '-') i++;
  return { start: i, negative };
}

/**
 * virStrToLong_ull / virStrToLong_ullp (src/util/virstring.c) over g_ascii_strtoull, base 10:
 * leading ASCII whitespace and one sign are skipped; no digit → error; trailing characters
 * (even a space) → error; overflow (ERANGE) → error. A '-' wraps the value (strtoull negates it)
 * unless `noMinus` (the `…p` variants, which reject any '-' before the end of the number).
 */
export function parseULL(s: string, noMinus: boolean): UllResult {
  // The usual spelling, up to 19 digits and nothing else, is below ULLONG_MAX: one native test
  // instead of a loop per character (each document has several; issue 15).
  if (s.length < 20 && ALL_DIGITS.test(s)) return { ok: true, value: BigInt(s), negative: false };
  const { start, negative } = strtolPrefix(s);
  let i = start;
  while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
  if (i === start) return { ok: false, reason: 'empty' };
  if (i < s.length) return { ok: false, reason: 'junk' };
  let v = BigInt(s.slice(start, i));
  if (v > ULLONG_MAX) return { ok: false, reason: 'range' };
  if (negative && noMinus) return { ok: false, reason: 'negative' };
  if (negative) v = (ULLONG_MAX + 1n - v) & ULLONG_MAX;
  return { ok: true, value: v, negative };
}

/** virStrToLong_uip (unsigned int, no '-'): used by virXMLPropUInt for `<cipher size>`. */
export function parseUIntP(s: string): bigint | undefined {
  const r = parseULL(s, true);
  if (!r.ok || r.value > UINT_MAX) return undefined;
  return r.value;
}

/** Multiplier of a libvirt scale suffix (virutil.c virScaleInteger); the one definition is in schemas/. */
export const unitScale = unitMultiplier;

export type ScaledResult =
  { ok: true; bytes: bigint } | { ok: false; error: 'malformed' | 'unit' | 'overflow'; value?: bigint };

/**
 * A scaled integer as virStorageSize (capacity/allocation, limit LLONG_MAX, `…p` parser) or
 * virParseScaledValue (clusterSize, limit ULLONG_MAX) read it: number first, then the unit.
 */
export function parseScaled(text: string, unit: string | undefined, limit: bigint): ScaledResult {
  const r = parseULL(text, true);
  if (!r.ok) return { ok: false, error: 'malformed' };
  const scale = unitScale(unit ?? '');
  if (scale === undefined) return { ok: false, error: 'unit', value: r.value };
  if (r.value > limit / scale) return { ok: false, error: 'overflow', value: r.value };
  return { ok: true, bytes: r.value * scale };
}

/** g_ascii_isxdigit on a character code (the uuid parser runs for every secret of every document). */
const isHexCode = (c: number) => (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);

/**
 * virUUIDParse (src/util/viruuid.c): leading whitespace, then 16 pairs of hex digits with any
 * number of '-' or ' ' before each pair, then only whitespace. Returns the canonical form.
 */
export function parseUuid(s: string): string | undefined {
  // The usual spelling is already the canonical form: answered without building a new string.
  if (isCanonicalUuid(s)) return s;
  let i = 0;
  while (i < s.length && isAsciiSpace(s[i])) i++;
  let hex = '';
  const isX = (c: string | undefined) => c !== undefined && isHexCode(c.charCodeAt(0));
  while (hex.length < 32) {
    if (i >= s.length) return undefined;
    if (s[i] === '-' || s[i] === ' ') {
      i++;
      continue;
    }
    if (!isX(s[i]) || !isX(s[i + 1])) return undefined;
    hex += s[i] + s[i + 1];
    i += 2;
  }
  for (; i < s.length; i++) if (!isAsciiSpace(s[i])) return undefined;
  hex = hex.toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** 8-4-4-4-12 lower-case hex digits: the form libvirt prints (virUUIDFormat). */
// One regex test each: a `check` of many documents runs without V8's optimizing tier
// (cli/tiering.ts), where a loop over 36 characters costs about eight times a native regex test.
function isCanonicalUuid(s: string): boolean {
  return CANONICAL_UUID.test(s);
}
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** basictypes.rng UUID: 32 hex digits, or the dashed 8-4-4-4-12 form; nothing else. */
export function isRngUuid(s: string): boolean {
  return RNG_UUID.test(s);
}
const RNG_UUID = /^(?:[a-fA-F0-9]{32}|[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12})$/;

const PERMISSION_BITS = /^0*[0-7]{1,3}$/;

/**
 * `<permissions><mode>` (storage_conf.c virStorageDefParsePerms): virStrToLong_uip base 8,
 * then only the permission bits may be set. Returns false when libvirt rejects it.
 */
export function isValidOctalMode(s: string): boolean {
  // The usual spelling (0600, 755): at most the nine permission bits, nothing else to read.
  if (PERMISSION_BITS.test(s)) return true;
  const { start, negative } = strtolPrefix(s);
  let i = start;
  while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 55) i++; // '0'..'7'
  if (i === start || i < s.length) return false;
  let v = BigInt('0o' + s.slice(start, i));
  // virStrToLong_ui lets "-N" wrap in 32 bits ("-0" is 0 and passes, as measured).
  if (negative) v = v === 0n ? 0n : UINT_MAX + 1n - v;
  return v >= 0n && v <= UINT_MAX && (v & ~0o777n) === 0n;
}

/**
 * `<owner>`/`<group>` (virStorageDefParsePerms): exactly "-1", or virStrToLong_ui that fits
 * uid_t (32 bits). virStrToLong_ui itself accepts "-N" as a wrapped value only when it fits in
 * 32 bits; libvirt then rejects every negative but -1 through the cast check.
 */
export function isValidOwnerId(s: string): boolean {
  if (s === '-1') return true;
  if (s.length < 10 && ALL_DIGITS.test(s)) return true; // below 2^32, the usual spelling
  const r = parseULL(s, false);
  if (!r.ok) return false;
  if (r.negative) return false;
  return r.value <= UINT_MAX;
}

const SHORT_COMPAT = /^[0-9]{1,9}\.[0-9]{1,9}$/;

/**
 * `<compat>` (storage_conf.c virStorageCheckCompat): split at the first '.', both halves must
 * parse with virStrToLong_ui (so "-1.5" passes, trailing junk does not).
 */
export function isValidCompat(s: string): boolean {
  // The usual spelling (1.1, 0.10): two numbers below 2^32, nothing else to read.
  if (SHORT_COMPAT.test(s)) return true;
  const dot = s.indexOf('.');
  if (dot < 0) return false;
  const a = s.slice(0, dot),
    b = s.slice(dot + 1);
  return uiParses(a) && uiParses(b);
}

function uiParses(s: string): boolean {
  const r = parseULL(s, false);
  if (!r.ok) return false;
  if (!r.negative) return r.value <= UINT_MAX;
  // virStrToLong_ui with a '-': allowed when -val fits in 32 bits (wraps).
  return ULLONG_MAX + 1n - r.value <= UINT_MAX || r.value === 0n;
}

/** basictypes.rng: a path starting with '/' or a drive letter. */
export function isAbsPath(s: string): boolean {
  return /^\//.test(s) || /^[a-zA-Z]:\\/.test(s);
}

/** qemu's id_wellformed (util/id.c): a letter, then letters, digits, '-', '.', '_'. */
export function isQemuId(s: string): boolean {
  return /^[A-Za-z][A-Za-z0-9\-._]*$/.test(s);
}
