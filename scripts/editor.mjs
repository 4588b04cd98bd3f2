// `npm start -- --editor`: the editor path on a machine without VS Code. Packages the extension
// (.vsix), installs code-server 4.100.3 into e2e/host if needed (scripts/e2e-host.mjs), installs
// the .vsix into .tmp/editor/ext and serves VS Code with examples/ on 127.0.0.1 (no auth: local
// only). Prints the URL; Ctrl+C stops it.
//   --port N    port (default 8080, or the next free one)
//   --folder D  folder to open (default examples/)
//   --check     start, wait until it answers, print the URL and stop (used by the tests)
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { root } from './bootstrap.mjs';
import { ensureE2eHost, CODE_SERVER } from './e2e-host.mjs';
import { packageVsix } from './package.mjs';

const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const check = args.includes('--check');
const folder = resolve(root, opt('--folder') ?? 'examples');

const portFree = (p) => new Promise((res) => {
  const s = createServer();
  s.once('error', () => res(false));
  s.listen(p, '127.0.0.1', () => s.close(() => res(true)));
});
let port = Number(opt('--port') ?? 8080);
while (!(await portFree(port))) port++;

const { path: vsix, bytes } = packageVsix({ quiet: true });
console.log(`extension: ${vsix} (${(bytes / 1024).toFixed(0)} KiB)`);
ensureE2eHost();
const base = join(root, '.tmp', 'editor');
const user = join(base, 'user'), ext = join(base, 'ext');
mkdirSync(join(user, 'User'), { recursive: true });
const settingsFile = join(user, 'User', 'settings.json');
if (!existsSync(settingsFile)) writeFileSync(settingsFile, JSON.stringify({ 'workbench.startupEditor': 'none', 'security.workspace.trust.enabled': false, 'telemetry.telemetryLevel': 'off' }, null, 2));
const env = { ...process.env, EXTENSIONS_GALLERY: '{}' };
const inst = spawnSync(process.execPath, [CODE_SERVER, '--config', '/dev/null', '--user-data-dir', user, '--extensions-dir', ext, '--install-extension', vsix, '--force'], { env, encoding: 'utf8' });
if (inst.status !== 0) { console.error(inst.stdout + inst.stderr); process.exit(1); }

const cs = spawn(process.execPath, [CODE_SERVER, '--config', '/dev/null', '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`,
  '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--user-data-dir', user, '--extensions-dir', ext, folder],
{ env, detached: true, stdio: ['ignore', 'ignore', 'inherit'] });
const stop = () => { try { process.kill(-cs.pid, 'SIGTERM'); } catch { /* gone */ } };
process.on('SIGINT', () => { stop(); process.exit(0); });
process.on('SIGTERM', () => { stop(); process.exit(0); });

const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(folder)}`;
for (let i = 0; ; i++) {
  try { if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break; } catch { /* not yet */ }
  if (i > 150 || cs.exitCode !== null) { console.error('code-server did not start'); stop(); process.exit(1); }
  await new Promise((r) => setTimeout(r, 200));
}
console.log(`VS Code (code-server) with the libvirt-volume extension: ${url}`);
if (check) { stop(); process.exit(0); }
console.log('Ctrl+C stops it.');
cs.on('exit', (code) => process.exit(code ?? 0));
