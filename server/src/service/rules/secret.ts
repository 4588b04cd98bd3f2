// Rules of <secret> documents (src/conf/secret_conf.c secretXMLParseNode /
// virSecretDefParseUsage, schema secret.rng). Ids are stable: never rename one.
import type { RuleDef } from '../types';
import { DOC } from '../../../../schemas/vocabulary';

const S = DOC.secret;

export const SECRET_RULES = [
  // virStringParseYesNo: exactly "yes" or "no" ('' counts as absent through virXPathString).
  {
    id: 'secret-ephemeral-invalid',
    severity: 'error',
    layer: 'PARSE',
    message: "XML error: invalid value of 'ephemeral'",
    doc: S,
  },
  {
    id: 'secret-private-invalid',
    severity: 'error',
    layer: 'PARSE',
    message: "XML error: invalid value of 'private'",
    doc: S,
  },
  {
    id: 'secret-uuid-invalid',
    severity: 'error',
    layer: 'PARSE',
    message: 'internal error: malformed uuid element',
    doc: S,
  },
  {
    id: 'secret-uuid-noncanonical',
    severity: 'warning',
    layer: 'RNG',
    message:
      "The schema allows only 32 hex digits or the 8-4-4-4-12 form; libvirt's parser reads '{uuid}' as {canonical}.",
    doc: S,
  },
  {
    id: 'secret-usage-type-required',
    severity: 'error',
    layer: 'PARSE',
    message: 'XML error: unknown secret usage type',
    doc: S,
  },
  {
    id: 'secret-usage-type-unknown',
    severity: 'error',
    layer: 'PARSE',
    message: 'unsupported configuration: unknown secret usage type {type}',
    doc: S,
  },
  {
    id: 'secret-usage-type-none',
    severity: 'warning',
    layer: 'RNG',
    message: "Usage type 'none' is accepted by libvirt's parser but not by the schema; leave <usage> out instead.",
    doc: S,
  },
  { id: 'secret-usage-id-missing', severity: 'error', layer: 'PARSE', message: 'internal error: {detail}', doc: S },
  {
    id: 'secret-usage-volume-relative',
    severity: 'warning',
    layer: 'RNG',
    message:
      'The schema requires an absolute path in <volume>; volume lookups by usage compare it with the volume path.',
    doc: S,
  },
] as const satisfies readonly RuleDef[];
