// Issue 16 §4 on the command line, with the built CLI (bin/libvirt-volume.js) as users run it:
// `info` and `check` on FIFOs and other non-regular files finish at once with a clear error,
// passphrase files that are FIFOs, /dev/zero or too big are refused before anything is written,
// and `--passphrase-stdin` on a terminal (a real pty) reads one line without echo.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT } from '../helpers/lspClient';
import { qemuImgOk } from '../helpers/oracle';
import { fileDiskDomain } from '../helpers/documents';

const BIN = join(ROOT, 'bin', 'libvirt-volume.js');
/** Every hostile run must end within this (ms); before the fix they blocked forever. */
const BOUND_MS = 5000;

let dir: string;
let fifo: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lv-cli-hostile-'));
  fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Peak RSS any hostile run may reach (bytes): /dev/zero read whole took gigabytes before. */
const MEMORY_BOUND = 256 * 1024 * 1024;

/** Runs the CLI under GNU time (for the peak RSS), bounded in time and memory. */
function run(args: string[], input?: string) {
  const t0 = performance.now();
  const rss = join(dir, 'rss');
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', rss, process.execPath, BIN, ...args],
    { encoding: 'utf8', timeout: BOUND_MS, input, cwd: dir });
  const ms = performance.now() - t0;
  assert.notEqual(r.signal, 'SIGTERM', `libvirt-volume ${args.join(' ')}: still running after ${BOUND_MS} ms`);
  const peak = Number(readFileSync(rss, 'utf8').trim().split('\n').pop()) * 1024;
  assert.ok(peak < MEMORY_BOUND, `libvirt-volume ${args.join(' ')}: peak RSS ${peak} bytes`);
  return { ...r, ms };
}

test('info on a FIFO, a directory and a character device: a clear error at once, other files still read', () => {
  const img = join(dir, 'a.qcow2');
  qemuImgOk(['create', '-q', '-f', 'qcow2', img, '1M']);
  const r = run(['info', fifo, dir, '/dev/zero', img]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`Could not open '${fifo}': a FIFO, not a regular file or block device`));
  assert.match(r.stderr, /Could not open '.*': a directory, not a regular file or block device/);
  assert.match(r.stderr, /Could not open '\/dev\/zero': a character device, not a regular file or block device/);
  assert.match(r.stdout, /file format: qcow2/);
});

test('check on documents naming a FIFO (volume target and backing store, disk source) ends at once', () => {
  writeFileSync(join(dir, 'vol.xml'), `<volume>
  <name>v</name>
  <capacity unit='M'>1</capacity>
  <target><path>${fifo}</path><format type='qcow2'/></target>
  <backingStore><path>${fifo}</path><format type='qcow2'/></backingStore>
</volume>
`);
  writeFileSync(join(dir, 'dom.xml'), fileDiskDomain(fifo));
  const r = run(['check', join(dir, 'vol.xml'), join(dir, 'dom.xml')]);
  assert.ok(r.status === 0 || r.status === 1, `${r.status}: ${r.stderr}`);
  assert.match(r.stdout + r.stderr, /2 files checked/);
  assert.ok(r.ms < BOUND_MS);
});

