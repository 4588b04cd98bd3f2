// Editing features over stdio against the built server (dist/server.js --stdio): completion,
// hover, code actions, definition/references through the workspace index, outline, folding,
// and the index following files created on disk (workspace/didChangeWatchedFiles).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CodeAction, CompletionList, DocumentSymbol, FoldingRange, Hover, Location, MarkupContent } from 'vscode-languageserver-types';
import { TestClient } from '../helpers/lspClient';

const UUID = '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f';
const OTHER = '3e3fce45-4f53-4fa7-bb32-11f34168b82b';
const secretXml = (uuid: string, path: string) => `<secret ephemeral='no' private='yes'>\n  <uuid>${uuid}</uuid>\n  <usage type='volume'>\n    <volume>${path}</volume>\n  </usage>\n</secret>\n`;
const volumeXml = (uuid: string) => `<volume>\n  <name>enc.qcow2</name>\n  <capacity unit='G'>1</capacity>\n  <target>\n    <path>/pool/enc.qcow2</path>\n    <format type='qcow2'/>\n    <compat>1.1</compat>\n    <encryption format='luks'>\n      <secret type='passphrase' uuid='${uuid}'/>\n    </encryption>\n  </target>\n</volume>\n`;

let dir: string;
let client: TestClient;
let volUri: string;
let secUri: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lv-editing-'));
  writeFileSync(join(dir, 'secret.xml'), secretXml(UUID, '/pool/enc.qcow2'));
  writeFileSync(join(dir, 'enc.xml'), volumeXml(UUID));
  volUri = pathToFileURL(join(dir, 'enc.xml')).href;
  secUri = pathToFileURL(join(dir, 'secret.xml')).href;
  client = new TestClient({ rootPath: dir });
  await client.initialize();
});

after(async () => {
  await client?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** Completion items once the workspace index has found the secret (it scans in the background). */
async function uuidCompletion(uri: string, line: number, character: number): Promise<CompletionList> {
  const end = Date.now() + 10_000;
  for (;;) {
    const r = await client.request<CompletionList>('textDocument/completion', { textDocument: { uri }, position: { line, character } });
    if (r.items.some((i) => i.label === UUID) || Date.now() > end) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
}

test('completion of a secret uuid lists the workspace secret (with its usage) and a new uuid', async () => {
  const text = volumeXml('');
  client.open(volUri, text);
  const list = await uuidCompletion(volUri, 8, 38);
  const labels = list.items.map((i) => i.label);
  assert.deepEqual(labels, [UUID, 'New random UUID']);
  assert.match((list.items[0].documentation as MarkupContent).value, /usage volume \/pool\/enc\.qcow2/);
  assert.match(String(list.items[1].detail), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  client.close(volUri);
});

test('completion of cipher sizes and hover of a cipher value over LSP', async () => {
  const uri = pathToFileURL(join(dir, 'scratch.xml')).href;
  const text = `<volume>\n  <target>\n    <encryption format='luks'>\n      <cipher name='serpent' size='256' mode='xts' hash='sha256'/>\n`;
  client.open(uri, text);
  const list = await client.request<CompletionList>('textDocument/completion', { textDocument: { uri }, position: { line: 3, character: 35 } });
  assert.deepEqual(list.items.map((i) => i.label).sort(), ['128', '192', '256']);
  const h = await client.request<Hover>('textDocument/hover', { textDocument: { uri }, position: { line: 3, character: 22 } });
  assert.match((h.contents as MarkupContent).value, /qemu-img option: `encrypt\.cipher-alg=serpent-256`|qemu-img option: `cipher-alg=serpent-256`/);
  client.close(uri);
});

test('go to definition reaches the <secret> file on disk; references come back', async () => {
  client.open(volUri, volumeXml(UUID));
  const defs = await client.request<Location[] | null>('textDocument/definition', { textDocument: { uri: volUri }, position: { line: 8, character: 45 } });
  assert.deepEqual(defs, [{ uri: secUri, range: { start: { line: 1, character: 8 }, end: { line: 1, character: 44 } } }]);
  client.open(secUri, secretXml(UUID, '/pool/enc.qcow2'));
  const refs = await client.request<Location[]>('textDocument/references', { textDocument: { uri: secUri }, position: { line: 1, character: 12 }, context: { includeDeclaration: true } });
  assert.deepEqual(refs.map((r) => `${r.uri.slice(r.uri.lastIndexOf('/') + 1)}:${r.range.start.line}`).sort(), ['enc.xml:8', 'secret.xml:1']);
  client.close(secUri);
  client.close(volUri);
});

test('a uuid no workspace secret has gets a hint with a quick fix; a new secret file on disk clears it', async () => {
  client.open(volUri, volumeXml(OTHER));
  const hint = await client.until(() => client.diagnostics.get(volUri)?.find((d) => d.code === 'workspace-secret-uuid-unknown'), 10_000, 'workspace hint');
  assert.equal(hint.severity, 4);
  const actions = await client.request<CodeAction[]>('textDocument/codeAction', { textDocument: { uri: volUri }, range: hint.range, context: { diagnostics: [hint] } });
  assert.deepEqual(actions.map((a) => a.title), [`Use the workspace secret ${UUID} (/pool/enc.qcow2)`, `Create a <secret> document for ${OTHER} (secret-enc.qcow2.xml)`]);
  assert.deepEqual(actions[0].edit?.changes?.[volUri]?.map((e) => e.newText), [UUID]);
  assert.equal(actions[1].kind, 'refactor');
  // Someone defines the secret in a new file: the index picks it up from the watched-files event.
  const newSecret = join(dir, 'other-secret.xml');
  writeFileSync(newSecret, secretXml(OTHER, '/pool/enc.qcow2'));
  await client.conn.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: pathToFileURL(newSecret).href, type: 1 }] });
  await client.until(() => client.diagnostics.get(volUri) && !client.diagnostics.get(volUri)!.some((d) => d.code === 'workspace-secret-uuid-unknown'), 10_000, 'hint cleared');
  client.close(volUri);
});

test('outline and folding over LSP', async () => {
  client.open(volUri, volumeXml(UUID));
  const syms = await client.request<DocumentSymbol[]>('textDocument/documentSymbol', { textDocument: { uri: volUri } });
  assert.equal(syms[0].name, 'volume enc.qcow2');
  assert.deepEqual(syms[0].children!.map((s) => [s.name, s.detail]), [['name', 'enc.qcow2'], ['capacity', '1 G'], ['target', 'qcow2']]);
  const folds = await client.request<FoldingRange[]>('textDocument/foldingRange', { textDocument: { uri: volUri } });
  assert.deepEqual(folds.map((f) => [f.startLine, f.endLine]), [[0, 10], [3, 9], [7, 8]]);
  client.close(volUri);
});
