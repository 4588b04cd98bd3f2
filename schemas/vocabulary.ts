// The libvirt/QEMU vocabulary as data: one source of truth for validation, completion, hover and
// the image writer. Each entry says what it means, since which version it exists, and where it is
// documented. Sources: libvirt src/conf/storage_encryption_conf.c, storage_conf.c (poolTypeInfo),
// storage_source_conf.c, virutil.c (virScaleInteger); qemu qapi/crypto.json, crypto/block-luks.c,
// block/qcow2.c. The rules built on it: docs/rules.md.

export interface Term {
  value: string;
  description: string;
  /** libvirt version that brought it (for libvirt vocabularies) or qemu version (qemu ones). */
  since?: string;
  /** Version from which it is no longer accepted. */
  until?: string;
  deprecated?: string;
  doc?: string;
}

export const DOC = {
  storageEncryption: 'https://libvirt.org/formatstorageencryption.html',
  storage: 'https://libvirt.org/formatstorage.html',
  storageVol: 'https://libvirt.org/formatstorage.html#storage-volume-xml',
  domainDisk: 'https://libvirt.org/formatdomain.html#hard-drives-floppy-disks-cdroms',
  secret: 'https://libvirt.org/formatsecret.html',
  qemuImg: 'https://www.qemu.org/docs/master/tools/qemu-img.html',
  qemuLuks: 'https://www.qemu.org/docs/master/system/qemu-block-drivers.html#luks',
  qcow2Spec: 'https://www.qemu.org/docs/master/interop/qcow2.html',
} as const;

/** libvirt versions the rule catalogue distinguishes (every "since" in the data is one of these). */
export const LIBVIRT_VERSIONS = [
  '1.1.0',
  '1.2.7',
  '2.1.0',
  '3.9.0',
  '4.5.0',
  '6.10.0',
  '7.4.0',
  '7.9.0',
  '8.1.0',
  '8.10.0',
  '9.0.0',
  '9.3.0',
  '9.8.0',
  '10.2.0',
  '10.10.0',
  '11.3.0',
] as const;
export const NEWEST_LIBVIRT = '11.3.0';

export const ENCRYPTION_FORMATS: Term[] = [
  {
    value: 'luks',
    since: '2.1.0',
    description:
      'LUKS1 encryption, done by qemu (raw volumes become a LUKS container; qcow2 volumes embed ' +
      'the LUKS header, libvirt ≥ 6.10.0). Needs one passphrase `<secret>`.',
    doc: `${DOC.storageEncryption}#luks-format`,
  },
  {
    value: 'luks2',
    since: '7.9.0',
    description:
      'LUKS2, only decrypted by the librbd engine of RBD network disks. The storage driver ' +
      'cannot create it and the qemu engine refuses it.',
    doc: `${DOC.storageEncryption}#luks2-format`,
  },
  {
    value: 'luks-any',
    since: '9.3.0',
    description: 'Either LUKS1 or LUKS2, detected when opened; librbd engine on RBD disks only.',
    doc: `${DOC.storageEncryption}#luks-any-format`,
  },
  {
    value: 'qcow',
    description:
      'Legacy qcow/qcow2 AES-CBC encryption. Cryptographically broken; libvirt refuses to create ' +
      'it since 4.5.0 and qemu system emulators no longer open it.',
    deprecated: 'Since libvirt 4.5.0 `qcow` can no longer be used to create an encrypted volume; use `luks`.',
    doc: `${DOC.storageEncryption}#qcow-format`,
  },
  {
    value: 'default',
    description: 'Let libvirt pick (historically qcow AES). Refused for creation since libvirt 4.5.0.',
    deprecated: 'Since libvirt 4.5.0 `default` can no longer be used to create an encrypted volume; use `luks`.',
    doc: `${DOC.storageEncryption}#default-format`,
  },
];

export const ENCRYPTION_ENGINES: Term[] = [
  {
    value: 'qemu',
    since: '7.9.0',
    description: 'qemu decrypts the image (the default for domain disks). Supports `luks` only.',
    doc: DOC.storageEncryption,
  },
  {
    value: 'librbd',
    since: '7.9.0',
    description:
      'librbd decrypts an RBD network disk itself (`luks`, `luks2`, `luks-any`). Ignored by the storage driver.',
    doc: DOC.storageEncryption,
  },
];

