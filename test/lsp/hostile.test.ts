// Issue 16 §4, hostile input to the built language server over stdio: a FIFO named by a document
// (the server must stay responsive for other documents), executeCommand arguments of the wrong
// type (-32602 naming the field), passphrase files that are FIFOs, /dev/zero or too big (a clear
// error, fast), and a malformed Content-Length header (the server exits so the client restarts it).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { ResponseError } from 'vscode-jsonrpc/node';
import { SERVER, TestClient } from '../helpers/lspClient';
import { fileDiskDomain } from '../helpers/documents';

/** What another document's hover/completion may take while a hostile one is open (ms). */
const LATENCY_BOUND_MS = 500;

let dir: string;
let fifo: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lv-lsp-hostile-'));
  fifo = join(dir, 'pipe');
  execFileSync('mkfifo', [fifo]);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const fifoVolume = (path: string) => `<volume>
  <name>v.qcow2</name>
  <capacity unit='G'>1</capacity>
  <target>
    <path>${path}</path>
    <format type='qcow2'/>
  </target>
  <backingStore>
    <path>${path}</path>
  </backingStore>
</volume>
`;
const OTHER = "<volume>\n  <name>o</name>\n  <capacity>1</capacity>\n  <target>\n    <format type='qcow9'/>\n  </target>\n</volume>\n";

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await p;
  return { value, ms: performance.now() - t0 };
}

for (const pull of [false, true]) {
  test(`a FIFO named by open documents blocks nothing (${pull ? 'pull' : 'push'} diagnostics)`, async () => {
    const c = new TestClient({ pull, rootPath: dir, settings: { libvirtVolume: { imageChecks: true } } });
    try {
      await c.initialize();
      const vol = pathToFileURL(join(dir, 'vol.xml')).href;
      const dom = pathToFileURL(join(dir, 'dom.xml')).href;
      const other = pathToFileURL(join(dir, 'other.xml')).href;
      c.open(vol, fifoVolume(fifo));
      c.open(dom, fileDiskDomain(fifo));
      c.open(other, OTHER);
      const diag = async (uri: string) => {
        if (!pull) return c.until(() => c.diagnostics.get(uri), 5000, `diagnostics of ${uri}`);
        const r = await c.request<{ items: { code?: string }[] }>('textDocument/diagnostic', { textDocument: { uri } });
        return r.items;
      };
      // Diagnostics still arrive, for the hostile documents and the other one.
      const d = await timed(diag(other));
      assert.ok(d.value.some((x) => x.code === 'volume-format-unknown' || /qcow9/.test(JSON.stringify(x))), JSON.stringify(d.value));
      const dv = await timed(diag(vol));
      assert.ok(dv.ms < 5000);
      await timed(diag(dom));
      // Hover and completion on ANOTHER document answer within the bound, repeatedly, while the
      // FIFO documents are open and re-validated (each change asks for their image facts again).
      for (let i = 0; i < 5; i++) {
        c.change(vol, { start: { line: 1, character: 8 }, end: { line: 1, character: 8 } }, 'x');
        const h = await timed(c.request('textDocument/hover', { textDocument: { uri: other }, position: { line: 4, character: 6 } }));
        assert.ok(h.ms < LATENCY_BOUND_MS, `hover on another document took ${h.ms.toFixed(0)} ms`);
        assert.ok(h.value, 'the hover answers');
        const k = await timed(c.request<{ items: { label: string }[] } | { label: string }[]>('textDocument/completion', {
          textDocument: { uri: other }, position: { line: 4, character: 18 },
        }));
        assert.ok(k.ms < LATENCY_BOUND_MS, `completion on another document took ${k.ms.toFixed(0)} ms`);
        const labels = (Array.isArray(k.value) ? k.value : k.value.items).map((x) => x.label);
        assert.ok(labels.includes('qcow2'), labels.join(','));
      }
      // Hovering the FIFO path itself answers too (no header facts: it is not an image file).
      const line = fileDiskDomain(fifo).split('\n')[5];
      const hf = await timed(c.request('textDocument/hover', {
        textDocument: { uri: dom }, position: { line: 5, character: line.indexOf('pipe') + 1 },
      }));
      assert.ok(hf.ms < 2000, `hover on the FIFO path took ${hf.ms.toFixed(0)} ms`);
      assert.ok(!/file format:/.test(JSON.stringify(hf.value)), 'no header facts for a FIFO');
      // The server is alive and still validates after all that.
      if (!pull) {
        c.change(other, { start: { line: 4, character: 18 }, end: { line: 4, character: 23 } }, 'qcow2');
        await c.until(() => c.diagnostics.get(other)?.every((x) => !/qcow9/.test(String(x.message))), 5000, 'fixed document re-validated');
      }
    } finally {
      await c.dispose();
    }
  });
}

async function commandError(c: TestClient, args: unknown, command = 'libvirtVolume.createVolume'): Promise<ResponseError<unknown>> {
  const t0 = performance.now();
  try {
    await c.request('workspace/executeCommand', { command, arguments: args });
  } catch (e) {
    assert.ok(performance.now() - t0 < 3000, 'refused fast');
    return e as ResponseError<unknown>;
  }
  throw new Error(`${JSON.stringify(args)} was accepted`);
}

