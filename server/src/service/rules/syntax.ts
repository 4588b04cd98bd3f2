import type { RuleDef } from '../types';
import { DOC } from '../../../../schemas/vocabulary';

export const SYNTAX_RULES: RuleDef[] = [
  // libxml2 refuses any well-formedness error; libvirt reports it as an XML parse failure.
  { id: 'xml-not-well-formed', severity: 'error', layer: 'SYNTAX', message: '{detail}', doc: 'https://www.w3.org/TR/xml/#sec-well-formed' },
  // Not libvirt's: the service keeps at most MAX_DIAGNOSTICS per document (validation/context.ts).
  { id: 'too-many-diagnostics', severity: 'information', layer: 'SYNTAX',
    message: '{count} more problems are not shown (at most {max} are reported per document)',
    doc: 'https://www.w3.org/TR/xml/#sec-well-formed' },
];
