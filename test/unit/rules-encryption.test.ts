// <encryption> rules (rules/encryption.ts), judged in a bare snippet and inside a volume. Every
// verdict here was measured with libvirt 9.0 (virsh -c test:///default vol-create, and the
// session libvirtd's storage driver) unless a comment says otherwise.
import { test } from 'node:test';
import { checkRules, E, W, SECRET, UUID, vol } from '../helpers/libvirtRules';

const raw = (enc: string) => vol(`<format type='raw'/>${enc}`);

test('format: required (empty = missing), enum, version-dependent', () => {
  checkRules(`<[[encryption]]>${SECRET}</encryption>`, [E('encryption-format-required', 'XML error: unknown volume encryption format')]);
  checkRules(`<encryption format='[[]]'>${SECRET}</encryption>`, [E('encryption-format-required', 'XML error: unknown volume encryption format')]);
  checkRules(`<encryption format='[[LUKS]]'>${SECRET}</encryption>`, [E('encryption-format-unknown', 'unsupported configuration: unknown volume encryption format type LUKS')]);
  checkRules(`<encryption format='[[luks-any]]'>${SECRET}</encryption>`, [E('encryption-format-unknown', 'unsupported configuration: unknown volume encryption format type luks-any')], { libvirtVersion: '9.0.0' });
  checkRules(`<encryption format='luks-any'>${SECRET}</encryption>`, [], { libvirtVersion: '9.3.0' });
  checkRules(`<encryption format='[[luks2]]'>${SECRET}</encryption>`, [E('encryption-format-unknown', 'unsupported configuration: unknown volume encryption format type luks2')], { libvirtVersion: '7.8.0' });
  checkRules(`<encryption format='luks'>${SECRET}</encryption>`, []);
});

test('engine: qemu|librbd only (default and empty refused); ignored by the storage driver', () => {
  checkRules(`<encryption format='luks' engine='[[default]]'>${SECRET}</encryption>`, [E('encryption-engine-invalid', "XML error: Invalid value for attribute 'engine' in element 'encryption': 'default'.")]);
  checkRules(`<encryption format='luks' engine='[[]]'>${SECRET}</encryption>`, [E('encryption-engine-invalid', "XML error: Invalid value for attribute 'engine' in element 'encryption': ''.")]);
  checkRules(`<encryption format='luks2' engine='librbd'>${SECRET}</encryption>`, []);
  checkRules(raw(`<encryption format='luks' [[engine]]='qemu'>${SECRET}</encryption>`), [W('encryption-engine-ignored', 'The storage driver ignores the encryption engine of a volume; it only matters for domain disks.')]);
  // Before 7.9.0 the attribute did not exist (ignored): no verdict on its value.
  checkRules(`<encryption format='luks' engine='default'>${SECRET}</encryption>`, [], { libvirtVersion: '7.4.0' });
});

test('secret: type passphrase (the documented "volume" is refused), uuid xor usage', () => {
  checkRules(`<encryption format='luks'><[[secret]] uuid='${UUID}'/></encryption>`, [E('encryption-secret-type-required', 'XML error: unknown volume encryption secret type')]);
  checkRules(`<encryption format='luks'><secret type='[[volume]]' uuid='${UUID}'/></encryption>`, [E('encryption-secret-type-unknown', 'unsupported configuration: unknown volume encryption secret type volume')]);
  checkRules(`<encryption format='luks'><[[secret]] type='passphrase'/></encryption>`, [E('encryption-secret-ref-missing', 'XML error: missing secret uuid or usage attribute')]);
  checkRules(`<encryption format='luks'><secret type='passphrase' uuid='${UUID}' [[usage]]='x'/></encryption>`, [E('encryption-secret-ref-both', 'XML error: either secret uuid or usage expected')]);
  checkRules(`<encryption format='luks'><secret type='passphrase' usage='/var/lib/libvirt/images/a.img'/></encryption>`, []);
  // Both errors of one secret are independent: each alone is refused.
  checkRules(`<encryption format='luks'><[[secret]] type='[[volume]]'/></encryption>`, [
    E('encryption-secret-ref-missing', 'XML error: missing secret uuid or usage attribute'),
    E('encryption-secret-type-unknown', 'unsupported configuration: unknown volume encryption secret type volume'),
  ]);
});

