// The rule table: every diagnostic this service can emit, as data (id, default severity,
// message, layer, versions, documentation link). One file per document area; this index joins
// them and is the only place that looks rules up.
import type { RuleDef } from '../types';
import { SYNTAX_RULES } from './syntax';
import { ENCRYPTION_RULES } from './encryption';
import { VOLUME_RULES } from './volume';
import { DOMAIN_RULES } from './domain';
import { SECRET_RULES } from './secret';
import { QEMU_RULES } from './qemu';

const ALL: RuleDef[] = [...SYNTAX_RULES, ...ENCRYPTION_RULES, ...VOLUME_RULES, ...DOMAIN_RULES, ...SECRET_RULES, ...QEMU_RULES];

export const RULES: ReadonlyMap<string, RuleDef> = (() => {
  const m = new Map<string, RuleDef>();
  for (const r of ALL) {
    if (m.has(r.id)) throw new Error(`duplicate rule id ${r.id}`); // caught by the unit tests at load
    m.set(r.id, r);
  }
  return m;
})();

export function ruleById(id: string): RuleDef | undefined {
  return RULES.get(id);
}

/** Registers more rule tables (used by feature files that own their rules, e.g. security lint). */
export function registerRules(defs: RuleDef[]): void {
  const m = RULES as Map<string, RuleDef>;
  for (const r of defs) {
    if (m.has(r.id)) throw new Error(`duplicate rule id ${r.id}`);
    m.set(r.id, r);
  }
}
