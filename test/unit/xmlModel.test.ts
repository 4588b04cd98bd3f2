import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { attr, elementAt, LineIndex, MAX_SYNTAX_ERRORS, parseXml, path, textContent, textSpan } from '../../server/src/service/xmlModel';

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

test('LineIndex found lazily gives the same positions in any order of questions', () => {
  // Line starts are scanned only as far as a question needs: answers must not depend on the order.
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  for (let t = 0; t < 200; t++) {
    const pieces = ['a', 'bc', '\n', '\r', '\r\n', ' '];
    let src = '';
    for (let k = rnd(40); k > 0; k--) src += pieces[rnd(pieces.length)];
    const lazy = new LineIndex(src);
    for (let q = 0; q < 30; q++) {
      const o = rnd(src.length + 2);
      // A fresh index answers from one full scan (offsetAt scans the whole text first).
      const whole = new LineIndex(src);
      whole.offsetAt({ line: 0, character: 0 });
      assert.deepEqual(lazy.positionAt(o), whole.positionAt(o), JSON.stringify({ src, o }));
      if (rnd(4) === 0) {
        const p = whole.positionAt(rnd(src.length + 1));
        assert.equal(lazy.offsetAt(p), whole.offsetAt(p));
      }
    }
  }
});

// ---- Hostile input and libxml2 parity (issue 16 §2, §4) ----

const messages = (src: string) => parseXml(src).errors.map((e) => e.message);

test('NUL and control characters are refused with libxml2 messages, in text and in values', () => {
  assert.deepEqual(messages('<volume><name>a\0b</name></volume>'), ['Char 0x0 out of allowed range']);
  assert.deepEqual(messages("<volume><name a='x\0y'>ab</name></volume>"), ['Char 0x0 out of allowed range']);
  assert.deepEqual(messages('<a>\x01</a>'), ['PCDATA invalid Char value 1']);
  assert.deepEqual(messages('<a b="\x01"/>'), ['invalid character in attribute value']);
  assert.deepEqual(messages('<a><![CDATA[\0]]></a>'), ['Char 0x0 out of allowed range']);
  assert.deepEqual(messages('<a>&#0;</a>'), ['xmlParseCharRef: invalid xmlChar value 0']);
  assert.deepEqual(messages('<a>&#1;</a>'), ['xmlParseCharRef: invalid xmlChar value 1']);
  assert.deepEqual(messages('<a>&#x9;&#10;&#x10FFFF;</a>'), []);
  // The error points at the character itself.
  const src = '<v><n>ab\0</n></v>';
  const e = parseXml(src).errors[0];
  assert.equal(e.start, src.indexOf('\0'));
  assert.equal(e.end, e.start + 1);
});

test("internal entities of the DOCTYPE expand; their value maps to the reference's range", () => {
  const src = '<?xml version="1.0"?>\n<!DOCTYPE volume [\n<!ENTITY n "x&amp;y">\n<!ENTITY m \'&n;!\'>\n]>\n'
    + '<volume a="&n;"><name>&m;</name></volume>';
  const doc = parseXml(src);
  assert.deepEqual(doc.errors, []);
  assert.equal(attr(doc.root, 'a')!.value, 'x&y');
  const name = path(doc.root, 'name')!;
  assert.equal(textContent(name), 'x&y!');
  const span = textSpan(name);
  assert.equal(src.slice(span.start, span.end), '&m;');
  // The first declaration wins (XML 1.0 §4.2); external entities are not loaded (no error, no text).
  const twice = parseXml('<!DOCTYPE a [<!ENTITY e "1"><!ENTITY e "2"><!ENTITY x SYSTEM "/etc/hostname">]><a>&e;&x;</a>');
  assert.deepEqual(twice.errors, []);
  assert.equal(textContent(twice.root), '1');
  // Parameter entities are not general entities.
  assert.deepEqual(messages('<!DOCTYPE a [<!ENTITY % p "1">]><a>&p;</a>'), ["Entity 'p' not defined"]);
});

test('entity errors point at the reference in the document', () => {
  const src = '<!DOCTYPE a [<!ENTITY m "x&#0;"><!ENTITY u "&zz;"><!ENTITY t "<b/>">]><a t="&t;">&m;&u;</a>';
  const doc = parseXml(src);
  assert.deepEqual(doc.errors.map((e) => [e.message, src.slice(e.start, e.end)]), [
    ["'<' in entity 't' is not allowed in attributes values", '&t;'],
    ['xmlParseCharRef: invalid xmlChar value 0', '&m;'],
    ["Entity 'zz' not defined", '&u;'],
  ]);
});

