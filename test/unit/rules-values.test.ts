// libvirt's value parsers re-implemented in validation/libvirtValues.ts; every row below was
// measured with libvirt 9.0 (`virsh -c test:///default vol-create`) or read from viruuid.c.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isValidCompat, isValidOctalMode, isValidOwnerId, parseScaled, parseUIntP, parseUuid, isRngUuid, isQemuId, LLONG_MAX } from '../../server/src/service/validation/libvirtValues';

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
