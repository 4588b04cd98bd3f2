// qemu-img 7.2 `create` options for raw and qcow2 as data, and a pure checker that answers with
// qemu-img's own message for the first rule an invocation breaks, in qemu's order. One source for
// the language service's diagnostics (compat, cluster size, extended_l2, …) and the image writer.
//
// Where each stage lives in qemu 7.2 (read from the sources, messages measured):
//   1. qemu-img.c img_create: the positional size (cvtnum → qemu_strtosz, 0..INT64_MAX).
//   2. block.c bdrv_img_create: `-o` parsed by QemuOpts left to right against the merged option
//      list of the format and the `file` protocol (util/qemu-option.c: unknown name, bool, size and
//      number syntax); size given twice; -b/-F refused by formats without backing; same-name and
//      empty backing; opening the backing image (unless -u); missing backing format; missing size.
//      Then the `Formatting '…', fmt=…` line is printed (stdout) and the driver runs.
//   3. block/qcow2.c qcow2_co_create_opts: `encryption` alias conflict; then the QAPI visitor over
//      BlockdevCreateOptionsQcow2 in field order (version, backing-fmt, encrypt, preallocation,
//      compression-type enums); then qcow2_co_create's rule chain (QCOW2_RULES below).
//      For raw, block/file-posix.c raw_co_create_opts parses the preallocation mode.
// Errors from stage 2 and 3 are printed as `qemu-img: FILENAME: MESSAGE` (+ hint lines); stage 1
// errors without the file name. Imports only the vocabulary-level LUKS front: safe for the service.
import { checkQcow2EncryptOptions } from './luksOptions';
import { escapeQemuOptValue, splitQemuOptions } from '../server/src/common/qemuOpts';

export type OptionKind = 'str' | 'bool' | 'size' | 'num';

export interface CreateOptionDef {
  /** qemu-img's `-o` spelling. */
  name: string;
  kind: OptionKind;
  /** `qemu-img create -f FMT -o help` text (7.2). */
  help: string;
  /** QemuOpts default (def_value_str): printed in the Formatting line when the option is not given. */
  def?: string;
  /** Allowed values when the option is an enum at the QAPI level. */
  values?: string[];
  /** Name in qemu's QAPI create options (messages from the visitor use it). */
  qapi?: string;
  /** Needs qcow2 version 3 (compat 1.1) when set to a non-default value. */
  needsV3?: boolean;
  /** Layer that owns the option: the format driver or the `file` protocol driver. */
  layer: 'format' | 'file';
}

/** Compat spellings: `0.10`/`1.1` (legacy names rewritten by qcow2_co_create_opts) and QAPI `v2`/`v3`. */
export const QCOW2_COMPAT_VALUES = ['0.10', '1.1', 'v2', 'v3'] as const;
export const PREALLOCATION_MODES = ['off', 'metadata', 'falloc', 'full'] as const;
export type PreallocMode = (typeof PREALLOCATION_MODES)[number];
export const COMPRESSION_TYPES = ['zlib', 'zstd'] as const;
export type CompressionType = (typeof COMPRESSION_TYPES)[number];
/** Block driver names qemu 7.2's QAPI enum BlockdevDriver accepts (backing-fmt is of this type). */
export const BLOCKDEV_DRIVERS = [
  'blkdebug',
  'blklogwrites',
  'blkreplay',
  'blkverify',
  'bochs',
  'cloop',
  'compress',
  'copy-before-write',
  'copy-on-read',
  'dmg',
  'file',
  'snapshot-access',
  'ftp',
  'ftps',
  'gluster',
  'host_cdrom',
  'host_device',
  'http',
  'https',
  'iscsi',
  'luks',
  'nbd',
  'nfs',
  'null-aio',
  'null-co',
  'nvme',
  'parallels',
  'preallocate',
  'qcow',
  'qcow2',
  'qed',
  'quorum',
  'raw',
  'rbd',
  'replication',
  'ssh',
  'throttle',
  'vdi',
  'vhdx',
  'vmdk',
  'vpc',
  'vvfat',
];

/** qcow2 geometry limits (block/qcow2.h). */
export const QCOW2_LIMITS = {
  minClusterBits: 9,
  maxClusterBits: 21,
  defaultClusterSize: 65536,
  /** 512 × 32 subclusters (QCOW_EXTL2_SUBCLUSTERS_PER_CLUSTER). */
  minClusterSizeExtL2: 16384,
  maxRefcountBits: 64,
  defaultRefcountBits: 16,
  /** QCOW_MAX_L1_SIZE: the L1 table may not exceed 32 MiB. */
  maxL1Bytes: 0x2000000,
  /** QCOW_MAX_REFTABLE_SIZE (8 MiB). */
  maxReftableBytes: 0x800000,
  /** The image size is rounded up to this (BDRV_SECTOR_SIZE). */
  sector: 512,
} as const;

/**
 * The qcow2 driver's create options in qemu 7.2's list order (block/qcow2.c qcow2_create_opts with
 * QCOW_COMMON_OPTIONS); the order is the order of the `Formatting` line.
 */
