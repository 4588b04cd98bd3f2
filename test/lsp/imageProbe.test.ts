// The language server's asynchronous header reads (server/src/lsp/imageProbe.ts): the same facts as
// the synchronous reader on images qemu-img made, nothing for non-regular files, and a probe that
// never returns (injected through the AsyncProbeIO seam, as a dead NFS mount would) is given up
// after PROBE_TIMEOUT_MS without starving the others.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { ImageProbes, PROBE_TIMEOUT_MS, probeImageAsync } from '../../server/src/lsp/imageProbe';
import type { AsyncProbeIO } from '../../server/src/writer/io';
import { nodeAsyncProbeIO, nodeProbeIO } from '../../server/src/writer/nodeIO';
import { TestClient } from '../helpers/lspClient';
import { probeImage } from '../../server/src/writer/probe';
import { qemuImgOk } from '../helpers/oracle';

let dir: string;
const images: string[] = [];
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lv-probe-async-'));
  const img = (name: string, args: string[], size?: string) => {
    const argv = ['create', '-q', ...args, join(dir, name), ...(size ? [size] : [])];
    qemuImgOk(argv, { cwd: dir });
    images.push(join(dir, name));
  };
  const secret = ['--object', 'secret,id=s,data=pw'];
  img('base.qcow2', ['-f', 'qcow2'], '1M');
  img('top.qcow2', ['-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2']);
  img('big-cluster.qcow2', ['-f', 'qcow2', '-o', 'cluster_size=2M'], '4M');
  img('enc.qcow2', [...secret, '-f', 'qcow2', '-o', 'encrypt.format=luks,encrypt.key-secret=s,encrypt.iter-time=10'], '1M');
  img('raw.luks', [...secret, '-f', 'luks', '-o', 'key-secret=s,iter-time=10'], '1M');
  img('plain.raw', ['-f', 'raw'], '1M');
  writeFileSync(join(dir, 'empty'), '');
  images.push(join(dir, 'empty'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('asynchronous probe: the synchronous reader\'s facts on qemu-img images, plus the allocation', async () => {
  const io = nodeAsyncProbeIO();
  for (const path of images) {
    const a = await probeImageAsync(io, path);
    const s = probeImage(nodeProbeIO(), path);
    assert.ok(a, path);
    const { actualSize, ...rest } = a;
    assert.deepEqual(rest, s, path);
    assert.equal(typeof actualSize, 'number');
  }
});

test('asynchronous probe: a FIFO, a directory, /dev/zero and a missing file give no facts, at once', async () => {
  const io = nodeAsyncProbeIO();
  const t0 = performance.now();
  for (const path of [join(dir, 'fifo'), dir, '/dev/zero', join(dir, 'missing')]) {
    assert.equal(await probeImageAsync(io, path), undefined, path);
  }
  assert.ok(performance.now() - t0 < 1000);
});

test('a block device is read (size from sysfs), synchronously and asynchronously', async (t) => {
  // The first block device with a size that this user can open (read-only, 64 KiB at most).
  const dev = readdirSync('/sys/block').map((n) => ({ n, sectors: Number(readFileSync(`/sys/block/${n}/size`, 'utf8')) }))
    .filter(({ n, sectors }) => {
      if (!sectors) return false;
      try { closeSync(openSync(`/dev/${n}`, 'r')); return true; } catch { return false; }
    })[0];
  if (!dev) return t.diagnostic('no readable block device here: nothing to check');
  const path = `/dev/${dev.n}`;
  const s = probeImage(nodeProbeIO(), path);
  assert.equal(s.fileSize, dev.sectors * 512, path);
  const a = await probeImageAsync(nodeAsyncProbeIO(), path);
  assert.equal(a?.fileSize, dev.sectors * 512);
  assert.equal(a?.format, s.format);
});

test('a probe that never returns is given up after the bound; the others still answer', async (t) => {
  const real = nodeAsyncProbeIO();
  const hang = join(dir, 'hang');
  const released: (() => void)[] = [];
  // Reads of `hang` block until released, like a read(2) on a dead network mount.
  const io: AsyncProbeIO = {
    stat: (p) => (p === hang ? new Promise((r) => released.push(() => r({ size: 0 }))) : real.stat(p)),
    read: (p, o, l) => real.read(p, o, l),
  };
  const logs: string[] = [];
  const probes = new ImageProbes((m) => logs.push(m), io);
  // The bound's timer does not hold the process open (a server exits when its client goes).
  const alive = setInterval(() => {}, 1000);
  t.after(() => clearInterval(alive));
  const t0 = performance.now();
  const stuck = probes.probe(hang);
  const next = probes.probe(images[0]);
  const r1 = await stuck;
  const waited = performance.now() - t0;
  assert.equal(r1.timedOut, true);
  assert.ok(waited >= PROBE_TIMEOUT_MS - 50 && waited < PROBE_TIMEOUT_MS + 2000, `${waited} ms`);
  assert.match(logs.join('\n'), /took over 3000 ms; given up/);
  assert.equal((await next).facts?.format, 'qcow2', 'the queue moves on');
  // A second stuck probe: now two pool threads may be held, so new probes answer at once, unread.
  assert.equal((await probes.probe(hang)).timedOut, true);
  const t1 = performance.now();
  assert.deepEqual(await probes.probe(images[0]), { timedOut: true });
  assert.ok(performance.now() - t1 < 100);
  // The hung reads return: probing resumes.
  for (const r of released.splice(0)) r();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await probes.probe(images[0])).facts?.format, 'qcow2');
  probes.dispose();
});

test('over LSP: facts read in the background arrive in hovers and diagnostics, and follow the file', async () => {
  const img = join(dir, 'changing.img');
  qemuImgOk(['create', '-q', '-f', 'raw', img, '1M']);
  const doc = `<volume>\n  <name>changing.img</name>\n  <capacity unit='M'>1</capacity>\n  <target>\n    <path>${img}</path>\n    <format type='raw'/>\n  </target>\n</volume>\n`;
  const c = new TestClient({ rootPath: dir });
  try {
    await c.initialize();
    const uri = pathToFileURL(join(dir, 'changing.xml')).href;
    c.open(uri, doc);
    const at = { textDocument: { uri }, position: { line: 4, character: 12 } };
    // The first hover waits for the header (bounded) rather than answering without it.
    const h1 = await c.request<{ contents: { value: string } } | null>('textDocument/hover', at);
    assert.match(h1?.contents.value ?? '', /file format: raw/);
    await c.until(() => c.diagnostics.has(uri), 5000, 'first diagnostics');
    assert.ok(!c.diagnostics.get(uri)!.some((d) => d.code === 'image-format-mismatch'));
    // The file becomes a qcow2 image: once the cached facts are stale (1 s), the next look reads again.
    qemuImgOk(['create', '-q', '-f', 'qcow2', img, '1M']);
    await new Promise((r) => setTimeout(r, 1100));
    const h2 = await c.request<{ contents: { value: string } } | null>('textDocument/hover', at);
    assert.match(h2?.contents.value ?? '', /file format: qcow2/);
    // A keystroke re-validates; the refreshed facts re-validate again when they differ.
    c.change(uri, { start: { line: 1, character: 2 }, end: { line: 1, character: 2 } }, ' ');
    await c.until(() => c.diagnostics.get(uri)?.some((d) => d.code === 'image-format-mismatch'), 5000, 'mismatch after the change');
  } finally {
    await c.dispose();
  }
});
