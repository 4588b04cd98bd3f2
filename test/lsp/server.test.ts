// The language server over stdio, driven by a JSON-RPC client: sync, push and pull diagnostics,
// settings, close, robustness. Uses the built bundle (dist/server.js), as editors do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient } from '../helpers/lspClient';

const URI = 'file:///tmp/lsp-test/enc.xml';
const UNKNOWN = 'encryption-format-unknown';
const unknownFormat = (c: TestClient) => c.diagnostics.get(URI)?.filter((d) => d.code === UNKNOWN);

test('push: diagnostics on open, after an incremental edit, and cleared on close', async () => {
  const c = new TestClient();
  try {
    await c.initialize();
    c.open(URI, "<encryption format='LUKS'/>\n");
    const first = await c.until(() => unknownFormat(c)?.length ? unknownFormat(c) : undefined, 10_000, 'first diagnostics');
    assert.deepEqual(first[0].range, { start: { line: 0, character: 20 }, end: { line: 0, character: 24 } });
    // Replace `LUKS` (columns 20–24) by `luks`: incremental sync must give the server the right text.
    c.change(URI, { start: { line: 0, character: 20 }, end: { line: 0, character: 24 } }, 'luks');
    await c.until(() => unknownFormat(c)?.length === 0, 10_000, 'diagnostic gone after the fix');
    c.change(URI, { start: { line: 0, character: 20 }, end: { line: 0, character: 24 } }, 'qcow9');
    await c.until(() => unknownFormat(c)?.length === 1, 10_000, 'diagnostic back');
    c.close(URI);
    await c.until(() => c.diagnostics.get(URI)?.length === 0, 10_000, 'cleared on close');
  } finally {
    await c.dispose();
  }
});

test('push: typing bursts are debounced into one validation of the last version', async () => {
  const c = new TestClient();
  try {
    await c.initialize();
    c.open(URI, "<encryption format='luks'/>\n");
    await c.until(() => c.diagnostics.has(URI), 10_000, 'first push');
    // Every format value a push reported on: a debounced server never validates the
    // intermediate texts "luksX" and "luksXY". (Counting pushes is load-sensitive: a
    // configuration round trip may legitimately re-push the same version.)
    const seen: string[] = [];
    c.conn.onNotification('textDocument/publishDiagnostics', (p: { uri: string; diagnostics: Array<{ message: string }>; version?: number }) => {
      for (const d of p.diagnostics) seen.push(d.message);
      c.diagnostics.set(p.uri, p.diagnostics as never);
    });
    // Type "XYZ" after "luks" one character at a time, faster than the debounce.
    for (const [i, ch] of [...'XYZ'].entries()) c.change(URI, { start: { line: 0, character: 24 + i }, end: { line: 0, character: 24 + i } }, ch);
    const d = await c.until(() => unknownFormat(c)?.length ? unknownFormat(c) : undefined, 10_000, 'diagnostic after typing');
    assert.match(String(d[0].message), /luksXYZ/);
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(seen.filter((m) => /type luksXY?$/.test(m)), [], 'no validation of an intermediate keystroke');
    assert.ok(seen.some((m) => /type luksXYZ$/.test(m)), 'the last version was validated');
  } finally {
    await c.dispose();
  }
});

test('settings: libvirtVersion from workspace/configuration, and didChangeConfiguration re-validates', async () => {
  const c = new TestClient({ settings: { libvirtVolume: { libvirtVersion: '9.0.0' } } });
  try {
    await c.initialize();
    c.open(URI, "<encryption format='luks-any'/>\n");
    // luks-any arrived in libvirt 9.3.0 (schemas/vocabulary.ts): an error when judged as 9.0.0.
    await c.until(() => c.diagnostics.get(URI)?.some((d) => d.code === 'encryption-format-unknown'), 10_000, 'version-dependent error');
    c.settings = { libvirtVolume: { libvirtVersion: '9.3.0' } };
    void c.conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
    await c.until(() => unknownFormat(c)?.length === 0, 10_000, 're-validation under 9.3.0');
    // Severity override to "ignore".
    c.settings = { libvirtVolume: { severity: { 'encryption-format-unknown': 'ignore' } } };
    c.change(URI, { start: { line: 0, character: 20 }, end: { line: 0, character: 28 } }, 'bogus');
    void c.conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(c.proc.exitCode, null, 'server alive');
    assert.deepEqual(unknownFormat(c), []);
    assert.ok(c.diagnostics.has(URI));
  } finally {
    await c.dispose();
  }
});

test('pull: a client with textDocument/diagnostic gets a full report and no pushes', async () => {
  const c = new TestClient({ pull: true });
  try {
    const init = (await c.initialize()) as { capabilities: Record<string, unknown> };
    assert.ok(init.capabilities.diagnosticProvider, 'diagnosticProvider advertised');
    c.open(URI, "<encryption format='LUKS'/>\n");
    const r = await c.request<{ kind: string; items: { code: string }[] }>('textDocument/diagnostic', { textDocument: { uri: URI } });
    assert.equal(r.kind, 'full');
    assert.ok(r.items.some((d) => d.code === UNKNOWN), JSON.stringify(r.items));
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(c.diagnostics.size, 0, 'nothing pushed');
  } finally {
    await c.dispose();
  }
});

test('never crashes: garbage documents and requests on unknown documents get answers', async () => {
  const c = new TestClient();
  try {
    await c.initialize();
    const junk = ['<', '<<encryption', "<encryption format='", '\u0000\uffff<encryption><<<', '<volume><encryption format="luks"><secret type="passphrase" uuid=', ''];
    junk.forEach((t, i) => c.open(`file:///tmp/junk${i}.xml`, t));
    for (const [i] of junk.entries()) {
      const uri = `file:///tmp/junk${i}.xml`;
      for (const pos of [{ line: 0, character: 0 }, { line: 0, character: 5 }, { line: 9, character: 99 }]) {
        await c.request('textDocument/hover', { textDocument: { uri }, position: pos });
        await c.request('textDocument/completion', { textDocument: { uri }, position: pos });
      }
      await c.request('textDocument/documentSymbol', { textDocument: { uri } });
      await c.request('textDocument/foldingRange', { textDocument: { uri } });
    }
    assert.equal(await c.request('textDocument/hover', { textDocument: { uri: 'file:///nope.xml' }, position: { line: 0, character: 0 } }), null);
    await c.until(() => c.diagnostics.size === junk.length, 10_000, 'a push for every document');
    await assert.rejects(c.request('workspace/executeCommand', { command: 'no.such.command', arguments: [] }), /unknown command/);
    assert.equal(c.proc.exitCode, null, 'server alive');
  } finally {
    await c.dispose();
  }
});
