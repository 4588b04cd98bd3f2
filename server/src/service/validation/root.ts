// The root element and the bytes of a whole file, as libvirt's XML entry point judges them
// (virXMLParseHelper in src/util/virxml.c: libxml2 parses the file's text, then the root name must
// equal the expected one exactly). Used for documents whose root is no libvirt document kind.
import type { ValidationContext } from './context';

/** Root element names of the documents this service judges (documentKind maps each to a kind). */
export const ROOT_KINDS = ['volume', 'domain', 'disk', 'secret', 'encryption'];

/** The libvirt root a near-miss name was meant to be: case or a plural (`<Volume>`, `<volumes>`). */
export function nearMissRoot(name: string): string | undefined {
  const n = name.toLowerCase();
  return ROOT_KINDS.find((r) => r !== name && (n === r || n === r + 's'));
}

/**
 * A document of no libvirt kind. In the editor only a near-miss root is worth a word; a file named
 * on the command line is always judged: no root (empty, not XML) → libxml2's first fatal error,
 * a foreign root → libvirt's "expecting root element" refusal.
 */
export function validateRoot(ctx: ValidationContext, named: boolean): void {
  const root = ctx.doc.root;
  if (!root) {
    if (!named) return;
    // libxml2 stops at its first fatal error; the model's first one is that error.
    const e = ctx.doc.errors[0] ?? { start: 0, end: 0, message: 'Document is empty' };
    ctx.report('xml-not-well-formed', e, { detail: e.message });
    return;
  }
  const expected = nearMissRoot(root.name);
  if (expected) {
    ctx.report(
      'root-element-near-miss',
      root.nameSpan,
      { expected, found: root.name },
      { data: { expected }, ...(named ? { severity: 'error' as const } : {}) },
    );
  } else if (named) ctx.report('root-element-foreign', root.nameSpan, { found: root.name });
}
