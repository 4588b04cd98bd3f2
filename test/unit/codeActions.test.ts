import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { FIXED_UUID, actionsFor, applyAction, service } from '../helpers/cursor';
import type { LanguageSettings, SecretInfo } from '../../server/src/service/types';

/** The text after the preferred fix of the (first) diagnostic with this code. */
function fix(text: string, code: string, opts: { title?: string; env?: { secrets?: () => SecretInfo[] }; settings?: LanguageSettings } = {}): string {
  const hit = actionsFor(text, opts.settings ?? {}, opts.env ?? {}).find((x) => x.diagnostic.code === code);
  assert.ok(hit, `no ${code} diagnostic; have ${actionsFor(text).map((x) => x.diagnostic.code).join(', ')}`);
  const action = opts.title ? hit.actions.find((a) => a.title === opts.title) : hit.actions.find((a) => a.isPreferred) ?? hit.actions[0];
  assert.ok(action, `no fix for ${code}; have ${hit.actions.map((a) => a.title).join(' | ')}`);
  const after = applyAction(text, action);
  assert.equal(actionsFor(after, opts.settings ?? {}, opts.env ?? {}).filter((x) => x.diagnostic.code === code).length, 0, `${code} still reported after '${action.title}':\n${after}`);
  return after;
}

const vol = (target: string, fmt = 'qcow2') => `<volume>\n  <name>v.${fmt}</name>\n  <capacity unit='M'>16</capacity>\n  <target>\n    <format type='${fmt}'/>\n    <compat>1.1</compat>\n${target}\n  </target>\n</volume>`.replace(fmt === 'raw' ? '    <compat>1.1</compat>\n' : '\u0000', '');