export const QCOW2_CREATE_OPTIONS: CreateOptionDef[] = [
  {
    name: 'encryption',
    kind: 'bool',
    layer: 'format',
    help: "Encrypt the image with format 'aes'. (Deprecated in favor of encrypt.format=aes)",
  },
  {
    name: 'encrypt.format',
    kind: 'str',
    layer: 'format',
    values: ['aes', 'luks'],
    help: "Encrypt the image, format choices: 'aes', 'luks'",
  },
  {
    name: 'encrypt.key-secret',
    kind: 'str',
    layer: 'format',
    help: 'ID of secret providing qcow AES key or LUKS passphrase',
  },
  { name: 'encrypt.cipher-alg', kind: 'str', layer: 'format', help: 'Name of encryption cipher algorithm' },
  { name: 'encrypt.cipher-mode', kind: 'str', layer: 'format', help: 'Name of encryption cipher mode' },
  { name: 'encrypt.ivgen-alg', kind: 'str', layer: 'format', help: 'Name of IV generator algorithm' },
  { name: 'encrypt.ivgen-hash-alg', kind: 'str', layer: 'format', help: 'Name of IV generator hash algorithm' },
  { name: 'encrypt.hash-alg', kind: 'str', layer: 'format', help: 'Name of encryption hash algorithm' },
  { name: 'encrypt.iter-time', kind: 'num', layer: 'format', help: 'Time to spend in PBKDF in milliseconds' },
  {
    name: 'cluster_size',
    kind: 'size',
    layer: 'format',
    def: '65536',
    qapi: 'cluster-size',
    help: 'qcow2 cluster size',
  },
  {
    name: 'extended_l2',
    kind: 'bool',
    layer: 'format',
    def: 'off',
    qapi: 'extended-l2',
    needsV3: true,
    help: 'Extended L2 tables',
  },
  {
    name: 'preallocation',
    kind: 'str',
    layer: 'format',
    values: [...PREALLOCATION_MODES],
    qapi: 'preallocation',
    help: 'Preallocation mode (allowed values: off, metadata, falloc, full)',
  },
  {
    name: 'compression_type',
    kind: 'str',
    layer: 'format',
    def: 'zlib',
    values: [...COMPRESSION_TYPES],
    qapi: 'compression-type',
    needsV3: true,
    help: 'Compression method used for image cluster compression',
  },
  { name: 'size', kind: 'size', layer: 'format', help: 'Virtual disk size' },
  {
    name: 'compat',
    kind: 'str',
    layer: 'format',
    values: [...QCOW2_COMPAT_VALUES],
    qapi: 'version',
    help: 'Compatibility level (v2 [0.10] or v3 [1.1])',
  },
  { name: 'backing_file', kind: 'str', layer: 'format', qapi: 'backing-file', help: 'File name of a base image' },
  {
    name: 'backing_fmt',
    kind: 'str',
    layer: 'format',
    values: BLOCKDEV_DRIVERS,
    qapi: 'backing-fmt',
    help: 'Image format of the base image',
  },
  {
    name: 'data_file',
    kind: 'str',
    layer: 'format',
    qapi: 'data-file',
    needsV3: true,
    help: 'File name of an external data file',
  },
  {
    name: 'data_file_raw',
    kind: 'bool',
    layer: 'format',
    qapi: 'data-file-raw',
    help: 'The external data file must stay valid as a raw image',
  },
  {
    name: 'lazy_refcounts',
    kind: 'bool',
    layer: 'format',
    def: 'off',
    qapi: 'lazy-refcounts',
    needsV3: true,
    help: 'Postpone refcount updates',
  },
  {
    name: 'refcount_bits',
    kind: 'num',
    layer: 'format',
    def: '16',
    qapi: 'refcount-bits',
    needsV3: true,
    help: 'Width of a reference count entry in bits',
  },
];

/** The raw format driver's own list (block/raw-format.c): only the size. */
export const RAW_CREATE_OPTIONS: CreateOptionDef[] = [
  { name: 'size', kind: 'size', layer: 'format', help: 'Virtual disk size' },
];

/** The `file` protocol driver's create options (block/file-posix.c raw_create_opts), in order. */
export const FILE_CREATE_OPTIONS: CreateOptionDef[] = [
  { name: 'size', kind: 'size', layer: 'file', help: 'Virtual disk size' },
  { name: 'nocow', kind: 'bool', layer: 'file', help: 'Turn off copy-on-write (valid only on btrfs)' },
  {
    name: 'preallocation',
    kind: 'str',
    layer: 'file',
    values: ['off', 'falloc', 'full'],
    help: 'Preallocation mode (allowed values: off, falloc, full)',
  },
  { name: 'extent_size_hint', kind: 'size', layer: 'file', help: 'Extent size hint for the image file, 0 to disable' },
];

/** The option list `qemu-img create -f FORMAT` parses `-o` against: format list, then protocol list (first wins). */
export function createOptionList(format: 'raw' | 'qcow2'): CreateOptionDef[] {
  const out: CreateOptionDef[] = [];
  for (const d of [...(format === 'qcow2' ? QCOW2_CREATE_OPTIONS : RAW_CREATE_OPTIONS), ...FILE_CREATE_OPTIONS]) {
    if (!out.some((o) => o.name === d.name)) out.push(d);
  }
  return out;
}

