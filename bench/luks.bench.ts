// LUKS creation at the default iter-time (2000 ms): this project's writer vs qemu-img 7.2, whole
// process wall time (node startup included) and the PBKDF2 iteration counts each put in the
// header (read back with `qemu-img info`). Our side is the user's command, `libvirt-volume create
// -f luks` through bin/libvirt-volume.js and the dist/cli.js bundle (`npm run bench` builds it).
// Passphrases travel through a file (secret file=), never argv.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..');
const dir = fs.mkdtempSync(join(os.tmpdir(), 'luks-bench-'));
const REPS = Number(process.env.LUKS_BENCH_REPS ?? 3);

try {
  const pw = join(dir, 'pw');
  fs.writeFileSync(pw, 'benchmark passphrase');
  const cli = join(root, 'bin', 'libvirt-volume.js');
  // Node's own start-up in this environment (NODE_EXTRA_CA_CERTS, for one, makes it parse a CA
  // bundle before any script runs): part of our wall time that no code of ours can remove.
  const starts: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '0']);
    starts.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  starts.sort((a, b) => a - b);

const configs: { label: string; o: string }[] = [
    { label: 'aes-256-xts-plain64, sha256 (defaults)', o: '' },
    { label: 'aes-256-xts-plain64, hash-alg=sha512', o: ',hash-alg=sha512' },
    { label: 'twofish-256-cbc-essiv, sha256', o: ',cipher-alg=twofish-256,cipher-mode=cbc,ivgen-alg=essiv' },
  ];
  const tools = {
    'qemu-img 7.2': (img: string, o: string) => ['qemu-img', ['create', '-q', '-f', 'luks', '--object', `secret,id=s0,file=${pw}`, '-o', `key-secret=s0${o}`, img, '1G']] as const,
    'libvirt-volume': (img: string, o: string) => [process.execPath, [cli, 'create', '-f', 'luks', '--object', `secret,id=s0,file=${pw}`, '-o', `key-secret=s0${o}`, img, '1G']] as const,
  };

  const rows: string[] = [];
  for (const c of configs) {
    for (const [tool, cmd] of Object.entries(tools)) {
      const walls: number[] = [];
      const cpus: number[] = [];
      let iters = '';
      const derives: number[] = [];
      for (let i = 0; i < REPS; i++) {
        const img = join(dir, 'b.luks');
        fs.rmSync(img, { force: true });
        const [bin, args] = cmd(img, c.o);
        const t0 = process.hrtime.bigint();
        // /usr/bin/time adds the process's CPU time (user + sys), which a loaded machine does not inflate.
        const r = spawnSync('/usr/bin/time', ['-f', 'CPU %U %S', bin, ...args], { encoding: 'utf8' });
        walls.push(Number(process.hrtime.bigint() - t0) / 1e9);
        if (r.status !== 0) throw new Error(`${tool}: ${r.stderr}`);
        const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
        if (m) cpus.push(Number(m[1]) + Number(m[2]));
        // Ours prints the counts achieved and how long the slot key took (the time iter-time asks for).
        const d = /derived in (\d+) ms/.exec(r.stdout);
        if (d) derives.push(Number(d[1]));
        const info = JSON.parse(spawnSync('qemu-img', ['info', '--output=json', img], { encoding: 'utf8' }).stdout)['format-specific'].data;
        iters = `${info.slots[0].iters} / ${info['master-key-iters']}`;
      }
      walls.sort((a, b) => a - b);
      cpus.sort((a, b) => a - b);
      const cpu = cpus.length ? `${cpus[Math.floor(cpus.length / 2)].toFixed(2)} s` : 'n/a';
      derives.sort((a, b) => a - b);
      const derive = derives.length ? `${derives[Math.floor(derives.length / 2)]} ms (${derives[0]}–${derives[derives.length - 1]})` : 'not printed';
      rows.push(`| ${c.label} | ${tool} | ${walls[Math.floor(walls.length / 2)].toFixed(2)} s | ${walls[0].toFixed(2)}–${walls[walls.length - 1].toFixed(2)} s | ${cpu} | ${iters} | ${derive} |`);
    }
  }
  console.log(`LUKS create, 1 GiB, iter-time 2000 ms (default); ${REPS} runs each, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(2)}; ` +
    `\`node -e 0\` alone takes ${starts[2].toFixed(0)} ms here${process.env.NODE_EXTRA_CA_CERTS ? ' (NODE_EXTRA_CA_CERTS is set)' : ''}\n`);
  console.log('| options | tool | wall (median) | wall range | CPU user+sys (median) | slot 0 / master-key iterations (last run) | key derivation (median, range) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
  console.log('\nIterations: each tool counts how many PBKDF2 iterations its own implementation runs in iter-time' +
    ' (qemu: nettle, timed twice for ≥ 500 ms CPU each; libvirt-volume: OpenSSL via node:crypto, timed in three ~10 ms runs by min(wall, process CPU), median taken, ' +
    'master-key digest and slot key derived concurrently). Both follow qemu\'s split: slot = rate × iter-time, master key = rate × iter-time / 8.');
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
