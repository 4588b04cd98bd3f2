// Create Volume over LSP (workspace/executeCommand libvirtVolume.createVolume), checked with the
// real qemu-img / qemu-io / virsh: the image opens, with the passphrase when encrypted; the
// <secret> XML is accepted by libvirt; refusals leave nothing behind; cancel works and
// diagnostics keep flowing while the writer runs in its worker thread.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TestClient } from '../helpers/lspClient';
import { SessionLibvirt } from '../oracle/libvirt';
import { qemuImgInfo, qemuImgOk } from '../helpers/oracle';

const UUID = '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f';
const volume = (name: string, format: string, opts: { encrypted?: boolean; capacity?: string; extra?: string; uuid?: string } = {}) => `<volume>
  <name>${name}</name>
  <capacity unit='M'>${opts.capacity ?? '16'}</capacity>
  <target>
    <format type='${format}'/>${format === 'qcow2' ? '\n    <compat>1.1</compat>' : ''}${opts.encrypted ? `
    <encryption format='luks'>
      <secret type='passphrase' uuid='${opts.uuid ?? UUID}'/>
    </encryption>` : ''}${opts.extra ?? ''}
  </target>
</volume>
`;

let dir: string;
let c: TestClient;
const uri = (name: string) => pathToFileURL(join(dir, name)).href;
const write = (name: string, text: string) => { writeFileSync(join(dir, name), text); return uri(name); };
const create = <T = { image: string; format: string; secretXml?: string; xml?: string; ms: number }>(args: object) =>
  c.request<T>('workspace/executeCommand', { command: 'libvirtVolume.createVolume', arguments: [args] });
const info = (p: string) => qemuImgInfo(p) as Record<string, unknown>;
const leftovers = () => readdirSync(dir).filter((n) => n.startsWith('.'));

