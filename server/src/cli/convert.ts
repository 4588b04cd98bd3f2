// `libvirt-volume convert`: qemu-img 7.2 convert's syntax, verdicts and messages, over the
// project's reader (writer/reader) and writer (writer/convert.ts). Every refusal qemu-img makes
// is made here, with its message and exit status 1, in qemu's order (qemu-img.c img_convert):
//  1. the command line (getopt_long: "unrecognized option", "missing argument for option"; -S,
//     -m, -r values; --object secrets are created as they come), then the combinations
//     (--target-image-opts without -n, -o with -n, -C with -c/-S/--salvage, …), `-o help`,
//     "Must specify image file name", the source cache mode;
//  2. the inputs are opened (missing file, format, passphrase), several concatenated
//     (reader/concat.ts), then -l's snapshot loaded into the first (reader/snapshots.ts);
//  3. a new target: output format, -o options (QemuOpts), -B/-F (add_old_style_options), "Use of
//     backing file requires explicit backing format", -c restrictions, then the driver's verdict
//     ("FILE: error while converting FMT: …"), the target cache mode, the backing file opened;
//     an existing target (-n): an input as target refused (qemu's write lock), opened with -O
//     (default raw) or --target-image-opts, -c, its size.
// Where qemu-img creates the target before failing (a bad -t, a missing backing file, -c with a
// data_file: "error while writing at byte N: Operation not supported") it leaves the file behind;
// here every check comes before the first byte, and the conversion writes a temporary file that
// is renamed when complete (an existing output is refused without --force; qemu-img overwrites).
// The input's tables are walked (block status) before anything is written, so a corrupt image
// (an L2 table past the end of the file, …) is refused with the table and offset named.
// Exit: 0 converted, 1 refused or failed (nothing left behind), 128 + signal when interrupted.
import * as fs from 'node:fs';
import { resolve } from 'node:path';
import {
  BLOCKDEV_DRIVERS,
  checkCreate,
  FILE_CREATE_OPTIONS,
  parseQemuBool,
  QCOW2_CREATE_OPTIONS,
  RAW_CREATE_OPTIONS,
  type CreateOptionDef,
  parseQemuSize,
  QEMU_MESSAGES,
  type CreateSpec,
} from '../../../schemas/qcow2Options';
import { checkLuksOptions, INSECURE_AES_FLAG, LUKS_OPTIONS, pickLuksOptions } from '../../../schemas/luksOptions';
import { weakCryptoLines } from '../../../schemas/weakCrypto';
import { splitQemuOptions } from '../common/qemuOpts';
import {
  backingFacts,
  backingPathAsQemuSees,
  preflight,
  type ImageJob,
  type QcowEncryptionProvider,
} from '../writer/create';
import {
  CACHE_MODES,
  checkConvert,
  COMPRESSED_ENCRYPTED,
  CONVERT_DEFAULT_CACHE,
  convertEncryption,
  convertImage,
  convertOutputSize,
  existingQcow2Refusal,
  type CacheMode,
  type ConvertJob,
  type ConvertOptions,
} from '../writer/convert';
import { errorText, isCancellation, WriterError } from '../writer/errors';
import { checkLuksCreate } from '../writer/luks/createLuks';
import {
  parseSecretObject,
  resolvePassphrase,
  resolveSecret,
  SecretError,
  type SecretObject,
} from '../writer/luks/secrets';
import { nodeProbeIO, nodeWriterIO, readSecretFileSync } from '../writer/nodeIO';
import { ConcatReader } from '../writer/reader/concat';
import { openImage, type ImageReader } from '../writer/reader/imageReader';
import { tryProbeImage } from '../writer/probe';
import { imageOpts, qemuProgress, type Side } from './compare';
import { optionHelp } from './create';
import { readPassphraseStdin } from './passphraseStdin';
import { guardInterrupts } from './signals';

export const USAGE = `convert [--object secret,id=ID,data=TEXT|file=PATH[,format=base64]] [--image-opts]
        [--target-image-opts] [-p] [-q] [-n] [-c] [-W] [-m N] [-U] [-f FMT] [-t CACHE] [-T SRC_CACHE]
        [-O FMT] [-B BACKING [-F BACKING_FMT]] [-o OPTS] [-S SPARSE_SIZE] [--force] [${INSECURE_AES_FLAG}]
        [-l SNAPSHOT] [-r RATE] [--target-is-zero]
        [--passphrase-file F | --passphrase-env VAR | --passphrase-stdin] INPUT [INPUT…] OUTPUT
  Convert an image as qemu-img 7.2 convert does (same options, messages, exit codes): raw, qcow2 (v2/v3,
  compressed, subclusters, data files, backing chains), LUKS and qcow2+LUKS in; raw, qcow2 (every create
  option, -c zlib/zstd compression, -B backing), luks and qcow2+luks (-o encrypt.format=luks) out.
  Zero and unallocated ranges stay holes (-S: the zero run that makes a hole, default 4k; 0: allocate all).
  -n writes into an existing OUTPUT (its format: -O, default raw, or --target-image-opts driver=…); a
  qcow2 OUTPUT is rebuilt beside it and renamed over it when complete (a failure leaves it as it was).
  --target-is-zero (with -n): the input's zeros are not written. Several INPUTs are concatenated.
  -l snapshot.id=ID,snapshot.name=NAME or -l ID_OR_NAME: an internal snapshot of a qcow2 INPUT.
  -r RATE: at most RATE bytes per second written (qemu's suffixes: 10M).
  --image-opts: INPUT is driver=FMT,file.filename=PATH[,key-secret=ID|encrypt.key-secret=ID].
  --passphrase-*: the passphrase of the output (when it names no key-secret) and of every encrypted
  input that names none. -p prints progress as qemu-img ("    (NN.NN/100%)"), -q nothing but errors.
  Safer than qemu-img: every check comes before the first byte; the output is written to a temporary
  file and renamed; an existing OUTPUT is refused unless --force; the input's tables are checked first.
  -t CACHE: as qemu-img, the default 'unsafe' never flushes the output; any other mode flushes it
  before the rename.
  Accepted as qemu-img does, without effect here: -W, -m, -T, -U, -C.
  Refused with a reason: --salvage, --bitmaps, -B with -n.
  Encrypt an existing image in one command:
    convert --passphrase-file pw.txt -O qcow2 -o encrypt.format=luks plain.qcow2 secret.qcow2`;