test('entity loops and exponential entities are refused in bounded time', () => {
  assert.deepEqual(messages('<!DOCTYPE a [<!ENTITY x "&y;"><!ENTITY y "&x;">]><a>&x;</a>'), ['Detected an entity reference loop']);
  let dtd = '<!ENTITY e0 "haha">';
  for (let k = 1; k <= 12; k++) dtd += `<!ENTITY e${k} "${`&e${k - 1};`.repeat(10)}">`;
  const t0 = performance.now();
  const doc = parseXml(`<!DOCTYPE a [${dtd}]><a>&e12;</a>`);
  assert.ok(performance.now() - t0 < 2000, 'a billion laughs is cut short');
  assert.ok(doc.errors.some((e) => e.message === 'Detected an entity reference loop'));
  assert.ok(textContent(doc.root).length <= 1 << 20);
});

test('many attributes on one element: linear time, duplicates found', () => {
  // 100k: the quadratic check took tens of seconds here; linear, well under a second when idle.
  const unique = '<volume ' + Array.from({ length: 100_000 }, (_, k) => `a${k}='${k}'`).join(' ') + '/>';
  const t0 = performance.now();
  const doc = parseXml(unique);
  assert.ok(performance.now() - t0 < 8000, `100k attributes took ${performance.now() - t0} ms`);
  assert.equal(doc.root!.attributes.length, 100_000);
  assert.deepEqual(doc.errors, []);
  const dup = parseXml('<v ' + Array.from({ length: 20 }, (_, k) => `a${k}='1'`).join(' ') + " a3='2' a19='3'/>");
  assert.deepEqual(dup.errors.map((e) => e.message), ['Attribute a3 redefined', 'Attribute a19 redefined']);
  assert.equal(attr(dup.root, 'a3')!.value, '1');
});

test("libxml2's depth limit: 257 levels parse, 258 are refused once", () => {
  const nest = (d: number) => '<x>'.repeat(d) + '</x>'.repeat(d);
  assert.deepEqual(messages(nest(257)), []);
  const deep = messages(nest(300));
  assert.equal(deep.filter((m) => m === 'Excessive depth in document: 256 use XML_PARSE_HUGE option').length, 1);
});

test('syntax errors are capped; hostile input stays bounded in time and memory', (t) => {
  const cases = {
    '1 MB of <': '<volume>' + '<'.repeat(1 << 20) + '</volume>',
    '10 MB of <': '<'.repeat(10 << 20),
    '18 MB of </bad>': '<volume>' + '</bad>'.repeat(3 << 20),
    '1M nested start tags': '<a>'.repeat(1 << 20),
    '50k duplicate attributes': '<volume ' + "a='1' ".repeat(50_000) + '/>',
  };
  // Memory kept by the model, measured after full collections (heapUsed alone counts garbage too).
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (const [name, src] of Object.entries(cases)) {
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    const doc = parseXml(src);
    const ms = performance.now() - t0;
    gc();
    const mb = (process.memoryUsage().heapUsed - heap0) / 1e6;
    assert.ok(ms < 10_000, `${name}: ${ms.toFixed(0)} ms`);
    assert.ok(mb < 50, `${name}: ${mb.toFixed(0)} MB kept`);
    assert.equal(doc.errors.length, MAX_SYNTAX_ERRORS + 1, name);
    assert.match(doc.errors.at(-1)!.message, /^\d+ more well-formedness errors not reported/);
    for (const e of doc.errors) assert.ok(e.start >= 0 && e.end <= src.length && e.start <= e.end, name);
    t.diagnostic(`${name}: ${ms.toFixed(0)} ms, ${mb.toFixed(1)} MB kept`);
  }
  // A stray '<' is text: the content is one text node, not a node per '<'.
  const stray = parseXml('<volume>a < b << c</volume>');
  assert.equal(stray.root!.children.length, 1);
  assert.equal(textContent(stray.root), 'a < b << c');
  assert.deepEqual(stray.errors.map((e) => e.message), Array(3).fill('StartTag: invalid element name'));
});

