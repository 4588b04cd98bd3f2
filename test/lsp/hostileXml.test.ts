// Hostile documents over stdio (issue 16 §4): a document of 10 MB of '<', 18 MB of '</bad>' or 50k
// attributes open in the built server must not stop it answering for other documents, and its own
// diagnostics stay bounded. Latency and peak memory (VmHWM of the server process) are asserted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Hover } from 'vscode-languageserver-types';
import { TestClient } from '../helpers/lspClient';

let client: TestClient;
before(async () => { client = new TestClient(); await client.initialize(); });
after(async () => { await client?.dispose(); });

const SMALL = "<volume>\n  <name>a.img</name>\n  <capacity unit='G'>1</capacity>\n  <target><format type='raw'/></target>\n</volume>\n";

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

const HOSTILE: Record<string, string> = {
  'lt10': '<volume>' + '<'.repeat(10 << 20),
  'bad18': '<volume>' + '</bad>'.repeat(3 << 20) + '</volume>',
  'attrs50k': '<volume ' + Array.from({ length: 50_000 }, (_, k) => `a${k}='${k}'`).join(' ') + '/>',
};

test('the server stays responsive and bounded while hostile documents are open', async (t) => {
  let n = 0;
  for (const [name, text] of Object.entries(HOSTILE)) {
    const bad = `file:///hostile/${name}.xml`;
    const good = `file:///hostile/good${n++}.xml`;
    client.open(bad, text);
    client.open(good, SMALL);
    const d = await client.until(() => client.diagnostics.get(bad), 30_000, `diagnostics of ${name}`);
    assert.ok(d.length > 0 && d.length <= 1000, `${name}: ${d.length} diagnostics`);
    // Hover on the other document: answered promptly once the hostile one has been validated.
    const t0 = performance.now();
    const hover = await client.request<Hover | null>('textDocument/hover', { textDocument: { uri: good }, position: { line: 1, character: 4 } });
    const ms = performance.now() - t0;
    assert.ok(hover, `${name}: hover answered`);
    assert.ok(ms < 2000, `${name}: hover on another document took ${ms.toFixed(0)} ms`);
    // And on the hostile document itself (the 50k attributes case was 10 s per hover).
    const t1 = performance.now();
    await client.request('textDocument/hover', { textDocument: { uri: bad }, position: { line: 0, character: 3 } });
    assert.ok(performance.now() - t1 < 5000, `${name}: hover on it took ${(performance.now() - t1).toFixed(0)} ms`);
    t.diagnostic(`${name}: ${d.length} diagnostics, hover elsewhere ${ms.toFixed(0)} ms`);
    client.close(bad);
    client.close(good);
  }
  const rss = peakRssMb(client.proc.pid!);
  t.diagnostic(`server peak RSS ${rss.toFixed(0)} MB`);
  assert.ok(rss < 400, `server peak RSS ${rss.toFixed(0)} MB`);
});
