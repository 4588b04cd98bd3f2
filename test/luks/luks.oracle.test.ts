// Our LUKS images judged by the real tools: qemu-io opens each one with
// the right passphrase (write, then read back a pattern) and refuses a wrong one; the sectors qemu
// wrote decrypt with our own modes/IV generators to the same pattern; cryptsetup luksDump shows
// the header qemu would write and `--test-passphrase` unlocks the aes xts/cbc/ctr ones;
// `qemu-img info --output=json` equals the one of qemu-img's own image but for uuid and iteration
// counts; the option checker gives qemu-img's exact message for every refused option set.
// Passphrases reach the tools through files (secret file=, --key-file), never argv.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { createLuksImage, luksFormattingLine } from '../../server/src/writer/luks/createLuks';
import { resolvedFromHeader, sectorCipherFor } from '../../server/src/writer/luks/luksHeader';
import { unlockLuks } from '../../server/src/writer/luks/unlock';
import { readLuks1Header } from '../../server/src/writer/luks/luksFormat';
import { cryptSectors } from '../../server/src/writer/crypto/modes';
import { nodeWriterIO } from '../../server/src/writer/nodeIO';
import { checkLuksOptions, type LuksOptionInput } from '../../schemas/luksOptions';
import { runOracle } from '../helpers/oracle';

