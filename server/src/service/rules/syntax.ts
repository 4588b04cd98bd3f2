import type { RuleDef } from '../types';
import { DOC } from '../../../../schemas/vocabulary';

export const SYNTAX_RULES = [
  // libxml2 refuses any well-formedness error; libvirt reports it as an XML parse failure.
  {
    id: 'xml-not-well-formed',
    severity: 'error',
    layer: 'SYNTAX',
    message: '{detail}',
    doc: 'https://www.w3.org/TR/xml/#sec-well-formed',
  },
  // libvirt's virXMLParseHelper (src/util/virxml.c) compares the root name exactly: `<Volume>`,
  // `<volumes>` are refused. A warning in the editor (the file may be another program's XML); an
  // error for a file named to `check`. The quick fix renames the start and end tag.
  {
    id: 'root-element-near-miss',
    severity: 'warning',
    layer: 'PARSE',
    message: "XML error: expecting root element of '{expected}', not '{found}'",
    doc: DOC.storage,
  },
  // A file named to `check` whose root is no libvirt document this project judges.
  {
    id: 'root-element-foreign',
    severity: 'error',
    layer: 'PARSE',
    message:
      "XML error: expecting root element of 'volume', not '{found}' (check judges <volume>, <domain>, <disk>, " +
      '<secret> and <encryption> documents)',
    doc: DOC.storage,
  },
  // Not libvirt's: the service keeps at most MAX_DIAGNOSTICS per document (validation/context.ts).
  {
    id: 'too-many-diagnostics',
    severity: 'information',
    layer: 'SYNTAX',
    message: '{count} more problems are not shown (at most {max} are reported per document)',
    doc: 'https://www.w3.org/TR/xml/#sec-well-formed',
  },
] as const satisfies readonly RuleDef[];
