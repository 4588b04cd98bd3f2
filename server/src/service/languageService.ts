// The facade: one object with a method per feature, like vscode-json-languageservice's
// getLanguageService(). Pure: text in, LSP data out; I/O only through the injected environment.
import type {
  CodeAction, CodeActionContext, CompletionList, Diagnostic, DocumentSymbol, FoldingRange, Hover, Location, Position, Range,
} from 'vscode-languageserver-types';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { LanguageSettings, ServiceEnvironment } from './types';
import { LineIndex, parseXml, type XmlDocument } from './xmlModel';
import { validate } from './validation';
import type { FeatureContext } from './featureContext';
import { doComplete } from './completion';
import { doHover } from './hover';
import { doCodeActions } from './codeActions';
import { findDefinition, findReferences } from './definition';
import { findDocumentSymbols } from './symbols';
import { getFoldingRanges } from './folding';

export interface ParsedDocument {
  uri: string;
  version: number;
  xml: XmlDocument;
  lines: LineIndex;
}

export interface LanguageService {
  configure(settings: LanguageSettings): void;
  /** Parses (cached by uri+version). */
  parse(document: TextDocument): ParsedDocument;
  /** Drops a document's cached tree (closed in the editor, or checked by the CLI and done with:
   *  200 retained trees made the garbage collector copy them again and again). */
  forget(uri: string): void;
  doValidation(document: TextDocument): Diagnostic[];
  doComplete(document: TextDocument, position: Position): CompletionList;
  doHover(document: TextDocument, position: Position): Hover | null;
  doCodeActions(document: TextDocument, range: Range, context: CodeActionContext): CodeAction[];
  /** From an encryption secret uuid to its `<secret>` document(s) in the workspace. */
  findDefinition(document: TextDocument, position: Position): Location[];
  /** From a secret uuid (in a `<secret>` or an `<encryption>`) to every use in the workspace. */
  findReferences(document: TextDocument, position: Position): Location[];
  findDocumentSymbols(document: TextDocument): DocumentSymbol[];
  getFoldingRanges(document: TextDocument): FoldingRange[];
}

export function getLanguageService(env: ServiceEnvironment = {}): LanguageService {
  let settings: LanguageSettings = {};
  const cache = new Map<string, ParsedDocument>();

  const parse = (document: TextDocument): ParsedDocument => {
    const hit = cache.get(document.uri);
    const text = document.getText();
    // Clients restart versions when a document is reopened (neovim starts at 0 each time), so
    // the text must match too; equal strings are usually the same object and compare in O(1).
    if (hit && hit.version === document.version && hit.xml.text === text) return hit;
    // Drop the stale tree before building the new one: otherwise both are alive during the parse
    // and a large document's old model is copied by the young-generation GC once more.
    if (hit) cache.delete(document.uri);
    const parsed = { uri: document.uri, version: document.version, xml: parseXml(text), lines: new LineIndex(text) };
    cache.set(document.uri, parsed);
    if (cache.size > 200) cache.delete(cache.keys().next().value!);
    return parsed;
  };

  const feature = (document: TextDocument): FeatureContext => ({
    document, parsed: parse(document), settings, env, openDocuments: () => [...cache.values()],
  });

  return {
    configure(s) { settings = { ...s }; },
    parse,
    forget(uri) { cache.delete(uri); },
    doValidation(document) {
      const p = parse(document);
      return validate(document.uri, p.xml, p.lines, settings, env);
    },
    doComplete: (document, position) => doComplete(feature(document), position),
    doHover: (document, position) => doHover(feature(document), position),
    doCodeActions: (document, range, context) => doCodeActions(feature(document), range, context),
    findDefinition: (document, position) => findDefinition(feature(document), position),
    findReferences: (document, position) => findReferences(feature(document), position),
    findDocumentSymbols: (document) => findDocumentSymbols(feature(document)),
    getFoldingRanges: (document) => getFoldingRanges(feature(document)),
  };
}
