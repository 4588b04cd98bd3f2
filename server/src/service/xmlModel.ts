// Tolerant XML model: a hand-written scanner that never throws, survives half-typed documents and
// keeps offsets for every element name, attribute name, attribute value and text node. Rules,
// completion and hover all work on this tree; well-formedness problems are collected in
// `errors` (libvirt's libxml2 refuses any of them, so each becomes an error diagnostic).

export interface Span {
  start: number;
  end: number;
}

export interface XmlAttribute {
  readonly name: string;
  readonly nameSpan: Span;
  /** Decoded value; undefined when the attribute has no `=value` yet (half-typed). */
  value: string | undefined;
  /** Span of the value *inside* the quotes (empty span right after `=` when missing). */
  readonly valueSpan: Span;
  /** Span of the whole `name="value"`. */
  readonly span: Span;
  readonly quote: '"' | "'" | '';
  /** True when the closing quote was found. */
  readonly closed: boolean;
}

export interface XmlText extends Span {
  kind: 'text';
  value: string;
  raw: string;
}

export interface XmlElement extends Span {
  kind: 'element';
  readonly name: string;
  readonly nameSpan: Span;
  readonly attributes: readonly XmlAttribute[];
  /** Elements without children (self-closing, unterminated, too deep, or empty) share one empty array. */
  readonly children: readonly XmlNode[];
  readonly parent: XmlElement | undefined;
  /** Offset just after `>` / `/>` of the start tag; equals `end` when the start tag is unterminated. */
  readonly startTagEnd: number;
  /** Offsets of the content between start and end tag (empty for self-closing). */
  readonly contentSpan: Span;
  /** Span of the end tag's name, when there is one. */
  readonly endTagNameSpan: Span | undefined;
  readonly selfClosing: boolean;
  /** False when the element was never closed (end of input or a mismatched end tag). */
  readonly closed: boolean;
}

export interface XmlComment extends Span {
  kind: 'comment';
}
export type XmlNode = XmlElement | XmlText | XmlComment;

export interface XmlSyntaxError extends Span {
  message: string;
}

export interface XmlDocument {
  text: string;
  /** The first top-level element. */
  root: XmlElement | undefined;
  /** Every top-level element (more than one is a well-formedness error). */
  topLevel: XmlElement[];
  errors: XmlSyntaxError[];
}

// Character classes as code-point tests: the scanner calls these once per character, and
// regular expressions on one-character strings dominated the parse time of large documents.
const isNameStartCode = (c: number) =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58 || (c >= 0xc0 && c <= 0xffff);
/** Name characters after the first (a name start character, a digit, '.', '-' or U+00B7; code units, as
 *  isNameStartCode tests them), from lastIndex on. */
const NAME_CHARS = /[A-Za-z0-9:_.\-\u00b7\u00c0-\uffff]*/y;
/** The offset after the name characters from `k`. One native match per name: most of a `check` over many
 *  small documents runs before V8 optimizes anything (cli/tiering.ts keeps its optimizing tier off there),
 *  where a JavaScript loop costs ~30 ns a character and the match ~60-90 ns a name; optimized, the two
 *  cost about the same (a 6-character name). */
function scanName(text: string, k: number): number {
  if (k >= text.length) return k;
  NAME_CHARS.lastIndex = k;
  NAME_CHARS.test(text);
  return NAME_CHARS.lastIndex;
}
/** The offset after the white space from `k` (space, tab, CR, LF). */
function skipWs(text: string, k: number, n: number): number {
  while (k < n) {
    const c = text.charCodeAt(k);
    if (c === 32 || c === 10 || c === 9 || c === 13) k++;
    else break;
  }
  return k;
}
const VALUE_STOP = /[<\n>]/g;
/** Characters outside XML 1.0's Char production (§2.2); one native scan of the whole text decides
 *  whether the per-value checks run at all. Control characters are the point of these patterns. */
// eslint-disable-next-line no-control-regex
const BAD_CHAR = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/;
// eslint-disable-next-line no-control-regex
const BAD_CHARS = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g;

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/**
 * Limits that keep any input bounded in time and memory. libxml2 stops at the first fatal error
 * (xmlParseDocument after xmlFatalErr); a tolerant model keeps going so that a half-typed document
 * still has a tree, but reports at most MAX_SYNTAX_ERRORS well-formedness errors per document and
 * then one summary error (a megabyte of stray `<` is one error each otherwise).
 */
export const MAX_SYNTAX_ERRORS = 100;
/** libxml2's xmlParserMaxDepth without XML_PARSE_HUGE (libvirt's virXMLParseHelper does not set it):
 *  an element nested deeper than this is refused with "Excessive depth in document". */
export const MAX_DEPTH = 256;
/** Characters that entity expansion may produce per document before it is judged an amplification
 *  attack (libxml2's xmlParserEntityCheck reports it as an entity reference loop). */
const ENTITY_BUDGET = 1 << 20;
/** Attributes on one element checked for duplicates by a linear scan; more use a Set. */
const LINEAR_DUPLICATE_CHECK = 8;

/** Parses any text into an XmlDocument. Never throws. */
// The scanner is module-level functions over the module's parse state (no closures made per parse): V8
// compiles each small function on its own and sooner, where one large function with its closures
// inlined was the largest optimizing-compile job of a `check` over many small documents (issue 15).
export function parseXml(text: string): XmlDocument {
  begin(text);
  const n = text.length;
  let i = 0;
  while (i < n) {
    const lt = text.indexOf('<', i);
    if (lt < 0) break;
    const c1 = text.charCodeAt(lt + 1);
    if (c1 === 47 || c1 === 33 || c1 === 63) {
      addText(textStart, lt);
      i = c1 === 47 ? endTag(lt) : markup(lt);
      textStart = i;
      continue;
    }
    if (!isNameStartCode(c1)) {
      // A stray '<': one error, and the '<' stays in the surrounding text node, so that a megabyte
      // of them is one text node and not a node each.
      err(lt, Math.min(n, lt + 1), 'StartTag: invalid element name');
      i = lt + 1;
      continue;
    }
    addText(textStart, lt);
    i = startTag(lt);
    textStart = i;
  }
  addText(textStart, n);
  return finish();
}

