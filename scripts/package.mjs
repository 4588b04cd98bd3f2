// `npm run package`: build the bundles, then `vsce package` → libvirt-volume-<version>.vsix.
// No native dependencies (esbuild bundles vscode-languageclient/-server into dist/*.js), so
// --no-dependencies; vsce works offline (no marketplace call). Prints the files and the size.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { root, build } from './bootstrap.mjs';
import { withLock } from './lock.mjs';

export function packageVsix(opts = {}) {
  // The build rewrites dist/ and vsce reads it: one packaging at a time per checkout.
  mkdirSync(join(root, '.tmp'), { recursive: true });
  return withLock(join(root, '.tmp', 'package.lock'), () => packageLocked(opts));
}

function packageLocked({ quiet = false, out: outPath } = {}) {
  build();
  const { name, version, repository } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  // README images are relative (docs/screenshots/…); vsce rewrites them against the repository,
  // which it can only guess for GitHub/GitLab: say where they will live.
  const repo = String(repository?.url ?? repository ?? '').replace(/\.git$/, '');
  const out = outPath ?? join(root, `${name}-${version}.vsix`);
  const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
  const r = spawnSync(process.execPath, [vsce, 'package', '--no-dependencies', '--out', out,
    ...(repo ? ['--baseContentUrl', `${repo}/blob/HEAD`, '--baseImagesUrl', `${repo}/raw/HEAD`] : [])], {
    cwd: root, stdio: ['ignore', quiet ? 'pipe' : 'inherit', 'inherit'], encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`vsce package failed (exit ${r.status})`);
  return { path: out, bytes: statSync(out).size };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // `--out FILE`: where to write the .vsix (tests use a temporary folder; default: the project root).
  const i = process.argv.indexOf('--out');
  const { path, bytes } = packageVsix({ out: i > 0 ? process.argv[i + 1] : undefined });
  console.log(`${path}: ${(bytes / 1024).toFixed(0)} KiB (${bytes} bytes)`);
}
