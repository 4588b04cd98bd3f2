import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FIXED_UUID, accept, completions, labels } from '../helpers/cursor';
import type { SecretInfo } from '../../server/src/service/types';

const VOL = (target: string) => `<volume>\n  <name>v.qcow2</name>\n  <capacity unit='G'>1</capacity>\n  <target>\n    <format type='qcow2'/>\n${target}\n  </target>\n</volume>`;
const ENC = (inner: string) => VOL(`    <encryption format='luks'>\n      <secret type='passphrase' uuid='${FIXED_UUID}'/>\n${inner}\n    </encryption>`);

test('element names allowed by the parent, minus single ones already present', () => {
  assert.deepEqual(labels(`<volume>\n  <|`), ['name', 'key', 'source', 'capacity', 'allocation', 'physical', 'target', 'backingStore']);
  assert.deepEqual(labels(`<volume><name>x</name><capacity>1</capacity><|`), ['key', 'source', 'allocation', 'physical', 'target', 'backingStore']);
  assert.deepEqual(labels(`<volume><target><features><|`), ['lazy_refcounts', 'extended_l2', 'data_file']);
  assert.deepEqual(labels(`<secret><usage type='volume'><|`), ['volume', 'name', 'target']);
  // A half-typed name is replaced as a whole.
  const item = completions(`<volume><target><enc|`).find((c) => c.label === 'encryption')!;
  assert.ok(item.textEdit && 'range' in item.textEdit);
  assert.deepEqual(item.textEdit.range, { start: { line: 0, character: 17 }, end: { line: 0, character: 20 } });
});

test('features follow the configured libvirt version', () => {
  assert.deepEqual(labels(`<volume><target><features><|`, { libvirtVersion: '9.0.0' }), ['lazy_refcounts', 'extended_l2']);
  assert.deepEqual(labels(`<volume><target><features><|`, { libvirtVersion: '8.0.0' }), ['lazy_refcounts']);
});

test('encryption children: no <cipher>/<ivgen> in a domain disk (supplying <cipher> … is unnecessary)', () => {
  assert.deepEqual(labels(`<volume><target><encryption format='luks'><|`), ['secret', 'cipher', 'ivgen']);
  assert.deepEqual(labels(`<domain><devices><disk><source file='/x'><encryption format='luks'><|`), ['secret']);
});

test('encryption format values by libvirt version, deprecated ones last and tagged', () => {
  assert.deepEqual(labels(VOL(`<encryption format='|'/>`)), ['luks', 'luks2', 'luks-any', 'qcow', 'default']);
  assert.deepEqual(labels(VOL(`<encryption format='|'/>`), { libvirtVersion: '9.0.0' }), ['luks', 'luks2', 'qcow', 'default']);
  assert.deepEqual(labels(VOL(`<encryption format='|'/>`), { libvirtVersion: '7.0.0' }), ['luks', 'qcow', 'default']);
  const qcow = completions(VOL(`<encryption format='|'/>`)).find((c) => c.label === 'qcow')!;
  assert.deepEqual(qcow.tags, [1]);
});

test('engine and secret type values', () => {
  assert.deepEqual(labels(VOL(`<encryption format='luks' engine='|'/>`)), ['qemu', 'librbd']);
  assert.deepEqual(labels(ENC(`<secret type='|'/>`)), ['passphrase']);
});

test('cipher name and the key sizes qemu accepts for it', () => {
  assert.deepEqual(labels(ENC(`<cipher name='|'/>`)), ['aes', 'twofish', 'serpent', 'cast5']);
  assert.deepEqual(labels(ENC(`<cipher name='twofish' size='|'/>`)), ['256', '192', '128']);
  assert.deepEqual(labels(ENC(`<cipher name='cast5' size='|'/>`)), ['128']);
  // qemu 7.2 aborts on 192-bit keys outside xts (schemas/luksOptions.ts qemuAbortsOn).
  assert.deepEqual(labels(ENC(`<cipher name='aes' size='|' mode='cbc'/>`)), ['256', '128']);
  const item = completions(ENC(`<cipher name='twofish' size='|'/>`)).find((c) => c.label === '256')!;
  assert.equal(item.detail, 'default · encrypt.cipher-alg=twofish-256');
});

