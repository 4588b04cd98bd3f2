// Creating volumes (and their secrets) in real libvirt pools (issue 11): the CLI's
// `create VOLUME.xml --connect URI --pool NAME` and the server's libvirtVolume.createVolume
// {pool, connection} / listPools, against a session libvirtd started here (test/oracle/libvirt.ts)
// with two active dir pools and an inactive one. libvirt reports what was made (vol-info,
// vol-dumpxml, secret-dumpxml); qemu-io opens the encrypted images with the passphrase; every
// failure leaves nothing in the pools or the secret list; no child of ours ever carries the
// passphrase in its command line or environment.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import { ORACLE_SECRET_UUID, SessionLibvirt } from './libvirt';
import { runCreate } from '../../server/src/cli/create';
import { FLAKE_MESSAGE, qemuImgOk, runOracle } from '../helpers/oracle';
import { createInPool } from '../../server/src/host/createInPool';
import { ROOT, TestClient } from '../helpers/lspClient';
import { listPools } from '../../server/src/host/pools';
import { HostError } from '../../server/src/host/virsh';

let s: SessionLibvirt;
let dir: string;
const PASS = `h10-${process.pid}-${Date.now()}-pass`;
const UUID_A = 'b1f0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e01';

before(async () => {
  s = await SessionLibvirt.start();
  dir = mkdtempSync(join(tmpdir(), 'lv-host-create-'));
  writeFileSync(join(dir, 'pw'), PASS, { mode: 0o600 });
});
after(async () => {
  await s?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const volume = (name: string, format: 'raw' | 'qcow2', enc?: { uuid?: string }) => `<volume>
  <name>${name}</name>
  <capacity unit='M'>16</capacity>
  <target>
    <format type='${format}'/>${format === 'qcow2' ? '\n    <compat>1.1</compat>' : ''}${enc ? `
    <encryption format='luks'>${enc.uuid ? `
      <secret type='passphrase' uuid='${enc.uuid}'/>` : ''}
    </encryption>` : ''}
  </target>
</volume>
`;

interface CliRun { code: number; out: string; err: string; ms: number }
async function cli(xml: string, file: string, args: string[], onOut?: (line: string) => void): Promise<CliRun> {
  const path = join(dir, file);
  writeFileSync(path, xml);
  let out = '', err = '';
  const t0 = Date.now();
  const code = await runCreate([path, ...args], {
    out: (x) => { out += x; onOut?.(x); }, err: (x) => { err += x; }, cwd: dir, isTTY: false,
  });
  return { code, out, err, ms: Date.now() - t0 };
}

async function virshOk(args: string[]): Promise<string> {
  const r = await s.virshRun(args);
  assert.equal(r.code, 0, `virsh ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const lines = (t: string) => t.split('\n').map((l) => l.trim()).filter(Boolean);
// virsh 9.0's vol-list has no --name: the first column of its table (test names have no spaces).
const volumes = async (pool: string) => lines(await virshOk(['vol-list', '--pool', pool])).slice(2).map((l) => l.split(/\s+/)[0]).sort();
const secrets = async () => lines(await virshOk(['secret-list'])).slice(2).map((l) => l.split(/\s+/)[0]).sort();

/** What is in the pools and the secret list now; a failed run must leave this unchanged. */
async function snapshot(): Promise<string> {
  return JSON.stringify({ p: await volumes('p'), p2: await volumes('p2'), secrets: await secrets() });
}

/**
 * Every descendant of this process seen while `fn` runs: its command line and environment, read
 * from /proc every few milliseconds (virsh, and the shell and cat of a stdin pipeline).
 */
async function watchChildren<T>(fn: () => Promise<T>): Promise<{ value: T; seen: { cmdline: string; environ: string }[] }> {
  const seen = new Map<number, { cmdline: string; environ: string }>();
  const ours = new Set<number>([process.pid]);
  const poll = (): void => {
    for (const e of readdirSync('/proc')) {
      const pid = Number(e);
      if (!pid || seen.has(pid) || pid === process.pid) continue;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (!ours.has(ppid)) continue;
        ours.add(pid);
        seen.set(pid, {
          cmdline: readFileSync(`/proc/${pid}/cmdline`, 'utf8'), environ: readFileSync(`/proc/${pid}/environ`, 'utf8'),
        });
      } catch { /* gone already */ }
    }
  };
  const timer = setInterval(poll, 2);
  try {
    const value = await fn();
    return { value, seen: [...seen.values()] };
  } finally {
    clearInterval(timer);
  }
}

async function assertVolume(pool: string, name: string, format: string, encrypted: boolean): Promise<string> {
  const info = await virshOk(['vol-info', '--pool', pool, '--bytes', name]);
  assert.match(info, /Capacity:\s+16777216 bytes/);
  const xml = await virshOk(['vol-dumpxml', '--pool', pool, name]);
  assert.match(xml, new RegExp(`<format type='${format}'/>`), xml);
  const path = /<path>([^<]+)<\/path>/.exec(xml)![1];
  if (encrypted) {
    const uuid = /<secret type='passphrase' uuid='([^']+)'/.exec(xml)?.[1];
    assert.ok(uuid, `vol-dumpxml names the secret: ${xml}`);
    const sx = await virshOk(['secret-dumpxml', uuid]);
    assert.match(sx, /<usage type='volume'>/);
    assert.ok(sx.includes(`<volume>${path}</volume>`), `secret usage is the volume path ${path}: ${sx}`);
  }
  return path;
}

/** qemu-io opens the LUKS image with the passphrase (and not with another one). */
function assertOpens(path: string, format: 'raw' | 'qcow2', passphrase: string): void {
  const io = (pw: string) => runOracle('qemu-io', [
    '--object', `secret,id=sec0,data=${pw}`, '--image-opts',
    format === 'raw' ? `driver=luks,key-secret=sec0,file.filename=${path}`
      : `driver=qcow2,encrypt.key-secret=sec0,file.filename=${path}`,
    '-c', 'read 0 4k',
  ]);
  const good = io(passphrase);
  assert.equal(good.status, 0, `qemu-io with the passphrase: ${good.stderr}`);
  assert.notEqual(io(passphrase + 'x').status, 0, 'a wrong passphrase must not open it');
}

test('CLI: plain raw into pool p, qcow2 into pool p2', async () => {
  const a = await cli(volume('plain.raw', 'raw'), 'plain.xml', ['--connect', s.uri, '--pool', 'p']);
  assert.equal(a.code, 0, a.err);
  assert.match(a.out, /Vol plain\.raw created in pool p/);
  await assertVolume('p', 'plain.raw', 'raw', false);
  const b = await cli(volume('q.qcow2', 'qcow2'), 'q.xml', ['--connect', s.uri, '--pool', 'p2']);
  assert.equal(b.code, 0, b.err);
  await assertVolume('p2', 'q.qcow2', 'qcow2', false);
});

test('CLI: LUKS (passphrase from an environment variable) — no child sees it; qemu-io opens it', async () => {
  process.env.LV_H10_PASS = PASS;
  try {
    const { value: r, seen } = await watchChildren(() =>
      cli(volume('luks.img', 'raw', { uuid: UUID_A }), 'luks.xml', ['--connect', s.uri, '--pool', 'p', '--passphrase-env', 'LV_H10_PASS']));
    assert.equal(r.code, 0, r.err);
    assert.ok(seen.some((c) => c.cmdline.includes('secret-set-value')), 'the secret-set-value child was observed');
    for (const c of seen) {
      assert.ok(!c.cmdline.includes(PASS), `passphrase in a command line: ${c.cmdline.split('\0').join(' ')}`);
      assert.ok(!c.environ.includes(PASS), 'passphrase in a child environment');
      assert.ok(!c.environ.includes('LV_H10_PASS'), 'the variable itself is not passed on');
    }
    assert.ok(!r.out.includes(PASS) && !r.err.includes(PASS));
  } finally {
    delete process.env.LV_H10_PASS;
  }
  const path = await assertVolume('p', 'luks.img', 'raw', true);
  assertOpens(path, 'raw', PASS);
});

test('CLI: qcow2+LUKS without a <secret> gets a new uuid; passphrase file', async () => {
  const r = await cli(volume('ql.qcow2', 'qcow2', {}), 'ql.xml', ['--connect', s.uri, '--pool', 'p2', '--passphrase-file', join(dir, 'pw')]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /defined secret [0-9a-f-]{36} \(usage volume /);
  const path = await assertVolume('p2', 'ql.qcow2', 'qcow2', true);
  assertOpens(path, 'qcow2', PASS);
});

test('CLI: failure paths are clear errors and leave nothing behind', async () => {
  const before = await snapshot();
  const pw = ['--passphrase-file', join(dir, 'pw')];
  const unreachable = await cli(volume('u.img', 'raw'), 'u.xml', ['--connect', 'qemu+tcp://127.0.0.1:1/system', '--pool', 'p']);
  assert.equal(unreachable.code, 1);
  assert.ok(unreachable.ms < 10_000, `unreachable host answered in ${unreachable.ms} ms`);
  assert.match(unreachable.err, /unable to connect to server at '127\.0\.0\.1:1'/);
  const wrong = await cli(volume('w.img', 'raw'), 'w.xml', ['--connect', s.uri, '--pool', 'nope']);
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /Storage pool not found: no storage pool with matching name 'nope'/);
  const off = await cli(volume('o.img', 'raw', { uuid: 'c2f0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e02' }), 'o.xml', ['--connect', s.uri, '--pool', 'off', ...pw]);
  assert.equal(off.code, 1);
  assert.match(off.err, /storage pool 'off' is not active/);
  const clash = await cli(volume('plain.raw', 'raw'), 'clash.xml', ['--connect', s.uri, '--pool', 'p']);
  assert.equal(clash.code, 1);
  assert.match(clash.err, /volume 'plain\.raw' already exists in pool 'p' \(force replaces it\)/);
  // The harness' oracle secret belongs to another volume path: refused, not re-used.
  const secretClash = await cli(volume('sc.img', 'raw', { uuid: ORACLE_SECRET_UUID }), 'sc.xml', ['--connect', s.uri, '--pool', 'p', ...pw]);
  assert.equal(secretClash.code, 1);
  assert.match(secretClash.err, new RegExp(`secret ${ORACLE_SECRET_UUID} already exists .* with usage volume '/var/lib/libvirt/images/lvoracle.img'`));
  // Cancelled (SIGINT) right after the secret was defined: the secret is undefined again.
  const cancelled = await cli(volume('c.img', 'raw', { uuid: 'd3f0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e03' }), 'c.xml',
    ['--connect', s.uri, '--pool', 'p', ...pw], (l) => { if (l.startsWith('defined secret')) process.kill(process.pid, 'SIGINT'); });
  assert.equal(cancelled.code, 130, cancelled.err);
  assert.match(cancelled.out, /rolled back: undefined secret d3f0c3d2/);
  assert.equal(await snapshot(), before);
});

test('CLI: --force replaces an existing volume and says so', async () => {
  const r = await cli(volume('plain.raw', 'raw'), 'plain.xml', ['--connect', s.uri, '--pool', 'p', '--force']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /deleted the existing volume 'plain\.raw' from pool 'p' \(force\)/);
  await assertVolume('p', 'plain.raw', 'raw', false);
});

test('CLI: the host qemu-img fails its LUKS benchmark → our writer + vol-upload; cancel mid-way rolls back', async () => {
  s.failHostQemuImg(true);
  try {
    const before = await snapshot();
    const pw = ['--passphrase-file', join(dir, 'pw')];
    // Cancelled (SIGTERM) once the local write starts: volume and secret removed again.
    const c = await cli(volume('up-c.img', 'raw', { uuid: 'e4f0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e04' }), 'upc.xml', ['--connect', s.uri, '--pool', 'p', ...pw],
      (l) => { if (l.includes('writing it here and uploading')) process.kill(process.pid, 'SIGTERM'); });
    assert.equal(c.code, 143, c.err + c.out);
    assert.equal(await snapshot(), before);
    const r = await cli(volume('up.img', 'raw', { uuid: 'f5f0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e05' }), 'up.xml', ['--connect', s.uri, '--pool', 'p', ...pw]);
    assert.equal(r.code, 0, r.err);
    // The host's qemu-img failed with qemu's benchmark message (the harness' switch), named in the note.
    assert.ok(r.out.includes(`("${FLAKE_MESSAGE}"); writing it here and uploading`), r.out);
    assert.match(r.out, /\(written here, uploaded\)/);
    // pool-refresh probed the uploaded file: libvirt reports the LUKS volume and finds its secret by usage.
    const path = await assertVolume('p', 'up.img', 'raw', true);
    assertOpens(path, 'raw', PASS);
    const sx = await virshOk(['secret-dumpxml', 'f5f0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e05']);
    assert.ok(sx.includes(`<volume>${path}</volume>`));
  } finally {
    s.failHostQemuImg(false);
  }
});

test('LSP: listPools and createVolume {pool, connection} (qcow2+LUKS), -32602 on bad types', async () => {
  const c = new TestClient({ settings: { libvirtVolume: { connection: s.uri } } });
  try {
    await c.initialize();
    // The connection comes from the libvirtVolume.connection setting (read after initialized).
    await c.settingsChanged();
    const exec = <T>(command: string, arg: unknown) => c.executeCommand<T>(command, arg);
    const pools = await exec<{ name: string; type: string; active: boolean; capacity?: number; available?: number }[]>('libvirtVolume.listPools', {});
    assert.deepEqual(pools.map((p) => [p.name, p.type, p.active]).sort(), [['off', 'dir', false], ['p', 'dir', true], ['p2', 'dir', true]]);
    const p = pools.find((x) => x.name === 'p')!;
    assert.ok(typeof p.capacity === 'number' && p.capacity > 0 && typeof p.available === 'number');
    await assert.rejects(exec('libvirtVolume.createVolume', { uri: 'file:///x.xml', pool: 5 }), (e: { code: number }) => e.code === -32602);
    await assert.rejects(exec('libvirtVolume.listPools', { connection: true }), (e: { code: number }) => e.code === -32602);
    const file = join(dir, 'lsp.xml');
    writeFileSync(file, volume('lsp.qcow2', 'qcow2', { uuid: 'a6f0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e06' }));
    const r = await exec<{ image: string; format: string; pool: string; secretUuid: string }>('libvirtVolume.createVolume',
      { uri: pathToFileURL(file).href, pool: 'p2', passphrase: PASS });
    assert.equal(r.pool, 'p2');
    const path = await assertVolume('p2', 'lsp.qcow2', 'qcow2', true);
    assert.equal(r.image, path);
    assertOpens(path, 'qcow2', PASS);
    // No <secret> in the document: a new uuid, its secret defined with this volume's usage.
    writeFileSync(file, volume('lsp-new.img', 'raw', {}));
    const n = await exec<{ secretUuid: string }>('libvirtVolume.createVolume',
      { uri: pathToFileURL(file).href, pool: 'p', passphrase: PASS, iterTimeMs: 10 });
    assert.match(n.secretUuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assertOpens(await assertVolume('p', 'lsp-new.img', 'raw', true), 'raw', PASS);
    // Wrong pool over LSP: libvirt's message, nothing defined.
    const before = await snapshot();
    writeFileSync(file, volume('lsp2.img', 'raw', { uuid: 'a7f0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e07' }));
    await assert.rejects(exec('libvirtVolume.createVolume', { uri: pathToFileURL(file).href, pool: 'nope', passphrase: PASS }),
      (e: Error) => /Storage pool not found/.test(e.message));
    assert.equal(await snapshot(), before);
    assert.ok(!c.logs.join('\n').includes(PASS), 'the passphrase is never logged');
  } finally {
    await c.dispose();
  }
});

test('a host that accepts the connection but never answers: an error within 10 s, virsh killed; a refused XML ends the queries', async () => {
  // A real TCP listener on a free 127.0.0.1 port that takes the connection and says nothing:
  // virsh waits for libvirt's RPC answer, our deadline ends it.
  const sockets: Socket[] = [];
  const server = createServer((sock) => { sockets.push(sock); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    const t0 = Date.now();
    await assert.rejects(listPools({ uri: `qemu+tcp://127.0.0.1:${port}/system` }),
      (e: unknown) => e instanceof HostError && e.code === 'timeout' && /no answer from .* within 10 s/.test(e.message));
    const ms = Date.now() - t0;
    assert.ok(ms >= 9_000 && ms < 11_000, `timed out after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
    const left = readdirSync('/proc').filter((e) => /^\d+$/.test(e)).filter((pid) => {
      try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`127.0.0.1:${port}/`); } catch { return false; }
    });
    assert.deepEqual(left, [], 'the virsh that got no answer was killed');
    // The CLI asks the host while it judges the XML: a refused document ends those queries at once.
    const t1 = Date.now();
    const bad = await cli(volume('bad.img', 'raw').replace("unit='M'", "unit='parsecs'"), 'bad.xml',
      ['--connect', `qemu+tcp://127.0.0.1:${port}/system`, '--pool', 'p']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /libvirt would refuse this volume/);
    assert.ok(Date.now() - t1 < 5_000, `refused after ${Date.now() - t1} ms`);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(readdirSync('/proc').filter((e) => /^\d+$/.test(e)).filter((pid) => {
      try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`127.0.0.1:${port}/`); } catch { return false; }
    }).length, 0, 'the early pool queries were ended');
  } finally {
    for (const sock of sockets) sock.destroy();
    server.close();
  }
});

