// server/src/common/: the helpers every layer shares (byte text, nearest string, qemu option
// strings). They import nothing, so that schemas/, the service, the writer and the CLI can all use them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatBytes, qemuSizeText } from '../../server/src/common/bytes';
import { editDistance, nearest, valuesKey } from '../../server/src/common/strings';
import { escapeQemuOptValue, splitQemuOptions } from '../../server/src/common/qemuOpts';

test('common/ imports nothing', () => {
  const dir = join(__dirname, '..', '..', 'server', 'src', 'common');
  for (const f of readdirSync(dir)) {
    assert.doesNotMatch(readFileSync(join(dir, f), 'utf8'), /^\s*import\s|require\(/m, `${f} imports something`);
  }
});

test('formatBytes: whole units exact, else two decimals below 10 and one above', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatBytes(3n * 2n ** 40n), '3 TiB');
  assert.equal(formatBytes(12.5 * 2 ** 20), '12.5 MiB');
  assert.equal(formatBytes(2n ** 63n - 1n), '8.00 EiB');
});

test('qemuSizeText: the unit steps up at 1000 of the current one, three significant digits', () => {
  assert.equal(qemuSizeText(512), '512 B');
  assert.equal(qemuSizeText(999), '999 B');
  assert.equal(qemuSizeText(1000), '0.977 KiB');
  assert.equal(qemuSizeText(1536), '1.5 KiB');
  assert.equal(qemuSizeText(999_936), '976 KiB'); // 976.5: glibc rounds the tie to even
  assert.equal(qemuSizeText(123456789), '118 MiB');
  assert.equal(qemuSizeText(2 ** 30), '1 GiB');
});

test('nearest: case first, then the fewest edits within max(2, half the length), ties to the earlier', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(nearest('QCOW2', ['raw', 'qcow2']), 'qcow2');
  assert.equal(nearest('qcwo2', ['raw', 'qcow2', 'qcow']), 'qcow2');
  assert.equal(nearest('xyz', ['luks', 'qcow']), undefined);
  assert.equal(nearest('ab', ['ac', 'ad']), 'ac');
});

test('qemu option strings: ,, escapes, bare names are on, trailing comma ends, implied first option', () => {
  assert.deepEqual(splitQemuOptions('a=b,,c,d'), [{ name: 'a', value: 'b,c' }, { name: 'd', value: 'on' }]);
  assert.deepEqual(splitQemuOptions('x,,y=1,'), [{ name: 'x,y', value: '1' }]);
  assert.deepEqual(splitQemuOptions(''), []);
  assert.deepEqual(splitQemuOptions('secret,id=s0,data=a,,b', 'qom-type'),
    [{ name: 'qom-type', value: 'secret' }, { name: 'id', value: 's0' }, { name: 'data', value: 'a,b' }]);
  assert.deepEqual(splitQemuOptions('id=s0,secret', 'qom-type'), [{ name: 'id', value: 's0' }, { name: 'secret', value: 'on' }]);
  const v = 'a,b,,c';
  assert.deepEqual(splitQemuOptions(`k=${escapeQemuOptValue(v)}`), [{ name: 'k', value: v }]);
});

test('valuesKey: two different lists never share a key', () => {
  const u = undefined;
  const lists: Array<[string?, string?, string?, string?, string?, string?]> = [
    [], ['a', 'b'], ['ab'], [u, 'ab'], ['ab', ''], [''], ['', ''], ['-'], ['1:a'], ['1', 'a'], ['a-', '-'], ['1:a', ''],
    ['aes', '256', 'xts', 'sha256', 'plain64'], ['aes', '256', 'xts', 'sha256', u, 'plain64'],
    ['aes', '256', 'xts', 'sha256', 'plain64', ''], ['aes', '25', '6xts', 'sha256', 'plain64'],
  ];
  const keys = new Set(lists.map((l) => valuesKey(...l)));
  assert.equal(keys.size, lists.length);
  assert.equal(valuesKey('a', 'b'), valuesKey('a', 'b', undefined)); // the same call
});