const isCacheMode = (m: string): m is CacheMode => (CACHE_MODES as readonly string[]).includes(m);

/** A refusal: qemu-img's stderr lines (with its `qemu-img: ` prefix where it prints one). */
export class ConvertRefusal extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
  }
}
const refuse = (...messages: string[]): ConvertRefusal => new ConvertRefusal(messages.map((m) => `qemu-img: ${m}`));

/** qemu's MAX_BUF_SECTORS (qemu-img.c): -S at most 16 MiB. */
const MAX_SPARSE = 32768 * 512;
/** qemu's MAX_COROUTINES (qemu-img.c). */
const MAX_COROUTINES = 16;

export interface ConvertArgs {
  sources: string[];
  output?: string;
  fmt?: string;
  outFmt?: string;
  /** -O was given (without it, -n writes the target as raw, as qemu-img). */
  outFmtGiven: boolean;
  options: string[];
  backingFile?: string;
  backingFmt?: string;
  compressed: boolean;
  /** -S in bytes (default 4k). */
  minSparse: number;
  /** -r in bytes per second (0: no limit). */
  rateLimit?: number;
  progress: boolean;
  quiet: boolean;
  skipCreate: boolean;
  imageOpts: boolean;
  targetImageOpts: boolean;
  targetIsZero: boolean;
  cache: string;
  srcCache: string;
  /** -l snapshot.id=…,snapshot.name=… (sn_opts) or -l NAME (an id, else a name). */
  snapshot?: { id?: string; name?: string } | { idOrName: string };
  objects: SecretObject[];
  force: boolean;
  allowInsecureAes: boolean;
  passphraseFile?: string;
  passphraseEnv?: string;
  passphraseStdin: boolean;
  help?: boolean;
}

/** qemu-img's cvtnum_full(name, value, 0, INT64_MAX): a size with suffixes, or its two messages. */
function cvtnum(name: string, value: string): number {
  const p = parseQemuSize(value);
  if (!p.ok && !p.range) {
    throw refuse(
      `Invalid ${name} specified. You may use k, M, G, T, P or E suffixes for`,
      'kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.',
    );
  }
  if (!p.ok || p.value > 0x7fffffffffffffffn) {
    throw refuse(`Invalid ${name} specified. Must be between 0 and 9223372036854775807.`);
  }
  return Number(p.value);
}

/** qemu_strtol(optarg, NULL, 0, …): C's strtol with base 0, the whole text. */
function strtol(text: string): number | undefined {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!m) return undefined;
  const t = m[2];
  const v = /^0[xX]/.test(t) ? parseInt(t.slice(2), 16) : t.length > 1 && t[0] === '0' ? parseInt(t, 8) : Number(t);
  return m[1] === '-' ? -v : v;
}

/** img_convert's getopt_long: ":hf:O:B:CcF:o:l:S:pt:T:qnm:WUr:" and its long options, plus ours. */
const SHORT = 'hf:O:B:CcF:o:l:S:pt:T:qnm:WUr:';
const LONG: Record<string, boolean> = {
  help: false,
  object: true,
  'image-opts': false,
  'target-image-opts': false,
  salvage: false,
  'target-is-zero': false,
  bitmaps: false,
  'skip-broken-bitmaps': false,
  'force-share': false,
  force: false,
  'allow-insecure-aes': false,
  'passphrase-file': true,
  'passphrase-env': true,
  'passphrase-stdin': false,
};
const usageLines = (m: string) => new ConvertRefusal([`qemu-img: ${m}`, "Try 'qemu-img --help' for more information"]);

/**
 * Parses the command line as img_convert does, up to "Must specify image file name" and the
 * source cache mode. `readSecret` reads a `--object secret,file=` (qemu creates objects while
 * parsing, so a bad one is the first error). Throws ConvertRefusal.
 */
