// host/volumes.ts's pure parts (no daemon): vol-dumpxml reading, vol-list's table split where the
// Path column starts, and words for virsh's command-string parser. Against virsh and a session
// libvirtd: test/oracle/poolVolumes.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { virshQuote } from '../../server/src/host/virsh';
import { readVolumeInfo, volumeNames } from '../../server/src/host/volumes';
import { HostError } from '../../server/src/host/virsh';

test('vol-dumpxml: name kept as written, sizes in bytes, format, encryption; garbage is a clear error', () => {
  const v = readVolumeInfo(`<volume type='file'>
  <name> two  spaces </name>
  <key>/p/ two  spaces </key>
  <capacity unit='bytes'>16777216</capacity>
  <allocation unit='bytes'>200704</allocation>
  <target>
    <path>/p/ two  spaces </path>
    <format type='qcow2'/>
    <encryption format='luks'>
      <secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/>
    </encryption>
  </target>
</volume>`);
  assert.deepEqual(v, { name: ' two  spaces ', path: '/p/ two  spaces ', capacity: 16777216, allocation: 200704, format: 'qcow2', encrypted: true });
  const plain = readVolumeInfo("<volume type='block'><name>sdb1</name><capacity unit='bytes'>1</capacity><target><path>/dev/sdb1</path></target></volume>");
  assert.equal(plain.format, undefined);
  assert.equal(plain.encrypted, false);
  assert.throws(() => readVolumeInfo('<volume><name>x</volume>'), (e: unknown) => e instanceof HostError && /vol-dumpxml: unreadable XML/.test(e.message));
});

test("vol-list's table: rows split at the Path column, whatever spaces and wide characters the name holds", () => {
  const table = [' Name          Path', '--------------------------------', ' a b é         /tp/a b é', " 日本   語's   /tp/日本   語's", ' x             /tp/x  with   spaces', ''].join('\n');
  assert.deepEqual(volumeNames(table), ['a b é', "日本   語's", 'x']);
  assert.deepEqual(volumeNames(' Name   Path\n-------------\n\n'), []);
  assert.throws(() => volumeNames('error: something else'), (e: unknown) => e instanceof HostError && /no Name\/Path table/.test(e.message));
});

test("virsh words: single-quoted, a quote closed, escaped and reopened", () => {
  assert.equal(virshQuote('plain'), 'plain');
  assert.equal(virshQuote("it's; x"), "'it'\\''s; x'");
});