// What one parse keeps between the scanner's functions, as module-level variables: parseXml is not
// re-entrant (nothing it calls parses). While V8 runs the parser unoptimized (a `check` of many small
// documents: cli/tiering.ts), every property of a state object read or written is a call into V8's
// inline-cache code; a variable of the module is a slot read or written in place (issue 15).
let src = '';
let srcLength = 0;
let errors: XmlSyntaxError[] = [];
let topLevel: XmlElement[] = [];
/** The open elements, innermost last. */
const stack: Element[] = [];
// The children of the open elements, in one scratch array: an element's children are copied to
// an array of their own size when it closes (an array grown by push keeps room for 17 entries,
// which for a 1 MB domain's 8k parents was 0.8 MB more for the young-generation GC to copy).
// `bases` holds where each open element's children start; `kidTop` how many are in use.
const bases: number[] = [];
let kidTop = 0;
let dropped = 0;
let firstDropped = 0;
let badChars = false;
let hasAmp = false;
let tabOrCr = false;
/** Internal general entities of the DOCTYPE's internal subset (name → replacement text; undefined
 *  for an external entity, which libvirt's parser does not load: its references expand to
 *  nothing). Made when a document declares or references one. */
let entities: Map<string, string | undefined> | undefined;
let expanding: Set<string> | undefined;
let entityBudget = ENTITY_BUDGET;
let textStart = 0;
let tooDeep = false;
/** The first '<' at or after the last value searched from (-1: there is none). */
let ltFound = 0;

function begin(text: string): void {
  src = text;
  srcLength = text.length;
  errors = [];
  topLevel = [];
  stack.length = 0;
  bases.length = 0;
  kidTop = 0;
  dropped = 0;
  firstDropped = 0;
  // One native scan of the whole text decides whether the per-value checks run at all; a text
  // that is all printable ASCII and newlines (the usual document) needs none.
  badChars = BAD_CHAR.test(text);
  hasAmp = text.includes('&');
  tabOrCr = text.includes('\t') || text.includes('\r');
  entities = undefined;
  expanding = undefined;
  entityBudget = ENTITY_BUDGET;
  textStart = 0;
  tooDeep = false;
  ltFound = 0;
}

function err(start: number, end: number, message: string): void {
  if (errors.length < MAX_SYNTAX_ERRORS) errors.push({ start, end: Math.max(end, start), message });
  else if (dropped++ === 0) firstDropped = start;
}

function current(): Element | undefined {
  return stack[stack.length - 1];
}

function addChild(node: XmlNode): void {
  SCRATCH_CHILDREN[kidTop++] = node;
}

/** Takes the innermost open element off the stack, with its children. */
function pop(): Element {
  const el = stack.pop()!;
  const base = bases.pop()!;
  if (kidTop > base) {
    el.children = SCRATCH_CHILDREN.slice(base, kidTop);
    kidTop = base;
  }
  return el;
}

// Whether an element was closed follows from how (Element.closed): an end tag or `/>`.
function closeElement(el: Element, end: number): void {
  el.end = end;
  if (el.contentEnd < el.startTagEnd) el.contentEnd = el.startTagEnd;
}

/** Reports characters outside XML's Char production in a raw value, with libxml2's messages. */
function checkChars(raw: string, base: number, inAttr: boolean, at: Span | undefined): void {
  BAD_CHARS.lastIndex = 0;
  for (let m = BAD_CHARS.exec(raw); m; m = BAD_CHARS.exec(raw)) {
    const c = raw.charCodeAt(m.index);
    const start = at ? at.start : base + m.index;
    const message =
      c === 0
        ? 'Char 0x0 out of allowed range'
        : inAttr
          ? 'invalid character in attribute value'
          : `PCDATA invalid Char value ${c}`;
    err(start, at ? at.end : start + 1, message);
    if (errors.length >= MAX_SYNTAX_ERRORS) break;
  }
}

/**
 * Decodes character references, the predefined entities and the internal subset's entities
 * (their replacement text decoded in turn); reports malformed or undefined references. Errors
 * inside an entity's replacement text point at the reference in the document (`at`).
 */
