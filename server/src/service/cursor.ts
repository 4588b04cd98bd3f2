// What is at an offset of a (possibly half-typed) document: an element name being typed, an end
// tag, an attribute name or value, or element content. Completion and hover both start here.
import { elementAt, type Span, type XmlAttribute, type XmlDocument, type XmlElement } from './xmlModel';

export type Cursor =
  /** Typing an element name after `<` (replace = the name typed so far); parent undefined at top level. */
  | { kind: 'elementName'; parent: XmlElement | undefined; replace: Span; element?: XmlElement }
  /** Typing an end tag name after `</`. */
  | { kind: 'endTag'; element: XmlElement | undefined; replace: Span }
  /** In a start tag, on an attribute name or in blank space (replace is empty then). */
  | { kind: 'attributeName'; element: XmlElement; replace: Span; attribute?: XmlAttribute }
  /** In an attribute value (replace = the value inside the quotes; empty at `=` when unquoted). */
  | { kind: 'attributeValue'; element: XmlElement; attribute: XmlAttribute; replace: Span; quoted: boolean }
  /** In element content (replace = the word around the offset); element undefined outside the root. */
  | { kind: 'content'; element: XmlElement | undefined; replace: Span };

const NAME_CHARS = /[A-Za-z0-9_:.-]/;

/** Whether the start tag of `el` ends with `>` (the parser sets startTagEnd after it). */
export function startTagTerminated(text: string, el: XmlElement): boolean {
  return el.startTagEnd > el.nameSpan.end && text[el.startTagEnd - 1] === '>';
}

export function cursorAt(doc: XmlDocument, offset: number): Cursor {
  const text = doc.text;
  offset = Math.max(0, Math.min(offset, text.length));
  let el = elementAt(doc, offset);
  // On the '<' itself the cursor is still in the parent's content.
  if (el && offset <= el.start) el = el.parent;

  if (el) {
    if (offset >= el.nameSpan.start && offset <= el.nameSpan.end) {
      return { kind: 'elementName', parent: el.parent, replace: el.nameSpan, element: el };
    }
    if (el.endTagNameSpan && offset >= el.endTagNameSpan.start && offset <= el.endTagNameSpan.end) {
      return { kind: 'endTag', element: el, replace: el.endTagNameSpan };
    }
    const terminated = startTagTerminated(text, el);
    const tagInnerEnd = terminated ? el.startTagEnd - (el.selfClosing ? 2 : 1) : el.startTagEnd;
    if (offset > el.nameSpan.end && offset <= tagInnerEnd) {
      for (const a of el.attributes) {
        if (offset >= a.nameSpan.start && offset <= a.nameSpan.end)
          return { kind: 'attributeName', element: el, replace: a.nameSpan, attribute: a };
        if (
          a.quote &&
          offset >= a.valueSpan.start &&
          offset <= a.valueSpan.end &&
          !(a.closed && offset > a.valueSpan.end)
        ) {
          return { kind: 'attributeValue', element: el, attribute: a, replace: a.valueSpan, quoted: true };
        }
        if (
          !a.quote &&
          offset > a.nameSpan.end &&
          offset <= a.valueSpan.start &&
          text.slice(a.nameSpan.end, offset).includes('=')
        ) {
          return {
            kind: 'attributeValue',
            element: el,
            attribute: a,
            replace: { start: offset, end: offset },
            quoted: false,
          };
        }
      }
      return { kind: 'attributeName', element: el, replace: { start: offset, end: offset } };
    }
    if (offset < el.contentSpan.start || (el.closed && el.endTagNameSpan && offset > el.contentSpan.end)) {
      // Between the end of the start tag and nothing: e.g. right after `/>` (elementAt excludes
      // that), or inside `</name >` after the name.
      return { kind: 'content', element: el.parent, replace: { start: offset, end: offset } };
    }
  }
  const contentStart = el ? el.contentSpan.start : 0;
  const before = text.slice(Math.max(contentStart, offset - 200), offset);
  let end = offset;
  while (end < text.length && NAME_CHARS.test(text[end])) end++;
  const endTag = /<\/([A-Za-z0-9_:.-]*)$/.exec(before);
  if (endTag) return { kind: 'endTag', element: el, replace: { start: offset - endTag[1].length, end } };
  const open = /<([A-Za-z0-9_:.-]*)$/.exec(before);
  if (open) return { kind: 'elementName', parent: el, replace: { start: offset - open[1].length, end } };
  let start = offset;
  while (start > contentStart && !/[\s<>]/.test(text[start - 1])) start--;
  let wend = offset;
  while (wend < text.length && !/[\s<>]/.test(text[wend])) wend++;
  return { kind: 'content', element: el, replace: { start, end: wend } };
}
