// `create -f luks` on the command-line path (server/src/cli/luks.ts) and the passphrase sources
// (server/src/writer/luks/secrets.ts): qemu-img's --object secret semantics (file verbatim, data,
// base64, file/data exclusive), --passphrase-file/-env/-stdin, refusal to overwrite, cancellation
// leaving nothing behind, preallocation. Images are opened with qemu-io, passphrase via a file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { runLuksCreate, parseSize } from '../../server/src/cli/luks';
import { parseSecretObject, resolvePassphrase, resolveSecret } from '../../server/src/writer/luks/secrets';
import { createLuksImage } from '../../server/src/writer/luks/createLuks';
import { createImage } from '../../server/src/writer/create';
import { nodeWriterIO } from '../../server/src/writer/nodeIO';

let dir = '';
before(() => { dir = fs.mkdtempSync(join(os.tmpdir(), 'luks-cli-')); });
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await runLuksCreate(argv, { out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}
const opens = (img: string, pwFile: string) => spawnSync('qemu-io', ['--object', `secret,id=s0,file=${pwFile}`, '--image-opts', `driver=luks,key-secret=s0,file.filename=${img}`, '-c', 'write -P 0x5a 0 4096', '-c', 'read -P 0x5a 0 4096'], { encoding: 'utf8' });

test('--object secret,file= is used verbatim (a trailing newline is part of the passphrase)', async () => {
  const pwNl = join(dir, 'pw-nl'); fs.writeFileSync(pwNl, 'pw\n');
  const pw = join(dir, 'pw'); fs.writeFileSync(pw, 'pw');
  const img = join(dir, 'a.luks');
  const r = await cli('-f', 'luks', '--object', `secret,id=sec0,file=${pwNl}`, '-o', 'key-secret=sec0,iter-time=10', img, '1M');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.split('\n')[0], `Formatting '${img}', fmt=luks size=1048576 key-secret=sec0 iter-time=10`);
  assert.match(r.out, /key slot 0 \d+ iterations, master-key digest \d+ iterations/);
  assert.ok(!r.out.includes('pw\n') && !r.err.includes('pw'));
  assert.equal(opens(img, pwNl).status, 0);
  const wrong = opens(img, pw);
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /Invalid password/);
});

test('data= and format=base64; file and data together are refused like qemu-img', async () => {
  const img = join(dir, 'b.luks');
  const r = await cli('-f', 'luks', '-q', '--object', 'secret,id=s,data=c2VjcmV0cHc=,format=base64', '-o', 'key-secret=s,iter-time=10', img, '1M');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, '');
  const pwf = join(dir, 'secretpw'); fs.writeFileSync(pwf, 'secretpw');
  assert.equal(opens(img, pwf).status, 0);
  const both = await cli('-f', 'luks', '--object', `secret,id=s,data=x,file=${pwf}`, '-o', 'key-secret=s', join(dir, 'c.luks'), '1M');
  assert.equal(both.code, 1);
  assert.equal(both.err, "libvirt-volume: 'file' and 'data' are mutually exclusive\n");
  const b64 = await cli('-f', 'luks', '--object', 'secret,id=s,data=@@@,format=base64', '-o', 'key-secret=s', join(dir, 'c.luks'), '1M');
  assert.equal(b64.err, 'libvirt-volume: Base64 data contains invalid characters\n');
  const nofile = await cli('-f', 'luks', '--object', `secret,id=s,file=${join(dir, 'nope.txt')}`, '-o', 'key-secret=s', join(dir, 'c.luks'), '1M');
  assert.equal(nofile.err, `libvirt-volume: Unable to read ${join(dir, 'nope.txt')}: Failed to open file “${join(dir, 'nope.txt')}”: No such file or directory\n`);
  const missing = await cli('-f', 'luks', '-q', '-o', 'iter-time=10', join(dir, 'c.luks'), '1M');
  assert.equal(missing.err, `libvirt-volume: ${join(dir, 'c.luks')}: Parameter 'key-secret' is required for cipher\n`);
  const unknown = await cli('-f', 'luks', '-q', '--object', 'secret,id=s,data=x', '-o', 'key-secret=nosuch', join(dir, 'c.luks'), '1M');
  assert.equal(unknown.err, `libvirt-volume: ${join(dir, 'c.luks')}: No secret with id 'nosuch'\n`);
  assert.equal(fs.existsSync(join(dir, 'c.luks')), false);
});