function decode(raw: string, base: number, inAttr: boolean, at?: Span): string {
  if (badChars) checkChars(raw, base, inAttr, at);
  if (!raw.includes('&')) return raw;
  let out = '';
  let k = 0;
  while (k < raw.length) {
    const amp = raw.indexOf('&', k);
    if (amp < 0) {
      out += raw.slice(k);
      break;
    }
    out += raw.slice(k, amp);
    const semi = raw.indexOf(';', amp);
    const ref = semi > amp ? raw.slice(amp + 1, semi) : '';
    const span = at ?? { start: base + amp, end: base + (semi > amp && semi - amp < 12 ? semi + 1 : amp + 1) };
    if (!ref) {
      err(span.start, span.end, 'xmlParseEntityRef: no name');
      out += '&';
      k = amp + 1;
      continue;
    }
    k = semi + 1;
    if (ref.charCodeAt(0) === 35) {
      // '#'
      const hex = ref.charCodeAt(1) === 120;
      const digits = ref.slice(hex ? 2 : 1);
      if (!(hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits)) {
        err(span.start, span.end, `xmlParseCharRef: invalid ${hex ? 'hexadecimal' : 'decimal'} value`);
        continue;
      }
      const cp = parseInt(digits, hex ? 16 : 10);
      if (isXmlChar(cp)) out += String.fromCodePoint(cp);
      else err(span.start, span.end, `xmlParseCharRef: invalid xmlChar value ${cp > 0x10ffff ? 0 : cp}`);
      continue;
    }
    const predefined = PREDEFINED[ref];
    if (predefined !== undefined && Object.prototype.hasOwnProperty.call(PREDEFINED, ref)) {
      out += predefined;
      continue;
    }
    const known = entities;
    if (!known || !known.has(ref)) {
      err(span.start, span.end, `Entity '${ref}' not defined`);
      out += raw.slice(amp, k);
      continue;
    }
    const value = known.get(ref);
    if (value === undefined) continue;
    const busy = (expanding ??= new Set());
    if (busy.has(ref) || (entityBudget -= value.length) < 0) {
      err(span.start, span.end, 'Detected an entity reference loop');
      continue;
    }
    if (inAttr && value.includes('<')) {
      err(span.start, span.end, `'<' in entity '${ref}' is not allowed in attributes values`);
      continue;
    }
    // Markup in an entity used in content is kept as text: the model has no elements without
    // offsets of their own (libvirt's documents do not use such entities).
    busy.add(ref);
    out += decode(value, base, inAttr, span);
    busy.delete(ref);
  }
  return out;
}

function addText(start: number, end: number): void {
  if (end <= start) return;
  const text = src;
  if (stack.length) {
    // Without a reference or a bad character the value is the raw text, sliced when first read:
    // most text nodes are the indentation between elements and nobody reads them.
    if (!hasAmp && !badChars)
      SCRATCH_CHILDREN[kidTop++] = new Text(text, start, end); // addChild's work
    else {
      const raw = text.slice(start, end);
      addChild(new DecodedText(start, end, raw, decode(raw, start, false)));
    }
    return;
  }
  const raw = text.slice(start, end);
  if (raw.trim()) {
    const lead = start + (raw.length - raw.trimStart().length);
    const message = topLevel.length ? 'Extra content at the end of the document' : "Start tag expected, '<' not found";
    err(lead, end, message);
  }
}

/** Skips a quoted literal starting at `k` (a quote); returns the offset after it. */
function skipQuoted(k: number): number {
  const close = src.indexOf(src[k], k + 1);
  return close < 0 ? srcLength : close + 1;
}

/** `<!DOCTYPE …>` at `start`: records the internal subset's general entities; returns the offset after it. */
function doctype(start: number): number {
  const text = src,
    n = srcLength;
  let k = start + 9;
  while (k < n && text[k] !== '[' && text[k] !== '>') k = text[k] === '"' || text[k] === "'" ? skipQuoted(k) : k + 1;
  if (text[k] === '[') {
    k++;
    while (k < n && text[k] !== ']') {
      if (text.startsWith('<!--', k)) {
        const c = text.indexOf('-->', k + 4);
        k = c < 0 ? n : c + 3;
        continue;
      }
      if (text.startsWith('<?', k)) {
        const c = text.indexOf('?>', k + 2);
        k = c < 0 ? n : c + 2;
        continue;
      }
      if (text.startsWith('<!ENTITY', k)) {
        k = entityDecl(k + 8);
        continue;
      }
      if (text.startsWith('<!', k)) {
        k += 2;
        while (k < n && text[k] !== '>') k = text[k] === '"' || text[k] === "'" ? skipQuoted(k) : k + 1;
        k++;
        continue;
      }
      k++;
    }
    while (k < n && text[k] !== '>') k++;
  }
  if (k >= n) err(start, n, 'DOCTYPE improperly terminated');
  return Math.min(n, k + 1);
}

/** After `<!ENTITY`: one declaration; internal general entities are kept (the first wins, XML §4.2). */
function entityDecl(k: number): number {
  const text = src,
    n = srcLength;
  k = skipWs(text, k, n);
  const parameter = text[k] === '%';
  if (parameter) {
    k++;
    k = skipWs(text, k, n);
  }
  const nameStart = k;
  k = scanName(text, k);
  const name = text.slice(nameStart, k);
  k = skipWs(text, k, n);
  let value: string | undefined;
  if (text[k] === '"' || text[k] === "'") {
    const end = skipQuoted(k);
    value = text.slice(k + 1, end - 1);
    k = end;
  }
  while (k < n && text[k] !== '>') k = text[k] === '"' || text[k] === "'" ? skipQuoted(k) : k + 1;
  const declared = (entities ??= new Map());
  if (name && !parameter && !declared.has(name)) declared.set(name, value);
  return k + 1;
}

/** The name at start..end: one string per distinct name (a 1 MB document repeats a few names
 *  tens of thousands of times), from a small cache indexed by first, middle and last character and
 *  length (first character and length alone put driver/device and source/secret in one slot, and
 *  each evicted the other: 3,211 copies of each in a 1 MB domain). */
// The caches outlive a parse: the next version of a document reuses the same strings (fewer new
// ones to allocate), and only names up to 64 characters are kept, so what they hold stays small.
function nameAt(text: string, start: number, end: number): string {
  const len = end - start;
  if (len > LONG_NAME) return text.slice(start, end);
  const slot = slotOf(text, start, end);
  const cached = NAME_CACHE[slot];
  if (cached !== undefined && cached.length === len && text.startsWith(cached, start)) return cached;
  return (NAME_CACHE[slot] = internalized(text.slice(start, end)));
}