test('LSP: cancel while our writer makes the image for upload rolls back the secret and the volume', async () => {
  const c = new TestClient({ workDoneProgress: true });
  s.failHostQemuImg(true);
  try {
    await c.initialize();
    const before = await snapshot();
    const file = join(dir, 'lspc.xml');
    writeFileSync(file, volume('lspc.img', 'raw', { uuid: 'a8f0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e08' }));
    const cts = new CancellationTokenSource();
    // Default iter-time (2 s of key derivation in the worker): time to cancel mid-way.
    const pending = c.conn.sendRequest('workspace/executeCommand', {
      command: 'libvirtVolume.createVolume',
      arguments: [{ uri: pathToFileURL(file).href, pool: 'p', connection: s.uri, passphrase: PASS }],
    }, cts.token);
    await c.until(() => c.progress.some((p) => /writing it here|deriving/.test(p.value.message ?? '')), 30_000, 'local write');
    cts.cancel();
    await assert.rejects(pending, (e: { code: number }) => e.code === -32800);
    assert.equal(await snapshot(), before);
  } finally {
    s.failHostQemuImg(false);
    await c.dispose();
  }
});

test('the built CLI: --passphrase-stdin from a pipe, --prealloc-metadata, qcow2+LUKS into p2', () => {
  const xml = join(dir, 'bin.xml');
  writeFileSync(xml, volume('bin.qcow2', 'qcow2', { uuid: 'a9f0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e09' }));
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'libvirt-volume.js'), 'create', xml, '--connect', s.uri,
    '--pool', 'p2', '--prealloc-metadata', '--passphrase-stdin'], { input: PASS + '\n', encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Vol bin\.qcow2 created in pool p2/);
  assert.ok(!r.stdout.includes(PASS) && !r.stderr.includes(PASS));
  return assertVolume('p2', 'bin.qcow2', 'qcow2', true).then((path) => {
    // One trailing newline from a pipe is not part of the passphrase (as for local creation).
    assertOpens(path, 'qcow2', PASS);
  });
});

