// libvirt's value parsers re-implemented in validation/libvirtValues.ts; every row below was
// measured with libvirt 9.0 (`virsh -c test:///default vol-create`) or read from viruuid.c.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isValidCompat, isValidOctalMode, isValidOwnerId, parseScaled, parseUIntP, parseULL, parseUuid, isRngUuid, isQemuId, LLONG_MAX } from '../../server/src/service/validation/libvirtValues';
import { unitMultiplier } from '../../schemas/vocabulary';

test('octal mode: strtoul base 8 (a "-" wraps), permission bits only', () => {
  for (const ok of ['0755', ' 755', '+755', '-0', '00000755', '0']) assert.equal(isValidOctalMode(ok), true, ok);
  for (const bad of ['1777', '0800', '755 ', '-1', 'abc', '']) assert.equal(isValidOctalMode(bad), false, bad);
});

test('owner/group: -1 or an unsigned 32-bit number', () => {
  for (const ok of ['-1', '+5', ' 5', '4294967295', '0']) assert.equal(isValidOwnerId(ok), true, ok);
  for (const bad of ['-2', '4294967296', '-4294967295', '', '0x10']) assert.equal(isValidOwnerId(bad), false, bad);
});

test('compat: two virStrToLong_ui halves around the first dot', () => {
  for (const ok of ['1.1', '0.10', '-1.5', ' 1.1', '+1.1', '1.-1', '2.0']) assert.equal(isValidCompat(ok), true, ok);
  for (const bad of ['1.', '.1', '1.1 ', '4294967296.1', '-4294967296.0', 'a', '1.1.1', '11']) assert.equal(isValidCompat(bad), false, bad);
});

test('scaled sizes: number first, then unit, then the limit', () => {
  assert.deepEqual(parseScaled('+5', undefined, LLONG_MAX), { ok: true, bytes: 5n });
  assert.deepEqual(parseScaled('9', 'kb', LLONG_MAX), { ok: true, bytes: 9000n });
  assert.deepEqual(parseScaled('9', 'KiB', LLONG_MAX), { ok: true, bytes: 9216n });
  assert.deepEqual(parseScaled('7', 'EiB', LLONG_MAX), { ok: true, bytes: 7n << 60n });
  assert.deepEqual(parseScaled('8', 'EiB', LLONG_MAX), { ok: false, error: 'overflow', value: 8n });
  assert.deepEqual(parseScaled('9223372036854775808', undefined, LLONG_MAX), { ok: false, error: 'overflow', value: 9223372036854775808n });
  assert.deepEqual(parseScaled('18446744073709551616', undefined, LLONG_MAX), { ok: false, error: 'malformed' });
  assert.deepEqual(parseScaled('5 ', undefined, LLONG_MAX), { ok: false, error: 'malformed' });
  assert.deepEqual(parseScaled('-5', undefined, LLONG_MAX), { ok: false, error: 'malformed' });
  assert.deepEqual(parseScaled('9', ' K', LLONG_MAX), { ok: false, error: 'unit', value: 9n });
  assert.deepEqual(parseScaled('9', 'kbytes', LLONG_MAX), { ok: false, error: 'unit', value: 9n });
});

test('cipher size: unsigned 32-bit, no minus', () => {
  assert.equal(parseUIntP(' 256'), 256n);
  assert.equal(parseUIntP('+256'), 256n);
  assert.equal(parseUIntP('0'), 0n);
  for (const bad of ['-1', '256 ', '', '4294967296', '0x100']) assert.equal(parseUIntP(bad), undefined, bad);
});

test('uuid: virUUIDParse is liberal; the schema is strict', () => {
  const c = 'f52a81b2-424e-490c-823d-6bd4235bc572';
  assert.equal(parseUuid(c), c);
  assert.equal(parseUuid(' F52A81B2424E490C823D6BD4235BC572 '), c);
  assert.equal(parseUuid('-f52a81b2-424e-490c-823d-6bd4235bc572'), c);
  assert.equal(parseUuid('f52a81b2 424e 490c 823d 6bd4235bc572'), c);
  for (const bad of ['f52a81b2-424e-490c-823d-6bd4235bc57', 'f52a81b2424e490c823d6bd4235bc57 2', 'f52a81b2-424e-490c-823d-6bd4235bc572-', '', 'not-a-uuid']) assert.equal(parseUuid(bad), undefined, bad);
  assert.equal(isRngUuid(c), true);
  assert.equal(isRngUuid(c.replace(/-/g, '').toUpperCase()), true);
  assert.equal(isRngUuid(` ${c}`), false);
});

