// Issue 7 through the real language server over stdio: image-aware diagnostics on a qemu-img image
// (the server's env reads headers with writer/probe.ts), the path hover with allocation, the weak
// lint, and `imageChecks: false` turning the image part off.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { TestClient } from '../helpers/lspClient';
import { qemuImgOk } from '../helpers/oracle';
import { fileDiskDomain } from '../helpers/documents';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lv-lsp-img-'));
  qemuImgOk(['create', '-q', '-f', 'qcow2', join(dir, 'base.qcow2'), '1M']);
  qemuImgOk(['create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', join(dir, 'top.qcow2')]);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const DOC = fileDiskDomain('top.qcow2', 'raw');
const codes = (c: TestClient, uri: string) => (c.diagnostics.get(uri) ?? []).map((d) => String(d.code)).filter((x) => /^(image|weak)-/.test(x)).sort();

test('image checks and path hover over LSP; imageChecks: false turns them off', async () => {
  const c = new TestClient({ rootPath: dir, settings: { libvirtVolume: { imageChecks: true } } });
  try {
    await c.initialize();
    const uri = pathToFileURL(join(dir, 'vm.xml')).href;
    writeFileSync(join(dir, 'vm.xml'), DOC);
    c.open(uri, DOC);
    await c.until(() => codes(c, uri).includes('image-format-mismatch'), 15_000, 'image-format-mismatch');
    const d = c.diagnostics.get(uri)!.find((x) => x.code === 'image-format-mismatch')!;
    assert.equal(d.severity, 2);
    assert.deepEqual(d.range, { start: { line: 4, character: DOC.split('\n')[4].indexOf("'raw'") + 1 }, end: { line: 4, character: DOC.split('\n')[4].indexOf("'raw'") + 4 } }, 'on the declared type');
    assert.match(String(d.message), /declared format 'raw', but top\.qcow2 is a qcow2 image/);
    const line = DOC.split('\n')[5];
    const h = await c.request<{ contents: { value: string } } | null>('textDocument/hover', { textDocument: { uri }, position: { line: 5, character: line.indexOf('top.qcow2') + 3 } });
    assert.ok(h);
    assert.match(h.contents.value, /file format: qcow2\nvirtual size: 1 MiB \(1048576 bytes\)\ndisk size: \d+ KiB\ncluster_size: 65536\nbacking file: base\.qcow2\nbacking file format: qcow2/);
    assert.match(h.contents.value, /Backing chain: `top\.qcow2` \(qcow2\) → `base\.qcow2` \(qcow2\)/);
    // The quick fix declares the real format.
    const actions = await c.request<Array<{ title: string }>>('textDocument/codeAction', { textDocument: { uri }, range: d.range, context: { diagnostics: [d] } });
    assert.ok(actions.some((a) => a.title === "Declare format 'qcow2'"), actions.map((a) => a.title).join(' | '));
    // Off: no image diagnostics, no header hover.
    c.settings = { libvirtVolume: { imageChecks: false } };
    void c.conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
    await c.until(() => c.diagnostics.has(uri) && codes(c, uri).length === 0, 15_000, 'image checks off');
    const h2 = await c.request<{ contents: { value: string } } | null>('textDocument/hover', { textDocument: { uri }, position: { line: 5, character: line.indexOf('top.qcow2') + 3 } });
    assert.ok(!h2 || !/file format: qcow2/.test(h2.contents.value));
  } finally {
    await c.dispose();
  }
});

test("a host volume's XML (libvirt-volume: documents of the Libvirt view) gets no checks against local files", async () => {
  const c = new TestClient({ rootPath: dir, settings: { libvirtVolume: { imageChecks: true } } });
  try {
    await c.initialize();
    const doc = DOC.replace("file='top.qcow2'", `file='${join(dir, 'top.qcow2')}'`);
    const local = pathToFileURL(join(dir, 'abs.xml')).href;
    const hostDoc = 'libvirt-volume:/p/abs.xml?uri%3Dqemu%2Bssh%3A%2F%2Fh%2Fsystem';
    c.open(local, doc);
    // The local document proves the file's header is read and cached ...
    await c.until(() => codes(c, local).includes('image-format-mismatch'), 15_000, 'image-format-mismatch');
    // ... and the same text as a host volume's XML, judged with that cache warm, has no image verdict.
    c.open(hostDoc, doc);
    await c.until(() => c.diagnostics.has(hostDoc), 15_000, 'host document judged');
    assert.deepEqual(codes(c, hostDoc), []);
  } finally {
    await c.dispose();
  }
});

test('weak-encryption warnings over LSP, with the modern-default quick fix', async () => {
  const c = new TestClient({});
  try {
    await c.initialize();
    const uri = 'file:///nowhere/enc.xml';
    const text = `<encryption format='luks'>\n  <secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/>\n  <cipher name='serpent' size='256' mode='ecb' hash='md5'/>\n  <ivgen name='plain64'/>\n</encryption>\n`;
    c.open(uri, text);
    await c.until(() => codes(c, uri).length === 2, 15_000, 'two weak verdicts');
    assert.deepEqual(codes(c, uri), ['weak-cipher-mode-ecb', 'weak-pbkdf-hash']);
    const d = c.diagnostics.get(uri)!.find((x) => x.code === 'weak-cipher-mode-ecb')!;
    assert.equal(d.codeDescription?.href.startsWith('https://'), true);
    const actions = await c.request<Array<{ title: string }>>('textDocument/codeAction', { textDocument: { uri }, range: d.range, context: { diagnostics: [d] } });
    assert.deepEqual(actions.map((a) => a.title), ["Use: cipher mode='xts'", "Use qemu's modern default: cipher name='aes', cipher mode='xts', cipher hash='sha256'"]);
  } finally {
    await c.dispose();
  }
});
