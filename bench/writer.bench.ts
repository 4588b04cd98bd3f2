// Image writer vs qemu-img 7.2, side by side in one run (bars: anchors.md §D.4, issue 4):
//  - sparse 10G qcow2: ≥ 5× faster (the writer in-process vs the qemu-img process; the CLI
//    process is shown too — Node's start-up alone is ~40 ms);
//  - preallocation=metadata 1 TiB: ≥ 10× faster;
//  - preallocation=full 2 GiB: ≥ 90% of `dd conv=fsync` bandwidth;
//  - peak RSS of the CLI process < 64 MB for any size (/usr/bin/time -f %M);
//  - raw preallocation=full 2 GiB ≤ 1.0× qemu-img's time, with and without a competing writer.
// Outputs are checked against qemu-img's (cmp for small files, `qemu-img map` + `check` for the
// 1 TiB one, whose holes `cmp` would read as a terabyte of zeros). Big files are deleted.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { checkCreate } from '../schemas/qcow2Options';
import { createImage } from '../server/src/writer/create';
import { nodeWriterIO } from '../server/src/writer/nodeIO';

const root = join(__dirname, '..');
const cli = join(root, 'bin', 'libvirt-volume.js');
const dir = fs.mkdtempSync(join(process.env.BENCH_DIR ?? os.tmpdir(), 'lv-bench-'));
const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

function rm(...names: string[]): void {
  for (const n of names) fs.rmSync(join(dir, n), { force: true });
}

/** Wall seconds, CPU seconds (user+sys) and max RSS (KiB) of a child process. */
function proc(cmd: string, args: string[]): { s: number; cpu?: number; rssKb?: number } {
  const t = performance.now();
  const r = TIME
    ? spawnSync(TIME, ['-f', '%M %U %S', cmd, ...args], { cwd: dir, encoding: 'utf8' })
    : spawnSync(cmd, args, { cwd: dir, encoding: 'utf8' });
  const s = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  const m = TIME ? /(\d+) ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr.trim()) : null;
  return { s, rssKb: m ? Number(m[1]) : undefined, cpu: m ? Number(m[2]) + Number(m[3]) : undefined };
}