/** A short attribute value (copied by slice, not shared) as one string per distinct value: a 1 MB
 *  domain repeats 'file', 'qemu', 'qcow2', 'virtio' thousands of times, and every copy was kept
 *  alive in the model (and copied by the young-generation GC). Longer values are sliced strings
 *  that point into the text already. */
function valueAt(text: string, start: number, end: number): string {
  const len = end - start;
  if (len > SHORT_VALUE || len === 0) return text.slice(start, end);
  const slot = slotOf(text, start, end);
  const cached = VALUE_CACHE[slot];
  if (cached !== undefined && cached.length === len && text.startsWith(cached, start)) return cached;
  return (VALUE_CACHE[slot] = text.slice(start, end));
}

/** A start tag at `tagStart` (its name starts at the next character); returns the offset after it. */
function startTag(tagStart: number): number {
  const text = src,
    n = srcLength;
  let j = tagStart + 1;
  const nameStart = j;
  j++;
  j = scanName(text, j);
  const name = nameAt(text, nameStart, j);
  const nameEnd = j;
  const parent = stack.length ? stack[stack.length - 1] : undefined;
  // Past libxml2's depth limit nothing more is modelled (libxml2 stops there): a megabyte of
  // `<a>` must not become a million elements.
  const excessive = stack.length > MAX_DEPTH;
  if (excessive) {
    const message = `Excessive depth in document: ${MAX_DEPTH} use XML_PARSE_HUGE option`;
    if (!tooDeep) err(nameStart, nameEnd, message);
    tooDeep = true; // reported once
  } else if (!parent && topLevel.length) err(nameStart, nameEnd, 'Extra content at the end of the document');
  // Attributes, collected in a scratch array and copied once: an array grown by push keeps room
  // for 17 entries, which for 20k elements is megabytes more for the garbage collector to copy.
  const attrs = SCRATCH_ATTRIBUTES;
  let nAttrs = 0; // entries of `attrs` in use (setting an array's length is a runtime call)
  let terminated = false;
  let selfClosing = false;
  let startTagEnd = n;
  let seen: Set<string> | undefined;
  while (j < n) {
    const wsStart = j;
    j = skipWs(text, j, n);
    if (j >= n) break;
    const c = text.charCodeAt(j);
    if (c === 62) {
      startTagEnd = j + 1;
      j++;
      terminated = true;
      break;
    }
    if (c === 47 && text.charCodeAt(j + 1) === 62) {
      startTagEnd = j + 2;
      selfClosing = true;
      j += 2;
      terminated = true;
      break;
    }
    if (c === 60) {
      err(tagStart, j, `Couldn't find end of Start Tag ${name}`);
      break;
    }
    if (!isNameStartCode(c)) {
      err(j, j + 1, `attributes construct error`);
      j++;
      continue;
    }
    if (j === wsStart && nAttrs) err(j, j + 1, 'attributes construct error');
    const aStart = j;
    j = scanName(text, j);
    const aName = nameAt(text, aStart, j);
    const attr = new Attribute(aName, aStart, j);
    // Duplicates: a linear scan for the usual handful, a Set past that (50k attributes on one
    // element were quadratic).
    let duplicate = false;
    if (nAttrs < LINEAR_DUPLICATE_CHECK) {
      for (let a = 0; a < nAttrs; a++)
        if (attrs[a].name === aName) {
          duplicate = true;
          break;
        }
    } else {
      if (!seen) {
        seen = new Set();
        for (let a = 0; a < nAttrs; a++) seen.add(attrs[a].name);
      }
      duplicate = seen.has(aName);
      seen.add(aName);
    }
    if (duplicate) err(aStart, j, `Attribute ${aName} redefined`);
    attrs[nAttrs++] = attr;
    j = attributeValue(attr, aStart, j);
  }
  if (!terminated) {
    if (j >= n) err(tagStart, n, `Couldn't find end of Start Tag ${name}`);
    startTagEnd = j;
  }
  // Only an element that is opened gets children of its own (when it closes); self-closing,
  // unterminated and too deep ones keep the shared empty array.
  const el = new Element(name, parent, tagStart, startTagEnd, selfClosing);
  if (nAttrs) {
    el.attributes = attrs.slice(0, nAttrs);
    attrs.fill(undefined as unknown as Attribute, 0, nAttrs); // no stale references kept alive
  }
  if (!excessive) {
    if (parent)
      SCRATCH_CHILDREN[kidTop++] = el; // addChild's work, without the call
    else topLevel.push(el);
  }
  if (!terminated) {
    closeElement(el, j);
    return j;
  }
  // Self-closing, or deeper than libxml2 goes: the element is not opened, so the stack (and every
  // search of it) stays bounded.
  if (selfClosing || excessive) closeElement(el, startTagEnd);
  else {
    stack.push(el);
    bases.push(kidTop);
  }
  return j;
}

