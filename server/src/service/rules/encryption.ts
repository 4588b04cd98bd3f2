// Rules of the <encryption> element (storage_encryption_conf.c virStorageEncryptionParseNode),
// shared by volumes, domain disks and bare snippets. Messages carry libvirt's prefix ("XML error: ",
// "unsupported configuration: ").
// Ids are stable (quick fixes and severity overrides key on them): never rename one.
import type { RuleDef } from '../types';
import { DOC } from '../../../../schemas/vocabulary';

const E = DOC.storageEncryption;

export const ENCRYPTION_RULES = [
  // storage_encryption_conf.c virStorageEncryptionParseNode: virXPathString treats '' as missing.
  {
    id: 'encryption-format-required',
    severity: 'error',
    layer: 'PARSE',
    ref: 'ENC-FORMAT-REQUIRED',
    message: 'XML error: unknown volume encryption format',
    doc: E,
  },
  {
    id: 'encryption-format-unknown',
    severity: 'error',
    layer: 'PARSE',
    ref: 'ENC-FORMAT-ENUM',
    message: 'unsupported configuration: unknown volume encryption format type {format}',
    doc: E,
  },
  // virXMLPropEnum(…, VIR_XML_PROP_NONZERO): 'default' and '' are refused too.
  {
    id: 'encryption-engine-invalid',
    severity: 'error',
    layer: 'PARSE',
    ref: 'ENC-ENGINE-ENUM',
    since: '7.9.0',
    message: "XML error: Invalid value for attribute 'engine' in element 'encryption': '{value}'.",
    doc: E,
  },
  {
    id: 'encryption-engine-ignored',
    severity: 'warning',
    layer: 'LINT',
    ref: 'ENC-ENGINE-STORAGE-IGNORED',
    since: '7.9.0',
    message: 'The storage driver ignores the encryption engine of a volume; it only matters for domain disks.',
    doc: E,
  },
  // virStorageEncryptionSecretParse.
  {
    id: 'encryption-secret-type-required',
    severity: 'error',
    layer: 'PARSE',
    ref: 'SEC-TYPE-REQUIRED',
    message: 'XML error: unknown volume encryption secret type',
    doc: E,
  },
  {
    id: 'encryption-secret-type-unknown',
    severity: 'error',
    layer: 'PARSE',
    ref: 'SEC-TYPE-ENUM',
    message: 'unsupported configuration: unknown volume encryption secret type {type}',
    doc: E,
  },
  // virsecret.c virSecretLookupParseSecret.
  {
    id: 'encryption-secret-ref-missing',
    severity: 'error',
    layer: 'PARSE',
    ref: 'SEC-REF-NONE',
    message: 'XML error: missing secret uuid or usage attribute',
    doc: E,
  },
  {
    id: 'encryption-secret-ref-both',
    severity: 'error',
    layer: 'PARSE',
    ref: 'SEC-REF-BOTH',
    message: 'XML error: either secret uuid or usage expected',
    doc: E,
  },
  {
    id: 'encryption-secret-uuid-invalid',
    severity: 'error',
    layer: 'PARSE',
    ref: 'SEC-UUID-SYNTAX',
    message: "XML error: invalid secret uuid '{uuid}'",
    doc: E,
  },
  {
    id: 'encryption-secret-uuid-noncanonical',
    severity: 'warning',
    layer: 'RNG',
    ref: 'SEC-UUID-SYNTAX (RNG)',
    message:
      "The schema allows only 32 hex digits or the 8-4-4-4-12 form; libvirt's parser accepts " +
      "'{uuid}' and reads it as {canonical}.",
    doc: E,
  },
  // virStorageEncryptionInfoParseCipher / …ParseIvgen (format luks only).
  {
    id: 'cipher-name-required',
    severity: 'error',
    layer: 'PARSE',
    ref: 'CIPH-NAME-REQUIRED',
    message: "XML error: cipher info missing 'name' attribute",
    doc: E,
  },
  {
    id: 'cipher-size-required',
    severity: 'error',
    layer: 'PARSE',
    ref: 'CIPH-SIZE-REQUIRED',
    message: "XML error: Missing required attribute 'size' in element 'cipher'",
    doc: E,
  },
  {
    id: 'cipher-size-invalid',
    severity: 'error',
    layer: 'PARSE',
    ref: 'CIPH-SIZE-UINT',
    message:
      "XML error: Invalid value for attribute 'size' in element 'cipher': '{value}'. Expected " +
      'non-negative integer value',
    doc: E,
  },
  {
    id: 'cipher-size-off-schema',
    severity: 'warning',
    layer: 'RNG',
    ref: 'CIPH-SIZE-RNG',
    message: "The schema allows only digits in the cipher size; libvirt's parser reads '{value}' as {size}.",
    doc: E,
  },
  {
    id: 'cipher-mode-hash-pair',
    severity: 'warning',
    layer: 'RNG',
    ref: 'CIPH-MODE-HASH-PAIR',
    message: "The schema requires the cipher's 'mode' and 'hash' attributes together: '{missing}' is missing.",
    doc: E,
  },
  {
    id: 'ivgen-needs-cipher',
    severity: 'error',
    layer: 'PARSE',
    ref: 'IVGEN-NEEDS-CIPHER',
    message: 'XML error: ivgen element found, but cipher is missing',
    doc: E,
  },
  {
    id: 'ivgen-name-required',
    severity: 'error',
    layer: 'PARSE',
    ref: 'IVGEN-NAME-REQUIRED',
    message: 'XML error: missing ivgen info name string',
    doc: E,
  },
  {
    id: 'cipher-needs-ivgen',
    severity: 'warning',
    layer: 'RNG',
    ref: 'CIPHER-NEEDS-IVGEN',
    message:
      'The schema requires <ivgen> together with <cipher> (libvirt accepts the cipher alone and qemu picks the ivgen).',
    doc: E,
  },
  {
    id: 'encryption-cipher-without-secret',
    severity: 'warning',
    layer: 'RNG',
    ref: 'ENC-CHILDREN-RNG',
    message: 'The schema allows <cipher>/<ivgen> only next to a <secret>.',
    doc: E,
  },
  {
    id: 'encryption-cipher-ignored',
    severity: 'warning',
    layer: 'LINT',
    ref: 'ENC-CIPHER-ONLY-LUKS',
    message:
      "libvirt silently ignores <{element}> unless the encryption format is 'luks' (here " +
      "'{format}'): it is not checked, used or written back.",
    doc: E,
  },
  {
    id: 'encryption-format-deprecated',
    severity: 'warning',
    layer: 'LINT',
    ref: 'DENC-QEMU-OLD',
    message:
      "Encryption format '{format}' means the legacy qcow AES scheme: libvirt refuses to create " +
      "it since 4.5.0 and qemu system emulators no longer open it. Use 'luks'.",
    doc: E,
  },
  {
    id: 'encryption-secret-missing',
    severity: 'warning',
    layer: 'LINT',
    ref: 'ENC-EMPTY-OK',
    message: "Encryption format 'luks' needs one passphrase <secret>: creating or opening the image fails without it.",
    doc: E,
  },
  // virsecret.c virSecretGetSecretString: lookup by usage; no secret can have an empty volume
  // usage (secret_conf.c refuses it), so usage='' never resolves.
  {
    id: 'encryption-secret-usage-empty',
    severity: 'error',
    layer: 'CREATE',
    ref: 'SEC-LOOKUP',
    message: "Secret not found: no secret with matching usage ''",
    doc: E,
  },
  // Parser takes ./cipher[1], ./ivgen[1], ./encryption[1]; the schema allows one.
  {
    id: 'duplicate-element',
    severity: 'warning',
    layer: 'RNG',
    ref: 'ENC-DUP',
    message: 'Only the first <{element}> is used; the schema allows one.',
    doc: E,
  },
  // Unknown elements/attributes: ignored by every parser, rejected by the schema.
  {
    id: 'unknown-element',
    severity: 'warning',
    layer: 'RNG',
    ref: 'ENC-UNKNOWN-CHILD',
    message: 'Unknown element <{element}> in <{parent}>: libvirt ignores it and the schema rejects it.',
    doc: E,
  },
  {
    id: 'unknown-attribute',
    severity: 'warning',
    layer: 'RNG',
    ref: 'ENC-UNKNOWN-CHILD',
    message: "Unknown attribute '{attribute}' on <{element}>: libvirt ignores it and the schema rejects it.",
    doc: E,
  },
] as const satisfies readonly RuleDef[];
