// Bundles client, server and CLI into single CommonJS files (no native code, `vscode` external).
import { build } from 'esbuild';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, logLevel: 'warning', absWorkingDir: root };
const entries = [
  { entryPoints: ['client/src/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'] },
  { entryPoints: ['server/src/lsp/main.ts'], outfile: 'dist/server.js' },
  // The CLI's start-up is on the clock (issue 15): whitespace and syntax minified, names kept for stacks.
  { entryPoints: ['server/src/cli/main.ts'], outfile: 'dist/cli.js', minifyWhitespace: true, minifySyntax: true },
  // `check` alone (bin/libvirt-volume.js runs it from here): a third less to read and compile.
  { entryPoints: ['server/src/cli/checkMain.ts'], outfile: 'dist/check.js', minifyWhitespace: true, minifySyntax: true },
];
const { existsSync } = await import('node:fs');
// Outputs are written only when they changed, through a temp file + rename: tests running
// dist/server.js in parallel with a test that rebuilds (e2e packaging) never see a half-written file.
const { readFileSync, renameSync } = await import('node:fs');
const results = await Promise.all(entries.filter((e) => existsSync(join(root, e.entryPoints[0]))).map((e) => build({ ...common, ...e, write: false })));
for (const f of results.flatMap((r) => r.outputFiles)) {
  mkdirSync(dirname(f.path), { recursive: true });
  if (existsSync(f.path) && Buffer.compare(readFileSync(f.path), Buffer.from(f.contents)) === 0) continue;
  const tmp = `${f.path}.${process.pid}.tmp`;
  writeFileSync(tmp, f.contents);
  renameSync(tmp, f.path);
}
// zstd for `convert -c -o compression_type=zstd` (server/src/writer/zstdCompress.ts): @bokuweb/zstd-wasm
// reads zstd.wasm from the folder of the code running it, which for the bundles is dist/.
{
  const wasm = join(root, 'node_modules', '@bokuweb', 'zstd-wasm', 'dist', 'common', 'zstd.wasm');
  const out = join(root, 'dist', 'zstd.wasm');
  if (existsSync(wasm) && !(existsSync(out) && Buffer.compare(readFileSync(wasm), readFileSync(out)) === 0)) {
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, readFileSync(wasm));
    renameSync(tmp, out);
  }
}
mkdirSync(join(root, 'bin'), { recursive: true });
// V8 code cache for the CLI's start-up (bin/libvirt-volume.js), remade whenever its bundle changed.
for (const bundle of ['cli.js', 'check.js']) {
  const cli = join(root, 'dist', bundle);
  let fresh = false;
  try {
    const { statSync, openSync, readSync, closeSync } = await import('node:fs');
    const st = statSync(cli);
    const stamp = `${st.size}:${Math.floor(st.mtimeMs)}\n`;
    const head = Buffer.alloc(stamp.length);
    const fd = openSync(`${cli}.cache`, 'r');
    readSync(fd, head, 0, head.length, 0);
    closeSync(fd);
    fresh = head.toString('latin1') === stamp;
  } catch { /* no cache yet */ }
  if (!fresh && existsSync(cli)) (await import('./cli-cache.mjs')).writeCliCache(bundle);
}
