// The pure part of "Check against the host" (issue 11): the language service given a hand-built
// HostFacts snapshot (no virsh, no daemon), and host/facts.ts's readers of virsh output. The same
// rules against the real session libvirtd over LSP: test/oracle/hostDiagnostics.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { CompletionItem, MarkupContent } from 'vscode-languageserver-types';
import { getLanguageService } from '../../server/src/service/languageService';
import type { HostFacts, LanguageSettings, ServiceEnvironment } from '../../server/src/service/types';
import { poolHint } from '../../server/src/service/hostFacts';
import { HostFactsCache } from '../../server/src/lsp/hostFacts';
import { isLocalUri, readSecretXml, readVolumeXml, tableRows } from '../../server/src/host/facts';
import { virshQuote } from '../../server/src/host/virsh';
import { volumeRows } from '../../server/src/host/volumes';

const SECRET = '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f';
const CEPH = '5b2f3a4c-0000-4000-8000-00000000c0de';

const facts = (over: Partial<HostFacts> = {}): HostFacts => ({
  uri: 'qemu+ssh://h/system',
  secretsKnown: true,
  secrets: [
    { uuid: SECRET, usageType: 'volume', usageId: '/var/lib/libvirt/images/a.img', ephemeral: false, private: true },
    { uuid: CEPH, usageType: 'ceph', usageId: 'client.admin', ephemeral: false, private: false },
  ],
  pools: [
    {
      name: 'default', type: 'dir', active: true, path: '/var/lib/libvirt/images', capacity: 100 << 20, available: 64 << 20,
      volumes: [{ name: 'base.qcow2', path: '/var/lib/libvirt/images/base.qcow2', capacity: 1 << 30, format: 'qcow2' }],
    },
    { name: 'vg', type: 'logical', active: true, path: '/dev/vg', capacity: 1 << 30, available: 1 << 30, volumes: [] },
    { name: 'off', type: 'dir', active: false, path: '/srv/off', capacity: 0, available: 0, volumes: [] },
  ],
  ...over,
});

function service(f: HostFacts | undefined, settings: LanguageSettings = {}) {
  const env: ServiceEnvironment = { hostFacts: () => f };
  const ls = getLanguageService(env);
  ls.configure(settings);
  return ls;
}
let n = 0;
const doc = (text: string) => TextDocument.create(`file:///t/d${n++}.xml`, 'xml', 1, text);
const codes = (text: string, f: HostFacts | undefined, settings?: LanguageSettings) =>
  service(f, settings).doValidation(doc(text)).map((d) => String(d.code));
const hostCodes = (text: string, f: HostFacts | undefined, settings?: LanguageSettings) =>
  codes(text, f, settings).filter((c) => c.startsWith('host-'));

const vol = (o: { name?: string; cap?: string; enc?: string; backing?: string; hint?: string; format?: string } = {}) =>
  `<volume>${o.hint ?? ''}
  <name>${o.name ?? 'new.img'}</name>
  <capacity unit='M'>${o.cap ?? '16'}</capacity>
  <target>
    <format type='${o.format ?? 'raw'}'/>${o.enc ? `
    <encryption format='luks'>
      <secret type='passphrase' ${o.enc}/>
    </encryption>` : ''}
  </target>${o.backing ? `
  <backingStore><path>${o.backing}</path><format type='qcow2'/></backingStore>` : ''}
</volume>`;

test('offline (no snapshot): no host rule fires, results equal a service without hostFacts', () => {
  const text = vol({ name: 'base.qcow2', cap: '999999', enc: "uuid='11111111-2222-3333-4444-555555555555'", backing: '/nope' });
  assert.deepEqual(hostCodes(text, undefined), []);
  assert.deepEqual(codes(text, undefined), getLanguageService({}).doValidation(doc(text)).map((d) => String(d.code)));
});