test('secret uuid: virUUIDParse is liberal, the schema is not', () => {
  checkRules(`<encryption format='luks'><secret type='passphrase' uuid='[[f52a81b2-424e-490c-823d-6bd4235bc57]]'/></encryption>`, [E('encryption-secret-uuid-invalid', "XML error: invalid secret uuid 'f52a81b2-424e-490c-823d-6bd4235bc57'")]);
  checkRules(`<encryption format='luks'><secret type='passphrase' uuid='[[]]'/></encryption>`, [E('encryption-secret-uuid-invalid', "XML error: invalid secret uuid ''")]);
  checkRules(`<encryption format='luks'><secret type='passphrase' uuid='[[f52a81b2-424e-490c-823d-6bd4235bc572-]]'/></encryption>`, [E('encryption-secret-uuid-invalid', "XML error: invalid secret uuid 'f52a81b2-424e-490c-823d-6bd4235bc572-'")]);
  checkRules(`<encryption format='luks'><secret type='passphrase' uuid='[[ f52a81b2 424e 490c 823d 6bd4235bc572 ]]'/></encryption>`, [W('encryption-secret-uuid-noncanonical', "The schema allows only 32 hex digits or the 8-4-4-4-12 form; libvirt's parser accepts ' f52a81b2 424e 490c 823d 6bd4235bc572 ' and reads it as f52a81b2-424e-490c-823d-6bd4235bc572.")]);
  checkRules(`<encryption format='luks'><secret type='passphrase' uuid='F52A81B2424E490C823D6BD4235BC572'/></encryption>`, []);
});

test('secret usage empty: never resolves (error for volume creation, warning in a snippet)', () => {
  checkRules(`<encryption format='luks'><secret type='passphrase' usage='[[]]'/></encryption>`, [W('encryption-secret-usage-empty', "Secret not found: no secret with matching usage ''")]);
  checkRules(raw(`<encryption format='luks'><secret type='passphrase' usage='[[]]'/></encryption>`), [E('encryption-secret-usage-empty', "Secret not found: no secret with matching usage ''")]);
});

test('cipher: name and size required, size an unsigned int (leading + and spaces off-schema)', () => {
  const L = (inner: string) => raw(`<encryption format='luks'>${SECRET}${inner}<ivgen name='plain64'/></encryption>`);
  checkRules(L(`<[[cipher]] size='256'/>`), [E('cipher-name-required', "XML error: cipher info missing 'name' attribute")]);
  checkRules(L(`<[[cipher]] name='aes'/>`), [E('cipher-size-required', "XML error: Missing required attribute 'size' in element 'cipher'")]);
  checkRules(L(`<cipher name='aes' size='[[-1]]'/>`), [E('cipher-size-invalid', "XML error: Invalid value for attribute 'size' in element 'cipher': '-1'. Expected non-negative integer value")]);
  checkRules(L(`<cipher name='aes' size='[[256 ]]'/>`), [E('cipher-size-invalid', "XML error: Invalid value for attribute 'size' in element 'cipher': '256 '. Expected non-negative integer value")]);
  checkRules(L(`<cipher name='aes' size='[[4294967296]]'/>`), [E('cipher-size-invalid', "XML error: Invalid value for attribute 'size' in element 'cipher': '4294967296'. Expected non-negative integer value")]);
  checkRules(L(`<cipher name='aes' size='[[+256]]'/>`), [W('cipher-size-off-schema', "The schema allows only digits in the cipher size; libvirt's parser reads '+256' as 256.")]);
  checkRules(L(`<cipher name='aes' size='256'/>`), []);
});

