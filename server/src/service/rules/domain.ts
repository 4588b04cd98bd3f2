// Rules of domain <disk> encryption (libvirt-rules.md §2): the parser (domain_conf.c), generic
// validation (domain_validate.c) and the qemu driver's validation (qemu_domain.c
// qemuDomainValidateStorageSource, qemu_validate.c), assuming a current qemu with every
// capability. Ids are stable: never rename one.
import type { RuleDef } from '../types';
import { DOC } from '../../../../schemas/vocabulary';

const D = DOC.domainDisk;

export const DOMAIN_RULES: RuleDef[] = [
  { id: 'disk-encryption-both', severity: 'error', layer: 'PARSE', ref: 'DENC-BOTH', message: 'unsupported configuration: an <encryption> definition already found for disk source', doc: D },
  { id: 'disk-encryption-cipher', severity: 'error', layer: 'DEF-VAL', ref: 'DENC-CIPHER', message: 'unsupported configuration: supplying <cipher> for domain disk definition is unnecessary', doc: D },
  { id: 'disk-encryption-lun', severity: 'error', layer: 'DEF-VAL', ref: 'DENC-LUN', message: "unsupported configuration: disk device 'lun' doesn't support encryption", doc: D },
  { id: 'disk-encryption-vhostuser', severity: 'error', layer: 'DEF-VAL', ref: 'DENC-VHOSTUSER', message: 'unsupported configuration: encryption is not supported with vhostuser disk', doc: D },
  { id: 'disk-encryption-old-qcow', severity: 'error', layer: 'QEMU-VAL', ref: 'DENC-QEMU-OLD', since: '4.5.0', message: 'unsupported configuration: old qcow/qcow2 encryption is not supported', doc: D },
  { id: 'disk-encryption-image-format', severity: 'error', layer: 'QEMU-VAL', ref: 'DENC-QEMU-IMGFMT', message: "unsupported configuration: encryption is supported only with 'raw' and 'qcow2' image format", doc: D },
  { id: 'disk-encryption-qemu-luks2', severity: 'error', layer: 'QEMU-VAL', ref: 'DENC-QEMU-LUKS2', message: 'unsupported configuration: {format} is currently not supported by the qemu encryption engine', doc: D },
  { id: 'disk-encryption-qemu-one-secret', severity: 'error', layer: 'QEMU-VAL', ref: 'DENC-QEMU-ONE-SECRET', since: '9.3.0', message: 'unsupported configuration: qemu encryption engine expects only a single secret', doc: D },
  { id: 'disk-encryption-rbd-only', severity: 'error', layer: 'QEMU-VAL', ref: 'DENC-RBD-ONLY', since: '7.9.0', message: 'unsupported configuration: librbd encryption is supported only with RBD backed disks', doc: D },
  { id: 'disk-encryption-sd-secrets', severity: 'error', layer: 'QEMU-VAL', ref: 'DENC-SD', since: '9.3.0', message: "unsupported configuration: sd card '{dst}' does not support multiple encryption secrets", doc: D },
  { id: 'disk-encryption-no-secret', severity: 'warning', layer: 'RUNTIME', ref: 'DENC-NO-SECRET', message: "internal error: missing secret info for 'luks' driver (when the VM starts)", doc: D },
  { id: 'disk-encryption-location', severity: 'warning', layer: 'RNG', ref: 'DENC-LOCATION', message: "The schema does not allow <encryption> in the <source> of a {what} disk; libvirt's parser reads it anyway.", doc: D },
  // The disk's image formats and backing chain (domain_conf.c virDomainDiskBackingStoreParse,
  // virDomainDiskDefDriverParseXML; qemu_domain.c qemuDomainValidateStorageSource), measured.
  { id: 'disk-driver-format-unknown', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c', message: "unsupported configuration: unknown driver format value '{format}'", doc: D },
  { id: 'disk-backing-type-unknown', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c', message: "XML error: unknown storage source type '{type}'", doc: D },
  { id: 'disk-backing-format-required', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c', message: 'XML error: missing disk backing store format', doc: D },
  { id: 'disk-backing-format-unknown', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c', message: "XML error: unknown storage source format '{format}'", doc: D },
  { id: 'disk-backing-source-required', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c', message: 'XML error: missing disk backing store source', doc: D },
  { id: 'disk-format-unsupported', severity: 'error', layer: 'QEMU-VAL', ref: 'qemu_domain.c', message: 'unsupported configuration: {detail}', doc: D },
  { id: 'disk-encryption-legacy-location', severity: 'hint', layer: 'LINT', ref: 'DENC-LOCATION', since: '3.9.0', message: 'The <encryption> of a disk belongs in its <source> since libvirt 3.9.0; the <disk>-level place is the legacy one.', doc: D },
];