test('CLI: SIGINT while the host\'s qemu-img runs (vol-create) → the volume and the secret are removed', async () => {
  s.slowHostQemuImg(3);
  const timer = setInterval(() => {
    if (!s.hostQemuImgStarted()) return;
    clearInterval(timer); // one signal: after the run, SIGINT would end the test process itself
    process.kill(process.pid, 'SIGINT');
  }, 20);
  try {
    const before = await snapshot();
    const r = await cli(volume('slow.qcow2', 'qcow2', { uuid: 'aaf0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e0a' }), 'slow.xml',
      ['--connect', s.uri, '--pool', 'p', '--passphrase-file', join(dir, 'pw')]);
    assert.equal(r.code, 130, r.err + r.out);
    // virsh was killed, the daemon went on with the allocation: the rollback waited for it to end.
    assert.match(r.out, /waiting for the host to finish allocating 'slow\.qcow2' to delete it/);
    assert.match(r.out, /rolled back: deleted volume 'slow\.qcow2' from pool 'p'/);
    assert.match(r.out, /rolled back: undefined secret aaf0c3d2/);
    assert.equal(await snapshot(), before);
  } finally {
    clearInterval(timer);
    s.slowHostQemuImg(0);
  }
});

test('LSP: $/cancelRequest while the host\'s qemu-img runs → nothing left; failure paths answer clearly', async () => {
  const c = new TestClient({ workDoneProgress: true });
  s.slowHostQemuImg(3);
  try {
    await c.initialize();
    const before = await snapshot();
    const file = join(dir, 'lsp-slow.xml');
    writeFileSync(file, volume('lsp-slow.img', 'raw', { uuid: 'abf0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e0b' }));
    const cts = new CancellationTokenSource();
    const pending = c.conn.sendRequest('workspace/executeCommand', {
      command: 'libvirtVolume.createVolume',
      arguments: [{ uri: pathToFileURL(file).href, pool: 'p', connection: s.uri, passphrase: PASS }],
    }, cts.token);
    await c.until(() => s.hostQemuImgStarted(), 30_000, "the host's qemu-img");
    cts.cancel();
    await assert.rejects(pending, (e: { code: number }) => e.code === -32800);
    assert.equal(await snapshot(), before);
    s.slowHostQemuImg(0);
    // The refusals the CLI test checks, through the server: InvalidParams / RequestFailed with libvirt's words.
    const create = (name: string, pool: string, uuid: string, connection = s.uri) => {
      writeFileSync(file, volume(name, 'raw', { uuid }));
      return c.request('workspace/executeCommand', {
        command: 'libvirtVolume.createVolume', arguments: [{ uri: pathToFileURL(file).href, pool, connection, passphrase: PASS }],
      });
    };
    await assert.rejects(create('l-off.img', 'off', 'acf0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e0c'),
      (e: { code: number; message: string }) => e.code === -32602 && /storage pool 'off' is not active/.test(e.message));
    await assert.rejects(create('plain.raw', 'p', 'adf0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e0d'),
      (e: { code: number; message: string }) => e.code === -32602 && /volume 'plain\.raw' already exists in pool 'p'/.test(e.message));
    await assert.rejects(create('l-sc.img', 'p', ORACLE_SECRET_UUID),
      (e: { code: number; message: string }) => e.code === -32602 && new RegExp(`secret ${ORACLE_SECRET_UUID} already exists`).test(e.message));
    const t0 = Date.now();
    await assert.rejects(create('l-u.img', 'p', 'aef0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e0e', 'qemu+tcp://127.0.0.1:1/system'),
      (e: { code: number; message: string }) => e.code === -32803 && /unable to connect to server at '127\.0\.0\.1:1'/.test(e.message));
    assert.ok(Date.now() - t0 < 10_000);
    assert.equal(await snapshot(), before);
  } finally {
    s.slowHostQemuImg(0);
    await c.dispose();
  }
});