function qemuIo(image: string, driver: string, passphrase?: string): { ok: boolean; out: string } {
  const args = passphrase === undefined
    ? ['-f', driver, image]
    : ['--object', `secret,id=s0,file=${join(dir, '.pass')}`, '--image-opts', driver === 'luks' ? `driver=luks,file.filename=${image},key-secret=s0` : `driver=qcow2,file.filename=${image},encrypt.key-secret=s0`];
  if (passphrase !== undefined) writeFileSync(join(dir, '.pass'), passphrase, { mode: 0o600 });
  const r = spawnSync('qemu-io', [...args, '-c', 'write -P 0xa5 1M 64k', '-c', 'read -P 0xa5 1M 64k'], { encoding: 'utf8' });
  rmSync(join(dir, '.pass'), { force: true });
  return { ok: r.status === 0 && /read 65536\/65536/.test(r.stdout) && !/verification failed/.test(r.stdout), out: r.stdout + r.stderr };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lv-create-'));
  c = new TestClient({ rootPath: dir });
  await c.initialize();
});
after(async () => {
  await c.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test('qcow2 from a volume XML on disk: qemu-io reads back what it wrote; progress begins and ends', async () => {
  const u = write('plain.xml', volume('plain.qcow2', 'qcow2'));
  const out = join(dir, 'plain.qcow2');
  const before = c.progress.length;
  const r = await create({ uri: u, output: out });
  assert.equal(r.image, out);
  assert.equal(r.format, 'qcow2');
  const i = info(out);
  assert.equal(i.format, 'qcow2');
  assert.equal(i['virtual-size'], 16 * 2 ** 20);
  assert.ok(qemuIo(out, 'qcow2').ok);
  const kinds = c.progress.slice(before).map((p) => p.value.kind);
  assert.equal(kinds[0], 'begin');
  assert.equal(kinds.at(-1), 'end');
  assert.equal(c.progress.slice(before)[0].value.cancellable, true);
  assert.deepEqual(leftovers(), []);
});

test('preallocMetadata as virsh vol-create --prealloc-metadata: libvirt\'s qemu-img line, or its refusal', async () => {
  // No <allocation> = capacity, so libvirt passes preallocation=falloc (the mapping's oracle test).
  const u = write('pm.xml', volume('pm.qcow2', 'qcow2'));
  const out = join(dir, 'pm.qcow2');
  await create({ uri: u, output: out, preallocMetadata: true });
  const theirs = join(dir, 'pm-qemu.qcow2');
  qemuImgOk(['create', '-q', '-f', 'qcow2', '-o', 'preallocation=falloc,compat=1.1', theirs, '16384K']);
  assert.equal(spawnSync('cmp', [out, theirs]).status, 0, 'same bytes as qemu-img with libvirt\'s options');
  const raw = write('pmraw.xml', volume('pmraw.img', 'raw'));
  await assert.rejects(create({ uri: raw, output: join(dir, 'pmraw.img'), preallocMetadata: true }),
    /metadata preallocation is not supported for raw volumes/);
  assert.ok(!existsSync(join(dir, 'pmraw.img')));
  assert.deepEqual(leftovers(), []);
});

test('LUKS in qcow2: opens with the passphrase only; the <secret> XML is accepted by libvirt', async () => {
  // Not the oracle session's own secret uuid (SessionLibvirt defines that one at start).
  const uuid = '6f7d3b9e-2c41-4d8a-9e0b-5a1c2d3e4f50';
  const u = write('enc.xml', volume('enc.qcow2', 'qcow2', { encrypted: true, uuid }));
  const out = join(dir, 'enc.qcow2');
  const r = await create({ uri: u, output: out, passphrase: 'swordfish', writeSecretXml: true, iterTimeMs: 10 });
  const i = info(out) as { format: string; encrypted: boolean; 'format-specific': { data: { encrypt: { format: string } } } };
  assert.equal(i.format, 'qcow2');
  assert.equal(i.encrypted, true);
  assert.equal(i['format-specific'].data.encrypt.format, 'luks');
  assert.ok(qemuIo(out, 'qcow2', 'swordfish').ok);
  assert.equal(qemuIo(out, 'qcow2', 'wrong').ok, false, 'a wrong passphrase is refused');
  assert.equal(r.secretXml, `${out}.secret.xml`);
  const secret = readFileSync(r.secretXml!, 'utf8');
  assert.match(secret, new RegExp(`<uuid>${uuid}</uuid>`));
  assert.ok(secret.includes(`<volume>${out}</volume>`), secret);
  // libvirt's secret driver (session libvirtd, test/oracle/libvirt.ts) takes it as written.
  const lv = await SessionLibvirt.start();
  try {
    const v = await lv.defineSecret(secret);
    assert.ok(v.ok, v.message);
  } finally {
    await lv.stop();
  }
  assert.ok(!JSON.stringify(c.logs).includes('swordfish'), 'passphrase not logged');
});

test('raw + <encryption>: a raw LUKS container that qemu-io opens with the passphrase file setting', async () => {
  const u = write('rawenc.xml', volume('rawenc.img', 'raw', { encrypted: true }));
  const out = join(dir, 'rawenc.img');
  const pass = join(dir, 'passfile');
  writeFileSync(pass, 'from a file', { mode: 0o600 });
  c.settings = { libvirtVolume: { passphraseFile: pass } };
  void c.conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
  await new Promise((r) => setTimeout(r, 300));
  const r = await create({ uri: u, output: out, iterTimeMs: 10 });
  c.settings = {};
  void c.conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
  assert.equal(r.format, 'luks');
  assert.equal(info(out).format, 'luks');
  assert.ok(qemuIo(out, 'luks', 'from a file').ok);
  rmSync(pass);
});

test('refusals: errors listed, existing file kept, nothing written', async () => {
  const bad = write('bad.xml', volume('bad.qcow2', 'qcow3'));
  await assert.rejects(create({ uri: bad, output: join(dir, 'bad.qcow2') }), (e: Error) => /1 error\(s\) libvirt would refuse:\n\s+line 5: unsupported configuration: unknown volume format type qcow3 \[volume-format-unknown\]/.test(e.message));
  assert.ok(!existsSync(join(dir, 'bad.qcow2')));
  const u = write('exists.xml', volume('exists.qcow2', 'qcow2'));
  writeFileSync(join(dir, 'exists.qcow2'), 'keep me');
  await assert.rejects(create({ uri: u, output: join(dir, 'exists.qcow2') }), /exists \(pass force to replace it\)/);
  assert.equal(readFileSync(join(dir, 'exists.qcow2'), 'utf8'), 'keep me');
  const enc = write('nopass.xml', volume('nopass.qcow2', 'qcow2', { encrypted: true }));
  await assert.rejects(create({ uri: enc, output: join(dir, 'nopass.qcow2') }), /needs a passphrase/);
  const r = await create({ uri: u, output: join(dir, 'exists.qcow2'), force: true });
  assert.equal(info(r.image).format, 'qcow2');
  assert.deepEqual(leftovers(), []);
});

test('force never replaces a device node, FIFO or directory; images and XML are created 0600', async () => {
  const u = write('dev.xml', volume('dev.qcow2', 'qcow2'));
  const devNull = statSync('/dev/null');
  symlinkSync('/dev/null', join(dir, 'null-link'));
  mkdirSync(join(dir, 'a-folder'));
  const fifo = spawnSync('mkfifo', [join(dir, 'a-fifo')]).status === 0;
  for (const output of ['/dev/null', join(dir, 'null-link'), join(dir, 'a-folder'), ...(fifo ? [join(dir, 'a-fifo')] : [])]) {
    await assert.rejects(create({ uri: u, output, force: true }), /not a regular file|Is a directory/, output);
  }
  const after = statSync('/dev/null');
  assert.ok(after.isCharacterDevice() && after.ino === devNull.ino, '/dev/null is still the device');
  assert.deepEqual(leftovers(), []);
  // No <permissions><mode>: libvirt's default volume mode, 0600, whatever the umask.
  const r = await create({ new: { name: 'perm.img', capacity: '1M', format: 'raw' }, output: join(dir, 'perm.img') });
  assert.equal(statSync(r.image).mode & 0o777, 0o600);
  assert.equal(statSync(r.xml!).mode & 0o777, 0o600);
});

test('legacy qcow AES (a libvirt 4.0 document): refused until allowInsecureAes, then made without a passphrase', async () => {
  c.settings = { libvirtVolume: { libvirtVersion: '4.0.0' } };
  void c.conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
  await new Promise((r) => setTimeout(r, 300));
  try {
    const u = write('old.xml', volume('old.qcow2', 'qcow2', { extra: "\n    <encryption format='qcow'>\n      <secret type='passphrase' uuid='" + UUID + "'/>\n    </encryption>" }));
    const out = join(dir, 'old.qcow2');
    const d = await c.request<{ legacyAes: boolean; legacyAesWarning?: string; errors: unknown[] }>('workspace/executeCommand', { command: 'libvirtVolume.describeVolume', arguments: [{ uri: u }] });
    assert.deepEqual(d.errors, []);
    assert.equal(d.legacyAes, true);
    assert.match(d.legacyAesWarning ?? '', /insecure/);
    await assert.rejects(create({ uri: u, output: out }), /allowInsecureAes/);
    assert.ok(!existsSync(out));
    const r = await create({ uri: u, output: out, allowInsecureAes: true });
    assert.equal(r.format, 'qcow2');
    assert.deepEqual((info(out)['format-specific'] as { data: { encrypt?: { format: string } } }).data.encrypt, { format: 'aes' });
    assert.ok(qemuIo(out, 'qcow2', 'any passphrase: qcow AES keys come from it at open time').ok);
    assert.deepEqual(leftovers(), []);
  } finally {
    c.settings = {};
    void c.conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
    await new Promise((r) => setTimeout(r, 300));
  }
});

test('describeVolume: what the prompts need', async () => {
  const u = write('desc.xml', volume('desc.qcow2', 'qcow2', { encrypted: true, extra: '' }));
  const d = await c.request<{ name: string; format: string; encrypted: boolean; secretUuid: string; suggestedOutput: string; errors: unknown[] }>('workspace/executeCommand', { command: 'libvirtVolume.describeVolume', arguments: [{ uri: u }] });
  assert.deepEqual({ ...d, uri: undefined, capacity: undefined, encryptionFormat: undefined }, {
    uri: undefined, capacity: undefined, encryptionFormat: undefined,
    name: 'desc.qcow2', format: 'qcow2', encrypted: true, legacyAes: false, secretUuid: UUID, suggestedOutput: join(dir, 'desc.qcow2'), errors: [],
  });
});

test('wizard (no XML): writes a volume XML without errors and its image', async () => {
  const out = join(dir, 'wiz.qcow2');
  const r = await create({ new: { name: 'wiz.qcow2', capacity: '32M', format: 'qcow2', encrypted: true }, output: out, passphrase: 'pw', writeSecretXml: true, iterTimeMs: 10 });
  assert.equal(r.xml, join(dir, 'wiz.xml'));
  const xml = readFileSync(r.xml!, 'utf8');
  assert.match(xml, /<capacity unit="M">32<\/capacity>/);
  const d = await c.request<{ errors: unknown[]; encrypted: boolean; secretUuid: string }>('workspace/executeCommand', { command: 'libvirtVolume.describeVolume', arguments: [{ uri: pathToFileURL(r.xml!).href }] });
  assert.deepEqual(d.errors, []);
  assert.equal(d.encrypted, true);
  assert.match(readFileSync(r.secretXml!, 'utf8'), new RegExp(`<uuid>${d.secretUuid}</uuid>`));
  assert.equal(info(out)['virtual-size'], 32 * 2 ** 20);
  assert.ok(qemuIo(out, 'qcow2', 'pw').ok);
});

test('off the main thread: diagnostics answer during a long key derivation, and cancel leaves nothing', async () => {
  const u = write('slow.xml', volume('slow.qcow2', 'qcow2', { encrypted: true }));
  const out = join(dir, 'slow.qcow2');
  const tokensBefore = c.progressTokens.length;
  // 4 s of PBKDF2 (iter-time) in the worker; meanwhile the main thread must keep answering.
  const running = create({ uri: u, output: out, passphrase: 'pw', iterTimeMs: 4000 });
  const token = await c.until(() => c.progressTokens[tokensBefore], 5000, 'progress token');
  const doc = 'file:///tmp/lv-typing.xml';
  c.open(doc, volume('t.qcow2', 'qcow9'));
  const lat: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    await c.request('textDocument/hover', { textDocument: { uri: doc }, position: { line: 4, character: 20 } });
    lat.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 50));
  }
  await c.until(() => c.diagnostics.get(doc)?.some((d) => d.code === 'volume-format-unknown'), 2000, 'diagnostics while writing');
  console.log(`# hover latency during key derivation: max ${Math.max(...lat).toFixed(1)} ms`);
  assert.ok(Math.max(...lat) < 500, `hover answered within 500 ms (max ${Math.max(...lat).toFixed(0)})`);
  // The Cancel button of the progress notification.
  void c.conn.sendNotification('window/workDoneProgress/cancel', { token });
  await assert.rejects(running, /cancelled/);
  assert.ok(!existsSync(out), 'no image after cancel');
  assert.deepEqual(leftovers(), []);
});
