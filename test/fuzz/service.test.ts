// Fuzzing the language service: random byte-level and structure-level mutations of every fixture
// (and of generated volume documents), plus every half-typed prefix, through doValidation,
// doComplete, doHover, doCodeActions, symbols, folding and definition. Asserts: nothing throws,
// no validator exception is logged, and every returned range lies inside the document.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Position, Range } from 'vscode-languageserver-types';
import { getLanguageService } from '../../server/src/service/languageService';
import { mutants, rng } from '../oracle/generator';

const FIXTURES = join(__dirname, '..', 'fixtures');
const corpus: string[] = [];
for (const kind of ['volume', 'domain', 'secret']) {
  for (const f of readdirSync(join(FIXTURES, kind)).filter((x) => x.endsWith('.xml')).sort()) corpus.push(readFileSync(join(FIXTURES, kind, f), 'utf8'));
}
corpus.push(...mutants(7, 40).map((m) => m.text));
// A bare <encryption> snippet and a bare <disk>: document kinds of their own.
corpus.push(`<encryption format='luks'>\n  <secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/>\n  <cipher name='aes' size='256' mode='xts' hash='sha256'/>\n  <ivgen name='plain64' hash='sha256'/>\n</encryption>\n`);
corpus.push(`<disk type='file' device='disk'>\n  <driver name='qemu' type='qcow2'/>\n  <source file='/var/lib/libvirt/images/a.qcow2'>\n    <encryption format='luks'>\n      <secret type='passphrase' usage='/var/lib/libvirt/images/a.qcow2'/>\n    </encryption>\n  </source>\n  <target dev='vda' bus='virtio'/>\n</disk>\n`);

const ALPHABET = `<>/='"&;!?-[] \n\t\r:xyzluksqcow2raw0123456789.#${'\u00e9\u0000\ud83d\ude00'}`;
const TOKENS = ['<', '>', '</', '/>', '<!--', '-->', '<![CDATA[', ']]>', '&amp;', '&#x41;', '&bogus;', "='", '="', '<?xml', '?>', '<encryption', '<secret', "format='luks'", "uuid='", '<cipher', '<ivgen', '<volume>', '</volume>', '<disk', '<source', '<backingStore>', '<features>', '<compat>1.1</compat>'];