export function parseConvertArgs(argv: readonly string[], readSecret: (p: string) => Uint8Array): ConvertArgs {
  const a: ConvertArgs = {
    sources: [],
    outFmtGiven: false,
    options: [],
    compressed: false,
    minSparse: 4096,
    progress: false,
    quiet: false,
    skipCreate: false,
    imageOpts: false,
    targetImageOpts: false,
    targetIsZero: false,
    cache: CONVERT_DEFAULT_CACHE,
    srcCache: 'writeback',
    objects: [],
    force: false,
    allowInsecureAes: false,
    passphraseStdin: false,
  };
  const pos: string[] = [];
  let explicitSparse = false,
    copyRange = false,
    salvage = false,
    bitmaps = false,
    skipBroken = false;
  let snapshotOpts: { id?: string; name?: string } | undefined;
  const set = (opt: string, value: string | undefined): void => {
    const v = value as string;
    switch (opt) {
      case 'h':
      case 'help':
        a.help = true;
        break;
      case 'f':
        a.fmt = v;
        break;
      case 'O':
        a.outFmt = v;
        a.outFmtGiven = true;
        break;
      case 'B':
        a.backingFile = v;
        break;
      case 'C':
        copyRange = true;
        break;
      case 'c':
        a.compressed = true;
        break;
      case 'F':
        a.backingFmt = v;
        break;
      case 'o':
        a.options.push(v);
        break;
      case 'l':
        if (v.startsWith('snapshot.')) {
          // qemu_opts_parse_noisily(&internal_snapshot_opts, …): only snapshot.id and snapshot.name.
          const sn: { id?: string; name?: string } = {};
          for (const { name, value } of splitQemuOptions(v)) {
            if (name === 'snapshot.id') sn.id = value;
            else if (name === 'snapshot.name') sn.name = value;
            else throw refuse(`Invalid parameter '${name}'`, `Failed in parsing snapshot param '${v}'`);
          }
          snapshotOpts = sn;
        } else a.snapshot = { idOrName: v };
        break;
      case 'S': {
        const s = cvtnum('buffer size for sparse output', v);
        if (s % 512 !== 0 || s > MAX_SPARSE) {
          throw refuse(
            `Invalid buffer size for sparse output specified. Valid sizes are multiples of 512 up to ${MAX_SPARSE}. ` +
              'Select 0 to disable sparse detection (fully allocates output).',
          );
        }
        a.minSparse = s;
        explicitSparse = true;
        break;
      }
      case 'p':
        a.progress = true;
        break;
      case 't':
        a.cache = v;
        break;
      case 'T':
        a.srcCache = v;
        break;
      case 'q':
        a.quiet = true;
        break;
      case 'n':
        a.skipCreate = true;
        break;
      case 'm': {
        // Coroutines: qemu's parallelism; this writer orders its own I/O.
        const n = strtol(v);
        if (n === undefined || n < 1 || n > MAX_COROUTINES) {
          throw refuse(`Invalid number of coroutines. Allowed number of coroutines is between 1 and ${MAX_COROUTINES}`);
        }
        break;
      }
      case 'W':
      case 'U':
      case 'force-share':
        break; // out-of-order writes, shared locks: nothing to choose here
      case 'r':
        a.rateLimit = cvtnum('rate limit', v);
        break;
      case 'object': {
        const o = parseSecretObject(v);
        resolveSecret(o, readSecret);
        a.objects.push(o);
        break;
      }
      case 'image-opts':
        a.imageOpts = true;
        break;
      case 'target-image-opts':
        a.targetImageOpts = true;
        break;
      case 'salvage':
        salvage = true;
        break;
      case 'target-is-zero':
        a.targetIsZero = true;
        break;
      case 'bitmaps':
        bitmaps = true;
        break;
      case 'skip-broken-bitmaps':
        skipBroken = true;
        break;
      case 'force':
        a.force = true;
        break;
      case 'allow-insecure-aes':
        a.allowInsecureAes = true;
        break;
      case 'passphrase-file':
        a.passphraseFile = v;
        break;
      case 'passphrase-env':
        a.passphraseEnv = v;
        break;
      case 'passphrase-stdin':
        a.passphraseStdin = true;
        break;
    }
  };
  try {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i];
      if (arg === '--') {
        pos.push(...argv.slice(i + 1));
        break;
      }
      if (arg.startsWith('--')) {
        const eq = arg.indexOf('=');
        const name = arg.slice(2, eq < 0 ? undefined : eq);
        // getopt_long takes an unambiguous prefix of a long option.
        const matches = name in LONG ? [name] : Object.keys(LONG).filter((k) => k.startsWith(name));
        if (matches.length !== 1 || (eq >= 0 && !LONG[matches[0]])) throw usageLines(`unrecognized option '${arg}'`);
        let value: string | undefined;
        if (LONG[matches[0]]) {
          if (eq >= 0) value = arg.slice(eq + 1);
          else if (i + 1 < argv.length) value = argv[++i];
          else throw usageLines(`missing argument for option '${arg}'`);
        }
        set(matches[0], value);
        continue;
      }
      if (arg.length < 2 || arg[0] !== '-') {
        pos.push(arg); // getopt permutes: operands may come before options
        continue;
      }
      for (let j = 1; j < arg.length; j++) {
        const c = arg[j];
        const k = SHORT.indexOf(c);
        if (c === ':' || k < 0) throw usageLines(`unrecognized option '${arg}'`);
        if (SHORT[k + 1] !== ':') {
          set(c, undefined);
          continue;
        }
        let value = arg.slice(j + 1);
        if (value === '') {
          if (i + 1 >= argv.length) throw usageLines(`missing argument for option '${arg}'`);
          value = argv[++i];
        }
        set(c, value);
        break;
      }
    }
  } catch (e) {
    if (e instanceof SecretError) throw refuse(e.message);
    throw e;
  }
  if (a.help) return a;
  if (snapshotOpts) a.snapshot = snapshotOpts;
  if (!a.outFmt && !a.targetImageOpts) a.outFmt = 'raw';
  if (skipBroken && !bitmaps) throw refuse('--skip-broken-bitmaps requires --bitmaps');
  if (a.compressed && copyRange) throw refuse('Cannot enable copy offloading when -c is used');
  if (explicitSparse && copyRange) throw refuse('Cannot enable copy offloading when -S is used');
  if (copyRange && salvage) throw refuse('Cannot use copy offloading in salvaging mode');
  if (a.targetImageOpts && !a.skipCreate) throw refuse('--target-image-opts requires use of -n flag');
  if (a.skipCreate && a.options.length) throw refuse('-o has no effect when skipping image creation');
  if (a.targetIsZero && !a.skipCreate) throw refuse('--target-is-zero requires use of -n flag');
  a.output = pos.length >= 2 ? pos[pos.length - 1] : undefined;
  a.sources = pos.slice(0, -1);
  if (a.options.some((o) => splitQemuOptions(o).some((x) => x.name === 'help' || x.name === '?'))) {
    if (!a.outFmt) throw refuse('Option help requires a format be specified');
    return { ...a, help: true };
  }
  if (a.sources.length < 1) throw refuse('Must specify image file name');
  if (!isCacheMode(a.srcCache)) throw refuse(`Invalid source cache option: ${a.srcCache}`);
  // What this tool does not do, said plainly instead of half done.
  if (bitmaps) throw refuse('--bitmaps: persistent dirty bitmaps are not copied by this tool');
  if (salvage) throw refuse('--salvage: this tool stops at the first unreadable range instead of writing zeros');
  return a;
}

