// `create VOLUME.xml --from INPUT --connect URI --pool NAME` (issues 11 and 13): the input is a
// file here, so the volume is converted here and streamed into the pool (vol-create of a raw
// placeholder + vol-upload --sparse), the secret of an encrypted volume defined first. Against a
// session libvirtd started by the test: libvirt reports the volume, its content is the input's
// (qemu-img compare, with the passphrases), the secret has the volume's usage; a refusal leaves
// nothing in the pool or the secret list. The server's createVolume {uri, from, pool} takes the same path.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionLibvirt } from './libvirt';
import { runCreate } from '../../server/src/cli/create';
import { qemuImgOk, runOracle } from '../helpers/oracle';
import { TestClient } from '../helpers/lspClient';
import { pathToFileURL } from 'node:url';

let s: SessionLibvirt;
let dir: string;
const IN_PASS = 'input-pass';
const OUT_PASS = 'volume-pass';
const UUID = 'd2c4e6f8-1a3b-4c5d-8e9f-0a1b2c3d4e5f';

before(async () => {
  s = await SessionLibvirt.start();
  dir = mkdtempSync(join(tmpdir(), 'lv-from-pool-'));
  writeFileSync(join(dir, 'in.pw'), IN_PASS, { mode: 0o600 });
  writeFileSync(join(dir, 'out.pw'), OUT_PASS, { mode: 0o600 });
}, { timeout: 120_000 });
after(async () => {
  await s?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function cli(xml: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const path = join(dir, 'vol.xml');
  writeFileSync(path, xml);
  let out = '', err = '';
  const code = await runCreate([path, ...args], {
    out: (x) => { out += x; }, err: (x) => { err += x; }, cwd: dir, isTTY: false,
  });
  return { code, out, err };
}

/** A 16 MiB input with data at several offsets and a zeroed range (qemu-img + qemu-io). */
function input(name: string, luks: boolean): string {
  const p = join(dir, name);
  const secret = luks ? ['--object', `secret,id=s0,data=${IN_PASS}`] : [];
  qemuImgOk(['create', '-q', ...secret, '-f', luks ? 'luks' : 'raw', ...(luks ? ['-o', 'key-secret=s0,iter-time=10'] : []), p, '16M']);
  const open = luks ? [...secret, '--image-opts', `driver=luks,key-secret=s0,file.filename=${p}`] : ['-f', 'raw', p];
  for (const cmd of ['write -P 0x5a 0 64k', 'write -P 0xa5 5M 1M', 'write -z 5376k 64k']) {
    assert.equal(runOracle('qemu-io', [...open, '-c', cmd]).status, 0);
  }
  return p;
}

interface PoolAnswer { image: string; pool: string; uploaded: boolean; libvirtCommand?: string; steps: string[]; secretUuid?: string }

const volumes = async () => (await s.virshRun(['vol-list', '--pool', 'p'])).stdout;
const secrets = async () => (await s.virshRun(['secret-list'])).stdout;

test('a plain input into a qcow2 volume of the pool: libvirt reports it, the content is the input\'s', { timeout: 300_000 },
  async () => {
    const from = input('plain.raw', false);
    const xml = "<volume><name>fp.qcow2</name><target><format type='qcow2'/><compat>1.1</compat></target></volume>";
    const r = await cli(xml, ['--from', from, '--connect', s.uri, '--pool', 'p']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^# libvirt \S+ would run: qemu-img convert -f raw -O qcow2 -o compat=1\.1 \S+plain\.raw p\/fp\.qcow2$/m);
    assert.match(r.out, /is a file of this machine; writing it here and uploading/);
    const info = await s.virshRun(['vol-dumpxml', '--pool', 'p', 'fp.qcow2']);
    assert.match(info.stdout, /<format type='qcow2'\/>/);
    assert.match(info.stdout, /<capacity unit='bytes'>16777216<\/capacity>/);
    const cmp = runOracle('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', from, join(s.pool, 'fp.qcow2')]);
    assert.equal(cmp.status, 0, cmp.stdout + cmp.stderr);
    await s.virshRun(['vol-delete', '--pool', 'p', 'fp.qcow2']);
  });

test('a LUKS input into a LUKS volume: the secret is defined with the volume\'s usage, it opens with the passphrase', { timeout: 300_000 },
  async () => {
    const from = input('enc.luks', true);
    const xml = `<volume><name>fl.img</name><target><format type='raw'/><encryption format='luks'>`
      + `<secret type='passphrase' uuid='${UUID}'/></encryption></target></volume>`;
    const r = await cli(xml, ['--from', from, '--from-passphrase-file', 'in.pw', '--passphrase-file', 'out.pw',
      '--connect', s.uri, '--pool', 'p']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /then: qemu-img convert --image-opts -n --target-image-opts --object secret,id=fl\.img_encrypt0,file=SECRETFILE/);
    const sx = await s.virshRun(['secret-dumpxml', UUID]);
    assert.match(sx.stdout, new RegExp(`<volume>${join(s.pool, 'fl.img')}</volume>`));
    const target = join(s.pool, 'fl.img');
    const cmp = runOracle('qemu-img', ['compare', '--object', `secret,id=a,data=${IN_PASS}`, '--object', `secret,id=b,data=${OUT_PASS}`,
      '--image-opts', `driver=luks,key-secret=a,file.filename=${from}`, `driver=luks,key-secret=b,file.filename=${target}`]);
    assert.equal(cmp.status, 0, cmp.stdout + cmp.stderr);
    await s.virshRun(['vol-delete', '--pool', 'p', 'fl.img']);
    await s.virshRun(['secret-undefine', UUID]);
  });

test('refusals leave nothing: a wrong input passphrase (after the secret step), a missing one (before anything)',
  { timeout: 300_000 }, async () => {
    const from = input('bad.luks', true);
    const xml = `<volume><name>fb.img</name><target><format type='raw'/><encryption format='luks'>`
      + `<secret type='passphrase' uuid='${UUID}'/></encryption></target></volume>`;
    const vols = await volumes();
    const secs = await secrets();
    writeFileSync(join(dir, 'wrong.pw'), 'wrong', { mode: 0o600 });
    const wrong = await cli(xml, ['--from', from, '--from-passphrase-file', 'wrong.pw', '--passphrase-file', 'out.pw',
      '--connect', s.uri, '--pool', 'p']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /Invalid password, cannot unlock any keyslot/);
    const missing = await cli(xml, ['--from', from, '--passphrase-file', 'out.pw', '--connect', s.uri, '--pool', 'p']);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /the encrypted input image needs --from-passphrase-file F, --from-passphrase-env VAR or --from-passphrase-stdin/);
    assert.equal(await volumes(), vols);
    assert.equal(await secrets(), secs);
  });

test('LSP: createVolume {uri, from, pool} converts here and uploads into the pool', { timeout: 300_000 },
  async () => {
    const from = input('lsp.raw', false);
    const xmlPath = join(dir, 'lsp.xml');
    writeFileSync(xmlPath, "<volume><name>flsp.img</name><target><format type='raw'/></target></volume>");
    const c = new TestClient();
    try {
      await c.initialize();
      const r = await c.request<PoolAnswer>(
        'workspace/executeCommand',
        { command: 'libvirtVolume.createVolume', arguments: [{ uri: pathToFileURL(xmlPath).href, from, pool: 'p', connection: s.uri }] });
      assert.equal(r.pool, 'p');
      assert.equal(r.uploaded, true);
      assert.equal(r.image, join(s.pool, 'flsp.img'));
      // What libvirt's vol-create-from would do, with the volume's path on the host (raw → raw: its own copy).
      assert.equal(r.libvirtCommand,
        `(no qemu-img: libvirt copies the bytes itself) ${from} → ${r.image}: 16777216 bytes, zero blocks left as holes`);
      assert.ok(r.steps.some((l) => /lsp\.raw is a file of this machine; writing it here and uploading/.test(l)), r.steps.join('\n'));
      assert.ok(r.steps.some((l) => l.startsWith('uploading ')), r.steps.join('\n'));
      const cmp = runOracle('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', from, r.image]);
      assert.equal(cmp.status, 0, cmp.stdout + cmp.stderr);
      assert.match(await volumes(), /flsp\.img/);
      await s.virshRun(['vol-delete', '--pool', 'p', 'flsp.img']);
    } finally {
      await c.dispose();
    }
  });