test('--passphrase-file and --passphrase-env keep the passphrase off the command line', async () => {
  const pwf = join(dir, 'envpw'); fs.writeFileSync(pwf, 'from-env');
  process.env.H3_TEST_PW = 'from-env';
  try {
    const img = join(dir, 'e.luks');
    const r = await cli('-f', 'luks', '-q', '--passphrase-env', 'H3_TEST_PW', '-o', 'iter-time=10,cipher-alg=twofish-128', img, '1M');
    assert.equal(r.code, 0, r.err);
    assert.equal(opens(img, pwf).status, 0);
    const img2 = join(dir, 'f.luks');
    const r2 = await cli('-f', 'luks', '-q', '--passphrase-file', pwf, '-o', 'iter-time=10', img2, '1M');
    assert.equal(r2.code, 0, r2.err);
    assert.equal(opens(img2, pwf).status, 0);
  } finally { delete process.env.H3_TEST_PW; }
});

test('stdin drops one trailing newline; env must be set; sources are exclusive', async () => {
  const env = { readFile: () => Buffer.from('x'), env: {} as Record<string, string | undefined> };
  assert.equal(Buffer.from(await resolvePassphrase({ objects: [], passphraseStdin: true }, { ...env, readStdin: async () => Buffer.from('pw\n') })).toString(), 'pw');
  assert.equal(Buffer.from(await resolvePassphrase({ objects: [], passphraseStdin: true }, { ...env, readStdin: async () => Buffer.from('pw\n\n') })).toString(), 'pw\n');
  await assert.rejects(resolvePassphrase({ objects: [], passphraseEnv: 'NOPE' }, { ...env, readStdin: async () => Buffer.alloc(0) }), /NOPE is not set/);
  await assert.rejects(resolvePassphrase({ objects: [], passphraseEnv: 'A', passphraseStdin: true }, { ...env, readStdin: async () => Buffer.alloc(0) }), /only one of/);
  // qemu: UTF-8 required, cut at NUL (strlen).
  assert.equal(Buffer.from(resolveSecret({ id: 'a', data: 'ab' }, () => Buffer.alloc(0))).toString(), 'ab');
  assert.equal(Buffer.from(resolveSecret({ id: 'a', file: 'f' }, () => Buffer.from('ab\0cd'))).toString(), 'ab');
  assert.throws(() => resolveSecret({ id: 'a', file: 'f' }, () => Buffer.from([0xff, 0xfe])), /Data from secret a is not valid UTF-8/);
  assert.throws(() => parseSecretObject('secret,data=x'), /Parameter 'id' is missing/);
  assert.deepEqual(parseSecretObject('secret,id=s0,data=a,,b'), { id: 's0', data: 'a,b', file: undefined, format: undefined });
  assert.equal(parseSize('16M'), 16 << 20);
  assert.equal(parseSize('1G'), 1 << 30);
  assert.equal(parseSize('1000'), 1000);
});

test('an existing file is kept unless --force; option errors leave no file', async () => {
  const img = join(dir, 'keep.luks');
  fs.writeFileSync(img, 'precious');
  const r = await cli('-f', 'luks', '-q', '--object', 'secret,id=s,data=pw', '-o', 'key-secret=s,iter-time=10', img, '1M');
  assert.equal(r.code, 1);
  // The same refusal as qcow2's (one publish protocol), before qemu's Formatting line.
  assert.equal(r.err, `libvirt-volume: ${img}: the file exists; use --force to overwrite it\n`);
  const loud = await cli('-f', 'luks', '--object', 'secret,id=s,data=pw', '-o', 'key-secret=s,iter-time=10', img, '1M');
  assert.equal(loud.code, 1);
  assert.equal(loud.out, '', 'nothing is announced before a refusal');
  assert.equal(fs.readFileSync(img, 'utf8'), 'precious');
  const f = await cli('-f', 'luks', '-q', '--force', '--object', 'secret,id=s,data=pw', '-o', 'key-secret=s,iter-time=10', img, '1M');
  assert.equal(f.code, 0, f.err);
  assert.equal(fs.statSync(img).size, 2068480 + (1 << 20));
  const bad = await cli('-f', 'luks', '-q', '--object', 'secret,id=s,data=pw', '-o', 'key-secret=s,cipher-alg=cast5-128', join(dir, 'bad.luks'), '1M');
  assert.equal(bad.err, `libvirt-volume: ${join(dir, 'bad.luks')}: Unsupported cipher mode xts\n`);
  const opt = await cli('-f', 'luks', '-q', '--object', 'secret,id=s,data=pw', '-o', 'key-secret=s,cluster_size=65536', join(dir, 'bad.luks'), '1M');
  assert.equal(opt.err, `libvirt-volume: ${join(dir, 'bad.luks')}: Invalid parameter 'cluster_size'\n`);
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('.') || n.startsWith('bad')), []);
});

