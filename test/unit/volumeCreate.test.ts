// service/volumeCreate.ts without tools: the one reader of a <volume> and libvirt's storage-driver
// mapping (the oracle test test/oracle/volumeCreate.oracle.test.ts compares it with the argv a
// real libvirtd passes to qemu-img).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseXml } from '../../server/src/service/xmlModel';
import {
  cipherAlg, defaultCompat, isLegacyAes, readVolume, SECRET_FILE_PLACEHOLDER, unwritableFormat, volumeCreation, volumeCreationFrom,
} from '../../server/src/service/volumeCreate';

const vol = (target: string, extra = '', cap = "<capacity unit='M'>20</capacity><allocation>0</allocation>") =>
  `<volume><name>v.img</name>${cap}${extra}<target>${target}</target></volume>`;
const map = (xml: string, version = '9.0.0', preallocMetadata = false) =>
  volumeCreation(readVolume(parseXml(xml).root), { output: '/p/v.img', libvirtVersion: version, preallocMetadata });

test('reader: every field once, units through virScaleInteger, libvirt defaults', () => {
  const v = readVolume(parseXml(`<volume><name> a </name><capacity unit='KB'>3</capacity>
    <target><path>/x</path><format type='qcow2'/><permissions><mode>0600</mode><owner>107</owner></permissions>
    <compat>1.1</compat><features><lazy_refcounts/></features><nocow/><clusterSize unit='k'>64</clusterSize>
    <encryption format='luks'><secret type='passphrase' uuid='u1'/><cipher name='aes' size='256' mode='xts'/>
    <ivgen name='plain64'/></encryption></target>
    <backingStore><path>/b</path></backingStore></volume>`).root);
  assert.equal(v.name, 'a');
  assert.equal(v.capacity, 3000n);
  assert.equal(v.allocation, undefined);
  assert.deepEqual(v.target.permissions, { mode: '0600', owner: '107', group: undefined, label: undefined });
  assert.deepEqual(v.target.features, { lazyRefcounts: true, extendedL2: false });
  assert.equal(v.target.clusterSize, 65536n);
  assert.equal(v.target.encryption?.format, 'luks');
  assert.deepEqual(v.target.encryption?.secrets, [{ type: 'passphrase', uuid: 'u1', usage: undefined }]);
  assert.equal(cipherAlg(v.target.encryption?.cipher), 'aes-256');
  assert.deepEqual(v.backingStore, { path: '/b', format: 'raw' });
  assert.equal(readVolume(undefined).target.format, 'raw');
});

test('qcow2: compat default by version, features imply 1.1, KiB sizes rounded up, option order', () => {
  assert.equal(defaultCompat('9.0.0'), '0.10');
  assert.equal(defaultCompat('10.2.0'), '1.1');
  let m = map(vol("<format type='qcow2'/>"));
  assert.deepEqual(m.argv, ['create', '-f', 'qcow2', '-o', 'compat=0.10', '/p/v.img', '20480K']);
  assert.equal(m.commandLine, 'qemu-img create -f qcow2 -o compat=0.10 /p/v.img 20480K');
  m = map(vol("<format type='qcow2'/><features><lazy_refcounts/></features><clusterSize unit='KiB'>128</clusterSize><nocow/>"));
  assert.deepEqual(m.args.options, ['nocow=on,compat=1.1,cluster_size=131072,lazy_refcounts']);
  m = map(vol("<format type='qcow2'/>", '', '<capacity>1000</capacity><allocation>0</allocation>'), '11.3.0', true);
  assert.equal(m.args.size, '1K');
  assert.deepEqual(m.args.options, ['preallocation=metadata,compat=1.1']);
  // No <allocation>: libvirt takes the capacity, so --prealloc-metadata becomes falloc.
  m = map(vol("<format type='qcow2'/>", '', "<capacity unit='M'>20</capacity>"), '9.0.0', true);
  assert.deepEqual(m.args.options, ['preallocation=falloc,compat=0.10']);
});

test('backing store: -b and backing_fmt; no capacity → no size (qemu-img takes the backing image\'s)', () => {
  let m = map(vol("<format type='qcow2'/>", "<backingStore><path>/b.img</path></backingStore>"), '11.3.0');
  assert.deepEqual(m.argv, ['create', '-f', 'qcow2', '-b', '/b.img', '-o', 'backing_fmt=raw,compat=1.1', '/p/v.img', '20480K']);
  assert.equal(m.args.backingFile, '/b.img');
  m = map(vol("<format type='qcow2'/>", "<backingStore><path>/b.img</path><format type='qcow2'/></backingStore>", ''));
  assert.deepEqual(m.argv, ['create', '-f', 'qcow2', '-b', '/b.img', '-o', 'backing_fmt=qcow2,compat=0.10', '/p/v.img']);
  assert.equal(m.args.size, undefined);
  assert.equal(map(vol("<format type='qcow2'/>", "<backingStore><path>/b</path></backingStore>"), '9.0.0', true).refusal,
    'metadata preallocation conflicts with backing store');
});

