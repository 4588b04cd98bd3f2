import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hover, hoverText } from '../helpers/cursor';

const ENC = (inner: string, fmt = 'raw') => `<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n  <target>\n    <format type='${fmt}'/>\n    <encryption format='luks'>\n      <secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/>\n      ${inner}\n    </encryption>\n  </target>\n</volume>`;

test('element hover: meaning, attributes, children, version, documentation link', () => {
  assert.equal(hoverText(`<volume><target><encr|yption format='qcow'/></target></volume>`), [
    '**`<encryption>`**',
    'How the volume is encrypted and where its passphrase is.',
    'Attributes: `format` (required), `engine`.',
    'Children: `<secret>`, `<cipher>`, `<ivgen>`.',
    'Since libvirt 0.4.1.',
    '[libvirt documentation](https://libvirt.org/formatstorageencryption.html)',
  ].join('\n\n'));
  // The end tag hovers the same element, with the end tag's range.
  const h = hover(`<volume><target></tar|get></volume>`)!;
  assert.match((h.contents as { value: string }).value, /^\*\*`<target>`\*\*/);
  assert.deepEqual(h.range, { start: { line: 0, character: 18 }, end: { line: 0, character: 24 } });
});

test('attribute hover: allowed values here, default, version', () => {
  const t = hoverText(ENC(`<cipher name='twofish' si|ze='256'/>`));
  assert.match(t, /^\*\*`size`\*\* attribute of `<cipher>` \(required\)/);
  assert.match(t, /Allowed here: `256`, `192`, `128`\./);
  assert.match(t, /Default: `256`\./);
  const e = hoverText(`<volume><target><encryption form|at='luks'/></target></volume>`, { libvirtVersion: '9.0.0' });
  assert.match(e, /Allowed here: `luks`, `luks2`, `qcow`, `default`\./);
});

test('cipher and ivgen values show the qemu-img option they become', () => {
  assert.match(hoverText(ENC(`<cipher name='twofish' size='2|56' mode='xts' hash='sha256'/>`)), /qemu-img option: `cipher-alg=twofish-256`/);
  assert.match(hoverText(ENC(`<cipher name='twofish' size='256' mode='xts' hash='sha256'/>`, 'qcow2').replace("name='twofish'", "name='two|fish'")), /qemu-img option: `encrypt\.cipher-alg=twofish-256`/);
  assert.match(hoverText(ENC(`<cipher name='aes' size='256' mode='c|bc' hash='sha256'/>`)), /qemu-img option: `cipher-mode=cbc`/);
  assert.match(hoverText(ENC(`<cipher name='aes' size='256' mode='cbc' hash='sha5|12'/>`)), /qemu-img option: `hash-alg=sha512`/);
  assert.match(hoverText(ENC(`<cipher name='aes' size='256'/><ivgen name='ess|iv' hash='sha256'/>`)), /qemu-img option: `ivgen-alg=essiv`/);
  assert.match(hoverText(ENC(`<cipher name='aes' size='256'/><ivgen name='essiv' hash='sha2|56'/>`)), /qemu-img option: `ivgen-hash-alg=sha256`/);
});

test('value hover: meaning, deprecation, and what is allowed when the value is wrong', () => {
  const q = hoverText(`<volume><target><encryption format='qc|ow'/></target></volume>`);
  assert.match(q, /\*\*Deprecated\.\*\* Since libvirt 4\.5\.0 `qcow` can no longer be used/);
  const bad = hoverText(ENC(`<cipher name='cast5' size='2|56'/>`));
  assert.match(bad, /Not a value accepted here\. Allowed: `128`\./);
});

test('text hover: capacity in bytes, compat meaning, uuid normalisation', () => {
  assert.match(hoverText(`<volume><capacity unit='G'>1|0</capacity></volume>`), /= 10,737,418,240 bytes \(10 GiB\)\./);
  assert.match(hoverText(`<volume><target><compat>1|.1</compat></target></volume>`), /qcow2 version 3/);
  assert.match(hoverText(`<secret><uuid>0A81F5B2 8403 7b23 c8d6 21ccc2f80d6|f</uuid></secret>`), /libvirt reads it as `0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f`\./);
});

test('secret uuid hover names the workspace secret', () => {
  const env = { secrets: () => [{ uri: 'file:///ws/sec.xml', uuid: '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f', usageType: 'volume', usageVolume: '/images/v' }] };
  assert.match(hoverText(ENC('').replace("uuid='0a81", "uuid='0a|81"), {}, env), /Defined in the workspace: usage volume \/images\/v — \/ws\/sec\.xml\./);
});

test('no hover outside known places', () => {
  assert.equal(hover(`<foo b|ar='1'/>`), null);
  assert.equal(hover(`<volume>  |  <name>x</name></volume>`), null);
});

test('an image path hovers with what the file header says (imageSummary through env.imageFacts)', () => {
  const env = { imageFacts: (p: string) => (p === '/img/v.qcow2' ? { format: 'qcow2', virtualSize: 1073741824 } : undefined) };
  const t = hoverText(`<volume><name>v</name><capacity>1</capacity><target><path>/img/v.q|cow2</path><format type='qcow2'/></target></volume>`, {}, env);
  assert.match(t, /qcow2/);
  assert.match(t, /1 GiB|1073741824/);
  // Without image checks the element's own hover comes back.
  assert.match(hoverText(`<volume><target><path>/img/v.q|cow2</path></target></volume>`, { imageChecks: false }, env), /content of `<path>`/);
});

test('the encryption of a volume hovers with the qemu-img command libvirt builds', () => {
  const t = hoverText(ENC(`<cipher name='serpent' size='256' mode='cbc' hash='sha512'/>\n      <ivgen name='essiv' hash='sha256'/>`).replace('<encryption', '<encr|yption'));
  assert.match(t, /qemu-img create -f luks --object secret,id=v_encrypt0,file=SECRETFILE -o key-secret=v_encrypt0,cipher-alg=serpent-256,cipher-mode=cbc,hash-alg=sha512,ivgen-alg=essiv,ivgen-hash-alg=sha256 POOL\/v 1K/);
  const q = hoverText(ENC('', 'qcow2').replace('<encryption', '<encr|yption'));
  assert.match(q, /qemu-img create -f qcow2 --object secret,id=v_encrypt0,file=SECRETFILE -o encrypt\.format=luks,encrypt\.key-secret=v_encrypt0,compat=1\.1 POOL\/v 1K/);
  // libvirt 9.0 still defaults qcow2 to compat 0.10 (measured with the session libvirtd).
  assert.match(hoverText(ENC('', 'qcow2').replace('<encryption', '<encr|yption'), { libvirtVersion: '9.0.0' }), /,compat=0\.10 POOL/);
});