test('cipher mode/hash come as a pair in the schema only; ivgen needs a cipher', () => {
  const L = (inner: string) => raw(`<encryption format='luks'>${SECRET}${inner}</encryption>`);
  checkRules(L(`<cipher name='aes' size='256' [[mode]]='xts'/><ivgen name='plain64'/>`), [W('cipher-mode-hash-pair', "The schema requires the cipher's 'mode' and 'hash' attributes together: 'hash' is missing.")]);
  checkRules(L(`<cipher name='aes' size='256' [[hash]]='sha256'/><ivgen name='plain64'/>`), [W('cipher-mode-hash-pair', "The schema requires the cipher's 'mode' and 'hash' attributes together: 'mode' is missing.")]);
  checkRules(L(`<[[ivgen]] name='plain64'/>`), [E('ivgen-needs-cipher', 'XML error: ivgen element found, but cipher is missing')]);
  checkRules(L(`<cipher name='aes' size='256'/><[[ivgen]]/>`), [E('ivgen-name-required', 'XML error: missing ivgen info name string')]);
  checkRules(L(`<[[cipher]] name='aes' size='256'/>`), [W('cipher-needs-ivgen', 'The schema requires <ivgen> together with <cipher> (libvirt accepts the cipher alone and qemu picks the ivgen).')]);
});

test('cipher/ivgen outside luks: silently dropped, even malformed ones', () => {
  checkRules(`<encryption format='luks2'>${SECRET}<[[cipher]]/><[[ivgen]]/></encryption>`, [
    W('encryption-cipher-ignored', "libvirt silently ignores <cipher> unless the encryption format is 'luks' (here 'luks2'): it is not checked, used or written back."),
    W('encryption-cipher-ignored', "libvirt silently ignores <ivgen> unless the encryption format is 'luks' (here 'luks2'): it is not checked, used or written back."),
  ]);
});

test('cipher without any secret is off-schema; luks without a secret is useless', () => {
  checkRules(`<encryption [[format]]='luks'><[[cipher]] name='aes' size='256'/><ivgen name='plain64'/></encryption>`, [
    W('encryption-secret-missing', "Encryption format 'luks' needs one passphrase <secret>: creating or opening the image fails without it."),
    W('encryption-cipher-without-secret', 'The schema allows <cipher>/<ivgen> only next to a <secret>.'),
  ]);
});

test('legacy formats in a snippet: deprecated', () => {
  checkRules(`<encryption format='[[qcow]]'>${SECRET}</encryption>`, [W('encryption-format-deprecated', "Encryption format 'qcow' means the legacy qcow AES scheme: libvirt refuses to create it since 4.5.0 and qemu system emulators no longer open it. Use 'luks'.")]);
  checkRules(`<encryption format='[[default]]'>${SECRET}</encryption>`, [W('encryption-format-deprecated', "Encryption format 'default' means the legacy qcow AES scheme: libvirt refuses to create it since 4.5.0 and qemu system emulators no longer open it. Use 'luks'.")]);
});

test('structure: unknown children/attributes and duplicates are schema-only warnings', () => {
  checkRules(`<encryption format='luks' [[foo]]='1'>${SECRET}<[[bar]]/></encryption>`, [
    W('unknown-attribute', "Unknown attribute 'foo' on <encryption>: libvirt ignores it and the schema rejects it."),
    W('unknown-element', 'Unknown element <bar> in <encryption>: libvirt ignores it and the schema rejects it.'),
  ]);
  checkRules(`<encryption format='luks'>${SECRET}<cipher name='aes' size='256'/><[[cipher]] name='x' size='y'/><ivgen name='plain64'/></encryption>`, [W('duplicate-element', 'Only the first <cipher> is used; the schema allows one.')]);
  checkRules(vol(`<encryption format='luks'>${SECRET}</encryption><[[encryption]] format='bogus'/>`), [W('duplicate-element', 'Only the first <encryption> is used; the schema allows one.')]);
});

test('qemu values in a snippet are warnings (no libvirt call judges a bare snippet)', () => {
  checkRules(`<encryption format='luks'>${SECRET}<cipher name='aes' size='256' mode='cbc' hash='sha256'/><ivgen name='essiv' hash='[[sha512]]'/></encryption>`, [W('ivgen-essiv-incompatible', 'qemu-img: No AES cipher with key size 64 available')]);
});