export const SECRET_TYPES: Term[] = [
  {
    value: 'passphrase',
    description:
      "The secret holds the passphrase. The only type libvirt accepts (the documentation's `volume` is refused).",
    doc: `${DOC.storageEncryption}#secret`,
  },
];

/** Usage types of a libvirt `<secret>` document (formatsecret.rst). */
export const SECRET_USAGE_TYPES: Term[] = [
  {
    value: 'volume',
    description: 'Passphrase of an encrypted volume; `<volume>` holds the volume path.',
    doc: `${DOC.secret}#usage-type-volume`,
  },
  {
    value: 'ceph',
    description: 'Ceph/RBD authentication key; `<name>` holds a name.',
    doc: `${DOC.secret}#usage-type-ceph`,
  },
  {
    value: 'iscsi',
    description: 'iSCSI CHAP password; `<target>` holds a name.',
    doc: `${DOC.secret}#usage-type-iscsi`,
  },
  {
    value: 'tls',
    description: 'TLS key passphrase; `<name>` holds a name.',
    since: '2.3.0',
    doc: `${DOC.secret}#usage-type-tls`,
  },
  {
    value: 'vtpm',
    description: 'vTPM state encryption key; `<name>` holds a name.',
    since: '5.6.0',
    doc: `${DOC.secret}#usage-type-vtpm`,
  },
];

/** LUKS cipher families qemu's LUKS driver can write (crypto/block-luks.c qcrypto_block_luks_cipher_*). */
export interface CipherFamily {
  name: string;
  keySizes: number[]; // bits
  blockBits: number;
  /** Modes this family does not support in qemu. */
  excludedModes: string[];
  description: string;
  /** qemu-img versions: sm4 arrived in 9.0. */
  qemuSince?: string;
}

export const CIPHERS: CipherFamily[] = [
  {
    name: 'aes',
    keySizes: [128, 192, 256],
    blockBits: 128,
    excludedModes: [],
    description: 'AES (Rijndael), 128-bit block. The default (`aes-256` with xts).',
  },
  {
    name: 'twofish',
    keySizes: [128, 192, 256],
    blockBits: 128,
    excludedModes: [],
    description: 'Twofish, 128-bit block (an AES finalist).',
  },
  {
    name: 'serpent',
    keySizes: [128, 192, 256],
    blockBits: 128,
    excludedModes: [],
    description: 'Serpent, 128-bit block (an AES finalist, conservative design).',
  },
  {
    name: 'cast5',
    keySizes: [128],
    blockBits: 64,
    excludedModes: ['xts'],
    description: 'CAST5 (CAST-128), 64-bit block: weak for disk encryption; no xts in qemu.',
  },
];

/** Every `cipher-alg` value qemu 7.2's QAPI enum accepts (qapi/crypto.json QCryptoCipherAlgorithm). */
export const QEMU_CIPHER_ALGS = [
  'aes-128',
  'aes-192',
  'aes-256',
  'des',
  '3des',
  'cast5-128',
  'serpent-128',
  'serpent-192',
  'serpent-256',
  'twofish-128',
  'twofish-192',
  'twofish-256',
];

export const CIPHER_MODES: Term[] = [
  {
    value: 'xts',
    description:
      'XEX-based tweaked codebook with ciphertext stealing: the standard disk mode (the key is ' +
      'split in two halves). qemu default.',
  },
  { value: 'cbc', description: 'Cipher block chaining; needs an unpredictable IV (use essiv).' },
  { value: 'ctr', description: 'Counter mode.' },
  { value: 'ecb', description: 'Electronic codebook: identical plaintext blocks encrypt identically. Avoid.' },
];

export const IVGENS: Term[] = [
  { value: 'plain64', description: '64-bit sector number as IV. qemu default.' },
  { value: 'plain', description: '32-bit sector number as IV: wraps (repeats) after 2 TiB.' },
  {
    value: 'essiv',
    description:
      'Encrypted salt-sector IV: sector number encrypted with a hash of the key. The hash digest ' +
      'length must be a key size of the cipher.',
  },
];

