// Weak-encryption lint (issue 7): every verdict has a fixture that triggers it and one that must
// not. Only this area's diagnostics are compared (the libvirt rules have their own tests).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { diagnose, extractMarkers } from '../helpers/check';
import { WEAK_CRYPTO_RULES, weakChoices, weakCryptoLines, PLAIN_IV_LIMIT } from '../../schemas/weakCrypto';
import { formatBytes } from '../../server/src/common/bytes';
import type { LanguageSettings } from '../../server/src/service/types';

const MINE = new Set<string>(WEAK_CRYPTO_RULES.map((r) => r.id));

/** Marked text → [code, marked span text] of this area's diagnostics, in document order. */
function weak(marked: string, settings: LanguageSettings = {}): Array<[string, string]> {
  const { text } = extractMarkers(marked);
  const doc = TextDocument.create('file:///t.xml', 'xml', 1, text);
  return diagnose(text, settings)
    .filter((d) => MINE.has(String(d.code)))
    .map((d) => [String(d.code), text.slice(doc.offsetAt(d.range.start), doc.offsetAt(d.range.end))] as [string, string])
    .sort();
}
function expectSpans(marked: string, codes: string[], settings: LanguageSettings = {}): void {
  const { text, spans } = extractMarkers(marked);
  const got = weak(marked, settings);
  const want = codes.map((c, i) => [c, text.slice(spans[i][0], spans[i][1])] as [string, string]).sort();
  assert.deepEqual(got, want);
}

const vol = (enc: string, cap = '<capacity unit="G">10</capacity>') => `<volume><name>v</name>${cap}<target><path>/x/v.img</path><format type='raw'/>${enc}</target></volume>`;
const luks = (inner: string) => `<encryption format='luks'><secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/>${inner}</encryption>`;

test('no <cipher>: qemu defaults apply (aes-256-xts-plain64, sha256), nothing to judge', () => {
  expectSpans(vol(luks('')), []);
  expectSpans(vol(luks(''), '<capacity unit="T">10</capacity>'), []);
});

test('the modern default written out is not judged', () => {
  expectSpans(vol(luks(`<cipher name='aes' size='256' mode='xts' hash='sha256'/><ivgen name='plain64'/>`)), []);
  expectSpans(vol(luks(`<cipher name='serpent' size='256' mode='xts' hash='sha512'/><ivgen name='plain64'/>`)), []);
  expectSpans(vol(luks(`<cipher name='aes' size='256' mode='cbc' hash='sha256'/><ivgen name='essiv' hash='sha256'/>`)), []);
});

test('ecb mode', () => {
  expectSpans(vol(luks(`<cipher name='aes' size='256' mode='[[ecb]]' hash='sha256'/><ivgen name='plain64'/>`)), ['weak-cipher-mode-ecb']);
  // qemu's enum is case-sensitive: 'ECB' is refused by qemu (another rule), not judged weak.
  expectSpans(vol(luks(`<cipher name='aes' size='256' mode='ECB' hash='sha256'/><ivgen name='plain64'/>`)), []);
});

test('ctr mode', () => {
  expectSpans(vol(luks(`<cipher name='aes' size='256' mode='[[ctr]]' hash='sha256'/><ivgen name='plain64'/>`)), ['weak-cipher-mode-ctr']);
});

test('cbc with a predictable IV; essiv is fine', () => {
  expectSpans(vol(luks(`<cipher name='aes' size='256' mode='[[cbc]]' hash='sha256'/><ivgen name='plain64'/>`)), ['weak-cbc-predictable-iv']);
  expectSpans(vol(luks(`<cipher name='aes' size='256' mode='[[cbc]]' hash='sha256'/><ivgen name='plain'/>`)), ['weak-cbc-predictable-iv']);
  // No <ivgen>: qemu's default plain64 applies.
  expectSpans(vol(luks(`<cipher name='aes' size='256' mode='[[cbc]]' hash='sha256'/>`)), ['weak-cbc-predictable-iv']);
  expectSpans(vol(luks(`<cipher name='aes' size='256' mode='cbc' hash='sha256'/><ivgen name='essiv' hash='sha256'/>`)), []);
});

