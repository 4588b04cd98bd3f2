// LUKS inside qcow2 and from volume XML, through the real command line (bin/libvirt-volume.js,
// built by the test runner): qemu-io opens each image with the right passphrase and refuses a
// wrong one; qemu-img info equals qemu-img's own image but for uuid, iterations and sizes that
// depend on the run; qemu-img check is clean; the embedded LUKS header (cut out at the crypto
// header extension's offset) passes cryptsetup luksDump / --test-passphrase.
// Legacy AES: refused without --allow-insecure-aes, byte-identical to qemu-img's with it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { runOracle } from '../helpers/oracle';

const root = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
const CLI = join(root, 'bin', 'libvirt-volume.js');
let dir = '';
let pw = '', wrong = '';
before(() => {
  dir = fs.mkdtempSync(join(os.tmpdir(), 'luks-qcow2-'));
  pw = join(dir, 'pw'); fs.writeFileSync(pw, 'qcow2 passphrase');
  wrong = join(dir, 'wrong'); fs.writeFileSync(wrong, 'not it');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

// Through the oracle helper: qemu-img's PBKDF benchmark flake is retried there (other tools never print it).
const run = (cmd: string, args: string[], cwd = dir) => runOracle(cmd, args, { cwd });
const ours = (...args: string[]) => run(process.execPath, [CLI, 'create', ...args]);
const qio = (img: string, driver: string, pwFile: string, ...cmds: string[]) => run('qemu-io', [
  '--object', `secret,id=s0,file=${pwFile}`, '--image-opts', `driver=${driver},${driver === 'qcow2' ? 'encrypt.' : ''}key-secret=s0,file.filename=${img}`,
  ...cmds.flatMap((c) => ['-c', c])]);

function info(img: string): Record<string, any> {
  const r = run('qemu-img', ['info', '--output=json', img]);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  delete j.filename; delete j['actual-size'];
  const e = j['format-specific'].data.encrypt ?? j['format-specific'].data;
  delete e.uuid; delete e['master-key-iters'];
  for (const s of e.slots ?? []) delete s.iters;
  return j;
}

/** The LUKS header area of a qcow2 (crypto header extension 0x0537be77), for cryptsetup. */
function extractLuks(img: string, out: string): { offset: number; length: number } {
  const f = fs.readFileSync(img);
  assert.equal(f.readUInt32BE(0), 0x514649fb);
  let pos = f.readUInt32BE(4) >= 3 ? f.readUInt32BE(100) : 72;
  for (;;) {
    const type = f.readUInt32BE(pos), len = f.readUInt32BE(pos + 4);
    assert.notEqual(type, 0, 'no crypto header extension');
    if (type === 0x0537be77) {
      const offset = Number(f.readBigUInt64BE(pos + 8)), length = Number(f.readBigUInt64BE(pos + 16));
      fs.writeFileSync(out, f.subarray(offset, offset + length));
      return { offset, length };
    }
    pos += 8 + ((len + 7) & ~7);
  }
}

const QCOW2_CASES: { o: string; size: string; cryptsetup: boolean }[] = [
  { o: '', size: '1G', cryptsetup: true },
  { o: ',encrypt.cipher-alg=twofish-256,encrypt.cipher-mode=xts,encrypt.ivgen-alg=plain64,encrypt.hash-alg=sha512', size: '1G', cryptsetup: false },
  { o: ',encrypt.cipher-alg=aes-128,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=essiv,compat=0.10', size: '64M', cryptsetup: true },
  { o: ',encrypt.cipher-alg=cast5-128,encrypt.cipher-mode=ctr,cluster_size=512', size: '64M', cryptsetup: false },
  { o: ',encrypt.cipher-alg=serpent-256,preallocation=metadata,cluster_size=2M', size: '16M', cryptsetup: false },
];

for (const c of QCOW2_CASES) {
  test(`qcow2 encrypt.format=luks${c.o}: opens in qemu-io, info like qemu-img's, check clean, cryptsetup`, () => {
    const img = join(dir, 'q.qcow2'), ref = join(dir, 'ref.qcow2');
    fs.rmSync(img, { force: true }); fs.rmSync(ref, { force: true });
    const opts = `encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10${c.o}`;
    const r = ours('-f', 'qcow2', '--object', `secret,id=s0,file=${pw}`, '-o', opts, img, c.size);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /key slot 0 \d+ iterations, master-key digest \d+ iterations/);
    // Unwritten clusters read as zeros — except preallocated ones, which hold zero *ciphertext*
    // and decrypt to noise, in qemu-img's own images too.
    const zeros = c.o.includes('preallocation') ? [] : ['read -P 0 0 4096'];
    const w = qio(img, 'qcow2', pw, 'write -P 0x3c 65536 131072', 'read -P 0x3c 65536 131072', ...zeros);
    assert.equal(w.status, 0, w.stderr + w.stdout);
    const bad = qio(img, 'qcow2', wrong, 'read 0 512');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /Invalid password, cannot unlock any keyslot/);
    const chk = run('qemu-img', ['check', '--object', `secret,id=s0,file=${pw}`, '--image-opts', `driver=qcow2,encrypt.key-secret=s0,file.filename=${img}`]);
    assert.equal(chk.status, 0, chk.stdout + chk.stderr);

    const q = run('qemu-img', ['create', '-q', '-f', 'qcow2', '--object', `secret,id=s0,file=${pw}`, '-o', opts, ref, c.size]);
    assert.equal(q.status, 0, q.stderr);
    // Compare before our image was written to: a fresh one of ours.
    const fresh = join(dir, 'fresh.qcow2');
    fs.rmSync(fresh, { force: true });
    assert.equal(ours('-q', '-f', 'qcow2', '--object', `secret,id=s0,file=${pw}`, '-o', opts, fresh, c.size).status, 0);
    assert.deepEqual(info(fresh), info(ref));
    assert.equal(fs.statSync(fresh).size, fs.statSync(ref).size);

    const hdr = join(dir, 'hdr.luks');
    const mine = extractLuks(fresh, hdr), theirs = extractLuks(ref, join(dir, 'ref-hdr.luks'));
    assert.deepEqual(mine, theirs);
    const dump = run('cryptsetup', ['luksDump', hdr]);
    assert.equal(dump.status, 0, dump.stderr);
    if (c.cryptsetup) {
      assert.equal(run('cryptsetup', ['open', '--test-passphrase', `--key-file=${pw}`, hdr]).status, 0);
      assert.equal(run('cryptsetup', ['open', '--test-passphrase', `--key-file=${wrong}`, hdr]).status, 2);
    }
  });
}

