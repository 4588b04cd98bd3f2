// Shared by test/unit/rules-*.test.ts: fixtures judged by the libvirt rule tables only (the rules
// of rules/{syntax,encryption,volume,domain,secret,qemu}.ts). Other areas' rules (weak-crypto
// lint, workspace hints, image checks) are switched off through the per-rule severity setting,
// so a new lint elsewhere does not change these whole-diagnostic comparisons.
import { check, type Expected } from './check';
import { RULES } from '../../server/src/service/rules';
import { SYNTAX_RULES } from '../../server/src/service/rules/syntax';
import { ENCRYPTION_RULES } from '../../server/src/service/rules/encryption';
import { VOLUME_RULES } from '../../server/src/service/rules/volume';
import { DOMAIN_RULES } from '../../server/src/service/rules/domain';
import { SECRET_RULES } from '../../server/src/service/rules/secret';
import { QEMU_RULES } from '../../server/src/service/rules/qemu';
import type { LanguageSettings } from '../../server/src/service/types';
import '../../server/src/service/languageService';

export const LIBVIRT_RULE_IDS = new Set<string>([...SYNTAX_RULES, ...ENCRYPTION_RULES, ...VOLUME_RULES, ...DOMAIN_RULES, ...SECRET_RULES, ...QEMU_RULES].map((r) => r.id));

export function onlyLibvirtRules(settings: LanguageSettings = {}): LanguageSettings {
  const severity: NonNullable<LanguageSettings['severity']> = {};
  for (const id of RULES.keys()) if (!LIBVIRT_RULE_IDS.has(id)) severity[id] = 'ignore';
  return { ...settings, severity: { ...severity, ...settings.severity } };
}

/** check() with the libvirt rules only. */
export function checkRules(marked: string, expected: Expected[], settings: LanguageSettings = {}): void {
  check(marked, expected, onlyLibvirtRules(settings));
}

export const E = (code: string, message: string): Expected => ({ code, severity: 'error', message });
export const W = (code: string, message: string): Expected => ({ code, severity: 'warning', message });
export const H = (code: string, message: string): Expected => ({ code, severity: 'hint', message });

export const UUID = 'f52a81b2-424e-490c-823d-6bd4235bc572';
export const SECRET = `<secret type='passphrase' uuid='${UUID}'/>`;
/** A <volume> with `target` inside <target> and `extra` after <capacity>. */
export const vol = (target: string, extra = '', name = 'v.img') => `<volume><name>${name}</name><capacity unit='M'>16</capacity>${extra}<target>${target}</target></volume>`;