/** qemu's messages (7.2; identical string literals in 10.0 for the qcow2 create path). */
export const QEMU_MESSAGES = {
  sizeSyntax: [
    'Invalid image size specified. You may use k, M, G, T, P or E suffixes for',
    'kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.',
  ],
  sizeRange: 'Invalid image size specified. Must be between 0 and 9223372036854775807.',
  invalidParameter: (n: string) => `Invalid parameter '${n}'`,
  expectsBool: (n: string) => `Parameter '${n}' expects 'on' or 'off'`,
  expectsNumber: (n: string) => `Parameter '${n}' expects a number`,
  numberTooLarge: (v: string, n: string) => `Value '${v}' is too large for parameter '${n}'`,
  expectsSize: (n: string) => `Parameter '${n}' expects a non-negative number below 2^64`,
  sizeHint: 'Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\nand exabytes, respectively.',
  sizeOutOfRange: (v: string, n: string) => `Value '${v}' is out of range for parameter '${n}'`,
  sizeTwice: 'The image size must be specified only once',
  unknownFormat: (f: string) => `Unknown file format '${f}'`,
  backingNotSupported: (f: string) => `Backing file not supported for file format '${f}'`,
  backingFmtNotSupported: (f: string) => `Backing file format not supported for file format '${f}'`,
  sameFilename: 'Error: Trying to create an image with the same filename as the backing file',
  emptyBacking: 'Expected backing file name, got empty string',
  backingOpenHint: 'Could not open backing image.',
  noBackingFormat: 'Backing file specified without backing format',
  detectedFormat: (f: string) => `Detected format of ${f}.`,
  needsSize: 'Image creation needs a size parameter',
  tooLarge: (f: string, hint: boolean) =>
    `The image size is too large for file format '${f}'${hint ? ' (try using a larger cluster size)' : ''}`,
  notAccept: (n: string, v: string) => `Parameter '${n}' does not accept value '${v}'`,
  rawPreallocInvalid: (v: string) => `invalid parameter value: ${v}`,
  rawPreallocUnsupported: (v: string) => `Unsupported preallocation mode: ${v}`,
  aliasConflict: "'encrypt.format' and its alias 'encryption' can't be used at the same time",
  clusterSize: 'Cluster size must be a power of two between 512 and 2048k',
  extL2Compat:
    'Extended L2 entries are only supported with compatibility level 1.1 and above (use version=v3 or greater)',
  extL2Cluster: 'Extended L2 entries are only supported with cluster sizes of at least 16384 bytes',
  backingPrealloc: 'Backing file and preallocation can only be used at the same time if extended_l2 is on',
  backingFmtWithoutFile: 'Backing format cannot be used without backing file',
  lazyCompat: 'Lazy refcounts only supported with compatibility level 1.1 and above (use version=v3 or greater)',
  refcountWidth: 'Refcount width must be a power of two and may not exceed 64 bits',
  refcountCompat:
    'Different refcount widths than 16 bits require compatibility level 1.1 or above (use version=v3 or greater)',
  dataFileRawNeedsDataFile: 'data-file-raw requires data-file',
  backingDataFileRaw: 'Backing file and data-file-raw cannot be used at the same time',
  dataFileCompat:
    'External data files are only supported with compatibility level 1.1 and above (use version=v3 or greater)',
  compressionCompat:
    'Non-zlib compression type is only supported with compatibility level 1.1 and above (use version=v3 or greater)',
  unexpectedArgument: (a: string) => `Unexpected argument: ${a}`,
  extentSizeHint: 'Extent size hint is too large',
  backingNameTooLong: (b: string, f: string) =>
    `Could not assign backing file '${b}' with format '${f}': Invalid argument`,
  rawResize: 'Could not resize file: Invalid argument',
  expectingFilename: 'Expecting image file name',
} as const;

// ---------------------------------------------------------------------------------------------
// Value syntax (util/cutils.c, util/qemu-option.c, qapi/qapi-util.c)

const U64_MAX = (1n << 64n) - 1n;
const I64_MAX = (1n << 63n) - 1n;

/** qemu_strtou64: blanks, optional sign, digits in base 10/16/8 (base 0 picks by prefix); a minus wraps. */
function strtou64(s: string, base: 0 | 10 | 16): { value: bigint; end: number; range: boolean } | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)/.exec(s)!;
  let i = m[0].length;
  let b: number = base;
  if ((b === 0 || b === 16) && /^0[xX][0-9a-fA-F]/.test(s.slice(i))) {
    i += 2;
    b = 16;
  } else if (b === 0) b = s[i] === '0' ? 8 : 10;
  const digits = (b === 16 ? /^[0-9a-fA-F]+/ : b === 8 ? /^[0-7]+/ : /^[0-9]+/).exec(s.slice(i));
  if (!digits) {
    // strtoull parses "0x" as 0 with the end at the x.
    if ((base === 16 || base === 0) && /^0[xX]/.test(s.slice(m[0].length)))
      return { value: 0n, end: m[0].length + 1, range: false };
    return undefined;
  }
  let v = 0n;
  for (const ch of digits[0]) v = v * BigInt(b) + BigInt(parseInt(ch, b));
  const range = v > U64_MAX;
  if (m[1] === '-' && !range) v = (U64_MAX + 1n - v) & U64_MAX;
  return { value: range ? U64_MAX : v, end: i + digits[0].length, range };
}

