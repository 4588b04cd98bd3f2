// Quick fixes keyed by rule id (Diagnostic.code).
import type { CodeAction, CodeActionContext, Range } from 'vscode-languageserver-types';
import type { FeatureContext } from './featureContext';

export function doCodeActions(_fc: FeatureContext, _range: Range, _context: CodeActionContext): CodeAction[] {
  return [];
}
