// Create Volume from Image over LSP (workspace/executeCommand libvirtVolume.createVolume with
// {from}, and libvirtVolume.describeImage), as the editor's "Libvirt: Create Volume from Image…"
// drives it. Inputs are made by qemu-img and qemu-io; every output is checked with qemu-img
// compare against its input, encrypted sides with their passphrases; refusals and cancel leave
// nothing behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TestClient } from '../helpers/lspClient';
import { qemuImgInfo, qemuImgOk, runOracle } from '../helpers/oracle';

const UUID = '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f';
const volume = (name: string, format: string, opts: { encrypted?: boolean; capacity?: string } = {}) =>
  `<volume>\n  <name>${name}</name>\n${opts.capacity === '' ? '' : `  <capacity unit='M'>${opts.capacity ?? '16'}</capacity>\n`}` +
  `  <target>\n    <format type='${format}'/>${format === 'qcow2' ? '\n    <compat>1.1</compat>' : ''}` +
  (opts.encrypted ? `\n    <encryption format='luks'><secret type='passphrase' uuid='${UUID}'/></encryption>` : '') +
  '\n  </target>\n</volume>\n';

let dir: string;
let c: TestClient;
const write = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return pathToFileURL(join(dir, name)).href;
};
const create = <T = { image: string; format: string; libvirtCommand?: string }>(args: object) =>
  c.request<T>('workspace/executeCommand', { command: 'libvirtVolume.createVolume', arguments: [args] });
const leftovers = () => readdirSync(dir).filter((n) => n.startsWith('.'));

/** qemu-img compare of two images; encrypted ones through --image-opts with their passphrases. */
function compare(a: string, b: string, secrets: { a?: string; b?: string } = {}): { status: number | null; out: string } {
  const side = (p: string, pw: string | undefined, id: string) => {
    if (pw === undefined) return `driver=${qemuImgInfo(p).format},file.filename=${p}`;
    const f = qemuImgInfo(p).format;
    return f === 'luks' ? `driver=luks,key-secret=${id},file.filename=${p}` : `driver=qcow2,encrypt.key-secret=${id},file.filename=${p}`;
  };
  const objects = [['sa', secrets.a], ['sb', secrets.b]].flatMap(([id, pw]) => (pw ? ['--object', `secret,id=${id},data=${pw}`] : []));
  const r = runOracle('qemu-img', ['compare', ...objects, '--image-opts', side(a, secrets.a, 'sa'), side(b, secrets.b, 'sb')]);
  return { status: r.status, out: r.stdout + r.stderr };
}