export interface HashAlg {
  value: string;
  digestBytes: number;
  description: string;
  weak?: boolean;
}
export const HASHES: HashAlg[] = [
  { value: 'sha256', digestBytes: 32, description: 'SHA-256. qemu default.' },
  { value: 'sha512', digestBytes: 64, description: 'SHA-512.' },
  { value: 'sha384', digestBytes: 48, description: 'SHA-384.' },
  { value: 'sha224', digestBytes: 28, description: 'SHA-224.' },
  {
    value: 'sha1',
    digestBytes: 20,
    description: 'SHA-1 (collision-broken; still fine for PBKDF2, but prefer sha256).',
    weak: true,
  },
  { value: 'ripemd160', digestBytes: 20, description: 'RIPEMD-160.', weak: true },
  { value: 'md5', digestBytes: 16, description: 'MD5 (broken; cryptsetup refuses LUKS headers with it).', weak: true },
];

/** qemu's LUKS defaults (crypto/block-luks.c), which libvirt leaves in force when `<cipher>` is absent. */
export const LUKS_DEFAULTS = {
  cipherAlg: 'aes-256',
  cipherMode: 'xts',
  ivgenAlg: 'plain64',
  hashAlg: 'sha256',
  iterTimeMs: 2000,
} as const;

/** Pool types and the target formats libvirt's parser accepts for them (storage_conf.c poolTypeInfo). */
export const FILE_FORMATS: Term[] = [
  {
    value: 'raw',
    description:
      "Plain raw image (the default). Encrypted with `<encryption format='luks'>` it becomes a LUKS container.",
  },
  { value: 'qcow2', description: 'QEMU copy-on-write v2/v3: sparse, snapshots, backing files, embedded LUKS.' },
  { value: 'qcow', description: 'Legacy QEMU copy-on-write v1.' },
  { value: 'qed', description: 'QEMU enhanced disk (deprecated in qemu).' },
  { value: 'vmdk', description: 'VMware disk.' },
  { value: 'vpc', description: 'Virtual PC / VHD.' },
  { value: 'vhd', description: 'VHD (alias understood by libvirt).' },
  { value: 'vdi', description: 'VirtualBox disk.' },
  { value: 'iso', description: 'ISO 9660 CD image (treated as raw).' },
  { value: 'dir', description: 'A directory (for dir/fs pools; created with mkdir).' },
  { value: 'bochs', description: 'Bochs disk.' },
  { value: 'cloop', description: 'Compressed loopback.' },
  { value: 'dmg', description: 'macOS disk image.' },
  { value: 'fat', description: 'FAT directory image.' },
  { value: 'cow', description: 'User-mode Linux COW.' },
  { value: 'ploop', description: 'Virtuozzo ploop.' },
];

export const DISK_POOL_FORMATS: Term[] = [
  'none',
  'linux',
  'fat16',
  'fat32',
  'linux-swap',
  'linux-lvm',
  'linux-raid',
  'extended',
].map((value) => ({ value, description: `Partition type ${value} (disk pools).` }));

export type PoolType =
  | 'dir'
  | 'fs'
  | 'netfs'
  | 'gluster'
  | 'vstorage'
  | 'rbd'
  | 'disk'
  | 'logical'
  | 'iscsi'
  | 'iscsi-direct'
  | 'scsi'
  | 'mpath'
  | 'zfs'
  | 'sheepdog';
export const POOL_TYPES: PoolType[] = [
  'dir',
  'fs',
  'netfs',
  'gluster',
  'vstorage',
  'rbd',
  'disk',
  'logical',
  'iscsi',
  'iscsi-direct',
  'scsi',
  'mpath',
  'zfs',
];

/**
 * Pools whose volumes are files in a directory, built by storage_util.c (virStorageBackendVolCreateLocal,
 * virStorageBackendVolBuildLocal): the only pools whose creation `create VOLUME.xml` reproduces.
 */
export const FILE_POOL_TYPES: readonly PoolType[] = ['dir', 'fs', 'netfs', 'vstorage'];

/** What `<target><format type>` may be per pool type; undefined = the element is ignored. */
export function targetFormatsFor(pool: PoolType): { formats: Term[]; default: string } | undefined {
  switch (pool) {
    case 'dir':
    case 'fs':
    case 'netfs':
    case 'gluster':
    case 'vstorage':
    case 'rbd':
      return { formats: FILE_FORMATS, default: 'raw' };
    case 'disk':
      return { formats: DISK_POOL_FORMATS, default: 'none' };
    default:
      return undefined;
  }
}