test('legacy qcow2 AES: refused without --allow-insecure-aes (message names the flag); with it, identical to qemu-img\'s', () => {
  const img = join(dir, 'aes.qcow2'), ref = join(dir, 'aes-ref.qcow2');
  for (const o of ['encryption=on,encrypt.key-secret=s0', 'encrypt.format=aes,encrypt.key-secret=s0']) {
    fs.rmSync(img, { force: true }); fs.rmSync(ref, { force: true });
    const no = ours('-q', '-f', 'qcow2', '--object', `secret,id=s0,file=${pw}`, '-o', o, img, '64M');
    assert.equal(no.status, 1);
    assert.match(no.stderr, /--allow-insecure-aes/);
    assert.equal(fs.existsSync(img), false);
    const yes = ours('-q', '--allow-insecure-aes', '-f', 'qcow2', '--object', `secret,id=s0,file=${pw}`, '-o', o, img, '64M');
    assert.equal(yes.status, 0, yes.stderr);
    assert.match(yes.stderr, /insecure/);
    assert.equal(run('qemu-img', ['create', '-q', '-f', 'qcow2', '--object', `secret,id=s0,file=${pw}`, '-o', o, ref, '64M']).status, 0);
    assert.ok(fs.readFileSync(img).equals(fs.readFileSync(ref)), o);
    const w = qio(img, 'qcow2', pw, 'write -P 0x11 0 4096', 'read -P 0x11 0 4096');
    assert.equal(w.status, 0, w.stderr);
  }
});