test('secret uuid/usage not on the host: the error libvirt gives at vol-create', () => {
  const ds = service(facts()).doValidation(doc(vol({ enc: "uuid='11111111222233334444555555555555'" })));
  const d = ds.find((x) => x.code === 'host-secret-uuid-unknown')!;
  assert.match(String(d.message), /^Secret not found: no secret with matching uuid '11111111-2222-3333-4444-555555555555' \(on qemu\+ssh:\/\/h\/system\)$/);
  assert.equal(d.severity, 1);
  assert.deepEqual(hostCodes(vol({ enc: `uuid='${SECRET.toUpperCase()}'` }), facts()), []);
  assert.deepEqual(hostCodes(vol({ enc: `uuid='${CEPH}'` }), facts()), ['host-secret-usage-type']);
  assert.deepEqual(hostCodes(vol({ enc: "usage='/var/lib/libvirt/images/a.img'" }), facts()), []);
  assert.deepEqual(hostCodes(vol({ enc: "usage='client.admin'" }), facts()), ['host-secret-usage-unknown']);
  // A driver without secrets (test:///): nothing can be proved missing.
  assert.deepEqual(hostCodes(vol({ enc: "uuid='11111111222233334444555555555555'" }), facts({ secretsKnown: false })), []);
  // Domain disks are looked up the same way (at start).
  const disk = `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/x.img'><encryption format='luks'><secret type='passphrase' uuid='11111111222233334444555555555555'/></encryption></source><target dev='vda' bus='virtio'/></disk>`;
  assert.ok(hostCodes(disk, facts()).includes('host-secret-uuid-unknown'));
});

test('pool: default, setting, hint; unknown and inactive pools warn; the name is checked in that pool', () => {
  assert.deepEqual(hostCodes(vol({ name: 'base.qcow2' }), facts()), ['host-volume-exists']);
  const d = service(facts()).doValidation(doc(vol({ name: 'base.qcow2' }))).find((x) => x.code === 'host-volume-exists')!;
  assert.equal(d.message, "storage volume 'base.qcow2' exists already (pool 'default' on qemu+ssh://h/system)");
  assert.deepEqual(d.range, { start: { line: 1, character: 8 }, end: { line: 1, character: 18 } });
  assert.deepEqual(hostCodes(vol({ name: 'base.qcow2' }), facts(), { pool: 'vg' }), []);
  // The volume's own vol-dumpxml (its <key> is its path) describes it: not "exists already".
  const dumped = vol({ name: 'base.qcow2' }).replace('<name>', '<key>/var/lib/libvirt/images/base.qcow2</key>\n  <name>');
  assert.deepEqual(hostCodes(dumped, facts()), []);
  assert.deepEqual(hostCodes(vol({ name: 'base.qcow2', hint: '<!-- libvirt-volume: pool=vg -->' }), facts()), []);
  const hinted = vol({ hint: '<!-- libvirt-volume: pool=nosuch -->' });
  const w = service(facts(), { pool: 'vg' }).doValidation(doc(hinted)).find((x) => x.code === 'host-pool-unknown')!;
  assert.equal(w.severity, 2);
  assert.equal(hinted.slice(...[w.range.start.character, w.range.end.character]), 'nosuch');
  assert.deepEqual(hostCodes(vol(), facts(), { pool: 'nosuch' }), ['host-pool-unknown']);
  assert.deepEqual(hostCodes(vol({ hint: '<!-- libvirt-volume: pool=off -->' }), facts()), ['host-pool-inactive']);
  // No pool named, no `default` on the host: nothing pool-specific is judged.
  assert.deepEqual(hostCodes(vol({ name: 'base.qcow2', cap: '999999' }), facts({ pools: facts().pools.slice(1) })), []);
});

test('the <volume> is judged as the real pool type (a logical pool ignores <format>)', () => {
  const text = vol({ format: 'qcow2' });
  assert.ok(!codes(text, facts(), { pool: 'default' }).includes('volume-format-ignored'));
  assert.ok(codes(text, facts(), { pool: 'vg' }).includes('volume-format-ignored'));
  assert.ok(codes(vol({ format: 'qcow2', hint: '<!-- libvirt-volume: pool=vg -->' }), facts()).includes('volume-format-ignored'));
});

test('capacity over the pool\'s available space: warning', () => {
  assert.deepEqual(hostCodes(vol({ cap: '64' }), facts()), []);
  const d = service(facts()).doValidation(doc(vol({ cap: '65' }))).find((x) => x.code === 'host-capacity-over-available')!;
  assert.equal(d.severity, 2);
  assert.equal(d.message, "Capacity 65 MiB is more than the 64 MiB available in pool 'default' on qemu+ssh://h/system");
});