test('cipher modes exclude what the family cannot do; hashes are qemu\'s QAPI list', () => {
  assert.deepEqual(labels(ENC(`<cipher name='aes' size='256' mode='|'/>`)), ['xts', 'cbc', 'ctr', 'ecb']);
  assert.deepEqual(labels(ENC(`<cipher name='cast5' size='128' mode='|'/>`)), ['cbc', 'ctr', 'ecb']);
  assert.deepEqual(labels(ENC(`<cipher name='aes' size='192' mode='|'/>`)), ['xts']);
  assert.deepEqual(labels(ENC(`<cipher name='aes' size='256' mode='xts' hash='|'/>`)), ['sha256', 'sha512', 'sha384', 'sha224', 'sha1', 'ripemd160', 'md5']);
});

test('ivgen name and hash; essiv only offers digests that key the cipher', () => {
  assert.deepEqual(labels(ENC(`<cipher name='aes' size='256'/>\n<ivgen name='|'/>`)), ['plain64', 'plain', 'essiv']);
  assert.deepEqual(labels(ENC(`<cipher name='aes' size='128' mode='cbc' hash='sha256'/>\n<ivgen name='essiv' hash='|'/>`)), ['sha256', 'md5']);
  assert.deepEqual(labels(ENC(`<cipher name='cast5' size='128' mode='cbc' hash='sha256'/>\n<ivgen name='essiv' hash='|'/>`)), ['md5']);
  assert.deepEqual(labels(ENC(`<cipher name='aes' size='256'/>\n<ivgen name='plain64' hash='|'/>`)).length, 7);
});

test('target format types per pool type', () => {
  const dir = labels(VOL(`<format type='|'/>`).replace("<format type='qcow2'/>\n", ''));
  assert.equal(dir[0], 'raw');
  assert.ok(dir.includes('qcow2') && !dir.includes('none') && !dir.includes('luks'));
  assert.deepEqual(labels(`<volume><target><format type='|'/>`, { poolType: 'disk' }), ['none', 'linux', 'fat16', 'fat32', 'linux-swap', 'linux-lvm', 'linux-raid', 'extended']);
  assert.deepEqual(labels(`<volume><target><format type='|'/>`, { poolType: 'logical' }), []);
});

test('units, compat, permissions', () => {
  assert.deepEqual(labels(`<volume><capacity unit='|'>1</capacity>`).slice(0, 4), ['bytes', 'KiB', 'MiB', 'GiB']);
  assert.deepEqual(labels(`<volume><target><compat>|</compat>`), ['1.1', '0.10']);
  assert.deepEqual(labels(`<volume><target><compat>1.|</compat>`), ['1.1', '0.10']);
  assert.equal(labels(`<volume><target><permissions><mode>|</mode>`)[0], '0600');
  assert.deepEqual(labels(`<volume><target><permissions><owner>|</owner>`), ['-1', '0']);
  assert.deepEqual(labels(`<volume><target><permissions><group>|`), ['-1', '0']);
});

test('attribute names, required first, present ones left out', () => {
  assert.deepEqual(labels(ENC(`<cipher |/>`)), ['name', 'size', 'mode', 'hash']);
  assert.deepEqual(labels(ENC(`<cipher name='aes' |/>`)), ['size', 'mode', 'hash']);
  // engine only where it matters (domain disks); the storage driver ignores it.
  assert.deepEqual(labels(`<volume><target><encryption |`), ['format']);
  assert.deepEqual(labels(`<domain><devices><disk><source file='/x'><encryption |`), ['format', 'engine']);
  assert.equal(accept(`<volume><target><encryption format='luks'><|`, 'secret'), `<volume><target><encryption format='luks'><secret type='passphrase' uuid='${FIXED_UUID}'/>`);
  assert.equal(accept(`<volume><target><encryption format='luks'><|`, 'cipher'), `<volume><target><encryption format='luks'><cipher name='aes' size='256'/>`);
  assert.equal(accept(ENC(`<cipher name='aes'|/>`), 'size'), ENC(`<cipher name='aes' size=''/>`));
});