function suffixMul(c: string | undefined, unit: bigint): bigint | undefined {
  const i = c ? 'BKMGTPE'.indexOf(c.toUpperCase()) : -1;
  return i < 0 ? undefined : unit ** BigInt(i);
}

export type ParsedSize = { ok: true; value: bigint } | { ok: false; range: boolean };

/**
 * qemu_strtosz (util/cutils.c do_strtosz, 7.2): decimal integer, or 0x hex (no fraction, no
 * suffix), optional `.fraction` (no exponent) that needs a suffix, one suffix letter
 * B/K/M/G/T/P/E (any case, powers of 1024), nothing after it. Fractions round half up.
 */
export function parseQemuSize(text: string): ParsedSize {
  const int = strtou64(text, 10);
  if (!int) return { ok: false, range: false };
  if (int.range) return { ok: false, range: true };
  if (text.slice(0, int.end).includes('-')) return { ok: false, range: false };
  let val = int.value;
  let end = int.end;
  let frac = 0n;
  if (val === 0n && (text[end] === 'x' || text[end] === 'X')) {
    const hex = strtou64(text, 16);
    if (!hex) return { ok: false, range: false };
    if (hex.range) return { ok: false, range: true };
    val = hex.value;
    end = hex.end;
    if (text[end] === '.' || suffixMul(text[end], 1024n) !== undefined) return { ok: false, range: false };
  } else if (text[end] === '.') {
    const f = /^\.([0-9]*)(?:[eE][+-]?[0-9]+)?/.exec(text.slice(end))!;
    if (!f[1]) {
      end += 1; // strtod fails on "." alone: qemu skips the dot ("1.k" works)
    } else {
      if (f[0].length > f[1].length + 1) return { ok: false, range: false }; // an exponent
      // (uint64_t)(fraction * 2^64), as qemu computes it in double precision.
      const fraction = Number('0.' + f[1]);
      const scaled = fraction * 2 ** 64;
      frac = scaled >= 2 ** 64 ? U64_MAX : BigInt(Math.trunc(scaled));
      end += f[0].length;
    }
  }
  let mul = suffixMul(text[end], 1024n);
  if (mul !== undefined) end++;
  else mul = 1n;
  if (end !== text.length) return { ok: false, range: false };
  if (mul === 1n) {
    if (frac !== 0n) return { ok: false, range: false };
    return { ok: true, value: val };
  }
  const total = val * mul + ((frac * mul) >> 64n) + (((frac * mul) & U64_MAX) >> 63n);
  if (total > U64_MAX) return { ok: false, range: true };
  return { ok: true, value: total };
}

/** qapi_bool_parse: on/yes/true/y and off/no/false/n, case-sensitive. */
export function parseQemuBool(v: string): boolean | undefined {
  if (v === 'on' || v === 'yes' || v === 'true' || v === 'y') return true;
  if (v === 'off' || v === 'no' || v === 'false' || v === 'n') return false;
  return undefined;
}

/** QemuOpts number (qemu_strtou64 base 0; nothing may trail). */
export function parseQemuNumber(v: string): { ok: true; value: bigint } | { ok: false; range: boolean } {
  const r = strtou64(v, 0);
  if (!r || r.end !== v.length) return { ok: false, range: false };
  if (r.range) return { ok: false, range: true };
  return { ok: true, value: r.value };
}

// ---------------------------------------------------------------------------------------------
// The qcow2_co_create rule chain on typed values (shared by the checker and the diagnostics).

export interface Qcow2Values {
  /** qcow2 version: 2 or 3 (compat 0.10/v2 → 2, 1.1/v3 → 3; default 3). */
  version: 2 | 3;
  clusterSize: number;
  extendedL2: boolean;
  preallocation: PreallocMode;
  hasBackingFile: boolean;
  hasBackingFmt: boolean;
  lazyRefcounts: boolean;
  refcountBits: number;
  hasDataFile: boolean;
  dataFileRaw: boolean;
  compressionType: CompressionType;
}

export interface RuleFailure {
  /** Stable id (shared with the diagnostics' rule table, docs/rules.md). */
  id: string;
  /** The option at fault. */
  option: string;
  /** qemu-img 7.2's message (without the `qemu-img: FILE: ` prefix). */
  message: string;
}

