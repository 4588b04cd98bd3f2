// The element grammar the editor features walk: which children and attributes each element of a
// volume, domain disk, secret or bare <encryption> document may have, what each means, since when,
// where it is documented, and which vocabulary its values come from. Data only; completion and
// hover resolve the `values` tags against schemas/vocabulary.ts and the document at hand.
// Sources: libvirt src/conf/schemas/{storagevol,storagecommon,domaincommon,secret}.rng,
// docs/formatstorage.rst, formatstorageencryption.rst, formatsecret.rst, formatdomain.rst.
import {
  COMPAT_VALUES,
  DISK_BUSES,
  DISK_DEVICES,
  DISK_HOST_TRANSPORTS,
  DISK_MODELS,
  DISK_NET_PROTOCOLS,
  DISK_SGIO,
  DISK_SNAPSHOT_LOCATIONS,
  DISK_SOURCE_TYPES,
  DISK_STARTUP_POLICIES,
  DISK_TRAY,
  DOC,
  ENCRYPTION_ENGINES,
  ON_OFF,
  SECRET_TYPES,
  SECRET_USAGE_TYPES,
  UNITS,
  VOLUME_TYPES,
  YES_NO,
  type Term,
} from './vocabulary';

/**
 * Where the values of an attribute or a text node come from: a fixed list, or a tag that the
 * features resolve with the document's context (sibling attributes, pool type, libvirt version).
 */
export type ValueSource =
  | Term[]
  | 'encryptionFormat' // ENCRYPTION_FORMATS by libvirt version
  | 'cipherName' // CIPHERS
  | 'cipherSize' // key sizes of the sibling cipher name
  | 'cipherMode' // CIPHER_MODES minus the family's excluded modes
  | 'hash' // HASHES
  | 'ivgenName' // IVGENS
  | 'ivgenHash' // HASHES; for essiv only digests that are a key size of the cipher
  | 'targetFormat' // formats of the configured pool type
  | 'diskFormat' // qemu image formats a domain disk <driver type> may name
  | 'secretUuid' // workspace <secret> uuids + a fresh one
  | 'secretUsage' // workspace volume-usage paths
  | 'octalMode'
  | 'owner'
  | 'group'
  | 'feature';

export interface AttrDef {
  name: string;
  description: string;
  values?: ValueSource;
  default?: string;
  required?: boolean;
  /** Completion writes it with the element (useful though libvirt does not require it). */
  insert?: boolean;
  since?: string;
  doc?: string;
}

export interface ElementDef {
  name: string;
  description: string;
  since?: string;
  doc?: string;
  attributes?: AttrDef[];
  /** Text content values. */
  text?: ValueSource;
  /** Free text content (a name, a path, a number): the element holds text but no fixed values. */
  textHint?: string;
  /** Child elements, by name. Functions allow recursive structures (backingStore). */
  children?: () => ElementDef[];
  /** Element may appear at most once in its parent (libvirt uses the first). */
  single?: boolean;
  /** Empty element (written `<nocow/>`). */
  empty?: boolean;
}

const E = DOC.storageEncryption;
const V = DOC.storageVol;
const D = DOC.domainDisk;
const S = DOC.secret;

const unitAttr = (what: string): AttrDef => ({
  name: 'unit',
  values: UNITS,
  default: 'bytes',
  description: `Unit of the ${what} (case-insensitive: \`b\`/\`bytes\`, \`K\`/\`KiB\` = 1024, \`KB\` = 1000, … up to \`E\`). virutil.c virScaleInteger.`,
  since: '0.9.11',
  doc: `${V}`,
});

// ---- <encryption> (storagecommon.rng `encryption`) ----