test('backing store: a volume of any pool is fine; else local: the file; remote: only inside a pool folder', () => {
  assert.deepEqual(hostCodes(vol({ backing: '/var/lib/libvirt/images/base.qcow2' }), facts()), []);
  // Remote: inside an active pool's folder but no volume of it → error; elsewhere → cannot judge.
  assert.deepEqual(hostCodes(vol({ backing: '/var/lib/libvirt/images/gone.qcow2' }), facts()), ['host-backing-missing']);
  assert.deepEqual(hostCodes(vol({ backing: '/srv/other/base.qcow2' }), facts()), []);
  // Local: the environment's stat decides (undefined = not read yet: silent until it is).
  const files: Record<string, boolean | undefined> = { '/srv/other/base.qcow2': true, '/srv/none.qcow2': false };
  const local = facts({ uri: 'qemu:///system', fileExists: (p) => files[p] });
  assert.deepEqual(hostCodes(vol({ backing: '/srv/other/base.qcow2' }), local), []);
  assert.deepEqual(hostCodes(vol({ backing: '/srv/unknown.qcow2' }), local), []);
  const d = service(local).doValidation(doc(vol({ backing: '/srv/none.qcow2' }))).find((x) => x.code === 'host-backing-missing')!;
  assert.equal(d.message, 'inaccessible backing store volume /srv/none.qcow2: No such file or directory (on qemu:///system)');
});

const complete = (text: string, f: HostFacts | undefined): CompletionItem[] => {
  const at = text.indexOf('|');
  const d = doc(text.slice(0, at) + text.slice(at + 1));
  return service(f).doComplete(d, d.positionAt(at)).items;
};

test('completion: host volume secrets with usage as detail, backing volume paths, pool names in the hint', () => {
  const uuids = complete(vol({ enc: "uuid='|'" }), facts());
  const s = uuids.find((i) => i.label === SECRET)!;
  assert.equal(s.detail, 'volume /var/lib/libvirt/images/a.img');
  assert.ok(!uuids.some((i) => i.label === CEPH), 'a ceph secret cannot unlock a volume');
  assert.ok(!complete(vol({ enc: "uuid='|'" }), undefined).some((i) => i.label === SECRET));
  const usage = complete(vol({ enc: "usage='|'" }), facts()).map((i) => i.label);
  assert.ok(usage.includes('/var/lib/libvirt/images/a.img'));
  const paths = complete(vol({ backing: '/var/|' }), facts());
  const p = paths.find((i) => i.label === '/var/lib/libvirt/images/base.qcow2')!;
  assert.equal(p.detail, 'pool default, qcow2, 1 GiB');
  assert.ok(p.textEdit && 'range' in p.textEdit);
  assert.deepEqual(p.textEdit.range.start.character, '  <backingStore><path>'.length);
  const pools = complete(vol({ hint: '<!-- libvirt-volume: pool=d| -->' }), facts()).map((i) => i.label);
  assert.deepEqual(pools, ['default', 'vg', 'off']);
  // Offline: no pool names (whatever else completion offers there is unchanged).
  assert.ok(!complete(vol({ hint: '<!-- libvirt-volume: pool=| -->' }), undefined).some((i) => i.label === 'default'));
});

test('hover on a secret uuid: the host secret (usage, ephemeral, private), never a value', () => {
  const text = vol({ enc: `uuid='${SECRET}'` });
  const d = doc(text);
  const h = service(facts()).doHover(d, d.positionAt(text.indexOf(SECRET) + 3))!;
  const v = (h.contents as MarkupContent).value;
  assert.match(v, /On qemu\+ssh:\/\/h\/system: usage volume \/var\/lib\/libvirt\/images\/a\.img; ephemeral no, private yes\./);
  const h2 = service(facts()).doHover(doc(vol({ enc: "uuid='11111111222233334444555555555555'" })), { line: 6, character: 40 })!;
  assert.match((h2.contents as MarkupContent).value, /No secret with this uuid on qemu\+ssh:\/\/h\/system\./);
  const off = service(undefined).doHover(d, d.positionAt(text.indexOf(SECRET) + 3))!;
  assert.doesNotMatch((off.contents as MarkupContent).value, /On |No secret with this uuid/);
});

test('pool hint: first comment, name span; no marker, no scan', () => {
  const t = '<volume><!--   libvirt-volume:  pool = my-pool   --><name>x</name></volume>';
  const h = poolHint(t)!;
  assert.equal(h.name, 'my-pool');
  assert.equal(t.slice(h.span.start, h.span.end), 'my-pool');
  assert.equal(poolHint('<volume><!-- pool=x --></volume>'), undefined);
});