test('LSP: createVolume {uri, from, pool} of a LUKS input into a qcow2+LUKS volume answers libvirt\'s lines and the steps',
  { timeout: 300_000 }, async () => {
    const from = input('lsp.luks', true);
    const xmlPath = join(dir, 'lsp-enc.xml');
    writeFileSync(xmlPath, "<volume><name>fenc.qcow2</name><target><format type='qcow2'/><compat>1.1</compat>"
      + "<encryption format='luks'/></target></volume>");
    const vols = await volumes();
    const c = new TestClient();
    try {
      await c.initialize();
      const args = { uri: pathToFileURL(xmlPath).href, from, pool: 'p', connection: s.uri, passphrase: OUT_PASS,
        fromPassphrase: IN_PASS, iterTimeMs: 10 };
      const r = await c.request<PoolAnswer>('workspace/executeCommand', { command: 'libvirtVolume.createVolume', arguments: [args] });
      const target = join(s.pool, 'fenc.qcow2');
      assert.equal(r.image, target);
      assert.equal(r.uploaded, true);
      // libvirt's two runs for an encrypted side, on the host's path, the new secret's id in them.
      const lines = r.libvirtCommand!.split('\n');
      assert.equal(lines.length, 2, r.libvirtCommand);
      assert.match(lines[0], new RegExp(`^qemu-img create -f qcow2 --object secret,id=fenc\\.qcow2_encrypt0,file=SECRETFILE .*${target} 16384K$`));
      assert.match(lines[1], new RegExp(`^qemu-img convert --image-opts -n --target-image-opts .*driver=luks,file\\.filename=${from},`
        + `key-secret=lsp\\.luks_encrypt0 driver=qcow2,file\\.filename=${target},encrypt\\.key-secret=fenc\\.qcow2_encrypt0$`));
      // The steps, in order: the secret defined (a uuid was added: the XML named none), then the upload.
      const at = (re: RegExp) => r.steps.findIndex((l) => re.test(l));
      assert.ok(r.secretUuid, 'a secret was defined');
      const defined = at(new RegExp(`^defined secret ${r.secretUuid} \\(usage volume ${target}\\)$`));
      const uploading = at(/^uploading \d+ bytes into volume 'fenc\.qcow2' of pool 'p'/);
      assert.ok(defined >= 0 && uploading > defined, r.steps.join('\n'));
      const cmp = runOracle('qemu-img', ['compare', '--object', `secret,id=a,data=${IN_PASS}`, '--object', `secret,id=b,data=${OUT_PASS}`,
        '--image-opts', `driver=luks,key-secret=a,file.filename=${from}`, `driver=qcow2,encrypt.key-secret=b,file.filename=${target}`]);
      assert.equal(cmp.status, 0, cmp.stdout + cmp.stderr);
      await s.virshRun(['vol-delete', '--pool', 'p', 'fenc.qcow2']);
      await s.virshRun(['secret-undefine', r.secretUuid!]);
      assert.equal(await volumes(), vols);
    } finally {
      await c.dispose();
    }
  });