test('LIBVIRT_DEFAULT_URI: the CLI without --connect uses it (as virsh); the server after its setting', async () => {
  process.env.LIBVIRT_DEFAULT_URI = s.uri;
  try {
    const r = await cli(volume('env.raw', 'raw'), 'env.xml', ['--pool', 'p']);
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.includes(`Vol env.raw created in pool p on ${s.uri}`), r.out);
  } finally {
    delete process.env.LIBVIRT_DEFAULT_URI;
  }
  await assertVolume('p', 'env.raw', 'raw', false);
  const none = await cli(volume('none.raw', 'raw'), 'none.xml', ['--pool', 'p']);
  assert.equal(none.code, 2); // a usage error, like a missing argument
  assert.match(none.err, /--pool needs a connection: --connect URI or LIBVIRT_DEFAULT_URI/);

  const exec = (c: TestClient, command: string, arg: unknown) => c.executeCommand<{ name: string }[]>(command, arg);
  // A server started with LIBVIRT_DEFAULT_URI and no setting: pool commands use it.
  const withEnv = new TestClient({ env: { ...process.env, LIBVIRT_DEFAULT_URI: s.uri } });
  try {
    await withEnv.initialize();
    const pools = await exec(withEnv, 'libvirtVolume.listPools', {});
    assert.deepEqual(pools.map((p) => p.name).sort(), ['off', 'p', 'p2']);
    const file = join(dir, 'env-lsp.xml');
    writeFileSync(file, volume('env-lsp.raw', 'raw'));
    const made = await withEnv.request<{ pool: string }>('workspace/executeCommand',
      { command: 'libvirtVolume.createVolume', arguments: [{ uri: pathToFileURL(file).href, pool: 'p2' }] });
    assert.equal(made.pool, 'p2');
    await assertVolume('p2', 'env-lsp.raw', 'raw', false);
    // The setting is this workspace's choice: it wins over the inherited variable.
    withEnv.settings = { libvirtVolume: { connection: 'qemu+tcp://127.0.0.1:1/system' } };
    await withEnv.settingsChanged();
    await assert.rejects(exec(withEnv, 'libvirtVolume.listPools', {}), (e: Error) => /127\.0\.0\.1:1/.test(e.message));
  } finally {
    await withEnv.dispose();
  }
  // listPools' failures are answers, not crashes: no virsh on the server's PATH names the package.
  const noVirsh = new TestClient({ env: { ...process.env, PATH: '/nonexistent' } });
  try {
    await noVirsh.initialize();
    await assert.rejects(exec(noVirsh, 'libvirtVolume.listPools', { connection: s.uri }),
      (e: { code: number; message: string; data?: { host?: string } }) =>
        e.code === -32803 && /virsh not found: install the Debian package libvirt-clients/.test(e.message) && e.data?.host === 'no-virsh');
    // The server is still there and answers the next command.
    const d = await noVirsh.request<{ name: string }>('workspace/executeCommand',
      { command: 'libvirtVolume.describeVolume', arguments: [{ uri: pathToFileURL(join(dir, 'env.xml')).href }] });
    assert.equal(d.name, 'env.raw');
  } finally {
    await noVirsh.dispose();
  }
  // Neither: offline, and the error names all three ways.
  const env = { ...process.env };
  delete env.LIBVIRT_DEFAULT_URI;
  const bare = new TestClient({ env });
  try {
    await bare.initialize();
    await assert.rejects(exec(bare, 'libvirtVolume.listPools', {}),
      (e: { code: number; message: string }) => e.code === -32602 && /LIBVIRT_DEFAULT_URI/.test(e.message));
  } finally {
    await bare.dispose();
  }
});

