// Hover: meaning, allowed values, default, since-version, documentation link and the qemu-img
// option a value becomes.
import type { Hover, Position } from 'vscode-languageserver-types';
import type { FeatureContext } from './featureContext';

export function doHover(_fc: FeatureContext, _position: Position): Hover | null {
  return null;
}