/**
 * `-o help` for raw, qcow2 (create's listing) and luks: block/crypto.c's create options are
 * qcow2's `encrypt.*` ones without the prefix (same help texts) but for key-secret's, plus size;
 * with a file name, the file protocol's options too (qemu's print_block_option_help).
 */
function convertOptionHelp(format: 'raw' | 'qcow2' | 'luks', output: string | undefined): string {
  if (format !== 'luks') return optionHelp(format, output !== undefined);
  const own: CreateOptionDef[] = QCOW2_CREATE_OPTIONS.filter(
    (d) => d.name.startsWith('encrypt.') && d.name !== 'encrypt.format',
  ).map((d) => ({
    ...d,
    name: d.name.slice('encrypt.'.length),
    help: d.name === 'encrypt.key-secret' ? 'ID of the secret that provides the keyslot passphrase' : d.help,
  }));
  own.push(RAW_CREATE_OPTIONS[0]);
  const list = output === undefined ? own : [...own, ...FILE_CREATE_OPTIONS.filter((d) => d.name !== 'size')];
  return optionHelp('luks', output !== undefined, list);
}

/** A new output image: the checked job, its encryption and the passphrase to zero afterwards. */
export interface NewTarget {
  kind: 'new';
  job: ImageJob;
  encryption?: QcowEncryptionProvider;
  passphrase?: Uint8Array;
}
/** -n: an existing output, opened (its format, size and passphrase checked). */
export interface ExistingTarget {
  kind: 'existing';
  path: string;
  reader: ImageReader;
  passphrase?: Uint8Array;
}

/** Everything the conversion needs, decided before the first byte is written. */
export interface ConvertPlan {
  source: ImageReader;
  /** Folder relative names are resolved against. */
  cwd: string;
  target: NewTarget | ExistingTarget;
  compressed: boolean;
  minSparse: number;
  targetIsZero: boolean;
  force: boolean;
  /** -t: the target cache mode (checked before the plan is made). */
  cache: CacheMode;
  /** -r: bytes per second written at most (0: no limit). */
  rateLimit: number;
}

export interface ConvertIO {
  out(s: string): void;
  err(s: string): void;
  cwd: string;
  signal?: AbortSignal;
  readStdin?(): Promise<Uint8Array>;
  env?: Record<string, string | undefined>;
}

const defaultIO = (): ConvertIO => ({
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  cwd: process.cwd(),
});

/** The last value of each option name over all `-o` arguments (qemu_opt_get: the last wins). */
function optionValues(options: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const o of options) for (const { name, value } of splitQemuOptions(o)) if (name) m.set(name, value);
  return m;
}

/** A reader error as img_open reports it: "Could not open 'NAME': MESSAGE". */
function openMessage(name: string, path: string, e: unknown): string {
  let m = errorText(e);
  // The reader names the file; qemu names what was typed (the whole --image-opts string).
  if (m.startsWith(`Could not open '${path}': `)) return `Could not open '${name}': ` + m.slice(path.length + 19);
  if (m.startsWith('Could not open')) return m;
  for (const p of [name, path]) if (m.startsWith(`${p}: `)) m = m.slice(p.length + 2);
  return `Could not open '${name}': ${m}`;
}

