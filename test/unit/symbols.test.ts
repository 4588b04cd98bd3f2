// Outline, folding, go to definition / find references and the workspace secret rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { DocumentSymbol } from 'vscode-languageserver-types';
import { service } from '../helpers/cursor';
import { check } from '../helpers/check';
import { extractSecretInfo, extractSecretUses, normaliseUuid } from '../../server/src/service/secrets';
import type { SecretInfo } from '../../server/src/service/types';

const VOLUME = `<volume>
  <name>enc.qcow2</name>
  <capacity unit='G'>10</capacity>
  <target>
    <path>/pool/enc.qcow2</path>
    <format type='qcow2'/>
    <compat>1.1</compat>
    <encryption format='luks'>
      <secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/>
      <cipher name='aes' size='256' mode='xts' hash='sha256'/>
      <ivgen name='plain64'/>
    </encryption>
  </target>
</volume>
`;

const SECRET = `<secret ephemeral='no' private='yes'>
  <uuid>0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f</uuid>
  <usage type='volume'>
    <volume>/pool/enc.qcow2</volume>
  </usage>
</secret>
`;

const outline = (s: DocumentSymbol): unknown => ({ name: s.name, ...(s.detail ? { detail: s.detail } : {}), ...(s.children ? { children: s.children.map(outline) } : {}) });

test('outline of a volume: name, capacity, format, encryption', () => {
  const ls = service();
  const syms = ls.findDocumentSymbols(TextDocument.create('file:///v.xml', 'xml', 1, VOLUME));
  assert.deepEqual(syms.map(outline), [{
    name: 'volume enc.qcow2', children: [
      { name: 'name', detail: 'enc.qcow2' },
      { name: 'capacity', detail: '10 G' },
      { name: 'target', detail: 'qcow2', children: [
        { name: 'path', detail: '/pool/enc.qcow2' },
        { name: 'format', detail: 'qcow2' },
        { name: 'compat', detail: '1.1' },
        { name: 'encryption', detail: 'luks', children: [
          { name: 'secret', detail: '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f' },
          { name: 'cipher', detail: 'aes-256 xts sha256' },
          { name: 'ivgen', detail: 'plain64' },
        ] },
      ] },
    ],
  }]);
  assert.deepEqual(syms[0].selectionRange, { start: { line: 0, character: 1 }, end: { line: 0, character: 7 } });
});

test('outline of a domain lists its disks; of a secret its uuid and usage', () => {
  const ls = service();
  const dom = ls.findDocumentSymbols(TextDocument.create('file:///d.xml', 'xml', 1, `<domain><name>g</name><devices><disk type='file' device='disk'><source file='/i.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>`));
  assert.deepEqual(dom.map(outline), [{ name: 'domain g', children: [{ name: 'name', detail: 'g' }, { name: 'devices', children: [{ name: 'disk', detail: 'file disk vda', children: [{ name: 'source', detail: '/i.qcow2' }, { name: 'target', detail: 'vda virtio' }] }] }] }]);
  const sec = ls.findDocumentSymbols(TextDocument.create('file:///s.xml', 'xml', 1, SECRET));
  assert.equal(sec[0].detail, '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f · volume /pool/enc.qcow2');
});

test('folding: multi-line elements up to the line before their end tag, comments', () => {
  const ls = service();
  const text = `<!-- a\n  comment -->\n${VOLUME}`;
  const folds = ls.getFoldingRanges(TextDocument.create('file:///v.xml', 'xml', 1, text));
  assert.deepEqual(folds, [
    { startLine: 0, endLine: 1, kind: 'comment' },
    { startLine: 2, endLine: 14 },
    { startLine: 5, endLine: 13 },
    { startLine: 9, endLine: 12 },
  ]);
  // Half-typed: an unclosed element folds to the end.
  assert.deepEqual(ls.getFoldingRanges(TextDocument.create('file:///x.xml', 'xml', 1, '<volume>\n  <target>\n')), [{ startLine: 0, endLine: 2 }, { startLine: 1, endLine: 2 }]);
});

test('secret documents and uses are extracted; uuids normalised like virUUIDParse', () => {
  const info = extractSecretInfo('file:///s.xml', SECRET)!;
  assert.deepEqual(info, { uri: 'file:///s.xml', uuid: '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f', usageType: 'volume', usageVolume: '/pool/enc.qcow2', uuidRange: { start: { line: 1, character: 8 }, end: { line: 1, character: 44 } } });
  assert.equal(extractSecretInfo('file:///v.xml', VOLUME), undefined);
  assert.deepEqual(extractSecretUses('file:///v.xml', VOLUME), [{ uri: 'file:///v.xml', uuid: '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f', range: { start: { line: 8, character: 38 }, end: { line: 8, character: 74 } } }]);
  assert.equal(normaliseUuid(' 0A81F5B2 8403-7b23 c8d6 21ccc2f80d6f\n'), '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f');
  assert.equal(normaliseUuid('-0a81f5b284037b23c8d621ccc2f80d6f'), '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f');
  assert.equal(normaliseUuid('0a81f5b2-8403-7b23-c8d6-21ccc2f80d6'), undefined);
  assert.equal(normaliseUuid('0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f-'), undefined);
  assert.equal(normaliseUuid('0a8-1f5b284037b23c8d621ccc2f80d6f0'), undefined);
});