/** One random mutation: byte-level or structure-level. */
function mutate(r: () => number, s: string): string {
  const at = () => Math.floor(r() * (s.length + 1));
  const rand = (n: number) => Array.from({ length: n }, () => ALPHABET[Math.floor(r() * ALPHABET.length)]).join('');
  switch (Math.floor(r() * 12)) {
    case 0: { const i = at(); return s.slice(0, i) + rand(1 + Math.floor(r() * 4)) + s.slice(i); }
    case 1: { const i = at(), j = Math.min(s.length, i + 1 + Math.floor(r() * 20)); return s.slice(0, i) + s.slice(j); }
    case 2: { const i = at(); return s.slice(0, i) + TOKENS[Math.floor(r() * TOKENS.length)] + s.slice(i); }
    case 3: { const i = at(), j = Math.min(s.length, i + Math.floor(r() * 80)); return s.slice(0, j) + s.slice(i, j) + s.slice(j); } // duplicate a range
    case 4: { // drop one tag (open or close)
      const tags = [...s.matchAll(/<\/?[A-Za-z_][^<>]*>/g)];
      if (!tags.length) return s;
      const m = tags[Math.floor(r() * tags.length)];
      return s.slice(0, m.index) + s.slice(m.index! + m[0].length);
    }
    case 5: { // swap two attribute values
      const vals = [...s.matchAll(/'[^'<>]*'|"[^"<>]*"/g)];
      if (vals.length < 2) return s;
      const a = vals[Math.floor(r() * vals.length)], b = vals[Math.floor(r() * vals.length)];
      if (a.index === b.index) return s;
      const [x, y] = a.index! < b.index! ? [a, b] : [b, a];
      return s.slice(0, x.index) + y[0] + s.slice(x.index! + x[0].length, y.index) + x[0] + s.slice(y.index! + y[0].length);
    }
    case 6: { const i = at(); return s.slice(0, i); } // half-typed
    case 7: return s.replace(/\n/g, '\r\n');
    case 8: { const i = at(); return s.slice(0, i) + '\u00e9\ud83d\ude00\u200b' + s.slice(i); }
    case 9: { const i = at(); const c = s.charCodeAt(i) ^ (1 << Math.floor(r() * 7)); return s.slice(0, i) + String.fromCharCode(c) + s.slice(i + 1); }
    case 10: { const i = at(), j = at(); const [a, b] = i < j ? [i, j] : [j, i]; return s.slice(a, b); } // a slice from the middle
    default: { // unclosed quote or comment somewhere
      const i = at(); return s.slice(0, i) + pick(r, ["'", '"', '<!--', '<![CDATA[', '<']) + s.slice(i);
    }
  }
}
const pick = <T>(r: () => number, xs: T[]): T => xs[Math.floor(r() * xs.length)];

function checkRange(doc: TextDocument, range: Range | undefined, what: string): void {
  if (!range) return;
  const ok = (p: Position) => Number.isInteger(p.line) && Number.isInteger(p.character) && p.line >= 0 && p.character >= 0 && p.line < doc.lineCount
    && doc.offsetAt(p) <= doc.getText().length && doc.positionAt(doc.offsetAt(p)).character === p.character;
  assert.ok(ok(range.start) && ok(range.end), `${what}: range ${JSON.stringify(range)} outside the document`);
  assert.ok(doc.offsetAt(range.start) <= doc.offsetAt(range.end), `${what}: range ${JSON.stringify(range)} ends before it starts`);
}

let version = 0;
function exercise(text: string, r: () => number, full: boolean): void {
  const logs: string[] = [];
  const ls = getLanguageService({
    log: (m) => logs.push(m),
    // Every path "exists" (issue 7 image checks and path hover run too): alternating formats,
    // LUKS headers with weak choices, short backing chains, some of them looping back.
    imageFacts: (p) => ({
      format: p.length % 3 === 0 ? 'luks' : p.length % 3 === 1 ? 'qcow2' : 'raw', virtualSize: p.length * 2 ** 30,
      encrypted: p.length % 2 === 0, backingFile: p.endsWith('xx') ? (p.length % 2 ? p.slice(0, -2) : undefined) : `${p}x`, backingFormat: p.length % 5 ? 'qcow2' : undefined,
      luks: { cipherAlg: 'cast5-128', cipherMode: 'ecb', ivgenAlg: 'plain', hashAlg: 'md5', slots: [{ active: true }] },
    }),
  });
  ls.configure({ libvirtVersion: pick(r, ['9.0.0', '4.0.0', '11.3.0', '']), poolType: pick(r, ['dir', 'logical', 'disk', 'rbd'] as const) });
  const doc = TextDocument.create(`file:///fuzz/${version % 7}.xml`, 'xml', ++version, text);
  const ctx = () => `on ${JSON.stringify(text.length > 400 ? text.slice(0, 400) + '…' : text)}`;
  try {
    const diags = ls.doValidation(doc);
    for (const d of diags) {
      checkRange(doc, d.range, `diagnostic ${d.code}`);
      assert.ok(typeof d.message === 'string' && d.message.length > 0 && !/\{\w+\}|undefined/.test(d.message), `diagnostic ${d.code} has a bad message: ${d.message}`);
    }
    if (!full) return;
    const positions: Position[] = [];
    for (let k = 0; k < 3; k++) positions.push(doc.positionAt(Math.floor(r() * (text.length + 1))));
    for (const p of positions) {
      const list = ls.doComplete(doc, p);
      for (const it of list.items) {
        const te = it.textEdit;
        if (te) checkRange(doc, 'range' in te ? te.range : te.insert, `completion ${it.label}`);
        for (const e of it.additionalTextEdits ?? []) checkRange(doc, e.range, `completion edit ${it.label}`);
      }
      const h = ls.doHover(doc, p);
      if (h) checkRange(doc, h.range, 'hover');
      ls.findDefinition(doc, p);
      ls.findReferences(doc, p);
    }
    const whole = { start: { line: 0, character: 0 }, end: doc.positionAt(text.length) };
    for (const a of ls.doCodeActions(doc, whole, { diagnostics: diags })) {
      for (const edits of Object.values(a.edit?.changes ?? {})) for (const e of edits) checkRange(doc, e.range, `code action ${a.title}`);
      for (const dc of a.edit?.documentChanges ?? []) if ('edits' in dc) for (const e of dc.edits) checkRange(doc, e.range, `code action ${a.title}`);
    }
    for (const s of ls.findDocumentSymbols(doc)) checkRange(doc, s.range, `symbol ${s.name}`);
    for (const f of ls.getFoldingRanges(doc)) assert.ok(f.startLine <= f.endLine && f.endLine < doc.lineCount, `folding ${JSON.stringify(f)}`);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n  ${ctx()}`, { cause: e });
  }
  assert.deepEqual(logs, [], `a validator threw ${ctx()}`);
}

test('every half-typed prefix of every fixture', (t) => {
  const r = rng(42);
  let n = 0;
  for (const text of corpus) {
    // Every prefix for small documents, every 2nd/5th offset for bigger ones (the cost is quadratic).
    const step = text.length > 1200 ? 5 : text.length > 500 ? 2 : 1;
    for (let i = 0; i <= text.length; i += step) { exercise(text.slice(0, i), r, i % 17 === 0); n++; }
  }
  t.diagnostic(`${n} prefixes of ${corpus.length} documents`);
  assert.ok(n > 50_000, `only ${n} prefixes`);
});

test('random mutations of the fixtures (byte and structure level)', (t) => {
  const r = rng(20261122);
  const t0 = Date.now();
  let n = 0;
  for (let iter = 0; iter < 6000 && Date.now() - t0 < 40_000; iter++) {
    let text = pick(r, corpus);
    const k = 1 + Math.floor(r() * 4);
    for (let j = 0; j < k; j++) text = mutate(r, text);
    exercise(text, r, true);
    n++;
  }
  t.diagnostic(`${n} mutated documents in ${Date.now() - t0} ms`);
  assert.ok(n >= 3000, `only ${n} iterations in the time budget`);
});

test('pure noise', () => {
  const r = rng(7);
  for (let iter = 0; iter < 1500; iter++) {
    const len = Math.floor(r() * 300);
    let s = '';
    for (let i = 0; i < len; i++) s += r() < 0.3 ? pick(r, TOKENS) : ALPHABET[Math.floor(r() * ALPHABET.length)];
    exercise(s, r, iter % 3 === 0);
  }
});
