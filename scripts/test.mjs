// The whole test suite: bootstrap (npm ci, Debian oracles, bundles), then every *.test.ts under
// test/ through node:test. `--unit` runs only test/unit (no external tools). Extra arguments
// that are paths or name patterns narrow the run: `npm test -- test/writer`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { root, ensureNpm, ensureDebian, build } from './bootstrap.mjs';

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => !a.startsWith('--'));

ensureNpm();
if (!unitOnly) ensureDebian();
build();
// The type gate (strict tsc) counts as one test of the run: a type error fails the suite.
const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.', '--noEmit'], { cwd: root, stdio: 'inherit' });
const typecheckOk = tsc.status === 0;
console.log(typecheckOk ? '✔ typecheck (tsc --noEmit)' : '✖ typecheck (tsc --noEmit)');
// The lint gate (eslint.config.mjs) is one more test of the run.
const eslint = spawnSync(process.execPath, [join(root, 'node_modules', 'eslint', 'bin', 'eslint.js'), '.'], { cwd: root, stdio: 'inherit' });
const lintOk = eslint.status === 0;
console.log(lintOk ? '✔ lint (eslint)' : '✖ lint (eslint)');
const gates = [typecheckOk, lintOk];
const gatesPassed = gates.filter(Boolean).length;

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'fixtures') continue;
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
let files = walk(join(root, unitOnly ? 'test/unit' : 'test')).map((f) => relative(root, f)).sort();
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (!files.length) { console.error('no test files matched'); console.log('0 passed, 1 failed'); process.exit(1); }

// The summary goes to a file and is printed after the run, so it is surely the last line.
// One file per run: several runs in one checkout (engineers working in parallel) must not mix.
const summaryFile = join(root, '.tmp', `test-summary-${process.pid}.txt`);
mkdirSync(join(root, '.tmp'), { recursive: true });
rmSync(summaryFile, { force: true });
const r = spawnSync(process.execPath, [
  '--import', 'tsx', '--test', '--test-concurrency=2',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=./scripts/summary-reporter.mjs', `--test-reporter-destination=${summaryFile}`,
  ...files,
], { cwd: root, stdio: 'inherit', env: { ...process.env, LIBVIRT_VOLUME_ROOT: root } });
let line = '';
try { line = readFileSync(summaryFile, 'utf8').trim(); } catch { /* runner died before reporting */ }
rmSync(summaryFile, { force: true });
if (!line) line = '0 passed, 1 failed';
// Fold the type and lint gates into the closing line.
line = line.replace(/^(\d+) passed, (\d+) failed/, (_, p, f) => `${+p + gatesPassed} passed, ${+f + gates.length - gatesPassed} failed`);
console.log(line);
const failed = Number(/(\d+) failed/.exec(line)?.[1] ?? 1);
process.exit(r.status === 0 && failed === 0 ? 0 : 1);
