// schemas/luksOptions.ts without external tools: qemu's order of checks and messages (the same
// messages are compared with qemu-img itself in luks.oracle.test.ts), LUKS1 layout figures
// (measured with qemu-img 7.2), iter-time parsing like qemu_strtou64, libvirt's <cipher>/<ivgen> mapping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkLuksOptions, checkQcow2EncryptOptions, luksLayout, luksOptionsFromLibvirt, parseIterTime, qemuAbortsOn,
  scaleIterations, LUKS_CIPHER_ALGS, LUKS_REFUSED_CIPHER_ALGS, INSECURE_AES_FLAG,
} from '../../schemas/luksOptions';
import { qcowAesEncryption, qcowLuksEncryption } from '../../server/src/writer/luks/qcowEncryption';

const msg = (r: ReturnType<typeof checkLuksOptions>) => (r.ok ? 'ok' : r.message);

test('defaults resolve to qemu\'s aes-256-xts-plain64 / sha256 / 2000 ms and qemu\'s layout', () => {
  const r = checkLuksOptions({});
  assert.ok(r.ok);
  assert.equal(r.cipherModeSpec, 'xts-plain64');
  assert.equal(r.keyBytes, 64);
  assert.equal(r.payloadOffsetSectors, 4040);
  assert.deepEqual(r.keySlotOffsets, [8, 512, 1016, 1520, 2024, 2528, 3032, 3536]);
  assert.equal(r.iterTimeMs, 2000);
  assert.equal(luksLayout(32).payloadOffsetSectors, 2056); // aes-256-cbc (oracles §2.4)
  assert.equal(luksLayout(16).payloadOffsetSectors, 1032);
});

test('mode strings: essiv defaults to sha256; plain64 with a hash keeps it', () => {
  const spec = (o: object) => { const r = checkLuksOptions(o); assert.ok(r.ok); return r.cipherModeSpec; };
  assert.equal(spec({ 'cipher-mode': 'cbc', 'ivgen-alg': 'essiv' }), 'cbc-essiv:sha256');
  assert.equal(spec({ 'ivgen-hash-alg': 'sha256' }), 'xts-plain64:sha256');
  assert.equal(spec({ 'cipher-mode': 'ecb' }), 'ecb-plain64');
  assert.equal(spec({ 'cipher-mode': 'cbc', 'ivgen-alg': 'plain' }), 'cbc-plain');
  const e = checkLuksOptions({ 'cipher-alg': 'aes-128', 'cipher-mode': 'cbc', 'ivgen-alg': 'essiv' });
  assert.ok(e.ok);
  assert.equal(e.essivCipherAlg, 'aes-256'); // dm-crypt quirk: essiv cipher key = digest length
});

test('qemu\'s order: iter-time number, enums in struct order, key-secret, algorithm, essiv, mode, iterations', () => {
  assert.equal(msg(checkLuksOptions({ 'iter-time': 'abc', 'cipher-alg': 'bogus' })), "Parameter 'iter-time' expects a number");
  assert.equal(msg(checkLuksOptions({ 'cipher-alg': 'bogus', 'cipher-mode': 'bogus' })), "Parameter 'cipher-alg' does not accept value 'bogus'");
  assert.equal(msg(checkLuksOptions({ 'ivgen-alg': 'bogus', 'cipher-mode': 'bogus' })), "Parameter 'cipher-mode' does not accept value 'bogus'");
  assert.equal(msg(checkLuksOptions({ 'hash-alg': 'bogus', 'ivgen-hash-alg': 'bogus' })), "Parameter 'ivgen-hash-alg' does not accept value 'bogus'");
  assert.equal(msg(checkLuksOptions({ 'cipher-alg': '3des' }, { requireKeySecret: true })), "Parameter 'key-secret' is required for cipher");
  assert.equal(msg(checkLuksOptions({ 'cipher-alg': '3des', 'ivgen-alg': 'essiv', 'ivgen-hash-alg': 'sha1' })), "Algorithm '3des' not supported");
  assert.equal(msg(checkLuksOptions({ 'cipher-alg': 'cast5-128', 'ivgen-alg': 'essiv', 'ivgen-hash-alg': 'sha1' })), 'Cipher cast5-128 not supported with essiv');
  assert.equal(msg(checkLuksOptions({ 'cipher-alg': 'cast5-128', 'ivgen-alg': 'essiv', 'ivgen-hash-alg': 'md5' })), 'Unsupported cipher mode xts');
  assert.equal(msg(checkLuksOptions({ 'cipher-alg': 'serpent-256', 'cipher-mode': 'cbc', 'ivgen-alg': 'essiv', 'ivgen-hash-alg': 'sha224' })), 'No Serpent cipher with key size 28 available');
  assert.equal(msg(checkLuksOptions({ 'iter-time': '-1' }, { itersPerSecond: { masterKey: 5176619, slot: 2500000 } })), 'PBKDF iterations 5176619 too large to scale: Numerical result out of range');
  assert.match(msg(checkLuksOptions({ 'iter-time': '99999999999' })), /^PBKDF iterations \d+ larger than 4294967295: Numerical result out of range$/);
  assert.deepEqual(LUKS_REFUSED_CIPHER_ALGS, ['des', '3des']);
  assert.equal(LUKS_CIPHER_ALGS.length, 10);
});

