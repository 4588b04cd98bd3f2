// Keeps ARCHITECTURE.md's invariants true: the language service and the schemas stay pure.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

const root = join(__dirname, '..', '..');
const FORBIDDEN = [/^vscode$/, /^vscode-languageserver(\/node)?$/, /^vscode-languageclient/, /^(node:)?fs(\/promises)?$/, /^(node:)?child_process$/, /\/lsp\//, /\/cli\//, /\/host\//];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)|import\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

test('service/ and schemas/ import no editor, connection, fs or child_process module', () => {
  const files = [...sources(join(root, 'server/src/service')), ...sources(join(root, 'schemas'))];
  assert.ok(files.length > 5, 'expected service sources');
  const bad: string[] = [];
  for (const f of files) for (const spec of imports(f)) if (FORBIDDEN.some((re) => re.test(spec))) bad.push(`${relative(root, f)} imports ${spec}`);
  assert.deepEqual(bad, []);
});

test('lsp/ and writer/ do not reach into the CLI', () => {
  const bad: string[] = [];
  for (const dir of ['server/src/lsp', 'server/src/writer']) {
    for (const f of sources(join(root, dir))) for (const spec of imports(f)) if (/\/cli\//.test(spec) || spec.startsWith('../cli')) bad.push(`${relative(root, f)} imports ${spec}`);
  }
  assert.deepEqual(bad, []);
});

test('host/ (libvirt through virsh) is called by lsp/ and cli/ only: it imports neither', () => {
  const files = sources(join(root, 'server/src/host'));
  assert.ok(files.length >= 3, 'expected host sources');
  const bad: string[] = [];
  for (const f of files) for (const spec of imports(f)) if (/(^|\/)(lsp|cli)(\/|$)/.test(spec)) bad.push(`${relative(root, f)} imports ${spec}`);
  assert.deepEqual(bad, []);
});

test('writer/ knows images, not XML: no import of the language service or the LSP layer', () => {
  const bad: string[] = [];
  const files = sources(join(root, 'server/src/writer'));
  assert.ok(files.length > 5, 'expected writer sources');
  for (const f of files) {
    for (const spec of imports(f)) if (/(^|\/)(service|lsp)(\/|$)/.test(spec)) bad.push(`${relative(root, f)} imports ${spec}`);
  }
  assert.deepEqual(bad, []);
});

test('client/ stays a thin extension entry', () => {
  const files = sources(join(root, 'client/src'));
  const lines = files.reduce((n, f) => n + readFileSync(f, 'utf8').split('\n').length, 0);
  for (const f of files) for (const spec of imports(f)) assert.ok(!/server\/src\/(service|writer)/.test(spec), `${relative(root, f)} reaches into ${spec}`);
  assert.ok(lines < 600, `client/ has ${lines} lines; move logic into the server`);
});