test("virsh output readers: tables, vol-list rows, secret and volume XML, quoting, local URIs", () => {
  assert.equal(tableRows('error only\n'), undefined);
  assert.deepEqual(tableRows(' UUID   Usage\n--------------\n\n'), []);
  assert.deepEqual(
    volumeRows(' Name        Path\n------------------\n a b.img     /p/a b.img\n c.img       /p/c.img\n'),
    [{ name: 'a b.img', path: '/p/a b.img' }, { name: 'c.img', path: '/p/c.img' }],
  );
  assert.deepEqual(readSecretXml(`<secret ephemeral='no' private='yes'>\n  <uuid>${SECRET}</uuid>\n  <usage type='volume'>\n    <volume>/v</volume>\n  </usage>\n</secret>\n`),
    { uuid: SECRET, usageType: 'volume', usageId: '/v', ephemeral: false, private: true });
  assert.deepEqual(readSecretXml(`<secret ephemeral='yes' private='no'><uuid>${SECRET}</uuid></secret>`),
    { uuid: SECRET, usageType: undefined, usageId: undefined, ephemeral: true, private: false });
  assert.equal(readSecretXml('not xml <'), undefined);
  assert.deepEqual(readVolumeXml("<volume type='file'><name>c.img</name><capacity unit='bytes'>1048576</capacity><target><path>/p/c.img</path><format type='raw'/></target></volume>"),
    { name: 'c.img', path: '/p/c.img', capacity: 1048576, format: 'raw' });
  assert.equal(virshQuote("it's"), "'it'\\''s'");
  for (const u of ['qemu:///system', 'qemu+unix:///session?socket=/r/s', 'test:///default']) assert.ok(isLocalUri(u), u);
  for (const u of ['qemu+ssh://u@h/system', 'qemu://h/system', 'qemu+tcp://localhost/system', 'nonsense']) assert.ok(!isLocalUri(u), u);
});

test('half-typed documents with host facts: validation, completion and hover never throw', () => {
  const texts = [
    vol({ name: 'base.qcow2', enc: `uuid='${SECRET}'`, backing: '/var/lib/libvirt/images/gone.qcow2', hint: '<!-- libvirt-volume: pool=vg -->' }),
    `<domain><devices><disk type='file'><source file='/x'><encryption format='luks'><secret type='passphrase' usage='/v'/></encryption></source><backingStore type='file'><source file='/b'><encryption format='luks'><secret type='passphrase' uuid='${CEPH}'/></encryption></source></backingStore></disk></devices></domain>`,
  ];
  const ls = service(facts({ uri: 'qemu:///system', fileExists: () => false }));
  for (const t of texts) {
    for (let i = 0; i <= t.length; i += 3) {
      const d = doc(t.slice(0, i));
      ls.doValidation(d);
      ls.doComplete(d, d.positionAt(i));
      ls.doHover(d, d.positionAt(Math.max(0, i - 2)));
    }
  }
  // A disk's backing chain is looked up too (domain_conf.c reads encryption per chain element).
  assert.ok(codes(texts[1], facts()).includes('host-secret-usage-type'));
  assert.ok(codes(texts[1], facts()).includes('host-secret-usage-unknown'));
});

test('lsp cache: get() never waits, a refresh arrives in the background, invalidate and errors', async () => {
  let calls = 0;
  let changes = 0;
  const logs: string[] = [];
  let fail = false;
  let snapshot = facts();
  const cache = new HostFactsCache({
    log: (m) => logs.push(m),
    onChange: () => changes++,
    gather: async (uri) => {
      calls++;
      if (fail) throw new Error('no answer');
      return { ...snapshot, uri };
    },
  });
  assert.equal(cache.get(), undefined, 'offline');
  cache.configure('qemu+ssh://h/system');
  assert.equal(cache.get(), undefined, 'the first snapshot is not there yet, and nothing waited for it');
  await cache.settled();
  assert.equal(calls, 1, 'one refresh for the configure and the get meanwhile');
  assert.equal(changes, 1);
  const first = cache.get()!;
  assert.equal(first.uri, 'qemu+ssh://h/system');
  assert.equal(first.fileExists, undefined, 'remote: files are not judged');
  assert.equal(cache.get(), first, 'the same object until new facts arrive');
  // A save: asked again; equal facts change nothing.
  cache.invalidate();
  await cache.settled();
  assert.equal(calls, 2);
  assert.equal(changes, 1);
  assert.equal(cache.get(), first);
  snapshot = facts({ secrets: [] });
  cache.invalidate();
  await cache.settled();
  assert.equal(changes, 2);
  assert.deepEqual(cache.get()!.secrets, []);
  // A host that stops answering: logged once, its rules silent.
  fail = true;
  cache.invalidate();
  await cache.settled();
  cache.invalidate();
  await cache.settled();
  assert.equal(cache.get(), undefined);
  assert.equal(logs.filter((l) => /no answer/.test(l)).length, 1);
  assert.equal(changes, 3);
  // Local connection: files are stat'ed in the background, unknown until then.
  fail = false;
  cache.configure('qemu:///system');
  await cache.settled();
  const local = cache.get()!;
  assert.equal(local.fileExists!('/nonexistent/lv-host-facts'), undefined);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(local.fileExists!('/nonexistent/lv-host-facts'), false);
  assert.equal(local.fileExists!(__filename), undefined);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(local.fileExists!(__filename), true);
  cache.configure(undefined);
  assert.equal(cache.get(), undefined);
  cache.dispose();
});

