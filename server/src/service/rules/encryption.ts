// Rules of the <encryption> element (libvirt-rules.md §1), shared by volumes, domain disks and
// bare snippets. Messages carry libvirt's prefix ("XML error: ", "unsupported configuration: ").
import type { RuleDef } from '../types';
import { DOC } from '../../../../schemas/vocabulary';

const E = DOC.storageEncryption;

export const ENCRYPTION_RULES: RuleDef[] = [
  { id: 'encryption-format-required', severity: 'error', layer: 'PARSE', ref: 'ENC-FORMAT-REQUIRED', message: 'XML error: unknown volume encryption format', doc: E },
  { id: 'encryption-format-unknown', severity: 'error', layer: 'PARSE', ref: 'ENC-FORMAT-ENUM', message: 'unsupported configuration: unknown volume encryption format type {format}', doc: E },
];
