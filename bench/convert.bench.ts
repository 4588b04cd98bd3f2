// Conversion (issue 13 Figures): `create VOLUME.xml --from INPUT` (volumeImage.ts writeVolumeImageFrom:
// the image reader and writer/convert.ts) vs `qemu-img convert`, side by side in one run:
//  - 1 GiB raw with half its 64 KiB blocks zero → qcow2, → luks, → qcow2+luks (qemu-img first; its
//    PBKDF2 iteration counts, read from its header, are given to ours: the same key derivation work);
//  - a zlib-compressed 1 GiB qcow2 → raw;
//  - a 3-deep qcow2 chain → one flattened qcow2.
// Bars: our time ≤ 1.0× qemu-img's; our peak RSS < 128 MB. Our side runs as its own process (this
// file bundled by esbuild, so no TypeScript loader inflates the RSS; Node's start-up is counted),
// measured like qemu-img's with /usr/bin/time. Every output is checked with `qemu-img compare`
// against qemu-img's. Files are deleted at the end.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { writeVolumeImageFrom } from '../server/src/volumeImage';
import { probeImage } from '../server/src/writer/probe';
import { nodeProbeIO } from '../server/src/writer/nodeIO';

const GiB = 2 ** 30;
const BLOCK = 64 * 1024;
const PASSPHRASE = 'bench-pw';
const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

interface ChildJob {
  xml: string;
  from: string;
  output: string;
  passphrase?: string;
  iterations?: { masterKey: number; slot: number };
  /** `--prealloc-metadata` (a qcow2 volume: qemu-img convert -o preallocation=metadata). */
  preallocMetadata?: boolean;
}

/** Child mode: one conversion, as `create VOLUME.xml --from INPUT` runs it. */
async function child(job: ChildJob): Promise<void> {
  await writeVolumeImageFrom(
    {
      xmlText: job.xml,
      from: job.from,
      output: job.output,
      force: false,
      passphrase: job.passphrase,
      luksIterations: job.iterations,
      preallocMetadata: job.preallocMetadata,
    },
    { progress: () => undefined, signal: new AbortController().signal },
  );
}

/** Wall seconds and max RSS (KiB) of a child process; qemu's PBKDF benchmark flake is retried. */
function proc(cmd: string, args: string[], cwd: string): { s: number; rssKb?: number } {
  for (let attempt = 0; ; attempt++) {
    const t = performance.now();
    const r = TIME
      ? spawnSync(TIME, ['-f', '%M', cmd, ...args], { cwd, encoding: 'utf8' })
      : spawnSync(cmd, args, { cwd, encoding: 'utf8' });
    const s = (performance.now() - t) / 1000;
    if (r.status !== 0) {
      if (/Unable to get accurate CPU usage/.test(r.stderr) && attempt < 5) continue;
      throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
    }
    const m = TIME ? /(\d+)\s*$/.exec(r.stderr.trim()) : null;
    return { s, rssKb: m ? Number(m[1]) : undefined };
  }
}

function qemuImg(args: string[], cwd: string): void {
  const r = spawnSync('qemu-img', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`qemu-img ${args.join(' ')}: ${r.stderr}`);
}

const volume = (name: string, target: string) =>
  `<volume><name>${name}</name><target>${target}</target></volume>`;
const LUKS = "<encryption format='luks'><secret type='passphrase' uuid='c1a2e3b4-0000-4000-8000-000000000001'/></encryption>";

/**
 * 1 GiB raw: 64 KiB blocks alternately data and zeros (zeros written, not holes). The data is random
 * (incompressible), or with `compressible` random over 16 letters: deflate halves it, so `qemu-img
 * convert -c` stores real compressed clusters (random data would be stored uncompressed).
 */
