// Writes dist/cli.js.cache: V8's code cache for the bundled CLI, made after a warm-up run of `check`
// on an example volume (so the functions a check runs are in it), stamped with the size and mtime
// of dist/cli.js (bin/libvirt-volume.js ignores a cache made for another cli.js).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const maker = String.raw`
const fs = require('node:fs'), path = require('node:path'), vm = require('node:vm'), Module = require('node:module');
const [file, sample] = process.argv.slice(1);
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
export function writeCliCache() {
  const r = spawnSync(process.execPath, ['-e', maker, join(root, 'dist', 'cli.js'), join(root, 'examples')], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) console.warn(`dist/cli.js.cache not written (the CLI starts without a code cache): ${r.stderr}`);
}
