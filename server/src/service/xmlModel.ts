// Tolerant XML model: a hand-written scanner that never throws, survives half-typed documents and
// keeps offsets for every element name, attribute name, attribute value and text node. Rules,
// completion and hover all work on this tree; well-formedness problems are collected in
// `errors` (libvirt's libxml2 refuses any of them, so each becomes an error diagnostic).

export interface Span { start: number; end: number }

export interface XmlAttribute {
  name: string;
  nameSpan: Span;
  /** Decoded value; undefined when the attribute has no `=value` yet (half-typed). */
  value: string | undefined;
  /** Span of the value *inside* the quotes (empty span right after `=` when missing). */
  valueSpan: Span;
  /** Span of the whole `name="value"`. */
  span: Span;
  quote: '"' | "'" | '';
  /** True when the closing quote was found. */
  closed: boolean;
}

export interface XmlText extends Span { kind: 'text'; value: string; raw: string }

export interface XmlElement extends Span {
  kind: 'element';
  name: string;
  nameSpan: Span;
  attributes: XmlAttribute[];
  children: XmlNode[];
  parent: XmlElement | undefined;
  /** Offset just after `>` / `/>` of the start tag; equals `end` when the start tag is unterminated. */
  startTagEnd: number;
  /** Offsets of the content between start and end tag (empty for self-closing). */
  contentSpan: Span;
  /** Span of the end tag's name, when there is one. */
  endTagNameSpan: Span | undefined;
  selfClosing: boolean;
  /** False when the element was never closed (end of input or a mismatched end tag). */
  closed: boolean;
}

export interface XmlComment extends Span { kind: 'comment' }
export type XmlNode = XmlElement | XmlText | XmlComment;