/**
 * Runs `convert …` (argv without the leading `convert`). Returns the exit status. `engine` is the
 * conversion proper (writer/convert.ts through runEngine; injectable for tests of the checks).
 */
export async function runConvert(
  argv: string[],
  io: ConvertIO = defaultIO(),
  engine: (plan: ConvertPlan, progress: (fraction: number) => void, signal: AbortSignal) => Promise<void> = runEngine,
): Promise<number> {
  const lines = (l: string[]) => io.err(l.map((x) => x.replace(/^qemu-img: /, 'libvirt-volume: ')).join('\n') + '\n');
  const readSecret = (p: string) => readSecretFileSync(resolve(io.cwd, p));
  let a: ConvertArgs;
  try {
    a = parseConvertArgs(argv, readSecret);
  } catch (e) {
    if (!(e instanceof ConvertRefusal)) throw e;
    lines(e.lines.map((l) => l.replace("'qemu-img --help'", "'libvirt-volume convert --help'")));
    return 1;
  }
  if (a.help && !a.options.length) {
    io.out(USAGE + '\n');
    return 0;
  }
  if (a.help) {
    const f = a.outFmt!;
    if (f !== 'raw' && f !== 'qcow2' && f !== 'luks') {
      lines([`qemu-img: ${BLOCKDEV_DRIVERS.includes(f) ? notWritten(f) : QEMU_MESSAGES.unknownFormat(f)}`]);
      return 1;
    }
    io.out(convertOptionHelp(f, a.output));
    return 0;
  }
  const progress = qemuProgress(a.progress && !a.quiet, io.out);
  progress.update(0);
  const guard = guardInterrupts(io.signal);
  const opened: ImageReader[] = [];
  /** Passphrase buffers this run read: zeroed when it ends, whatever the outcome. */
  const wipe: Uint8Array[] = [];
  let plan: ConvertPlan | undefined;
  try {
    plan = await makePlan(a, io, guard.signal, opened, wipe);
    await engine(plan, progress.update, guard.signal);
    progress.update(1);
    progress.end();
    return 0;
  } catch (e) {
    progress.end();
    if (e instanceof ConvertRefusal) {
      lines(e.lines);
      return 1;
    }
    // A new output is a temporary file until complete, and so is the rebuilt qcow2 of -n into a
    // qcow2 (renamed over the target at the end); -n into raw or LUKS writes in place (as qemu-img).
    const existing = plan?.target.kind === 'existing' ? plan.target.reader.format : undefined;
    const inPlace = existing !== undefined && existing !== 'qcow2';
    if (isCancellation(e)) {
      const left = inPlace
        ? 'the target holds what was copied so far'
        : existing
          ? 'the target is as it was'
          : 'nothing was left behind';
      lines([`qemu-img: ${a.output}: interrupted; ${left}`]);
      return guard.exitCode ?? 130;
    }
    lines([`qemu-img: ${errorText(e)}`]);
    if (inPlace && !(e instanceof WriterError && e.code === 'refused'))
      lines([`qemu-img: ${a.output}: written in place: the target holds what was copied before the error`]);
    return 1;
  } finally {
    guard.dispose();
    if (plan?.target.passphrase) plan.target.passphrase.fill(0);
    for (const w of wipe) w.fill(0);
    for (const r of opened) await r.close().catch(() => undefined);
  }
}

function notWritten(format: string): string {
  return `Format '${format}' is not written by this tool (raw, qcow2, luks); convert to one of those`;
}

const SEVERAL_WITH_BACKING =
  'Having a backing file for the target makes no sense when concatenating multiple input images';

