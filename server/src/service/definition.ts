// Go to definition / find references between an encryption secret uuid and the workspace's
// <secret> documents. The workspace facts come from ServiceEnvironment.secrets()/secretUses()
// (server/src/lsp/workspaceIndex.ts); documents open in the editor override the index.
import type { Location, Position } from 'vscode-languageserver-types';
import type { FeatureContext } from './featureContext';
import type { SecretUse } from './types';
import { textContent } from './xmlModel';
import { cursorAt } from './cursor';
import { normaliseUuid, secretInfoOf, secretUsesOf, secretsByUuid } from './secrets';
import { hostUriOf } from './embedded';

/** The secret uuid under the cursor: an `<encryption><secret uuid>` value or a `<secret><uuid>` text. */
function uuidAt(fc: FeatureContext, position: Position): string | undefined {
  const offset = fc.parsed.lines.offsetAt(position);
  const c = cursorAt(fc.parsed.xml, offset);
  if (
    c.kind === 'attributeValue' &&
    c.attribute.name === 'uuid' &&
    c.element.name === 'secret' &&
    c.element.parent?.name === 'encryption'
  ) {
    return normaliseUuid(c.attribute.value);
  }
  if (
    c.kind === 'content' &&
    c.element?.name === 'uuid' &&
    c.element.parent?.name === 'secret' &&
    !c.element.parent.parent
  ) {
    return normaliseUuid(textContent(c.element));
  }
  return undefined;
}

export function findDefinition(fc: FeatureContext, position: Position): Location[] {
  const offset = fc.parsed.lines.offsetAt(position);
  const c = cursorAt(fc.parsed.xml, offset);
  if (c.kind !== 'attributeValue' || c.element.name !== 'secret' || c.element.parent?.name !== 'encryption') return [];
  if (c.attribute.name === 'uuid') return definitionsOf(fc, c.attribute.value);
  if (c.attribute.name === 'usage') {
    // Lookup by usage matches <usage type='volume'><volume>PATH</volume> (virsecret.c).
    const zero = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
    return (fc.env.secrets?.() ?? [])
      .filter((s) => s.usageType === 'volume' && s.usageVolume === c.attribute.value)
      .map((s) => ({ uri: s.uri, range: s.uuidRange ?? zero }));
  }
  return [];
}

function definitionsOf(fc: FeatureContext, uuid: string | undefined): Location[] {
  const open = new Map(fc.openDocuments().map((p) => [p.uri, p]));
  // A host file's index entry stands for its regions; its open regions say the same (once).
  const openHosts = new Set([...open.keys()].map(hostUriOf));
  const out: Location[] = [];
  const zero = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
  for (const s of secretsByUuid(fc.env.secrets?.() ?? [], uuid)) {
    if (openHosts.has(s.uri)) continue; // the open text wins (below)
    out.push({ uri: s.uri, range: s.uuidRange ?? zero });
  }
  for (const p of open.values()) {
    const info = secretInfoOf(p.uri, p.xml, p.lines);
    if (info && normaliseUuid(info.uuid) && normaliseUuid(info.uuid) === normaliseUuid(uuid))
      out.push({ uri: p.uri, range: info.uuidRange ?? zero });
  }
  return out;
}

export function findReferences(fc: FeatureContext, position: Position): Location[] {
  const uuid = uuidAt(fc, position);
  if (!uuid) return [];
  const open = fc.openDocuments();
  const openUris = new Set(open.map((p) => hostUriOf(p.uri)));
  const uses: SecretUse[] = (fc.env.secretUses?.() ?? []).filter((u) => !openUris.has(u.uri));
  for (const p of open) uses.push(...secretUsesOf(p.uri, p.xml, p.lines));
  const out: Location[] = definitionsOf(fc, uuid);
  for (const u of uses) if (normaliseUuid(u.uuid) === uuid) out.push({ uri: u.uri, range: u.range });
  const seen = new Set<string>();
  return out.filter((l) => {
    const k = `${l.uri}:${l.range.start.line}:${l.range.start.character}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
