// What every editing feature receives: the parsed document, the settings in force and the
// injected environment. Built by the facade per request.
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { LanguageSettings, ServiceEnvironment } from './types';
import type { ParsedDocument } from './languageService';

export interface FeatureContext {
  document: TextDocument;
  parsed: ParsedDocument;
  settings: LanguageSettings;
  env: ServiceEnvironment;
  /** Every document the service has parsed (for references across open documents). */
  openDocuments(): ParsedDocument[];
}
