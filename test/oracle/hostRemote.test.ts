// The same pool creation over `qemu+ssh://` (issue 11): an sshd started here on a free 127.0.0.1
// port with throw-away keys (test/oracle/hostSsh.ts) reaching the session libvirtd of
// test/oracle/libvirt.ts. Besides the flows of hostCreate.test.ts: a 1 GiB upload checked with
// qemu-img compare against the local image, cancels in the middle of vol-upload (CLI signal and
// the server's $/cancelRequest) and the failure paths, each leaving nothing in the pools or the
// secret list.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, copyFileSync, linkSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import { SessionLibvirt } from './libvirt';
import { SSH_SKIP as skip, startSshHost, type SshHost } from './hostSsh';
import { runCreate } from '../../server/src/cli/create';
import { createInPool } from '../../server/src/host/createInPool';
import { listPools } from '../../server/src/host/pools';
import { HostError } from '../../server/src/host/virsh';
import { writeVolumeImage } from '../../server/src/volumeImage';
import { qemuImg, runOracle } from '../helpers/oracle';
import { TestClient } from '../helpers/lspClient';

let s: SessionLibvirt;
let ssh: SshHost;
let dir: string;
let uri: string;
const PASS = `h10-remote-${process.pid}`;
const GiB = 1 << 30;