test("qcow → luks with a passphrase secret", () => {
  const after = fix(vol(`    <encryption format='qcow'/>`), 'volume-encryption-qcow-create');
  assert.equal(after, vol(`    <encryption format='luks'>\n      <secret type='passphrase' uuid='${FIXED_UUID}'/>\n    </encryption>`));
  const keep = fix(vol(`    <encryption format='default'>\n      <secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/>\n    </encryption>`), 'volume-encryption-qcow-create');
  assert.match(keep, /<encryption format='luks'>\n {6}<secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'\/>/);
});

test('add the missing cipher name / size (a size the cipher has)', () => {
  const enc = (c: string) => vol(`    <encryption format='luks'>\n      <secret type='passphrase' uuid='${FIXED_UUID}'/>\n      ${c}\n      <ivgen name='plain64'/>\n    </encryption>`, 'raw');
  assert.equal(fix(enc(`<cipher size='256' mode='xts' hash='sha256'/>`), 'cipher-name-required'), enc(`<cipher size='256' mode='xts' hash='sha256' name='aes'/>`));
  assert.equal(fix(enc(`<cipher name='cast5' mode='cbc' hash='sha256'/>`), 'cipher-size-required'), enc(`<cipher name='cast5' mode='cbc' hash='sha256' size='128'/>`));
  assert.equal(fix(enc(`<cipher name='aes' size='256' mode='xts'/>`), 'cipher-mode-hash-pair'), enc(`<cipher name='aes' size='256' mode='xts' hash='sha256'/>`));
});

test('keep uuid or usage', () => {
  const t = vol(`    <encryption format='luks'>\n      <secret type='passphrase' uuid='${FIXED_UUID}' usage='/x'/>\n    </encryption>`);
  assert.match(fix(t, 'encryption-secret-ref-both'), new RegExp(`<secret type='passphrase' uuid='${FIXED_UUID}'/>`));
  assert.match(fix(t, 'encryption-secret-ref-both', { title: "Keep the usage (remove 'uuid')" }), /<secret type='passphrase' usage='\/x'\/>/);
});

test('normalise a liberal uuid; generate one for a bad or missing uuid', () => {
  const t = vol(`    <encryption format='luks'>\n      <secret type='passphrase' uuid=' 0A81F5B2 8403-7b23-c8d6-21ccc2f80d6f'/>\n    </encryption>`);
  assert.match(fix(t, 'encryption-secret-uuid-noncanonical'), /uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/);
  assert.match(fix(t.replace(' 0A81F5B2 8403', '0a81f5b2-84'), 'encryption-secret-uuid-invalid'), new RegExp(`uuid='${FIXED_UUID}'`));
  assert.match(fix(vol(`    <encryption format='luks'>\n      <secret type='passphrase'/>\n    </encryption>`), 'encryption-secret-ref-missing'), new RegExp(`<secret type='passphrase' uuid='${FIXED_UUID}'/>`));
  assert.match(fix(`<secret>\n  <uuid>0A81F5B2-8403-7b23-c8d6-21ccc2f80d6f </uuid>\n</secret>`, 'secret-uuid-noncanonical'), /<uuid>0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f<\/uuid>/);
});

test('add <compat>1.1</compat> with the document\'s indentation', () => {
  const t = `<volume>\n  <name>v.qcow2</name>\n  <capacity unit='M'>16</capacity>\n  <target>\n    <format type='qcow2'/>\n  </target>\n</volume>`;
  // libvirt before 10.2.0 creates qcow2 v2 without <compat>.
  assert.equal(fix(t, 'volume-compat-default', { settings: { libvirtVersion: '9.0.0' } }), `<volume>\n  <name>v.qcow2</name>\n  <capacity unit='M'>16</capacity>\n  <target>\n    <format type='qcow2'/>\n    <compat>1.1</compat>\n  </target>\n</volume>`);
  assert.match(fix(t.replace("<format type='qcow2'/>", "<format type='qcow2'/>\n    <compat>0.10</compat>\n    <features><lazy_refcounts/></features>"), 'volume-lazy-refcounts-compat'), /<compat>1\.1<\/compat>/);
});

const DISK = (inner: string, source = `<source file='/var/lib/libvirt/images/v.qcow2'/>`) => `<domain type='kvm'>\n  <name>d</name>\n  <memory>65536</memory>\n  <os><type>hvm</type></os>\n  <devices>\n    <disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n      ${source}\n      <target dev='vda' bus='virtio'/>\n${inner}\n    </disk>\n  </devices>\n</domain>`;

test('remove <cipher> from a domain disk; move disk-level encryption into <source>', () => {
  const enc = `      <encryption format='luks'>\n        <secret type='passphrase' uuid='${FIXED_UUID}'/>\n        <cipher name='aes' size='256' mode='xts' hash='sha256'/>\n        <ivgen name='plain64'/>\n      </encryption>`;
  const noCipher = fix(DISK(enc), 'disk-encryption-cipher');
  assert.equal(noCipher, DISK(`      <encryption format='luks'>\n        <secret type='passphrase' uuid='${FIXED_UUID}'/>\n      </encryption>`));
  const moved = fix(noCipher, 'disk-encryption-legacy-location');
  assert.equal(moved, DISK('', `<source file='/var/lib/libvirt/images/v.qcow2'>\n        <encryption format='luks'>\n          <secret type='passphrase' uuid='${FIXED_UUID}'/>\n        </encryption>\n      </source>`).replace('\n\n    </disk>', '\n    </disk>'));
});

test('replace an unknown enum value with the nearest valid one', () => {
  assert.match(fix(vol(`    <encryption format='LUKS'/>`), 'encryption-format-unknown'), /format='luks'/);
  const c = (attrs: string) => vol(`    <encryption format='luks'>\n      <secret type='passphrase' uuid='${FIXED_UUID}'/>\n      <cipher ${attrs}/>\n      <ivgen name='plain64'/>\n    </encryption>`, 'raw');
  assert.match(fix(c(`name='aes' size='256' mode='XTS' hash='sha256'`), 'cipher-mode-invalid'), /mode='xts'/);
  assert.match(fix(c(`name='des' size='56' mode='cbc' hash='sha256'`), 'cipher-algorithm-invalid'), /<cipher name='aes' size='256'/);
  assert.match(fix(vol('', 'qcow3'), 'volume-format-unknown'), /<format type='qcow2'\/>/);
  assert.match(fix(`<volume><name>v</name><capacity unit='GB2'>1</capacity></volume>`, 'volume-unit-unknown'), /unit='GB'/);
});

test('workspace secrets: pick the secret of this volume', () => {
  const secrets: SecretInfo[] = [{ uri: 'file:///ws/s.xml', uuid: '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f', usageType: 'volume', usageVolume: '/pool/v.qcow2' }];
  const t = vol(`    <path>/pool/v.qcow2</path>\n    <encryption format='luks'>\n      <secret type='passphrase' uuid='${FIXED_UUID}'/>\n    </encryption>`);
  const after = fix(t, 'workspace-secret-uuid-unknown', { env: { secrets: () => secrets } });
  assert.match(after, /uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/);
});

test('every quick fix on the fixture corpus removes its diagnostic', () => {
  const root = join(__dirname, '..', 'fixtures');
  const walk = (d: string): string[] => readdirSync(d).flatMap((n) => { const p = join(d, n); return statSync(p).isDirectory() ? walk(p) : p.endsWith('.xml') ? [p] : []; });
  let fixes = 0;
  const failures: string[] = [];
  const codes = new Set<string>();
  for (const f of walk(root)) {
    const text = readFileSync(f, 'utf8');
    const res = actionsFor(text);
    if (res.some((r) => r.diagnostic.code === 'xml-not-well-formed')) continue;
    for (const { diagnostic, actions } of res) {
      const before = res.filter((r) => r.diagnostic.code === diagnostic.code).length;
      for (const a of actions) {
        fixes++;
        codes.add(String(diagnostic.code));
        const after = actionsFor(applyAction(text, a)).filter((r) => r.diagnostic.code === diagnostic.code).length;
        // Alternatives may trade one wrong value for another; the preferred fix must always work.
        if (a.isPreferred && after >= before) failures.push(`${f}: ${diagnostic.code}: ${a.title}`);
      }
    }
  }
  assert.deepEqual(failures, []);
  assert.ok(fixes > 250 && codes.size > 60, `only ${fixes} fixes for ${codes.size} rules`);
});

test('create a <secret> document for a uuid no workspace secret defines', () => {
  const text = `<volume>\n  <name>enc.qcow2</name>\n  <target>\n    <path>/pool/enc.qcow2</path>\n    <encryption format='luks'>\n      <secret type='passphrase' uuid='${FIXED_UUID}'/>\n    </encryption>\n  </target>\n</volume>`;
  const ls = service({}, { secrets: () => [] });
  const doc = TextDocument.create('file:///ws/vols/enc.xml', 'xml', 1, text);
  const at = doc.positionAt(text.indexOf(FIXED_UUID) + 3);
  const actions = ls.doCodeActions(doc, { start: at, end: at }, { diagnostics: [] });
  assert.equal(actions.length, 1);
  assert.equal(actions[0].title, `Create a <secret> document for ${FIXED_UUID} (secret-enc.qcow2.xml)`);
  assert.deepEqual(actions[0].edit!.documentChanges![0], { kind: 'create', uri: 'file:///ws/vols/secret-enc.qcow2.xml', options: { overwrite: false, ignoreIfExists: false } });
  const created = (actions[0].edit!.documentChanges![1] as { edits: Array<{ newText: string }> }).edits[0].newText;
  assert.equal(created, `<secret ephemeral="no" private="yes">\n  <uuid>${FIXED_UUID}</uuid>\n  <description>passphrase of volume enc.qcow2</description>\n  <usage type="volume">\n    <volume>/pool/enc.qcow2</volume>\n  </usage>\n</secret>\n`);
  // The new document is a valid secret with no diagnostics, and it satisfies the volume.
  assert.deepEqual(ls.doValidation(TextDocument.create('file:///ws/vols/secret-enc.qcow2.xml', 'xml', 1, created)), []);
  // Not offered when a workspace secret has the uuid, nor for quick-fix-only requests.
  const known = service({}, { secrets: () => [{ uri: 'file:///s.xml', uuid: FIXED_UUID.toUpperCase(), usageType: 'volume', usageVolume: '/pool/enc.qcow2' }] });
  assert.deepEqual(known.doCodeActions(doc, { start: at, end: at }, { diagnostics: [] }), []);
  assert.deepEqual(ls.doCodeActions(doc, { start: at, end: at }, { diagnostics: [], only: ['quickfix'] }), []);
});

test('workspace secrets of the wrong usage type or an unknown usage path: pick a volume secret', () => {
  const secrets: SecretInfo[] = [
    { uri: 'file:///ws/ceph.xml', uuid: FIXED_UUID, usageType: 'ceph', usageVolume: undefined },
    { uri: 'file:///ws/s.xml', uuid: '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f', usageType: 'volume', usageVolume: '/pool/v.qcow2' },
  ];
  const env = { secrets: () => secrets };
  const t = vol(`    <path>/pool/v.qcow2</path>\n    <encryption format='luks'>\n      <secret type='passphrase' uuid='${FIXED_UUID}'/>\n    </encryption>`);
  assert.match(fix(t, 'workspace-secret-usage-type', { env }), /uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/);
  const u = vol(`    <encryption format='luks'>\n      <secret type='passphrase' usage='/pool/v.qcow'/>\n    </encryption>`);
  assert.match(fix(u, 'workspace-secret-usage-unknown', { env }), /usage='\/pool\/v\.qcow2'/);
});