/** After attribute `attr`'s name (ending at `j`): `= "value"`; returns where the tag goes on. */
function attributeValue(attr: Attribute, aStart: number, j: number): number {
  const text = src,
    n = srcLength;
  // White space around '=' is rare: skipWs is called only when the next character is not what is expected
  // (a call costs more than the test while V8 has not optimized the parser; see scanName).
  let k = j;
  if (text.charCodeAt(k) !== 61) k = skipWs(text, k, n);
  if (text.charCodeAt(k) !== 61) {
    err(aStart, j, `Specification mandates value for attribute ${attr.name}`);
    return j;
  }
  k++;
  let qc = text.charCodeAt(k);
  if (qc !== 34 && qc !== 39) {
    k = skipWs(text, k, n);
    qc = text.charCodeAt(k);
  }
  if (qc !== 34 && qc !== 39) {
    err(aStart, k, 'AttValue: " or \' expected');
    attr.valueStart = attr.valueEnd = k;
    return k;
  }
  const vStart = k + 1;
  let vEnd = text.indexOf(qc === 34 ? '"' : "'", vStart);
  // An unterminated value (no closing quote, or one only found past a '<', which a value
  // cannot hold): stop at the end of the line or the next '<'/'>' so typing stays local.
  // The next '<' is searched once per tag, not once per value (offsets only grow: a '<' found
  // at or after an earlier value's start is the first one after this value's start too).
  if (vEnd >= 0 && ltFound >= 0 && ltFound < vStart) ltFound = text.indexOf('<', vStart);
  const lt = vEnd < 0 ? -1 : ltFound;
  if (vEnd < 0 || (lt >= 0 && lt < vEnd)) {
    VALUE_STOP.lastIndex = vStart; // no slice of the rest of the text: many open quotes stay linear
    const stop = VALUE_STOP.exec(text);
    vEnd = stop ? stop.index : n;
    err(aStart, vEnd, qc === 34 ? 'AttValue: " expected' : "AttValue: ' expected");
    attr.flags = qc === 34 ? DOUBLE_QUOTE : SINGLE_QUOTE;
    attr.valueStart = vStart;
    attr.valueEnd = vEnd;
    attr.value = decode(text.slice(vStart, vEnd), vStart, true);
    return vEnd;
  }
  const raw = valueAt(text, vStart, vEnd);
  attr.flags = (qc === 34 ? DOUBLE_QUOTE : SINGLE_QUOTE) | CLOSED;
  attr.valueStart = vStart;
  attr.valueEnd = vEnd;
  // Attribute-value normalisation (XML 1.0 §3.3.3): literal whitespace becomes a space. Without a
  // reference the value is the raw text, and a document without tabs or CRs needs only a newline
  // search (a regular expression per value was a tenth of a 1 MB domain's parse).
  if (!hasAmp && !badChars) {
    attr.value = raw.includes('\n') || (tabOrCr && /[\t\r]/.test(raw)) ? raw.replace(/[\t\r\n]/g, ' ') : raw;
  } else {
    const decoded = decode(raw, vStart, true);
    const blanks = decoded !== raw ? /[\t\r\n]/.test(decoded) : raw.includes('\n') || (tabOrCr && /[\t\r]/.test(raw));
    attr.value = blanks ? decoded.replace(/[\t\r\n]/g, ' ') : decoded;
  }
  return vEnd + 1;
}

/** One piece of markup at `i` (a '<' that is not stray); returns the offset after it. */
function markup(i: number): number {
  const text = src,
    n = srcLength;
  if (text.startsWith('<!--', i)) {
    const close = text.indexOf('-->', i + 4);
    const end = close < 0 ? n : close + 3;
    if (close < 0) err(i, n, 'Comment not terminated');
    if (stack.length) SCRATCH_CHILDREN[kidTop++] = new Comment(i, end); // addChild's work
    return end;
  }
  if (text.startsWith('<![CDATA[', i)) {
    const close = text.indexOf(']]>', i + 9);
    const end = close < 0 ? n : close + 3;
    if (close < 0) err(i, n, 'CData section not finished');
    if (stack.length) {
      const raw = text.slice(i + 9, close < 0 ? n : close);
      if (badChars) checkChars(raw, i + 9, false, undefined);
      addChild({ kind: 'text', start: i, end, raw, value: raw });
    } else err(i, end, "Start tag expected, '<' not found");
    return end;
  }
  if (text.startsWith('<?', i)) {
    const close = text.indexOf('?>', i + 2);
    const end = close < 0 ? n : close + 2;
    if (close < 0) err(i, n, 'ParsePI: PI xml space expected');
    return end;
  }
  if (text.startsWith('<!DOCTYPE', i)) return doctype(i);
  // Another declaration: skip to the matching '>'.
  let depth = 0,
    j = i + 2;
  for (; j < n; j++) {
    if (text[j] === '[') depth++;
    else if (text[j] === ']') depth--;
    else if (text[j] === '>' && depth <= 0) break;
  }
  return Math.min(n, j + 1);
}

function endTag(i: number): number {
  const text = src,
    n = srcLength;
  let j = i + 2;
  const nameStart = j;
  j = scanName(text, j);
  // The cached string: no copy per end tag, and the search of the open elements compares it
  // with their names by pointer.
  const name = j > nameStart ? nameAt(text, nameStart, j) : '';
  j = skipWs(text, j, n);
  let end = j;
  if (text.charCodeAt(j) === 62) end = j + 1;
  else err(i, j, `expected '>'`);
  const idx = findOpen(stack, name);
  if (idx < 0) {
    const open = current();
    err(i, end, open ? `Opening and ending tag mismatch: ${open.name} and ${name}` : 'StartTag: invalid element name');
  } else {
    // Elements above the match were never closed.
    while (stack.length - 1 > idx) {
      const open = pop();
      err(
        open.start + 1,
        open.start + 1 + open.name.length,
        `Opening and ending tag mismatch: ${open.name} and ${name}`,
      );
      closeElement(open, i);
    }
    const el = pop();
    el.contentEnd = i;
    el.endNameStart = nameStart;
    closeElement(el, end);
  }
  return end;
}

