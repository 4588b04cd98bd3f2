// A "remote" libvirt host for tests and benches (issue 11): an sshd started here on a free
// 127.0.0.1 port with throw-away host and user keys (openssh-server from scripts/setup-debian.sh),
// and a `qemu+ssh://` URI reaching the session libvirtd of test/oracle/libvirt.ts through
// libvirt's netcat proxy on the "remote" side. Nothing outside its own folder is touched: ssh runs
// through a wrapper (the URI's command=) that keeps its known_hosts in that folder.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listPools } from '../../server/src/host/pools';
import type { SessionLibvirt } from './libvirt';

const SSHD = '/usr/sbin/sshd';

/** Why the ssh host cannot start here (a test's `skip`), or false. */
export const SSH_SKIP: string | false =
  !existsSync(SSHD) || process.getuid?.() !== 0
    ? 'needs openssh-server (scripts/setup-debian.sh) and root (sshd with its own config)'
    : false;

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
// this small bridge (node is on the "remote" host: it is this machine) plays it. When the file
// `slow` holds a number, the client → daemon direction of new connections is held to that many
// bytes a second (an upload that lasts long enough to be cancelled mid-way).
const NETCAT = (node: string, slowFile: string) => `#!${node}
const a = process.argv.slice(2);
const i = a.indexOf('-U');
if (i < 0) { process.stderr.write('requires an argument -- q\\n'); process.exit(1); }
const c = require('node:net').connect(a[i + 1]);
let rate = 0;
try { rate = Number(require('node:fs').readFileSync(${JSON.stringify(slowFile)}, 'utf8')) || 0; } catch {}
if (!rate) process.stdin.pipe(c);
else {
  process.stdin.on('data', (b) => {
    c.write(b);
    process.stdin.pause();
    setTimeout(() => process.stdin.resume(), (b.length / rate) * 1000);
  });
  process.stdin.on('end', () => c.end());
}
c.pipe(process.stdout);
c.on('close', () => process.exit(0)); c.on('error', (e) => { process.stderr.write(String(e) + '\\n'); process.exit(1); });
`;

export interface SshHost {
  /** qemu+ssh://root@127.0.0.1:PORT/session?socket=…: the session daemon, through ssh. */
  readonly uri: string;
  readonly dir: string;
  /** Holds uploads of connections opened from now on to `bytesPerSecond` (0: full speed). */
  throttle(bytesPerSecond: number): void;
  stop(): Promise<void>;
}

export async function startSshHost(s: SessionLibvirt): Promise<SshHost> {
  const dir = mkdtempSync(join(tmpdir(), 'lv-host-ssh-'));
  let sshd: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    if (sshd && sshd.exitCode === null) {
      const gone = new Promise((r) => sshd!.once('exit', r));
      sshd.kill('SIGTERM');
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'hostkey')]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'userkey')]);
    execFileSync('cp', [join(dir, 'userkey.pub'), join(dir, 'authorized_keys')]);
    const slowFile = join(dir, 'slow');
    // libvirt runs the netcat twice a connection (its `-q` probe, then the bridge): the probe is
    // answered by the shell, so a connection costs one node start-up, not two.
    writeFileSync(join(dir, 'nc.js'), NETCAT(process.execPath, slowFile), { mode: 0o755 });
    writeFileSync(join(dir, 'nc'), `#!/bin/sh\ncase " $* " in *" -U "*) exec ${join(dir, 'nc.js')} "$@";; esac\n`
      + 'echo "requires an argument -- q" >&2; exit 1\n', { mode: 0o755 });
    writeFileSync(
      join(dir, 'ssh'),
      `#!/bin/sh\nexec /usr/bin/ssh -F none -o UserKnownHostsFile=${join(dir, 'known_hosts')} ` +
        '-o StrictHostKeyChecking=accept-new -o BatchMode=yes "$@"\n',
      { mode: 0o755 },
    );
    const port = await freePort();
    writeFileSync(join(dir, 'sshd_config'), [
      `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'hostkey')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PermitRootLogin prohibit-password',
      'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no',
      `PidFile ${join(dir, 'sshd.pid')}`, '',
    ].join('\n'));
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    sshd = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'ignore'] });
    const sock = join(s.dir, 'run', 'libvirt', 'libvirt-sock');
    const uri = `qemu+ssh://root@127.0.0.1:${port}/session?socket=${sock}&keyfile=${join(dir, 'userkey')}`
      + `&proxy=netcat&netcat=${join(dir, 'nc')}&command=${join(dir, 'ssh')}&no_tty=1`;
    // sshd needs a moment to listen.
    for (let i = 0; i < 50; i++) {
      try {
        await listPools({ uri });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await listPools({ uri });
    return {
      uri,
      dir,
      throttle(bytesPerSecond: number) {
        if (bytesPerSecond > 0) writeFileSync(slowFile, String(bytesPerSecond));
        else rmSync(slowFile, { force: true });
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
