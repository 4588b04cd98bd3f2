// The shared oracle helper (test/helpers/oracle.ts, core in flakeRetry.cjs): qemu's PBKDF benchmark
// flake is retried a bounded number of times and never read as a verdict; nothing else is retried.
// The flake is made deterministic with a fake command that fails with qemu-img's exact message a set
// number of times; a real qemu-img refusal shows that a verdict passes through after one run. The
// session libvirtd's PATH wrapper is the same core and is checked the same way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { FLAKE_MESSAGE, FLAKE_TRIES, installQemuImgWrapper, qemuImg, runOracle, runOracleAsync } from '../helpers/oracle';

const root = join(__dirname, '..', '..');
let dir: string;
let fake: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lv-flake-'));
  fake = join(dir, 'fake-qemu-img');
  // Counts its runs in $COUNTER; prints a Formatting line every run (as qemu-img does before failing),
  // fails with the benchmark message on the first $FLAKES runs, then refuses with $REFUSE or succeeds.
  writeFileSync(fake, `#!/bin/bash
n=$(( $(cat "$COUNTER" 2>/dev/null || echo 0) + 1 )); echo $n > "$COUNTER"
echo "Formatting 'x.luks', fmt=luks run $n args $*"
if [ "$n" -le "\${FLAKES:-0}" ]; then echo "qemu-img: x.luks: ${FLAKE_MESSAGE}" >&2; exit 1; fi
if [ -n "$REFUSE" ]; then echo "qemu-img: x.luks: $REFUSE" >&2; exit 1; fi
exit 0
`, { mode: 0o755 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

let seq = 0;
function env(flakes: number, refuse = ''): { env: NodeJS.ProcessEnv; runs: () => number } {
  const counter = join(dir, `count${++seq}`);
  return {
    env: { ...process.env, COUNTER: counter, FLAKES: String(flakes), REFUSE: refuse },
    runs: () => Number(readFileSync(counter, 'utf8')),
  };
}

test('the flake is retried until a run is not the flake; only that run\'s output is returned', async () => {
  const e = env(2);
  const r = runOracle(fake, ['create', '-f', 'luks'], { env: e.env });
  assert.equal(r.status, 0);
  assert.equal(r.attempts, 3);
  assert.equal(e.runs(), 3);
  assert.equal(r.stdout, "Formatting 'x.luks', fmt=luks run 3 args create -f luks\n");
  assert.equal(r.stderr, '');
  const a = env(1);
  const ra = await runOracleAsync(fake, ['create'], { env: a.env });
  assert.deepEqual([ra.status, ra.attempts, a.runs()], [0, 2, 2]);
});

test('a flake on every try is bounded and thrown as a harness error, never returned as a verdict', async () => {
  const e = env(100);
  assert.throws(() => runOracle(fake, ['create'], { env: e.env }), /Unable to get accurate CPU usage.*not a verdict/);
  assert.equal(e.runs(), FLAKE_TRIES);
  const a = env(100);
  await assert.rejects(runOracleAsync(fake, ['create'], { env: a.env }), /not a verdict/);
  assert.equal(a.runs(), FLAKE_TRIES);
});

test('any other refusal is not retried: one run, its message', () => {
  const e = env(0, "Parameter 'cipher-alg' does not accept value 'des-56'");
  const r = runOracle(fake, ['create'], { env: e.env });
  assert.deepEqual([r.status, r.attempts, e.runs()], [1, 1, 1]);
  assert.equal(r.stderr, "qemu-img: x.luks: Parameter 'cipher-alg' does not accept value 'des-56'\n");
  // A flake followed by a real refusal: the refusal is the verdict.
  const f = env(1, 'Invalid parameter \'foo\'');
  const rf = runOracle(fake, ['create'], { env: f.env });
  assert.deepEqual([rf.status, rf.attempts], [1, 2]);
  assert.match(rf.stderr, /Invalid parameter 'foo'/);
});

test('a real qemu-img refusal passes through after one run', () => {
  const img = join(dir, 'bad.qcow2');
  const r = qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=1000', img, '1M']);
  assert.equal(r.status, 1);
  assert.equal(r.attempts, 1);
  assert.equal(r.stderr.trim(), `qemu-img: ${img}: Cluster size must be a power of two between 512 and 2048k`);
});

test('the PATH wrapper for the session libvirtd runs the same core: retries the flake, passes everything else', () => {
  const bin = mkdtempSync(join(dir, 'bin-'));
  const w = installQemuImgWrapper(bin, fake);
  const run = (e: ReturnType<typeof env>) => spawnSync(w, ['create', 'a b'], { env: e.env, encoding: 'utf8' });
  const ok = env(3);
  const r = run(ok);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(ok.runs(), 4);
  assert.equal(r.stdout, "Formatting 'x.luks', fmt=luks run 4 args create a b\n", 'the Formatting line once, arguments intact');
  const always = env(100);
  const ra = run(always);
  assert.equal(ra.status, 1);
  assert.equal(always.runs(), FLAKE_TRIES);
  assert.match(ra.stderr, /Unable to get accurate CPU usage/);
  const refuse = env(0, 'No secret with id \'nosuch\'');
  const rr = run(refuse);
  assert.deepEqual([rr.status, refuse.runs(), rr.stderr], [1, 1, "qemu-img: x.luks: No secret with id 'nosuch'\n"]);
  // The wrapper over the real qemu-img answers like qemu-img.
  const real = installQemuImgWrapper(bin, '/usr/bin/qemu-img', 'qemu-img-real');
  const v = spawnSync(real, ['create', '-q', '-f', 'qcow2', '-o', 'foo=bar', join(dir, 'w.qcow2'), '1M'], { encoding: 'utf8' });
  assert.equal(v.status, 1);
  assert.equal(v.stderr.trim(), `qemu-img: ${join(dir, 'w.qcow2')}: Invalid parameter 'foo'`);
});

test('no test runs qemu-img around the helper or retries the flake by hand', () => {
  const offenders: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (name === 'node_modules' || name === 'fixtures') continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|js|mjs)$/.test(name) && !p.includes(join('test', 'helpers'))) {
        const text = readFileSync(p, 'utf8');
        // A file's own run() may take qemu-img when it is built on the helper (runOracle/runRetrying).
        const builtOnHelper = (t: string) => /helpers\/(oracle|flakeRetry)/.test(t) && /\b(runOracle|runRetrying)\(/.test(t);
        // …or imports its run() from a test module that is (test/reader/oracle.ts).
        const importsRun = [...text.matchAll(/import \{[^}]*\brun\b[^}]*\} from '(\.{1,2}\/[^']+)'/g)].some((m) => {
          const from = join(dirname(p), `${m[1]}.ts`);
          return existsSync(from) && builtOnHelper(readFileSync(from, 'utf8'));
        });
        const viaHelper = builtOnHelper(text) || importsRun;
        const direct = /\b(spawnSync|execFileSync|execFile|spawn|run)\(\s*['"]qemu-img['"]/.exec(text);
        const ownRun = direct?.[1] === 'run' && viaHelper;
        const hand = /accurate CPU usage/.exec(text);
        if (direct && !ownRun) offenders.push(`${relative(root, p)}: ${direct[0]}`);
        if (hand && p !== __filename) offenders.push(`${relative(root, p)}: hand-written retry`);
      }
    }
  };
  walk(join(root, 'test'));
  assert.deepEqual(offenders, []);
});