test('encryption: --object secret NAME_encrypt0 and key-secret as libvirt passes them; not for the writer', () => {
  const enc = (inner = '') => `<encryption format='luks'><secret type='passphrase' uuid='u'/>${inner}</encryption>`;
  let m = map(vol("<format type='raw'/>" + enc("<cipher name='aes' size='256' mode='cbc' hash='sha256'/><ivgen name='essiv' hash='sha256'/>")));
  assert.equal(m.format, 'luks');
  assert.deepEqual(m.argv, ['create', '-f', 'luks', '--object', `secret,id=v.img_encrypt0,file=${SECRET_FILE_PLACEHOLDER}`, '-o',
    'key-secret=v.img_encrypt0,cipher-alg=aes-256,cipher-mode=cbc,hash-alg=sha256,ivgen-alg=essiv,ivgen-hash-alg=sha256', '/p/v.img', '20480K']);
  assert.deepEqual(m.args.options, ['cipher-alg=aes-256,cipher-mode=cbc,hash-alg=sha256,ivgen-alg=essiv,ivgen-hash-alg=sha256']);
  m = map(vol("<format type='qcow2'/><nocow/>" + enc("<cipher name='a,b' size='128'/>")));
  assert.deepEqual(m.argv.slice(3), ['--object', `secret,id=v.img_encrypt0,file=${SECRET_FILE_PLACEHOLDER}`, '-o',
    'encrypt.format=luks,encrypt.key-secret=v.img_encrypt0,encrypt.cipher-alg=a,,b-128,nocow=on,compat=0.10', '/p/v.img', '20480K']);
  assert.deepEqual(m.args.options, ['encrypt.format=luks,encrypt.cipher-alg=a,,b-128,nocow=on,compat=0.10']);
  // iso is created as raw: encrypted → -f luks; plain → qemu-img -f raw without preallocation.
  assert.equal(map(vol("<format type='iso'/>" + enc())).format, 'luks');
  m = map(vol("<format type='iso'/>", '', "<capacity unit='M'>20</capacity>"));
  assert.deepEqual(m.argv, ['create', '-f', 'raw', '/p/v.img', '20480K']);
  // Legacy qcow AES (libvirt < 4.5.0): encryption=on and the secret id, no --object.
  m = map(vol("<format type='qcow2'/><encryption format='qcow'/>"), '4.4.0');
  assert.ok(isLegacyAes(readVolume(parseXml(vol("<format type='qcow2'/><encryption/>")).root)));
  assert.deepEqual(m.argv, ['create', '-f', 'qcow2', '-o', 'encryption=on,encrypt.key-secret=v.img_encrypt0,compat=0.10', '/p/v.img', '20480K']);
});

test('plain raw: libvirt writes the file itself, capacity in bytes, allocation as given', () => {
  let m = map(vol("<format type='raw'/>", '', '<capacity>1000</capacity>'));
  assert.equal(m.tool, 'file');
  assert.deepEqual(m.argv, []);
  assert.equal(m.args.size, '1000');
  assert.deepEqual(m.args.options, ['preallocation=falloc'], 'no <allocation> = capacity: fully allocated');
  assert.match(m.commandLine, /no qemu-img/);
  m = map(vol("<format type='raw'/>"));
  assert.equal(m.args.options, undefined, 'allocation 0: sparse');
  assert.equal(map(vol("<format type='raw'/>"), '9.0.0', true).refusal, 'metadata preallocation is not supported for raw volumes');
});

