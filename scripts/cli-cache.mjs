// Writes dist/NAME.js.cache for the CLI's bundles (dist/cli.js, dist/check.js): V8's code cache,
// made after a warm-up run of `check` on the repository's examples (every kind of document, so the
// functions a check runs are compiled into it, not only the top level), stamped with the size and
// mtime of the bundle (bin/libvirt-volume.js ignores a cache made for another file). The warm-up
// is the same files each build, so each build's cache holds the same functions.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const maker = String.raw`
const fs = require('node:fs'), path = require('node:path'), vm = require('node:vm'), Module = require('node:module');
const [file, sample] = process.argv.slice(1);
// check turns V8's optimizing tier off and on (server/src/cli/tiering.ts); V8 stamps a code cache
// with its flags as they are and rejects it under others: the warm-up keeps the flags as they start.
process.env.LIBVIRT_VOLUME_KEEP_V8_FLAGS = '1';
const st = fs.statSync(file);
const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file });
const m = new Module(file, module);
m.filename = file;
m.paths = Module._nodeModulePaths(path.dirname(file));
script.runInThisContext().call(m.exports, m.exports, (id) => m.require(id), m, file, path.dirname(file));
m.exports.main(['check', sample]).then(() => {
  const tmp = file + '.cache.' + process.pid + '.tmp';
  const fd = fs.openSync(tmp, 'wx', 0o644);
  fs.writeSync(fd, Buffer.concat([Buffer.from(st.size + ':' + Math.floor(st.mtimeMs) + '\n', 'latin1'), script.createCachedData()]));
  fs.closeSync(fd);
  fs.renameSync(tmp, file + '.cache');
  process.exit(0);
});
`;
/** `bundle`: a file name in dist/ whose entry exports main(argv) as server/src/cli/main.ts does. */
export function writeCliCache(bundle = 'cli.js') {
  const r = spawnSync(process.execPath, ['-e', maker, join(root, 'dist', bundle), join(root, 'examples')], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) console.warn(`dist/${bundle}.cache not written (it starts without a code cache): ${r.stderr}`);
}