test('an upload while another volume of the pool is being allocated waits for pool-refresh, not rolled back', async () => {
  s.slowHostQemuImg(2);
  try {
    // Someone else's vol-create, slow on the host: libvirt refuses pool-refresh meanwhile.
    const other = s.virshRun(['vol-create-as', 'p', 'busy.qcow2', '16M', '--format', 'qcow2'], 60_000);
    await new Promise<void>((res) => { const t = setInterval(() => { if (s.hostQemuImgStarted()) { clearInterval(t); res(); } }, 20); });
    s.slowHostQemuImg(0);
    // Our upload path (as `create --from` or a host without qemu-img): a 16 MiB qcow2 made here.
    const r = await createInPool({
      conn: { uri: s.uri }, pool: 'p', force: false, uploadBecause: 'the test uploads real data', note: () => undefined,
      xmlText: volume('while-busy.qcow2', 'qcow2'),
      writeLocal: async (_xml, output) => { qemuImgOk(['create', '-q', '-f', 'qcow2', output, '16M']); },
    });
    assert.ok(r.uploaded);
    assert.equal((await other).code, 0);
    // The refresh ran after the other allocation: libvirt probed the uploaded file as qcow2.
    await assertVolume('p', 'while-busy.qcow2', 'qcow2', false);
    assert.ok((await volumes('p')).includes('busy.qcow2'));
  } finally {
    s.slowHostQemuImg(0);
  }
});