test("editing follows the real pool too: <format type> values of the pool's type; hover on the hint", () => {
  const fmt = (hint: string, f: HostFacts | undefined) =>
    complete(vol({ hint }).replace("<format type='raw'/>", "<format type='|'/>"), f).map((i) => i.label);
  assert.ok(fmt('', facts()).includes('qcow2'), 'the default pool is a dir pool');
  assert.deepEqual(fmt('<!-- libvirt-volume: pool=vg -->', facts()), [], 'a logical pool ignores <format>');
  assert.ok(fmt('<!-- libvirt-volume: pool=vg -->', undefined).includes('qcow2'), 'offline: the poolType setting');
  const text = vol({ hint: '<!-- libvirt-volume: pool=default -->' });
  const d = doc(text);
  const h = service(facts()).doHover(d, d.positionAt(text.indexOf('pool=default') + 6))!;
  assert.equal((h.contents as MarkupContent).value,
    '**Pool `default`** on qemu+ssh://h/system: dir, active at `/var/lib/libvirt/images`; 64 MiB available of 100 MiB; 1 volume.');
  const u = doc(vol({ hint: '<!-- libvirt-volume: pool=zz -->' }));
  assert.match((service(facts()).doHover(u, u.positionAt(text.indexOf('pool=') + 5))!.contents as MarkupContent).value, /No storage pool 'zz'/);
});

test("a secret the host has is no workspace hint: the workspace's <secret> files need not hold it", () => {
  const wsSecret = { uri: 'file:///ws/other.xml', uuid: CEPH, usageType: 'volume', usageVolume: '/x' };
  const with_ = (f: HostFacts | undefined) => {
    const ls = getLanguageService({ hostFacts: () => f, secrets: () => [wsSecret] });
    return ls.doValidation(doc(vol({ enc: `uuid='${SECRET}'` }))).map((d) => String(d.code));
  };
  assert.ok(with_(undefined).includes('workspace-secret-uuid-unknown'), 'offline: the hint as before');
  assert.ok(!with_(facts()).includes('workspace-secret-uuid-unknown'));
});

test('domain disks: every encrypted disk is looked up, whatever lies between them', () => {
  const disk = (dev: string, enc: string) => `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/i/${dev}.img'>${enc}</source><target dev='${dev}' bus='virtio'/></disk>`;
  const enc = (u: string) => `<encryption format='luks'><secret type='passphrase' uuid='${u}'/></encryption>`;
  const bad = '11111111-2222-3333-4444-555555555555';
  const text = `<domain type='kvm'><name>g</name><memory>1</memory><os><type>hvm</type></os><devices>
    ${disk('vda', '')}
    <!-- an <encryption> in a comment between disks -->
    ${disk('vdb', enc(SECRET))}
    <controller type='usb'/>
    ${disk('vdc', '')}${disk('vdd', enc(bad))}
    <disk type='file'><source file='/b'/><backingStore type='file'><source file='/c'>${enc(bad)}</source></backingStore><target dev='vde'/></disk>
  </devices></domain>`;
  const ds = service(facts()).doValidation(doc(text)).filter((d) => d.code === 'host-secret-uuid-unknown');
  assert.equal(ds.length, 2, JSON.stringify(ds));
});