let dir = '';
const PW = 'correct horse';
before(() => {
  dir = fs.mkdtempSync(join(os.tmpdir(), 'luks-oracle-'));
  fs.writeFileSync(join(dir, 'pw'), PW);
  fs.writeFileSync(join(dir, 'wrong'), 'wrong horse');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

// Through the oracle helper: qemu-img's PBKDF benchmark flake is retried there (other tools never print it).
const run = (cmd: string, args: string[]) => runOracle(cmd, args);
const qemuIo = (img: string, pwFile: string, ...cmds: string[]) =>
  run('qemu-io', ['--object', `secret,id=s0,file=${pwFile}`, '--image-opts', `driver=luks,key-secret=s0,file.filename=${img}`, ...cmds.flatMap((c) => ['-c', c])]);

interface Case { opts: LuksOptionInput; mode: string; modeSpec: string; cryptsetupUnlock?: boolean; compareInfo?: boolean }
const CASES: Case[] = [
  { opts: {}, mode: 'xts', modeSpec: 'xts-plain64', cryptsetupUnlock: true, compareInfo: true },
  { opts: { 'cipher-alg': 'aes-128', 'ivgen-alg': 'plain' }, mode: 'xts', modeSpec: 'xts-plain', cryptsetupUnlock: true },
  { opts: { 'cipher-mode': 'cbc', 'ivgen-alg': 'essiv' }, mode: 'cbc', modeSpec: 'cbc-essiv:sha256', cryptsetupUnlock: true },
  { opts: { 'cipher-alg': 'aes-128', 'cipher-mode': 'cbc', 'ivgen-alg': 'essiv', 'ivgen-hash-alg': 'md5', 'hash-alg': 'sha1' }, mode: 'cbc', modeSpec: 'cbc-essiv:md5', cryptsetupUnlock: true, compareInfo: true },
  { opts: { 'cipher-mode': 'ctr', 'hash-alg': 'sha512' }, mode: 'ctr', modeSpec: 'ctr-plain64', cryptsetupUnlock: true },
  { opts: { 'cipher-alg': 'aes-128', 'cipher-mode': 'cbc', 'ivgen-alg': 'plain64', 'hash-alg': 'ripemd160' }, mode: 'cbc', modeSpec: 'cbc-plain64', cryptsetupUnlock: true },
  { opts: { 'cipher-mode': 'ecb' }, mode: 'ecb', modeSpec: 'ecb-plain64' },
  { opts: { 'cipher-alg': 'aes-192' }, mode: 'xts', modeSpec: 'xts-plain64' },
  { opts: { 'ivgen-hash-alg': 'sha256' }, mode: 'xts', modeSpec: 'xts-plain64:sha256' },
  { opts: { 'ivgen-alg': 'essiv' }, mode: 'xts', modeSpec: 'xts-essiv:sha256', cryptsetupUnlock: true },
  { opts: { 'cipher-alg': 'twofish-128', 'ivgen-alg': 'essiv', 'ivgen-hash-alg': 'md5' }, mode: 'xts', modeSpec: 'xts-essiv:md5' },
  { opts: { 'hash-alg': 'md5', 'cipher-mode': 'cbc' }, mode: 'cbc', modeSpec: 'cbc-plain64' },
  { opts: { 'cipher-alg': 'twofish-256', 'hash-alg': 'sha512' }, mode: 'xts', modeSpec: 'xts-plain64', compareInfo: true },
  { opts: { 'cipher-alg': 'twofish-128', 'cipher-mode': 'cbc', 'ivgen-alg': 'essiv' }, mode: 'cbc', modeSpec: 'cbc-essiv:sha256' },
  { opts: { 'cipher-alg': 'twofish-192', 'hash-alg': 'sha224' }, mode: 'xts', modeSpec: 'xts-plain64' },
  { opts: { 'cipher-alg': 'twofish-256', 'cipher-mode': 'ecb' }, mode: 'ecb', modeSpec: 'ecb-plain64' },
  { opts: { 'cipher-alg': 'twofish-128', 'cipher-mode': 'ctr', 'ivgen-alg': 'plain' }, mode: 'ctr', modeSpec: 'ctr-plain' },
  { opts: { 'cipher-alg': 'serpent-256' }, mode: 'xts', modeSpec: 'xts-plain64' },
  { opts: { 'cipher-alg': 'serpent-128', 'cipher-mode': 'ctr', 'ivgen-alg': 'plain' }, mode: 'ctr', modeSpec: 'ctr-plain', compareInfo: true },
  { opts: { 'cipher-alg': 'serpent-192', 'hash-alg': 'sha384' }, mode: 'xts', modeSpec: 'xts-plain64' },
  { opts: { 'cipher-alg': 'serpent-256', 'cipher-mode': 'cbc', 'ivgen-alg': 'essiv', 'ivgen-hash-alg': 'md5' }, mode: 'cbc', modeSpec: 'cbc-essiv:md5' },
  { opts: { 'cipher-alg': 'serpent-128', 'cipher-mode': 'ecb' }, mode: 'ecb', modeSpec: 'ecb-plain64' },
  { opts: { 'cipher-alg': 'cast5-128', 'cipher-mode': 'cbc' }, mode: 'cbc', modeSpec: 'cbc-plain64', compareInfo: true },
  { opts: { 'cipher-alg': 'cast5-128', 'cipher-mode': 'ecb' }, mode: 'ecb', modeSpec: 'ecb-plain64' },
  { opts: { 'cipher-alg': 'cast5-128', 'cipher-mode': 'cbc', 'ivgen-alg': 'essiv', 'ivgen-hash-alg': 'md5' }, mode: 'cbc', modeSpec: 'cbc-essiv:md5' },
  { opts: { 'cipher-alg': 'cast5-128', 'cipher-mode': 'ctr', 'ivgen-alg': 'plain' }, mode: 'ctr', modeSpec: 'ctr-plain' },
];

const name = (c: Case) => Object.entries(c.opts).map(([k, v]) => `${k}=${v}`).join(',') || 'defaults';

/** qemu-img info JSON without what differs between two creations. */
function infoShape(img: string): unknown {
  const r = run('qemu-img', ['info', '--output=json', img]);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  delete j.filename; delete j['actual-size'];
  const d = j['format-specific'].data;
  delete d.uuid; delete d['master-key-iters'];
  for (const s of d.slots) delete s.iters;
  return j;
}

/** qemu-img's own image for the same options. */
function qemuImgCreate(path: string, opts: LuksOptionInput): void {
  const o = ['key-secret=s0', 'iter-time=10', ...Object.entries(opts).map(([k, v]) => `${k}=${v}`)].join(',');
  const r = run('qemu-img', ['create', '-q', '-f', 'luks', '--object', `secret,id=s0,file=${join(dir, 'pw')}`, '-o', o, path, '1M']);
  assert.equal(r.status, 0, r.stderr);
}

for (const c of CASES) {
  test(`LUKS ${name(c)}: qemu-io round trip, payload decrypts with our code, header fields`, async () => {
    const img = join(dir, `${name(c).replace(/[^a-z0-9]+/gi, '_')}.luks`);
    const res = await createLuksImage({ path: img, size: 1 << 20, options: { 'iter-time': '10', ...c.opts }, passphrase: Buffer.from(PW), io: nodeWriterIO() });
    assert.equal(res.resolved.cipherModeSpec, c.modeSpec);
    assert.equal(fs.statSync(img).size, res.payloadOffsetBytes + (1 << 20));
    assert.ok(res.report.slotIters >= 1000 && res.report.masterKeyIters >= 1000);

    // Right passphrase: qemu writes at a sector other than 0 (IV ≠ 0) and reads it back.
    const w = qemuIo(img, join(dir, 'pw'), 'write -P 0xa5 4608 8192', 'read -P 0xa5 4608 8192');
    assert.equal(w.status, 0, w.stderr + w.stdout);
    assert.match(w.stdout, /read 8192\/8192 bytes at offset 4608/);
    // Wrong passphrase: refused.
    const bad = qemuIo(img, join(dir, 'wrong'), 'read 0 512');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /Invalid password, cannot unlock any keyslot/);

    // The ciphertext qemu wrote decrypts with our modes + IV generators (sectors 9..24 of the payload).
    const file = fs.readFileSync(img);
    const mk = await unlockLuks(file, Buffer.from(PW));
    assert.ok(mk, 'our own unlock');
    assert.equal(await unlockLuks(file, Buffer.from('wrong horse')), undefined);
    const h = readLuks1Header(file)!;
    const data = Uint8Array.from(file.subarray(res.payloadOffsetBytes + 4608, res.payloadOffsetBytes + 4608 + 8192));
    cryptSectors(sectorCipherFor(resolvedFromHeader(h), mk!), data, 9n, true);
    assert.ok(data.every((b) => b === 0xa5), 'payload written by qemu decrypts to the pattern');

    // cryptsetup reads the header like qemu wrote it (md5 is refused by cryptsetup itself).
    if (c.opts['hash-alg'] !== 'md5') {
      const d = run('cryptsetup', ['luksDump', img]);
      assert.equal(d.status, 0, d.stderr);
      assert.match(d.stdout, new RegExp(`Cipher name:\\s+${res.resolved.cipherName}\\n`));
      assert.match(d.stdout, new RegExp(`Cipher mode:\\s+${c.modeSpec}\\n`));
      assert.match(d.stdout, new RegExp(`Hash spec:\\s+${res.resolved.hashAlg}\\n`));
      assert.match(d.stdout, new RegExp(`Payload offset:\\s+${res.resolved.payloadOffsetSectors}\\n`));
      assert.match(d.stdout, new RegExp(`MK bits:\\s+${res.resolved.keyBytes * 8}\\n`));
      assert.match(d.stdout, /Key Slot 0: ENABLED[\s\S]*AF stripes:\s+4000[\s\S]*Key Slot 1: DISABLED/);
      assert.equal(run('cryptsetup', ['luksUUID', img]).stdout.trim(), res.uuid);
    }
    if (c.cryptsetupUnlock) {
      assert.equal(run('cryptsetup', ['open', '--test-passphrase', `--key-file=${join(dir, 'pw')}`, img]).status, 0);
      assert.equal(run('cryptsetup', ['open', '--test-passphrase', `--key-file=${join(dir, 'wrong')}`, img]).status, 2);
    }
    if (c.compareInfo) {
      const ref = join(dir, 'ref.luks');
      qemuImgCreate(ref, c.opts);
      const ours = infoShape(img) as { 'format-specific': unknown };
      assert.deepEqual(ours, infoShape(ref));
      fs.rmSync(ref);
    }
    fs.rmSync(img);
  });
}

test('refused option sets give qemu-img 7.2\'s own message (checked against qemu-img itself)', () => {
  const bad: LuksOptionInput[] = [
    { 'cipher-alg': 'bogus' }, { 'cipher-alg': 'AES-256' }, { 'cipher-alg': 'sm4' }, { 'cipher-mode': 'bogus' },
    { 'ivgen-alg': 'bogus', 'ivgen-hash-alg': 'bogus' }, { 'hash-alg': 'bogus', 'ivgen-hash-alg': 'bogus' }, { 'hash-alg': 'sha3' },
    { 'cipher-alg': '3des' }, { 'cipher-alg': 'des', 'cipher-mode': 'cbc' }, { 'cipher-alg': 'cast5-128' },
    { 'cipher-mode': 'cbc', 'ivgen-alg': 'essiv', 'ivgen-hash-alg': 'sha1' }, { 'cipher-mode': 'cbc', 'ivgen-alg': 'essiv', 'ivgen-hash-alg': 'sha512' },
    { 'cipher-alg': 'twofish-256', 'cipher-mode': 'cbc', 'ivgen-alg': 'essiv', 'ivgen-hash-alg': 'sha384' },
    { 'cipher-alg': 'serpent-128', 'cipher-mode': 'cbc', 'ivgen-alg': 'essiv', 'ivgen-hash-alg': 'ripemd160' },
    { 'cipher-alg': 'cast5-128', 'cipher-mode': 'cbc', 'ivgen-alg': 'essiv' },
    { 'cipher-alg': 'cast5-128', 'ivgen-alg': 'essiv', 'ivgen-hash-alg': 'sha1' },
    { 'iter-time': 'abc' }, { 'iter-time': '1.5' }, { 'iter-time': '' }, { 'iter-time': '1k', 'cipher-alg': 'bogus' },
  ];
  for (const o of bad) {
    const mine = checkLuksOptions({ 'key-secret': 's0', ...o }, { requireKeySecret: true, secretIds: ['s0'] });
    assert.equal(mine.ok, false, JSON.stringify(o));
    const args = ['key-secret=s0', ...Object.entries(o).map(([k, v]) => `${k}=${v}`)].join(',');
    const r = run('qemu-img', ['create', '-q', '-f', 'luks', '--object', `secret,id=s0,file=${join(dir, 'pw')}`, '-o', args, join(dir, 'x.luks'), '1M']);
    assert.equal(r.status, 1, JSON.stringify(o));
    assert.equal(r.stderr.trim(), `qemu-img: ${join(dir, 'x.luks')}: ${!mine.ok && mine.message}`, JSON.stringify(o));
  }
  // Missing key-secret / unknown secret id, in qemu's order (after the enum checks).
  assert.deepEqual(checkLuksOptions({ 'cipher-alg': '3des' }, { requireKeySecret: true }), { ok: false, kind: 'key-secret', option: 'key-secret', message: "Parameter 'key-secret' is required for cipher" });
  assert.equal((checkLuksOptions({ 'key-secret': 'nosuch' }, { secretIds: ['s0'] }) as { message: string }).message, "No secret with id 'nosuch'");
  assert.equal((checkLuksOptions({ 'iter-time': 'x' }, { prefix: 'encrypt.' }) as { message: string }).message, "Parameter 'encrypt.iter-time' expects a number");
});

test('192-bit ciphers outside xts are refused before anything is written (qemu 7.2 aborts on them)', async () => {
  for (const alg of ['aes-192', 'twofish-192', 'serpent-192']) {
    for (const mode of ['cbc', 'ecb', 'ctr']) {
      const img = join(dir, `r192-${alg}-${mode}.luks`);
      await assert.rejects(
        createLuksImage({ path: img, size: 1 << 20, options: { 'iter-time': '10', 'cipher-alg': alg, 'cipher-mode': mode }, passphrase: Buffer.from(PW), io: nodeWriterIO() }),
        (e: Error) => e.message.includes(`Cipher ${alg} with cipher mode ${mode} is not supported: qemu 7.2 aborts`),
      );
      assert.equal(fs.existsSync(img), false);
    }
  }
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});

test('the Formatting line echoes the options like qemu-img (order and spelling)', () => {
  const o = { 'cipher-alg': 'aes-256', 'cipher-mode': 'cbc', 'ivgen-alg': 'essiv', 'ivgen-hash-alg': 'sha256', 'hash-alg': 'sha1', 'iter-time': '10' };
  const img = join(dir, 'fmt.luks');
  const args = ['extent_size_hint=1M', 'preallocation=full', 'nocow=on', 'iter-time=10', 'hash-alg=sha1', 'ivgen-hash-alg=sha256', 'ivgen-alg=essiv', 'cipher-mode=cbc', 'cipher-alg=aes-256', 'key-secret=s0'].join(',');
  const r = run('qemu-img', ['create', '-f', 'luks', '--object', `secret,id=s0,file=${join(dir, 'pw')}`, '-o', args, img, '16M']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.split('\n')[0], luksFormattingLine(img, 16 << 20, 's0', o, { nocow: 'on', preallocation: 'full', extentSizeHint: 1 << 20 }));
});

test('our LUKS reader unlocks cryptsetup-made LUKS1 headers to the master key cryptsetup dumps (independent writer)', async () => {
  for (const [cipher, bits] of [['aes-xts-plain64', 512], ['aes-cbc-essiv:sha256', 256], ['aes-ctr-plain', 128], ['aes-cbc-plain64', 256]] as const) {
    const img = join(dir, 'cs.img');
    fs.writeFileSync(img, Buffer.alloc(0));
    fs.truncateSync(img, 4 << 20);
    const f = run('cryptsetup', ['luksFormat', '--type', 'luks1', '--batch-mode', `--key-file=${join(dir, 'pw')}`, '--pbkdf-force-iterations', '1000',
      '--cipher', cipher, '--key-size', String(bits), '--hash', 'sha256', img]);
    assert.equal(f.status, 0, f.stderr);
    const d = run('cryptsetup', ['luksDump', '--dump-volume-key', '--batch-mode', `--key-file=${join(dir, 'pw')}`, img]);
    assert.equal(d.status, 0, d.stderr);
    const hex = /MK dump:\s*([\s\S]*?)(?:\n\S|$)/.exec(d.stdout)![1].replace(/\s+/g, '');
    const mk = await unlockLuks(fs.readFileSync(img), Buffer.from(PW));
    assert.equal(mk?.toString('hex'), hex, cipher);
    fs.rmSync(img);
  }
});
