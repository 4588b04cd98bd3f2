// "Check against the host" (issue 11) through the real server over LSP, against a session
// libvirtd started here (test/oracle/libvirt.ts: dir pools p and p2, inactive dir pool off, the
// volume secret ORACLE_SECRET_UUID). Each host rule fires with `libvirtVolume.connection` set and
// is silent without it; where libvirt refuses the document, the daemon's own vol-create message
// is compared with ours. Completion and hover show the host's secrets and volumes; a save makes
// the server ask the host again (a secret defined meanwhile clears the error).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CompletionItem, Diagnostic, Hover, MarkupContent } from 'vscode-languageserver-types';
import { ORACLE_SECRET_UUID, ORACLE_SECRET_USAGE, SessionLibvirt, virshMessage } from './libvirt';
import { TestClient } from '../helpers/lspClient';

let s: SessionLibvirt;
let dir: string;
let online: TestClient;
let offline: TestClient;
const UNKNOWN = '5d1b7f0e-6a43-4c1c-9b0a-0d3c0c1e2a77';
const LATER = '7c2e9a1d-3b54-4d2d-8c1b-1e4d1d2f3b88';
const CEPH = '2a6d4c3b-1e0f-4a9b-8c7d-6e5f4a3b2c1d';

before(async () => {
  s = await SessionLibvirt.start();
  // The daemon runs as another user when we are root: its input files must be readable to it.
  dir = mkdtempSync(join(tmpdir(), 'lv-host-diag-'));
  chmodSync(dir, 0o755);
  const ceph = join(dir, 'ceph.xml');
  writeFileSync(ceph, `<secret ephemeral='no' private='no'><uuid>${CEPH}</uuid><usage type='ceph'><name>client.diag</name></usage></secret>`, { mode: 0o644 });
  for (const args of [
    ['vol-create-as', 'p', 'taken.img', '1M'],
    ['secret-define', ceph],
    // A pool of another type, defined only (no volume group needed): its type is what counts.
    ['pool-define-as', 'vg', 'logical', '--source-name', 'lvdiag', '--target', '/dev/lvdiag'],
  ]) {
    const r = await s.virshRun(args);
    assert.equal(r.code, 0, `virsh ${args.join(' ')}: ${r.stderr}`);
  }
  online = new TestClient({ settings: { libvirtVolume: { connection: s.uri, pool: 'p' } } });
  offline = new TestClient({ settings: { libvirtVolume: { pool: 'p' } } });
  await online.initialize();
  await offline.initialize();
  // Every test below starts with the host facts in (the first refresh runs in the background).
  const probe = `file://${dir}/probe.xml`;
  online.open(probe, vol({ secret: `uuid='${UNKNOWN}'` }));
  await online.until(() => online.diagnostics.get(probe)?.some((d) => d.code === 'host-secret-uuid-unknown'), 15_000, 'host facts');
});
after(async () => {
  await online?.dispose();
  await offline?.dispose();
  await s?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const vol = (o: { name?: string; cap?: string; secret?: string; backing?: string; hint?: string; format?: string }) =>
  `<volume>${o.hint ? `\n  <!-- libvirt-volume: pool=${o.hint} -->` : ''}
  <name>${o.name ?? 'fresh.img'}</name>
  <capacity unit='${o.cap ? 'T' : 'M'}'>${o.cap ?? '1'}</capacity>
  <target>
    <format type='${o.format ?? 'raw'}'/>${o.secret ? `
    <encryption format='luks'>
      <secret type='passphrase' ${o.secret}/>
    </encryption>` : ''}
  </target>${o.backing ? `
  <backingStore>
    <path>${o.backing}</path>
    <format type='qcow2'/>
  </backingStore>` : ''}
</volume>
`;

let n = 0;
/** Opens the document in both servers; answers each one's diagnostics once the online one has host facts. */
async function judge(text: string, want?: string): Promise<{ on: Diagnostic[]; off: Diagnostic[]; uri: string }> {
  const uri = `file://${dir}/doc${++n}.xml`;
  writeFileSync(join(dir, `doc${n}.xml`), text);
  online.open(uri, text);
  offline.open(uri, text);
  // No rule wanted: the host facts are in already (an earlier test waited for them), so the first push counts.
  const on = await online.until(
    () => (want === undefined || online.diagnostics.get(uri)?.some((d) => d.code === want)) && online.diagnostics.get(uri),
    15_000,
    want ?? 'diagnostics',
  );
  const off = await offline.until(() => offline.diagnostics.get(uri), 10_000, 'offline diagnostics');
  return { on, off, uri };
}
const host = (ds: Diagnostic[]) => ds.filter((d) => String(d.code).startsWith('host-'));
const str = (m: Diagnostic['message']) => (typeof m === 'string' ? m : m.value);
const strip = (m: Diagnostic['message']) => str(m).replace(/ \((pool '[^']*' )?on [^)]*\)$/, '').replace(/ \(on [^)]*\)$/, '');

/** What the daemon says when the document is created in a pool (nothing is left behind). */
async function libvirtSays(text: string, pool: string): Promise<string> {
  const f = join(dir, `create${++n}.xml`);
  writeFileSync(f, text, { mode: 0o644 });
  const r = await s.virshRun(['vol-create', pool, f]);
  if (r.code === 0) {
    await s.virshRun(['vol-delete', '--pool', pool, /<name>([^<]*)</.exec(text)![1]]);
    return '';
  }
  // virsh's headline ("failed to get pool 'x'") is not libvirt's message: the last line is.
  return virshMessage(r.stderr).split(' | ').pop()!;
}

test('secret uuid not on the host: libvirt\'s vol-create error; silent offline', async () => {
  const text = vol({ secret: `uuid='${UNKNOWN}'` });
  const { on, off } = await judge(text, 'host-secret-uuid-unknown');
  const d = on.find((x) => x.code === 'host-secret-uuid-unknown')!;
  assert.equal(d.severity, 1);
  assert.equal(strip(d.message), await libvirtSays(text, 'p'));
  assert.deepEqual(host(off), []);
});

test('secret of another usage type: libvirt\'s vol-create error', async () => {
  const text = vol({ name: 'ceph.img', secret: `uuid='${CEPH}'` });
  const { on, off } = await judge(text, 'host-secret-usage-type');
  assert.equal(strip(on.find((x) => x.code === 'host-secret-usage-type')!.message), await libvirtSays(text, 'p'));
  assert.deepEqual(host(off), []);
});

test('secret usage not on the host: libvirt\'s error; the oracle secret\'s usage is fine', async () => {
  const text = vol({ secret: "usage='/nowhere/x.img'" });
  const { on, off } = await judge(text, 'host-secret-usage-unknown');
  assert.equal(strip(on.find((x) => x.code === 'host-secret-usage-unknown')!.message), await libvirtSays(text, 'p'));
  assert.deepEqual(host(off), []);
  const ok = await judge(vol({ name: 'ok.img', secret: `usage='${ORACLE_SECRET_USAGE}'`, hint: 'p2' }));
  assert.deepEqual(host(ok.on), []);
});

test('volume name taken in the pool: vol-create\'s message; another pool by hint is fine', async () => {
  const text = vol({ name: 'taken.img' });
  const { on, off } = await judge(text, 'host-volume-exists');
  assert.equal(strip(on.find((x) => x.code === 'host-volume-exists')!.message), await libvirtSays(text, 'p'));
  assert.deepEqual(host(off), []);
  const other = await judge(vol({ name: 'taken.img', hint: 'p2' }));
  assert.deepEqual(host(other.on), []);
});

test('backing store: missing file is libvirt\'s error; a pool volume and a plain host file are fine', async () => {
  // The plain file is opened first: its stat (in the background) is started before the missing
  // one's, so once the missing file's error is in, the existing file's answer is in too.
  const inPool = await judge(vol({ name: 'bk2.qcow2', format: 'qcow2', backing: join(s.pool, 'taken.img') }));
  const fileText = vol({ name: 'bk3.qcow2', format: 'qcow2', backing: join(s.backingDir, 'base.qcow2') });
  const file = await judge(fileText);
  const text = vol({ name: 'bk.qcow2', format: 'qcow2', backing: join(dir, 'nonexistent.qcow2') });
  const { on, off } = await judge(text, 'host-backing-missing');
  assert.equal(strip(on.find((x) => x.code === 'host-backing-missing')!.message), await libvirtSays(text, 'p'));
  assert.equal(await libvirtSays(fileText, 'p'), '', 'libvirt takes the existing file as backing store');
  assert.deepEqual(host(off), []);
  assert.deepEqual(host(inPool.on), []);
  assert.deepEqual(host(online.diagnostics.get(file.uri)!), []);
});

test('pool hint: unknown and inactive pools warn in libvirt\'s words; the real pool type judges the volume', async () => {
  const unknown = vol({ hint: 'nosuch' });
  const u = await judge(unknown, 'host-pool-unknown');
  const w = u.on.find((x) => x.code === 'host-pool-unknown')!;
  assert.equal(w.severity, 2);
  assert.equal(str(w.message).replace(/ \(on .*\)$/, ''), await libvirtSays(unknown, 'nosuch'));
  assert.deepEqual(host(u.off), []);
  const inactive = vol({ hint: 'off' });
  const i = await judge(inactive, 'host-pool-inactive');
  assert.equal(strip(i.on.find((x) => x.code === 'host-pool-inactive')!.message), await libvirtSays(inactive, 'off'));
  // `vg` is a logical pool on the host: <format> is ignored there (offline: judged as the dir default).
  const lv = await judge(vol({ hint: 'vg', format: 'qcow2' }), 'volume-format-ignored');
  assert.ok(lv.on.some((d) => d.code === 'volume-format-ignored'));
  assert.ok(!lv.off.some((d) => d.code === 'volume-format-ignored'));
});

test('capacity over the pool\'s available space: warning; silent offline', async () => {
  const { on, off } = await judge(vol({ cap: '100000' }), 'host-capacity-over-available');
  const d = on.find((x) => x.code === 'host-capacity-over-available')!;
  assert.equal(d.severity, 2);
  assert.match(str(d.message), /^Capacity 97\.7 PiB is more than the .* available in pool 'p' on /);
  assert.deepEqual(host(off), []);
});

async function openedAt(client: TestClient, text: string, marker: string) {
  const uri = `file://${dir}/c${++n}.xml`;
  const at = text.indexOf(marker);
  const clean = text.replace('|', '');
  client.open(uri, clean);
  const before = clean.slice(0, at);
  return { uri, position: { line: before.split('\n').length - 1, character: at - before.lastIndexOf('\n') - 1 } };
}

test('completion: host secret uuids with usage as detail, backing paths of pool volumes', async () => {
  const a = await openedAt(online, vol({ secret: "uuid='|'" }), '|');
  const items = await online.request<{ items: CompletionItem[] }>('textDocument/completion', { textDocument: { uri: a.uri }, position: a.position });
  const sec = items.items.find((i) => i.label === ORACLE_SECRET_UUID)!;
  assert.ok(sec, items.items.map((i) => i.label).join(', '));
  assert.equal(sec.detail, `volume ${ORACLE_SECRET_USAGE}`);
  const b = await openedAt(online, vol({ backing: `${s.pool}/|` }), '|');
  const paths = await online.request<{ items: CompletionItem[] }>('textDocument/completion', { textDocument: { uri: b.uri }, position: b.position });
  const p = paths.items.find((i) => i.label === join(s.pool, 'taken.img'))!;
  assert.ok(p, paths.items.map((i) => i.label).join(', '));
  assert.equal(p.detail, 'pool p, raw, 1 MiB');
  const c = await openedAt(online, vol({ hint: '|' }), '|');
  const pools = await online.request<{ items: CompletionItem[] }>('textDocument/completion', { textDocument: { uri: c.uri }, position: c.position });
  assert.deepEqual(pools.items.map((i) => i.label).sort(), ['off', 'p', 'p2', 'vg']);
  const off = await openedAt(offline, vol({ secret: "uuid='|'" }), '|');
  const none = await offline.request<{ items: CompletionItem[] }>('textDocument/completion', { textDocument: { uri: off.uri }, position: off.position });
  assert.ok(!none.items.some((i) => i.label === ORACLE_SECRET_UUID));
});

test('hover on a secret uuid: usage, ephemeral, private from the host; never a value', async () => {
  const text = vol({ secret: `uuid='|${ORACLE_SECRET_UUID}'` });
  const a = await openedAt(online, text, '|');
  const h = await online.request<Hover>('textDocument/hover', { textDocument: { uri: a.uri }, position: a.position });
  const v = (h.contents as MarkupContent).value;
  assert.match(v, new RegExp(`usage volume ${ORACLE_SECRET_USAGE.replace(/[.]/g, '\\.')}; ephemeral no, private yes\\.`));
  assert.doesNotMatch(v, /pw|value/i);
});

test('a save asks the host again: a secret defined meanwhile clears the error', async () => {
  const text = vol({ name: 'later.img', secret: `uuid='${LATER}'` });
  const uri = `file://${dir}/later.xml`;
  writeFileSync(join(dir, 'later.xml'), text);
  online.open(uri, text);
  await online.until(() => online.diagnostics.get(uri)?.some((d) => d.code === 'host-secret-uuid-unknown'), 15_000, 'unknown secret');
  const f = join(dir, 'later-secret.xml');
  writeFileSync(f, `<secret ephemeral='no' private='yes'><uuid>${LATER}</uuid><usage type='volume'><volume>/later/x.img</volume></usage></secret>`, { mode: 0o644 });
  const r = await s.virshRun(['secret-define', f]);
  assert.equal(r.code, 0, r.stderr);
  try {
    await online.conn.sendNotification('textDocument/didSave', { textDocument: { uri } });
    await online.until(() => {
      const ds = online.diagnostics.get(uri);
      return ds && !ds.some((d) => d.code === 'host-secret-uuid-unknown');
    }, 15_000, 'the error to go after the save');
  } finally {
    await s.virshRun(['secret-undefine', LATER]);
  }
});

test('a host that never answers: diagnostics, completion and hover do not wait for it; its error is logged', async () => {
  // A socket that accepts and stays silent: virsh waits for libvirt's reply until our deadline.
  const sock = join(dir, 'silent.sock');
  const held: Socket[] = [];
  const server = createServer((c) => { held.push(c); });
  await new Promise<void>((r) => server.listen(sock, r));
  const c = new TestClient({ settings: { libvirtVolume: { connection: `qemu+unix:///session?socket=${sock}` } } });
  try {
    await c.initialize();
    const uri = `file://${dir}/silent.xml`;
    const text = vol({ name: 'taken.img', secret: `uuid='${UNKNOWN}'` });
    const t0 = Date.now();
    c.open(uri, text);
    const ds = await c.until(() => c.diagnostics.get(uri), 5_000, 'diagnostics');
    const pos = { line: text.slice(0, text.indexOf(UNKNOWN)).split('\n').length - 1, character: 10 };
    await c.request('textDocument/completion', { textDocument: { uri }, position: pos });
    await c.request('textDocument/hover', { textDocument: { uri }, position: pos });
    const waited = Date.now() - t0;
    assert.ok(waited < 5_000, `answered after ${waited} ms`);
    assert.deepEqual(host(ds), []);
    // The refresh gives up at virsh.ts's deadline and says so once.
    await c.until(() => c.logs.some((l) => /no answer from .* within 10 s/.test(l)), 20_000, 'the timeout in the log');
  } finally {
    await c.dispose();
    for (const h of held) h.destroy();
    server.close();
  }
});

test('the setting turns the host on and off: rules appear with the connection and go with it', async () => {
  const c = new TestClient({ settings: { libvirtVolume: {} } });
  try {
    await c.initialize();
    const uri = `file://${dir}/toggle.xml`;
    c.open(uri, vol({ name: 'taken.img' }));
    const first = await c.until(() => c.diagnostics.get(uri), 10_000, 'offline diagnostics');
    assert.deepEqual(host(first), []);
    c.settings = { libvirtVolume: { connection: s.uri, pool: 'p' } };
    await c.conn.sendNotification('workspace/didChangeConfiguration', { settings: c.settings });
    await c.until(() => c.diagnostics.get(uri)?.some((d) => d.code === 'host-volume-exists'), 15_000, 'host rule after the setting');
    c.settings = { libvirtVolume: {} };
    await c.conn.sendNotification('workspace/didChangeConfiguration', { settings: c.settings });
    await c.until(() => { const ds = c.diagnostics.get(uri); return ds && !host(ds).length; }, 15_000, 'offline again');
  } finally {
    await c.dispose();
  }
});

test('pull diagnostics (as VS Code asks for them) carry the host rules too', async () => {
  const c = new TestClient({ pull: true, settings: { libvirtVolume: { connection: s.uri, pool: 'p' } } });
  try {
    await c.initialize();
    const uri = `file://${dir}/pulled.xml`;
    c.open(uri, vol({ name: 'taken.img' }));
    const pull = () => c.request<{ items: Diagnostic[] }>('textDocument/diagnostic', { textDocument: { uri } });
    // The first pull may come before the first snapshot (never waited for); a later one has it.
    const end = Date.now() + 15_000;
    let items: Diagnostic[] = [];
    while (Date.now() < end && !items.some((d) => d.code === 'host-volume-exists')) {
      items = (await pull()).items;
      if (!items.some((d) => d.code === 'host-volume-exists')) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(items.some((d) => d.code === 'host-volume-exists'), JSON.stringify(items));
  } finally {
    await c.dispose();
  }
});