test('executeCommand: arguments of the wrong type answer -32602 naming the field', async () => {
  const c = new TestClient();
  try {
    await c.initialize();
    const cases: [unknown, RegExp, string?][] = [
      [[{ uri: 5 }], /'uri' must be a string, got number/],
      [['file:///x.xml'], /argument must be an object, got string/],
      [[null], /argument must be an object, got null/],
      [[{ new: 'vol' }], /'new' must be an object, got string/],
      [[{ new: { name: 1, capacity: '1M', format: 'raw' } }], /'new\.name' must be a string, got number/],
      [[{ uri: 'file:///x.xml', force: 'yes' }], /'force' must be a boolean, got string/],
      [[{ uri: 'file:///x.xml', iterTimeMs: '10' }], /'iterTimeMs' must be a number, got string/],
      [[{ uri: 'file:///x.xml', passphraseFile: ['a'] }], /'passphraseFile' must be a string, got array/],
      [[{ uri: 'file:///x.xml', passphrasefile: 'a' }], /unknown argument 'passphrasefile'/],
      [[{ uri: ['file:///x.xml'] }], /'uri' must be a string, got array/, 'libvirtVolume.describeVolume'],
      [[{}], /needs \{uri\}/, 'libvirtVolume.describeVolume'],
    ];
    for (const [args, message, command] of cases) {
      const e = await commandError(c, args, command);
      assert.equal(e.code, -32602, `${JSON.stringify(args)}: ${e.code} ${e.message}`);
      assert.match(e.message, message);
      assert.doesNotMatch(e.message, /is not a function|Cannot read prop|undefined/);
    }
    // A volume XML "on disk" that is a FIFO or a device: refused, not read.
    for (const path of [fifo, '/dev/zero']) {
      const e = await commandError(c, [{ uri: pathToFileURL(path).href }], 'libvirtVolume.describeVolume');
      assert.equal(e.code, -32602);
      assert.match(e.message, /is not a regular file/);
    }
    // null fields count as absent (emacs sends unset optional fields as null): judged further on.
    const nulls = await commandError(c, [{ uri: 'file:///nonexistent/x.xml', passphrase: null, force: null }]);
    assert.equal(nulls.code, -32602);
    assert.match(nulls.message, /no such volume XML/);
    const unknown = await commandError(c, [{}], 'libvirtVolume.nope');
    assert.equal(unknown.code, -32602);
  } finally {
    await c.dispose();
  }
});

test('passphrase file (setting or argument): FIFO, /dev/zero, a directory or > 64 KiB are refused at once', async () => {
  const xml = join(dir, 'enc.xml');
  writeFileSync(xml, `<volume>
  <name>enc.img</name>
  <capacity unit='M'>1</capacity>
  <target>
    <path>${join(dir, 'enc.img')}</path>
    <format type='raw'/>
    <encryption format='luks'>
      <secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/>
    </encryption>
  </target>
</volume>
`);
  const big = join(dir, 'big');
  writeFileSync(big, Buffer.alloc(64 * 1024 + 1, 0x61));
  const uri = pathToFileURL(xml).href;
  const output = join(dir, 'enc.img');
  const cases: [string, RegExp][] = [
    [fifo, /a FIFO, not a regular file/],
    ['/dev/zero', /a character device, not a regular file/],
    [dir, /a directory, not a regular file/],
    [big, /larger than 64 KiB/],
  ];
  for (const viaSetting of [false, true]) {
    for (const [file, message] of cases) {
      const c = new TestClient({ settings: { libvirtVolume: viaSetting ? { passphraseFile: file } : {} } });
      try {
        await c.initialize();
        const e = await commandError(c, [{ uri, output, iterTimeMs: 10, ...(viaSetting ? {} : { passphraseFile: file }) }]);
        assert.equal(e.code, -32602, e.message);
        assert.match(e.message, message);
        assert.match(e.message, /cannot read the passphrase file/);
        // The server's peak RSS: /dev/zero read whole grew it to gigabytes before.
        const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${c.proc.pid}/status`, 'utf8'))![1]) * 1024;
        assert.ok(hwm < 256 * 1024 * 1024, `server peak RSS ${hwm} bytes`);
        // Still serving.
        const d = await c.request<{ errors: unknown[] }>('workspace/executeCommand', { command: 'libvirtVolume.describeVolume', arguments: [{ uri }] });
        assert.deepEqual(d.errors, []);
      } finally {
        await c.dispose();
      }
    }
  }
});

test('a malformed Content-Length header makes the server exit (non-zero), not go deaf', async () => {
  for (const header of ['Content-Length: abc', 'Content-Type: application/json', 'Content-Length 12']) {
    const proc = spawn(process.execPath, [SERVER, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (b) => { stderr += String(b); });
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    const t0 = performance.now();
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { processId: null, rootUri: null, capabilities: {} } });
    // stdin stays open: the server must end by itself.
    proc.stdin.write(`${header}\r\n\r\n${body}`);
    const code = await Promise.race([exited, new Promise<'alive'>((r) => setTimeout(() => r('alive'), 5000))]);
    if (code === 'alive') proc.kill();
    assert.notEqual(code, 'alive', `${header}: still running after 5 s`);
    assert.notEqual(code, 0);
    assert.ok(performance.now() - t0 < 5000);
    assert.match(stderr, /unreadable LSP stream/);
  }
  // A well-framed body that is not JSON is no framing error: the server keeps serving.
  const c = new TestClient();
  try {
    c.proc.stdin!.write('Content-Length: 5\r\n\r\n{bad}');
    const r = await c.initialize() as { serverInfo?: { name: string } };
    assert.equal(r.serverInfo?.name, 'libvirt-volume');
  } finally {
    await c.dispose();
  }
});
