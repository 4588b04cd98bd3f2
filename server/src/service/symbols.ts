// Document outline: volume name, capacity, format, encryption; domain disks; secrets.
import type { DocumentSymbol } from 'vscode-languageserver-types';
import type { FeatureContext } from './featureContext';

export function findDocumentSymbols(_fc: FeatureContext): DocumentSymbol[] {
  return [];
}
