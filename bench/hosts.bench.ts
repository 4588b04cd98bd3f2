// Libvirt hosts (issue 11), side by side with virsh alone, in one run:
//  - a 10 GiB qcow2 created in a pool: `libvirt-volume create X.xml --connect URI --pool p` (the
//    CLI process) and the server's libvirtVolume.createVolume {pool} against `virsh vol-create p
//    X.xml` with the same XML; bar: overhead ≤ 0.3 s (medians of alternating runs);
//  - a 1 GiB upload over qemu+ssh: our path (pool queries, then placeholder vol-create-as,
//    vol-upload --sparse and pool-refresh on one connection: host/createInPool.ts) against
//    `virsh vol-upload` of the same file into an existing volume; bar: ≥ 0.9× its throughput,
//    for the transfer alone and end to end.
// It starts what it needs through the test harness: the session libvirtd of
// test/oracle/libvirt.ts and the sshd of test/oracle/hostSsh.ts (root only; skipped otherwise).
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createInPool } from '../server/src/host/createInPool';
import { SessionLibvirt } from '../test/oracle/libvirt';
import { SSH_SKIP, startSshHost, type SshHost } from '../test/oracle/hostSsh';
import { TestClient } from '../test/helpers/lspClient';

const root = join(__dirname, '..');
const cli = join(root, 'bin', 'libvirt-volume.js');
const dir = fs.mkdtempSync(join(process.env.BENCH_DIR ?? os.tmpdir(), 'lv-bench-hosts-'));
const GiB = 2 ** 30;
const RUNS = Number(process.env.BENCH_HOST_RUNS ?? 7);

const TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
/** CPU seconds (user + sys) of the last timed() process and the children it waited for. */
let lastCpu = NaN;