test('cancel during key derivation: rejects promptly and leaves no file', async () => {
  const img = join(dir, 'cancel.luks');
  const ac = new AbortController();
  const t0 = Date.now();
  setTimeout(() => ac.abort(), 150);
  let progress = 0;
  await assert.rejects(createLuksImage({ path: img, size: 1 << 20, options: { 'iter-time': '3000' }, passphrase: Buffer.from('pw'), io: nodeWriterIO(), signal: ac.signal, onProgress: (f) => { progress = f; } }), { name: 'AbortError' });
  assert.ok(Date.now() - t0 < 1500, 'cancel is not blocked by the running PBKDF2');
  assert.ok(progress >= 0);
  assert.equal(fs.existsSync(img), false);
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes('cancel')), []);
});

test('preallocation: off is sparse, full allocates everything, metadata acts as off (like qemu)', async () => {
  const alloc = (p: string) => fs.statSync(p).blocks * 512;
  for (const [mode, full] of [['off', false], ['metadata', false], ['full', true], ['falloc', true]] as const) {
    const img = join(dir, `p-${mode}.luks`);
    const r = await cli('-f', 'luks', '-q', '--object', 'secret,id=s,data=pw', '-o', `key-secret=s,iter-time=10,preallocation=${mode}`, img, '4M');
    assert.equal(r.code, 0, r.err);
    const size = 2068480 + (4 << 20);
    assert.equal(fs.statSync(img).size, size);
    if (full) assert.ok(alloc(img) >= size, `${mode} allocated ${alloc(img)}`);
    else assert.ok(alloc(img) <= 300 * 1024, `${mode} allocated ${alloc(img)}`);
  }
  const bad = await cli('-f', 'luks', '-q', '--object', 'secret,id=s,data=pw', '-o', 'key-secret=s,preallocation=bogus', join(dir, 'pb.luks'), '1M');
  assert.equal(bad.err, `libvirt-volume: ${join(dir, 'pb.luks')}: Parameter 'preallocation' does not accept value 'bogus'\n`);
});

test('the one creation entry cancels a raw LUKS job with its AbortSignal (the LSP worker\'s path)', async () => {
  const img = join(dir, 'token.luks');
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  const t0 = Date.now();
  const job = { format: 'luks' as const, filename: img, size: 1 << 20, options: { 'iter-time': '3000' }, passphrase: Buffer.from('pw') };
  await assert.rejects(createImage(job, { io: nodeWriterIO(), cwd: dir, signal: ac.signal }), { name: 'AbortError' });
  assert.ok(Date.now() - t0 < 1500);
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes('token')), []);
});

test('file-protocol options qemu-img also takes with -f luks: nocow, extent_size_hint (and their messages)', async () => {
  const img = join(dir, 'nocow.luks');
  const r = await cli('-f', 'luks', '--object', 'secret,id=s,data=pw', '-o', 'key-secret=s,iter-time=10,nocow=on,extent_size_hint=1M', img, '1M');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.split('\n')[0], `Formatting '${img}', fmt=luks size=1048576 key-secret=s iter-time=10 nocow=on extent_size_hint=1048576`);
  const b = await cli('-f', 'luks', '-q', '--object', 'secret,id=s,data=pw', '-o', 'key-secret=s,nocow=maybe', join(dir, 'n2.luks'), '1M');
  assert.equal(b.err, `libvirt-volume: ${join(dir, 'n2.luks')}: Parameter 'nocow' expects 'on' or 'off'\n`);
  const e = await cli('-f', 'luks', '-q', '--object', 'secret,id=s,data=pw', '-o', 'key-secret=s,extent_size_hint=x', join(dir, 'n2.luks'), '1M');
  assert.match(e.err, /Parameter 'extent_size_hint' expects a non-negative number below 2\^64\nOptional suffix k, M, G, T, P or E/);
  const sz = await cli('-f', 'luks', '-q', '--object', 'secret,id=s,data=pw', '-o', 'key-secret=s', join(dir, 'n2.luks'), '12Q');
  assert.equal(sz.err, 'libvirt-volume: Invalid image size specified. You may use k, M, G, T, P or E suffixes for\nlibvirt-volume: kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.\n');
  assert.equal(fs.existsSync(join(dir, 'n2.luks')), false);
});
