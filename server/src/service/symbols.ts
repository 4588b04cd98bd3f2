// Document outline: a volume with its name, capacity, format and encryption; domain disks with
// their target and source; secrets with their uuid and usage. One symbol per known element,
// with the value that matters as detail.
import { SymbolKind, type DocumentSymbol } from 'vscode-languageserver-types';
import type { FeatureContext } from './featureContext';
import { attrValue, childElements, path, textContent, type Span, type XmlElement } from './xmlModel';
import { defOf } from './values';

const KIND: Record<string, SymbolKind> = {
  volume: SymbolKind.File,
  domain: SymbolKind.Module,
  devices: SymbolKind.Namespace,
  disk: SymbolKind.Struct,
  target: SymbolKind.Object,
  source: SymbolKind.Object,
  backingStore: SymbolKind.Object,
  permissions: SymbolKind.Object,
  encryption: SymbolKind.Key,
  secret: SymbolKind.Key,
  cipher: SymbolKind.Property,
  ivgen: SymbolKind.Property,
  name: SymbolKind.String,
  path: SymbolKind.String,
  uuid: SymbolKind.String,
  capacity: SymbolKind.Number,
  allocation: SymbolKind.Number,
  physical: SymbolKind.Number,
  clusterSize: SymbolKind.Number,
  format: SymbolKind.EnumMember,
  compat: SymbolKind.Constant,
  features: SymbolKind.Object,
  usage: SymbolKind.Object,
  driver: SymbolKind.Property,
};

const text = (el: XmlElement | undefined) => (el ? textContent(el).trim() : '');

/** The short value shown next to an element in the outline. */
function detailOf(el: XmlElement): string {
  switch (el.name) {
    case 'capacity':
    case 'allocation':
    case 'physical':
    case 'clusterSize': {
      const unit = attrValue(el, 'unit');
      return `${text(el)}${unit ? ` ${unit}` : ''}`;
    }
    case 'format':
      return attrValue(el, 'type') ?? '';
    case 'encryption':
      return [attrValue(el, 'format'), attrValue(el, 'engine')].filter(Boolean).join(' ');
    case 'secret':
      if (el.parent)
        return attrValue(el, 'uuid') ?? (attrValue(el, 'usage') !== undefined ? `usage ${attrValue(el, 'usage')}` : '');
      return [text(path(el, 'uuid')), usageOf(el)].filter(Boolean).join(' · ');
    case 'cipher': {
      const n = attrValue(el, 'name'),
        s = attrValue(el, 'size');
      return [n && s ? `${n}-${s}` : (n ?? ''), attrValue(el, 'mode'), attrValue(el, 'hash')].filter(Boolean).join(' ');
    }
    case 'ivgen':
      return [attrValue(el, 'name'), attrValue(el, 'hash')].filter(Boolean).join(' ');
    case 'disk': {
      const dev = attrValue(path(el, 'target'), 'dev');
      return [attrValue(el, 'type'), attrValue(el, 'device'), dev].filter(Boolean).join(' ');
    }
    case 'source':
      return (
        attrValue(el, 'file') ??
        attrValue(el, 'dev') ??
        attrValue(el, 'name') ??
        attrValue(el, 'dir') ??
        attrValue(el, 'volume') ??
        ''
      );
    case 'driver':
      return attrValue(el, 'type') ?? '';
    case 'target':
      return el.parent?.name === 'disk'
        ? [attrValue(el, 'dev'), attrValue(el, 'bus')].filter(Boolean).join(' ')
        : (attrValue(path(el, 'format'), 'type') ?? '');
    case 'usage':
      return usageOf(el.parent!);
    case 'features':
      return childElements(el)
        .map((c) => c.name)
        .join(' ');
    default:
      return text(el).length <= 80 && childElements(el).length === 0 ? text(el) : '';
  }
}

function usageOf(secret: XmlElement): string {
  const u = path(secret, 'usage');
  if (!u) return '';
  const t = attrValue(u, 'type');
  const v = text(path(u, 'volume')) || text(path(u, 'name')) || text(path(u, 'target'));
  return [t, v].filter(Boolean).join(' ');
}

export function findDocumentSymbols(fc: FeatureContext): DocumentSymbol[] {
  const lines = fc.parsed.lines;
  const range = (s: Span) => ({ start: lines.positionAt(s.start), end: lines.positionAt(s.end) });
  const visit = (el: XmlElement): DocumentSymbol | undefined => {
    if (!defOf(el)) return undefined;
    const children = childElements(el)
      .map(visit)
      .filter((s): s is DocumentSymbol => !!s);
    let name = el.name;
    // The root volume/secret is named by what identifies it.
    if (!el.parent && el.name === 'volume' && text(path(el, 'name'))) name = `volume ${text(path(el, 'name'))}`;
    if (!el.parent && el.name === 'domain' && text(path(el, 'name'))) name = `domain ${text(path(el, 'name'))}`;
    const sym: DocumentSymbol = {
      name,
      kind: KIND[el.name] ?? SymbolKind.Field,
      range: range(el),
      selectionRange: range(el.nameSpan),
    };
    const detail = detailOf(el);
    if (detail) sym.detail = detail;
    if (children.length) sym.children = children;
    return sym;
  };
  return fc.parsed.xml.topLevel.map(visit).filter((s): s is DocumentSymbol => !!s);
}
