// Go to definition / find references between an encryption secret uuid and the workspace's
// <secret> documents (ServiceEnvironment.secrets()).
import type { Location, Position } from 'vscode-languageserver-types';
import type { FeatureContext } from './featureContext';

export function findDefinition(_fc: FeatureContext, _position: Position): Location[] {
  return [];
}

export function findReferences(_fc: FeatureContext, _position: Position): Location[] {
  return [];
}