function makeHalfZeroRaw(path: string, compressible = false): void {
  const fd = fs.openSync(path, 'w');
  const zero = Buffer.alloc(BLOCK);
  const chunk = 16 * 2 ** 20;
  for (let off = 0; off < GiB; off += chunk) {
    const buf = randomBytes(chunk);
    if (compressible) for (let i = 0; i < chunk; i++) buf[i] = 0x61 + (buf[i] & 0x0f);
    for (let b = BLOCK; b < chunk; b += 2 * BLOCK) zero.copy(buf, b);
    fs.writeSync(fd, buf, 0, chunk, off);
  }
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

/** `qemu-img compare` of two outputs; encrypted ones opened with the passphrase. */
function identical(a: string, b: string, cwd: string): boolean {
  const side = (p: string) => {
    const f = probeImage(nodeProbeIO(), join(cwd, p));
    if (f.format === 'luks') return `driver=luks,key-secret=s0,file.filename=${p}`;
    if (f.encrypted) return `driver=qcow2,encrypt.key-secret=s0,file.filename=${p}`;
    return `driver=${f.format},file.filename=${p}`;
  };
  const r = spawnSync(
    'qemu-img',
    ['compare', '--object', `secret,id=s0,file=pw`, '--image-opts', side(a), side(b)],
    { cwd, encoding: 'utf8' },
  );
  return r.status === 0;
}

const sec = (s: number) => `${s.toFixed(2)} s`;
const mb = (kb?: number) => (kb === undefined ? 'n/a' : `${(kb / 1024).toFixed(1)} MB`);

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(join(process.env.BENCH_DIR ?? os.tmpdir(), 'lv-bench-convert-'));
  try {
    // BENCH_CONVERT=zstd: only the `convert -c -o compression_type=zstd` rows (zstdRows below).
    if (process.env.BENCH_CONVERT === 'zstd') {
      await zstdRows(dir);
      return;
    }
    // This file as one plain JavaScript bundle for the child processes.
    const esbuild = require('esbuild') as typeof import('esbuild');
    const runner = join(dir, 'runner.js');
    esbuild.buildSync({ entryPoints: [__filename], bundle: true, platform: 'node', target: 'node20', outfile: runner, logLevel: 'error' });
    fs.writeFileSync(join(dir, 'pw'), PASSPHRASE, { mode: 0o600 });

    const t0 = performance.now();
    makeHalfZeroRaw(join(dir, 'in.raw'));
    makeHalfZeroRaw(join(dir, 'text.raw'), true);
    qemuImg(['convert', '-c', '-f', 'raw', '-O', 'qcow2', 'text.raw', 'comp.qcow2'], dir);
    fs.rmSync(join(dir, 'text.raw'));
    const chk = spawnSync('qemu-img', ['check', 'comp.qcow2'], { cwd: dir, encoding: 'utf8' }).stdout;
    const compressed = /([\d.]+)% compressed clusters/.exec(chk)?.[1];
    if (!compressed || Number(compressed) < 99) throw new Error(`comp.qcow2 is not compressed: ${chk}`);
    // The chain: base = the raw input; mid and top each overwrite 128 MiB of it.
    qemuImg(['convert', '-f', 'raw', '-O', 'qcow2', 'in.raw', 'base.qcow2'], dir);
    qemuImg(['create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', 'mid.qcow2'], dir);
    qemuImg(['create', '-q', '-f', 'qcow2', '-b', 'mid.qcow2', '-F', 'qcow2', 'top.qcow2'], dir);
    for (const [img, cmd] of [['mid.qcow2', 'write -P 0x33 256M 128M'], ['top.qcow2', 'write -P 0x77 320M 128M']]) {
      const r = spawnSync('qemu-io', ['-f', 'qcow2', '-c', cmd, img], { cwd: dir, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(r.stderr);
    }
    console.log(`inputs made in ${sec((performance.now() - t0) / 1000)}`);

    const secret = ['--object', 'secret,id=s0,file=pw'];
    const cases: { name: string; input: string; qemu: string[]; target: string; luks?: boolean; prealloc?: boolean }[] = [
      { name: '1 GiB raw (half zero) → qcow2', input: 'in.raw', qemu: ['-f', 'raw', '-O', 'qcow2', '-o', 'compat=1.1'],
        target: "<format type='qcow2'/><compat>1.1</compat>" },
      { name: '1 GiB raw (half zero) → luks', input: 'in.raw', qemu: [...secret, '-f', 'raw', '-O', 'luks', '-o', 'key-secret=s0'],
        target: "<format type='raw'/>" + LUKS, luks: true },
      { name: '1 GiB raw (half zero) → qcow2+luks', input: 'in.raw',
        qemu: [...secret, '-f', 'raw', '-O', 'qcow2', '-o', 'encrypt.format=luks,encrypt.key-secret=s0,compat=1.1'],
        target: "<format type='qcow2'/><compat>1.1</compat>" + LUKS, luks: true },
      { name: 'zlib-compressed 1 GiB qcow2 → raw', input: 'comp.qcow2', qemu: ['-f', 'qcow2', '-O', 'raw'], target: "<format type='raw'/>" },
      { name: '3-deep qcow2 chain → flat qcow2', input: 'top.qcow2', qemu: ['-f', 'qcow2', '-O', 'qcow2', '-o', 'compat=1.1'],
        target: "<format type='qcow2'/><compat>1.1</compat>" },
      { name: '1 GiB raw (half zero) → qcow2 preallocation=metadata', input: 'in.raw',
        qemu: ['-f', 'raw', '-O', 'qcow2', '-o', 'preallocation=metadata,compat=1.1'],
        target: "<format type='qcow2'/><compat>1.1</compat>", prealloc: true },
    ];
    const rows: string[][] = [];
    const verdicts: string[] = [];
    for (const [i, c] of cases.entries()) {
      const q = proc('qemu-img', ['convert', ...c.qemu, c.input, `q${i}`], dir);
      let iterations: ChildJob['iterations'];
      // qemu-img's own counts (its benchmark for its default iter-time) for our derivation.
      if (c.luks) iterations = luksIterations(join(dir, `q${i}`));
      const job: ChildJob = {
        xml: volume(`o${i}`, c.target),
        from: join(dir, c.input),
        output: join(dir, `o${i}`),
        passphrase: c.luks ? PASSPHRASE : undefined,
        iterations,
        preallocMetadata: c.prealloc,
      };
      const o = proc(process.execPath, [runner, '--child', JSON.stringify(job)], dir);
      const same = identical(`q${i}`, `o${i}`, dir);
      const ratio = o.s / q.s;
      const rssOk = (o.rssKb ?? Infinity) < 128 * 1024;
      rows.push([c.name, sec(q.s), sec(o.s), `${ratio.toFixed(2)}×`, mb(q.rssKb), mb(o.rssKb),
        `${same ? 'identical' : '**DIFFERS**'}${iterations ? `; PBKDF2 ${iterations.masterKey}/${iterations.slot} iterations both` : ''}`]);
      verdicts.push(`${c.name}: ${ratio <= 1 && rssOk && same ? 'PASS' : 'FAIL'}`);
      fs.rmSync(join(dir, `q${i}`), { force: true });
      fs.rmSync(join(dir, `o${i}`), { force: true });
    }
    console.log('| case | qemu-img convert | create --from (ours) | ours/qemu | qemu-img RSS | our RSS | check |');
    console.log('|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
    console.log(`\nbars: time ≤ 1.0× qemu-img, peak RSS < 128 MB; machine: ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(2)}`);
    for (const v of verdicts) console.log(v);
    await zstdRows(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU seconds (user + sys), wall seconds and peak RSS (KiB) of a child process, from /usr/bin/time. */
function timed(cmd: string, args: string[], cwd: string): { wall: number; cpu: number; rssKb: number } {
  if (!TIME) throw new Error('/usr/bin/time is needed for CPU time');
  const t = performance.now();
  const r = spawnSync(TIME, ['-f', '%U %S %M', cmd, ...args], { cwd, encoding: 'utf8' });
  const wall = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  const [u, sy, m] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { wall, cpu: u + sy, rssKb: m };
}

/**
 * 64 KiB blocks in turn: text (words of a small vocabulary: zstd shrinks it several times), random
 * letters of 16 (about half), random bytes (stored uncompressed: it does not fit in a cluster)
 * and zeros (not written by -c).
 */
function makeMixedRaw(path: string, size: number): void {
  const fd = fs.openSync(path, 'w');
  const chunk = 16 * 2 ** 20;
  const words = ['volume ', 'pool ', 'qcow2 ', 'cluster ', 'the ', 'secret ', 'image ', 'backing ', 'guest ', 'host\n'];
  for (let off = 0; off < size; off += chunk) {
    const buf = randomBytes(chunk);
    for (let b = 0; b < chunk; b += BLOCK) {
      const kind = (off + b) / BLOCK % 4;
      if (kind === 0) {
        for (let p = b; p < b + BLOCK; ) p += buf.write(words[buf[p] % words.length], p, Math.min(8, b + BLOCK - p), 'latin1');
      } else if (kind === 1) for (let i = b; i < b + BLOCK; i++) buf[i] = 0x61 + (buf[i] & 0x0f);
      else if (kind === 3) buf.fill(0, b, b + BLOCK);
    }
    fs.writeSync(fd, buf, 0, Math.min(chunk, size - off), off);
  }
  fs.closeSync(fd);
}

/**
 * `libvirt-volume convert -c -O qcow2 -o compression_type=zstd` (the CLI bundle, its WebAssembly
 * zstd) vs `qemu-img convert` with the same arguments: 512 MiB of mixed data, three rounds
 * alternating the tools, medians of wall and CPU time (user + sys: the figure to compare on a
 * loaded machine), peak RSS (bar < 128 MB). Outputs compared with `qemu-img compare`, their
 * compressed cluster counts from `qemu-img check`.
 */
async function zstdRows(dir: string): Promise<void> {
  const cli = join(__dirname, '..', 'bin', 'libvirt-volume.js');
  const size = Number(process.env.BENCH_ZSTD_MIB ?? 512) * 2 ** 20;
  makeMixedRaw(join(dir, 'mixed.raw'), size);
  const args = ['-c', '-f', 'raw', '-O', 'qcow2', '-o', 'compression_type=zstd', 'mixed.raw'];
  const q: ReturnType<typeof timed>[] = [],
    o: ReturnType<typeof timed>[] = [];
  const load: number[] = [];
  for (let round = 0; round < 3; round++) {
    for (const f of ['q.qcow2', 'o.qcow2']) fs.rmSync(join(dir, f), { force: true });
    load.push(os.loadavg()[0]);
    q.push(timed('qemu-img', ['convert', ...args, 'q.qcow2'], dir));
    o.push(timed(process.execPath, [cli, 'convert', ...args, 'o.qcow2'], dir));
  }
  const same = spawnSync('qemu-img', ['compare', 'q.qcow2', 'o.qcow2'], { cwd: dir }).status === 0;
  const counts = (f: string) => {
    const j = JSON.parse(spawnSync('qemu-img', ['check', '--output=json', f], { cwd: dir, encoding: 'utf8' }).stdout);
    return `${j['compressed-clusters'] ?? 0}/${j['allocated-clusters']}`;
  };
  const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  const mib = size / 2 ** 20;
  console.log(`\n| ${mib} MiB mixed raw → qcow2 -c zstd | qemu-img convert | libvirt-volume convert | ours/qemu |`);
  console.log('|---|---|---|---|');
  const row = (name: string, a: number, b: number, unit: (x: number) => string) =>
    console.log(`| ${name} | ${unit(a)} | ${unit(b)} | ${(b / a).toFixed(2)}× |`);
  row('wall (median of 3)', med(q.map((x) => x.wall)), med(o.map((x) => x.wall)), sec);
  row('CPU user+sys (median of 3)', med(q.map((x) => x.cpu)), med(o.map((x) => x.cpu)), sec);
  row('peak RSS (max of 3)', Math.max(...q.map((x) => x.rssKb)), Math.max(...o.map((x) => x.rssKb)), mb);
  console.log(`| compressed/allocated clusters | ${counts('q.qcow2')} | ${counts('o.qcow2')} | |`);
  console.log(`| output size | ${fs.statSync(join(dir, 'q.qcow2')).size} | ${fs.statSync(join(dir, 'o.qcow2')).size} | |`);
  const rssOk = Math.max(...o.map((x) => x.rssKb)) < 128 * 1024;
  console.log(`\nload average at each round: ${load.map((l) => l.toFixed(1)).join(', ')}; outputs ${same ? 'identical' : '**DIFFER**'}`);
  console.log(`zstd -c: ${rssOk && same ? 'PASS' : 'FAIL'} (bar: peak RSS < 128 MB, output identical; times reported)`);
}

/** Master key and key slot 0 iteration counts of a LUKS image (raw or inside qcow2), from qemu-img info. */
function luksIterations(path: string): ChildJob['iterations'] {
  const r = spawnSync('qemu-img', ['info', '--output=json', path], { encoding: 'utf8' });
  const data = (JSON.parse(r.stdout) as { 'format-specific': { data: { encrypt?: unknown } } })['format-specific'].data;
  const l = (data.encrypt ?? data) as { 'master-key-iters': number; slots: { iters?: number }[] };
  return { masterKey: l['master-key-iters'], slot: l.slots[0].iters! };
}

if (process.argv[2] === '--child') {
  child(JSON.parse(process.argv[3]) as ChildJob).catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
} else {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