/** Cluster size rule (block/qcow2.c validate_cluster_size): undefined when valid. */
export function validateClusterSize(clusterSize: number, extendedL2: boolean): RuleFailure | undefined {
  const pow2 = Number.isInteger(clusterSize) && clusterSize > 0 && (clusterSize & (clusterSize - 1)) === 0;
  if (!pow2 || clusterSize < 1 << QCOW2_LIMITS.minClusterBits || clusterSize > 1 << QCOW2_LIMITS.maxClusterBits) {
    return { id: 'QIMG-CLUSTER', option: 'cluster_size', message: QEMU_MESSAGES.clusterSize };
  }
  if (extendedL2 && clusterSize < QCOW2_LIMITS.minClusterSizeExtL2) {
    return { id: 'QIMG-EXTL2', option: 'extended_l2', message: QEMU_MESSAGES.extL2Cluster };
  }
  return undefined;
}

/**
 * The rules of qcow2_co_create, in qemu's order, on already-typed values. The first violated
 * rule wins. Note: data_file_raw with preallocation off is not an error: qemu silently switches
 * to metadata preallocation (see effectivePreallocation).
 */
export function checkQcow2Rules(v: Qcow2Values): RuleFailure | undefined {
  if (v.extendedL2 && v.version < 3)
    return { id: 'QIMG-EXTL2', option: 'extended_l2', message: QEMU_MESSAGES.extL2Compat };
  const cluster = validateClusterSize(v.clusterSize, v.extendedL2);
  if (cluster) return cluster;
  if (v.hasBackingFile && v.preallocation !== 'off' && !v.extendedL2)
    return { id: 'QIMG-PREALLOC', option: 'preallocation', message: QEMU_MESSAGES.backingPrealloc };
  if (v.hasBackingFmt && !v.hasBackingFile)
    return { id: 'QIMG-BACKING', option: 'backing_fmt', message: QEMU_MESSAGES.backingFmtWithoutFile };
  if (v.version < 3 && v.lazyRefcounts)
    return { id: 'QIMG-LAZY', option: 'lazy_refcounts', message: QEMU_MESSAGES.lazyCompat };
  const rb = v.refcountBits;
  if (!(rb > 0 && rb <= QCOW2_LIMITS.maxRefcountBits && (rb & (rb - 1)) === 0))
    return { id: 'QIMG-REFBITS', option: 'refcount_bits', message: QEMU_MESSAGES.refcountWidth };
  if (v.version < 3 && rb !== 16)
    return { id: 'QIMG-REFBITS', option: 'refcount_bits', message: QEMU_MESSAGES.refcountCompat };
  if (v.dataFileRaw && !v.hasDataFile)
    return { id: 'QIMG-DATAFILE-RAW', option: 'data_file_raw', message: QEMU_MESSAGES.dataFileRawNeedsDataFile };
  if (v.dataFileRaw && v.hasBackingFile)
    return { id: 'QIMG-DATAFILE-RAW', option: 'data_file_raw', message: QEMU_MESSAGES.backingDataFileRaw };
  if (v.hasDataFile && v.version < 3)
    return { id: 'QIMG-DATAFILE', option: 'data_file', message: QEMU_MESSAGES.dataFileCompat };
  if (v.compressionType !== 'zlib' && v.version < 3)
    return { id: 'QIMG-COMPRESSION', option: 'compression_type', message: QEMU_MESSAGES.compressionCompat };
  return undefined;
}

/** data_file_raw=on with preallocation off means metadata preallocation (qcow2_co_create). */
export function effectivePreallocation(v: Pick<Qcow2Values, 'dataFileRaw' | 'preallocation'>): PreallocMode {
  return v.dataFileRaw && v.preallocation === 'off' ? 'metadata' : v.preallocation;
}

/** Compat spelling → qcow2 version, or undefined when qemu refuses the value. */
export function compatVersion(compat: string | undefined): 2 | 3 | undefined {
  if (compat === undefined) return 3;
  if (compat === '0.10' || compat === 'v2') return 2;
  if (compat === '1.1' || compat === 'v3') return 3;
  return undefined;
}

/**
 * Largest virtual size a qcow2 image of this geometry can have: qcow2_grow_l1_table refuses an L1
 * table beyond QCOW_MAX_L1_SIZE with -EFBIG (then bdrv_img_create's "too large" message).
 */
export function maxQcow2Size(clusterSize: number, extendedL2: boolean): bigint {
  const l2Entries = BigInt(clusterSize / (extendedL2 ? 16 : 8));
  return BigInt(QCOW2_LIMITS.maxL1Bytes / 8) * l2Entries * BigInt(clusterSize);
}

// ---------------------------------------------------------------------------------------------
// Whole invocations: `qemu-img create -f FMT [-b B] [-F BF] [-u] [-o …] FILE [SIZE]`

export interface CreateArgs {
  format: string;
  filename: string;
  /** The positional size argument, as typed. */
  size?: string;
  /** Every `-o` argument (qemu joins several with commas). */
  options?: string[];
  backingFile?: string;
  backingFmt?: string;
  /** `-u`: do not open the backing file. */
  unsafe?: boolean;
}