test("a failed local write rolls back nothing it did not make: a volume of that name created meanwhile stays", async () => {
  await assert.rejects(createInPool({
    conn: { uri: s.uri }, pool: 'p', force: false, uploadBecause: 'the test uploads real data', note: () => undefined,
    xmlText: volume('theirs.img', 'raw'),
    writeLocal: async () => {
      // Someone else takes the name while our writer works; then the writer fails.
      const r = await s.virshRun(['vol-create-as', 'p', 'theirs.img', '1M']);
      assert.equal(r.code, 0, r.stderr);
      throw new Error('No space left on device');
    },
  }), /No space left on device/);
  assert.ok((await volumes('p')).includes('theirs.img'), 'the other volume was not deleted');
  await virshOk(['vol-delete', '--pool', 'p', 'theirs.img']);
});

test("an upload's commands over one virsh connection keep a name with a space, a quote and a ';' intact", async () => {
  const name = "a b's;#1.qcow2";
  const r = await createInPool({
    conn: { uri: s.uri }, pool: 'p2', force: false, uploadBecause: 'the test uploads real data', note: () => undefined,
    xmlText: volume(name.replace("'", '&apos;'), 'qcow2'),
    writeLocal: async (_xml, output) => { qemuImgOk(['create', '-q', '-f', 'qcow2', output, '16M']); },
  });
  assert.equal(r.name, name);
  const xml = await virshOk(['vol-dumpxml', '--pool', 'p2', name]);
  assert.match(xml, /<format type='qcow2'\/>/);
  await virshOk(['vol-delete', '--pool', 'p2', name]);
});