export const SECRET_REF: ElementDef = {
  name: 'secret',
  doc: `${E}#secret`,
  description:
    'The passphrase `<secret>` libvirt looks up when creating or opening the volume. Exactly ' +
    'one for volume creation and for the qemu engine.',
  empty: true,
  attributes: [
    {
      name: 'type',
      values: SECRET_TYPES,
      required: true,
      description: "Kind of secret; libvirt accepts only `passphrase` (the documentation's `volume` is refused).",
      doc: `${E}#secret`,
    },
    {
      name: 'uuid',
      values: 'secretUuid',
      insert: true,
      description:
        'UUID of the libvirt `<secret>` (usage type `volume`) that holds the passphrase. Either ' +
        '`uuid` or `usage`, not both.',
      doc: `${E}#secret`,
    },
    {
      name: 'usage',
      values: 'secretUsage',
      since: '2.1.0',
      description:
        "Looks the secret up by its usage instead of its uuid: the `<usage type='volume'><volume>` " +
        'path of the secret. Either `uuid` or `usage`, not both.',
      doc: `${E}#secret`,
    },
  ],
};

export const CIPHER: ElementDef = {
  name: 'cipher',
  single: true,
  empty: true,
  since: '2.1.0',
  doc: `${E}#luks-format`,
  description:
    'LUKS cipher of the volume (format `luks` only; silently dropped for other formats). ' +
    "Omitted: qemu's default aes-256 xts with sha256. Not allowed on a domain disk.",
  attributes: [
    {
      name: 'name',
      values: 'cipherName',
      required: true,
      default: 'aes',
      description: "Cipher family; joined with `size` into qemu's `cipher-alg` (e.g. `aes-256`).",
      doc: `${E}#luks-format`,
    },
    {
      name: 'size',
      values: 'cipherSize',
      required: true,
      default: '256',
      description: 'Key size in bits; must be a key size of the named cipher in qemu.',
      doc: `${E}#luks-format`,
    },
    {
      name: 'mode',
      values: 'cipherMode',
      default: 'xts',
      description: "Block cipher mode, qemu's `cipher-mode`. The schema wants `mode` and `hash` together.",
      doc: `${E}#luks-format`,
    },
    {
      name: 'hash',
      values: 'hash',
      default: 'sha256',
      description: "Hash for the LUKS master-key digest and PBKDF2 (qemu's `hash-alg`), not a property of the cipher.",
      doc: `${E}#luks-format`,
    },
  ],
};

export const IVGEN: ElementDef = {
  name: 'ivgen',
  single: true,
  empty: true,
  since: '2.1.0',
  doc: `${E}#luks-format`,
  description: 'LUKS initialisation-vector generator (format `luks` only; needs `<cipher>`).',
  attributes: [
    {
      name: 'name',
      values: 'ivgenName',
      required: true,
      default: 'plain64',
      description: "IV generator algorithm, qemu's `ivgen-alg`.",
      doc: `${E}#luks-format`,
    },
    {
      name: 'hash',
      values: 'ivgenHash',
      default: 'sha256',
      description:
        "Hash for the essiv generator, qemu's `ivgen-hash-alg`; with essiv its digest length must " +
        'be a key size of the cipher.',
      doc: `${E}#luks-format`,
    },
  ],
};

export const ENCRYPTION: ElementDef = {
  name: 'encryption',
  single: true,
  doc: E,
  since: '0.4.1',
  description: 'How the volume is encrypted and where its passphrase is.',
  attributes: [
    {
      name: 'format',
      values: 'encryptionFormat',
      required: true,
      description: 'Encryption format. Use `luks`; `qcow`/`default` can no longer create volumes (libvirt 4.5.0).',
      doc: E,
    },
    {
      name: 'engine',
      values: ENCRYPTION_ENGINES,
      default: 'qemu',
      since: '7.9.0',
      description: 'Who decrypts: `qemu` or `librbd` (RBD network disks). The storage driver ignores it.',
      doc: E,
    },
  ],
  children: () => [SECRET_REF, CIPHER, IVGEN],
};

// ---- <volume> (storagevol.rng) ----

