// Installs the real-editor test host (e2e/host: code-server 4.100.3, playwright-core, mocha) on a
// fresh machine, idempotently:
//  - chromium, libkrb5-dev (kerberos' native build) and ripgrep come from scripts/setup-debian.sh;
//  - @vscode/ripgrep's postinstall would download a binary from GitHub: it first looks for a cached
//    tarball in os.tmpdir(), so we seed that with Debian's rg;
//  - code-server's postinstall refuses root without npm_config_unsafe_perm, and node-pty runs
//    `npx node-gyp`, which needs npm_config_yes when ~/.npmrc says yes=false.
// Usage: node scripts/e2e-host.mjs   (prints the code-server path; exit 1 when it cannot be had)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, copyFileSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withLock } from './lock.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const HOST = join(root, 'e2e', 'host');
export const CODE_SERVER = join(HOST, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
export const MOCHA = join(HOST, 'node_modules', 'mocha');
export const PLAYWRIGHT = join(HOST, 'node_modules', 'playwright-core');

// @vscode/ripgrep version and release tag that code-server 4.100.3 pins (lib/vscode/npm-shrinkwrap.json).
const RG_PKG = '1.15.11';
const RG_TAG = 'v13.0.0-10';

export function seedRipgrep() {
  const dir = join(tmpdir(), `vscode-ripgrep-cache-${RG_PKG}`);
  const tgz = join(dir, `ripgrep-${RG_TAG}-x86_64-unknown-linux-musl.tar.gz`);
  if (existsSync(tgz)) return;
  if (!existsSync('/usr/bin/rg')) throw new Error('ripgrep missing: run scripts/setup-debian.sh');
  mkdirSync(dir, { recursive: true });
  const t = mkdtempSync(join(tmpdir(), 'rg-seed-'));
  copyFileSync('/usr/bin/rg', join(t, 'rg'));
  const r = spawnSync('tar', ['czf', tgz, '-C', t, 'rg'], { stdio: 'inherit' });
  rmSync(t, { recursive: true, force: true });
  if (r.status !== 0) throw new Error('could not seed the ripgrep cache');
}

export function hostReady() {
  const stamp = join(HOST, 'node_modules', '.package-lock.json');
  return existsSync(CODE_SERVER) && existsSync(stamp) && statSync(stamp).mtimeMs >= statSync(join(HOST, 'package-lock.json')).mtimeMs
    && existsSync(join(MOCHA, 'package.json')) && existsSync(join(PLAYWRIGHT, 'package.json'));
}

export function ensureE2eHost({ quiet = false } = {}) {
  if (hostReady()) return CODE_SERVER;
  // Two test files may ask at once: one installs, the other waits and finds it ready.
  mkdirSync(join(root, '.tmp'), { recursive: true });
  return withLock(join(root, '.tmp', 'e2e-host.lock'), () => installHost(quiet));
}

function installHost(quiet) {
  if (hostReady()) return CODE_SERVER;
  seedRipgrep();
  const log = quiet ? 'ignore' : 'inherit';
  const t0 = Date.now();
  if (!quiet) process.stderr.write('e2e-host: installing code-server 4.100.3, playwright-core, mocha into e2e/host (about 2 minutes, once)\n');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: HOST,
    stdio: ['ignore', log, log],
    env: { ...process.env, npm_config_unsafe_perm: 'true', npm_config_yes: 'true' },
  });
  if (r.status !== 0 || !existsSync(CODE_SERVER)) throw new Error(`e2e-host: npm ci in e2e/host failed (exit ${r.status})`);
  if (!quiet) process.stderr.write(`e2e-host: ready in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  return CODE_SERVER;
}

export function codeServerVersion() {
  return JSON.parse(readFileSync(join(HOST, 'node_modules', 'code-server', 'package.json'), 'utf8')).version;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    console.log(ensureE2eHost());
  } catch (e) {
    console.error(String(e?.message ?? e));
    process.exit(1);
  }
}