/** Pool types without a createVol backend (storage_driver.c). */
export const POOLS_WITHOUT_CREATE: PoolType[] = ['iscsi', 'iscsi-direct', 'scsi', 'mpath', 'gluster'];

export const VOLUME_TYPES: Term[] = [
  { value: 'file', description: 'A file (output only: libvirt sets it).' },
  { value: 'block', description: 'A block device.' },
  { value: 'dir', description: 'A directory.' },
  { value: 'network', description: 'A network volume (rbd, gluster).' },
  { value: 'netdir', description: 'A network directory.', since: '1.2.0' },
  { value: 'ploop', description: 'A ploop directory (parser only; not in the schema).' },
];

// ---- domain <disk> enumerations (libvirt 9.0 domain_conf.c / storage_source_conf.c
// VIR_ENUM_IMPL lists; values compared case-sensitively). Each list leaves out the enum's
// placeholder 0 ('none') where the parser refuses it; DISK_NET_PROTOCOL_NONE says where not.

/** `<disk type>` (virStorageType; 'none' is refused: virXMLPropEnum with VIR_XML_PROP_NONZERO). */
export const DISK_SOURCE_TYPES: Term[] = [
  { value: 'file', description: 'An image file: `<source file=...>` (the default).' },
  { value: 'block', description: 'A host block device: `<source dev=...>`.' },
  { value: 'dir', description: 'A host directory shown as a FAT disk: `<source dir=...>`.' },
  { value: 'network', description: 'A network image: `<source protocol=... name=...>` with `<host>` children.' },
  { value: 'volume', description: 'A volume of a libvirt storage pool: `<source pool=... volume=...>`.' },
  { value: 'nvme', description: "An NVMe namespace of a host PCI controller: `<source type='pci'>`." },
  { value: 'vhostuser', description: "A vhost-user-blk backend: `<source type='unix' path=...>`." },
  { value: 'vhostvdpa', since: '9.8.0', description: 'A vDPA block device: `<source dev=...>`.' },
];

/** `<disk device>` (virDomainDiskDevice; default `disk`). */
export const DISK_DEVICES: Term[] = [
  { value: 'disk', description: 'A hard disk (the default). Needs a source.' },
  { value: 'cdrom', description: 'A CD-ROM drive (read-only; may be empty). Not on virtio or sd buses.' },
  { value: 'floppy', description: 'A floppy drive (may be empty). Only on the fdc bus, target `fdX`.' },
  {
    value: 'lun',
    description: 'SCSI passthrough of a host block device, volume or iSCSI LUN; raw format, no encryption.',
  },
];

/** `<target bus>` (virDomainDiskBus; 'none' is refused). Omitted: derived from the target name. */
export const DISK_BUSES: Term[] = [
  { value: 'virtio', description: 'virtio-blk (target `vdX`). No CD-ROMs.' },
  { value: 'scsi', description: 'A SCSI controller (target `sdX`).' },
  { value: 'sata', description: 'A SATA (AHCI) controller.' },
  { value: 'ide', description: 'IDE (target `hdX`; the default for names libvirt does not map).' },
  { value: 'usb', description: 'A USB mass-storage device.' },
  { value: 'fdc', description: 'The floppy controller: floppy devices only, and floppies only here.' },
  { value: 'sd', description: 'An SD card. No CD-ROMs.' },
  { value: 'xen', description: 'Xen paravirtual disk (target `xvdX`).' },
  { value: 'uml', description: 'User-mode Linux disk (target `ubdX`).' },
];

/**
 * `<source protocol>` of network disks (virStorageNetProtocol). The parser also takes the
 * placeholder 'none', which then leaves the disk without a source.
 */
