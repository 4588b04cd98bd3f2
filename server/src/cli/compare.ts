// `libvirt-volume compare`: qemu-img 7.2 compare's syntax, messages and exit codes, over the
// project's own image reader (writer/reader), so encrypted images (LUKS, qcow2+LUKS) compare
// anywhere Node runs. What qemu-img.c img_compare does, in its order:
//  - strict mode (-s) refuses different sizes first ("Strict mode: Image size mismatch!");
//  - over the common size, ranges both sides report as zero are skipped, others are read and
//    the first 512-byte sector that differs is reported ("Content mismatch at offset N!"); in
//    strict mode a different allocation status is a difference too;
//  - then, for different sizes, "Warning: Image size mismatch!" and the larger image's extra
//    part must read as zeros;
//  - "Images are identical."
// Exit codes (qemu-img(1), compare): 0 identical, 1 different, 2 an image could not be opened,
// 3 the allocation status could not be read, 4 data could not be read. Usage errors exit 1 as
// qemu-img's error_exit does.
import { INSECURE_AES_FLAG } from '../../../schemas/luksOptions';
import { errorText, isCancellation, throwIfAborted } from '../writer/errors';
import { nodeWriterIO } from '../writer/nodeIO';
import { openImage, type BlockKind, type ImageReader } from '../writer/reader/imageReader';
import { resolvePassphrase, SecretError, type SecretObject } from '../writer/luks/secrets';
import { guardInterrupts } from './signals';
import { optionArgument } from './args';
import { cliPassphraseEnv, secretObject } from './secretArgs';
import { splitQemuOptions } from '../common/qemuOpts';

export const USAGE = `compare [--object secret,id=ID,data=TEXT|file=PATH[,format=base64]] [--image-opts]
        [-f FMT] [-F FMT] [-p] [-q] [-s] [${INSECURE_AES_FLAG}]
        [--passphrase-file F | --passphrase-env VAR | --passphrase-stdin] A B
  Compare the guest contents of two images as qemu-img compare does (raw, qcow2, luks, backing chains,
  encrypted images). Exit 0 identical, 1 different, 2 cannot open, 3 allocation error, 4 read error.
  --image-opts: A and B are driver=FMT,file.filename=PATH[,key-secret=ID|encrypt.key-secret=ID].
  -s strict: different sizes or allocation are differences. -q prints nothing but errors.
  --passphrase-*: the passphrase of every encrypted image that names no key-secret.`;

export interface CompareIO {
  out(s: string): void;
  err(s: string): void;
  signal?: AbortSignal;
  readStdin?(): Promise<Uint8Array>;
  env?: Record<string, string | undefined>;
}

const SECTOR = 512;
/** qemu-img's IO_BUF_SIZE: the most read from each image at once. */
const CHUNK = 2 << 20;

export interface Side {
  name: string;
  path: string;
  format?: string;
  keySecret?: string;
}

/** One --image-opts string: driver, file.filename and the key secret; qemu's message for anything else. */
export function imageOpts(spec: string): Side {
  const side: Side = { name: spec, path: '' };
  for (const { name: k, value: v } of splitQemuOptions(spec)) {
    if (!k && v === 'on') continue; // an empty part (`a,,` ends, `,b`) is no option
    if (k === 'driver') side.format = v;
    else if (k === 'file.filename' || k === 'file') side.path = v;
    else if (k === 'key-secret' || k === 'encrypt.key-secret') side.keySecret = v;
    else {
      throw new SecretError(
        `Could not open '${spec}': Block format '${side.format ?? 'raw'}' does not ` + `support the option '${k}'`,
      );
    }
  }
  if (!side.path) throw new SecretError(`Could not open '${spec}': A block device must be specified for "file"`);
  return side;
}

/** qemu's BDRV_BLOCK_ALLOCATED / ZERO view of a kind, for strict mode and the zero skip. */
function allocated(k: BlockKind): boolean {
  return k !== 'unallocated';
}
function zeroish(k: BlockKind): boolean {
  return k !== 'data';
}

/** Index of the first 512-byte sector of a and b (same length) that differs, or -1. */
function firstDifferentSector(a: Uint8Array, b: Uint8Array): number {
  if (Buffer.compare(a, b) === 0) return -1;
  for (let i = 0; i < a.length; i += SECTOR) {
    const n = Math.min(SECTOR, a.length - i);
    if (Buffer.compare(a.subarray(i, i + n), b.subarray(i, i + n)) !== 0) return i;
  }
  return -1;
}

/** Index of the first 512-byte sector of a holding a non-zero byte, or -1 (qemu-img find_nonzero). */
function firstNonZeroSector(a: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) return i - (i % SECTOR);
  return -1;
}

class Stop {
  constructor(
    readonly code: number,
    readonly message?: string,
  ) {}
}