const PERMISSIONS: ElementDef = {
  name: 'permissions',
  single: true,
  doc: `${V}`,
  description: 'Ownership and mode libvirt gives the file when it creates it.',
  children: () => [
    {
      name: 'mode',
      single: true,
      text: 'octalMode',
      description: 'Octal permission bits (only 0–0777; `1777` is refused).',
      doc: V,
    },
    { name: 'owner', single: true, text: 'owner', description: 'Numeric uid, or `-1` for the default.', doc: V },
    { name: 'group', single: true, text: 'group', description: 'Numeric gid, or `-1` for the default.', doc: V },
    { name: 'label', single: true, textHint: 'SELinux label', description: 'MAC (SELinux) label of the file.', doc: V },
  ],
};

const VOL_FORMAT: ElementDef = {
  name: 'format',
  single: true,
  empty: true,
  doc: V,
  description: 'Image format of the volume; which formats are allowed depends on the pool type.',
  attributes: [
    {
      name: 'type',
      values: 'targetFormat',
      insert: true,
      description:
        "Image format (`raw`, `qcow2`, …). Encrypt with `<encryption format='luks'>` instead of a `luks` format.",
      doc: V,
    },
  ],
};

const FEATURES: ElementDef = {
  name: 'features',
  single: true,
  since: '1.1.0',
  doc: V,
  description: 'qcow2 feature bits (qcow2 only; needs compat 1.1; implies `<compat>1.1</compat>`).',
  children: () => [
    {
      name: 'lazy_refcounts',
      empty: true,
      since: '1.1.0',
      description: 'Delay refcount updates (faster writes, needs a repair after a crash). Needs compat 1.1.',
      doc: V,
    },
    {
      name: 'extended_l2',
      empty: true,
      since: '8.1.0',
      description: 'Subcluster allocation. Needs compat 1.1 and a cluster size of at least 16 KiB.',
      doc: V,
    },
    {
      name: 'data_file',
      empty: true,
      since: '10.10.0',
      description: 'Guest data in an external data file (`<dataStore>`).',
      doc: V,
    },
  ],
};

const VOL_TARGET: ElementDef = {
  name: 'target',
  single: true,
  doc: V,
  description: 'Where and how the volume is stored: path, format, permissions, encryption and qcow2 options.',
  children: () => [
    {
      name: 'path',
      single: true,
      textHint: '/var/lib/libvirt/images/NAME',
      description: 'Path of the volume (set by the pool on creation).',
      doc: V,
    },
    VOL_FORMAT,
    PERMISSIONS,
    { name: 'timestamps', single: true, description: 'Access/modification times (output only).', doc: V },
    ENCRYPTION,
    {
      name: 'compat',
      single: true,
      text: COMPAT_VALUES,
      since: '1.1.0',
      description:
        'qcow2 compatibility level: `1.1` (qcow2 v3) or `0.10` (v2). Without it libvirt before 10.2.0 creates v2.',
      doc: V,
    },
    {
      name: 'nocow',
      single: true,
      empty: true,
      since: '1.2.7',
      description: 'Turn off copy-on-write on btrfs (not written back in the XML).',
      doc: V,
    },
    {
      name: 'clusterSize',
      single: true,
      since: '7.4.0',
      textHint: '65536',
      attributes: [unitAttr('cluster size')],
      description: 'qcow2 cluster size: a power of two between 512 bytes and 2 MiB (qemu default 64 KiB).',
      doc: V,
    },
    FEATURES,
  ],
};

const sizeElement = (name: string, description: string): ElementDef => ({
  name,
  single: true,
  doc: V,
  textHint: 'integer',
  attributes: [unitAttr(name)],
  description,
});

const BACKING_STORE: ElementDef = {
  name: 'backingStore',
  single: true,
  since: '0.6.0',
  doc: V,
  description: 'The image this copy-on-write volume is based on (qcow2 only).',
  children: () => [
    {
      name: 'path',
      single: true,
      textHint: '/var/lib/libvirt/images/base.qcow2',
      description: 'Absolute path of the backing image.',
      doc: V,
    },
    VOL_FORMAT,
    PERMISSIONS,
    { name: 'timestamps', single: true, description: 'Access/modification times (output only).', doc: V },
  ],
};