export const DISK_NET_PROTOCOLS: Term[] = [
  { value: 'rbd', description: 'Ceph RBD; `name` is `pool/image`.' },
  { value: 'iscsi', description: 'iSCSI; `name` is `IQN/LUN`.' },
  { value: 'nbd', description: 'Network block device; `name` (the export) is optional.' },
  { value: 'gluster', description: 'GlusterFS; `name` is `volume/path`.' },
  { value: 'http', description: 'HTTP (read-only).' },
  { value: 'https', description: 'HTTPS (read-only).' },
  { value: 'ftp', description: 'FTP (read-only).' },
  { value: 'ftps', description: 'FTPS (read-only).' },
  { value: 'tftp', description: 'TFTP (read-only; current qemu builds lack it).' },
  { value: 'ssh', description: 'SSH (sftp).' },
  { value: 'nfs', description: 'NFS (libnfs).' },
  {
    value: 'sheepdog',
    description: 'Sheepdog (removed from qemu 6.0).',
    deprecated: 'qemu no longer has a sheepdog driver.',
  },
  {
    value: 'vxhs',
    description: 'Veritas HyperScale (removed from qemu 5.2).',
    deprecated: 'qemu no longer has a vxhs driver.',
  },
];
export const DISK_NET_PROTOCOL_NONE = 'none';

/** `<host transport>` of a network disk source (virStorageNetHostTransport; default tcp). */
export const DISK_HOST_TRANSPORTS: Term[] = [
  { value: 'tcp', description: 'TCP to `name`:`port` (the default).' },
  { value: 'unix', description: 'A UNIX socket: `socket` instead of `name`/`port`.' },
  { value: 'rdma', description: 'RDMA to `name`:`port`.' },
];

/** `<disk model>` (virDomainDiskModel; 'default' is accepted). virtio models need the virtio bus. */
export const DISK_MODELS: Term[] = [
  { value: 'virtio', description: 'virtio-blk, picked by the machine type.' },
  { value: 'virtio-transitional', description: 'virtio-blk for both legacy and modern guest drivers.' },
  { value: 'virtio-non-transitional', description: 'virtio-blk for modern (virtio 1.0) guest drivers only.' },
];

/** `<disk snapshot>` (virDomainSnapshotLocation; 'default' is refused). */
export const DISK_SNAPSHOT_LOCATIONS: Term[] = [
  { value: 'no', description: 'Left out of snapshots (the default for read-only disks).' },
  { value: 'internal', description: 'Snapshots stored inside the image (qcow2).' },
  { value: 'external', description: 'Snapshots as new overlay files.' },
  { value: 'manual', description: 'Snapshotted by the user outside libvirt.' },
];

/** `<disk sgio>` (virDomainDeviceSGIO; 'default' is refused, 'unfiltered' no longer supported). */
export const DISK_SGIO: Term[] = [
  { value: 'filtered', description: 'SCSI commands filtered by the host kernel (lun devices only).' },
  {
    value: 'unfiltered',
    description: 'Refused by libvirt 9.0: unfiltered SG_IO is no longer supported.',
    deprecated: 'unfiltered sgio is no longer supported',
  },
];

/** `<source startupPolicy>` (virDomainStartupPolicy; 'default' is refused). */
export const DISK_STARTUP_POLICIES: Term[] = [
  { value: 'mandatory', description: 'The source must be there, or the domain does not start.' },
  { value: 'requisite', description: 'Like mandatory at boot, dropped on migrate/restore (cdrom and floppy only).' },
  { value: 'optional', description: 'A missing source is dropped at start (local sources only).' },
];

/** `<target tray>` (virDomainDiskTray): only 'open' is limited to cdroms and floppies. */
export const DISK_TRAY: Term[] = [
  { value: 'closed', description: 'The tray is closed (the default).' },
  { value: 'open', description: 'The tray is open: no media (cdrom and floppy only).' },
];

/** virTristateBool as virXMLPropTristateBool reads it (no 'default'). */
export const YES_NO: Term[] = [
  { value: 'yes', description: 'Yes.' },
  { value: 'no', description: 'No.' },
];

/** virTristateSwitch as virXMLPropTristateSwitch reads it (no 'default'). */
export const ON_OFF: Term[] = [
  { value: 'on', description: 'On.' },
  { value: 'off', description: 'Off.' },
];

/** Scaled-integer units (virutil.c virScaleInteger): case-insensitive. */
export const UNITS: Term[] = [
  { value: 'bytes', description: 'Bytes (also `b`, `byte`).' },
  { value: 'KiB', description: '1024 bytes (also `k`, `K`).' },
  { value: 'MiB', description: '1024² bytes (also `M`).' },
  { value: 'GiB', description: '1024³ bytes (also `G`).' },
  { value: 'TiB', description: '1024⁴ bytes (also `T`).' },
  { value: 'PiB', description: '1024⁵ bytes (also `P`).' },
  { value: 'EiB', description: '1024⁶ bytes (also `E`).' },
  { value: 'KB', description: '1000 bytes.' },
  { value: 'MB', description: '1000² bytes.' },
  { value: 'GB', description: '1000³ bytes.' },
  { value: 'TB', description: '1000⁴ bytes.' },
  { value: 'PB', description: '1000⁵ bytes.' },
  { value: 'EB', description: '1000⁶ bytes.' },
];