test('go to definition from the encryption uuid to the <secret> file; references back', () => {
  const secrets = [extractSecretInfo('file:///ws/secret.xml', SECRET)!];
  const uses = [...extractSecretUses('file:///ws/other.xml', VOLUME.replace('enc.qcow2', 'other.qcow2'))];
  const ls = service({}, { secrets: () => secrets, secretUses: () => uses });
  const vol = TextDocument.create('file:///ws/v.xml', 'xml', 1, VOLUME);
  const def = ls.findDefinition(vol, { line: 8, character: 50 });
  assert.deepEqual(def, [{ uri: 'file:///ws/secret.xml', range: secrets[0].uuidRange }]);
  assert.deepEqual(ls.findDefinition(vol, { line: 9, character: 20 }), []);
  // By usage: the secret whose usage volume is that path.
  const byUsage = TextDocument.create('file:///ws/u.xml', 'xml', 1, VOLUME.replace("uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'", "usage='/pool/enc.qcow2'"));
  assert.deepEqual(ls.findDefinition(byUsage, { line: 8, character: 42 }), [{ uri: 'file:///ws/secret.xml', range: secrets[0].uuidRange }]);
  // References from the secret document: the definition and every use (the open volume too).
  const sec = TextDocument.create('file:///ws/secret.xml', 'xml', 1, SECRET);
  ls.parse(vol);
  const refs = ls.findReferences(sec, { line: 1, character: 10 }).map((l) => `${l.uri}:${l.range.start.line}`).sort();
  assert.deepEqual(refs, ['file:///ws/other.xml:8', 'file:///ws/secret.xml:1', 'file:///ws/v.xml:8']);
});

const S = (o: Partial<SecretInfo>): SecretInfo => ({ uri: 'file:///ws/s.xml', uuid: '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f', usageType: 'volume', usageVolume: '/pool/enc.qcow2', ...o });
const V = (uuidAttr: string, path = '/pool/enc.qcow2') => `<volume>\n  <name>enc.qcow2</name>\n  <capacity unit='G'>10</capacity>\n  <target>\n    <path>${path}</path>\n    <format type='qcow2'/>\n    <encryption format='luks'>\n      <secret type='passphrase' ${uuidAttr}/>\n    </encryption>\n  </target>\n</volume>`;

test('workspace rules: unknown uuid (hint) only when the workspace has secrets', () => {
  check(V(`uuid='[[3e3fce45-4f53-4fa7-bb32-11f34168b82b]]'`), [
    { code: 'workspace-secret-uuid-unknown', severity: 'hint', message: "No <secret> document in the workspace has uuid '3e3fce45-4f53-4fa7-bb32-11f34168b82b' (libvirt will look for it on the host: Secret not found: no secret with matching uuid '3e3fce45-4f53-4fa7-bb32-11f34168b82b')" },
  ], {}, { secrets: () => [S({})] });
  check(V(`uuid='3e3fce45-4f53-4fa7-bb32-11f34168b82b'`), [], {}, { secrets: () => [] });
  // Matching is on libvirt's reading of the uuid, not its spelling.
  check(V(`uuid='0A81F5B2-8403-7B23-C8D6-21CCC2F80D6F'`), [], {}, { secrets: () => [S({})] });
});

test('workspace rules: path mismatch and wrong usage type (warnings)', () => {
  check(V(`uuid='[[0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f]]'`, '/pool/other.qcow2'), [
    { code: 'workspace-secret-path-mismatch', severity: 'warning', message: "The secret 0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f (/ws/s.xml) is for volume '/pool/enc.qcow2', but this volume's path is '/pool/other.qcow2'" },
  ], {}, { secrets: () => [S({})] });
  check(V(`uuid='[[0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f]]'`), [
    { code: 'workspace-secret-usage-type', severity: 'warning', message: "invalid argument: secret with uuid 0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f is of type 'ceph' not expected 'volume' type (/ws/s.xml)" },
  ], {}, { secrets: () => [S({ usageType: 'ceph', usageVolume: undefined })] });
  check(V(`usage='[[/pool/nope]]'`), [
    { code: 'workspace-secret-usage-unknown', severity: 'hint', message: "No <secret> document in the workspace has usage volume '/pool/nope'" },
  ], {}, { secrets: () => [S({})] });
  check(V(`usage='/pool/enc.qcow2'`), [], {}, { secrets: () => [S({})] });
});
