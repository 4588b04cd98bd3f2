// Near-miss root elements in the editor (issue 16 §2): `<Volume>`, `<volumes>`, `<Domain>` get a
// warning with libvirt's wording and a quick fix to the root libvirt expects; foreign XML gets
// nothing in the editor. And the bytes of a file as libvirt reads them (service/encoding.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { actionsFor, applyAction, service } from '../helpers/cursor';
import { isUtf8 } from 'node:buffer';
import { decodeXmlBytes } from '../../server/src/service/encoding';

const diags = (text: string, named = false) =>
  service().doValidation(TextDocument.create('file:///t.xml', 'xml', 1, text), { named });

test('a near-miss root is a warning in the editor, on the root name, with a fix renaming both tags', () => {
  for (const [found, expected] of [['Volume', 'volume'], ['volumes', 'volume'], ['Domain', 'domain'], ['SECRET', 'secret'], ['disks', 'disk']]) {
    const text = `<${found}>\n  <name>a</name>\n</${found}>\n`;
    const d = diags(text);
    assert.equal(d.length, 1, found);
    assert.equal(d[0].code, 'root-element-near-miss');
    assert.equal(d[0].severity, 2);
    assert.equal(d[0].message, `XML error: expecting root element of '${expected}', not '${found}'`);
    assert.deepEqual(d[0].range, { start: { line: 0, character: 1 }, end: { line: 0, character: 1 + found.length } });
    const hit = actionsFor(text).find((x) => x.diagnostic.code === 'root-element-near-miss');
    assert.ok(hit);
    const action = hit.actions.find((a) => a.isPreferred);
    assert.ok(action, found);
    const after = applyAction(text, action);
    assert.equal(after, `<${expected}>\n  <name>a</name>\n</${expected}>\n`);
  }
  const self = applyAction('<Volume/>', actionsFor('<Volume/>')[0].actions[0]);
  assert.equal(self, '<volume/>');
});

test('foreign XML and non-XML get nothing in the editor; a named file is judged', () => {
  for (const t of ['<pool type="dir"/>', '<foo/>', '', 'hello', '<volumess/>']) assert.deepEqual(diags(t), [], t);
  assert.deepEqual(diags('<foo/>', true).map((d) => [d.code, d.severity]), [['root-element-foreign', 1]]);
  assert.deepEqual(diags('<Volume/>', true).map((d) => [d.code, d.severity]), [['root-element-near-miss', 1]]);
  assert.deepEqual(diags('', true).map((d) => d.message), ['Document is empty']);
  assert.deepEqual(diags('hello', true).map((d) => d.message), ["Start tag expected, '<' not found"]);
});

test('bytes as libvirt reads them: UTF-8, invalid UTF-8, UTF-16, a declared Latin-1', () => {
  const ok = decodeXmlBytes(Buffer.from('<volume><name>é</name></volume>'));
  assert.deepEqual(ok, { text: '<volume><name>é</name></volume>' });
  const bad = decodeXmlBytes(Buffer.from([...Buffer.from('<volume><name>a'), 0xff, ...Buffer.from('</name></volume>')]));
  assert.deepEqual(bad.error, { offset: 15, message: 'Input is not proper UTF-8, indicate encoding ! Bytes: 0xFF 0x3C 0x2F 0x6E' });
  // Overlong and surrogate encodings are not UTF-8 either (RFC 3629).
  assert.ok(decodeXmlBytes(Buffer.from([0x3c, 0xc0, 0xaf])).error);
  assert.ok(decodeXmlBytes(Buffer.from([0x3c, 0xed, 0xa0, 0x80])).error);
  assert.ok(decodeXmlBytes(Buffer.from([0x3c, 0xe2, 0x82])).error, 'truncated sequence');
  const le = decodeXmlBytes(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<volume/>', 'utf16le')]));
  assert.match(le.error?.message ?? '', /^Start tag expected, '<' not found \(UTF-16/);
  const latin = decodeXmlBytes(Buffer.from([...Buffer.from("<?xml version='1.0' encoding='ISO-8859-1'?><volume><name>"), 0xe9, ...Buffer.from('</name></volume>')]));
  assert.equal(latin.error, undefined);
  assert.match(latin.text, /<name>é<\/name>/);
});

test('UTF-8 verdicts agree with node:buffer isUtf8 on random bytes; a declaration after blanks is read', () => {
  // decodeXmlBytes decides validity with the strict native decoder and locates the bad byte in
  // JavaScript: both must agree with an independent validator on every input.
  let seed = 15;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (let k = 0; k < 3000; k++) {
    const len = 1 + (rand() % 12);
    // Mostly multi-byte lead and continuation bytes, so that valid and invalid sequences both occur.
    const b = Buffer.from(Array.from({ length: len }, () => { const r = rand(); return r < 64 ? 0x41 : r < 128 ? 0x80 | (r & 0x3f) : 0xc0 | (r & 0x3f); }));
    const input = Buffer.concat([Buffer.from('<a>'), b]);
    const r = decodeXmlBytes(input);
    assert.equal(r.error === undefined, isUtf8(input), input.toString('hex'));
    assert.equal(r.text, new TextDecoder('utf-8', { ignoreBOM: true }).decode(input));
  }
  const latin = decodeXmlBytes(Buffer.from([...Buffer.from(" \n\t<?xml version='1.0' encoding='latin1'?><a>"), 0xe9, ...Buffer.from('</a>')]));
  assert.equal(latin.error, undefined);
  assert.match(latin.text, /<a>é<\/a>/);
});
