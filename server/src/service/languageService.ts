// The facade: one object with a method per feature, like vscode-json-languageservice's
// getLanguageService(). Pure: text in, LSP data out; I/O only through the injected environment.
import type { Diagnostic } from 'vscode-languageserver-types';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { LanguageSettings, ServiceEnvironment } from './types';
import { LineIndex, parseXml, type XmlDocument } from './xmlModel';
import { validate } from './validation';

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
  doValidation(document: TextDocument): Diagnostic[];
}

export function getLanguageService(env: ServiceEnvironment = {}): LanguageService {
  let settings: LanguageSettings = {};
  const cache = new Map<string, ParsedDocument>();

  const parse = (document: TextDocument): ParsedDocument => {
    const hit = cache.get(document.uri);
    if (hit && hit.version === document.version) return hit;
    const text = document.getText();
    const parsed = { uri: document.uri, version: document.version, xml: parseXml(text), lines: new LineIndex(text) };
    cache.set(document.uri, parsed);
    if (cache.size > 200) cache.delete(cache.keys().next().value!);
    return parsed;
  };

  return {
    configure(s) { settings = { ...s }; },
    parse,
    doValidation(document) {
      const p = parse(document);
      return validate(document.uri, p.xml, p.lines, settings, env);
    },
  };
}
