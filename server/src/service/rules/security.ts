// Weak-encryption lint (issue 7): libvirt and qemu accept all of these, so they are warnings or
// hints, never errors. The judgement itself lives in schemas/weakCrypto.ts so that the image
// writer's `create` prints the same verdicts; this file only turns it into rule-table rows.
import type { RuleDef } from '../types';
import { WEAK_CRYPTO_RULES } from '../../../../schemas/weakCrypto';

export const SECURITY_RULES = WEAK_CRYPTO_RULES.map((r) => ({
  id: r.id,
  severity: r.severity,
  layer: 'LINT' as const,
  // Same text as weakChoices() builds: "{summary}: {reason}" with the same placeholders.
  message: `${r.summary}: ${r.reason}`,
  doc: r.doc,
})) satisfies readonly RuleDef[];