test('secret uuid: workspace secrets with their usage, plus a new random UUID', () => {
  const secrets: SecretInfo[] = [
    { uri: 'file:///ws/s1.xml', uuid: '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f', usageType: 'volume', usageVolume: '/var/lib/libvirt/images/v.qcow2' },
    { uri: 'file:///ws/s2.xml', uuid: undefined, usageType: 'ceph', usageVolume: undefined },
  ];
  const items = completions(VOL(`<encryption format='luks'><secret type='passphrase' uuid='|'/></encryption>`), {}, { secrets: () => secrets });
  assert.deepEqual(items.map((i) => i.label), ['0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f', 'New random UUID']);
  assert.match(String((items[0].documentation as { value: string }).value), /usage volume \/var\/lib\/libvirt\/images\/v\.qcow2 — \/ws\/s1\.xml/);
  assert.equal(items[1].detail, FIXED_UUID);
  // Unquoted value: the quotes come with it.
  const unq = completions(`<volume><target><encryption format='luks'><secret type='passphrase' uuid=|`, {}, { secrets: () => secrets });
  assert.equal((unq[1].textEdit as { newText: string }).newText, `'${FIXED_UUID}'`);
  // usage completion offers the workspace's volume paths.
  assert.deepEqual(labels(VOL(`<encryption format='luks'><secret type='passphrase' usage='|'/></encryption>`), {}, { secrets: () => secrets }), ['/var/lib/libvirt/images/v.qcow2']);
});

test('snippets: LUKS encryption block with a fresh uuid', () => {
  const out = accept(`<volume><target>|</target></volume>`, 'encryption (LUKS)');
  assert.equal(out, `<volume><target><encryption format='luks'>\n\t<secret type='passphrase' uuid='${FIXED_UUID}'/>\n</encryption></target></volume>`);
  assert.deepEqual(labels(`<volume><target><encryption format='luks'/>|</target></volume>`).filter((l) => l.startsWith('encryption')), []);
  assert.deepEqual(labels(`<domain><devices><disk><source file='/x'>|`).filter((l) => l.includes('(')), ['encryption (LUKS)']);
});

test('snippets: complete volumes at top level', () => {
  assert.deepEqual(labels('|').slice(0, 6), ['volume (qcow2)', 'volume (raw)', 'volume (encrypted qcow2)', 'volume (encrypted raw, LUKS)', 'secret (volume passphrase)', 'encryption (LUKS)']);
  const enc = accept('|', 'volume (encrypted qcow2)');
  assert.match(enc, /<format type='qcow2'\/>/);
  assert.match(enc, /<compat>1\.1<\/compat>/);
  assert.ok(enc.includes(`uuid='${FIXED_UUID}'`));
  assert.deepEqual(labels('<volume/>\n|'), []);
});

test('end tags close the innermost open element', () => {
  assert.deepEqual(labels(`<volume><target></|`), ['/target']);
  assert.equal(accept(`<volume><target></|`, '/target'), `<volume><target></target>`);
});

test('half-typed documents never throw and still complete', () => {
  const texts = ['<', '</', '<volume', "<volume type='", '<volume><target><encryption format="lu', '<<<>>>', '<!-- <volume', "<a b='<'>", ''];
  for (const t of texts) for (let i = 0; i <= t.length; i++) completions(t.slice(0, i) + '|' + t.slice(i));
  assert.deepEqual(labels(`<volume><target><encryption format="lu|`), ['luks', 'luks2', 'luks-any', 'qcow', 'default']);
});

test('secret document <uuid>: uuids volumes use that no secret defines, and a new one', () => {
  const env = {
    secrets: () => [{ uri: 'file:///ws/a.xml', uuid: '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f', usageType: 'volume', usageVolume: '/p/a' }],
    secretUses: () => [
      { uri: 'file:///ws/a-vol.xml', uuid: '0A81F5B2-8403-7b23-c8d6-21ccc2f80d6f', range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } },
      { uri: 'file:///ws/b-vol.xml', uuid: '0b81f5b2-8403-7b23-c8d6-21ccc2f80d6f', range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } },
    ],
  };
  const items = completions(`<secret>\n  <uuid>|</uuid>\n</secret>`, {}, env);
  assert.deepEqual(items.map((i) => [i.label, i.detail]), [['0b81f5b2-8403-7b23-c8d6-21ccc2f80d6f', 'used by b-vol.xml'], ['New random UUID', FIXED_UUID]]);
});

test('element items in plain content filter on the bare name', () => {
  const item = completions(`<volume><target>\n  enc|\n</target></volume>`).find((c) => c.label === 'encryption')!;
  assert.equal(item.filterText, 'encryption');
  assert.equal(accept(`<volume><target>\n  enc|\n</target></volume>`, 'compat'), `<volume><target>\n  <compat>1.1</compat>\n</target></volume>`);
});