/** The checks of img_convert after the command line, in its order; opens what it needs. */
async function makePlan(
  a: ConvertArgs,
  io: ConvertIO,
  signal: AbortSignal,
  opened: ImageReader[],
  wipe: Uint8Array[],
): Promise<ConvertPlan> {
  const probe = nodeProbeIO();
  const wio = nodeWriterIO();
  const env = {
    readFile: (p: string) => readSecretFileSync(resolve(io.cwd, p)),
    readStdin: io.readStdin ?? readPassphraseStdin,
    env: io.env ?? process.env,
  };
  // --passphrase-*: read once (stdin can be read only once), for every side that names no key-secret.
  let shared: Uint8Array | undefined;
  const sharedGiven = a.passphraseFile !== undefined || a.passphraseEnv !== undefined || a.passphraseStdin;
  const sharedPassphrase = async (prefix = '') => {
    if (!shared) {
      const sources = {
        objects: a.objects,
        passphraseFile: a.passphraseFile,
        passphraseEnv: a.passphraseEnv,
        passphraseStdin: a.passphraseStdin,
      };
      wipe.push((shared = await resolvePassphrase(sources, { ...env, prefix })));
    }
    return Uint8Array.from(shared);
  };
  const side = (spec: string, format: string | undefined, isTarget: boolean): Side => {
    if (!(isTarget ? a.targetImageOpts : a.imageOpts)) return { name: spec, path: spec, format };
    try {
      return imageOpts(spec);
    } catch (e) {
      if (e instanceof SecretError) throw refuse(e.message);
      throw e;
    }
  };
  /** img_open: the file, its format and passphrase; qemu's messages. */
  const open = async (
    s: Side,
    snapshot?: ConvertArgs['snapshot'],
  ): Promise<{ reader: ImageReader; passphrase?: Uint8Array }> => {
    if (s.format !== undefined && !BLOCKDEV_DRIVERS.includes(s.format)) {
      throw refuse(`Could not open '${s.name}': Unknown driver '${s.format}'`);
    }
    const st = await wio.stat(resolve(io.cwd, s.path));
    if (!st) throw refuse(`Could not open '${s.name}': Could not open '${s.path}': No such file or directory`);
    missingBacking(s);
    let passphrase: Uint8Array | undefined;
    try {
      if (s.keySecret !== undefined)
        passphrase = await resolvePassphrase({ objects: a.objects, keySecret: s.keySecret }, env);
      else if (sharedGiven && encrypted(s)) passphrase = await sharedPassphrase();
    } catch (e) {
      if (e instanceof SecretError) throw refuse(`Could not open '${s.name}': ${e.message}`);
      throw e;
    }
    try {
      const reader = await openImage(s.path, {
        io: wio,
        cwd: io.cwd,
        format: s.format,
        passphrase,
        allowInsecureAes: a.allowInsecureAes,
        signal,
        snapshot,
      });
      opened.push(reader);
      if (passphrase) wipe.push(passphrase);
      return { reader, passphrase };
    } catch (e) {
      passphrase?.fill(0);
      if (isCancellation(e)) throw e;
      if (e instanceof WriterError && e.option === 'snapshot') throw refuse(`Failed to load snapshot: ${e.message}`);
      throw refuse(openMessage(s.name, s.path, e));
    }
  };

  /** Whether the image (or an image of its chain) asks for a passphrase: stdin is read only then. */
  function encrypted(s: Side): boolean {
    let path = s.path;
    for (let depth = 0; depth <= 64 && s.format !== 'raw'; depth++) {
      const facts = tryProbeImage(probe, resolve(io.cwd, path));
      if (!facts) return false;
      if (facts.encrypted || facts.format === 'luks') return true;
      if (facts.format !== 'qcow2' || !facts.backingFile || facts.backingFormat === 'raw') return false;
      path = backingPathAsQemuSees(path, facts.backingFile);
    }
    return false;
  }

  /**
   * A missing file down the backing chain, as qemu words it: one "Could not open backing file: "
   * per level (bdrv_open_backing_file nests its errors), the name as qemu combines it
   * (bdrv_get_full_backing_filename: relative to the naming image).
   */
  function missingBacking(s: Side): void {
    let shown = s.path;
    let format = s.format;
    for (let depth = 1; depth <= 64; depth++) {
      const facts =
        format === undefined || format === 'qcow2' ? tryProbeImage(probe, resolve(io.cwd, shown)) : undefined;
      if (facts?.format !== 'qcow2' || !facts.backingFile || facts.backingFile.startsWith('json:')) return;
      shown = backingPathAsQemuSees(shown, facts.backingFile);
      format = facts.backingFormat;
      if (!fs.existsSync(resolve(io.cwd, shown))) {
        throw refuse(
          `Could not open '${s.name}': ${'Could not open backing file: '.repeat(depth)}` +
            `Could not open '${shown}': No such file or directory`,
        );
      }
    }
  }

  // Several inputs are concatenated (img_convert: each opened in turn, total_sectors summed).
  const inputs: ImageReader[] = [];
  for (const name of a.sources) {
    const { reader, passphrase: inputPassphrase } = await open(side(name, a.fmt, false));
    inputPassphrase?.fill(0);
    inputs.push(reader);
  }
  if (a.snapshot) {
    // -l: the first input read through the snapshot's L1 table (bdrv_snapshot_load_tmp on src[0];
    // -l NAME with several inputs is refused, snapshot.* options load into the first one only).
    if ('idOrName' in a.snapshot && inputs.length > 1) throw refuse('No support for concatenating multiple snapshot');
    const { reader, passphrase: p } = await open(side(a.sources[0], a.fmt, false), a.snapshot);
    p?.fill(0);
    inputs[0] = reader;
  }
  const source = inputs.length > 1 ? new ConcatReader(inputs) : inputs[0];
  const out = a.output!;
  const total = convertOutputSize(source);
  const base = {
    source,
    cwd: io.cwd,
    compressed: a.compressed,
    minSparse: a.minSparse,
    targetIsZero: a.targetIsZero,
    force: a.force,
    cache: a.cache as CacheMode,
    rateLimit: a.rateLimit ?? 0,
  };

  if (a.skipCreate) {
    if (a.backingFile !== undefined) {
      // qemu-img's message (it then exits 0 having copied nothing: img_convert's `goto out` with ret 0).
      if (a.targetIsZero) throw refuse('Cannot use --target-is-zero when the destination image has a backing file');
      if (inputs.length > 1) throw refuse(SEVERAL_WITH_BACKING);
      // With -n, qemu-img takes -B as "the target already has this backing file" and copies only the
      // input's own clusters; the writer does not do that partial copy.
      throw refuse(`${out}: -B with -n (copying only what the input holds over its backing file) is not supported`);
    }
    if (!isCacheMode(a.cache)) throw refuse(`Invalid cache option: ${a.cache}`);
    const t = side(out, a.outFmt, true);
    // An input (or a file of its backing chain) is the target: qemu's image locking refuses to
    // open it for writing (the inputs hold shared read locks); so does this tool.
    const real = (p: string) => {
      try {
        return fs.realpathSync(p);
      } catch {
        return undefined;
      }
    };
    const targetReal = real(resolve(io.cwd, t.path));
    for (const input of inputs) {
      for (let r: ImageReader | undefined = input; r && targetReal !== undefined; r = r.backing) {
        if (real(r.path) !== targetReal) continue;
        throw new ConvertRefusal([
          `qemu-img: Could not open '${t.name}': Failed to get "write" lock`,
          `Is another process using the image [${t.path}]?`,
        ]);
      }
    }
    const { reader, passphrase } = await open({ ...t, format: t.format ?? 'raw' });
    const why = reader.qcow2 && existingQcow2Refusal(reader.qcow2);
    if (why) throw refuse(`Could not open '${t.name}': ${why}`);
    // -n without -O opens the target as raw: over a qcow2 or LUKS file that writes guest data onto
    // its metadata (qemu-img does it); refused here.
    const header = a.outFmtGiven || a.targetImageOpts ? undefined : tryProbeImage(probe, resolve(io.cwd, t.path));
    if (header && header.format !== 'raw') {
      throw refuse(
        `${out}: the target is a ${header.format} image and -n without -O writes it as raw (over its metadata): ` +
          `give -O ${header.format}`,
      );
    }
    const plan: ConvertPlan = {
      ...base,
      target: { kind: 'existing', path: resolve(io.cwd, t.path), reader, passphrase },
    };
    if (a.compressed && reader.format !== 'qcow2') throw refuse('Compression not supported for this file format');
    if (a.compressed && reader.encryption) throw refuse(`${out}: ${COMPRESSED_ENCRYPTED}`);
    if (reader.virtualSize < total) throw refuse('output file is smaller than input file');
    await checkInputTables(source, signal);
    // A qcow2 target is read while it is rebuilt (its own content is kept past the input): its tables first.
    if (reader.format === 'qcow2') await checkInputTables(reader, signal);
    engineCheck(plan);
    return plan;
  }

  // A new target: the output format and its options (bdrv_find_format, qemu_opts_do_parse).
  const fmt = a.outFmt!;
  if (!BLOCKDEV_DRIVERS.includes(fmt)) throw refuse(QEMU_MESSAGES.unknownFormat(fmt));
  if (fmt !== 'raw' && fmt !== 'qcow2' && fmt !== 'luks') throw refuse(notWritten(fmt));
  const given = optionValues(a.options);
  const compressChecks = () => {
    if (!a.compressed) return;
    if (fmt !== 'qcow2') throw refuse('Compression not supported for this file format');
    const encryption = given.get('encryption');
    if ((encryption !== undefined && parseQemuBool(encryption)) || given.has('encrypt.format')) {
      throw refuse('Compression and encryption not supported at the same time');
    }
    const prealloc = given.get('preallocation');
    if (prealloc !== undefined && prealloc !== 'off') {
      throw refuse('Compression and preallocation not supported at the same time');
    }
  };
  const driverError = (message: string, hint: string[] = []) =>
    new ConvertRefusal([`qemu-img: ${out}: error while converting ${fmt}: ${message}`, ...hint]);

  let job: ImageJob;
  let encryption: QcowEncryptionProvider | undefined;
  let passphrase: Uint8Array | undefined;
  if (fmt === 'luks') {
    const known = new Set([...LUKS_OPTIONS.map((o) => o.name), 'size', 'preallocation', 'nocow', 'extent_size_hint']);
    for (const k of given.keys()) if (!known.has(k)) throw refuse(QEMU_MESSAGES.invalidParameter(k));
    if (a.backingFile !== undefined) throw refuse(QEMU_MESSAGES.backingNotSupported(fmt));
    if (a.backingFmt !== undefined) throw refuse(QEMU_MESSAGES.backingFmtNotSupported(fmt));
    compressChecks();
    const v = checkLuksCreate({ format: 'luks', filename: out, size: String(total), options: a.options });
    if (!v.ok) throw driverError(v.message, v.stderr.slice(1));
    if (!('optionsOk' in v)) throw new Error('a luks verdict without a LUKS spec');
    passphrase = await outputPassphrase(v.spec.keySecret, '');
    for (const l of weakCryptoLines(v.spec.options, v.spec.size)) io.err(l + '\n');
    job = { ...v.spec, passphrase };
  } else {
    // The size is the input's (qemu_opt_set_number after parsing -o: a given size=… is replaced).
    // checkCreate itself, not planConvertCreate: convert's bdrv_create does not open the backing file
    // (unsafe), which is opened with the target below, and the stage decides qemu's wording.
    const v = checkCreate({
      format: fmt,
      filename: out,
      options: [...a.options, `size=${total}`],
      backingFile: a.backingFile,
      backingFmt: a.backingFmt,
      unsafe: true,
    });
    if (inputs.length > 1 && a.backingFile !== undefined) throw refuse(SEVERAL_WITH_BACKING);
    if (!v.ok && v.stage === 'backing' && v.message === QEMU_MESSAGES.noBackingFormat) {
      throw refuse('Use of backing file requires explicit backing format');
    }
    if (!v.ok && v.stage !== 'driver') {
      throw new ConvertRefusal([v.stderr[0].replace(`qemu-img: ${out}: `, 'qemu-img: '), ...v.stderr.slice(1)]);
    }
    compressChecks();
    if (!v.ok) throw driverError(v.message.split('\n')[0], v.stderr.slice(1));
    const spec: CreateSpec = v.spec;
    if (spec.encrypt?.format === 'aes') {
      throw driverError(
        'legacy qcow2 AES encryption is not written by this tool (it is insecure): use encrypt.format=luks',
      );
    }
    if (spec.encrypt) {
      const o = spec.encrypt.options;
      const checked = checkLuksOptions(
        pickLuksOptions((k) => o[k]),
        { prefix: 'encrypt.' },
      );
      if (!checked.ok) throw driverError(checked.message);
      passphrase = await outputPassphrase(o['key-secret'], 'encrypt.');
      for (const l of weakCryptoLines(o, spec.size)) io.err(l + '\n');
      const { 'key-secret': _k, ...luksOpts } = o;
      encryption = convertEncryption(luksOpts, passphrase, { signal });
    }
    job = spec;
  }

  // bdrv_create's own failures: the folder, and this tool's refusal of an existing output.
  const pre = await preflight(job, { io: wio, cwd: io.cwd, force: a.force });
  if (pre) {
    passphrase?.fill(0);
    if (pre.message.startsWith('Could not create')) throw driverError(pre.message);
    throw refuse(`${out}: ${pre.message}`);
  }
  const plan: ConvertPlan = { ...base, target: { kind: 'new', job, encryption, passphrase } };
  // qemu-img checks these after creating the image (and leaves it behind); here, before.
  if (!isCacheMode(a.cache)) throw refuse(`Invalid cache option: ${a.cache}`);
  if (job.format === 'qcow2' && job.backingFile !== undefined) {
    const f = backingFacts(probe, io.cwd, out, job.backingFile, job.backingFmt);
    if (f.error !== undefined) throw refuse(`Could not open '${out}': Could not open backing file: ${f.error}`);
    if (f.mismatch) throw refuse(`${out}: ${f.mismatch}`);
  }
  const firstData = await checkInputTables(source, signal);
  if (a.compressed && job.format === 'qcow2' && job.dataFile !== undefined && firstData !== undefined) {
    // qcow2 cannot store compressed clusters in an external data file: qemu's first write fails.
    throw refuse(`error while writing at byte ${firstData}: Operation not supported`);
  }
  engineCheck(plan);
  return plan;

  /** The writer's own limits (writer/convert.ts checkConvert), said before anything is written. */
  function engineCheck(p: ConvertPlan): void {
    const { job: j, options } = engineJob(p);
    const bad = checkConvert(j, options);
    if (bad) throw refuse(`${out}: ${bad.message}`);
  }

  async function outputPassphrase(keySecret: string | undefined, prefix: string): Promise<Uint8Array> {
    try {
      const p =
        keySecret === undefined && sharedGiven
          ? await sharedPassphrase(prefix)
          : await resolvePassphrase({ objects: a.objects, keySecret }, { ...env, prefix });
      wipe.push(p);
      return p;
    } catch (e) {
      if (e instanceof SecretError) throw driverError(e.message);
      throw e;
    }
  }
}