test('qemu ids (util/id.c)', () => {
  assert.equal(isQemuId('v.img_encrypt0'), true);
  assert.equal(isQemuId('a b_encrypt0'), false);
  assert.equal(isQemuId('1a_encrypt0'), false);
});

// Each parser answers its usual spelling with one regex (issue 15: a `check` of many documents runs
// without V8's optimizing tier); these rows sit on both sides of where that shortcut stops.
test('usual spellings and their neighbours: the shortcut and the full parser agree', () => {
  for (const ok of ['777', '0777', '000', '0000000777', '7']) assert.equal(isValidOctalMode(ok), true, ok);
  for (const bad of ['1000', '7777', '0777 ', '0778', '\n0777x']) assert.equal(isValidOctalMode(bad), false, bad);
  for (const ok of ['999999999', '0004294967295', '4294967295']) assert.equal(isValidOwnerId(ok), true, ok);
  for (const bad of ['4294967296', '99999999999', '5\n']) assert.equal(isValidOwnerId(bad), false, bad);
  for (const ok of ['999999999.999999999', '4294967295.4294967295', '00000000001.1']) assert.equal(isValidCompat(ok), true, ok);
  for (const bad of ['4294967295.4294967296', '1.1\n', '1..1']) assert.equal(isValidCompat(bad), false, bad);
  // 19 digits are always below 2^64; 20 may not be; leading zeros do not count.
  assert.deepEqual(parseULL('9999999999999999999', true), { ok: true, value: 9999999999999999999n, negative: false });
  assert.deepEqual(parseULL('18446744073709551615', true), { ok: true, value: (1n << 64n) - 1n, negative: false });
  assert.deepEqual(parseULL('18446744073709551616', true), { ok: false, reason: 'range' });
  assert.deepEqual(parseULL('0000000000000000000000042', true), { ok: true, value: 42n, negative: false });
  assert.deepEqual(parseULL('42\n', true), { ok: false, reason: 'junk' });
  assert.deepEqual(parseULL('', true), { ok: false, reason: 'empty' });
  assert.deepEqual(parseULL('-1', false), { ok: true, value: (1n << 64n) - 1n, negative: true });
});

test('uuid spellings: upper case, 32 digits, spaces, a trailing newline', () => {
  const c = 'f52a81b2-424e-490c-823d-6bd4235bc572';
  assert.equal(parseUuid(c.toUpperCase()), c);
  assert.equal(parseUuid(c.replace(/-/g, '')), c);
  assert.equal(parseUuid(`${c}\n`), c);
  assert.equal(parseUuid(c.replace(/-/g, ' ')), c);
  assert.equal(parseUuid('f52a81-b2424e-490c-823d-6bd4235bc572'), c); // dashes anywhere between pairs
  assert.equal(parseUuid('f52a81b2-424e-490c-823d-6bd4235bc57g'), undefined);
  assert.equal(isRngUuid(c.toUpperCase()), true);
  assert.equal(isRngUuid('F52a81b2-424E-490c-823d-6bd4235bc572'), true);
  assert.equal(isRngUuid(c.replace(/-/g, '')), true);
  for (const bad of [`${c}\n`, c.replace(/-/g, ' '), 'f52a81b-2424e-490c-823d-6bd4235bc572', `${c.replace(/-/g, '')}0`, c.slice(1)])
    assert.equal(isRngUuid(bad), false, bad);
});

test('units: the same multiplier every time a spelling is asked again, in any case', () => {
  for (let round = 0; round < 2; round++) {
    for (const u of ['KiB', 'kib', 'KIB', 'k', 'K']) assert.equal(unitMultiplier(u), 1024n, u);
    assert.equal(unitMultiplier('KB'), 1000n);
    assert.equal(unitMultiplier('EiB'), 1n << 60n);
    for (const u of ['', 'b', 'bytes', 'Byte']) assert.equal(unitMultiplier(u), 1n, u);
    for (const u of ['kbytes', ' K', 'x']) assert.equal(unitMultiplier(u), undefined, u);
  }
});
