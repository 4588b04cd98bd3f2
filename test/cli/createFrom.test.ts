// `create VOLUME.xml --from INPUT` on the command line: what it prints, its refusals before a byte is
// written, --force, and a raw output larger than its input (libvirt's copy into a file truncated to
// the capacity). Inputs are made by qemu-img/qemu-io; outputs checked with qemu-img compare/info.
// The runs themselves are checked against a real libvirtd in test/oracle/volumeCreateFrom.oracle.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCreate } from '../../server/src/cli/create';
import { qemuImgInfo, qemuImgOk, runOracle } from '../helpers/oracle';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lv-cli-from-'));
  qemuImgOk(['create', '-q', '-f', 'raw', join(dir, 'in.raw'), '8M']);
  assert.equal(runOracle('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 1M 256k', join(dir, 'in.raw')]).status, 0);
  qemuImgOk(['create', '-q', '--object', 'secret,id=s0,data=pw', '-f', 'luks', '-o', 'key-secret=s0,iter-time=10',
    join(dir, 'in.luks'), '8M']);
  writeFileSync(join(dir, 'pw'), 'pw', { mode: 0o600 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function cli(xml: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  writeFileSync(join(dir, 'v.xml'), xml);
  let out = '', err = '';
  const code = await runCreate([join(dir, 'v.xml'), ...args], {
    out: (x) => { out += x; }, err: (x) => { err += x; }, cwd: dir, isTTY: false,
  });
  return { code, out, err };
}
const vol = (target: string, capacity = '') => `<volume><name>v.img</name>${capacity}<target>${target}</target></volume>`;
const leftovers = () => readdirSync(dir).filter((n) => n.startsWith('.'));

test('prints libvirt\'s line, makes the volume, refuses an existing output unless --force', async () => {
  const out = join(dir, 'o.qcow2');
  const r = await cli(vol("<format type='qcow2'/><compat>1.1</compat>"), ['--from', 'in.raw', '--output', out]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.replace(/^# libvirt [\d.]+ /, '# libvirt X '),
    `# libvirt X would run: qemu-img convert -f raw -O qcow2 -o compat=1.1 ${join(dir, 'in.raw')} ${out}\n`);
  assert.equal(runOracle('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', join(dir, 'in.raw'), out]).status, 0);
  const again = await cli(vol("<format type='qcow2'/><compat>1.1</compat>"), ['--from', 'in.raw', '--output', out]);
  assert.equal(again.code, 1);
  assert.match(again.err, /exists; use --force/);
  const forced = await cli(vol("<format type='raw'/>"), ['--from', 'in.raw', '--output', out, '--force', '-q']);
  assert.equal(forced.code, 0, forced.err);
  assert.equal(forced.out, '');
  assert.equal(qemuImgInfo(out).format, 'raw');
  assert.deepEqual(leftovers(), []);
});

test('a qcow2 volume larger than its encrypted input: libvirt\'s create + convert -n', async () => {
  const out = join(dir, 'big.qcow2');
  const r = await cli(vol("<format type='qcow2'/><compat>1.1</compat>", "<capacity unit='M'>16</capacity>"),
    ['--from', 'in.luks', '--from-passphrase-file', 'pw', '--output', out]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /would run: qemu-img create -f qcow2 -o compat=1\.1 \S+big\.qcow2 16384K\n# {3}then: qemu-img convert --image-opts -n/);
  assert.equal(qemuImgInfo(out)['virtual-size'], 16 * 2 ** 20);
  const cmp = runOracle('qemu-img', ['compare', '--object', 'secret,id=s0,data=pw', '--image-opts',
    `driver=luks,key-secret=s0,file.filename=${join(dir, 'in.luks')}`, `driver=qcow2,file.filename=${out}`]);
  assert.equal(cmp.status, 0, cmp.stdout + cmp.stderr);
  assert.equal(runOracle('qemu-img', ['check', out]).status, 0);
  assert.deepEqual(leftovers(), []);
});

test('a raw volume larger than its input: libvirt\'s copy into a file of <capacity> bytes', async () => {
  const out = join(dir, 'big.img');
  const r = await cli(vol("<format type='raw'/>", "<capacity unit='M'>12</capacity>"), ['--from', 'in.raw', '--output', out]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /does: \(no qemu-img: libvirt copies the bytes itself\) \S+in\.raw → \S+big\.img: 12582912 bytes, 12582912 bytes allocated/);
  assert.equal(statSync(out).size, 12 * 2 ** 20);
  const data = readFileSync(out);
  assert.ok(data.subarray(1 << 20, (1 << 20) + 256 * 1024).every((b) => b === 0x5a));
  assert.ok(data.subarray(8 << 20).every((b) => b === 0));
  assert.deepEqual(leftovers(), []);
});

test('refusals before a byte: passphrases, stdin twice, --from-* alone, the input as output, a format not written', async () => {
  const out = join(dir, 'r.img');
  const missing = await cli(vol("<format type='raw'/>"), ['--from', 'in.luks', '--output', out]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /the encrypted input image needs --from-passphrase-file F, --from-passphrase-env VAR or --from-passphrase-stdin/);
  const twice = await cli(vol("<format type='raw'/><encryption format='luks'><secret type='passphrase' uuid='c1a2e3b4-0000-4000-8000-000000000001'/></encryption>"),
    ['--from', 'in.luks', '--output', out, '--passphrase-stdin', '--from-passphrase-stdin']);
  assert.equal(twice.code, 1);
  assert.match(twice.err, /standard input carries one passphrase/);
  const alone = await cli(vol("<format type='raw'/>"), ['--output', out, '--from-passphrase-file', 'pw']);
  assert.equal(alone.code, 2);
  assert.match(alone.err, /--from-passphrase-\* is the passphrase of a --from INPUT image/);
  const self = await cli(vol("<format type='raw'/>"), ['--from', 'in.raw', '--output', join(dir, 'in.raw'), '--force']);
  assert.equal(self.code, 1);
  assert.match(self.err, /the output is the input image/);
  const aes = await cli(vol("<format type='vmdk'/>"), ['--from', 'in.raw', '--output', out]);
  assert.equal(aes.code, 1);
  assert.match(aes.err, /libvirt-volume writes raw, qcow2, luks images only/);
  assert.ok(!existsSync(out));
  assert.deepEqual(leftovers(), []);
});