export interface XmlSyntaxError extends Span { message: string }

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
const isNameStartCode = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58 || (c >= 0xc0 && c <= 0xffff);
const isNameCode = (c: number) => isNameStartCode(c) || (c >= 48 && c <= 57) || c === 46 || c === 45 || c === 0xb7;
const isWsCode = (c: number) => c === 32 || c === 9 || c === 13 || c === 10;
const VALUE_STOP = /[<\n>]/g;

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Decodes XML character and predefined entity references; reports malformed ones. */
function decode(raw: string, base: number, errors: XmlSyntaxError[]): string {
  if (!raw.includes('&')) return raw;
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const amp = raw.indexOf('&', i);
    if (amp < 0) { out += raw.slice(i); break; }
    out += raw.slice(i, amp);
    const semi = raw.indexOf(';', amp);
    const ref = semi > amp ? raw.slice(amp + 1, semi) : '';
    let decoded: string | undefined;
    if (/^#[0-9]+$/.test(ref)) decoded = safeCodePoint(parseInt(ref.slice(1), 10));
    else if (/^#x[0-9a-fA-F]+$/.test(ref)) decoded = safeCodePoint(parseInt(ref.slice(2), 16));
    else if (ref in ENTITIES) decoded = ENTITIES[ref];
    if (decoded === undefined) {
      errors.push({ start: base + amp, end: base + (semi > amp && semi - amp < 12 ? semi + 1 : amp + 1), message: semi > amp ? `Entity '${ref}' not defined` : "xmlParseEntityRef: no name" });
      out += '&';
      i = amp + 1;
    } else {
      out += decoded;
      i = semi + 1;
    }
  }
  return out;
}

function safeCodePoint(n: number): string | undefined {
  if (!Number.isFinite(n) || n <= 0 || n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return undefined;
  return String.fromCodePoint(n);
}

/** Parses any text into an XmlDocument. Never throws. */
export function parseXml(text: string): XmlDocument {
  const errors: XmlSyntaxError[] = [];
  const topLevel: XmlElement[] = [];
  const stack: XmlElement[] = [];
  const n = text.length;
  let i = 0;

  const err = (start: number, end: number, message: string) => errors.push({ start, end: Math.max(end, start), message });
  const current = () => stack[stack.length - 1];

  const addText = (start: number, end: number) => {
    if (end <= start) return;
    const raw = text.slice(start, end);
    const parent = current();
    if (!parent) {
      if (raw.trim()) err(start + (raw.length - raw.trimStart().length), end, topLevel.length ? 'Extra content at the end of the document' : "Start tag expected, '<' not found");
      return;
    }
    parent.children.push({ kind: 'text', start, end, raw, value: decode(raw, start, errors) });
  };

  const closeElement = (el: XmlElement, end: number, closed: boolean) => {
    el.end = end;
    el.closed = closed;
    if (el.contentSpan.end < el.contentSpan.start) el.contentSpan.end = el.contentSpan.start;
  };

  while (i < n) {
    const lt = text.indexOf('<', i);
    if (lt < 0) { addText(i, n); break; }
    addText(i, lt);
    i = lt;
    if (text.startsWith('<!--', i)) {
      const close = text.indexOf('-->', i + 4);
      const end = close < 0 ? n : close + 3;
      if (close < 0) err(i, n, 'Comment not terminated');
      current()?.children.push({ kind: 'comment', start: i, end });
      i = end;
      continue;
    }
    if (text.startsWith('<![CDATA[', i)) {
      const close = text.indexOf(']]>', i + 9);
      const end = close < 0 ? n : close + 3;
      if (close < 0) err(i, n, 'CData section not finished');
      const parent = current();
      if (parent) {
        const raw = text.slice(i + 9, close < 0 ? n : close);
        parent.children.push({ kind: 'text', start: i, end, raw, value: raw });
      } else err(i, end, "Start tag expected, '<' not found");
      i = end;
      continue;
    }
    if (text.startsWith('<?', i)) {
      const close = text.indexOf('?>', i + 2);
      const end = close < 0 ? n : close + 2;
      if (close < 0) err(i, n, 'ParsePI: PI xml space expected');
      i = end;
      continue;
    }
    if (text.startsWith('<!', i)) {
      // DOCTYPE or other declaration: skip to the matching '>' (internal subsets are rare here).
      let depth = 0, j = i + 2;
      for (; j < n; j++) {
        if (text[j] === '[') depth++;
        else if (text[j] === ']') depth--;
        else if (text[j] === '>' && depth <= 0) break;
      }
      i = Math.min(n, j + 1);
      continue;
    }
    if (text[i + 1] === '/') {
      // End tag.
      let j = i + 2;
      const nameStart = j;
      while (j < n && isNameCode(text.charCodeAt(j))) j++;
      const name = text.slice(nameStart, j);
      const nameSpan = { start: nameStart, end: j };
      while (j < n && isWsCode(text.charCodeAt(j))) j++;
      let end = j;
      if (text[j] === '>') end = j + 1;
      else err(i, j, `expected '>'`);
      const idx = findOpen(stack, name);
      if (idx < 0) {
        err(i, end, stack.length ? `Opening and ending tag mismatch: ${current()!.name} and ${name}` : `StartTag: invalid element name`);
      } else {
        // Elements above the match were never closed.
        while (stack.length - 1 > idx) {
          const open = stack.pop()!;
          err(open.nameSpan.start, open.nameSpan.end, `Opening and ending tag mismatch: ${open.name} and ${name}`);
          closeElement(open, i, false);
        }
        const el = stack.pop()!;
        el.contentSpan.end = i;
        el.endTagNameSpan = nameSpan;
        closeElement(el, end, true);
      }
      i = end;
      continue;
    }
    // Start tag.
    const tagStart = i;
    let j = i + 1;
    const nameStart = j;
    if (j < n && isNameStartCode(text.charCodeAt(j))) {
      j++;
      while (j < n && isNameCode(text.charCodeAt(j))) j++;
    }
    const name = text.slice(nameStart, j);
    if (!name) {
      err(tagStart, Math.min(n, tagStart + 1), 'StartTag: invalid element name');
      // Treat the '<' as text so that the rest of the document still parses.
      addText(tagStart, tagStart + 1);
      i = tagStart + 1;
      continue;
    }
    const el: XmlElement = {
      kind: 'element', name, nameSpan: { start: nameStart, end: j }, attributes: [], children: [],
      parent: current(), start: tagStart, end: n, startTagEnd: n, contentSpan: { start: n, end: n },
      endTagNameSpan: undefined, selfClosing: false, closed: false,
    };
    if (el.parent) el.parent.children.push(el);
    else {
      if (topLevel.length) err(el.nameSpan.start, el.nameSpan.end, 'Extra content at the end of the document');
      topLevel.push(el);
    }
    // Attributes.
    let terminated = false;
    while (j < n) {
      const wsStart = j;
      while (j < n && isWsCode(text.charCodeAt(j))) j++;
      if (j >= n) break;
      const c = text[j];
      if (c === '>') { el.startTagEnd = j + 1; j++; terminated = true; break; }
      if (c === '/' && text[j + 1] === '>') { el.startTagEnd = j + 2; el.selfClosing = true; j += 2; terminated = true; break; }
      if (c === '<') { err(tagStart, j, `Couldn't find end of Start Tag ${name}`); break; }
      if (!isNameStartCode(c.charCodeAt(0))) {
        err(j, j + 1, `attributes construct error`);
        j++;
        continue;
      }
      if (j === wsStart && el.attributes.length) err(j, j + 1, 'attributes construct error');
      const aStart = j;
      while (j < n && isNameCode(text.charCodeAt(j))) j++;
      const aName = text.slice(aStart, j);
      const attr: XmlAttribute = {
        name: aName, nameSpan: { start: aStart, end: j }, value: undefined,
        valueSpan: { start: j, end: j }, span: { start: aStart, end: j }, quote: '', closed: false,
      };
      if (el.attributes.some((a) => a.name === aName)) err(aStart, j, `Attribute ${aName} redefined`);
      el.attributes.push(attr);
      let k = j;
      while (k < n && isWsCode(text.charCodeAt(k))) k++;
      if (text[k] !== '=') {
        err(aStart, j, `Specification mandates value for attribute ${aName}`);
        continue;
      }
      k++;
      while (k < n && isWsCode(text.charCodeAt(k))) k++;
      const q = text[k];
      if (q !== '"' && q !== "'") {
        err(aStart, k, 'AttValue: " or \' expected');
        attr.valueSpan.start = attr.valueSpan.end = k;
        j = k;
        continue;
      }
      const vStart = k + 1;
      let vEnd = text.indexOf(q, vStart);
      // An unterminated value (no closing quote, or one only found past a '<', which a value
      // cannot hold): stop at the end of the line or the next '<'/'>' so typing stays local.
      const lt = vEnd < 0 ? -1 : text.indexOf('<', vStart);
      if (vEnd < 0 || (lt >= 0 && lt < vEnd)) {
        VALUE_STOP.lastIndex = vStart; // no slice of the rest of the text: many open quotes stay linear
        const stop = VALUE_STOP.exec(text);
        vEnd = stop ? stop.index : n;
        err(aStart, vEnd, 'AttValue: \' expected'.replace("'", q));
        attr.quote = q;
        attr.valueSpan.start = vStart; attr.valueSpan.end = vEnd;
        attr.value = decode(text.slice(vStart, vEnd), vStart, errors);
        attr.span.end = vEnd;
        j = vEnd;
        continue;
      }
      const raw = text.slice(vStart, vEnd);
      attr.quote = q;
      attr.closed = true;
      // Spans are filled in place: a 1 MB document has tens of thousands of attributes, and
      // every extra object shows in the garbage collector's share (bench/validation.bench.ts).
      attr.valueSpan.start = vStart; attr.valueSpan.end = vEnd;
      // Attribute-value normalisation (XML 1.0 §3.3.3): literal whitespace becomes a space.
      const decoded = decode(raw, vStart, errors);
      attr.value = /[\t\r\n]/.test(decoded) ? decoded.replace(/[\t\r\n]/g, ' ') : decoded;
      attr.span.end = vEnd + 1;
      j = vEnd + 1;
    }
    if (!terminated) {
      if (j >= n) err(tagStart, n, `Couldn't find end of Start Tag ${name}`);
      el.startTagEnd = j;
      el.contentSpan.start = el.contentSpan.end = j;
      closeElement(el, j, false);
      i = j;
      continue;
    }
    i = j;
    el.contentSpan.start = el.contentSpan.end = el.startTagEnd;
    if (el.selfClosing) closeElement(el, el.startTagEnd, true);
    else stack.push(el);
  }
  // Unclosed elements at end of input.
  while (stack.length) {
    const open = stack.pop()!;
    err(open.nameSpan.start, open.nameSpan.end, `Premature end of data in tag ${open.name}`);
    open.contentSpan.end = n;
    closeElement(open, n, false);
  }
  if (!topLevel.length) err(0, Math.min(n, 1), text.trim() ? "Start tag expected, '<' not found" : 'Document is empty');
  return { text, root: topLevel[0], topLevel, errors };
}

function findOpen(stack: XmlElement[], name: string): number {
  for (let k = stack.length - 1; k >= 0; k--) if (stack[k].name === name) return k;
  return -1;
}

// ---- Navigation helpers (all total functions) ----

export function childElements(el: XmlElement | undefined, name?: string): XmlElement[] {
  if (!el) return [];
  const out: XmlElement[] = [];
  for (const c of el.children) if (c.kind === 'element' && (name === undefined || c.name === name)) out.push(c);
  return out;
}

export function firstChild(el: XmlElement | undefined, name: string): XmlElement | undefined {
  if (!el) return undefined;
  for (const c of el.children) if (c.kind === 'element' && c.name === name) return c;
  return undefined;
}

/** Follows a path of element names, taking the first match at each step (libvirt's virXPathNode). */
export function path(el: XmlElement | undefined, ...names: string[]): XmlElement | undefined {
  let cur = el;
  for (const nm of names) cur = firstChild(cur, nm);
  return cur;
}

export function attr(el: XmlElement | undefined, name: string): XmlAttribute | undefined {
  return el?.attributes.find((a) => a.name === name);
}

/** The attribute's value, or undefined when absent. */
export function attrValue(el: XmlElement | undefined, name: string): string | undefined {
  return attr(el, name)?.value;
}

/** Concatenated text content of an element and its descendants (XPath string()). */
export function textContent(el: XmlElement | undefined): string {
  if (!el) return '';
  let s = '';
  for (const c of el.children) {
    if (c.kind === 'text') s += c.value;
    else if (c.kind === 'element') s += textContent(c);
  }
  return s;
}

/** Span of the element's text content, or of its name when it has none (for diagnostics). */
export function textSpan(el: XmlElement): Span {
  const texts = el.children.filter((c): c is XmlText => c.kind === 'text');
  const nonBlank = texts.filter((t) => t.raw.trim());
  if (!nonBlank.length) return el.nameSpan;
  const first = nonBlank[0], last = nonBlank[nonBlank.length - 1];
  const lead = first.raw.length - first.raw.trimStart().length;
  const trail = last.raw.length - last.raw.trimEnd().length;
  return { start: first.start + lead, end: last.end - trail };
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
  private readonly starts: number[] = [0];
  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) this.starts.push(i + 1);
      else if (c === 13 && text.charCodeAt(i + 1) !== 10) this.starts.push(i + 1);
    }
  }
  positionAt(offset: number): { line: number; character: number } {
    offset = Math.max(0, Math.min(offset, this.text.length));
    // An offset between the \r and the \n of a CRLF is not an LSP position: use the line end.
    if (offset > 0 && this.text.charCodeAt(offset) === 10 && this.text.charCodeAt(offset - 1) === 13) offset--;
    let lo = 0, hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid; else hi = mid - 1;
    }
    return { line: lo, character: offset - this.starts[lo] };
  }
  offsetAt(pos: { line: number; character: number }): number {
    if (pos.line < 0) return 0;
    if (pos.line >= this.starts.length) return this.text.length;
    const lineEnd = pos.line + 1 < this.starts.length ? this.starts[pos.line + 1] : this.text.length;
    return Math.max(this.starts[pos.line], Math.min(this.starts[pos.line] + pos.character, lineEnd));
  }
}