test('plain ivgen wraps past 2 TiB', () => {
  expectSpans(vol(luks(`<cipher name='aes' size='256' mode='xts' hash='sha256'/><ivgen name='[[plain]]'/>`), '<capacity unit="TiB">3</capacity>'), ['weak-ivgen-plain-wrap']);
  expectSpans(vol(luks(`<cipher name='aes' size='256' mode='xts' hash='sha256'/><ivgen name='[[plain]]'/>`), `<capacity>${PLAIN_IV_LIMIT + 512n}</capacity>`), ['weak-ivgen-plain-wrap']);
  // Exactly 2 TiB: 2^32 sectors, every IV used once.
  expectSpans(vol(luks(`<cipher name='aes' size='256' mode='xts' hash='sha256'/><ivgen name='plain'/>`), '<capacity unit="TiB">2</capacity>'), []);
  expectSpans(vol(luks(`<cipher name='aes' size='256' mode='xts' hash='sha256'/><ivgen name='plain64'/>`), '<capacity unit="TiB">3</capacity>'), []);
  // Capacity that does not parse: not judged (the parser rule reports it).
  expectSpans(vol(luks(`<cipher name='aes' size='256' mode='xts' hash='sha256'/><ivgen name='plain'/>`), '<capacity unit="TiB">3x</capacity>'), []);
  // A bare <encryption> has no size.
  expectSpans(luks(`<cipher name='aes' size='256' mode='xts' hash='sha256'/><ivgen name='plain'/>`), []);
});

test('verdicts remembered by the values as written: the size still decides for a plain ivgen', () => {
  for (let round = 0; round < 2; round++) {
    const c = `<cipher name='aes' size='256' mode='xts' hash='sha256'/>`;
    expectSpans(vol(luks(`${c}<ivgen name='[[plain]]'/>`), '<capacity unit="TiB">3</capacity>'), ['weak-ivgen-plain-wrap']);
    expectSpans(vol(luks(`${c}<ivgen name='plain'/>`), '<capacity unit="GiB">3</capacity>'), []);
    expectSpans(vol(luks(`${c}<ivgen name='plain64'/>`), '<capacity unit="TiB">3</capacity>'), []);
    expectSpans(vol(luks(`<cipher name='aes' size='256' mode='[[ecb]]' hash='sha256'/><ivgen name='plain64'/>`)), ['weak-cipher-mode-ecb']);
    // The same values in another document: the verdict sits on this document's attribute.
    expectSpans(vol(luks(`<cipher name='aes' size='256' mode='[[ecb]]' hash='sha256'/><ivgen name='plain64'/>`), '<capacity unit="TiB">3</capacity>'), ['weak-cipher-mode-ecb']);
  }
});

test('cast5: 64-bit block', () => {
  expectSpans(vol(luks(`<cipher name='[[cast5]]' size='128' mode='cbc' hash='sha256'/><ivgen name='essiv' hash='[[md5]]'/>`)), ['weak-cipher-64bit-block', 'weak-essiv-hash']);
  expectSpans(vol(luks(`<cipher name='[[cast5]]' size='128' mode='[[ecb]]' hash='sha256'/><ivgen name='plain64'/>`)), ['weak-cipher-64bit-block', 'weak-cipher-mode-ecb']);
  expectSpans(vol(luks(`<cipher name='twofish' size='256' mode='cbc' hash='sha256'/><ivgen name='essiv' hash='sha256'/>`)), []);
});

