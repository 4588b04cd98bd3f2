// XML the project writes (a volume's <secret> document, the Create Volume wizard's <volume>) and
// XML it reads from tools (virsh dumpxml output): a strict W3C DOM (@xmldom/xmldom), built from a
// plain description and written by one serializer, so there is one escaping and one layout.
// Documents being edited are read by the tolerant xmlModel instead (it keeps offsets and
// recovers from errors; a strict parser does neither).
import type { Document, Element } from '@xmldom/xmldom';

// Loaded on first use: validation reaches this module (secrets.ts) but never builds a document, and
// loading xmldom (its entity tables) was 7 ms of every `check` start-up.
let xmldomModule: typeof import('@xmldom/xmldom') | undefined;
const xmldom = () => (xmldomModule ??= require('@xmldom/xmldom') as typeof import('@xmldom/xmldom'));

/** An element to build: attributes in this order (undefined ones left out), then text or children. */
export interface XmlElementSpec {
  name: string;
  attrs?: Record<string, string | undefined>;
  text?: string;
  /** Children in document order; `undefined`/`false` entries are skipped (optional elements). */
  children?: (XmlElementSpec | undefined | false)[];
}

function build(doc: Document, spec: XmlElementSpec): Element {
  const el = doc.createElement(spec.name);
  fill(doc, el, spec);
  return el;
}

function fill(doc: Document, el: Element, spec: XmlElementSpec): void {
  for (const [k, v] of Object.entries(spec.attrs ?? {})) if (v !== undefined) el.setAttribute(k, v);
  if (spec.text !== undefined) el.appendChild(doc.createTextNode(spec.text));
  for (const c of spec.children ?? []) if (c) el.appendChild(build(doc, c));
}

/** A new document whose root element is `spec`. */
export function buildXmlDocument(spec: XmlElementSpec): Document {
  const doc = new (xmldom().DOMImplementation)().createDocument(null, spec.name, null);
  fill(doc, doc.documentElement!, spec);
  return doc;
}

/**
 * Indents element-only content by two spaces per level, as libvirt's virBuffer formatting does
 * (virBufferAdjustIndent), by adding whitespace text nodes; elements holding text are left as they
 * are. Works on a copy: the caller's document is not changed.
 */
function indented(doc: Document): Document {
  const copy = doc.cloneNode(true) as Document;
  const walk = (el: Element, depth: number): void => {
    const kids = Array.from(el.childNodes);
    if (!kids.length || kids.some((k) => k.nodeType !== k.ELEMENT_NODE)) return;
    const pad = (n: number) => copy.createTextNode(`\n${'  '.repeat(n)}`);
    for (const k of kids) {
      el.insertBefore(pad(depth + 1), k);
      walk(k as Element, depth + 1);
    }
    el.appendChild(pad(depth));
  };
  if (copy.documentElement) walk(copy.documentElement, 0);
  return copy;
}

/** The document as text: indented element content, a final newline, no XML declaration. */
export function serializeXml(doc: Document): string {
  return new (xmldom().XMLSerializer)().serializeToString(indented(doc)) + '\n';
}

/** buildXmlDocument + serializeXml. */
export function renderXml(spec: XmlElementSpec): string {
  return serializeXml(buildXmlDocument(spec));
}

/**
 * Parses XML printed by a tool (e.g. `virsh secret-dumpxml`). Strict: anything the parser reports
 * as an error (not well-formed, unbound prefix, …) throws, with the parser's message.
 */
export function parseToolXml(text: string): Document {
  let first: string | undefined;
  const parser = new (xmldom().DOMParser)({
    onError: (level, message) => {
      if (level === 'warning') return;
      first ??= message;
      throw new Error(message);
    },
  });
  let doc: Document;
  try {
    doc = parser.parseFromString(text, 'text/xml');
  } catch (e) {
    throw new Error(`malformed XML: ${first ?? (e as Error).message}`, { cause: e });
  }
  if (!doc.documentElement) throw new Error('malformed XML: no root element');
  return doc;
}

/** The child elements of `el`, optionally only those named `name`. */
export function childElements(el: Element, name?: string): Element[] {
  return Array.from(el.childNodes).filter(
    (n): n is Element => n.nodeType === n.ELEMENT_NODE && (!name || n.nodeName === name),
  );
}
