// Completion: element names allowed at the cursor, attribute names, attribute/text values from
// schemas/vocabulary.ts, workspace secret uuids and snippets.
import { CompletionList } from 'vscode-languageserver-types';
import type { Position } from 'vscode-languageserver-types';
import type { FeatureContext } from './featureContext';

export function doComplete(_fc: FeatureContext, _position: Position): CompletionList {
  return CompletionList.create([], false);
}
