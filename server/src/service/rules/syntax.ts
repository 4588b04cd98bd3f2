import type { RuleDef } from '../types';

export const SYNTAX_RULES = [
  // libxml2 refuses any well-formedness error; libvirt reports it as an XML parse failure.
  { id: 'xml-not-well-formed', severity: 'error', layer: 'SYNTAX', message: '{detail}', doc: 'https://www.w3.org/TR/xml/#sec-well-formed' },
] as const satisfies readonly RuleDef[];
