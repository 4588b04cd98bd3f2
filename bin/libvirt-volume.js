#!/usr/bin/env node
// Thin launcher so `npx libvirt-volume` and the `bin` entry use the bundled CLI. `check` runs from
// dist/check.js (a bundle of the check alone: less to read and compile at start-up, issue 15), any
// other command, or a build without dist/check.js, from dist/cli.js. Each bundle is compiled with
// V8's code cache (dist/NAME.js.cache, written by the build after a warm-up run, so the functions
// a check runs arrive compiled); without it, or for another NAME.js, a plain require. A cache is
// stamped with the size and mtime of the file it was made from; one V8 rejects (another Node
// version or V8 flags) only costs the compile it was meant to save.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist');

/** The exports of `file`, or undefined when there is no such file. */
function load(file) {
  let st, cache;
  try {
    st = fs.statSync(file);
  } catch {
    return undefined;
  }
  try {
    cache = fs.readFileSync(file + '.cache');
    const stamp = `${st.size}:${Math.floor(st.mtimeMs)}\n`;
    if (cache.subarray(0, stamp.length).toString('latin1') !== stamp) return require(file);
    cache = cache.subarray(stamp.length);
  } catch {
    return require(file);
  }
  const Module = require('node:module');
  const vm = require('node:vm');
  const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData: cache });
  const m = new Module(file, module);
  m.filename = file;
  m.paths = Module._nodeModulePaths(path.dirname(file));
  script.runInThisContext().call(m.exports, m.exports, (id) => m.require(id), m, file, path.dirname(file));
  m.loaded = true;
  return m.exports;
}

const cli = path.join(dist, 'cli.js');
((process.argv[2] === 'check' && load(path.join(dist, 'check.js'))) || load(cli) || require(cli)).runCli();
