// The pools view's server commands (issue 11, "VS Code view"): libvirtVolume.listVolumes and
// libvirtVolume.volumeXml over the built server, against a session libvirtd started here
// (test/oracle/libvirt.ts: dir pools p, p2, inactive off). Volumes with names virsh's vol-list table
// makes hard (spaces, non-ASCII, wide characters, a quote, three spaces) are listed with the sizes
// `vol-info --bytes` reports; the XML is virsh's own vol-dumpxml; an inactive or unknown pool is
// libvirt's message as a result error; wrong argument types are -32602.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ORACLE_SECRET_UUID, SessionLibvirt } from './libvirt';
import { TestClient } from '../helpers/lspClient';
import { volumeNames } from '../../server/src/host/volumes';

let s: SessionLibvirt;
let dir: string;
const NAMES = ['a b é.img', "日本   語's.img", 'plain.qcow2', 'enc.qcow2'];

const volume = (name: string, format: string, encrypted = false) => `<volume>
  <name>${name.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;')}</name>
  <capacity unit='M'>${8 + NAMES.indexOf(name)}</capacity>
  <target>
    <format type='${format}'/>${encrypted ? `
    <encryption format='luks'><secret type='passphrase' uuid='${ORACLE_SECRET_UUID}'/></encryption>` : ''}
  </target>
</volume>
`;

before(async () => {
  s = await SessionLibvirt.start();
  dir = mkdtempSync(join(tmpdir(), 'lv-pool-volumes-'));
  for (const [i, name] of NAMES.entries()) {
    const f = join(dir, `v${i}.xml`);
    writeFileSync(f, volume(name, name.endsWith('.qcow2') ? 'qcow2' : 'raw', name === 'enc.qcow2'));
    // Documents are read by the daemon's user (uid 65534 when the tests run as root).
    spawnSync('chmod', ['-R', 'a+rX', dir]);
    const r = await s.virshRun(['vol-create', 'p2', f], 120_000);
    assert.equal(r.code, 0, `vol-create ${name}: ${r.stderr}`);
  }
});
after(async () => {
  await s?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Volume = { name: string; path?: string; capacity?: number; allocation?: number; format?: string; encrypted: boolean };

test("vol-list's table in a UTF-8 locale: every name back, whatever its spaces and widths", () => {
  // The table of the test driver (a node file of our own), read as listVolumes reads vol-list's.
  const node = join(dir, 'node.xml');
  const vols = NAMES.map((n) => `<volume><name>${n.replace(/'/g, '&apos;')}</name><capacity>1</capacity></volume>`);
  writeFileSync(node, `<node><pool type='dir'><name>tp</name><uuid>35bb2ad9-388a-cdfe-461a-b8907f6e53fe</uuid>
    <target><path>/tp</path></target>${vols.join('')}</pool></node>`);
  const r = spawnSync('virsh', ['-c', `test://${node}`, 'vol-list', 'tp'], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C.UTF-8' } });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(volumeNames(r.stdout).sort(), [...NAMES].sort());
});

test('LSP: listVolumes and volumeXml against the session daemon; errors as results; -32602 field checks', async () => {
  const c = new TestClient({ settings: { libvirtVolume: { connection: s.uri } } });
  try {
    await c.initialize();
    await c.settingsChanged();
    const exec = <T>(command: string, arg: unknown) => c.executeCommand<T>(command, arg);

    const t0 = Date.now();
    const vols = await exec<Volume[]>('libvirtVolume.listVolumes', { pool: 'p2' });
    const ms = Date.now() - t0;
    assert.deepEqual(vols.map((v) => v.name).sort(), [...NAMES].sort());
    for (const v of vols) {
      // vol-info --bytes is libvirt's own account of the same volume (another command than ours).
      const info = await s.virshRun(['vol-info', '--bytes', '--pool', 'p2', '--', v.name]);
      assert.equal(info.code, 0, info.stderr);
      const field = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) bytes`, 'm').exec(info.stdout)?.[1]);
      assert.equal(v.capacity, field('Capacity'), v.name);
      assert.equal(v.allocation, field('Allocation'), v.name);
      assert.equal(v.capacity, (8 + NAMES.indexOf(v.name)) * 2 ** 20, v.name);
      assert.equal(v.path, join(s.pool2, v.name));
      assert.equal(v.format, v.name.endsWith('.qcow2') ? 'qcow2' : 'raw', v.name);
      assert.equal(v.encrypted, v.name === 'enc.qcow2', v.name);
    }
    console.log(`# listVolumes of ${vols.length} volumes: ${ms} ms`);
    // An empty pool is an empty list; the connection may also come with the call.
    assert.deepEqual(await exec<Volume[]>('libvirtVolume.listVolumes', { pool: 'p', connection: s.uri }), []);

    for (const name of ["日本   語's.img", 'enc.qcow2']) {
      const xml = await exec<string>('libvirtVolume.volumeXml', { pool: 'p2', name });
      const direct = await s.virshRun(['vol-dumpxml', '--pool', 'p2', '--', name]);
      assert.equal(xml, direct.stdout);
    }

    // libvirt's own words, as errors the view shows (RequestFailed, not a crash or InternalError).
    const failed = (re: RegExp) => (e: { code: number; message: string }) => e.code === -32803 && re.test(e.message);
    await assert.rejects(exec('libvirtVolume.listVolumes', { pool: 'off' }), failed(/storage pool 'off' is not active/));
    await assert.rejects(exec('libvirtVolume.listVolumes', { pool: 'nope' }), failed(/Storage pool not found/));
    await assert.rejects(exec('libvirtVolume.volumeXml', { pool: 'p2', name: 'gone.img' }), failed(/Storage volume not found/));

    const invalid = (re: RegExp) => (e: { code: number; message: string }) => e.code === -32602 && re.test(e.message);
    await assert.rejects(exec('libvirtVolume.listVolumes', {}), invalid(/needs \{pool\}/));
    await assert.rejects(exec('libvirtVolume.listVolumes', { pool: 5 }), invalid(/'pool' must be a string, got number/));
    await assert.rejects(exec('libvirtVolume.listVolumes', { pool: 'p', name: 'x' }), invalid(/unknown argument 'name'/));
    await assert.rejects(exec('libvirtVolume.volumeXml', { pool: 'p2' }), invalid(/needs \{name\}/));
    await assert.rejects(exec('libvirtVolume.volumeXml', { pool: 'p2', name: ['x'] }), invalid(/'name' must be a string, got array/));
    await assert.rejects(exec('libvirtVolume.volumeXml', { pool: 'p2', name: 'x', connection: false }), invalid(/'connection' must be a string/));
  } finally {
    await c.dispose();
  }
});

test('LSP: no connection anywhere is -32602 naming the setting', async () => {
  const c = new TestClient();
  try {
    await c.initialize();
    const exec = (command: string, arg: unknown) => c.executeCommand(command, arg);
    for (const [command, arg] of [['libvirtVolume.listVolumes', { pool: 'p' }], ['libvirtVolume.volumeXml', { pool: 'p', name: 'x' }]] as const) {
      await assert.rejects(exec(command, arg), (e: { code: number; message: string }) =>
        e.code === -32602 && /libvirtVolume\.connection setting/.test(e.message));
    }
  } finally {
    await c.dispose();
  }
});