/** Block status over the whole input: a corrupt table is found before a byte is written. */
async function checkInputTables(source: ImageReader, signal: AbortSignal): Promise<number | undefined> {
  let first: number | undefined;
  const STEP = 1 << 30;
  try {
    for (let o = 0; o < source.virtualSize; o += STEP) {
      if (signal.aborted) throw new WriterError('cancelled', 'cancelled');
      for (const r of await source.readBlockStatus(o, Math.min(STEP, source.virtualSize - o))) {
        if (r.kind === 'data' && first === undefined) first = r.offset;
      }
    }
  } catch (e) {
    if (isCancellation(e)) throw e;
    throw refuse(errorText(e));
  }
  return first;
}

/** The conversion proper: writer/convert.ts convertImage, with -p fed from its progress. */
async function runEngine(plan: ConvertPlan, progress: (fraction: number) => void, signal: AbortSignal): Promise<void> {
  const { job, options } = engineJob(plan);
  await convertImage(job, {
    ...options,
    io: nodeWriterIO(),
    signal,
    onProgress: (p) => {
      if (p.phase === 'data' && p.total > 0) progress(p.done / p.total);
    },
  });
}

/** The plan as writer/convert.ts takes it (checked by its checkConvert before anything is written). */
function engineJob(plan: ConvertPlan): {
  job: ConvertJob;
  options: Pick<ConvertOptions, 'cwd' | 'force' | 'encryption' | 'cache' | 'rateLimit'>;
} {
  const t = plan.target;
  const job: ConvertJob = {
    source: plan.source,
    compress: plan.compressed,
    minSparse: plan.minSparse,
    ...(t.kind === 'new'
      ? { target: t.job }
      : {
          existing: {
            filename: t.path,
            format: t.reader.format,
            passphrase: t.passphrase,
            targetIsZero: plan.targetIsZero,
          },
        }),
  };
  const encryption = t.kind === 'new' ? t.encryption : undefined;
  const options = { cwd: plan.cwd, force: plan.force, encryption, cache: plan.cache, rateLimit: plan.rateLimit };
  return { job, options };
}