export const VOLUME: ElementDef = {
  name: 'volume',
  doc: V,
  description: 'A storage volume, as `virsh vol-create POOL FILE.xml` creates it.',
  attributes: [
    {
      name: 'type',
      values: VOLUME_TYPES,
      description: 'Volume type (output only: libvirt sets it).',
      since: '1.2.0',
      doc: V,
    },
  ],
  children: () => [
    {
      name: 'name',
      single: true,
      textHint: 'name',
      description: 'Volume name, unique in the pool (the file name in dir pools; no `/`).',
      doc: V,
    },
    { name: 'key', single: true, description: 'Identifier (output only; generated).', doc: V },
    { name: 'source', single: true, description: 'Underlying extents (output only).', doc: V },
    sizeElement('capacity', 'Logical size of the volume (required for creation).'),
    sizeElement('allocation', 'Space allocated up front; less than capacity gives a sparse volume. Default: capacity.'),
    sizeElement('physical', 'Physical size (output only).'),
    VOL_TARGET,
    BACKING_STORE,
  ],
};

// ---- <secret> (secret.rng) ----

export const SECRET_DOC: ElementDef = {
  name: 'secret',
  doc: S,
  description: 'A libvirt secret (`virsh secret-define`); its value is set separately with `virsh secret-set-value`.',
  attributes: [
    {
      name: 'ephemeral',
      values: [
        { value: 'yes', description: 'Kept in memory only.' },
        { value: 'no', description: 'Stored on disk.' },
      ],
      default: 'no',
      description: 'Keep the secret only in memory.',
      doc: S,
    },
    {
      name: 'private',
      values: [
        { value: 'yes', description: 'The value cannot be read back.' },
        { value: 'no', description: 'The value can be read back.' },
      ],
      default: 'no',
      description: 'Refuse to reveal the value through the API.',
      doc: S,
    },
  ],
  children: () => [
    {
      name: 'uuid',
      single: true,
      textHint: 'UUID',
      description: 'UUID of the secret; the `<encryption><secret uuid>` of a volume names it. Generated if omitted.',
      doc: S,
    },
    { name: 'description', single: true, textHint: 'text', description: 'Free-form description.', doc: S },
    {
      name: 'usage',
      single: true,
      doc: S,
      description: 'What the secret is for; a volume passphrase has usage type `volume`.',
      attributes: [
        {
          name: 'type',
          values: SECRET_USAGE_TYPES,
          required: true,
          description: 'Usage type; `volume` for encrypted volumes.',
          doc: S,
        },
      ],
      children: () => [
        {
          name: 'volume',
          single: true,
          textHint: '/var/lib/libvirt/images/NAME',
          description: 'Path of the encrypted volume (usage type volume).',
          doc: S,
        },
        { name: 'name', single: true, textHint: 'name', description: 'Usage name (ceph, tls, vtpm).', doc: S },
        {
          name: 'target',
          single: true,
          textHint: 'name',
          description: 'iSCSI target name (usage type iscsi).',
          doc: S,
        },
      ],
    },
  ],
};

// ---- domain <disk> (domaincommon.rng `disk`) ----

const DISK_SOURCE: ElementDef = {
  name: 'source',
  single: true,
  doc: D,
  description: "Where the disk's data is. `<encryption>` belongs here (since libvirt 3.9.0).",
  attributes: [
    { name: 'file', insert: true, description: 'Image path (disk type file).', doc: D },
    { name: 'dev', description: 'Block device path (disk type block).', doc: D },
    { name: 'dir', description: 'Directory (disk type dir).', doc: D },
    {
      name: 'protocol',
      values: DISK_NET_PROTOCOLS,
      description: 'Network protocol (disk type network; required there).',
      doc: D,
    },
    { name: 'name', description: 'Network image name (e.g. `pool/image` for rbd).', doc: D },
    { name: 'pool', description: 'Storage pool name (disk type volume).', doc: D },
    { name: 'volume', description: 'Volume name in the pool (disk type volume).', doc: D },
    {
      name: 'startupPolicy',
      values: DISK_STARTUP_POLICIES,
      description: 'What a missing source does at start (not for network, nvme or vhostuser disks).',
      doc: D,
    },
  ],
  children: () => [DISK_HOST, DISK_AUTH, ENCRYPTION],
};