test('create with a FIFO or /dev/zero as backing file: refused at once, nothing written', () => {
  for (const [backing, message] of [[fifo, /a FIFO, not a regular file/], ['/dev/zero', /a character device/]] as const) {
    const img = join(dir, 'over.qcow2');
    const r = run(['create', '-f', 'qcow2', '-b', backing, '-F', 'raw', img, '1M']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.ok(!existsSync(img));
  }
});

test('--passphrase-file and secret file=: FIFO, /dev/zero, a directory, > 64 KiB refused before writing', () => {
  const big = join(dir, 'big');
  writeFileSync(big, Buffer.alloc(64 * 1024 + 1, 0x61));
  const cases: [string, RegExp][] = [
    [fifo, /a FIFO, not a regular file/],
    ['/dev/zero', /a character device, not a regular file/],
    [dir, /a directory, not a regular file/],
    [big, /larger than 64 KiB, not a passphrase file/],
  ];
  for (const [file, message] of cases) {
    for (const how of [['--passphrase-file', file], ['--object', `secret,id=s0,file=${file}`, '-o', 'key-secret=s0']]) {
      for (const fmt of [['-f', 'luks'], ['-f', 'qcow2', '-o', 'encrypt.format=luks']]) {
        const img = join(dir, 'out.img');
        const args = how[0] === '--object' && fmt[1] === 'qcow2' ? [how[0], how[1], '-o', 'encrypt.key-secret=s0'] : how;
        const r = run(['create', ...fmt, ...args, img, '1M']);
        assert.equal(r.status, 1, `${args.join(' ')} ${fmt.join(' ')}: ${r.status} ${r.stdout} ${r.stderr}`);
        assert.match(r.stderr, message);
        assert.ok(!existsSync(img), 'nothing written');
      }
    }
  }
});

/**
 * Runs `create -f luks --passphrase-stdin` on a pseudo-terminal (python's pty module), types
 * `keys` and never closes the terminal: the command must end at Enter by itself.
 */
function onTerminal(img: string, keys: string): { status: number; screen: string } {
  const py = `
import json, os, pty, select, sys, time
node, bin, img, keys = sys.argv[1:5]
pid, fd = pty.fork()
if pid == 0:
    os.execv(node, [node, bin, 'create', '-f', 'luks', '--passphrase-stdin', '-o', 'iter-time=10', img, '1M'])
screen = b''
def pump(until, secs):
    global screen
    end = time.time() + secs
    while time.time() < end and not until():
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return
            if not chunk:
                return
            screen += chunk
pump(lambda: b'Passphrase:' in screen, 10)
os.write(fd, keys.encode('utf-8').decode('unicode_escape').encode('latin-1'))
status = None
end = time.time() + 15
while time.time() < end:
    wpid, st = os.waitpid(pid, os.WNOHANG)
    if wpid:
        status = os.waitstatus_to_exitcode(st)
        break
    pump(lambda: False, 0.1)
pump(lambda: False, 0.2)
if status is None:
    os.kill(pid, 9)
print(json.dumps({'status': status, 'screen': screen.decode('utf-8', 'replace')}))
`;
  const r = spawnSync('python3', ['-c', py, process.execPath, BIN, img, keys], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const opens = (img: string, pwFile: string) => spawnSync('qemu-io', ['--object', `secret,id=s0,file=${pwFile}`, '--image-opts',
  `driver=luks,key-secret=s0,file.filename=${img}`, '-c', 'read 0 512'], { encoding: 'utf8' }).status;

test('--passphrase-stdin on a terminal: no echo, ends at Enter, Backspace edits; from a pipe as before', () => {
  const img = join(dir, 'tty.luks');
  // "sekrXt" with the X erased, then a UTF-8 "é" and Enter: the passphrase is "sekrét".
  const t = onTerminal(img, 'sekrX\\x7f\\xc3\\xa9t\\r');
  assert.equal(t.status, 0, t.screen);
  assert.match(t.screen, /Passphrase: /);
  assert.doesNotMatch(t.screen, /sekr/, 'the passphrase is not echoed');
  const pw = join(dir, 'pw');
  writeFileSync(pw, 'sekrét');
  assert.equal(opens(img, pw), 0, 'opens with the typed passphrase');
  writeFileSync(pw, 'sekrXét');
  assert.notEqual(opens(img, pw), 0);
  // Ctrl-C at the prompt aborts without writing.
  const img2 = join(dir, 'tty2.luks');
  const c = onTerminal(img2, 'abc\\x03');
  assert.equal(c.status, 1, c.screen);
  assert.match(c.screen, /passphrase entry aborted/);
  assert.ok(!existsSync(img2));
  // From a pipe: everything, one trailing newline dropped (unchanged).
  const img3 = join(dir, 'pipe.luks');
  const r = run(['create', '-f', 'luks', '--passphrase-stdin', '-o', 'iter-time=10', img3, '1M'], 'piped pw\n');
  assert.equal(r.status, 0, r.stderr);
  writeFileSync(pw, 'piped pw');
  assert.equal(opens(img3, pw), 0);
});