let lastCpu = 0;
async function ours(args: { size: string; options?: string[] }, name: string): Promise<number> {
  const v = checkCreate({ format: 'qcow2', filename: name, size: args.size, options: args.options });
  if (!v.ok) throw new Error(v.message);
  const c0 = process.cpuUsage();
  const t = performance.now();
  await createImage(v.spec, { io: nodeWriterIO(), cwd: dir });
  const c = process.cpuUsage(c0);
  lastCpu = (c.user + c.system) / 1e6;
  return (performance.now() - t) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function same(a: string, b: string): boolean {
  return spawnSync('cmp', [join(dir, a), join(dir, b)]).status === 0;
}

function mapOf(name: string): string {
  const r = spawnSync('qemu-img', ['map', '--output=json', name], { cwd: dir, encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout;
}

function checkClean(name: string): boolean {
  return spawnSync('qemu-img', ['check', name], { cwd: dir }).status === 0;
}

const ms = (s: number) => `${(s * 1000).toFixed(s < 0.1 ? 1 : 0)} ms`;
const mb = (kb?: number) => (kb === undefined ? 'n/a' : `${(kb / 1024).toFixed(1)} MB`);

async function main(): Promise<void> {
  const rows: string[][] = [];
  const rss: string[][] = [];
  const verdicts: string[] = [];

  // 1. Sparse 10G qcow2.
  const q: number[] = [], o: number[] = [], c: number[] = [];
  let cliRss: number | undefined, qRss: number | undefined;
  // Warm the writer up once (module loading, JIT): a long-lived host such as the language server is warm.
  for (let i = 0; i < 2; i++) { await ours({ size: '10G' }, 'w.qcow2'); rm('w.qcow2'); }
  for (let i = 0; i < 15; i++) {
    const a = proc('qemu-img', ['create', '-q', '-f', 'qcow2', 'q.qcow2', '10G']); q.push(a.s); qRss = a.rssKb;
    o.push(await ours({ size: '10G' }, 'o.qcow2'));
    if (i === 0 && !same('q.qcow2', 'o.qcow2')) throw new Error('sparse 10G: output differs from qemu-img');
    rm('o.qcow2');
    if (i < 5) { const b = proc('node', [cli, 'create', '-q', '-f', 'qcow2', 'c.qcow2', '10G']); c.push(b.s); cliRss = b.rssKb; }
    rm('q.qcow2', 'c.qcow2');
  }
  const sparseRatio = median(q) / median(o);
  rows.push(['sparse qcow2 10G', ms(median(q)), `${ms(median(o))} (CLI process ${ms(median(c))})`, `${sparseRatio.toFixed(1)}×`, '≥ 5×', 'cmp identical']);
  rss.push(['sparse qcow2 10G', mb(qRss), mb(cliRss)]);
  verdicts.push(`sparse ${sparseRatio >= 5 ? 'PASS' : 'FAIL'}`);

  // 2. preallocation=metadata 1 TiB (after one small warm-up run, as in a long-lived server).
  // Both sides wait for the disk (fdatasync of ~160 MiB of L2 tables), so one sample each is
  // noise: three alternating runs, medians compared.
  await ours({ size: '8G', options: ['preallocation=metadata'] }, 'w.qcow2');
  rm('w.qcow2');
  const qms: { s: number; cpu?: number; rssKb?: number }[] = [], oms: number[] = [], omCpus: number[] = [];
  let identical = true;
  for (let i = 0; i < 3; i++) {
    qms.push(proc('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'preallocation=metadata', 'q.qcow2', '1T']));
    oms.push(await ours({ size: '1T', options: ['preallocation=metadata'] }, 'o.qcow2'));
    omCpus.push(lastCpu);
    if (i === 0) identical = mapOf('q.qcow2') === mapOf('o.qcow2') && checkClean('o.qcow2');
    rm('q.qcow2', 'o.qcow2');
  }
  const qm = { s: median(qms.map((x) => x.s)), cpu: median(qms.map((x) => x.cpu ?? NaN)) };
  const om = median(oms), omCpu = median(omCpus);
  const range = (xs: number[]) => `${ms(Math.min(...xs))}–${ms(Math.max(...xs))}`;
  const cm = proc('node', [cli, 'create', '-q', '-f', 'qcow2', '-o', 'preallocation=metadata', 'c.qcow2', '1T']);
  rm('c.qcow2');
  const metaRatio = qm.s / om;
  rows.push(['preallocation=metadata 1 TiB (median of 3)', `${ms(qm.s)} (${range(qms.map((x) => x.s))}; CPU ${ms(qm.cpu)})`, `${ms(om)} (${range(oms)}; CPU ${ms(omCpu)}; CLI process ${ms(cm.s)}, CPU ${ms(cm.cpu ?? NaN)})`, `${metaRatio.toFixed(1)}× (CPU ${(qm.cpu / omCpu).toFixed(1)}×)`, '≥ 10×', identical ? 'same qemu-img map, check clean' : '**MAP DIFFERS**']);
  rss.push(['preallocation=metadata 1 TiB', mb(Math.max(...qms.map((x) => x.rssKb ?? 0)) || undefined), mb(cm.rssKb)]);
  verdicts.push(`metadata ${metaRatio >= 10 && identical ? 'PASS' : 'FAIL'}`);

  // 3. preallocation=full 2 GiB vs dd conv=fsync.
  const bytes = 2 ** 31;
  const dd = proc('dd', ['if=/dev/zero', 'of=dd.img', 'bs=1M', 'count=2048', 'conv=fsync', 'status=none']);
  rm('dd.img');
  const of = await ours({ size: '2G', options: ['preallocation=full'] }, 'o.qcow2');
  rm('o.qcow2');
  const qf = proc('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'preallocation=full', 'q.qcow2', '2G']);
  rm('q.qcow2');
  const cf = proc('node', [cli, 'create', '-q', '-f', 'qcow2', '-o', 'preallocation=full', 'c.qcow2', '2G']);
  rm('c.qcow2');
  const dd2 = proc('dd', ['if=/dev/zero', 'of=dd.img', 'bs=1M', 'count=2048', 'conv=fsync', 'status=none']);
  rm('dd.img');
  const ddBw = bytes / Math.min(dd.s, dd2.s);
  const ourBw = bytes / of;
  const bwRatio = ourBw / ddBw;
  const gbs = (b: number) => `${(b / 1e9).toFixed(2)} GB/s`;
  rows.push(['preallocation=full 2 GiB', `${ms(qf.s)} (${gbs(bytes / qf.s)})`, `${ms(of)} (${gbs(ourBw)})`, `${(bwRatio * 100).toFixed(0)}% of dd (${gbs(ddBw)})`, '≥ 90% of dd', 'qcow2 + 2 GiB zeros']);
  rss.push(['preallocation=full 2 GiB', mb(qf.rssKb), mb(cf.rssKb)]);
  verdicts.push(`full ${bwRatio >= 0.9 ? 'PASS' : 'FAIL'}`);

  // 4. Raw preallocation=full 2 GiB, `libvirt-volume create` against `qemu-img create` (issue 15):
  // three interleaved runs each, on an otherwise idle disk and with a competing writer (a loop of
  // 256 MiB `dd conv=fsync`), where device cache flushes are slow. Bar: ≤ 1.0× qemu-img's time.
  for (const compete of [false, true]) {
    const rival = compete
      ? spawn('bash', ['-c', 'while :; do dd if=/dev/zero of=rival.bin bs=1M count=256 conv=fsync status=none; done'], { cwd: dir, detached: true, stdio: 'ignore' })
      : undefined;
    const qs: number[] = [], cs: number[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        qs.push(proc('qemu-img', ['create', '-q', '-f', 'raw', '-o', 'preallocation=full', 'q.img', '2G']).s);
        rm('q.img');
        cs.push(proc('node', [cli, 'create', '-q', '-f', 'raw', '-o', 'preallocation=full', 'c.img', '2G']).s);
        rm('c.img');
      }
    } finally {
      if (rival?.pid) { try { process.kill(-rival.pid, 'SIGTERM'); } catch { /* gone */ } }
      rm('rival.bin');
    }
    const ratio = median(cs) / median(qs);
    const name = `raw preallocation=full 2 GiB, ${compete ? 'with' : 'without'} a competing writer (median of 3)`;
    rows.push([name, `${ms(median(qs))} (${range(qs)})`, `CLI process ${ms(median(cs))} (${range(cs)})`, `${ratio.toFixed(2)}× qemu-img's time`, '≤ 1.0×', 'raw zeros']);
    verdicts.push(`raw full ${compete ? 'contended' : 'idle'} ${ratio <= 1.0 ? 'PASS' : 'FAIL'}`);
  }

  const maxRss = Math.max(...[cliRss, cm.rssKb, cf.rssKb].map((x) => x ?? 0));
  verdicts.push(`rss ${maxRss > 0 && maxRss < 64 * 1024 ? 'PASS' : maxRss === 0 ? 'n/a' : 'FAIL'}`);

  console.log('| case | qemu-img 7.2 | writer (in-process; CLI process) | ratio | bar | output |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log('\n| case | qemu-img max RSS | `libvirt-volume create` max RSS (bar < 64 MB) |');
  console.log('|---|---|---|');
  for (const r of rss) console.log(`| ${r.join(' | ')} |`);
  console.log(`\nload average at the end: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} (${os.cpus().length} CPUs); ${verdicts.join(', ')}`);
}

main().catch((e) => { console.error(e); process.exitCode = 1; }).finally(() => fs.rmSync(dir, { recursive: true, force: true }));