/** `<auth>` of a network disk (storage_source_conf.c virStorageAuthDefParse): in `<source>`, or at disk level. */
const DISK_AUTH: ElementDef = {
  name: 'auth',
  single: true,
  doc: D,
  description:
    'Authentication to the storage server (iscsi, rbd, http(s), ftp(s), ssh); in `<source>` or, the legacy ' +
    'place, in `<disk>`, not both.',
  attributes: [
    { name: 'username', insert: true, required: true, description: 'User name on the server.', doc: D },
    {
      name: 'type',
      values: ['chap', 'ceph', 'none'].map((value) => ({ value, description: `Scheme ${value}.` })),
      description: 'Scheme, as a storage pool names it (libvirt reads it but the secret type decides).',
      doc: D,
    },
  ],
  children: () => [
    {
      name: 'secret',
      single: true,
      empty: true,
      doc: D,
      description: 'The secret holding the password or key: by `uuid` or by `usage`, not both.',
      attributes: [
        {
          name: 'type',
          insert: true,
          values: SECRET_USAGE_TYPES,
          doc: D,
          description: 'Usage type of the secret: `iscsi` for iSCSI, `ceph` for rbd (required).',
        },
        { name: 'uuid', values: 'secretUuid', description: 'UUID of the secret.', doc: D },
        { name: 'usage', description: 'Usage name of the secret (its `<usage>` target or name).', doc: D },
      ],
    },
  ],
};

const DISK_HOST: ElementDef = {
  name: 'host',
  doc: D,
  description: 'A server of a network disk (several for rbd and gluster).',
  empty: true,
  attributes: [
    { name: 'name', insert: true, description: 'Host name or address (required unless transport is `unix`).', doc: D },
    { name: 'port', description: 'Port number (0-65535; default per protocol).', doc: D },
    { name: 'transport', values: DISK_HOST_TRANSPORTS, default: 'tcp', description: 'How to reach the host.', doc: D },
    { name: 'socket', description: 'UNIX socket path (transport `unix` only, and required there).', doc: D },
  ],
};

const DISK_DRIVER: ElementDef = {
  name: 'driver',
  single: true,
  empty: true,
  doc: D,
  description: 'Hypervisor driver options.',
  attributes: [
    {
      name: 'name',
      values: [{ value: 'qemu', description: 'The qemu driver.' }],
      insert: true,
      description: 'Driver name.',
      doc: D,
    },
    {
      name: 'type',
      values: 'diskFormat',
      default: 'raw',
      insert: true,
      description: 'Image format; qemu-engine encryption needs `raw` or `qcow2`.',
      doc: D,
    },
    {
      name: 'cache',
      values: ['default', 'none', 'writethrough', 'writeback', 'directsync', 'unsafe'].map((value) => ({
        value,
        description: `Cache mode ${value}.`,
      })),
      description: 'Host cache mode.',
      doc: D,
    },
  ],
};

const DISK_BACKING: ElementDef = {
  name: 'backingStore',
  doc: D,
  description: 'A layer of the backing chain; may carry its own `<source><encryption>`.',
  attributes: [
    {
      name: 'type',
      values: ['file', 'block', 'network'].map((value) => ({ value, description: `Backing layer of type ${value}.` })),
      description: 'Type of the layer.',
      doc: D,
    },
  ],
  children: () => [
    {
      name: 'format',
      single: true,
      empty: true,
      attributes: [{ name: 'type', values: 'diskFormat', description: 'Image format of the layer.', doc: D }],
      description: 'Image format of the layer.',
      doc: D,
    },
    DISK_SOURCE,
    DISK_BACKING,
  ],
};