/** Block status of both images over [offset, end), as ranges where neither side's kind changes. */
async function* pairedStatus(a: ImageReader, b: ImageReader, offset: number, end: number, signal?: AbortSignal) {
  const status = async (img: ImageReader, o: number, n: number) => {
    try {
      return await img.readBlockStatus(o, n);
    } catch (e) {
      if (isCancellation(e)) throw e;
      throw new Stop(3, `Sector allocation test failed for ${img.path}: ${errorText(e)}`);
    }
  };
  for (let o = offset; o < end; o += CHUNK) {
    throwIfAborted(signal);
    const n = Math.min(CHUNK, end - o);
    const ra = await status(a, o, n),
      rb = await status(b, o, n);
    let i = 0,
      j = 0;
    for (let p = o; p < o + n;) {
      while (ra[i].offset + ra[i].length <= p) i++;
      while (rb[j].offset + rb[j].length <= p) j++;
      const q = Math.min(ra[i].offset + ra[i].length, rb[j].offset + rb[j].length);
      yield { offset: p, length: q - p, ka: ra[i].kind, kb: rb[j].kind };
      p = q;
    }
  }
}

async function readOrStop(img: ImageReader, offset: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  try {
    await img.read(offset, buf);
  } catch (e) {
    if (isCancellation(e)) throw e;
    throw new Stop(4, `Error while reading offset ${offset} of ${img.path}: ${errorText(e)}`);
  }
  return buf;
}

/** The comparison proper; returns the exit code and writes qemu-img's lines. */
export async function compareImages(
  a: ImageReader,
  b: ImageReader,
  o: { strict: boolean; quiet: boolean; out(s: string): void; progress?(fraction: number): void; signal?: AbortSignal },
): Promise<number> {
  const say = (s: string) => {
    if (!o.quiet) o.out(s + '\n');
  };
  if (o.strict && a.virtualSize !== b.virtualSize) {
    say('Strict mode: Image size mismatch!');
    return 1;
  }
  const common = Math.min(a.virtualSize, b.virtualSize);
  const total = Math.max(a.virtualSize, b.virtualSize) || 1;
  for await (const r of pairedStatus(a, b, 0, common, o.signal)) {
    if (o.strict && (allocated(r.ka) !== allocated(r.kb) || zeroish(r.ka) !== zeroish(r.kb))) {
      say(`Strict mode: Offset ${r.offset} block status mismatch!`);
      return 1;
    }
    if (zeroish(r.ka) && zeroish(r.kb)) continue;
    for (let p = r.offset; p < r.offset + r.length; p += CHUNK) {
      const n = Math.min(CHUNK, r.offset + r.length - p);
      // Both images at once: the reads wait on the disk (thread pool), not on each other.
      const [ba, bb] = await Promise.all([readOrStop(a, p, n), readOrStop(b, p, n)]);
      const d = firstDifferentSector(ba, bb);
      if (d >= 0) {
        say(`Content mismatch at offset ${p + d}!`);
        return 1;
      }
      o.progress?.((p + n) / total);
    }
  }
  if (a.virtualSize !== b.virtualSize) {
    const big = a.virtualSize > b.virtualSize ? a : b;
    say('Warning: Image size mismatch!');
    for (let p = common; p < big.virtualSize; p += CHUNK) {
      const n = Math.min(CHUNK, big.virtualSize - p);
      let ranges;
      try {
        ranges = await big.readBlockStatus(p, n);
      } catch (e) {
        if (isCancellation(e)) throw e;
        throw new Stop(3, `Sector allocation test failed for ${big.path}: ${errorText(e)}`);
      }
      for (const r of ranges) {
        if (zeroish(r.kind)) continue;
        const d = firstNonZeroSector(await readOrStop(big, r.offset, r.length));
        if (d >= 0) {
          say(`Content mismatch at offset ${r.offset + d}!`);
          return 1;
        }
      }
      o.progress?.((p + n) / total);
    }
  }
  o.progress?.(1);
  say('Images are identical.');
  return 0;
}

/**
 * qemu-img's -p progress on stdout (util/qemu-progress.c, progress_simple_print): "\r"-ended
 * `    (NN.NN/100%)` updates when the hundredth changes, and a newline at the end (compare, convert).
 */
export function qemuProgress(enabled: boolean, out: (s: string) => void): { update(f: number): void; end(): void } {
  let shown = -1;
  return {
    update(f) {
      if (!enabled) return;
      const pct = Math.floor(Math.min(1, f) * 10000) / 100;
      if (pct === shown) return;
      shown = pct;
      out(`    (${pct.toFixed(2)}/100%)\r`);
    },
    end() {
      if (enabled) out('\n');
    },
  };
}

