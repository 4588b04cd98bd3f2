import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr, elementAt, LineIndex, parseXml, path, textContent, textSpan } from '../../server/src/service/xmlModel';

test('parses elements, attributes and text with offsets', () => {
  const src = `<volume type="file">\n  <name>a &amp; b</name>\n  <target><encryption format='luks'/></target>\n</volume>`;
  const doc = parseXml(src);
  assert.deepEqual(doc.errors, []);
  const vol = doc.root!;
  assert.equal(vol.name, 'volume');
  const type = attr(vol, 'type')!;
  assert.equal(src.slice(type.nameSpan.start, type.nameSpan.end), 'type');
  assert.equal(src.slice(type.valueSpan.start, type.valueSpan.end), 'file');
  const name = path(vol, 'name')!;
  assert.equal(textContent(name), 'a & b');
  assert.equal(src.slice(textSpan(name).start, textSpan(name).end), 'a &amp; b');
  const enc = path(vol, 'target', 'encryption')!;
  assert.equal(enc.selfClosing, true);
  assert.equal(attr(enc, 'format')!.value, 'luks');
  assert.equal(elementAt(doc, src.indexOf('luks'))?.name, 'encryption');
});

test('survives half-typed documents and reports well-formedness errors', () => {
  for (const src of ['', '<', '<volume', '<volume><name>x</na', "<a b='1", '<a b=>', '<a><b></a>', '</x>', '<a></a><b/>', 'text', '<a>&bogus;</a>', '<a b="1" b="2"/>', '<!-- x', '<a><![CDATA[x']) {
    const doc = parseXml(src);
    assert.ok(doc.errors.length > 0, `expected an error for ${JSON.stringify(src)}`);
    for (const e of doc.errors) assert.ok(e.start >= 0 && e.end <= src.length && e.start <= e.end, `bad span in ${JSON.stringify(src)}`);
  }
});

test('an unterminated attribute value stays local to its line', () => {
  const src = `<volume>\n<target><encryption format='lu>\n<secret type='passphrase' uuid='x'/></encryption></target></volume>`;
  const doc = parseXml(src);
  const enc = path(doc.root, 'target', 'encryption');
  assert.equal(attr(enc, 'format')?.value, 'lu');
});

test('LineIndex round-trips offsets', () => {
  const src = 'a\nbc\r\nd\re';
  const li = new LineIndex(src);
  for (let o = 0; o <= src.length; o++) {
    const p = li.positionAt(o);
    if (src[o - 1] === '\r' && src[o] === '\n') continue; // inside a CRLF pair
    assert.equal(li.offsetAt(p), o);
  }
  assert.deepEqual(li.positionAt(src.indexOf('e')), { line: 3, character: 0 });
});