/** Wall seconds of a child process (rejects on a non-zero status); its CPU time in lastCpu. */
function timed(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const argv = TIME ? ['-f', 'cpu %U %S', cmd, ...args] : args;
    const p = spawn(TIME ?? cmd, argv, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (b) => (err += b));
    p.on('error', reject);
    p.on('close', (code) => {
      const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(err);
      lastCpu = m ? Number(m[1]) + Number(m[2]) : NaN;
      if (code === 0) resolve((performance.now() - t) / 1000);
      else reject(new Error(`${cmd} ${args.join(' ')}: ${err}`));
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
const range = (xs: number[]) => `${ms(Math.min(...xs))}–${ms(Math.max(...xs))}`;
const mbs = (bytes: number, s: number) => `${(bytes / s / 1e6).toFixed(0)} MB/s`;

async function must(s: SessionLibvirt, args: string[]): Promise<string> {
  const r = await s.virshRun(args, 600_000);
  if (r.code !== 0) throw new Error(`virsh ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function main(): Promise<void> {
  const rows: string[][] = [];
  const verdicts: string[] = [];
  const s = await SessionLibvirt.start();
  let ssh: SshHost | undefined;
  let lsp: TestClient | undefined;
  try {
    // 1. A 10 GiB qcow2 into pool p: the same XML for all three; each run's volume is deleted (untimed).
    const xml = join(dir, 'big.xml');
    fs.writeFileSync(xml, "<volume><name>big.qcow2</name><capacity unit='G'>10</capacity><target><format type='qcow2'/></target></volume>\n");
    lsp = new TestClient();
    await lsp.initialize();
    const viaServer = async (): Promise<number> => {
      const t = performance.now();
      await lsp!.request('workspace/executeCommand', {
        command: 'libvirtVolume.createVolume', arguments: [{ uri: pathToFileURL(xml).href, pool: 'p', connection: s.uri }],
      });
      return (performance.now() - t) / 1000;
    };
    const sides = {
      virsh: () => timed('virsh', ['-q', '-c', s.uri, 'vol-create', 'p', xml]),
      cli: () => timed(process.execPath, [cli, 'create', '-q', xml, '--connect', s.uri, '--pool', 'p']),
      server: viaServer,
    };
    const t: Record<keyof typeof sides, number[]> = { virsh: [], cli: [], server: [] };
    const cpu: Record<'virsh' | 'cli', number[]> = { virsh: [], cli: [] };
    const order = Object.keys(sides) as (keyof typeof sides)[];
    // One warm-up of each (daemon caches, the server's first validation), not counted.
    for (let i = -1; i < RUNS; i++) {
      for (let k = 0; k < order.length; k++) {
        const side = order[(i + 3 + k) % order.length]; // alternate who goes first
        const secs = await sides[side]();
        if (i >= 0) t[side].push(secs);
        if (i >= 0 && side !== 'server') cpu[side].push(lastCpu);
        if (i === 0 && side === 'cli') {
          const d = await must(s, ['vol-dumpxml', '--pool', 'p', 'big.qcow2']);
          if (!/<capacity unit='bytes'>10737418240<\/capacity>/.test(d) || !/<format type='qcow2'\/>/.test(d)) throw new Error(`not a 10 GiB qcow2: ${d}`);
        }
        await must(s, ['vol-delete', '--pool', 'p', 'big.qcow2']);
      }
    }
    for (const side of ['cli', 'server'] as const) {
      const over = median(t[side]) - median(t.virsh);
      const what = side === 'cli'
        ? `\`create --connect --pool\` (CLI process; CPU ${ms(median(cpu.cli))} vs virsh's ${ms(median(cpu.virsh))})`
        : 'server `createVolume {pool}`';
      rows.push([`10 GiB qcow2 into a pool, ${what}; median of ${RUNS}`, `${ms(median(t.virsh))} (${range(t.virsh)})`,
        `${ms(median(t[side]))} (${range(t[side])})`, `+${ms(over)}`, '≤ +300 ms']);
      verdicts.push(`create ${side} ${over <= 0.3 ? 'PASS' : 'FAIL'}`);
    }

    // 2. 1 GiB of random data (no holes: every byte travels) over qemu+ssh into pool p2.
    if (SSH_SKIP) {
      rows.push(['1 GiB upload over ssh', 'skipped', SSH_SKIP, '', '≥ 0.9×']);
    } else {
      ssh = await startSshHost(s);
      const image = join(dir, 'data.img');
      const fd = fs.openSync(image, 'w');
      const chunk = Buffer.alloc(8 << 20);
      for (let off = 0; off < GiB; off += chunk.length) fs.writeSync(fd, randomFillSync(chunk), 0, chunk.length, off);
      fs.closeSync(fd);
      const uri = ssh.uri;
      // The transfer alone: from our "uploading" note to our "uploaded" note (the vol-upload child
      // host/virsh.ts runs); end to end: the whole createInPool (pool queries, placeholder, refresh).
      let transfer = 0;
      const ourUpload = async (): Promise<number> => {
        const t0 = performance.now();
        let up = 0;
        const note = (l: string): void => {
          if (l.startsWith('uploading ')) up = performance.now();
          if (l.startsWith('uploaded ')) transfer = (performance.now() - up) / 1000;
        };
        await createInPool({
          conn: { uri }, pool: 'p2', force: false, uploadBecause: 'the bench times the upload', note,
          xmlText: `<volume><name>up.img</name><capacity unit='bytes'>${GiB}</capacity><target><format type='raw'/></target></volume>`,
          writeLocal: async (_x, output) => fs.linkSync(image, output),
        });
        return (performance.now() - t0) / 1000;
      };
      const virshUpload = async (): Promise<number> => {
        await must(s, ['vol-create-as', 'p2', 'up.img', String(GiB), '--format', 'raw']);
        return timed('virsh', ['-q', '-c', uri, 'vol-upload', '--pool', 'p2', 'up.img', image]);
      };
      const us: number[] = [], vs: number[] = [], ts: number[] = [];
      const n = Math.max(3, Math.min(RUNS, 5));
      for (let i = 0; i < n; i++) {
        for (const side of i % 2 ? ['ours', 'virsh'] : ['virsh', 'ours']) {
          if (side === 'ours') {
            us.push(await ourUpload());
            ts.push(transfer);
          }
          else vs.push(await virshUpload());
          if (i === 0) {
            const path = /<path>([^<]+)<\/path>/.exec(await must(s, ['vol-dumpxml', '--pool', 'p2', 'up.img']))![1];
            const same = await new Promise<boolean>((r) => spawn('cmp', ['-s', image, path]).on('close', (c) => r(c === 0)));
            if (!same) throw new Error(`${side}: the uploaded volume differs from the file`);
          }
          await must(s, ['vol-delete', '--pool', 'p2', 'up.img']);
        }
      }
      const ratio = median(vs) / median(ts);
      const whole = median(vs) / median(us);
      const theirs = `vol-upload ${ms(median(vs))} (${range(vs)}; ${mbs(GiB, median(vs))})`;
      rows.push([`1 GiB (random data) over qemu+ssh, the transfer (our vol-upload --sparse); median of ${n}`, theirs,
        `${ms(median(ts))} (${range(ts)}; ${mbs(GiB, median(ts))})`, `${ratio.toFixed(2)}× its throughput`, '≥ 0.9×']);
      rows.push([`the same, end to end (pool queries, placeholder vol-create, upload, pool-refresh)`, theirs,
        `${ms(median(us))} (${range(us)}; ${mbs(GiB, median(us))})`, `${whole.toFixed(2)}× its throughput`,
        '≥ 0.9× (one more ssh login: the pool queries)']);
      verdicts.push(`upload transfer ${ratio >= 0.9 ? 'PASS' : 'FAIL'}`, `upload end to end ${whole >= 0.9 ? 'PASS' : 'FAIL'}`);
      // What each extra virsh call costs here: an ssh login and a libvirt connection.
      const logins: number[] = [];
      for (let i = 0; i < 3; i++) logins.push(await timed('virsh', ['-q', '-c', uri, 'pool-list', '--name']));
      rows.push(['one virsh call over qemu+ssh (`pool-list --name`); median of 3', ms(median(logins)), '', '', '']);
    }
  } finally {
    await lsp?.dispose();
    await ssh?.stop();
    await s.stop();
  }
  console.log('| case | virsh alone | ours | difference | bar |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(`\nload average at the end: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} (${os.cpus().length} CPUs); ${verdicts.join(', ')}`);
}

main().catch((e) => { console.error(e); process.exitCode = 1; }).finally(() => fs.rmSync(dir, { recursive: true, force: true }));
