// Oracle for the image-aware checks (issue 7): start each domain for real — a session libvirtd
// (qemu driver, uid 65534 when root, own XDG dirs; test/oracle/libvirt.ts) runs
// `virsh create` on qemu-img-made images, then destroys the VM. Every image warning that claims
// "libvirt/qemu refuses" must match a refusal, every refusal must carry one of our warnings, and the
// hazards (qemu starts, silently wrong) are shown to start.
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { diagnose } from '../helpers/check';
import { IMAGE_RULES } from '../../server/src/service/rules/image';
import { makeQemuFixtures, type Fixtures } from './imageFixtures';
import { probeEnv } from './imageEnvs';

const UUID = '6b0c1b5e-1f3a-4c55-9a51-5a1e6e0b7c01';
const MINE = new Set<string>(IMAGE_RULES.map((r) => r.id));
let fx: Fixtures;
let prefix: string[];
let sess: string;

function as(args: string[], timeout = 60_000): { code: number; out: string; err: string } {
  const r = spawnSync(prefix[0], [...prefix.slice(1), ...args], { encoding: 'utf8', timeout });
  return { code: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? '' };
}
const virsh = (...a: string[]) => as(['virsh', '-q', '-c', 'qemu:///session', ...a]);

before(() => {
  fx = makeQemuFixtures();
  sess = join(fx.dir, 'session');
  const home = join(sess, 'home');
  for (const d of [home, join(sess, 'run')]) mkdirSync(d, { recursive: true, mode: 0o700 });
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: home, XDG_RUNTIME_DIR: join(sess, 'run'), XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache'), LC_ALL: 'C' };
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const root = process.getuid?.() === 0;
  prefix = root ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'env', '-i', ...vars] : ['env', ...vars];
  writeFileSync(join(sess, 'secret.xml'), `<secret ephemeral='no' private='yes'><uuid>${UUID}</uuid><usage type='volume'><volume>/h6/oracle</volume></usage></secret>`);
  if (root) execFileSync('chown', ['-R', '65534:65534', fx.dir]);
  const d = as(['libvirtd', '--daemon', '--timeout', '600', '--pid-file', join(sess, 'libvirtd.pid')]);
  assert.equal(d.code, 0, `libvirtd: ${d.err}`);
  let r = virsh('secret-define', join(sess, 'secret.xml'));
  for (let i = 0; r.code !== 0 && i < 40; i++) { execFileSync('sleep', ['0.1']); r = virsh('secret-define', join(sess, 'secret.xml')); }
  assert.equal(r.code, 0, `secret-define: ${r.err}`);
  // The fixtures' passphrase file (imageFixtures.ts) is the secret's value.
  const s = virsh('secret-set-value', UUID, '--file', join(fx.dir, 'pw.txt'), '--plain');
  assert.equal(s.code, 0, `secret-set-value: ${s.err}`);
});