test('volume XML for libvirt < 4.5 with <encryption format=qcow|default> on qcow2: legacy AES as qemu-img makes it, only with --allow-insecure-aes', () => {
  for (const format of ['qcow', 'default']) {
    const xml = join(dir, `old-${format}.xml`), img = join(dir, `old-${format}.qcow2`), ref = join(dir, `old-${format}-ref.qcow2`);
    fs.writeFileSync(xml, `<volume><name>old.qcow2</name><capacity unit='M'>16</capacity><target><format type='qcow2'/>
  <encryption format='${format}'><secret type='passphrase' uuid='11111111-2222-3333-4444-555555555555'/></encryption></target></volume>`);
    // libvirt 9.0 refuses it (VCR-QCOW-ENC, since 4.5.0) …
    const now = ours('-q', xml, '--output', img, '--allow-insecure-aes');
    assert.equal(now.status, 1);
    assert.match(now.stderr, /creation of qcow2 encrypted image is not supported/);
    // … libvirt 4.0 ran qemu-img with encryption=on: refused here until the user says so.
    const no = ours(xml, '--libvirt-version', '4.0.0', '--output', img);
    assert.equal(no.status, 1);
    assert.match(no.stdout, /would run: qemu-img create -f qcow2 -o encryption=on,encrypt\.key-secret=old\.qcow2_encrypt0,compat=0\.10 /);
    assert.match(no.stderr, /--allow-insecure-aes/);
    assert.equal(fs.existsSync(img), false);
    const yes = ours('-q', xml, '--libvirt-version', '4.0.0', '--output', img, '--allow-insecure-aes');
    assert.equal(yes.status, 0, yes.stderr);
    assert.match(yes.stderr, /insecure/);
    assert.equal(run('qemu-img', ['create', '-q', '-f', 'qcow2', '--object', `secret,id=s0,file=${pw}`, '-o', 'encryption=on,encrypt.key-secret=s0,compat=0.10', ref, '16384K']).status, 0);
    assert.ok(fs.readFileSync(img).equals(fs.readFileSync(ref)), format);
    const w = qio(img, 'qcow2', pw, 'write -P 0x22 0 4096', 'read -P 0x22 0 4096');
    assert.equal(w.status, 0, w.stderr);
  }
});

test('volume XML with <encryption format=luks>: raw → LUKS container, qcow2 → embedded; <cipher>/<ivgen> as libvirt maps them', () => {
  const vol = (name: string, fmt: string, enc: string) => `<volume>
  <name>${name}</name>
  <capacity unit='M'>8</capacity>
  <target><path>${join(dir, name)}</path><format type='${fmt}'/>
    <encryption format='luks'><secret type='passphrase' uuid='11111111-2222-3333-4444-555555555555'/>${enc}</encryption>
  </target>
</volume>`;
  const cases = [
    { name: 'x-raw.img', fmt: 'raw', enc: "<cipher name='serpent' size='256' mode='cbc' hash='sha256'/><ivgen name='essiv' hash='sha256'/>", driver: 'luks', cipher: 'serpent', mode: 'cbc-essiv:sha256' },
    { name: 'x-q.qcow2', fmt: 'qcow2', enc: "<cipher name='twofish' size='128' mode='xts' hash='sha1'/><ivgen name='plain64'/>", driver: 'qcow2', cipher: 'twofish', mode: 'xts-plain64' },
  ];
  for (const c of cases) {
    const xml = join(dir, `${c.name}.xml`);
    fs.writeFileSync(xml, vol(c.name, c.fmt, c.enc));
    // libvirt passes no iter-time: qemu's 2000 ms default applies here (≈2 s per image).
    const r = ours(xml, '--passphrase-file', pw);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const img = join(dir, c.name);
    const w = qio(img, c.driver, pw, 'write -P 0x77 0 4096', 'read -P 0x77 0 4096');
    assert.equal(w.status, 0, w.stderr);
    const j = JSON.parse(run('qemu-img', ['info', '--output=json', img]).stdout);
    const e = c.driver === 'luks' ? j['format-specific'].data : j['format-specific'].data.encrypt;
    assert.equal(e['cipher-alg'].split('-')[0], c.cipher);
    assert.equal(`${e['cipher-mode']}-${e['ivgen-alg']}${e['ivgen-hash-alg'] ? `:${e['ivgen-hash-alg']}` : ''}`, c.mode);
    fs.rmSync(img);
  }
  // libvirt accepts <cipher name='des' size='56'>; qemu-img (and so libvirt's creation) refuses it.
  const xml = join(dir, 'des.xml');
  fs.writeFileSync(xml, vol('des.img', 'raw', "<cipher name='des' size='56' mode='cbc' hash='sha256'/><ivgen name='plain64'/>"));
  const r = ours(xml, '--passphrase-file', pw);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /des-56/);
  assert.equal(fs.existsSync(join(dir, 'des.img')), false);
});

test('Ctrl-C during `create -f luks` exits 130 and leaves nothing behind', async () => {
  const img = join(dir, 'int.luks');
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [CLI, 'create', '-f', 'luks', '--object', `secret,id=s0,file=${pw}`, '-o', 'key-secret=s0,iter-time=5000,preallocation=full', img, '64M'], { cwd: dir });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  await new Promise((r) => setTimeout(r, 1200));
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 130, err);
  assert.match(err, /interrupted; nothing was left behind/);
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes('int.luks')), []);
});
