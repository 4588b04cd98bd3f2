// The host module's pure parts (no daemon): the connection order, the child environment,
// libvirt's message out of virsh's stderr, pool-dumpxml reading, the secret uuid added to a LUKS
// <encryption>, and the two ways virsh can be missing. The daemon itself: test/oracle/hostCreate.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addSecretIfMissing, withSecretUuid } from '../../server/src/host/createInPool';
import { readPoolXml } from '../../server/src/host/pools';
import { commandConnection, HostError, libvirtMessage, minimalEnv, resolveConnection, virsh, virshQuote } from '../../server/src/host/virsh';
import { readVolume } from '../../server/src/service/volumeCreate';
import { parseXml } from '../../server/src/service/xmlModel';

test('connection: --connect, then LIBVIRT_DEFAULT_URI, then the setting; none = offline', () => {
  assert.equal(resolveConnection('qemu:///system', { LIBVIRT_DEFAULT_URI: 'test:///default' }, 'x'), 'qemu:///system');
  assert.equal(resolveConnection(undefined, { LIBVIRT_DEFAULT_URI: 'test:///default' }, 'x'), 'test:///default');
  assert.equal(resolveConnection(undefined, {}, ' qemu:///session '), 'qemu:///session');
  assert.equal(resolveConnection(undefined, {}, ''), undefined);
  assert.equal(resolveConnection('  ', {}, undefined), undefined);
});

test("the server's host commands: the argument, then the setting, then the server's LIBVIRT_DEFAULT_URI", () => {
  const env = { LIBVIRT_DEFAULT_URI: ' test:///default ' };
  assert.equal(commandConnection('qemu:///system', 'qemu:///session', env), 'qemu:///system');
  assert.equal(commandConnection(undefined, 'qemu:///session', env), 'qemu:///session');
  assert.equal(commandConnection('', '  ', env), 'test:///default');
  assert.equal(commandConnection(undefined, undefined, {}), undefined);
  assert.equal(commandConnection(undefined, undefined, { LIBVIRT_DEFAULT_URI: '' }), undefined);
});

test("arguments quoted for virsh's command-line parser (one connection, several commands)", () => {
  assert.equal(virshQuote('/var/lib/libvirt/images/a-b_c.qcow2'), '/var/lib/libvirt/images/a-b_c.qcow2');
  assert.equal(virshQuote('my disk.img'), "'my disk.img'");
  assert.equal(virshQuote("it's;#x"), "'it'\\''s;#x'");
  assert.equal(virshQuote(''), "''");
  assert.throws(() => virshQuote('a\nb'), (e: unknown) => e instanceof HostError && e.code === 'refused');
});

test('children get a minimal environment: nothing but what virsh needs to reach a daemon', () => {
  const env = minimalEnv({
    PATH: '/usr/bin', HOME: '/h', XDG_RUNTIME_DIR: '/run/u', SSH_AUTH_SOCK: '/s', MY_PASSPHRASE: 'secret',
    LIBVIRT_DEFAULT_URI: 'qemu:///system', LANG: 'de_DE.UTF-8',
  });
  assert.deepEqual(env, { LC_ALL: 'C', PATH: '/usr/bin', HOME: '/h', XDG_RUNTIME_DIR: '/run/u', SSH_AUTH_SOCK: '/s' });
});

test("libvirt's message without virsh's generic headline", () => {
  const stderr = "error: failed to get pool 'zz'\nerror: Storage pool not found: no storage pool with matching name 'zz'\n";
  assert.equal(libvirtMessage(stderr), "Storage pool not found: no storage pool with matching name 'zz'");
  assert.equal(libvirtMessage('error: something odd\n'), 'something odd');
});

test('pool-dumpxml is read with the strict tool parser; garbage is a clear error', () => {
  const p = readPoolXml(`<pool type='dir'><name>default</name><uuid>u</uuid>
    <capacity unit='bytes'>1000</capacity><allocation unit='bytes'>400</allocation><available unit='bytes'>600</available>
    <source/><target><path>/var/lib/libvirt/images</path></target></pool>`, true);
  assert.deepEqual(p, { name: 'default', type: 'dir', active: true, capacity: 1000, allocation: 400, available: 600,
    targetPath: '/var/lib/libvirt/images' });
  assert.throws(() => readPoolXml('<pool><name>x</pool>', true), (e: unknown) => e instanceof HostError && /unreadable XML from virsh/.test(e.message));
});

test('a LUKS <encryption> without <secret> gets one with a new uuid; others are left as they are', () => {
  const luks = "<volume><name>v</name><capacity>1</capacity><target><format type='raw'/><encryption format='luks'/></target></volume>";
  const added = readVolume(parseXml(addSecretIfMissing(luks)).root).target.encryption!;
  assert.equal(added.secrets.length, 1);
  assert.equal(added.secrets[0].type, 'passphrase');
  assert.match(added.secrets[0].uuid!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const fixed = withSecretUuid(luks, '00000000-0000-4000-8000-000000000001');
  assert.ok(fixed.includes('<secret type="passphrase" uuid="00000000-0000-4000-8000-000000000001"/>'), fixed);
  const named = luks.replace("<encryption format='luks'/>", "<encryption format='luks'><secret type='passphrase' uuid='x'/></encryption>");
  assert.equal(addSecretIfMissing(named), named);
  const plain = "<volume><name>v</name><target><format type='raw'/></target></volume>";
  assert.equal(addSecretIfMissing(plain), plain);
  assert.equal(addSecretIfMissing('<volume><encryption'), '<volume><encryption');
});

test('missing virsh: one message naming the Debian package, with and without stdin', async () => {
  for (const stdin of [undefined, 'x']) {
    await assert.rejects(virsh({ uri: 'test:///default', virsh: '/nonexistent/virsh' }, ['uri'], { stdin }),
      (e: unknown) => e instanceof HostError && e.code === 'no-virsh' && /libvirt-clients/.test(e.message));
  }
});

test('an aborted signal cancels before anything runs', async () => {
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(virsh({ uri: 'test:///default' }, ['uri'], { signal: ac.signal }),
    (e: unknown) => e instanceof HostError && e.code === 'cancelled');
});