after(() => {
  // Transient VMs outlive a killed daemon: destroy whatever still runs first.
  if (prefix) for (const name of virsh('list', '--name').out.split('\n').map((x) => x.trim()).filter((x) => x.startsWith('h6img'))) virsh('destroy', name);
  const pidFile = sess && join(sess, 'libvirtd.pid');
  if (pidFile && existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (pid > 0) {
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      for (let i = 0; i < 50; i++) { try { process.kill(pid, 0); } catch { break; } execFileSync('sleep', ['0.1']); }
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
  fx?.cleanup();
});

interface Case { name: string; file: string; type?: string; enc?: boolean; starts: boolean; refusal?: RegExp; codes: string[] }

const CASES: Case[] = [
  { name: 'clean 3-layer chain', file: 'top2.qcow2', type: 'qcow2', starts: true, codes: [] },
  { name: 'encrypted qcow2 with <encryption>', file: 'enc.qcow2', type: 'qcow2', enc: true, starts: true, codes: [] },
  { name: 'LUKS container as raw + <encryption>', file: 'luks.img', type: 'raw', enc: true, starts: true, codes: [] },
  // Refusals: each must carry our warning.
  { name: 'qcow2 declared over raw', file: 'raw.img', type: 'qcow2', starts: false, refusal: /Image is not in qcow2 format/, codes: ['image-format-mismatch'] },
  { name: 'unrecorded backing format over a backed file', file: 'nofmt2.qcow2', type: 'qcow2', starts: false, refusal: /format of backing image 'top\.qcow2' of image '.*nofmt2\.qcow2' was not specified in the image metadata/, codes: ['image-backing-format-missing'] },
  { name: 'backing loop', file: 'loop-a.qcow2', type: 'qcow2', starts: false, refusal: /backing store for .*loop-a\.qcow2 is self-referential/, codes: ['image-backing-loop'] },
  { name: 'encrypted qcow2 without <encryption>', file: 'enc.qcow2', type: 'qcow2', starts: false, refusal: /Parameter 'encrypt\.key-secret' is required for cipher/, codes: ['image-encryption-undeclared'] },
  { name: '<encryption> over an unencrypted qcow2', file: 'plain.qcow2', type: 'qcow2', enc: true, starts: false, refusal: /No encryption in image header/, codes: ['image-encryption-unexpected'] },
  // Hazards: libvirt and qemu start the VM, silently wrong.
  { name: 'raw declared over qcow2 (guest sees qcow2 metadata)', file: 'plain.qcow2', type: 'raw', starts: true, codes: ['image-format-mismatch'] },
  { name: 'raw by default over qcow2', file: 'plain.qcow2', starts: true, codes: ['image-format-mismatch'] },
  { name: 'header backing format raw over a qcow2 backing file', file: 'top-wrongfmt.qcow2', type: 'qcow2', starts: true, codes: ['image-backing-format-mismatch'] },
  { name: 'LUKS container declared raw without <encryption> (guest sees ciphertext)', file: 'luks.img', type: 'raw', starts: true, codes: ['image-encryption-undeclared'] },
  { name: 'unrecorded backing format, probed (hint only)', file: 'nofmt.qcow2', type: 'qcow2', starts: true, codes: ['image-backing-format-probed'] },
];

function domain(c: Case, i: number): string {
  const enc = c.enc ? `<encryption format='luks'><secret type='passphrase' uuid='${UUID}'/></encryption>` : '';
  return `<domain type='qemu'><name>h6img${i}</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os><devices>`
    + `<disk type='file' device='disk'>${c.type ? `<driver name='qemu' type='${c.type}'/>` : ''}<source file='${join(fx.dir, c.file)}'>${enc}</source><target dev='vda' bus='virtio'/></disk>`
    + `</devices></domain>`;
}

test('libvirt 9.0 starting each domain agrees with the image warnings', () => {
  const rows: string[] = [];
  let refusals = 0, flagged = 0;
  CASES.forEach((c, i) => {
    const xml = domain(c, i);
    const f = join(sess, `d${i}.xml`);
    writeFileSync(f, xml);
    if (process.getuid?.() === 0) execFileSync('chown', ['65534:65534', f]);
    const r = virsh('create', f);
    if (r.code === 0) assert.equal(virsh('destroy', `h6img${i}`).code, 0, `destroy h6img${i}`);
    const ours = diagnose(xml, {}, probeEnv(), pathToFileURL(join(fx.dir, 'doc.xml')).href).filter((d) => MINE.has(String(d.code))).map((d) => String(d.code)).sort();
    rows.push(`${c.name}: libvirt ${r.code === 0 ? 'starts' : 'refuses'}; ours: ${ours.join(', ') || '—'}`);
    assert.equal(r.code === 0, c.starts, `${c.name}: ${r.err}`);
    // qemu's own refusals reach virsh through qemu's log, which libvirt sometimes reads before
    // qemu wrote it ("qemu unexpectedly closed the monitor" alone): the refusal still counts.
    const qemuOnly = /(qemu unexpectedly closed the monitor|process exited while connecting to monitor)\s*$/.test(r.err);
    if (c.refusal && !qemuOnly) assert.match(r.err, c.refusal, c.name);
    assert.deepEqual(ours, [...c.codes].sort(), c.name);
    if (!c.starts) { refusals++; if (ours.length) flagged++; }
  });
  assert.equal(flagged, refusals, 'every refusal carries an image warning');
  assert.ok(refusals >= 5);
  console.log(rows.map((x) => `  ${x}`).join('\n'));
});
