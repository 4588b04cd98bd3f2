// Folding ranges: every element and comment spanning more than one line (the closing line stays
// visible, as in vscode's HTML folding).
import { FoldingRangeKind, type FoldingRange } from 'vscode-languageserver-types';
import type { FeatureContext } from './featureContext';
import type { XmlNode } from './xmlModel';

export function getFoldingRanges(fc: FeatureContext): FoldingRange[] {
  const { lines, xml } = fc.parsed;
  const out: FoldingRange[] = [];
  const visit = (n: XmlNode) => {
    const start = lines.positionAt(n.start).line;
    const end = lines.positionAt(n.end).line;
    if (n.kind === 'comment') {
      if (end > start) out.push({ startLine: start, endLine: end, kind: FoldingRangeKind.Comment });
      return;
    }
    if (n.kind !== 'element') return;
    // The element folds up to the line before its end tag; an unclosed element to its last line.
    const last = n.endTagNameSpan ? lines.positionAt(n.endTagNameSpan.start).line - 1 : end;
    if (last > start) out.push({ startLine: start, endLine: last });
    for (const c of n.children) visit(c);
  };
  for (const t of xml.topLevel) visit(t);
  // Top-level comments (before the root) are not children of any element.
  const re = /<!--[\s\S]*?(-->|$)/g;
  for (let m; (m = re.exec(xml.text)) && m.index < (xml.root?.start ?? xml.text.length);) {
    const s = lines.positionAt(m.index).line,
      e = lines.positionAt(m.index + m[0].length).line;
    if (e > s) out.push({ startLine: s, endLine: e, kind: FoldingRangeKind.Comment });
    if (!m[0].length) break;
  }
  return out.sort((a, b) => a.startLine - b.startLine || b.endLine - a.endLine);
}