export const DISK: ElementDef = {
  name: 'disk',
  doc: D,
  description: 'A guest disk.',
  attributes: [
    { name: 'type', values: DISK_SOURCE_TYPES, default: 'file', insert: true, description: 'Kind of source.', doc: D },
    {
      name: 'device',
      values: DISK_DEVICES,
      default: 'disk',
      insert: true,
      description: 'What the guest sees (`lun` cannot be encrypted).',
      doc: D,
    },
    { name: 'model', values: DISK_MODELS, description: 'virtio-blk variant (virtio bus only).', doc: D },
    { name: 'snapshot', values: DISK_SNAPSHOT_LOCATIONS, description: 'Where snapshots of this disk go.', doc: D },
    { name: 'rawio', values: YES_NO, description: 'Raw I/O capability for the guest (lun devices only).', doc: D },
    { name: 'sgio', values: DISK_SGIO, description: 'SG_IO filtering (lun devices only).', doc: D },
  ],
  children: () => [
    DISK_DRIVER,
    DISK_SOURCE,
    DISK_BACKING,
    {
      name: 'target',
      single: true,
      empty: true,
      description: 'Guest device name and bus.',
      doc: D,
      attributes: [
        { name: 'dev', insert: true, description: 'Device name in the guest (e.g. `vda`).', doc: D },
        {
          name: 'bus',
          insert: true,
          values: DISK_BUSES,
          description:
            'Bus. Omitted: from the name (`vd` virtio, `sd` scsi, `hd` ide, `xvd` xen, `ubd` uml; ' +
            'floppies fdc; else ide).',
          doc: D,
        },
        {
          name: 'tray',
          values: DISK_TRAY,
          default: 'closed',
          description: 'Tray state (`open` for cdrom and floppy only).',
          doc: D,
        },
        {
          name: 'removable',
          values: ON_OFF,
          doc: D,
          description: 'Removable flag of a USB disk (usb bus only; a scsi hard disk too since 9.6.0).',
        },
      ],
    },
    { ...ENCRYPTION, description: 'Disk-level encryption (legacy place; prefer `<source><encryption>`).' },
    { name: 'readonly', single: true, empty: true, description: 'Read-only disk.', doc: D },
    { name: 'serial', single: true, textHint: 'serial', description: 'Serial number shown to the guest.', doc: D },
    {
      name: 'shareable',
      single: true,
      empty: true,
      doc: D,
      description: 'Shared between guests (read-write: raw images only).',
    },
    { ...DISK_AUTH, description: 'Authentication, legacy place (prefer `<source><auth>`; not both).' },
    {
      name: 'vendor',
      single: true,
      textHint: 'vendor',
      doc: D,
      description: 'SCSI vendor shown to the guest (scsi bus only; at most 8 printable characters).',
    },
    {
      name: 'product',
      single: true,
      textHint: 'product',
      doc: D,
      description: 'Product shown to the guest (scsi: at most 16 characters; ide and sata too since 11.3.0, 40).',
    },
  ],
};

export const DOMAIN: ElementDef = {
  name: 'domain',
  doc: 'https://libvirt.org/formatdomain.html',
  description: 'A guest definition (`virsh define`); only its disks are checked here.',
  children: () => [
    {
      name: 'name',
      single: true,
      textHint: 'name',
      description: 'Guest name.',
      doc: 'https://libvirt.org/formatdomain.html',
    },
    {
      name: 'devices',
      single: true,
      description: 'Guest devices.',
      doc: 'https://libvirt.org/formatdomain.html#devices',
      children: () => [DISK],
    },
  ],
};

/** Root elements of the documents this service understands. */
export const ROOTS: ElementDef[] = [VOLUME, ENCRYPTION, SECRET_DOC, DOMAIN, DISK];

/** The definition of the element at a path of names from the root, or undefined. */
export function elementDefAt(path: readonly string[]): ElementDef | undefined {
  let def = ROOTS.find((r) => r.name === path[0]);
  for (let i = 1; def && i < path.length; i++) def = def.children?.().find((c) => c.name === path[i]);
  return def;
}
