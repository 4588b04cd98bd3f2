// Rules of <volume> documents: libvirt's parser (storage_conf.c virStorageVolDefParseXML)
// and the storage driver at creation (storage_util.c, storage_driver.c,
// storage_backend_*.c). Ids are stable: never rename one.
import type { RuleDef } from '../types';
import { DOC } from '../../../../schemas/vocabulary';

const V = DOC.storageVol;
const E = DOC.storageEncryption;

export const VOLUME_RULES = [
  // ---- parser (§3) ----
  { id: 'volume-name-required', severity: 'error', layer: 'PARSE', ref: 'VOL-NAME-REQUIRED', message: 'XML error: missing volume name element', doc: V },
  { id: 'volume-name-off-schema', severity: 'warning', layer: 'RNG', ref: 'VOL-NAME-RNG', message: "The schema refuses the volume name '{name}' (it may not contain '/' nor be '.' or '..').", doc: V },
  { id: 'volume-type-unknown', severity: 'error', layer: 'PARSE', ref: 'VOL-TYPE', message: "unsupported configuration: unknown volume type '{type}'", doc: V },
  { id: 'volume-type-output-only', severity: 'hint', layer: 'LINT', ref: 'VOL-TYPE', message: "The volume type is output only: libvirt sets it when it creates the volume{extra}.", doc: V },
  { id: 'volume-target-missing', severity: 'warning', layer: 'RNG', ref: 'VOL-TARGET-RNG', message: 'The schema requires a <target> (libvirt creates the volume with the pool defaults without one).', doc: V },
  { id: 'volume-capacity-required', severity: 'error', layer: 'PARSE', ref: 'VOL-CAPACITY-REQUIRED', message: 'XML error: missing capacity element', doc: V },
  { id: 'volume-size-malformed', severity: 'error', layer: 'PARSE', ref: 'VOL-SIZE-SYNTAX', message: 'XML error: malformed capacity element', doc: V },
  { id: 'volume-size-off-schema', severity: 'warning', layer: 'RNG', ref: 'VOL-SIZE-RNG', message: "The schema allows only digits in <{element}>; libvirt's parser reads '{value}' as {parsed}.", doc: V },
  { id: 'volume-unit-unknown', severity: 'error', layer: 'PARSE', ref: 'VOL-UNIT', message: "invalid argument: unknown suffix '{unit}'", doc: V },
  { id: 'volume-size-overflow', severity: 'error', layer: 'PARSE', ref: 'VOL-SIZE-OVERFLOW', message: 'numerical overflow: value too large: {value}{unit}', doc: V },
  { id: 'volume-format-unknown', severity: 'error', layer: 'PARSE', ref: 'VOL-FORMAT-BY-POOL', message: 'unsupported configuration: unknown volume format type {format}', doc: V },
  // commit a48c714 removed the "luks" volume format; the schema kept it.
  { id: 'volume-format-luks', severity: 'error', layer: 'PARSE', ref: 'VOL-FORMAT-LUKS', message: 'unsupported configuration: unknown volume format type luks', doc: E },
  { id: 'volume-format-ignored', severity: 'warning', layer: 'LINT', ref: 'VOL-FORMAT-BY-POOL', message: "A {pool} pool ignores the volume's <format>.", doc: V },
  { id: 'volume-perm-mode-invalid', severity: 'error', layer: 'PARSE', ref: 'VOL-PERM-MODE', message: 'XML error: malformed octal mode', doc: V },
  { id: 'volume-perm-owner-invalid', severity: 'error', layer: 'PARSE', ref: 'VOL-PERM-OWNER/GROUP', message: 'XML error: malformed owner element', doc: V },
  { id: 'volume-perm-group-invalid', severity: 'error', layer: 'PARSE', ref: 'VOL-PERM-OWNER/GROUP', message: 'XML error: malformed group element', doc: V },
  { id: 'volume-backing-no-path', severity: 'warning', layer: 'RNG', ref: 'VOL-BACKING', message: 'A <backingStore> without a <path> is ignored by libvirt (and refused by the schema).', doc: V },
  { id: 'volume-backing-path-relative', severity: 'warning', layer: 'RNG', ref: 'VOL-BACKING-RNG', message: "The schema requires an absolute backing store path; libvirt's storage driver checks and passes a relative one as is, so it is looked up in the daemon's working directory (usually /), not in the pool.", doc: V },
  { id: 'volume-backing-format-missing', severity: 'warning', layer: 'LINT', ref: 'VOL-BACKING', message: "No backing store <format>: libvirt passes backing_fmt=raw to qemu-img, so a qcow2 backing file would be read as raw data.", doc: V },
  { id: 'volume-compat-invalid', severity: 'error', layer: 'PARSE', ref: 'VOL-COMPAT-SYNTAX', message: "XML error: forbidden characters in 'compat' attribute", doc: V },
  { id: 'volume-compat-off-schema', severity: 'warning', layer: 'RNG', ref: 'VOL-COMPAT-RNG', message: "The schema allows only digits '.' digits in <compat>; libvirt passes '{value}' to qemu-img as is.", doc: V },
  { id: 'volume-compat-default', severity: 'warning', layer: 'LINT', ref: 'VOL-COMPAT-CREATE-DEFAULT', until: '10.2.0', message: 'No <compat>: libvirt before 10.2.0 creates qcow2 version 2 (compat 0.10), without lazy refcounts, extended L2 or zstd. Add <compat>1.1</compat>.', doc: V },
  { id: 'volume-feature-unknown', severity: 'error', layer: 'PARSE', ref: 'VOL-FEATURES', message: 'unsupported configuration: unsupported feature {name}', doc: V },
  { id: 'volume-feature-off-schema', severity: 'warning', layer: 'RNG', ref: 'VOL-FEATURES', message: "The schema does not list the feature '{name}'; the storage driver ignores it when it creates the volume.", doc: V },
  { id: 'volume-cluster-invalid', severity: 'error', layer: 'PARSE', ref: 'VOL-CLUSTER', since: '7.4.0', message: "XML error: Invalid value '{value}' for element or attribute './target/clusterSize'", doc: V },
  { id: 'volume-nocow-ignored', severity: 'hint', layer: 'LINT', ref: 'VOL-NOCOW', message: 'libvirt does not write <nocow/> back into the volume XML.', doc: V },
  // ---- creation (§4) ----
  { id: 'volume-name-slash', severity: 'error', layer: 'CREATE', ref: 'VOL-NAME-SLASH-CREATE', message: "Requested operation is not valid: volume name '{name}' cannot contain '/'", doc: V },
  { id: 'volume-pool-no-create', severity: 'error', layer: 'CREATE', ref: 'VCR-NO-CREATE', message: 'this function is not supported by the connection driver: storage pool does not support volume creation', doc: V },
  { id: 'volume-capacity-zero-pool', severity: 'error', layer: 'CREATE', ref: 'VOL-CAP-ZERO-CREATE', message: 'this function is not supported by the connection driver: volume capacity required for this storage pool', doc: V },
  { id: 'volume-secret-count', severity: 'error', layer: 'CREATE', ref: 'VCR-SECRET-COUNT', message: "invalid argument: A single <secret type='passphrase'...> element is expected in encryption description", doc: E },
  { id: 'volume-encryption-qcow-create', severity: 'error', layer: 'CREATE', ref: 'VCR-QCOW-ENC', since: '4.5.0', message: 'unsupported configuration: creation of qcow2 encrypted image is not supported', doc: E },
  { id: 'volume-compat-format', severity: 'error', layer: 'CREATE', ref: 'VCR-COMPAT-FMT', message: 'unsupported configuration: compatibility option only available with qcow2', doc: V },
  { id: 'volume-features-format', severity: 'error', layer: 'CREATE', ref: 'VCR-FEATURES-FMT', message: 'unsupported configuration: format features only available with qcow2', doc: V },
  { id: 'volume-raw-encryption', severity: 'error', layer: 'CREATE', ref: 'VCR-RAW-ENC', message: 'internal error: Only luks encryption is supported for raw files', doc: E },
  { id: 'volume-backing-raw', severity: 'error', layer: 'CREATE', ref: 'VCR-BACKING-RAW', message: 'unsupported configuration: cannot set backing store for raw volume', doc: V },
  // storage_util.c storageBackendCreateRaw (plain raw files are written without qemu-img).
  { id: 'volume-backing-raw-file', severity: 'error', layer: 'CREATE', ref: 'VCR-BACKING-RAW', message: 'this function is not supported by the connection driver: backing storage not supported for raw volumes', doc: V },
  { id: 'volume-encryption-format-unsupported', severity: 'error', layer: 'CREATE', ref: 'VCR-ENC-LUKS', message: 'unsupported configuration: unsupported volume encryption format {number}', doc: E },
  { id: 'volume-encryption-image-format', severity: 'error', layer: 'CREATE', ref: 'VCR-ENC-FMT', message: 'unsupported configuration: volume encryption unsupported with format {format}', doc: E },
  { id: 'volume-lazy-refcounts-compat', severity: 'error', layer: 'CREATE', ref: 'VCR-LAZY-COMPAT', message: 'unsupported configuration: lazy_refcounts not supported with compat level {compat}', doc: V },
  { id: 'volume-extended-l2-compat', severity: 'error', layer: 'CREATE', ref: 'VCR-EXTL2-COMPAT', message: "unsupported configuration: 'extended_l2' not supported with compat level {compat}", doc: V },
  { id: 'volume-encryption-pool-luks-only', severity: 'error', layer: 'CREATE', ref: 'VCR-POOL-LUKS-ONLY', message: 'unsupported configuration: storage pool only supports LUKS encrypted volumes', doc: E },
  { id: 'volume-encryption-pool-unsupported', severity: 'error', layer: 'CREATE', ref: 'VCR-POOL-NOENC', message: 'unsupported configuration: storage pool does not support encrypted volumes', doc: E },
  { id: 'volume-encryption-ploop', severity: 'error', layer: 'CREATE', ref: 'VCR-PLOOP-ENC', message: 'unsupported configuration: encrypted ploop volumes are not supported with ploop init', doc: E },
  { id: 'volume-ploop-tools', severity: 'error', layer: 'CREATE', ref: 'VCR-PLOOP', message: 'internal error: unable to find ploop, please install ploop tools', doc: V },
  // storage_util.c virStorageBackendVolCreateLocal: the target path is pool/name; '.' and '..' exist.
  { id: 'volume-name-exists', severity: 'error', layer: 'CREATE', ref: 'VCR-EXISTS', message: "Requested operation is not valid: volume target path '<pool>/{name}' already exists", doc: V },
  // storageBackendCreateRaw → virFileSetCOW: only btrfs has the flag (measured on ext4).
  { id: 'volume-nocow-raw', severity: 'error', layer: 'CREATE', ref: 'VOL-NOCOW', message: "unable to control COW flag on '<pool>/{name}', not btrfs: Function not implemented (libvirt sets the no-COW flag itself on plain raw files, which only works on btrfs)", doc: V },
  // qemu-img: vdi/vpc have no backing files; vmdk only takes a vmdk backing file.
  { id: 'volume-backing-format-unsupported', severity: 'error', layer: 'QEMU-IMG', ref: 'QIMG-BACKING', message: 'qemu-img: {detail}', doc: V },
  // storage_util.c createFileDir.
  { id: 'volume-backing-dir', severity: 'error', layer: 'CREATE', ref: 'VCR-DIR', message: 'this function is not supported by the connection driver: backing storage not supported for directories volumes', doc: V },
  { id: 'volume-encryption-ignored', severity: 'warning', layer: 'LINT', ref: 'VCR-DIR-ENC', message: "libvirt silently ignores <encryption> on a '{format}' volume: nothing is encrypted.", doc: E },
  { id: 'volume-feature-ignored', severity: 'warning', layer: 'LINT', ref: 'VCR-DATAFILE', message: "The storage driver ignores the '{name}' feature when it creates the volume (only lazy_refcounts and extended_l2 become qemu-img options).", doc: V },
] as const satisfies readonly RuleDef[];