before(async () => {
  if (skip) return;
  s = await SessionLibvirt.start();
  ssh = await startSshHost(s);
  uri = ssh.uri;
  dir = mkdtempSync(join(tmpdir(), 'lv-host-remote-'));
  writeFileSync(join(dir, 'pw'), PASS, { mode: 0o600 });
});
after(async () => {
  await ssh?.stop();
  await s?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function cli(xmlText: string, args: string[], onOut?: (l: string) => void): Promise<{ code: number; out: string; err: string }> {
  const xml = join(dir, `v${Math.random().toString(36).slice(2)}.xml`);
  writeFileSync(xml, xmlText);
  let out = '', err = '';
  const code = await runCreate([xml, '--connect', uri, ...args],
    { out: (x) => { out += x; onOut?.(x); }, err: (x) => { err += x; }, cwd: dir, isTTY: false });
  return { code, out, err };
}

const lines = (t: string) => t.split('\n').map((l) => l.trim()).filter(Boolean);
async function virshOk(args: string[]): Promise<string> {
  const r = await s.virshRun(args);
  assert.equal(r.code, 0, `virsh ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
/** The pools' volumes and the secret list; a failed or cancelled run must leave this unchanged. */
async function snapshot(): Promise<string> {
  const vols = async (p: string) => lines(await virshOk(['vol-list', '--pool', p])).slice(2).map((l) => l.split(/\s+/)[0]).sort();
  const secrets = lines(await virshOk(['secret-list'])).slice(2).map((l) => l.split(/\s+/)[0]).sort();
  return JSON.stringify({ p: await vols('p'), p2: await vols('p2'), secrets });
}
const volPath = async (pool: string, name: string) =>
  /<path>([^<]+)<\/path>/.exec(await virshOk(['vol-dumpxml', '--pool', pool, name]))![1];

const luksXml = (name: string, capacity: string, uuid: string) =>
  `<volume><name>${name}</name><capacity unit='bytes'>${capacity}</capacity><target><format type='raw'/>
    <encryption format='luks'><secret type='passphrase' uuid='${uuid}'/></encryption></target></volume>`;

test('qemu+ssh: listPools and a LUKS volume created through ssh (secret, value, vol-create)', { skip }, async () => {
  const pools = await listPools({ uri });
  assert.deepEqual(pools.map((p) => p.name).sort(), ['off', 'p', 'p2']);
  const r = await cli(luksXml('ssh.img', String(16 << 20), 'b0f0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e10'),
    ['--pool', 'p', '--passphrase-file', join(dir, 'pw')]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /Vol ssh\.img created in pool p/);
  const d = await s.virshRun(['vol-dumpxml', '--pool', 'p', 'ssh.img']);
  assert.match(d.stdout, /<encryption format='luks'>/);
  const path = /<path>([^<]+)<\/path>/.exec(d.stdout)![1];
  const io = runOracle('qemu-io', ['--object', `secret,id=s0,data=${PASS}`, '--image-opts',
    `driver=luks,key-secret=s0,file.filename=${path}`, '-c', 'read 0 4k']);
  assert.equal(io.status, 0, io.stderr);
  const sx = await s.virshRun(['secret-dumpxml', 'b0f0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e10']);
  assert.ok(sx.stdout.includes(`<volume>${path}</volume>`), sx.stdout);
});

test('qemu+ssh: the host qemu-img fails → written here and streamed with vol-upload --sparse through ssh', { skip }, async () => {
  s.failHostQemuImg(true);
  try {
    const r = await cli("<volume><name>up.qcow2</name><capacity unit='M'>64</capacity><target><format type='qcow2'/><compat>1.1</compat></target></volume>",
      ['--pool', 'p2']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\(written here, uploaded\)/);
    const info = await s.virshRun(['vol-info', '--pool', 'p2', '--bytes', 'up.qcow2']);
    assert.match(info.stdout, /Capacity:\s+67108864 bytes/);
    const d = await s.virshRun(['vol-dumpxml', '--pool', 'p2', 'up.qcow2']);
    assert.match(d.stdout, /<format type='qcow2'\/>/);
    const path = /<path>([^<]+)<\/path>/.exec(d.stdout)![1];
    const check = qemuImg(['check', path]);
    assert.equal(check.status, 0, check.stderr);
  } finally {
    s.failHostQemuImg(false);
  }
});

test('qemu+ssh: a 1 GiB LUKS volume our writer makes (host qemu-img fails) equals the local image after upload', { skip }, async () => {
  // The writer's 1 GiB LUKS image is its header and key material (~ 260 KiB of data) and holes:
  // vol-upload --sparse must send the data and recreate the holes, the pool file then equals it.
  s.failHostQemuImg(true);
  const kept = join(dir, 'kept-luks.img');
  try {
    const r = await createInPool({
      conn: { uri }, pool: 'p', force: false, passphrase: new TextEncoder().encode(PASS), note: () => undefined,
      xmlText: luksXml('big-luks.img', String(GiB), 'b1f0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e11'),
      writeLocal: async (xmlText, output, signal) => {
        await writeVolumeImage({ xmlText, output, force: false, passphrase: PASS, iterTimeMs: 10 }, { progress: () => undefined, signal });
        copyFileSync(output, kept); // a sparse-aware copy (copy_file_range) of what is uploaded
      },
    });
    assert.ok(r.uploaded);
    const path = await volPath('p', 'big-luks.img');
    assert.equal(r.path, path);
    const cmp = qemuImg(['compare', '-f', 'raw', '-F', 'raw', kept, path]);
    assert.equal(cmp.status, 0, `${cmp.stdout}${cmp.stderr}`);
    assert.match(await virshOk(['vol-dumpxml', '--pool', 'p', 'big-luks.img']), /<encryption format='luks'>/);
    const io = runOracle('qemu-io', ['--object', `secret,id=s0,data=${PASS}`, '--image-opts',
      `driver=luks,key-secret=s0,file.filename=${path}`, '-c', `read 0 4k`]);
    assert.equal(io.status, 0, io.stderr);
  } finally {
    s.failHostQemuImg(false);
    rmSync(kept, { force: true });
  }
});

test('qemu+ssh: 1 GiB of real data uploaded through our path (vol-create placeholder, vol-upload --sparse)', { skip }, async () => {
  // Real data where it matters: 1 GiB with 768 MiB of random bytes in 64 MiB runs and 256 MiB
  // of holes between them (what a converted image looks like), not a file of holes.
  const image = join(dir, 'data.img');
  const fd = openSync(image, 'w');
  const chunk = Buffer.alloc(4 << 20);
  for (let off = 0; off < GiB; off += chunk.length) {
    if (Math.floor(off / (64 << 20)) % 4 === 3) continue; // every fourth 64 MiB run stays a hole
    writeSync(fd, randomFillSync(chunk), 0, chunk.length, off);
  }
  closeSync(fd);
  truncateSync(image, GiB);
  try {
    const t0 = Date.now();
    const notes: string[] = [];
    const r = await createInPool({
      conn: { uri }, pool: 'p2', force: false, uploadBecause: 'the test uploads real data', note: (l) => notes.push(l),
      xmlText: `<volume><name>data.img</name><capacity unit='bytes'>${GiB}</capacity><target><format type='raw'/></target></volume>`,
      writeLocal: async (_xml, output) => linkSync(image, output),
    });
    const s1 = (Date.now() - t0) / 1000;
    assert.ok(r.uploaded);
    assert.ok(notes.some((n) => n.includes(`uploading ${GiB} bytes into volume 'data.img'`)), notes.join('\n'));
    const path = await volPath('p2', 'data.img');
    const cmp = qemuImg(['compare', '-f', 'raw', '-F', 'raw', image, path]);
    assert.equal(cmp.status, 0, `${cmp.stdout}${cmp.stderr}`);
    assert.match(await virshOk(['vol-info', '--pool', 'p2', '--bytes', 'data.img']), new RegExp(`Capacity:\\s+${GiB} bytes`));
    // The holes stayed holes on the host: its allocation is the data's, not the whole GiB.
    const alloc = Number(/Allocation:\s+(\d+) bytes/.exec(await virshOk(['vol-info', '--pool', 'p2', '--bytes', 'data.img']))![1]);
    assert.ok(alloc < GiB - (200 << 20), `allocation ${alloc} of ${GiB}`);
    console.log(`# 1 GiB (768 MiB data) over ssh in ${s1.toFixed(1)} s`);
  } finally {
    rmSync(image, { force: true });
  }
});

test('qemu+ssh: CLI SIGINT during vol-upload → secret and volume removed, nothing left', { skip }, async () => {
  s.failHostQemuImg(true);
  ssh.throttle(64 << 10); // the header's ~260 KiB then take seconds
  try {
    const before = await snapshot();
    let timer: NodeJS.Timeout | undefined;
    const r = await cli(luksXml('cu.img', String(GiB), 'b2f0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e12'),
      ['--pool', 'p', '--passphrase-file', join(dir, 'pw')],
      (l) => { if (l.startsWith('uploading ')) timer = setTimeout(() => process.kill(process.pid, 'SIGINT'), 1000); });
    clearTimeout(timer);
    assert.equal(r.code, 130, r.err + r.out);
    assert.match(r.err, /interrupted; nothing this run defined was left behind/);
    assert.match(r.out, /rolled back: deleted volume 'cu\.img' from pool 'p'/);
    assert.match(r.out, /rolled back: undefined secret b2f0c3d2/);
    assert.equal(await snapshot(), before);
  } finally {
    ssh.throttle(0);
    s.failHostQemuImg(false);
  }
});

test('qemu+ssh: $/cancelRequest during vol-upload of the server\'s Create Volume → nothing left', { skip }, async () => {
  const c = new TestClient({ workDoneProgress: true });
  s.failHostQemuImg(true);
  ssh.throttle(64 << 10);
  try {
    await c.initialize();
    const before = await snapshot();
    const file = join(dir, 'lsp-up.xml');
    writeFileSync(file, luksXml('lu.img', String(GiB), 'b3f0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e13'));
    const cts = new CancellationTokenSource();
    const pending = c.conn.sendRequest('workspace/executeCommand', {
      command: 'libvirtVolume.createVolume',
      arguments: [{ uri: pathToFileURL(file).href, pool: 'p', connection: uri, passphrase: PASS, iterTimeMs: 10 }],
    }, cts.token);
    await c.until(() => c.progress.some((p) => /^uploading /.test(p.value.message ?? '')), 60_000, 'upload');
    await new Promise((r) => setTimeout(r, 1000));
    cts.cancel();
    await assert.rejects(pending, (e: { code: number }) => e.code === -32800);
    assert.ok(c.progress.some((p) => /rolled back: deleted volume 'lu\.img'/.test(p.value.message ?? '')) ||
      c.logs.some((l) => /rolled back: deleted volume 'lu\.img'/.test(l)), c.logs.join('\n'));
    assert.equal(await snapshot(), before);
  } finally {
    ssh.throttle(0);
    s.failHostQemuImg(false);
    await c.dispose();
  }
});

test('qemu+ssh: wrong pool, name collision and a closed ssh port are clear errors, nothing left', { skip }, async () => {
  const before = await snapshot();
  const wrong = await cli(luksXml('w.img', String(16 << 20), 'b4f0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e14'),
    ['--pool', 'nope', '--passphrase-file', join(dir, 'pw')]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /Storage pool not found: no storage pool with matching name 'nope'/);
  const clash = await cli(luksXml('ssh.img', String(16 << 20), 'b5f0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e15'),
    ['--pool', 'p', '--passphrase-file', join(dir, 'pw')]);
  assert.equal(clash.code, 1);
  assert.match(clash.err, /volume 'ssh\.img' already exists in pool 'p'/);
  assert.equal(await snapshot(), before);
  // Nothing listens on the port any more: ssh's own refusal, well within 10 s.
  const closed = uri.replace(/127\.0\.0\.1:\d+/, '127.0.0.1:1');
  const t0 = Date.now();
  await assert.rejects(listPools({ uri: closed }), (e: unknown) => e instanceof HostError && /Connection refused|connect/i.test(e.message));
  assert.ok(Date.now() - t0 < 10_000);
});