test('random DOCTYPE, entity and character fragments never throw and keep spans in range', () => {
  const parts = ['<!DOCTYPE v [', '<!ENTITY e "', '<!ENTITY % p "', "'", '"', '>', ']', ']>', '&e;', '&p;', '&#0;', '&#x41;',
    '&', ';', '<v a="', '<v>', '</v>', '<', '\0', '\x01', 'x', ' ', '\n', '<!--', '-->', 'SYSTEM "f"', '<![CDATA[', ']]>'];
  let seed = 42;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (let k = 0; k < 3000; k++) {
    let src = '';
    for (let j = rnd(40); j >= 0; j--) src += parts[rnd(parts.length)];
    const doc = parseXml(src);
    for (const e of doc.errors) assert.ok(e.start >= 0 && e.end <= src.length && e.start <= e.end, JSON.stringify(src));
  }
});

test('spans made from offsets: every way an attribute ends, element and end-tag names, content, shared empty arrays', () => {
  const src = `<a x="1" y='2' z w=v u="open\n<b></b><c/><d>t</d></a>`;
  const doc = parseXml(src);
  const a = doc.root!;
  const at = (s: { start: number; end: number }) => src.slice(s.start, s.end);
  const byName = (n: string) => a.attributes.find((x) => x.name === n)!;
  // Closed value: the span ends after the closing quote; the value span is inside the quotes.
  assert.deepEqual([at(byName('x').span), at(byName('x').valueSpan), at(byName('x').nameSpan)], ['x="1"', '1', 'x']);
  assert.deepEqual([at(byName('y').span), byName('y').quote, byName('y').closed], ["y='2'", "'", true]);
  // No '=': the span is the name, the value span empty right after it.
  assert.deepEqual([at(byName('z').span), byName('z').valueSpan, byName('z').value], ['z', { start: src.indexOf(' w'), end: src.indexOf(' w') }, undefined]);
  // No quote: the span is still the name, the value span empty where the quote should be.
  assert.deepEqual([at(byName('w').span), byName('w').valueSpan.start, byName('w').closed], ['w', src.indexOf('v u='), false]);
  // Unterminated: up to the end of the line, without a closing quote.
  assert.deepEqual([at(byName('u').span), at(byName('u').valueSpan), byName('u').closed], ['u="open', 'open', false]);
  // The same span object on every access of an element's name (textSpan's answer is compared with it).
  assert.equal(a.nameSpan, a.nameSpan);
  assert.deepEqual([a.closed, a.children.length], [false, 0]); // the '<' of <b> ends the unterminated tag
  const elements = `<a><b></b><c/><d>t</d></a>`;
  const root = parseXml(elements).root!;
  const at2 = (s: { start: number; end: number }) => elements.slice(s.start, s.end);
  const d = path(root, 'd')!;
  assert.deepEqual([at2(d.nameSpan), at2(d.endTagNameSpan!), at2(d.contentSpan), textContent(d), d.children[0].kind], ['d', 'd', 't', 't', 'text']);
  assert.deepEqual([at2(root.endTagNameSpan!), root.endTagNameSpan!.start, at2(root.contentSpan)], ['a', elements.lastIndexOf('a>'), '<b></b><c/><d>t</d>']);
  const c = path(root, 'c')!;
  assert.deepEqual([c.selfClosing, c.children.length, c.endTagNameSpan, at2(c.contentSpan), c.end], [true, 0, undefined, '', elements.indexOf('<d>')]);
  assert.deepEqual(path(root, 'b')!.children, []);
  // Elements never opened share their empty arrays, and they stay empty.
  assert.equal(parseXml('<r><p/><q/></r>').root!.children[0].kind, 'element');
  for (const e of parseXml('<r><p/><q/></r>').root!.children) if (e.kind === 'element') assert.deepEqual([e.children.length, e.attributes.length], [0, 0]);
  // Repeated names are one string; text with references keeps its decoded value and its raw text.
  const t = parseXml('<r><e k="1"/><e k="2"/>a &lt; b</r>').root!;
  const [e1, e2] = t.children.filter((n) => n.kind === 'element');
  assert.equal(e1.kind === 'element' && e2.kind === 'element' && e1.name === e2.name && e1.attributes[0].name === e2.attributes[0].name, true);
  const text = t.children.find((n) => n.kind === 'text')!;
  assert.deepEqual(text.kind === 'text' && [text.raw, text.value], ['a &lt; b', 'a < b']);
});
