// The same pool creation over `qemu+ssh://` (issue 11): an sshd started here on a free 127.0.0.1
// port with throw-away host and user keys (openssh-server from scripts/setup-debian.sh), reaching
// the session libvirtd of test/oracle/libvirt.ts through libvirt's netcat proxy on the "remote"
// side. Nothing outside the test's own folder is touched: ssh runs through a wrapper (the URI's
// command=) that keeps its known_hosts in that folder.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionLibvirt } from './libvirt';
import { runCreate } from '../../server/src/cli/create';
import { listPools } from '../../server/src/host/pools';
import { qemuImg, runOracle } from '../helpers/oracle';

const SSHD = '/usr/sbin/sshd';
const skip = !existsSync(SSHD) || process.getuid?.() !== 0
  ? 'needs openssh-server (scripts/setup-debian.sh) and root (sshd with its own config)' : false;

let s: SessionLibvirt;
let dir: string;
let sshd: ChildProcess | undefined;
let uri: string;
const PASS = `h10-remote-${process.pid}`;

/** A free 127.0.0.1 port (the kernel's pick). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

// libvirt's netcat proxy runs `NETCAT [-q0] -U SOCKET` on the remote side (probing `-q` first,
// remote_driver / virnetsocket.c virNetSocketNewConnectSSH); Debian's image here has no nc, so
// this small bridge (node is on the "remote" host: it is this machine) plays it.
const NETCAT = (node: string) => `#!${node}
const a = process.argv.slice(2);
const i = a.indexOf('-U');
if (i < 0) { process.stderr.write('requires an argument -- q\\n'); process.exit(1); }
const c = require('node:net').connect(a[i + 1]);
process.stdin.pipe(c); c.pipe(process.stdout);
c.on('close', () => process.exit(0)); c.on('error', (e) => { process.stderr.write(String(e) + '\\n'); process.exit(1); });
`;

before(async () => {
  if (skip) return;
  s = await SessionLibvirt.start();
  dir = mkdtempSync(join(tmpdir(), 'lv-host-ssh-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'hostkey')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'userkey')]);
  execFileSync('cp', [join(dir, 'userkey.pub'), join(dir, 'authorized_keys')]);
  writeFileSync(join(dir, 'nc'), NETCAT(process.execPath), { mode: 0o755 });
  writeFileSync(join(dir, 'ssh'), `#!/bin/sh\nexec /usr/bin/ssh -F none -o UserKnownHostsFile=${join(dir, 'known_hosts')} -o StrictHostKeyChecking=accept-new -o BatchMode=yes "$@"\n`, { mode: 0o755 });
  const port = await freePort();
  writeFileSync(join(dir, 'sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'hostkey')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no',
    'StrictModes no', `PidFile ${join(dir, 'sshd.pid')}`, '',
  ].join('\n'));
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  sshd = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const sock = join(s.dir, 'run', 'libvirt', 'libvirt-sock');
  uri = `qemu+ssh://root@127.0.0.1:${port}/session?socket=${sock}&keyfile=${join(dir, 'userkey')}`
    + `&proxy=netcat&netcat=${join(dir, 'nc')}&command=${join(dir, 'ssh')}&no_tty=1`;
  // sshd needs a moment to listen.
  for (let i = 0; i < 50; i++) {
    try { await listPools({ uri }); return; } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
  await listPools({ uri });
});
after(async () => {
  sshd?.kill('SIGTERM');
  await s?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('qemu+ssh: listPools and a LUKS volume created through ssh (secret, value, vol-create)', { skip }, async () => {
  const pools = await listPools({ uri });
  assert.deepEqual(pools.map((p) => p.name).sort(), ['off', 'p', 'p2']);
  const xml = join(dir, 'r.xml');
  writeFileSync(xml, `<volume><name>ssh.img</name><capacity unit='M'>16</capacity><target><format type='raw'/>
    <encryption format='luks'><secret type='passphrase' uuid='b0f0c3d2-0c1e-4a55-9d7e-2f7f0a6c1e10'/></encryption></target></volume>`);
  writeFileSync(join(dir, 'pw'), PASS, { mode: 0o600 });
  let out = '', err = '';
  const code = await runCreate([xml, '--connect', uri, '--pool', 'p', '--passphrase-file', join(dir, 'pw')],
    { out: (x) => { out += x; }, err: (x) => { err += x; }, cwd: dir, isTTY: false });
  assert.equal(code, 0, err);
  assert.match(out, /Vol ssh\.img created in pool p/);
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
    const xml = join(dir, 'u.xml');
    writeFileSync(xml, "<volume><name>up.qcow2</name><capacity unit='M'>64</capacity><target><format type='qcow2'/><compat>1.1</compat></target></volume>");
    let out = '', err = '';
    const code = await runCreate([xml, '--connect', uri, '--pool', 'p2'],
      { out: (x) => { out += x; }, err: (x) => { err += x; }, cwd: dir, isTTY: false });
    assert.equal(code, 0, err);
    assert.match(out, /\(written here, uploaded\)/);
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