/** What the caller learnt by opening the backing image with the requested driver (writer/probe.ts). */
export interface BackingFacts {
  /**
   * qemu's error when the backing image cannot be opened with the requested format (then the hint
   * "Could not open backing image.").
   */
  error?: string;
  /** Format detected from the magic (qemu's probe). */
  detectedFormat?: string;
  /** bdrv_getlength with the requested driver: virtual size for qcow2, file length for raw. */
  length?: number;
}

/** The options of one create, typed, with qemu's defaults applied. Sizes in bytes. */
export interface CreateSpec {
  format: 'raw' | 'qcow2';
  filename: string;
  /** Virtual size, rounded up to 512. */
  size: number;
  preallocation: PreallocMode;
  nocow: boolean;
  extentSizeHint?: number;
  // qcow2 only
  version: 2 | 3;
  /** The compat text as given (echoed in the Formatting line), or undefined for the default. */
  compat?: string;
  clusterSize: number;
  extendedL2: boolean;
  lazyRefcounts: boolean;
  refcountBits: number;
  compressionType: CompressionType;
  backingFile?: string;
  backingFmt?: string;
  dataFile?: string;
  dataFileRaw: boolean;
  /** `encrypt.*` options as given (without the prefix), when encryption was asked for. */
  encrypt?: { format: 'luks' | 'aes'; options: Record<string, string> };
}

export type CreateStage = 'args' | 'options' | 'backing' | 'driver';

export type CreateVerdict =
  | { ok: true; spec: CreateSpec; formatting: string }
  | {
      ok: false;
      stage: CreateStage;
      rule?: string;
      option?: string;
      /** The primary message, without prefix. */
      message: string;
      /** Exactly what qemu-img 7.2 prints on stderr (lines). */
      stderr: string[];
      /** The Formatting line qemu-img prints on stdout before a driver-stage failure. */
      formatting?: string;
    };

/**
 * The `Formatting 'FILE', fmt=… ` line (block.c bdrv_img_create + qemu_opts_print): every
 * option of the merged list in list order, given value or QemuOpts default; sizes and numbers
 * that were given print as parsed integers, strings are echoed with commas doubled.
 */
export function formattingLine(
  format: 'raw' | 'qcow2',
  filename: string,
  given: Map<string, { raw: string; parsed?: bigint }>,
): string {
  const parts = [`fmt=${format}`];
  for (const d of createOptionList(format)) {
    const g = given.get(d.name);
    const value = g ? g.raw : d.def;
    if (value === undefined) continue;
    if (d.kind === 'str') parts.push(`${d.name}=${escapeQemuOptValue(value)}`);
    else if ((d.kind === 'size' || d.kind === 'num') && g)
      parts.push(`${d.name}=${BigInt.asIntN(64, g.parsed ?? 0n)}`); // PRId64
    else parts.push(`${d.name}=${value}`);
  }
  return `Formatting '${filename}', ${parts.join(' ')}`;
}

function fail(
  stage: CreateStage,
  message: string,
  filename: string | undefined,
  extra: Partial<{ rule: string; option: string; hint: string; formatting: string }> = {},
): CreateVerdict {
  const lines = message.split('\n');
  const stderr =
    filename === undefined
      ? lines.map((l) => `qemu-img: ${l}`)
      : [`qemu-img: ${filename}: ${lines[0]}`, ...lines.slice(1)];
  if (extra.hint) stderr.push(...extra.hint.split('\n'));
  return { ok: false, stage, message, stderr, rule: extra.rule, option: extra.option, formatting: extra.formatting };
}

/**
 * Judges a `qemu-img create` invocation as qemu-img 7.2 does, stopping at the first error.
 * `backing` is asked for the facts of the backing image when qemu would open it (no `-u`);
 * without it the backing file is assumed to open with the given format and size.
 * LUKS details (`encrypt.format=luks` options) are left to schemas/luksOptions.ts.
 */
