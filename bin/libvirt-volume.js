#!/usr/bin/env node
// Thin launcher so `npx libvirt-volume` and the `bin` entry use the bundled CLI. dist/cli.js is
// compiled with V8's code cache (dist/cli.js.cache, written by the build after a warm-up run: about
// half of the bundle's compile cost at start-up); without it, or for another dist/cli.js, a plain
// require. The cache is stamped with the size and mtime of the cli.js it was made from.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const file = path.join(__dirname, '..', 'dist', 'cli.js');

function load() {
  let cache;
  try {
    cache = fs.readFileSync(file + '.cache');
    const st = fs.statSync(file);
    const stamp = `${st.size}:${Math.floor(st.mtimeMs)}\n`;
    if (cache.subarray(0, stamp.length).toString('latin1') !== stamp) return require(file);
    cache = cache.subarray(stamp.length);
  } catch {
    return require(file);
  }
  const Module = require('node:module');
  const vm = require('node:vm');
  const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData: cache });
  // A rejected cache (another Node version) only costs the compile it was meant to save.
  const m = new Module(file, module);
  m.filename = file;
  m.paths = Module._nodeModulePaths(path.dirname(file));
  script.runInThisContext().call(m.exports, m.exports, (id) => m.require(id), m, file, path.dirname(file));
  m.loaded = true;
  return m.exports;
}

load().runCli();