/** The unit spellings offered for <capacity>/<allocation>/<clusterSize> (completion, quick fixes, wizard). */
export const UNIT_NAMES: readonly string[] = UNITS.map((u) => u.value);

/** Parses a libvirt unit; returns the multiplier or undefined (virScaleInteger's rules). */
export function unitMultiplier(unit: string): bigint | undefined {
  const u = unit.toLowerCase();
  if (u === '' || u === 'b' || u === 'byte' || u === 'bytes') return 1n;
  const m = /^([kmgtpe])(b|ib)?$/.exec(u);
  if (!m) return undefined;
  const power = BigInt('kmgtpe'.indexOf(m[1]) + 1);
  return (m[2] === 'b' ? 1000n : 1024n) ** power;
}

export const COMPAT_VALUES: Term[] = [
  {
    value: '1.1',
    description:
      'qcow2 version 3: lazy refcounts, extended L2, zstd, data files, refcount widths. ' +
      "qemu-img's default; libvirt's default since 10.2.0.",
    since: '1.1.0',
  },
  {
    value: '0.10',
    description: "qcow2 version 2: readable by qemu < 1.1. libvirt's default for qcow2 before 10.2.0.",
    since: '1.1.0',
  },
];

export const FEATURES: Term[] = [
  {
    value: 'lazy_refcounts',
    since: '1.1.0',
    description: 'Delay refcount updates (faster writes, needs a repair after a crash). Needs compat 1.1.',
    doc: `${DOC.storageVol}`,
  },
  {
    value: 'extended_l2',
    since: '8.1.0',
    description: 'Subcluster allocation (32 subclusters per cluster). Needs compat 1.1 and a cluster size ≥ 16 KiB.',
    doc: `${DOC.storageVol}`,
  },
  {
    value: 'data_file',
    since: '10.10.0',
    description: 'Guest data lives in an external data file (libvirt `<dataStore>`).',
    doc: `${DOC.storageVol}`,
  },
];

/** Compares dotted versions; missing parts count as 0. */
const versionOrder = new Map<string, Map<string, number>>();
export function compareVersions(a: string, b: string): number {
  // Validation asks this for every reported diagnostic and vocabulary lookup; the set of version
  // pairs is tiny, so remember the answers. Keyed by one string, then the other: a joined key was
  // a new string to build and hash on every call (a tenth of `check`'s time on small files).
  let row = versionOrder.get(a);
  if (row === undefined) {
    row = new Map();
    if (versionOrder.size < 1_000) versionOrder.set(a, row);
  }
  let r = row.get(b);
  if (r === undefined) {
    r = compareVersionsUncached(a, b);
    if (row.size < 1_000) row.set(b, r);
  }
  return r;
}
function compareVersionsUncached(a: string, b: string): number {
  const pa = a.split('.').map((x) => parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return Math.sign(d);
  }
  return 0;
}

/** True when a term exists in the given libvirt version. */
export function availableIn(term: { since?: string; until?: string }, version: string): boolean {
  if (term.since && compareVersions(version, term.since) < 0) return false;
  if (term.until && compareVersions(version, term.until) >= 0) return false;
  return true;
}

const valuesByList = new WeakMap<readonly Term[], Map<string, readonly string[]>>();
/** The values of `terms` that exist in libvirt `version`, worked out once per list and version (the
 *  validators ask for every document, a domain for each of its disks). Shared: never modify it. */
export function valuesIn(terms: readonly Term[], version: string): readonly string[] {
  let byVersion = valuesByList.get(terms);
  if (!byVersion) valuesByList.set(terms, (byVersion = new Map()));
  let values = byVersion.get(version);
  if (!values) {
    values = terms.filter((t) => availableIn(t, version)).map((t) => t.value);
    if (byVersion.size < 64) byVersion.set(version, values);
  }
  return values;
}
