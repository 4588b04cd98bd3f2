// The one writer of XML documents (service/xmlDom.ts: a strict DOM, one serializer) and the
// strict parser for XML printed by tools. What it writes must read back the same through both
// the strict parser and the editor's tolerant model, and satisfy the language service.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { childElements, parseToolXml, renderXml } from '../../server/src/service/xmlDom';
import { volumeSecretXml, extractSecretInfo } from '../../server/src/service/secrets';
import { attrValue, parseXml, path, textContent } from '../../server/src/service/xmlModel';
import { newVolumeXml } from '../../server/src/lsp/createVolume';
import { diagnose } from '../helpers/check';

const NASTY = `a&b <c> "d" 'e' ]]> \u00e9`;

test('layout: element content indented by two spaces, text content kept, optional children left out', () => {
  const text = renderXml({
    name: 'a', attrs: { x: '1', skip: undefined },
    children: [{ name: 'b', text: 't' }, undefined, false, { name: 'c', children: [{ name: 'd' }] }, { name: 'e' }],
  });
  assert.equal(text, '<a x="1">\n  <b>t</b>\n  <c>\n    <d/>\n  </c>\n  <e/>\n</a>\n');
});

test('escaping: text and attribute values read back unchanged by the strict parser and the tolerant model', () => {
  const text = renderXml({ name: 'r', attrs: { v: NASTY + '\n\t' }, children: [{ name: 't', text: NASTY }] });
  const strict = parseToolXml(text).documentElement!;
  assert.equal(strict.getAttribute('v'), NASTY + '\n\t');
  assert.equal(childElements(strict, 't')[0].textContent, NASTY);
  const tolerant = parseXml(text);
  assert.deepEqual(tolerant.errors, []);
  assert.equal(textContent(path(tolerant.root, 't')), NASTY);
  // (Newline and tab go out as character references; the tolerant model reads those as spaces.)
  assert.equal(attrValue(tolerant.root, 'v')?.trimEnd(), NASTY);
});

test('parseToolXml: strict, with the parser\'s message', () => {
  assert.throws(() => parseToolXml('<a><b></a>'), /^Error: malformed XML: .*mismatch/);
  assert.throws(() => parseToolXml(''), /malformed XML/);
  assert.throws(() => parseToolXml('<a x="1" x="2"/>'), /malformed XML/);
  const doc = parseToolXml("<secret ephemeral='no'>\n  <uuid>u</uuid>\n  <usage type='volume'><volume>/p</volume></usage>\n</secret>\n");
  const root = doc.documentElement!;
  assert.deepEqual(childElements(root).map((e) => e.nodeName), ['uuid', 'usage']);
  assert.equal(childElements(childElements(root, 'usage')[0], 'volume')[0].textContent, '/p');
});

test("a volume's <secret>: libvirt's element order, no diagnostics, read back by the workspace index", () => {
  const uuid = '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f';
  const text = volumeSecretXml(uuid, `/pool/${NASTY}.img`, NASTY);
  assert.deepEqual(childElements(parseToolXml(text).documentElement!).map((e) => e.nodeName), ['uuid', 'description', 'usage']);
  assert.deepEqual(diagnose(text), []);
  const info = extractSecretInfo('file:///s.xml', text);
  assert.equal(info?.uuid, uuid);
  assert.equal(info?.usageType, 'volume');
  assert.equal(info?.usageVolume, `/pool/${NASTY}.img`);
});

test("the wizard's volume XML: the names and paths it is given, no errors from the service", () => {
  const uuid = '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f';
  const text = newVolumeXml({ name: 'v1', capacity: '16 MiB', format: 'qcow2', encrypted: true }, '/p/v&<1>', uuid);
  const doc = parseXml(text);
  assert.deepEqual(doc.errors, []);
  assert.equal(textContent(path(doc.root, 'name')), 'v1');
  assert.equal(textContent(path(doc.root, 'target', 'path')), '/p/v&<1>');
  assert.equal(attrValue(path(doc.root, 'capacity'), 'unit'), 'MiB');
  assert.equal(attrValue(path(doc.root, 'target', 'encryption', 'secret'), 'uuid'), uuid);
  assert.deepEqual(diagnose(text).filter((d) => d.severity === 1), []);
  const raw = newVolumeXml({ name: 'r&<1>', capacity: '1G', format: 'raw' }, '/p/r');
  assert.equal(textContent(path(parseXml(raw).root, 'name')), 'r&<1>');
  assert.deepEqual(diagnose(raw).filter((d) => d.severity === 1), []);
  assert.equal(path(parseXml(raw).root, 'target', 'compat'), undefined);
  assert.equal(path(parseXml(raw).root, 'target', 'encryption'), undefined);
});
