// Folding ranges: multi-line elements and comments.
import type { FoldingRange } from 'vscode-languageserver-types';
import type { FeatureContext } from './featureContext';

export function getFoldingRanges(_fc: FeatureContext): FoldingRange[] {
  return [];
}