test('iter-time parses like qemu_strtou64 (base 0, blanks, sign wraps); iterations floor at 1000', () => {
  assert.equal(parseIterTime(' 0x10'), 16n);
  assert.equal(parseIterTime('010'), 8n);
  assert.equal(parseIterTime('0'), 0n);
  assert.equal(parseIterTime('08'), undefined);
  assert.equal(parseIterTime(''), undefined);
  assert.equal(parseIterTime('1k'), undefined);
  assert.equal(parseIterTime('-1'), (1n << 64n) - 1n);
  assert.deepEqual(scaleIterations(5_000_000, 0n, true), { iters: 1000 });
  assert.deepEqual(scaleIterations(2_000_000, 2000n, false), { iters: 4_000_000 });
  assert.deepEqual(scaleIterations(2_000_000, 2000n, true), { iters: 500_000 });
});

test('192-bit keys outside xts are flagged (qemu 7.2 aborts), xts and other sizes are fine', () => {
  for (const alg of ['aes-192', 'twofish-192', 'serpent-192']) {
    for (const mode of ['cbc', 'ecb', 'ctr']) {
      assert.equal(qemuAbortsOn(alg, mode), true);
      const r = checkLuksOptions({ 'cipher-alg': alg, 'cipher-mode': mode });
      assert.ok(!r.ok && r.kind === 'qemu-abort' && r.ours);
    }
    assert.equal(qemuAbortsOn(alg, 'xts'), false);
  }
  assert.equal(qemuAbortsOn('aes-128', 'cbc'), false);
  assert.equal(qemuAbortsOn('cast5-128', 'cbc'), false);
});

test('qcow2 encrypt front: alias conflict, missing format, aes sub-options (oracles §2.3)', () => {
  const has = (names: string[]) => (n: string) => names.includes(n);
  assert.deepEqual(checkQcow2EncryptOptions({ encryption: 'on', format: 'luks', has: has([]) }), { ok: false, option: 'encryption', message: "'encrypt.format' and its alias 'encryption' can't be used at the same time" });
  assert.deepEqual(checkQcow2EncryptOptions({ encryption: 'off', format: 'luks', has: has([]) }), { ok: true, format: 'luks' });
  assert.deepEqual(checkQcow2EncryptOptions({ has: has(['encrypt.key-secret']) }), { ok: false, option: 'encrypt.format', message: "Parameter 'encrypt.format' is missing" });
  assert.deepEqual(checkQcow2EncryptOptions({ format: 'bogus', has: has([]) }), { ok: false, option: 'encrypt.format', message: "Parameter 'format' does not accept value 'bogus'" });
  assert.deepEqual(checkQcow2EncryptOptions({ format: 'aes', has: has(['encrypt.key-secret', 'encrypt.iter-time']) }), { ok: false, option: 'encrypt.iter-time', message: "Parameter 'encrypt.iter-time' is unexpected" });
  assert.deepEqual(checkQcow2EncryptOptions({ encryption: 'on', has: has(['encrypt.key-secret']) }), { ok: true, format: 'aes' });
});

test('qcow2 providers: LUKS header area length; legacy AES only with the explicit flag', async () => {
  const p = qcowLuksEncryption({ 'iter-time': '10' }, Buffer.from('pw'), { iterations: { masterKey: 1000, slot: 1000 } });
  assert.equal(p.cryptMethod, 2);
  assert.equal(p.headerLength, 2068480);
  const bytes = await p.headerBytes();
  assert.equal(bytes.length, 2068480);
  assert.equal(Buffer.from(bytes.subarray(0, 6)).toString('latin1'), 'LUKS\xba\xbe');
  assert.equal(p.report?.slotIters, 1000);
  assert.throws(() => qcowLuksEncryption({ 'iter-time': 'x' }, Buffer.from('pw')), { message: "Parameter 'encrypt.iter-time' expects a number" });
  assert.throws(() => qcowAesEncryption(false), (e: Error) => e.message.includes(INSECURE_AES_FLAG));
  const aes = qcowAesEncryption(true);
  assert.equal(aes.cryptMethod, 1);
  assert.equal(aes.headerLength, 0);
  assert.match(aes.warning, /insecure/);
});

test('libvirt <cipher>/<ivgen> → qemu-img options (storage_util.c)', () => {
  assert.deepEqual(luksOptionsFromLibvirt(), {});
  assert.deepEqual(luksOptionsFromLibvirt({ name: 'aes', size: 256, mode: 'cbc', hash: 'sha256' }, { name: 'essiv', hash: 'sha256' }),
    { 'cipher-alg': 'aes-256', 'cipher-mode': 'cbc', 'hash-alg': 'sha256', 'ivgen-alg': 'essiv', 'ivgen-hash-alg': 'sha256' });
  // libvirt joins name and size even where qemu has no such cipher: qemu then refuses.
  assert.equal(msg(checkLuksOptions(luksOptionsFromLibvirt({ name: 'des', size: 56 }))), "Parameter 'cipher-alg' does not accept value 'des-56'");
  assert.equal(msg(checkLuksOptions(luksOptionsFromLibvirt({ name: 'aes', size: 0 }))), "Parameter 'cipher-alg' does not accept value 'aes-0'");
  assert.equal(msg(checkLuksOptions(luksOptionsFromLibvirt({ name: 'twofish', size: 256, mode: 'xts', hash: 'sha512' }, { name: 'plain64' }))), 'ok');
});
