// Images made by the project's own writer (`libvirt-volume create`, bundled CLI): `create` prints
// the weak-encryption verdicts for exactly the weak choices, and the image-aware checks judge the
// images it wrote the same way as qemu-img's (through probeImage and through `qemu-img info`).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { diagnose } from '../helpers/check';
import { qemuImgEnv } from './imageFixtures';
import { probeEnv } from './imageEnvs';

const root = join(__dirname, '..', '..');
let dir: string;

function create(...args: string[]): { status: number | null; stderr: string; weakIds: string[] } {
  const r = spawnSync(process.execPath, [join(root, 'bin/libvirt-volume.js'), 'create', ...args], { cwd: dir, encoding: 'utf8' });
  const weakIds = [...r.stderr.matchAll(/\[(weak-[a-z0-9-]+)\]/g)].map((m) => m[1]).sort();
  return { status: r.status, stderr: r.stderr, weakIds };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lv-writer-img-'));
  writeFileSync(join(dir, 'pw'), 'secret-pass', { mode: 0o600 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

const PW = ['--passphrase-file', 'pw'];

test('create -f luks warns for each weak choice and stays silent on the defaults', () => {
  const weak = create('-f', 'luks', ...PW, '-o', 'iter-time=10,cipher-alg=aes-128,cipher-mode=cbc,ivgen-alg=plain64,hash-alg=sha1', 'w-weak.luks', '1M');
  assert.equal(weak.status, 0, weak.stderr);
  assert.deepEqual(weak.weakIds, ['weak-cbc-predictable-iv', 'weak-pbkdf-hash']);
  const ecb = create('-f', 'luks', ...PW, '-o', 'iter-time=10,cipher-alg=cast5-128,cipher-mode=ecb', 'w-ecb.luks', '1M');
  assert.equal(ecb.status, 0, ecb.stderr);
  assert.deepEqual(ecb.weakIds, ['weak-cipher-64bit-block', 'weak-cipher-mode-ecb']);
  const xts128 = create('-f', 'luks', ...PW, '-o', 'iter-time=10,cipher-alg=aes-128', 'w-128.luks', '1M');
  assert.deepEqual(xts128.weakIds, ['weak-xts-128-key']);
  const ok = create('-f', 'luks', ...PW, '-o', 'iter-time=10', 'w-ok.luks', '1M');
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(ok.weakIds, []);
  // A refused option is the message, not a lint: no weak lines.
  const bad = create('-f', 'luks', ...PW, '-o', 'iter-time=10,cipher-mode=ecb,hash-alg=bogus', 'w-bad.luks', '1M');
  assert.notEqual(bad.status, 0);
  assert.deepEqual(bad.weakIds, []);
});

test('writer-made LUKS images: header verdicts agree between probeImage and qemu-img info', () => {
  const SECRET = `<secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/>`;
  const disk = (file: string) => `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${file}'><encryption format='luks'>${SECRET}</encryption></source><target dev='vda'/></disk>`;
  const uri = pathToFileURL(join(dir, 'd.xml')).href;
  const messages = (env: ReturnType<typeof probeEnv>, file: string) =>
    diagnose(disk(file), {}, env, uri).filter((d) => String(d.code).startsWith('image-')).map((d) => String(d.message)).sort();
  for (const [file, expected] of [
    ['w-weak.luks', [/^w-weak\.luks is encrypted with a weak choice: PBKDF2 hash sha1/, /^w-weak\.luks is encrypted with a weak choice: cbc with the predictable ivgen plain64/]],
    ['w-ecb.luks', [/cast5-128 has a 64-bit block/, /cipher mode ecb shows data patterns/]],
    ['w-128.luks', [/aes-128 with xts gives 128-bit strength/]],
    ['w-ok.luks', []],
  ] as const) {
    const mine = messages(probeEnv(), file);
    const oracle = messages(qemuImgEnv, file);
    assert.deepEqual(mine, oracle, file);
    assert.equal(mine.length, expected.length, `${file}: ${mine.join(' | ')}`);
    for (const re of expected) assert.ok(mine.some((m) => re.test(m)), `${file}: ${re}`);
  }
  // Declared without <encryption>: the container would reach the guest as is.
  const plain = `<disk type='file'><driver name='qemu' type='raw'/><source file='w-ok.luks'/><target dev='vda'/></disk>`;
  for (const env of [probeEnv(), qemuImgEnv]) {
    assert.deepEqual(diagnose(plain, {}, env, uri).filter((d) => String(d.code).startsWith('image-')).map((d) => d.code), ['image-encryption-undeclared']);
  }
});

test('create -f qcow2 with encrypt.* and create VOLUME.xml print the same verdicts', () => {
  const ctr = create('-f', 'qcow2', ...PW, '-o', 'encrypt.format=luks,encrypt.iter-time=10,encrypt.cipher-mode=ctr', 'w-ctr.qcow2', '1M');
  assert.equal(ctr.status, 0, ctr.stderr);
  assert.deepEqual(ctr.weakIds, ['weak-cipher-mode-ctr']);
  const ok = create('-f', 'qcow2', ...PW, '-o', 'encrypt.format=luks,encrypt.iter-time=10', 'w-ok.qcow2', '1M');
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(ok.weakIds, []);
  // The editor's diagnostics on a volume XML and create's lines on the same XML agree.
  const xml = `<volume><name>x</name><capacity unit='M'>1</capacity><target><path>${join(dir, 'w-xml.img')}</path><format type='raw'/>`
    + `<encryption format='luks'><secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/><cipher name='aes' size='256' mode='cbc' hash='sha1'/><ivgen name='plain64'/></encryption></target></volume>`;
  writeFileSync(join(dir, 'w.xml'), xml);
  const editor = diagnose(xml).filter((d) => String(d.code).startsWith('weak-')).map((d) => String(d.code)).sort();
  assert.deepEqual(editor, ['weak-cbc-predictable-iv', 'weak-pbkdf-hash']);
  const r = create('w.xml', ...PW);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.weakIds, editor);
});

test('info names the weak choices in a header, and none for the defaults', () => {
  const info = (f: string) => spawnSync(process.execPath, [join(root, 'bin/libvirt-volume.js'), 'info', f], { cwd: dir, encoding: 'utf8' }).stdout;
  const ids = (f: string) => [...info(f).matchAll(/^weak encryption: .* \[(weak-[a-z0-9-]+)\]/gm)].map((m) => m[1]).sort();
  assert.deepEqual(ids('w-weak.luks'), ['weak-cbc-predictable-iv', 'weak-pbkdf-hash']);
  assert.deepEqual(ids('w-ecb.luks'), ['weak-cipher-64bit-block', 'weak-cipher-mode-ecb']);
  assert.deepEqual(ids('w-ctr.qcow2'), ['weak-cipher-mode-ctr']);
  assert.deepEqual(ids('w-ok.luks'), []);
  assert.deepEqual(ids('w-ok.qcow2'), []);
});
