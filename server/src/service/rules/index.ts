// The rule catalogue: every diagnostic this service can emit, as data (id, default severity,
// message, layer, versions, documentation link). One file per document area, each imported here
// statically; this index joins them and is the only place that looks rules up. docs/rules.md is
// generated from it (scripts/rules-doc.ts).
import type { RuleDef } from '../types';
import { SYNTAX_RULES } from './syntax';
import { ENCRYPTION_RULES } from './encryption';
import { VOLUME_RULES } from './volume';
import { DOMAIN_RULES } from './domain';
import { SECRET_RULES } from './secret';
import { QEMU_RULES } from './qemu';
import { SECURITY_RULES } from './security';
import { IMAGE_RULES } from './image';
import { WORKSPACE_RULES } from './workspace';
import { HOST_RULES } from './host';

/** Every table, in catalogue order (the order docs/rules.md lists them in). */
export const RULE_TABLES = [
  { name: 'XML syntax', file: 'syntax.ts', rules: SYNTAX_RULES },
  { name: 'Storage encryption', file: 'encryption.ts', rules: ENCRYPTION_RULES },
  { name: 'Storage volumes', file: 'volume.ts', rules: VOLUME_RULES },
  { name: 'Domain disks', file: 'domain.ts', rules: DOMAIN_RULES },
  { name: 'Secrets', file: 'secret.ts', rules: SECRET_RULES },
  { name: 'qemu-img', file: 'qemu.ts', rules: QEMU_RULES },
  { name: 'Weak encryption', file: 'security.ts', rules: SECURITY_RULES },
  { name: 'Image files', file: 'image.ts', rules: IMAGE_RULES },
  { name: 'Workspace secrets', file: 'workspace.ts', rules: WORKSPACE_RULES },
  { name: 'Host', file: 'host.ts', rules: HOST_RULES },
] as const;

/** The id of any rule in the catalogue: `report()` takes only these, so a typo does not compile. */
export type RuleId = (typeof RULE_TABLES)[number]['rules'][number]['id'];

export const RULES: ReadonlyMap<string, RuleDef> = (() => {
  const m = new Map<string, RuleDef>();
  for (const t of RULE_TABLES) {
    for (const r of t.rules) {
      if (m.has(r.id)) throw new Error(`duplicate rule id ${r.id}`); // caught by the unit tests at load
      m.set(r.id, r);
    }
  }
  return m;
})();

export function ruleById(id: string): RuleDef | undefined {
  return RULES.get(id);
}