/** Closes what is still open at the end of input and makes the document. */
function finish(): XmlDocument {
  const text = src,
    n = srcLength;
  while (stack.length) {
    const open = pop();
    err(open.start + 1, open.start + 1 + open.name.length, `Premature end of data in tag ${open.name}`);
    open.contentEnd = n;
    closeElement(open, n);
  }
  // No references into this document kept after it. The scratch array keeps its room for the next
  // parse (emptied, it grew again by copies to 17, 42, 80, 137… entries for every document) unless
  // a large document made it large.
  const kids = SCRATCH_CHILDREN;
  if (kids.length > KEEP_SCRATCH_CHILDREN) kids.length = 0;
  else kids.fill(undefined as unknown as XmlNode);
  if (!topLevel.length) err(0, Math.min(n, 1), text.trim() ? "Start tag expected, '<' not found" : 'Document is empty');
  if (dropped) {
    const more = `${dropped} more well-formedness error${dropped === 1 ? '' : 's'}`;
    const message = `${more} not reported (the first ${MAX_SYNTAX_ERRORS} are)`;
    errors.push({ start: firstDropped, end: firstDropped, message });
  }
  const doc = { text, root: topLevel[0], topLevel, errors };
  // The module keeps nothing of this document (its text, tree and entities) once it is returned.
  src = '';
  topLevel = NO_TOP_LEVEL;
  errors = NO_ERRORS;
  entities = undefined;
  expanding = undefined;
  return doc;
}

/** parseXml is not re-entrant (nothing it calls parses), so one scratch array serves every start tag. */
const SCRATCH_ATTRIBUTES: Attribute[] = [];
const SCRATCH_CHILDREN: XmlNode[] = [];
const KEEP_SCRATCH_CHILDREN = 4096;
/** What the state holds between parses (begin() makes new arrays for each parse). */
const NO_TOP_LEVEL: XmlElement[] = [];
const NO_ERRORS: XmlSyntaxError[] = [];

/** A cache slot for text[start..end) (end > start): first, middle and last character and length,
 *  mixed by a multiplicative hash (Knuth's 2^32/φ) whose top 10 bits pick one of 1024 slots. */
const slotOf = (text: string, start: number, end: number): number =>
  Math.imul(
    (text.charCodeAt(start) << 16) ^
      (text.charCodeAt((start + end) >> 1) << 8) ^
      text.charCodeAt(end - 1) ^
      ((end - start) << 24),
    0x9e3779b1,
  ) >>> 22;
/** The same string as V8's internalized copy (the one a property key gets): the rules compare
 *  names with literals thousands of times per document, and two internalized strings compare by
 *  pointer where a copy is compared character by character. Only for names the cache keeps. */
const internalized = (s: string): string => Object.keys({ [s]: 0 })[0];
const NAME_CACHE_SIZE = 1024;
const LONG_NAME = 64;
const NAME_CACHE: (string | undefined)[] = new Array<string | undefined>(NAME_CACHE_SIZE).fill(undefined);
/** V8 copies a slice shorter than 13 characters (SlicedString::kMinLength); longer ones share the text. */
const SHORT_VALUE = 12;
const VALUE_CACHE_SIZE = 1024;
const VALUE_CACHE: (string | undefined)[] = new Array<string | undefined>(VALUE_CACHE_SIZE).fill(undefined);
/** The children of elements that are never opened and the attributes of elements without any. */
// Not frozen (a frozen array's elements kind made every walk over children polymorphic, 2-3x
// slower) and of the general elements kind, as the arrays that get entries; readonly in the types.
const NO_NODES: XmlNode[] = [undefined as unknown as XmlNode];
NO_NODES.pop();
const NO_ATTRIBUTES: XmlAttribute[] = [undefined as unknown as XmlAttribute];
NO_ATTRIBUTES.pop();

// The model keeps offsets as numbers and makes each Span object on its first use: a 1 MB document
// has tens of thousands of elements and attributes, and the span objects made for each of them
// (three per element, three per attribute) were most of the model's memory (peak RSS of `check` on
// a 1 MB volume, bench/xmllint.bench.ts). A span once made is kept: it is the same object on every
// access (hover.ts and quickFixes.ts compare textSpan's answer with nameSpan).
// Fields are `declare`d and assigned in the constructors: class field definitions (ES2022 semantics)
// made each node measurably slower to build than plain assignments.
/** Attribute.flags: the quote character and whether the closing quote was found. */
const DOUBLE_QUOTE = 1,
  SINGLE_QUOTE = 2,
  CLOSED = 4;
// An attribute keeps five fields and one of flags (nameEnd is nameStart plus the name's length; the
// quote and `closed` are bits): 35k attributes of a 1 MB domain are the model's largest share.
class Attribute implements XmlAttribute {
  declare readonly name: string;
  declare readonly nameStart: number;
  declare value: string | undefined;
  declare flags: number;
  declare valueStart: number;
  declare valueEnd: number;
  constructor(name: string, nameStart: number, nameEnd: number) {
    this.name = name;
    this.nameStart = nameStart;
    this.value = undefined;
    this.flags = 0;
    this.valueStart = nameEnd;
    this.valueEnd = nameEnd;
  }
  get nameEnd(): number {
    return this.nameStart + this.name.length;
  }
  get quote(): '"' | "'" | '' {
    const f = this.flags;
    return f & DOUBLE_QUOTE ? '"' : f & SINGLE_QUOTE ? "'" : '';
  }
  get closed(): boolean {
    return (this.flags & CLOSED) !== 0;
  }
  get nameSpan(): Span {
    return { start: this.nameStart, end: this.nameEnd };
  }
  get valueSpan(): Span {
    return { start: this.valueStart, end: this.valueEnd };
  }
  /** Up to the closing quote; the value's end when it is unterminated, the name's without a quote. */
  get span(): Span {
    return { start: this.nameStart, end: this.closed ? this.valueEnd + 1 : this.quote ? this.valueEnd : this.nameEnd };
  }
}