test('weak PBKDF hash', () => {
  for (const h of ['md5', 'sha1', 'ripemd160']) {
    expectSpans(vol(luks(`<cipher name='aes' size='256' mode='xts' hash='[[${h}]]'/><ivgen name='plain64'/>`)), ['weak-pbkdf-hash']);
  }
  for (const h of ['sha224', 'sha256', 'sha384', 'sha512']) expectSpans(vol(luks(`<cipher name='aes' size='256' mode='xts' hash='${h}'/><ivgen name='plain64'/>`)), []);
});

test('weak essiv hash', () => {
  expectSpans(vol(luks(`<cipher name='aes' size='128' mode='cbc' hash='sha256'/><ivgen name='essiv' hash='[[md5]]'/>`)), ['weak-essiv-hash']);
  // The ivgen hash only matters for essiv.
  expectSpans(vol(luks(`<cipher name='aes' size='256' mode='xts' hash='sha256'/><ivgen name='plain64' hash='md5'/>`)), []);
});

test('128-bit keys under xts (qemu does not halve: 2 × 128 bits)', () => {
  expectSpans(vol(luks(`<cipher name='aes' size='[[128]]' mode='xts' hash='sha256'/><ivgen name='plain64'/>`)), ['weak-xts-128-key']);
  expectSpans(vol(luks(`<cipher name='twofish' size='[[128]]' mode='xts' hash='sha256'/><ivgen name='plain64'/>`)), ['weak-xts-128-key']);
  // mode absent = xts
  expectSpans(vol(luks(`<cipher name='aes' size='[[128]]'/><ivgen name='plain64'/>`)), ['weak-xts-128-key']);
  expectSpans(vol(luks(`<cipher name='aes' size='192' mode='xts' hash='sha256'/><ivgen name='plain64'/>`)), []);
  expectSpans(vol(luks(`<cipher name='aes' size='256' mode='xts' hash='sha256'/><ivgen name='plain64'/>`)), []);
});

test('legacy qcow AES in volumes, snippets and domain disks', () => {
  expectSpans(vol(`<encryption format='[[qcow]]'><secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/></encryption>`), ['weak-legacy-qcow-aes']);
  expectSpans(vol(`<encryption format='[[default]]'/>`), ['weak-legacy-qcow-aes']);
  expectSpans(`<encryption format='[[qcow]]'/>`, ['weak-legacy-qcow-aes']);
  expectSpans(`<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/x/a.qcow2'><encryption format='[[qcow]]'><secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/></encryption></source><target dev='vda'/></disk>`, ['weak-legacy-qcow-aes']);
  expectSpans(`<domain type='kvm'><devices><disk type='file'><source file='/x/a.qcow2'/><encryption format='[[default]]'/><target dev='vda'/></disk></devices></domain>`, ['weak-legacy-qcow-aes']);
  expectSpans(`<encryption format='luks'/>`, []);
  // A TPM's <encryption secret=…/> is another element.
  expectSpans(`<domain type='kvm'><devices><tpm model='tpm-crb'><backend type='emulator' version='2.0'><encryption secret='f52a81b2-424e-490c-823d-6bd4235bc572'/></backend></tpm></devices></domain>`, []);
});

test('legacy formats on domain disks however they are written: a reference, blanks around =, double quotes, unterminated', () => {
  const domain = (enc: string) =>
    `<domain type='kvm'><devices><disk type='file'><source file='/x/a.qcow2'>${enc}</source><target dev='vda'/></disk></devices></domain>`;
  // A character reference spells the value: the text never holds "qcow" after the quote.
  expectSpans(domain(`<encryption format='[[&#113;cow]]'/>`), ['weak-legacy-qcow-aes']);
  expectSpans(domain(`<encryption format='[[&#x64;efault]]'/>`), ['weak-legacy-qcow-aes']);
  expectSpans(domain(`<encryption format \n = \t "[[qcow]]"/>`), ['weak-legacy-qcow-aes']);
  // An unterminated value keeps the text up to the end of the line.
  expectSpans(domain(`<encryption format='[[qcow]]\n/>`), ['weak-legacy-qcow-aes']);
  // qcow2 is an image format, not an encryption format; luks is judged only on volumes.
  expectSpans(domain(`<encryption format='qcow2'/>`), []);
  expectSpans(domain(`<encryption format='luks'><cipher name='aes' size='128' mode='cbc' hash='md5'/></encryption>`), []);
});

