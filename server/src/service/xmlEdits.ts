// Small, formatting-aware text edits on the tolerant XML tree, for quick fixes: set or remove an
// attribute, insert a child element with the document's indentation, remove an element with its
// line, replace a text value.
import type { TextEdit } from 'vscode-languageserver-types';
import { attr, childElements, type LineIndex, type Span, type XmlElement } from './xmlModel';

export class XmlEditor {
  readonly edits: TextEdit[] = [];
  constructor(
    readonly text: string,
    readonly lines: LineIndex,
  ) {}

  private push(start: number, end: number, newText: string): void {
    this.edits.push({ range: { start: this.lines.positionAt(start), end: this.lines.positionAt(end) }, newText });
  }

  replace(span: Span, newText: string): this {
    this.push(span.start, span.end, newText);
    return this;
  }

  /** Sets an attribute: replaces its value or appends ` name='value'` after the last attribute. */
  setAttr(el: XmlElement, name: string, value: string): this {
    const a = attr(el, name);
    const v = value.replace(/&/g, '&amp;').replace(/</g, '&lt;');
    if (a && a.quote) {
      const q = a.quote;
      this.push(a.valueSpan.start, a.valueSpan.end, q === "'" ? v.replace(/'/g, '&apos;') : v.replace(/"/g, '&quot;'));
      if (!a.closed) this.push(a.valueSpan.end, a.valueSpan.end, q);
    } else if (a) {
      this.push(a.span.start, Math.max(a.span.end, a.valueSpan.end), `${name}='${v.replace(/'/g, '&apos;')}'`);
    } else {
      const after = el.attributes.length ? el.attributes[el.attributes.length - 1].span.end : el.nameSpan.end;
      this.push(after, after, ` ${name}='${v.replace(/'/g, '&apos;')}'`);
    }
    return this;
  }

  removeAttr(el: XmlElement, name: string): this {
    const a = attr(el, name);
    if (!a) return this;
    let start = a.span.start;
    while (start > el.nameSpan.end && /[ \t\r\n]/.test(this.text[start - 1])) start--;
    this.push(start, Math.max(a.span.end, a.valueSpan.end + (a.closed ? 1 : 0)), '');
    return this;
  }

  /** Removes an element; when it stands alone on its line(s), the whole line goes. */
  removeElement(el: XmlElement): this {
    let start = el.start;
    let end = el.end;
    let ls = start;
    while (ls > 0 && (this.text[ls - 1] === ' ' || this.text[ls - 1] === '\t')) ls--;
    let le = end;
    while (le < this.text.length && (this.text[le] === ' ' || this.text[le] === '\t')) le++;
    const lineStart = ls === 0 || this.text[ls - 1] === '\n';
    const lineEnd = le === this.text.length || this.text[le] === '\n' || this.text[le] === '\r';
    if (lineStart && lineEnd) {
      start = ls;
      end = le;
      if (this.text[end] === '\r') end++;
      if (this.text[end] === '\n') end++;
      else if (start > 0) {
        // last line: eat the newline before instead (both halves of a CRLF)
        start--;
        if (start > 0 && this.text[start] === '\n' && this.text[start - 1] === '\r') start--;
      }
    }
    this.push(start, end, '');
    return this;
  }

  /** The indentation of the line an offset is on. */
  indentAt(offset: number): string {
    const pos = this.lines.positionAt(offset);
    const lineStart = this.lines.offsetAt({ line: pos.line, character: 0 });
    return /^[ \t]*/.exec(this.text.slice(lineStart, offset))![0];
  }

  /** One indentation step as the document uses it (the smallest indentation of a tag line), else two spaces. */
  indentUnit(): string {
    let best: string | undefined;
    for (const m of this.text.matchAll(/\n([ \t]+)</g))
      if (best === undefined || m[1].length < best.length) best = m[1];
    return best ?? '  ';
  }

  /** Inserts a child element (XML text without leading indentation) as the last child. */
  appendChild(parent: XmlElement, xml: string): this {
    const unit = this.indentUnit();
    const base = this.indentAt(parent.start);
    const childIndent = base + unit;
    const body = xml
      .split('\n')
      .map((l, i) => (i === 0 ? l : childIndent + l))
      .join('\n');
    const multiLine =
      this.text.slice(parent.start, parent.end).includes('\n') ||
      childElements(parent).length > 0 ||
      xml.includes('\n');
    if (parent.selfClosing) {
      // <p/> → <p>\n  child\n</p>
      const slash = parent.startTagEnd - 2;
      let s = slash;
      while (s > parent.nameSpan.end && /[ \t]/.test(this.text[s - 1])) s--;
      this.push(s, parent.startTagEnd, `>\n${childIndent}${body}\n${base}</${parent.name}>`);
      return this;
    }
    const endTagStart = parent.endTagNameSpan ? parent.endTagNameSpan.start - 2 : parent.contentSpan.end;
    if (!multiLine) {
      this.push(endTagStart, endTagStart, body);
      return this;
    }
    // Insert after the last non-blank content, on its own line.
    let at = endTagStart;
    while (at > parent.contentSpan.start && /[ \t\r\n]/.test(this.text[at - 1])) at--;
    const closingOnOwnLine = this.text.slice(at, endTagStart).includes('\n');
    this.push(at, at, `\n${childIndent}${body}${closingOnOwnLine ? '' : `\n${base}`}`);
    return this;
  }

  /** Inserts an element right after a sibling, on its own line with the sibling's indentation. */
  insertAfter(sibling: XmlElement, xml: string): this {
    const indent = this.indentAt(sibling.start);
    const body = xml
      .split('\n')
      .map((l, i) => (i === 0 ? l : indent + l))
      .join('\n');
    const onOwnLine = /^[ \t]*$/.test(
      this.text.slice(
        this.lines.offsetAt({ line: this.lines.positionAt(sibling.start).line, character: 0 }),
        sibling.start,
      ),
    );
    this.push(sibling.end, sibling.end, onOwnLine ? `\n${indent}${body}` : body);
    return this;
  }

  /** Inserts an element right before a sibling. */
  insertBefore(sibling: XmlElement, xml: string): this {
    const indent = this.indentAt(sibling.start);
    const onOwnLine = /^[ \t]*$/.test(
      this.text.slice(
        this.lines.offsetAt({ line: this.lines.positionAt(sibling.start).line, character: 0 }),
        sibling.start,
      ),
    );
    const body = xml
      .split('\n')
      .map((l, i) => (i === 0 ? l : indent + l))
      .join('\n');
    this.push(sibling.start, sibling.start, onOwnLine ? `${body}\n${indent}` : body);
    return this;
  }

  /** An element's text with its own line indentation removed from the following lines (for moving it). */
  relativeText(el: XmlElement): string {
    const old = this.indentAt(el.start);
    const raw = this.text.slice(el.start, el.end);
    return raw
      .split('\n')
      .map((l, i) => (i > 0 && l.startsWith(old) ? l.slice(old.length) : l))
      .join('\n');
  }
}