class Element implements XmlElement {
  declare readonly kind: 'element';
  declare readonly start: number;
  declare end: number;
  declare readonly name: string;
  declare attributes: XmlAttribute[];
  declare children: XmlNode[];
  declare readonly parent: Element | undefined;
  declare readonly startTagEnd: number;
  declare contentEnd: number;
  /** Where the end tag's name starts (it is this element's name); -1 without an end tag, -2 when
   *  self-closing (one field for both: fewer fields per node is less for the GC to copy). */
  declare endNameStart: number;
  /** nameSpan, made once: textSpan answers it for an element without text and callers compare. */
  declare private ns: Span | undefined;
  constructor(name: string, parent: Element | undefined, start: number, startTagEnd: number, selfClosing: boolean) {
    this.start = start;
    this.end = startTagEnd;
    this.name = name;
    this.attributes = NO_ATTRIBUTES;
    // Its own array once it closes with children (parseXml's pop); until then, and for ever when it
    // has none, the shared empty one.
    this.children = NO_NODES;
    this.parent = parent;
    this.startTagEnd = startTagEnd;
    this.contentEnd = startTagEnd;
    this.endNameStart = selfClosing ? SELF_CLOSING : NO_END_TAG;
    this.ns = undefined;
  }
  get selfClosing(): boolean {
    return this.endNameStart === SELF_CLOSING;
  }
  /** Closed by its end tag or by `/>`: never by the end of input, a mismatched end tag, or when
   *  the start tag is unterminated or too deep (no field of its own: one less per node). */
  get closed(): boolean {
    return this.endNameStart !== NO_END_TAG;
  }
  get nameSpan(): Span {
    return (this.ns ??= { start: this.start + 1, end: this.start + 1 + this.name.length });
  }
  get contentSpan(): Span {
    return { start: this.startTagEnd, end: this.contentEnd };
  }
  get endTagNameSpan(): Span | undefined {
    const s = this.endNameStart;
    return s < 0 ? undefined : { start: s, end: s + this.name.length };
  }
}

const SELF_CLOSING = -2;
const NO_END_TAG = -1;
// `kind` lives on the prototypes: the same for every node of a class, so not a field per node.
Object.defineProperty(Element.prototype, 'kind', { value: 'element', enumerable: true });

/** Text whose value is its raw text, sliced from the document when read: most text nodes are the
 *  indentation between elements, which nobody reads, and three fields per node are less for the
 *  young-generation GC to copy (a 1 MB domain has 26k of them). */
class Text implements XmlText {
  declare readonly kind: 'text';
  declare readonly start: number;
  declare readonly end: number;
  declare private readonly src: string;
  constructor(src: string, start: number, end: number) {
    this.start = start;
    this.end = end;
    this.src = src;
  }
  get raw(): string {
    return this.src.slice(this.start, this.end);
  }
  get value(): string {
    return this.src.slice(this.start, this.end);
  }
}

/** Text with references or characters XML refuses (documents with an `&` or a bad character). */
class DecodedText implements XmlText {
  declare readonly kind: 'text';
  declare readonly start: number;
  declare readonly end: number;
  declare readonly raw: string;
  declare readonly value: string;
  constructor(start: number, end: number, raw: string, value: string) {
    this.start = start;
    this.end = end;
    this.raw = raw;
    this.value = value;
  }
}

/** A comment: two fields, `kind` on the prototype (one object literal per comment was three stores). */
class Comment implements XmlComment {
  declare readonly kind: 'comment';
  declare readonly start: number;
  declare readonly end: number;
  constructor(start: number, end: number) {
    this.start = start;
    this.end = end;
  }
}

Object.defineProperty(Comment.prototype, 'kind', { value: 'comment', enumerable: true });
Object.defineProperty(Text.prototype, 'kind', { value: 'text', enumerable: true });
Object.defineProperty(DecodedText.prototype, 'kind', { value: 'text', enumerable: true });

// (Each element growing its own children array by push, then copying it to its exact size, made
// the parse slower; one scratch array copied once per parent, parseXml's pop, does not.)

/** XML 1.0 Char (§2.2): what a character reference may name. */
function isXmlChar(c: number): boolean {
  return (
    c === 0x9 ||
    c === 0xa ||
    c === 0xd ||
    (c >= 0x20 && c <= 0xd7ff) ||
    (c >= 0xe000 && c <= 0xfffd) ||
    (c >= 0x10000 && c <= 0x10ffff)
  );
}

function findOpen(stack: Element[], name: string): number {
  for (let k = stack.length - 1; k >= 0; k--) if (stack[k].name === name) return k;
  return -1;
}

// ---- Navigation helpers (all total functions) ----

// The helpers below run for every disk of a large domain, several times each: indexed loops and
// no callbacks (a closure per `find`, an iterator per `for…of` that V8 did not always remove).
export function childElements(el: XmlElement | undefined, name?: string): XmlElement[] {
  const out: XmlElement[] = [];
  if (!el) return out;
  const children = el.children;
  for (let i = 0; i < children.length; i++) {
    const c = children[i];
    if (c.kind === 'element' && (name === undefined || c.name === name)) out.push(c);
  }
  return out;
}

export function firstChild(el: XmlElement | undefined, name: string): XmlElement | undefined {
  if (!el) return undefined;
  const children = el.children;
  for (let i = 0; i < children.length; i++) {
    const c = children[i];
    if (c.kind === 'element' && c.name === name) return c;
  }
  return undefined;
}

