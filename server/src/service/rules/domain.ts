// Rules of domain <disk> encryption: the parser (domain_conf.c), generic
// validation (domain_validate.c) and the qemu driver's validation (qemu_domain.c
// qemuDomainValidateStorageSource, qemu_validate.c), assuming a current qemu with every
// capability. Ids are stable: never rename one.
import type { RuleDef } from '../types';
import { DOC } from '../../../../schemas/vocabulary';

const D = DOC.domainDisk;

export const DOMAIN_RULES = [
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
  // libvirt 9.0's general disk rules (validation/disk.ts), measured against the test driver
  // (PARSE, DEF-VAL) and a session libvirtd's qemu driver (QEMU-VAL). `ref` names the function.
  { id: 'disk-type-invalid', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskDefParseSourceXML', message: "XML error: Invalid value for attribute 'type' in element 'disk': '{value}'.", doc: D },
  { id: 'disk-device-invalid', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskDefParseXML', message: "XML error: Invalid value for attribute 'device' in element 'disk': '{value}'.", doc: D },
  { id: 'disk-target-bus-invalid', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskDefParseXML', message: "XML error: Invalid value for attribute 'bus' in element 'target': '{value}'.", doc: D },
  { id: 'disk-source-protocol-required', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskSourceNetworkParse', message: "XML error: Missing required attribute 'protocol' in element 'source'", doc: D },
  { id: 'disk-source-protocol-invalid', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskSourceNetworkParse', message: "XML error: Invalid value for attribute 'protocol' in element 'source': '{value}'.", doc: D },
  { id: 'disk-source-name-required', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskSourceNetworkParse', message: 'XML error: missing name for disk source', doc: D },
  { id: 'disk-source-name-split', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskSourceNetworkParse', message: "XML error: can't split path '{name}' into pool name and image name", doc: D },
  { id: 'disk-source-pool-volume', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskSourcePoolDefParse', message: "XML error: 'pool' and 'volume' must be specified together for 'pool' type source", doc: D },
  { id: 'disk-host-transport-invalid', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainStorageNetworkParseHost', message: "unsupported configuration: unknown protocol transport type '{value}'", doc: D },
  { id: 'disk-host-socket-required', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainStorageNetworkParseHost', message: 'XML error: missing socket for unix transport', doc: D },
  { id: 'disk-host-socket-unsupported', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainStorageNetworkParseHost', message: "XML error: transport '{transport}' does not support socket attribute", doc: D },
  { id: 'disk-host-name-required', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainStorageNetworkParseHost', message: 'XML error: missing name for host', doc: D },
  { id: 'disk-host-port-invalid', severity: 'error', layer: 'PARSE', ref: 'virstring.c virStringParsePort', message: "invalid argument: failed to parse port number '{value}'", doc: D },
  { id: 'disk-host-port-range', severity: 'error', layer: 'PARSE', ref: 'virstring.c virStringParsePort', message: "invalid argument: port '{value}' out of range", doc: D },
  { id: 'disk-nvme-source-type-required', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskSourceNVMeParse', message: "XML error: missing 'type' attribute to disk source", doc: D },
  { id: 'disk-nvme-source-type-invalid', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskSourceNVMeParse', message: "XML error: unsupported source type '{value}'", doc: D },
  { id: 'disk-nvme-namespace-required', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskSourceNVMeParse', message: "XML error: missing 'namespace' attribute to disk source", doc: D },
  { id: 'disk-nvme-namespace-invalid', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskSourceNVMeParse', message: "XML error: malformed namespace '{value}'", doc: D },
  { id: 'disk-nvme-managed-invalid', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskSourceNVMeParse', message: "XML error: Invalid value for attribute 'managed' in element 'source': '{value}'.", doc: D },
  { id: 'disk-nvme-address-required', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskSourceNVMeParse', message: 'XML error: NVMe disk source is missing address', doc: D },
  { id: 'disk-nvme-namespace-zero', severity: 'error', layer: 'DEF-VAL', ref: 'domain_validate.c virDomainDiskDefValidate', message: "unsupported configuration: NVMe namespace can't be zero", doc: D },
  { id: 'disk-vhostuser-source-type-required', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskSourceVHostUserParse', message: "XML error: missing 'type' attribute for vhostuser disk source", doc: D },
  { id: 'disk-vhostuser-source-type-invalid', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskSourceVHostUserParse', message: "XML error: invalid 'type' attribute for vhostuser disk source", doc: D },
  { id: 'disk-vhostuser-path-required', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskSourceVHostUserParse', message: "XML error: missing 'path' attribute for vhostuser disk source", doc: D },
  { id: 'disk-target-dev-unknown', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskDefAssignAddress (post-parse)', message: "XML error: Unknown disk name '{dev}' and no address specified", doc: D },
  { id: 'disk-lun-protocol', severity: 'error', layer: 'DEF-VAL', ref: 'domain_validate.c virDomainDiskDefSourceLUNValidate', message: "unsupported configuration: disk device='lun' is not supported for protocol='{protocol}'", doc: D },
  { id: 'disk-lun-source', severity: 'error', layer: 'DEF-VAL', ref: 'domain_validate.c virDomainDiskDefSourceLUNValidate', message: "unsupported configuration: disk device='lun' is only valid for block type disk source", doc: D },
  { id: 'disk-lun-format', severity: 'error', layer: 'DEF-VAL', ref: 'domain_validate.c virDomainDiskDefSourceLUNValidate', message: "unsupported configuration: disk device 'lun' must use 'raw' format", doc: D },
  { id: 'disk-floppy-bus', severity: 'error', layer: 'DEF-VAL', ref: 'domain_validate.c virDomainDiskDefValidate', message: "internal error: Invalid bus type '{bus}' for floppy disk", doc: D },
  { id: 'disk-fdc-bus', severity: 'error', layer: 'DEF-VAL', ref: 'domain_validate.c virDomainDiskDefValidate', message: "internal error: Invalid bus type 'fdc' for disk", doc: D },
  { id: 'disk-target-missing', severity: 'error', layer: 'DEF-VAL', ref: 'domain_validate.c virDomainDiskDefValidate', message: 'missing target information for device{what}', doc: D },
  { id: 'disk-target-dev-harddisk', severity: 'error', layer: 'DEF-VAL', ref: 'domain_validate.c virDomainDiskDefValidate', message: 'internal error: Invalid harddisk device name: {dev}', doc: D },
  { id: 'disk-target-dev-floppy', severity: 'error', layer: 'DEF-VAL', ref: 'domain_validate.c virDomainDiskDefValidate', message: 'internal error: Invalid floppy device name: {dev}', doc: D },
  { id: 'disk-source-missing', severity: 'error', layer: 'DEF-VAL', ref: 'domain_validate.c virDomainDiskDefValidate', message: 'missing source information for device{dst}', doc: D },
  { id: 'disk-ejectable-bus', severity: 'error', layer: 'QEMU-VAL', ref: 'qemu_validate.c qemuValidateDomainDeviceDefDiskFrontend', message: "unsupported configuration: disk type of '{dst}' does not support ejectable media", doc: D },
  { id: 'disk-target-dev-partition', severity: 'error', layer: 'QEMU-VAL', ref: 'qemu_validate.c qemuValidateDomainDeviceDefDiskFrontend', message: "unsupported configuration: invalid disk target '{dev}', partitions can't appear in disk targets", doc: D },
  { id: 'disk-attribute-invalid', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskDefParseXML (virXMLPropEnum)', message: "XML error: Invalid value for attribute '{attribute}' in element '{element}': '{value}'.", doc: D },
  { id: 'disk-sgio-unfiltered', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskDefParseXML', message: 'unsupported configuration: unfiltered sgio is no longer supported', doc: D },
  { id: 'disk-lun-only', severity: 'error', layer: 'DEF-VAL', ref: 'domain_validate.c virDomainDiskDefValidate', message: "unsupported configuration: {attribute} can be used only with device='lun'", doc: D },
  { id: 'disk-model-bus', severity: 'error', layer: 'DEF-VAL', ref: 'domain_validate.c virDomainDiskDefValidate', message: "unsupported configuration: disk model '{model}' not supported for bus '{bus}'", doc: D },
  { id: 'disk-tray-device', severity: 'error', layer: 'DEF-VAL', ref: 'domain_validate.c virDomainDiskDefValidate', message: 'unsupported configuration: tray is only valid for cdrom and floppy', doc: D },
  // libvirt 9.6.0 (NEWS "qemu: Support removable attribute for scsi disk") also takes scsi disks.
  {
    id: 'disk-removable-bus', severity: 'error', layer: 'DEF-VAL',
    ref: 'domain_validate.c virDomainDiskDefValidate', until: '9.6.0',
    message: 'XML error: removable is only valid for usb disks', doc: D,
  },
  {
    id: 'disk-removable-bus-scsi', severity: 'error', layer: 'DEF-VAL',
    ref: 'domain_validate.c virDomainDiskDefValidate', since: '9.6.0',
    message: 'XML error: removable is only valid for usb or scsi disks', doc: D,
  },
  { id: 'disk-startup-policy-type', severity: 'error', layer: 'DEF-VAL', ref: 'domain_validate.c virDomainDiskDefValidateStartupPolicy', message: "XML error: disk startupPolicy '{policy}' is not allowed for disk of '{type}' type", doc: D },
  { id: 'disk-startup-policy-requisite', severity: 'error', layer: 'DEF-VAL', ref: 'domain_validate.c virDomainDiskDefValidateStartupPolicy', message: "XML error: disk startupPolicy 'requisite' is allowed only for cdrom or floppy", doc: D },
  { id: 'disk-dir-format', severity: 'error', layer: 'QEMU-VAL', ref: 'qemu_domain.c qemuDomainValidateStorageSource', message: "unsupported configuration: storage type 'dir' requires use of storage format 'fat'", doc: D },
  { id: 'disk-readonly-bus', severity: 'error', layer: 'QEMU-VAL', ref: 'qemu_validate.c qemuValidateDomainDeviceDefDiskFrontend', message: 'unsupported configuration: readonly {bus} disks are not supported', doc: D },
  // Issue 16 §6: refusals found in libvirt's qemu driver test data (qemuxmlconfdata). Where a
  // behaviour changed after 9.0 and the release is not recorded in NEWS, `since` is 11.3.0, the
  // first release whose source was checked (9.0.0 checked as the older behaviour).
  {
    id: 'disk-auth-both', severity: 'error', layer: 'PARSE', ref: 'domain_conf.c virDomainDiskDefParseSourceXML',
    message: 'unsupported configuration: an <auth> definition already found for disk source', doc: D,
  },
  {
    id: 'disk-auth-username-required', severity: 'error', layer: 'PARSE',
    ref: 'storage_source_conf.c virStorageAuthDefParse',
    message: 'XML error: missing username for auth', doc: D,
  },
  {
    id: 'disk-auth-type-unknown', severity: 'error', layer: 'PARSE',
    ref: 'storage_source_conf.c virStorageAuthDefParse',
    message: "unsupported configuration: unknown auth type '{value}'", doc: D,
  },
  {
    id: 'disk-auth-secret-required', severity: 'error', layer: 'PARSE',
    ref: 'storage_source_conf.c virStorageAuthDefParse',
    message: 'XML error: Missing <secret> element in auth', doc: D,
  },
  {
    id: 'disk-auth-secret-lookup-required', severity: 'error', layer: 'PARSE',
    ref: 'virsecret.c virSecretLookupParseSecret',
    message: 'XML error: missing secret uuid or usage attribute', doc: D,
  },
  {
    id: 'disk-auth-secret-lookup-both', severity: 'error', layer: 'PARSE',
    ref: 'virsecret.c virSecretLookupParseSecret',
    message: 'XML error: either secret uuid or usage expected', doc: D,
  },
  {
    id: 'disk-auth-protocol', severity: 'error', layer: 'DEF-VAL',
    ref: 'domain_validate.c virDomainDiskDefValidateSourceChainOne',
    message: "unsupported configuration: authentication is not supported for protocol '{protocol}'", doc: D,
  },
  {
    id: 'disk-auth-secret-type-unknown', severity: 'error', layer: 'DEF-VAL',
    ref: 'domain_validate.c virDomainDiskDefValidateSourceChainOne',
    message: "unsupported configuration: unknown secret type '{type}'", doc: D,
  },
  {
    id: 'disk-auth-secret-type-invalid', severity: 'error', layer: 'DEF-VAL',
    ref: 'domain_validate.c virDomainDiskDefValidateSourceChainOne',
    message: "unsupported configuration: invalid secret type '{type}'", doc: D,
  },
  {
    id: 'disk-sheepdog', severity: 'error', layer: 'DEF-VAL',
    ref: 'domain_validate.c virDomainDiskDefValidateSourceChainOne', since: '11.3.0',
    message: "unsupported configuration: 'sheepdog' protocol is no longer supported by any hypervisor driver", doc: D,
  },
  {
    id: 'disk-iscsi-hosts', severity: 'warning', layer: 'RUNTIME',
    ref: 'qemu_block.c qemuBlockStorageSourceGetISCSIProps',
    message: 'internal error: iSCSI protocol accepts only one host (when the VM starts)', doc: D,
  },
  {
    id: 'disk-target-duplicate', severity: 'error', layer: 'DEF-VAL',
    ref: 'domain_conf.c virDomainDiskDefCheckDuplicateInfo',
    message: "XML error: target '{dst}' duplicated for disk sources '{a}' and '{b}'", doc: D,
  },
  {
    id: 'disk-address-duplicate', severity: 'error', layer: 'DEF-VAL',
    ref: 'domain_validate.c virDomainDefDuplicateDriveAddressesValidate',
    message: "unsupported configuration: Found duplicate drive address for disk with target name '{dst}'" +
      " controller='{controller}' bus='{bus}' target='{target}' unit='{unit}'", doc: D,
  },
  {
    id: 'disk-hostdev-address-conflict', severity: 'error', layer: 'PARSE',
    ref: 'domain_conf.c virDomainDiskDefAssignAddress (post-parse)',
    // libvirt's message lacks the closing quote after the unit.
    message: "unsupported configuration: using disk target name '{dst}' conflicts with SCSI host device address "
      + "controller='{controller}' bus='0' target='0' unit='{unit}", doc: D,
  },
  {
    id: 'disk-hostdev-address-used', severity: 'error', layer: 'PARSE',
    ref: 'domain_postparse.c virDomainHostdevDefPostParse',
    message: "XML error: SCSI host address controller='{controller}' bus='{bus}' target='{target}' unit='{unit}' "
      + 'in use by a SCSI disk', doc: D,
  },
  {
    id: 'disk-address-bus', severity: 'error', layer: 'DEF-VAL',
    ref: 'domain_validate.c virDomainDiskAddressDiskBusCompatibility',
    message: "unsupported configuration: Invalid address type '{type}' for the disk '{dst}' with the bus" +
      " type '{bus}'", doc: D,
  },
  // A host fact: QEMU 9.1 dropped virtio-blk's SCSI passthrough (libvirt's capability
  // virtio-blk-pci.scsi is in its QEMU 9.0 capability data, not in 9.1's), so a warning.
  {
    id: 'disk-lun-virtio-qemu', severity: 'warning', layer: 'QEMU-VAL', since: '11.3.0',
    ref: 'qemu_validate.c qemuValidateDomainDeviceDefDiskFrontend',
    message: "unsupported configuration: This QEMU doesn't support SCSI emulation with 'virtio-blk' device "
      + '(with QEMU 9.1 or later)', doc: D,
  },
  {
    id: 'disk-usb-empty', severity: 'error', layer: 'QEMU-VAL', since: '11.3.0',
    ref: 'qemu_validate.c qemuValidateDomainDeviceDefDiskFrontend',
    message: "unsupported configuration: 'usb' disk must not be empty", doc: D,
  },
  {
    id: 'disk-usb-address', severity: 'error', layer: 'QEMU-VAL',
    ref: 'qemu_validate.c qemuValidateDomainDeviceDefDiskFrontend',
    message: 'internal error: unexpected address type for usb disk', doc: D,
  },
  {
    id: 'disk-vendor-product-bus', severity: 'error', layer: 'QEMU-VAL',
    ref: 'qemu_validate.c qemuValidateDomainDeviceDefDiskFrontend', until: '11.3.0',
    message: 'unsupported configuration: Only scsi disk supports vendor and product', doc: D,
  },
  {
    id: 'disk-vendor-bus', severity: 'error', layer: 'QEMU-VAL',
    ref: 'qemu_validate.c qemuValidateDomainDeviceDefDiskFrontend', since: '11.3.0',
    message: "unsupported configuration: Only scsi disk supports 'vendor'", doc: D,
  },
  {
    id: 'disk-product-bus', severity: 'error', layer: 'QEMU-VAL',
    ref: 'qemu_validate.c qemuValidateDomainDeviceDefDiskFrontend', since: '11.3.0',
    message: "unsupported configuration: Only ide, sata and scsi disk supports 'product'", doc: D,
  },
  {
    id: 'disk-vendor-length', severity: 'error', layer: 'DEF-VAL', ref: 'domain_validate.c virDomainDiskDefValidate',
    message: 'unsupported configuration: disk vendor is more than 8 characters', doc: D,
  },
  {
    id: 'disk-product-length', severity: 'error', layer: 'DEF-VAL', ref: 'domain_validate.c virDomainDiskDefValidate',
    message: 'unsupported configuration: disk product is more than {max} characters', doc: D,
  },
  {
    id: 'disk-shared-format', severity: 'error', layer: 'QEMU-VAL',
    ref: 'qemu_validate.c qemuValidateDomainDeviceDefDisk',
    message: "unsupported configuration: shared access for disk '{dst}' requires use of supported storage" +
      " format", doc: D,
  },
  { id: 'disk-encryption-legacy-location', severity: 'hint', layer: 'LINT', ref: 'DENC-LOCATION', since: '3.9.0', message: 'The <encryption> of a disk belongs in its <source> since libvirt 3.9.0; the <disk>-level place is the legacy one.', doc: D },
] as const satisfies readonly RuleDef[];