/** A 16 MiB input with data at several offsets, a zeroed range and holes. */
function input(name: string, format: 'raw' | 'qcow2' | 'luks', passphrase?: string): string {
  const p = join(dir, name);
  const secret = passphrase ? ['--object', `secret,id=s0,data=${passphrase}`] : [];
  const o = format === 'luks' ? ['-o', 'key-secret=s0,iter-time=10'] : [];
  qemuImgOk(['create', '-q', ...secret, '-f', format, ...o, p, '16M']);
  const open = format === 'luks' ? [...secret, '--image-opts', `driver=luks,key-secret=s0,file.filename=${p}`] : ['-f', format, p];
  for (const cmd of ['write -P 0x5a 0 64k', 'write -P 0xa5 3M 1M', 'write -z 3584k 64k', 'write -P 0x11 15M 4k']) {
    const r = runOracle('qemu-io', [...open, '-c', cmd]);
    assert.equal(r.status, 0, r.stderr);
  }
  return p;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lv-create-from-'));
  c = new TestClient({ rootPath: dir });
  await c.initialize();
});
after(async () => {
  await c.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test('describeImage: format and encryption of an input image, a clear error for a missing one', async () => {
  const raw = input('d.raw', 'raw');
  const luks = input('d.luks', 'luks', 'pw');
  const d = (path: string) => c.request<{ format: string; encrypted: boolean; virtualSize: number }>(
    'workspace/executeCommand', { command: 'libvirtVolume.describeImage', arguments: [{ path }] });
  assert.deepEqual(await d(raw), { format: 'raw', encrypted: false, virtualSize: 16 * 2 ** 20 });
  assert.deepEqual(await d(luks), { format: 'luks', encrypted: true, virtualSize: 16 * 2 ** 20 });
  await assert.rejects(d(join(dir, 'nope.img')), /cannot read the image .*nope\.img/);
  // A FIFO would block the server's thread on a read: refused from its stat, fast.
  assert.equal(spawnSync('mkfifo', [join(dir, 'fifo')]).status, 0);
  const t0 = performance.now();
  await assert.rejects(d(join(dir, 'fifo')), /cannot read the image .*fifo/);
  assert.ok(performance.now() - t0 < 3000);
  await assert.rejects(c.request('workspace/executeCommand', { command: 'libvirtVolume.describeImage', arguments: [{ path: 5 }] }),
    /'path' must be a string, got number/);
});

test('raw input → qcow2 volume: libvirt\'s convert line returned, the content identical, no capacity needed', async () => {
  const from = input('in.raw', 'raw');
  const u = write('q.xml', volume('q.qcow2', 'qcow2', { capacity: '' }));
  const out = join(dir, 'q.qcow2');
  const before = c.progress.length;
  const r = await create({ uri: u, from: 'in.raw', output: out });
  assert.equal(r.format, 'qcow2');
  assert.equal(r.libvirtCommand, `qemu-img convert -f raw -O qcow2 -o compat=1.1 ${from} ${out}`);
  assert.equal(qemuImgInfo(out)['virtual-size'], 16 * 2 ** 20);
  const cmp = compare(from, out);
  assert.equal(cmp.status, 0, cmp.out);
  const kinds = c.progress.slice(before).map((p) => p.value.kind);
  assert.equal(kinds[0], 'begin');
  assert.equal(kinds.at(-1), 'end');
  assert.deepEqual(leftovers(), []);
});

test('LUKS input → qcow2+LUKS volume: both passphrases; a missing or wrong input passphrase refused, nothing left', async () => {
  const from = input('in.luks', 'luks', 'in-pw');
  const u = write('e.xml', volume('e.qcow2', 'qcow2', { encrypted: true }));
  const out = join(dir, 'e.qcow2');
  await assert.rejects(create({ uri: u, from, output: out, passphrase: 'out-pw', iterTimeMs: 10 }),
    /input image .*in\.luks is encrypted: it needs fromPassphrase or fromPassphraseFile/);
  await assert.rejects(create({ uri: u, from, output: out, passphrase: 'out-pw', fromPassphrase: 'wrong', iterTimeMs: 10 }),
    /in\.luks': Invalid password, cannot unlock any keyslot/);
  assert.ok(!existsSync(out));
  assert.deepEqual(leftovers(), []);
  writeFileSync(join(dir, 'in.pw'), 'in-pw', { mode: 0o600 });
  const r = await create({ uri: u, from, output: out, passphrase: 'out-pw', fromPassphraseFile: join(dir, 'in.pw'), iterTimeMs: 10 });
  assert.equal(r.format, 'qcow2');
  assert.match(r.libvirtCommand!, /^qemu-img create -f qcow2 --object secret,id=e\.qcow2_encrypt0,file=SECRETFILE /);
  assert.match(r.libvirtCommand!, /\nqemu-img convert --image-opts -n --target-image-opts /);
  const i = qemuImgInfo(out);
  assert.equal(i.encrypted, true);
  const cmp = compare(from, out, { a: 'in-pw', b: 'out-pw' });
  assert.equal(cmp.status, 0, cmp.out);
  assert.deepEqual(leftovers(), []);
});

test('refusals before a byte: an existing output, the input as output, an unreadable input', async () => {
  const from = input('r.raw', 'raw');
  const u = write('r.xml', volume('r.img', 'raw'));
  writeFileSync(join(dir, 'exists.img'), 'keep');
  await assert.rejects(create({ uri: u, from, output: join(dir, 'exists.img') }), /exists/);
  await assert.rejects(create({ uri: u, from, output: from, force: true }), /the output is the input image/);
  await assert.rejects(create({ uri: u, from: join(dir, 'missing.raw'), output: join(dir, 'x.img') }),
    /cannot open the input image .*missing\.raw/);
  await assert.rejects(create({ uri: u, from: 42, output: join(dir, 'x.img') }), /'from' must be a string, got number/);
  assert.ok(!existsSync(join(dir, 'x.img')));
  assert.deepEqual(leftovers(), []);
});

test('cancel during the output\'s key derivation leaves nothing', async () => {
  input('c.raw', 'raw');
  const u = write('c.xml', volume('c.img', 'raw', { encrypted: true }));
  const out = join(dir, 'c.img');
  const tokensBefore = c.progressTokens.length;
  const running = create({ uri: u, from: 'c.raw', output: out, passphrase: 'pw', iterTimeMs: 4000 });
  const token = await c.until(() => c.progressTokens[tokensBefore], 5000, 'progress token');
  await new Promise((r) => setTimeout(r, 500));
  void c.conn.sendNotification('window/workDoneProgress/cancel', { token });
  await assert.rejects(running, /cancelled/);
  assert.ok(!existsSync(out), 'no image after cancel');
  assert.deepEqual(leftovers(), []);
});

test('a request with its own workDoneToken (VS Code\'s notification with Cancel): progress on that token, none created', async () => {
  const from = input('tok.raw', 'raw');
  const u = write('tok.xml', volume('tok.qcow2', 'qcow2', { capacity: '' }));
  const out = join(dir, 'tok.qcow2');
  const before = c.progress.length;
  const tokensBefore = c.progressTokens.length;
  const r = await c.request<{ image: string }>('workspace/executeCommand',
    { command: 'libvirtVolume.createVolume', arguments: [{ uri: u, from, output: out }], workDoneToken: 'editor-token-1' });
  assert.equal(r.image, out);
  const mine = c.progress.slice(before);
  assert.ok(mine.length >= 2, JSON.stringify(mine));
  assert.ok(mine.every((p) => p.token === 'editor-token-1'), `progress on the request's token: ${JSON.stringify(mine)}`);
  assert.deepEqual([mine[0].value.kind, mine.at(-1)!.value.kind], ['begin', 'end']);
  assert.equal(mine[0].value.message, 'tok.qcow2');
  assert.equal(c.progressTokens.length, tokensBefore, 'the server asked for no progress of its own');
  assert.equal(compare(from, out).status, 0);
});
