// `npm start`: the main job. Makes the checkout runnable (scripts/bootstrap.mjs: npm packages and
// bundles; no Debian packages, the check needs only Node), then checks the example documents with
// the CLI so the diagnostics show. The examples contain deliberate mistakes, so findings (exit 1)
// are the expected outcome.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { root, ensureNpm, ensureDebian, build } from './bootstrap.mjs';

// `npm start -- --editor [--port N]`: also serve VS Code (code-server) with the extension on examples/;
// only then the Debian packages code-server's install needs.
const editor = process.argv.includes('--editor');
ensureNpm();
if (editor) ensureDebian('editor');
build();
const rest = process.argv.slice(2).filter((a) => a !== '--editor');
const r = spawnSync(process.execPath, [join(root, 'bin', 'libvirt-volume.js'), 'check', 'examples', ...(editor ? [] : rest)], { cwd: root, stdio: 'inherit' });
if (editor) {
  const e = spawnSync(process.execPath, [join(root, 'scripts', 'editor.mjs'), ...rest], { cwd: root, stdio: 'inherit' });
  process.exit(e.status ?? 0);
}
// 0 = clean, 1 = diagnostics found (the examples have some): both mean the job ran.
process.exit(r.status === 0 || r.status === 1 ? 0 : (r.status ?? 2));