export function checkCreate(
  args: CreateArgs,
  backing?: (path: string, fmt: string | undefined) => BackingFacts,
): CreateVerdict {
  const file = args.filename;
  // Stage 1: the positional size.
  let imgSize: bigint | undefined;
  if (args.size !== undefined) {
    const p = parseQemuSize(args.size);
    if (!p.ok && !p.range) return fail('args', QEMU_MESSAGES.sizeSyntax.join('\n'), undefined);
    if (!p.ok || p.value > I64_MAX) return fail('args', QEMU_MESSAGES.sizeRange, undefined);
    imgSize = p.value;
  }
  // Stage 2: bdrv_img_create.
  if (args.format !== 'raw' && args.format !== 'qcow2') {
    return fail('options', QEMU_MESSAGES.unknownFormat(args.format), file, { option: 'format' });
  }
  const format = args.format;
  const list = createOptionList(format);
  const given = new Map<string, { raw: string; parsed?: bigint }>();
  const optString = (args.options ?? []).filter((o) => o !== '').join(',');
  for (const { name, value } of splitQemuOptions(optString)) {
    const d = list.find((o) => o.name === name);
    if (!d)
      return fail('options', QEMU_MESSAGES.invalidParameter(name), file, { rule: 'QIMG-OPT-UNKNOWN', option: name });
    let parsed: bigint | undefined;
    if (d.kind === 'bool' && parseQemuBool(value) === undefined) {
      return fail('options', QEMU_MESSAGES.expectsBool(name), file, { option: name });
    }
    if (d.kind === 'size') {
      const p = parseQemuSize(value);
      if (!p.ok) {
        return p.range
          ? fail('options', QEMU_MESSAGES.sizeOutOfRange(value, name), file, { option: name })
          : fail('options', QEMU_MESSAGES.expectsSize(name), file, { option: name, hint: QEMU_MESSAGES.sizeHint });
      }
      parsed = p.value;
    }
    if (d.kind === 'num') {
      const p = parseQemuNumber(value);
      if (!p.ok) {
        return p.range
          ? fail('options', QEMU_MESSAGES.numberTooLarge(value, name), file, { option: name })
          : fail('options', QEMU_MESSAGES.expectsNumber(name), file, { option: name });
      }
      parsed = p.value;
    }
    given.delete(name); // the last occurrence wins (qemu_opt_find searches from the end)
    given.set(name, { raw: value, parsed });
  }
  if (given.has('size')) {
    if (imgSize !== undefined) return fail('options', QEMU_MESSAGES.sizeTwice, file, { option: 'size' });
  } else if (imgSize !== undefined) {
    given.set('size', { raw: String(imgSize), parsed: imgSize });
  }
  const has = (n: string): boolean => given.has(n);
  const str = (n: string): string | undefined => given.get(n)?.raw;
  if (args.backingFile !== undefined) {
    if (format === 'raw')
      return fail('options', QEMU_MESSAGES.backingNotSupported(format), file, { option: 'backing_file' });
    given.delete('backing_file');
    given.set('backing_file', { raw: args.backingFile });
  }
  if (args.backingFmt !== undefined) {
    if (format === 'raw')
      return fail('options', QEMU_MESSAGES.backingFmtNotSupported(format), file, { option: 'backing_fmt' });
    given.delete('backing_fmt');
    given.set('backing_fmt', { raw: args.backingFmt });
  }
  const backingFile = str('backing_file');
  const backingFmt = str('backing_fmt');
  if (backingFile !== undefined) {
    if (backingFile === file) return fail('backing', QEMU_MESSAGES.sameFilename, file, { option: 'backing_file' });
    if (backingFile === '') return fail('backing', QEMU_MESSAGES.emptyBacking, file, { option: 'backing_file' });
  }
  let size: bigint | undefined = given.get('size')?.parsed;
  if (backingFile !== undefined && !args.unsafe) {
    const facts = backing?.(backingFile, backingFmt) ?? {};
    if (facts.error !== undefined)
      return fail('backing', facts.error, file, { option: 'backing_file', hint: QEMU_MESSAGES.backingOpenHint });
    if (backingFmt === undefined) {
      // Printed without a final newline by qemu (error_append_hint without "\n").
      return fail('backing', QEMU_MESSAGES.noBackingFormat, file, {
        option: 'backing_fmt',
        hint: QEMU_MESSAGES.detectedFormat(facts.detectedFormat ?? 'raw'),
      });
    }
    if (size === undefined && facts.length !== undefined) {
      size = BigInt(facts.length);
      given.set('size', { raw: String(size), parsed: size });
    }
  } else if (backingFile !== undefined && backingFmt === undefined) {
    return fail('backing', QEMU_MESSAGES.noBackingFormat, file, { option: 'backing_fmt' });
  }
  if (size === undefined) return fail('args', QEMU_MESSAGES.needsSize, file, { option: 'size' });
  const formatting = formattingLine(format, file, given);
  const driverFail = (message: string, extra: Partial<{ rule: string; option: string }> = {}): CreateVerdict =>
    fail('driver', message, file, { ...extra, formatting });

  const bool = (n: string, dflt = false): boolean => (has(n) ? parseQemuBool(str(n)!)! : dflt);
  const nocow = bool('nocow');
  const extentSizeHint = given.get('extent_size_hint')?.parsed;
  const rounded = ((size + 511n) / 512n) * 512n;

  if (format === 'raw') {
    // block/file-posix.c raw_co_create_opts: qapi_enum_parse of the mode, then raw_regular_truncate.
    const mode = str('preallocation') ?? 'off';
    if (!(PREALLOCATION_MODES as readonly string[]).includes(mode))
      return driverFail(QEMU_MESSAGES.rawPreallocInvalid(mode), { option: 'preallocation' });
    if (extentSizeHint !== undefined && extentSizeHint > 0xffffffffn)
      return driverFail(QEMU_MESSAGES.extentSizeHint, { option: 'extent_size_hint' });
    if (mode === 'metadata') return driverFail(QEMU_MESSAGES.rawPreallocUnsupported(mode), { option: 'preallocation' });
    // ftruncate(2) with a length beyond off_t (the rounded size can reach 2^63): EINVAL.
    if (rounded > I64_MAX) return driverFail(QEMU_MESSAGES.rawResize, { option: 'size' });
    return {
      ok: true,
      formatting,
      spec: {
        format,
        filename: file,
        size: Number(rounded),
        preallocation: mode as PreallocMode,
        nocow,
        extentSizeHint: extentSizeHint === undefined ? undefined : Number(extentSizeHint),
        version: 3,
        clusterSize: QCOW2_LIMITS.defaultClusterSize,
        extendedL2: false,
        lazyRefcounts: false,
        refcountBits: 16,
        compressionType: 'zlib',
        dataFileRaw: false,
      },
    };
  }

  // Stage 3: qcow2_co_create_opts — the `encryption` alias, then the QAPI visitor in field order.
  const enc = checkQcow2EncryptOptions({ encryption: str('encryption'), format: str('encrypt.format'), has });
  if (!enc.ok && enc.message === QEMU_MESSAGES.aliasConflict)
    return driverFail(enc.message, { option: enc.option, rule: 'QIMG-ENCRYPT' });
  // The protocol-level file (and data file) is created next, with the file-posix options.
  if (extentSizeHint !== undefined && extentSizeHint > 0xffffffffn)
    return driverFail(QEMU_MESSAGES.extentSizeHint, { option: 'extent_size_hint' });
  const compat = str('compat');
  const version = compatVersion(compat);
  if (version === undefined)
    return driverFail(QEMU_MESSAGES.notAccept('version', compat!), { rule: 'QIMG-COMPAT', option: 'compat' });
  if (backingFmt !== undefined && !BLOCKDEV_DRIVERS.includes(backingFmt)) {
    return driverFail(QEMU_MESSAGES.notAccept('backing-fmt', backingFmt), {
      rule: 'QIMG-BACKING',
      option: 'backing_fmt',
    });
  }
  if (!enc.ok) return driverFail(enc.message, { option: enc.option, rule: 'QIMG-ENCRYPT' });
  const prealloc = str('preallocation') ?? 'off';
  if (!(PREALLOCATION_MODES as readonly string[]).includes(prealloc))
    return driverFail(QEMU_MESSAGES.notAccept('preallocation', prealloc), {
      rule: 'QIMG-PREALLOC',
      option: 'preallocation',
    });
  const compression = str('compression_type') ?? 'zlib';
  if (!(COMPRESSION_TYPES as readonly string[]).includes(compression))
    return driverFail(QEMU_MESSAGES.notAccept('compression-type', compression), {
      rule: 'QIMG-COMPRESSION',
      option: 'compression_type',
    });
  const clusterSizeBig = given.get('cluster_size')?.parsed ?? BigInt(QCOW2_LIMITS.defaultClusterSize);
  // validate_cluster_size looks at the low 32 bits only (ctz32 on a size_t); anything ≥ 4 GiB is refused anyway.
  const clusterSize = clusterSizeBig > 0xffffffffn ? 0 : Number(clusterSizeBig);
  const refcountBitsBig = given.get('refcount_bits')?.parsed ?? 16n;
  const values: Qcow2Values = {
    version,
    clusterSize,
    extendedL2: bool('extended_l2'),
    preallocation: prealloc as PreallocMode,
    hasBackingFile: backingFile !== undefined,
    hasBackingFmt: backingFmt !== undefined,
    lazyRefcounts: bool('lazy_refcounts'),
    refcountBits: Number(refcountBitsBig > 1024n ? 1024n : refcountBitsBig), // any value > 64 fails the same rule
    hasDataFile: has('data_file'),
    dataFileRaw: bool('data_file_raw'),
    compressionType: compression as CompressionType,
  };
  const rule = checkQcow2Rules(values);
  if (rule) return driverFail(rule.message, { rule: rule.id, option: rule.option });
  if (rounded > maxQcow2Size(clusterSize, values.extendedL2)) {
    // The hint shows whenever cluster_size has a value, and qcow2's list gives it a default: always.
    return driverFail(QEMU_MESSAGES.tooLarge(format, true), { option: 'size' });
  }
  // qcow2_change_backing_file refuses names longer than 1023 bytes (-EINVAL).
  if (backingFile !== undefined && new TextEncoder().encode(backingFile).length > 1023) {
    return driverFail(QEMU_MESSAGES.backingNameTooLong(backingFile, backingFmt ?? ''), { option: 'backing_file' });
  }
  const encrypt = enc.format
    ? {
        format: enc.format,
        options: Object.fromEntries(
          [...given].filter(([k]) => k.startsWith('encrypt.')).map(([k, v]) => [k.slice('encrypt.'.length), v.raw]),
        ),
      }
    : undefined;
  return {
    ok: true,
    formatting,
    spec: {
      format,
      filename: file,
      size: Number(rounded),
      preallocation: effectivePreallocation(values),
      nocow,
      extentSizeHint: extentSizeHint === undefined ? undefined : Number(extentSizeHint),
      version,
      compat,
      clusterSize,
      extendedL2: values.extendedL2,
      lazyRefcounts: values.lazyRefcounts,
      refcountBits: values.refcountBits,
      compressionType: values.compressionType,
      backingFile,
      backingFmt,
      dataFile: str('data_file'),
      dataFileRaw: values.dataFileRaw,
      encrypt,
    },
  };
}
