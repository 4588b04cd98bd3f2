// Workspace-aware checks of <encryption><secret> references (rules/workspace.ts). They run only
// when the environment knows the workspace's <secret> documents and there is at least one.
import { normaliseUuid, secretsByUuid } from '../secrets';
import { hostHasVolumeUsage, hostSecretByUuid } from '../hostFacts';
import type { SecretInfo } from '../types';
import { attr, attrValue, path, textContent, walkElements, type XmlElement } from '../xmlModel';
import type { ValidationContext } from './context';

/** The path the encrypted data lives at: a volume's target path or a disk source's file/dev. */
function dataPathOf(enc: XmlElement): string | undefined {
  const parent = enc.parent;
  if (!parent) return undefined;
  if (parent.name === 'target' && parent.parent?.name === 'volume') {
    const p = path(parent, 'path');
    return p ? textContent(p).trim() || undefined : undefined;
  }
  const source = parent.name === 'source' ? parent : path(parent, 'source');
  return attrValue(source, 'file') ?? attrValue(source, 'dev');
}

const where = (s: SecretInfo) => s.uri.replace(/^file:\/\//, '');

export function validateWorkspaceSecrets(ctx: ValidationContext): void {
  const secrets = ctx.env.secrets?.() ?? [];
  if (!secrets.length || !ctx.doc.root) return;
  for (const enc of walkElements(ctx.doc.root)) {
    if (enc.name !== 'encryption') continue;
    const dataPath = dataPathOf(enc);
    for (const sec of enc.children) {
      if (sec.kind !== 'element' || sec.name !== 'secret') continue;
      const uuid = attr(sec, 'uuid');
      const usage = attr(sec, 'usage');
      if (uuid && usage) continue; // SEC-REF-BOTH is a parse error reported elsewhere
      if (uuid?.value !== undefined) {
        const canonical = normaliseUuid(uuid.value);
        if (!canonical) continue; // unparsable: the parse rule reports it
        const hits = secretsByUuid(secrets, uuid.value);
        // The host of the connection has it (validation/host.ts): no file of the workspace is missing.
        if (!hits.length && hostSecretByUuid(ctx.host?.facts, uuid.value)) continue;
        if (!hits.length) {
          const candidates = secrets.filter(
            (s) =>
              s.usageType === 'volume' && s.uuid && normaliseUuid(s.uuid) && (!dataPath || s.usageVolume === dataPath),
          );
          ctx.report(
            'workspace-secret-uuid-unknown',
            uuid.valueSpan,
            { uuid: uuid.value },
            {
              data: {
                uuid: uuid.value,
                candidates: candidates.map((s) => ({
                  uuid: normaliseUuid(s.uuid),
                  usageVolume: s.usageVolume,
                  uri: s.uri,
                })),
              },
            },
          );
          continue;
        }
        const s = hits[0];
        if (s.usageType !== 'volume') {
          ctx.report(
            'workspace-secret-usage-type',
            uuid.valueSpan,
            { uuid: canonical, type: s.usageType ?? 'none', where: where(s) },
            {
              data: { secretUri: s.uri },
              related: [
                {
                  location: {
                    uri: s.uri,
                    range: s.uuidRange ?? { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
                  },
                  message: 'the secret',
                },
              ],
            },
          );
        } else if (dataPath && s.usageVolume && s.usageVolume !== dataPath) {
          ctx.report(
            'workspace-secret-path-mismatch',
            uuid.valueSpan,
            { uuid: canonical, where: where(s), secretPath: s.usageVolume, path: dataPath },
            {
              data: { secretUri: s.uri, secretPath: s.usageVolume, path: dataPath },
              related: [
                {
                  location: {
                    uri: s.uri,
                    range: s.uuidRange ?? { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
                  },
                  message: 'the secret',
                },
              ],
            },
          );
        }
      } else if (usage?.value !== undefined && usage.value !== '') {
        // Lookup by usage matches <usage type='volume'><volume>PATH</volume> (virsecret.c).
        const onHost = ctx.host && hostHasVolumeUsage(ctx.host.facts, usage.value);
        if (!onHost && !secrets.some((s) => s.usageType === 'volume' && s.usageVolume === usage.value)) {
          ctx.report(
            'workspace-secret-usage-unknown',
            usage.valueSpan,
            { usage: usage.value },
            { data: { usage: usage.value } },
          );
        }
      }
    }
  }
}
