#!/usr/bin/env node
// Thin launcher so `npx libvirt-volume` and the `bin` entry use the bundled CLI.
require('../dist/cli.js').runCli();