/** Follows a path of element names, taking the first match at each step (libvirt's virXPathNode). */
export function path(el: XmlElement | undefined, ...names: string[]): XmlElement | undefined {
  let cur = el;
  for (const nm of names) cur = firstChild(cur, nm);
  return cur;
}

export function attr(el: XmlElement | undefined, name: string): XmlAttribute | undefined {
  if (!el) return undefined;
  const attributes = el.attributes;
  for (let i = 0; i < attributes.length; i++) if (attributes[i].name === name) return attributes[i];
  return undefined;
}

/** The attribute's value, or undefined when absent. */
export function attrValue(el: XmlElement | undefined, name: string): string | undefined {
  return attr(el, name)?.value;
}

/** Concatenated text content of an element and its descendants (XPath string()). */
export function textContent(el: XmlElement | undefined): string {
  if (!el) return '';
  let s = '';
  const children = el.children;
  for (let i = 0; i < children.length; i++) {
    const c = children[i];
    if (c.kind === 'text') s += c.value;
    else if (c.kind === 'element') s += textContent(c);
  }
  return s;
}

/** Span of the element's text content, or of its name when it has none (for diagnostics). */
// Rules ask it for most elements they report on or read: the first and the last text child that is
// not blank are found from either end, with no arrays of the children built and thrown away.
export function textSpan(el: XmlElement): Span {
  const children = el.children;
  let first = -1,
    lead = 0;
  for (let i = 0; i < children.length; i++) {
    const c = children[i];
    if (c.kind !== 'text') continue;
    const raw = c.raw;
    const rest = raw.trimStart().length;
    if (rest) {
      first = i;
      lead = raw.length - rest;
      break;
    }
  }
  if (first < 0) return el.nameSpan;
  for (let i = children.length - 1; i >= first; i--) {
    const c = children[i];
    if (c.kind !== 'text') continue;
    const raw = c.raw;
    const kept = raw.trimEnd().length;
    if (kept) return { start: children[first].start + lead, end: c.end - (raw.length - kept) };
  }
  return el.nameSpan; // not reached: the first text that is not blank is found from this end too
}

/** Element path from the root, e.g. ['volume', 'target', 'encryption']. */
export function elementPath(el: XmlElement): string[] {
  const out: string[] = [];
  for (let cur: XmlElement | undefined = el; cur; cur = cur.parent) out.unshift(cur.name);
  return out;
}

/** Every element in document order. */
export function* walkElements(el: XmlElement | undefined): Generator<XmlElement> {
  // An explicit stack instead of nested `yield*`: each level of delegation costs a generator
  // resume per element, which showed in the 1 MB benchmark (bench/validation.bench.ts).
  if (!el) return;
  const stack: XmlElement[] = [el];
  while (stack.length) {
    const e = stack.pop()!;
    yield e;
    for (let i = e.children.length - 1; i >= 0; i--) {
      const c = e.children[i];
      if (c.kind === 'element') stack.push(c);
    }
  }
}

/** The innermost element whose span contains the offset (start tag inclusive, end exclusive). */
export function elementAt(doc: XmlDocument, offset: number): XmlElement | undefined {
  let found: XmlElement | undefined;
  const visit = (el: XmlElement) => {
    if (offset < el.start || offset > el.end || (offset === el.end && el.closed)) return;
    found = el;
    for (const c of el.children) if (c.kind === 'element') visit(c);
  };
  for (const t of doc.topLevel) visit(t);
  return found;
}

/** Line/character <-> offset conversion for a text (LSP positions are UTF-16, like JS strings). */
export class LineIndex {
  // Line starts are found on first use and only as far as asked: a document without diagnostics never
  // needs them, one with a hint on its first line needs one line (400 files through `check`); the scan
  // uses indexOf, not a JavaScript loop over every character.
  private readonly lineStarts: number[] = [0];
  /** Every line break before this offset is in lineStarts. */
  private scanned = 0;
  private readonly crFree: boolean;
  constructor(readonly text: string) {
    this.crFree = !text.includes('\r');
  }
  /** Finds the line starts up to `limit` (a start at `limit` included). */
  private scanTo(limit: number): number[] {
    const text = this.text,
      starts = this.lineStarts;
    if (limit > text.length) limit = text.length;
    if (limit <= this.scanned) return starts;
    if (this.crFree) {
      for (let k = text.indexOf('\n', this.scanned); k >= 0 && k < limit; k = text.indexOf('\n', k + 1))
        starts.push(k + 1);
    } else {
      for (let i = this.scanned; i < limit; i++) {
        const c = text.charCodeAt(i);
        if (c === 10) starts.push(i + 1);
        else if (c === 13 && text.charCodeAt(i + 1) !== 10) starts.push(i + 1);
      }
    }
    this.scanned = limit;
    return starts;
  }
  private get starts(): number[] {
    return this.scanTo(this.text.length);
  }
  positionAt(offset: number): { line: number; character: number } {
    offset = Math.max(0, Math.min(offset, this.text.length));
    // An offset between the \r and the \n of a CRLF is not an LSP position: use the line end.
    if (offset > 0 && this.text.charCodeAt(offset) === 10 && this.text.charCodeAt(offset - 1) === 13) offset--;
    const starts = this.scanTo(offset);
    let lo = 0,
      hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: offset - starts[lo] };
  }
  offsetAt(pos: { line: number; character: number }): number {
    const starts = this.starts;
    if (pos.line < 0) return 0;
    if (pos.line >= starts.length) return this.text.length;
    const lineEnd = pos.line + 1 < starts.length ? starts[pos.line + 1] : this.text.length;
    return Math.max(starts[pos.line], Math.min(starts[pos.line] + pos.character, lineEnd));
  }
}