test('other formats go to qemu-img unchanged; the writer says it does not make them', () => {
  const m = map(vol("<format type='vmdk'/><clusterSize unit='KiB'>64</clusterSize>"));
  assert.deepEqual(m.argv, ['create', '-f', 'vmdk', '-o', 'cluster_size=65536', '/p/v.img', '20480K']);
  assert.match(unwritableFormat(m), /libvirt would create this vmdk image with qemu-img \(qemu-img create -f vmdk/);
  assert.equal(map(vol("<format type='qed'/>"), '9.0.0', true).refusal, 'metadata preallocation only available with qcow2');
});

test('only file pools (dir, fs, netfs, vstorage) are created by this mapping', () => {
  const v = readVolume(parseXml(vol("<format type='qcow2'/>")).root);
  for (const poolType of ['dir', 'fs', 'netfs', 'vstorage'] as const) {
    assert.equal(volumeCreation(v, { output: 'o', libvirtVersion: '9.0.0', poolType }).notAFilePool, undefined, poolType);
  }
  assert.match(volumeCreation(v, { output: 'o', libvirtVersion: '9.0.0', poolType: 'logical' }).notAFilePool ?? '',
    /volumes of a logical pool/);
});

// vol-create-from (volumeCreationFrom): the runs test/oracle/volumeCreateFrom.oracle.test.ts records from libvirt 9.0.
const from = (xml: string, input: Partial<import('../../server/src/service/volumeCreate').InputVolume>, meta = false) =>
  volumeCreationFrom(readVolume(parseXml(xml).root), {
    path: '/p/in.img', name: 'in.img', format: 'raw', capacity: 8n * 2n ** 20n, ...input,
  }, { output: '/p/v.img', libvirtVersion: '9.0.0', preallocMetadata: meta });
const LUKS_ENC = "<encryption format='luks'><secret type='passphrase' uuid='u1'/></encryption>";

test('vol-create-from: raw to raw is libvirt\'s own copy, the capacity raised to the input\'s', () => {
  const m = from(vol("<format type='raw'/>", '', "<capacity unit='M'>4</capacity>"), {});
  assert.equal(m.tool, 'copy');
  assert.deepEqual(m.runs, []);
  assert.equal(m.size, 8n * 2n ** 20n);
  // <allocation> defaults to the 4 MiB as written, below the input's capacity: zero blocks stay holes.
  assert.equal(m.allocate, undefined);
  assert.equal(from(vol("<format type='raw'/>", '', "<capacity unit='M'>8</capacity>"), {}).allocate, 8n * 2n ** 20n);
  assert.match(m.commandLine, /^\(no qemu-img: libvirt copies the bytes itself\) \/p\/in\.img → \/p\/v\.img: 8388608 bytes/);
  assert.equal(from(vol("<format type='raw'/>"), {}).allocate, undefined, '<allocation>0</allocation>: holes');
  assert.equal(from(vol("<format type='raw'/>"), {}, true).refusal, 'metadata preallocation is not supported for raw volumes');
});

test('vol-create-from: one convert with the vol-create options, the backing store dropped', () => {
  const m = from(vol("<format type='qcow2'/><clusterSize unit='KiB'>128</clusterSize>",
    "<backingStore><path>/b.qcow2</path><format type='qcow2'/></backingStore>"), { format: 'qcow2' });
  assert.deepEqual(m.runs, [['convert', '-f', 'qcow2', '-O', 'qcow2', '-o', 'compat=0.10,cluster_size=131072', '/p/in.img', '/p/v.img']]);
  assert.deepEqual(from(vol("<format type='iso'/>"), {}).runs[0].slice(0, 5), ['convert', '-f', 'raw', '-O', 'raw']);
  assert.equal(from(vol("<format type='raw'/>"), { format: 'qcow2' }, true).refusal, 'metadata preallocation only available with qcow2');
});

test('vol-create-from: an encrypted side is create + convert -n, the output\'s secret object first', () => {
  const m = from(vol("<format type='raw'/>" + LUKS_ENC, '', "<capacity unit='M'>12</capacity>"), { encryption: 'luks' });
  const s = SECRET_FILE_PLACEHOLDER;
  assert.deepEqual(m.runs, [
    ['create', '-f', 'luks', '--object', `secret,id=v.img_encrypt0,file=${s}`, '-o', 'key-secret=v.img_encrypt0', '/p/v.img', '12288K'],
    ['convert', '--image-opts', '-n', '--target-image-opts', '--object', `secret,id=v.img_encrypt0,file=${s}`,
      '--object', `secret,id=in.img_encrypt0,file=${s}`, 'driver=luks,file.filename=/p/in.img,key-secret=in.img_encrypt0',
      'driver=luks,file.filename=/p/v.img,key-secret=v.img_encrypt0'],
  ]);
  assert.equal(m.inputFormat, 'luks');
  // A plain raw output of an encrypted input is made by qemu-img create too.
  assert.deepEqual(from(vol("<format type='raw'/>"), { format: 'qcow2', encryption: 'luks' }).runs[0],
    ['create', '-f', 'raw', '/p/v.img', '20480K']);
  assert.equal(from(vol("<format type='raw'/>"), { format: 'qcow2', encryption: 'qcow' }).refusal,
    'encryption format of inputvol must be LUKS');
});