/** Runs `compare …` (argv without the leading `compare`). Returns the exit status. */
export async function runCompare(
  argv: string[],
  io: CompareIO = {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
  },
): Promise<number> {
  const objects: SecretObject[] = [];
  const pos: string[] = [];
  let fmtA: string | undefined, fmtB: string | undefined;
  let imageOptsMode = false,
    strict = false,
    quiet = false,
    progress = false,
    allowAes = false,
    stdinPw = false;
  let pwFile: string | undefined, pwEnv: string | undefined;
  const fail = (msg: string, code: number) => {
    io.err(`libvirt-volume: ${msg}\n`);
    return code;
  };
  const usage = (msg: string) => fail(`${msg}\n${USAGE}`, 1);
  try {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      const val = () => optionArgument(argv, ++i, a);
      if (a === '-h' || a === '--help') {
        io.out(USAGE + '\n');
        return 0;
      } else if (a === '-f') fmtA = val();
      else if (a === '-F') fmtB = val();
      else if (a === '-T')
        val(); // cache mode: this reader has no cache to choose
      else if (a === '-U' || a === '--force-share') {
        /* read-only, no image locking here */
      } else if (a === '-s') strict = true;
      else if (a === '-q') quiet = true;
      else if (a === '-p') progress = true;
      else if (a === '--image-opts') imageOptsMode = true;
      else if (a === INSECURE_AES_FLAG) allowAes = true;
      else if (a === '--object') {
        // qemu-img creates objects first: a bad secret object fails before anything is opened, and
        // img_compare exits 2 then (measured: qemu-img 7.2), where a usage error exits 1.
        const spec = val();
        try {
          objects.push(secretObject(spec, process.cwd()));
        } catch (e) {
          if (e instanceof SecretError) return fail(e.message, 2);
          throw e;
        }
      } else if (a === '--passphrase-file') pwFile = val();
      else if (a === '--passphrase-env') pwEnv = val();
      else if (a === '--passphrase-stdin') stdinPw = true;
      else if (a.startsWith('-') && a !== '-') return usage(`unknown option ${a}`);
      else pos.push(a);
    }
  } catch (e) {
    if (e instanceof SecretError) return fail(e.message, 1);
    throw e;
  }
  if (pos.length !== 2) return usage('Expecting two image file names');
  if (imageOptsMode && (fmtA !== undefined || fmtB !== undefined)) {
    return fail('--image-opts and --format are mutually exclusive', 2);
  }
  const env = cliPassphraseEnv(process.cwd(), io);
  const guard = guardInterrupts(io.signal);
  const opened: ImageReader[] = [];
  let sharedPw: Uint8Array | undefined;
  try {
    for (const [i, spec] of pos.entries()) {
      let passphrase: Uint8Array | undefined;
      let s: Side = { name: spec, path: spec, format: i === 0 ? fmtA : fmtB };
      try {
        // Each image is opened in turn, as qemu-img does: the first one's error is the one reported.
        if (imageOptsMode) s = imageOpts(spec);
        if (s.keySecret !== undefined) passphrase = await resolvePassphrase({ objects, keySecret: s.keySecret }, env);
        else if (pwFile !== undefined || pwEnv !== undefined || stdinPw) {
          sharedPw ??= await resolvePassphrase(
            {
              objects,
              passphraseFile: pwFile,
              passphraseEnv: pwEnv,
              passphraseStdin: stdinPw,
            },
            env,
          );
          passphrase = sharedPw;
        }
      } catch (e) {
        if (e instanceof SecretError) {
          const m = e.message.startsWith('Could not open') ? e.message : `Could not open '${s.name}': ${e.message}`;
          return fail(m, 2);
        }
        throw e;
      }
      try {
        opened.push(
          await openImage(s.path, {
            io: nodeWriterIO(),
            cwd: process.cwd(),
            format: s.format,
            passphrase,
            allowInsecureAes: allowAes,
            signal: guard.signal,
          }),
        );
      } catch (e) {
        if (isCancellation(e)) throw e;
        const m = errorText(e);
        return fail(m.startsWith('Could not open') ? m : `Could not open '${s.name}': ${m}`, 2);
      }
    }
    const bar = qemuProgress(progress && !quiet, io.out);
    bar.update(0);
    const code = await compareImages(opened[0], opened[1], {
      strict,
      quiet,
      signal: guard.signal,
      progress: progress && !quiet ? bar.update : undefined,
      out: io.out,
    });
    bar.end();
    return code;
  } catch (e) {
    if (e instanceof Stop) return fail(e.message!, e.code);
    if (isCancellation(e)) return guard.exitCode ?? 130;
    throw e;
  } finally {
    guard.dispose();
    for (const r of opened) await r.close().catch(() => undefined);
  }
}