test('cipher on a domain disk or under a non-luks format is not judged (refused or ignored by libvirt)', () => {
  expectSpans(`<disk type='file'><source file='/x/a.img'><encryption format='luks'><cipher name='aes' size='128' mode='ecb' hash='md5'/></encryption></source><target dev='vda'/></disk>`, []);
  expectSpans(`<encryption format='luks2'><cipher name='cast5' size='128' mode='ecb' hash='md5'/></encryption>`, []);
});

test('a bare <encryption> snippet is judged', () => {
  expectSpans(luks(`<cipher name='[[cast5]]' size='128' mode='[[ecb]]' hash='[[md5]]'/><ivgen name='plain64'/>`), ['weak-cipher-64bit-block', 'weak-cipher-mode-ecb', 'weak-pbkdf-hash']);
});

test('severity: warnings and a hint, never an error; overrides apply', () => {
  const text = vol(luks(`<cipher name='aes' size='128' mode='ecb' hash='md5'/><ivgen name='plain64'/>`));
  const ds = diagnose(text).filter((d) => MINE.has(String(d.code)));
  assert.deepEqual(ds.map((d) => [d.code, d.severity]).sort(), [['weak-cipher-mode-ecb', 2], ['weak-pbkdf-hash', 2]]);
  for (const d of ds) {
    assert.match(String(d.codeDescription?.href), /^https:\/\//);
    assert.ok(String(d.message).length > 60, 'message carries the reason');
  }
  const xts128 = diagnose(vol(luks(`<cipher name='aes' size='128' mode='xts' hash='sha256'/><ivgen name='plain64'/>`))).filter((d) => MINE.has(String(d.code)));
  assert.deepEqual(xts128.map((d) => [d.code, d.severity]), [['weak-xts-128-key', 4]]);
  assert.deepEqual(weak(text, { severity: { 'weak-cipher-mode-ecb': 'ignore' } }).map((x) => x[0]), ['weak-pbkdf-hash']);
  for (const r of WEAK_CRYPTO_RULES) assert.notEqual(r.severity as string, 'error');
});

test('quick-fix data: the smallest change, and the modern default', () => {
  const [ecb] = diagnose(vol(luks(`<cipher name='twofish' size='256' mode='ecb' hash='sha512'/><ivgen name='essiv' hash='sha256'/>`))).filter((d) => d.code === 'weak-cipher-mode-ecb');
  const data = ecb.data as Record<string, unknown>;
  assert.deepEqual(data.fix, { cipher: { mode: 'xts' }, ivgen: { name: 'plain64', hash: null } });
  // Only what differs from qemu's default is written.
  assert.deepEqual(data.modernDefault, { cipher: { name: 'aes', mode: 'xts', hash: 'sha256' }, ivgen: { name: 'plain64', hash: null } });
  const [ecb2] = diagnose(vol(luks(`<cipher name='aes' size='256' mode='ecb' hash='sha256'/><ivgen name='essiv' hash='sha256'/>`))).filter((d) => d.code === 'weak-cipher-mode-ecb');
  assert.equal((ecb2.data as Record<string, unknown>).modernDefault, undefined, 'the same edit is not offered twice');
  // mode set without hash: the schema wants both, so the fix adds qemu's default hash.
  const [cbc] = diagnose(vol(luks(`<cipher name='aes' size='256' mode='cbc'/><ivgen name='plain64'/>`))).filter((d) => d.code === 'weak-cbc-predictable-iv');
  assert.deepEqual((cbc.data as Record<string, unknown>).fix, { cipher: { mode: 'xts', hash: 'sha256' } });
  const [md5] = diagnose(vol(luks(`<cipher name='aes' size='256' mode='xts' hash='md5'/><ivgen name='plain64'/>`))).filter((d) => d.code === 'weak-pbkdf-hash');
  assert.deepEqual((md5.data as Record<string, unknown>).fix, { cipher: { hash: 'sha256' } });
  const [q] = diagnose(`<encryption format='qcow'/>`).filter((d) => d.code === 'weak-legacy-qcow-aes');
  assert.deepEqual((q.data as Record<string, unknown>).fix, { encryption: { format: 'luks' } });
});

test('weakChoices (shared with the writer) on qemu option names', () => {
  assert.deepEqual(weakChoices({}), []);
  assert.deepEqual(weakChoices({ cipherAlg: 'aes-256', cipherMode: 'xts', ivgenAlg: 'plain64', hashAlg: 'sha256', sizeBytes: 2 ** 50 }), []);
  assert.deepEqual(weakChoices({ cipherAlg: 'cast5-128', cipherMode: 'cbc', ivgenAlg: 'plain' , hashAlg: 'sha1', sizeBytes: 2 ** 42 }).map((w) => w.id),
    ['weak-cipher-64bit-block', 'weak-cbc-predictable-iv', 'weak-ivgen-plain-wrap', 'weak-pbkdf-hash']);
  const [c] = weakChoices({ cipherAlg: 'cast5-128', cipherMode: 'cbc', ivgenAlg: 'essiv', ivgenHashAlg: 'md5' });
  assert.equal(c.id, 'weak-cipher-64bit-block');
  assert.deepEqual(c.fix, { cipherAlg: 'aes-256', cipherMode: 'xts', ivgenAlg: 'plain64', ivgenHashAlg: null, hashAlg: 'sha256' });
  assert.match(c.message, /^cast5-128 has a 64-bit block: /);
  assert.deepEqual(weakChoices({ legacyAes: true, cipherMode: 'ecb' }).map((w) => w.id), ['weak-legacy-qcow-aes']);
  assert.equal(formatBytes(3n * 2n ** 40n), '3 TiB');
  assert.equal(formatBytes(1536), '1.50 KiB');
});

test('weakCryptoLines: the writer prints the same verdicts from qemu-img options', () => {
  assert.deepEqual(weakCryptoLines({}), []);
  assert.deepEqual(weakCryptoLines({ 'cipher-alg': 'aes-256', 'cipher-mode': 'xts', 'ivgen-alg': 'plain64', 'hash-alg': 'sha256', 'iter-time': 10 }), []);
  const lines = weakCryptoLines(new Map([['encrypt.cipher-mode', 'ecb'], ['encrypt.hash-alg', 'md5']]), 1 << 20);
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^libvirt-volume: warning: cipher mode ecb shows data patterns: .* \[weak-cipher-mode-ecb\] https:\/\//);
  assert.match(lines[1], /^libvirt-volume: warning: PBKDF2 hash md5: .*cryptsetup cannot open a LUKS header that uses md5.* \[weak-pbkdf-hash\]/);
  assert.match(weakCryptoLines({ 'ivgen-alg': 'plain' }, 3n * 2n ** 40n)[0], /ivgen plain on a 3 TiB volume/);
  assert.match(weakCryptoLines({}, undefined, true)[0], /legacy qcow AES encryption/);
  // Same text as the editor's diagnostic for the same choice.
  const d = diagnose(`<encryption format='luks'><cipher name='aes' size='256' mode='ecb' hash='sha256'/><ivgen name='plain64'/></encryption>`).find((x) => x.code === 'weak-cipher-mode-ecb');
  assert.ok(d && weakCryptoLines({ 'cipher-mode': 'ecb' })[0].includes(String(d.message)));
});
