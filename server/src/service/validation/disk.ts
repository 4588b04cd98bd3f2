// libvirt 9.0's general <disk> rules, apart from encryption and the backing chain (domain.ts):
//  PARSE     domain_conf.c virDomainDiskDefParseXML, virDomainDiskDefParseSourceXML,
//            virDomainStorageSourceParse, virDomainDiskSourceNetworkParse,
//            virDomainStorageNetworkParseHost, virDomainDiskSourcePoolDefParse; the post-parse
//            (virDomainDiskDefPostParse: default bus, virDomainDiskDefAssignAddress);
//  DEF-VAL   domain_validate.c virDomainDiskDefValidate, virDomainDiskDefSourceLUNValidate;
//  QEMU-VAL  qemu_validate.c (disk frontend).
// libvirt stops at its first error; here every independent fault is reported, but checks that
// depend on a value libvirt could not parse are skipped. Every condition was measured with
// `virsh -c test:///default define` and a session libvirtd's qemu driver.
import {
  DISK_BUSES,
  DISK_DEVICES,
  DISK_HOST_TRANSPORTS,
  DISK_MODELS,
  DISK_NET_PROTOCOLS,
  DISK_NET_PROTOCOL_NONE,
  DISK_SGIO,
  DISK_SNAPSHOT_LOCATIONS,
  DISK_SOURCE_TYPES,
  DISK_STARTUP_POLICIES,
  DISK_TRAY,
  FILE_FORMATS,
  ON_OFF,
  SECRET_USAGE_TYPES,
  YES_NO,
  availableIn,
} from '../../../../schemas/vocabulary';
import {
  attr,
  attrValue,
  childElements,
  firstChild,
  textContent,
  textSpan,
  type XmlAttribute,
  type XmlElement,
} from '../xmlModel';
import type { ValidationContext } from './context';
import type { RuleId } from '../rules';
import { parseULL, parseUIntP } from './libvirtValues';
import { nearest } from '../../common/strings';

const UINT16_MAX = 65535n;

/** What the parser made of a disk's source (virStorageSource after parsing). */
interface ParsedSource {
  /** The type after parsing: a disk without <source> is reset to 'file'. */
  type: string;
  /** src->path: '' is dropped like libvirt does; network rbd/gluster keep the image part. */
  path?: string;
  protocol?: string;
  pool?: { pool: string; volume: string };
}

type Terms = { value: string; since?: string; until?: string }[];
const MODELS_WITH_DEFAULT: Terms = [{ value: 'default' }, ...DISK_MODELS];
/** A hard disk's name: hd, sd, vd, xvd or ubd (every prefix of virDiskNameParse but fd; no closure
 *  per disk). */
const isHardDiskName = (dst: string) => {
  const prefix = diskNamePrefix(dst);
  return prefix !== undefined && prefix !== 'fd';
};
const LOCAL_TYPES = ['file', 'block', 'dir'];
/** The enum lists of one libvirt version, built once: a 1 MB domain has thousands of disks. */
interface DiskEnums {
  types: string[];
  devices: string[];
  models: string[];
  snapshot: string[];
  yesNo: string[];
  sgio: string[];
  policies: string[];
  buses: string[];
  tray: string[];
  onOff: string[];
  v: VersionFlags;
}
/** Behaviour changes by version, decided once per version (compareVersions is not free per disk). */
export interface VersionFlags {
  /** 9.6.0: a removable scsi hard disk. */
  removableScsi: boolean;
  /** 11.3.0 checked (the release is not in NEWS): name index overflow, vendor/product per bus, iSCSI hosts. */
  newer: boolean;
  usages: string[];
}
const enumsByVersion = new Map<string, DiskEnums>();
export function diskEnums(version: string): DiskEnums {
  let e = enumsByVersion.get(version);
  if (!e) {
    const values = (terms: Terms) => terms.filter((t) => availableIn(t, version)).map((t) => t.value);
    e = {
      types: values(DISK_SOURCE_TYPES),
      devices: values(DISK_DEVICES),
      models: values(MODELS_WITH_DEFAULT),
      snapshot: values(DISK_SNAPSHOT_LOCATIONS),
      yesNo: values(YES_NO),
      sgio: values(DISK_SGIO),
      policies: values(DISK_STARTUP_POLICIES),
      buses: values(DISK_BUSES),
      tray: values(DISK_TRAY),
      onOff: values(ON_OFF),
      v: {
        removableScsi: availableIn({ since: '9.6.0' }, version),
        newer: availableIn({ since: '11.3.0' }, version),
        usages: ['none', ...values(SECRET_USAGE_TYPES)],
      },
    };
    enumsByVersion.set(version, e);
  }
  return e;
}

/** virXMLPropEnum: an attribute that is there must name a value of the enum ('' included). */
function checkEnum(
  ctx: ValidationContext,
  a: XmlAttribute | undefined,
  values: string[],
  ruleId: RuleId,
  fallback: string,
  preferred?: string,
): boolean {
  if (!a || a.value === undefined || values.includes(a.value)) return true;
  ctx.report(
    ruleId,
    a.valueSpan,
    { value: a.value },
    { data: { replacement: preferred ?? nearest(a.value, values) ?? fallback, values } },
  );
  return false;
}

/** An optional enum attribute, in libvirt's generic wording (rule disk-attribute-invalid). */
function checkAttrEnum(ctx: ValidationContext, el: XmlElement | undefined, name: string, values: string[]): boolean {
  const a = attr(el, name);
  if (!a || a.value === undefined || values.includes(a.value)) return true;
  ctx.report(
    'disk-attribute-invalid',
    a.valueSpan,
    { attribute: name, element: el!.name, value: a.value },
    { data: { replacement: nearest(a.value, values) ?? values[0], values } },
  );
  return false;
}

/** The disk type the <source> attributes are written for (the quick fix of a bad type). */
function typeFromSource(source: XmlElement | undefined): string | undefined {
  if (!source) return undefined;
  const has = (n: string) => attr(source, n) !== undefined;
  if (has('protocol')) return 'network';
  if (has('pool') || has('volume')) return 'volume';
  if (has('file')) return 'file';
  if (has('dir')) return 'dir';
  if (has('dev')) return 'block';
  return undefined;
}

/**
 * virDiskNameParse: a known prefix, at least one lower-case letter, then only digits (a
 * partition number). Returns the partition (0 when none) or undefined when libvirt refuses it.
 */
export function parseDiskName(name: string, overflowChecked = false): { index: number; partition: number } | undefined {
  const prefix = diskNamePrefix(name);
  if (prefix === undefined) return undefined;
  let i = prefix.length;
  let idx = 0;
  const first = i;
  for (; i < name.length && name[i] >= 'a' && name[i] <= 'z'; i++) {
    // Newer libvirt (11.3.0 checked) refuses an index past INT_MAX (VIR_MULTIPLY_ADD_IS_OVERFLOW).
    const next = (idx + (i === first ? 0 : 1)) * 26 + (name.charCodeAt(i) - 97);
    if (overflowChecked && next > 0x7fffffff) return undefined;
    // libvirt computes the index in a C int that silently wraps; a name whose final index is
    // negative is refused (measured: 'vdfxshrxx' = INT_MAX passes, 8 a's wrap negative and fail,
    // 12 a's wrap back to a positive index and pass).
    idx = (Math.imul((idx + (i === first ? 0 : 1)) | 0, 26) + (name.charCodeAt(i) - 97)) | 0;
  }
  if (i === first || idx < 0) return undefined;
  // The rest: digits only (no slice or regular expression for the usual name without any).
  for (let k = i; k < name.length; k++) {
    const c = name.charCodeAt(k);
    if (c < 48 || c > 57) return undefined;
  }
  return { index: idx, partition: i < name.length ? Number(name.slice(i)) : 0 };
}

/** virDiskNameParse's prefixes, in its order. */
export const DISK_NAME_PREFIXES = ['fd', 'hd', 'vd', 'sd', 'xvd', 'ubd'];

/** The prefix a disk name starts with (the first in libvirt's order), if any. */
export function diskNamePrefix(name: string): string | undefined {
  for (let k = 0; k < DISK_NAME_PREFIXES.length; k++)
    if (name.startsWith(DISK_NAME_PREFIXES[k])) return DISK_NAME_PREFIXES[k];
  return undefined;
}

/** The bus libvirt's post-parse gives a disk without `<target bus>`. */
export function defaultBus(device: string, dst: string | undefined): string {
  if (device === 'floppy') return 'fdc';
  if (dst === undefined) return 'ide';
  if (dst.startsWith('hd')) return 'ide';
  if (dst.startsWith('sd')) return 'scsi';
  if (dst.startsWith('vd')) return 'virtio';
  if (dst.startsWith('xvd')) return 'xen';
  if (dst.startsWith('ubd')) return 'uml';
  return 'ide';
}

export function validateDiskGeneral(ctx: ValidationContext, disk: XmlElement): void {
  const en = diskEnums(ctx.version);
  // ---- PARSE ----
  const typeAttr = attr(disk, 'type');
  const source = firstChild(disk, 'source');
  const types = en.types;
  // The fix's type is worked out only for a bad one (this runs for each of thousands of disks).
  const badType = typeAttr?.value !== undefined && !types.includes(typeAttr.value);
  const typeOk = checkEnum(
    ctx,
    typeAttr,
    types,
    'disk-type-invalid',
    'file',
    badType ? typeFromSource(source) : undefined,
  );
  const src = typeOk ? parseSource(ctx, typeAttr?.value ?? 'file', source) : undefined;

  const deviceAttr = attr(disk, 'device');
  const deviceOk = checkEnum(ctx, deviceAttr, en.devices, 'disk-device-invalid', 'disk');
  const device = deviceAttr?.value ?? 'disk';
  // The other enum attributes of <disk>, <source> and <target> (virXMLPropEnum/Tristate*).
  // Every one is checked (each reports its own error), hence `&` rather than `&&`.
  const enumsOk = !!(
    +checkAttrEnum(ctx, disk, 'model', en.models) &
    +checkAttrEnum(ctx, disk, 'snapshot', en.snapshot) &
    +checkAttrEnum(ctx, disk, 'rawio', en.yesNo) &
    +checkAttrEnum(ctx, disk, 'sgio', en.sgio) &
    +checkAttrEnum(ctx, source, 'startupPolicy', en.policies)
  );
  const sgio = attr(disk, 'sgio');
  let sgioOk = true;
  if (sgio?.value === 'unfiltered') {
    ctx.report('disk-sgio-unfiltered', sgio.valueSpan, {}, { data: { replacement: 'filtered' } });
    sgioOk = false;
  }

  const target = firstChild(disk, 'target');
  const devAttr = attr(target, 'dev');
  const busAttr = attr(target, 'bus');
  const busOk = checkEnum(ctx, busAttr, en.buses, 'disk-target-bus-invalid', 'virtio');
  const targetEnumsOk = !!(
    +checkAttrEnum(ctx, target, 'tray', en.tray) & +checkAttrEnum(ctx, target, 'removable', en.onOff)
  );
  if (!src || !deviceOk || !busOk || !enumsOk || !sgioOk || !targetEnumsOk) return;

  // ---- post-parse ----
  // virDomainDiskDefPostParse: the old Xen prefix 'ioemu:' is dropped from the name.
  const dst =
    devAttr?.value === undefined
      ? undefined
      : devAttr.value.startsWith('ioemu:')
        ? devAttr.value.slice(6)
        : devAttr.value;
  const bus = busAttr?.value ?? defaultBus(device, dst);
  // virDomainDiskDefAssignAddress runs only for a disk without <address>; it needs a name it can parse.
  const name = dst === undefined ? undefined : parseDiskName(dst, en.v.newer);
  if (dst !== undefined && !name && !firstChild(disk, 'address')) {
    ctx.report('disk-target-dev-unknown', devAttr!.valueSpan, { dev: dst });
    return;
  }

  // ---- DEF-VAL: virDomainDiskDefValidate ----
  if (device === 'lun') validateLun(ctx, disk, src);
  else {
    for (const name of LUN_ONLY) {
      const a = attr(disk, name);
      if (a) ctx.report('disk-lun-only', a.nameSpan, { attribute: name }, { data: { remove: true } });
    }
  }
  const model = attrValue(disk, 'model');
  if (model && model !== 'default' && bus !== 'virtio') {
    ctx.report('disk-model-bus', attr(disk, 'model')!.valueSpan, { model, bus }, { data: { remove: true } });
  }
  const tray = attr(target, 'tray');
  if (tray?.value === 'open' && device !== 'cdrom' && device !== 'floppy')
    ctx.report('disk-tray-device', tray.nameSpan, {}, { data: { remove: true } });
  // Since 9.6.0 a scsi hard disk may be removable too (the rule ids are versioned).
  const removable = attr(target, 'removable');
  if (removable && bus !== 'usb' && !(en.v.removableScsi && bus === 'scsi' && device === 'disk')) {
    const id = en.v.removableScsi ? 'disk-removable-bus-scsi' : 'disk-removable-bus';
    ctx.report(id, removable.nameSpan, {}, { data: { remove: true } });
  }
  validateVendorProduct(ctx, disk, bus, en.v.newer);
  // virDomainDiskAddressDiskBusCompatibility: buses handled in common code take drive addresses only.
  const address = firstChild(disk, 'address');
  const addrType = attr(address, 'type');
  if (addrType?.value && DRIVE_BUSES.includes(bus) && addrType.value !== 'drive') {
    const args = { type: addrType.value, dst: dst ?? '', bus };
    ctx.report('disk-address-bus', addrType.valueSpan, args, { data: { remove: true } });
  }
  if (src.type === 'network' && source) {
    validateNetworkSourceRules(ctx, disk, source, src.protocol ?? DISK_NET_PROTOCOL_NONE);
  } else if (firstChild(disk, 'auth')) {
    // The disk-level <auth> is parsed whatever the type (and then unused off the network).
    parseAuth(ctx, firstChild(disk, 'auth')!, src.type);
  }
  const policy = attr(source, 'startupPolicy');
  if (policy?.value) {
    // Volumes are judged once translated; other non-local sources cannot be dropped at start.
    if (src.type !== 'volume' && !LOCAL_TYPES.includes(src.type)) {
      ctx.report(
        'disk-startup-policy-type',
        policy.nameSpan,
        { policy: policy.value, type: src.type },
        { data: { remove: true } },
      );
    } else if (policy.value === 'requisite' && device !== 'cdrom' && device !== 'floppy') {
      ctx.report('disk-startup-policy-requisite', policy.valueSpan, {}, { data: { replacement: 'optional' } });
    }
  }
  if (device === 'floppy' && bus !== 'fdc')
    ctx.report('disk-floppy-bus', busAttr!.valueSpan, { bus }, { data: { replacement: 'fdc' } });
  if (device !== 'floppy' && bus === 'fdc')
    ctx.report(
      'disk-fdc-bus',
      busAttr!.valueSpan,
      {},
      { data: { replacement: device === 'cdrom' ? 'ide' : 'virtio' } },
    );
  if (dst === undefined) {
    // The message names the source: its pool and volume, or its path (none when empty).
    const what = src.pool
      ? ` pool = '${src.pool.pool}', volume = '${src.pool.volume}'`
      : src.path !== undefined
        ? ` ${src.path}`
        : '';
    // The fix names a target that suits the device (floppies fdX on fdc, no cdrom on virtio).
    const [fixDev, fixBus] =
      device === 'floppy'
        ? ['fda', 'fdc']
        : device === 'cdrom'
          ? ['sdc', 'sata']
          : device === 'lun'
            ? ['sda', 'scsi']
            : ['vda', 'virtio'];
    ctx.report(
      'disk-target-missing',
      (target ?? disk).nameSpan,
      { what },
      { data: target ? { insert: `dev='${fixDev}'` } : { insert: `<target dev='${fixDev}' bus='${fixBus}'/>` } },
    );
  } else if ((device === 'disk' || device === 'lun') && !isHardDiskName(dst)) {
    ctx.report('disk-target-dev-harddisk', devAttr!.valueSpan, { dev: dst });
  } else if (device === 'floppy' && !dst.startsWith('fd')) {
    ctx.report('disk-target-dev-floppy', devAttr!.valueSpan, { dev: dst }, { data: { replacement: 'fda' } });
  }
  // virStorageSourceIsEmpty: only CD-ROMs and floppies (and LUNs) may be empty.
  const empty =
    (LOCAL_TYPES.includes(src.type) && src.path === undefined) ||
    (src.type === 'network' && src.protocol === DISK_NET_PROTOCOL_NONE);
  if (empty && device === 'disk') {
    const at = source ? (attr(source, sourcePathAttr(src.type) ?? '')?.valueSpan ?? source.nameSpan) : disk.nameSpan;
    ctx.report('disk-source-missing', at, { dst: dst === undefined ? '' : ` ${dst}` });
  }

  // ---- QEMU-VAL ----
  if (dst !== undefined && device === 'cdrom' && (bus === 'virtio' || bus === 'sd')) {
    // A derived bus is reported on the name; the fix then adds a bus rather than renaming.
    const data = busAttr ? { replacement: 'sata', values: ['sata', 'scsi', 'ide', 'usb'] } : { insert: "bus='sata'" };
    ctx.report('disk-ejectable-bus', (busAttr ?? devAttr)!.valueSpan, { dst }, { data });
  }
  if (dst !== undefined && name && name.partition > 0)
    ctx.report('disk-target-dev-partition', devAttr!.valueSpan, { dev: dst });
  // qemu opens a directory only as a virtual FAT image.
  const driverType = attr(firstChild(disk, 'driver'), 'type');
  if (
    src.type === 'dir' &&
    driverType?.value !== 'fat' &&
    (!driverType || FILE_FORMATS.some((f) => f.value === driverType.value))
  ) {
    ctx.report(
      'disk-dir-format',
      driverType ? driverType.valueSpan : (firstChild(disk, 'driver') ?? disk).nameSpan,
      {},
      driverType ? { data: { replacement: 'fat' } } : {},
    );
  }
  // qemu's ide-hd and the AHCI disk cannot be read-only (CD-ROMs are, and may be).
  const readonly = firstChild(disk, 'readonly');
  if (readonly && device === 'disk' && (bus === 'ide' || bus === 'sata')) {
    ctx.report('disk-readonly-bus', readonly.nameSpan, { bus }, { data: { remove: true } });
  }
  // qemuValidateDomainDeviceDefDiskFrontend: newer libvirt (11.3.0 checked, not 9.0) wants media in
  // a usb drive (usb-storage has no empty tray); a usb disk sits on a USB port (or gets one).
  if (bus === 'usb' && empty && dst !== undefined) {
    const at = (busAttr ?? devAttr)!.valueSpan;
    ctx.report('disk-usb-empty', at, {}, { data: busAttr ? { replacement: 'sata' } : { insert: "bus='sata'" } });
  }
  if (device === 'lun' && bus === 'virtio') {
    const at = (busAttr ?? devAttr ?? attr(disk, 'device'))!.valueSpan;
    ctx.report('disk-lun-virtio-qemu', at, {}, busAttr ? { data: { replacement: 'scsi' } } : {});
  }
  if (bus === 'usb' && addrType?.value && addrType.value !== 'usb') {
    ctx.report('disk-usb-address', addrType.valueSpan, {}, { data: { remove: true } });
  }
  // qemuValidateDomainDeviceDefDisk: only raw images may be shared read-write
  // (qemuBlockStorageSourceSupportsConcurrentAccess). The qemu post-parse makes a local or network
  // source without a driver type raw; a volume's format is only known once it is resolved.
  const shareable = firstChild(disk, 'shareable');
  const format = driverType?.value || (src.type === 'volume' ? undefined : 'raw');
  if (shareable && !readonly && format !== undefined && format !== 'raw') {
    ctx.report('disk-shared-format', driverType ? driverType.valueSpan : shareable.nameSpan, { dst: dst ?? '' });
  }
}

const UTF8 = new TextEncoder();
const LUN_ONLY = ['rawio', 'sgio'];

/** The buses virDomainDiskAddressDiskBusCompatibility judges: they take `<address type='drive'>` only. */
const DRIVE_BUSES = ['ide', 'fdc', 'scsi', 'sata'];

/**
 * <vendor> and <product>: lengths (domain_validate.c virDomainDiskDefValidate: vendor 8, product
 * 16; since 11.3.0 an ATA product may have 40) and buses (qemu_validate.c
 * qemuValidateDomainDeviceDefDiskFrontend: 9.0 takes both only on scsi; 11.3 takes a product on
 * ide and sata too, with its own message per element).
 */
function validateVendorProduct(ctx: ValidationContext, disk: XmlElement, bus: string, newer: boolean): void {
  const vendor = firstChild(disk, 'vendor');
  const product = firstChild(disk, 'product');
  // strlen: the length counts bytes of the whole text (XPath string(), not trimmed).
  const bytes = (el: XmlElement) => UTF8.encode(textContent(el)).length;
  if (vendor && bytes(vendor) > 8) ctx.report('disk-vendor-length', textSpan(vendor));
  if (product) {
    const max = newer && bus !== 'scsi' ? 40 : 16;
    if (bytes(product) > max) ctx.report('disk-product-length', textSpan(product), { max });
  }
  if (!newer) {
    const first = vendor ?? product;
    if (first && bus !== 'scsi') ctx.report('disk-vendor-product-bus', first.nameSpan, {}, { data: { remove: true } });
    return;
  }
  if (vendor && bus !== 'scsi') ctx.report('disk-vendor-bus', vendor.nameSpan, {}, { data: { remove: true } });
  else if (product && !['ide', 'sata', 'scsi'].includes(bus)) {
    ctx.report('disk-product-bus', product.nameSpan, {}, { data: { remove: true } });
  }
}

/**
 * A network source's <auth> (the disk-level place, or inside <source>; a backing layer has no
 * disk-level place) and protocol rules, for every source of the chain:
 * parse (domain_conf.c virDomainDiskDefParseSourceXML, storage_source_conf.c
 * virStorageAuthDefParse, virsecret.c virSecretLookupParseSecret), generic validation
 * (domain_validate.c virDomainDiskDefValidateSourceChainOne) and the hosts qemu needs for iSCSI
 * (qemu_block.c qemuBlockStorageSourceGetISCSIProps, when the VM starts).
 */
export function validateNetworkSourceRules(
  ctx: ValidationContext,
  disk: XmlElement | undefined,
  source: XmlElement,
  protocol: string,
): void {
  const protoAttr = attr(source, 'protocol');
  if (protocol === 'sheepdog' && protoAttr) ctx.report('disk-sheepdog', protoAttr.valueSpan);
  const v = diskEnums(ctx.version).v;
  if (protocol === 'iscsi' && v.newer) {
    const hosts = childElements(source, 'host');
    if (hosts.length !== 1) ctx.report('disk-iscsi-hosts', hosts.length ? hosts[1].nameSpan : source.nameSpan);
  }
  const diskAuth = firstChild(disk, 'auth');
  const srcAuth = firstChild(source, 'auth');
  // The <source> is parsed first: a disk-level <auth> beside it is the duplicate.
  if (diskAuth && srcAuth) {
    ctx.report('disk-auth-both', diskAuth.nameSpan, {}, { data: { remove: true } });
    return;
  }
  const auth = srcAuth ?? diskAuth;
  if (!auth || !parseAuth(ctx, auth, protocol)) return;
  if (['nbd', 'sheepdog', 'gluster', 'tftp', 'vxhs', 'nfs'].includes(protocol)) {
    ctx.report('disk-auth-protocol', auth.nameSpan, { protocol }, { data: { remove: true } });
    return;
  }
  const secret = firstChild(auth, 'secret')!;
  const type = attr(secret, 'type');
  const wanted = protocol === 'iscsi' ? 'iscsi' : protocol === 'rbd' ? 'ceph' : undefined;
  if (!type || type.value === undefined || !v.usages.includes(type.value)) {
    // libvirt prints a missing type as '<null>' (NULLSTR).
    const data = type ? { replacement: wanted ?? 'none' } : { insert: `type='${wanted ?? 'none'}'` };
    const at = type ? type.valueSpan : secret.nameSpan;
    ctx.report('disk-auth-secret-type-unknown', at, { type: type?.value ?? '<null>' }, { data });
    return;
  }
  if (wanted && type.value !== wanted) {
    const fix = { data: { replacement: wanted } };
    ctx.report('disk-auth-secret-type-invalid', type.valueSpan, { type: type.value }, fix);
  }
}

/** virStorageAuthDefParse + virSecretLookupParseSecret; false when libvirt's parser fails. */
function parseAuth(ctx: ValidationContext, auth: XmlElement, protocol: string): boolean {
  if (!attr(auth, 'username')) {
    ctx.report('disk-auth-username-required', auth.nameSpan, {}, { data: { insert: "username='admin'" } });
    return false;
  }
  const authType = attr(auth, 'type');
  if (authType && authType.value !== undefined && !['none', 'chap', 'ceph'].includes(authType.value)) {
    // virStorageAuthType: the storage pool's names of the iSCSI and Ceph schemes.
    const replacement = protocol === 'iscsi' ? 'chap' : protocol === 'rbd' ? 'ceph' : 'none';
    ctx.report('disk-auth-type-unknown', authType.valueSpan, { value: authType.value }, { data: { replacement } });
    return false;
  }
  const secret = firstChild(auth, 'secret');
  if (!secret) {
    ctx.report('disk-auth-secret-required', auth.nameSpan);
    return false;
  }
  const uuid = attr(secret, 'uuid');
  const usage = attr(secret, 'usage');
  if (!uuid && !usage) {
    ctx.report('disk-auth-secret-lookup-required', secret.nameSpan);
    return false;
  }
  if (uuid && usage) {
    ctx.report('disk-auth-secret-lookup-both', usage.nameSpan, {}, { data: { remove: true } });
    return false;
  }
  return true;
}

function sourcePathAttr(type: string): string | undefined {
  return type === 'file' ? 'file' : type === 'block' ? 'dev' : type === 'dir' ? 'dir' : undefined;
}

/** virDomainDiskDefParseSourceXML + virDomainStorageSourceParse; undefined when parsing fails. */
function parseSource(ctx: ValidationContext, type: string, source: XmlElement | undefined): ParsedSource | undefined {
  // Without a <source> the type is reset to 'file' (an empty drive, whatever type was given).
  if (!source) return { type: 'file' };
  const out: ParsedSource = { type };
  const pathAttr = sourcePathAttr(type);
  if (pathAttr) {
    const p = attrValue(source, pathAttr);
    // A '' path is dropped: apps write it for a CD-ROM without media.
    out.path = p === '' ? undefined : p;
    return out;
  }
  if (type === 'network') return parseNetwork(ctx, source) ? { type, ...networkPath(source) } : undefined;
  if (type === 'nvme') return parseNvme(ctx, source) ? out : undefined;
  if (type === 'vhostuser') return parseVhostUser(ctx, source) ? out : undefined;
  if (type === 'volume') {
    const pool = attrValue(source, 'pool');
    const volume = attrValue(source, 'volume');
    if ((pool === undefined) !== (volume === undefined)) {
      ctx.report(
        'disk-source-pool-volume',
        source.nameSpan,
        {},
        { data: { insert: pool === undefined ? "pool='default'" : "volume='disk.img'" } },
      );
      return undefined;
    }
    if (pool !== undefined && volume !== undefined) out.pool = { pool, volume };
  }
  return out;
}

/** The protocol and path of a network source that parsed. */
function networkPath(source: XmlElement): { protocol: string; path?: string } {
  const protocol = attrValue(source, 'protocol') ?? DISK_NET_PROTOCOL_NONE;
  const name = attrValue(source, 'name');
  // rbd and gluster keep 'pool/image' apart: the path is what follows the first '/'.
  const path =
    name !== undefined && (protocol === 'rbd' || protocol === 'gluster') ? name.slice(name.indexOf('/') + 1) : name;
  return { protocol, path };
}

/** virDomainDiskSourceNetworkParse and its hosts; false when libvirt's parser fails. */
function parseNetwork(ctx: ValidationContext, source: XmlElement): boolean {
  const protoAttr = attr(source, 'protocol');
  if (!protoAttr || protoAttr.value === undefined) {
    ctx.report(
      'disk-source-protocol-required',
      (protoAttr ?? source).nameSpan,
      {},
      protoAttr ? {} : { data: { insert: "protocol='rbd'" } },
    );
    return false;
  }
  const protocols = [DISK_NET_PROTOCOL_NONE, ...DISK_NET_PROTOCOLS.map((t) => t.value)];
  if (!checkEnum(ctx, protoAttr, protocols, 'disk-source-protocol-invalid', 'rbd')) return false;
  const protocol = protoAttr.value;
  let ok = true;
  const nameAttr = attr(source, 'name');
  if (!nameAttr && protocol !== 'nbd') {
    ctx.report(
      'disk-source-name-required',
      source.nameSpan,
      {},
      { data: { insert: protocol === 'rbd' ? "name='pool/image'" : "name=''" } },
    );
    ok = false;
  } else if (nameAttr && (protocol === 'rbd' || protocol === 'gluster')) {
    const name = nameAttr.value ?? '';
    const slash = name.indexOf('/');
    if (slash <= 0) {
      ctx.report('disk-source-name-split', nameAttr.valueSpan, { name });
      ok = false;
    }
  }
  for (const host of childElements(source, 'host')) if (!parseHost(ctx, host)) ok = false;
  return ok;
}

function parseHost(ctx: ValidationContext, host: XmlElement): boolean {
  const transportAttr = attr(host, 'transport');
  const transports = DISK_HOST_TRANSPORTS.map((t) => t.value);
  if (transportAttr && transportAttr.value !== undefined && !transports.includes(transportAttr.value)) {
    ctx.report(
      'disk-host-transport-invalid',
      transportAttr.valueSpan,
      { value: transportAttr.value },
      { data: { replacement: nearest(transportAttr.value, transports) ?? 'tcp', values: transports } },
    );
    return false;
  }
  const transport = transportAttr?.value ?? 'tcp';
  const socket = attr(host, 'socket');
  if (transport === 'unix' && !socket) {
    ctx.report('disk-host-socket-required', host.nameSpan, {}, { data: { insert: "socket='/run/nbd.sock'" } });
    return false;
  }
  if (transport !== 'unix' && socket) {
    // libvirt prints the attribute as given: '(null)' when there is none.
    ctx.report(
      'disk-host-socket-unsupported',
      socket.nameSpan,
      { transport: transportAttr?.value ?? '(null)' },
      { data: { remove: true } },
    );
    return false;
  }
  if (transport === 'unix') return true;
  if (!attr(host, 'name')) {
    ctx.report('disk-host-name-required', host.nameSpan, {}, { data: { insert: "name='localhost'" } });
    return false;
  }
  const port = attr(host, 'port');
  if (port && port.value !== undefined) {
    const p = parseUIntP(port.value);
    if (p === undefined) {
      ctx.report('disk-host-port-invalid', port.valueSpan, { value: port.value });
      return false;
    }
    if (p > UINT16_MAX) {
      ctx.report('disk-host-port-range', port.valueSpan, { value: port.value });
      return false;
    }
  }
  return true;
}

/** A <source type> that libvirt's parser requires with exactly one value (NVMe: pci, vhost-user: unix). */
function requireSourceType(
  ctx: ValidationContext,
  source: XmlElement,
  value: string,
  requiredId: RuleId,
  invalidId: RuleId,
): boolean {
  const type = attr(source, 'type');
  if (!type || type.value === undefined) {
    ctx.report(requiredId, source.nameSpan, {}, { data: { insert: `type='${value}'` } });
    return false;
  }
  if (type.value !== value) {
    ctx.report(invalidId, type.valueSpan, { value: type.value }, { data: { replacement: value } });
    return false;
  }
  return true;
}

/** virDomainDiskSourceNVMeParse (and virDomainDiskDefValidate's namespace check). */
function parseNvme(ctx: ValidationContext, source: XmlElement): boolean {
  if (!requireSourceType(ctx, source, 'pci', 'disk-nvme-source-type-required', 'disk-nvme-source-type-invalid')) {
    return false;
  }
  const ns = attr(source, 'namespace');
  if (!ns || ns.value === undefined) {
    ctx.report('disk-nvme-namespace-required', source.nameSpan, {}, { data: { insert: "namespace='1'" } });
    return false;
  }
  // virStrToLong_ull: blanks and a sign are read ('-1' wraps to a huge namespace).
  const n = parseULL(ns.value, false);
  if (!n.ok) {
    ctx.report('disk-nvme-namespace-invalid', ns.valueSpan, { value: ns.value }, { data: { replacement: '1' } });
    return false;
  }
  const managed = attr(source, 'managed');
  if (!checkEnum(ctx, managed, ['yes', 'no'], 'disk-nvme-managed-invalid', 'yes')) return false;
  if (!firstChild(source, 'address')) {
    ctx.report(
      'disk-nvme-address-required',
      source.nameSpan,
      {},
      { data: { insert: "<address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>" } },
    );
    return false;
  }
  // domain_validate.c: namespaces count from 1.
  if (n.value === 0n) ctx.report('disk-nvme-namespace-zero', ns.valueSpan, {}, { data: { replacement: '1' } });
  return true;
}

/** virDomainDiskSourceVHostUserParse: a UNIX socket path. */
function parseVhostUser(ctx: ValidationContext, source: XmlElement): boolean {
  if (
    !requireSourceType(ctx, source, 'unix', 'disk-vhostuser-source-type-required', 'disk-vhostuser-source-type-invalid')
  ) {
    return false;
  }
  if (!attr(source, 'path')) {
    ctx.report(
      'disk-vhostuser-path-required',
      source.nameSpan,
      {},
      { data: { insert: "path='/run/vhost-user-blk.sock'" } },
    );
    return false;
  }
  return true;
}

/** virDomainDiskDefSourceLUNValidate (its encryption check is domain.ts's disk-encryption-lun). */
function validateLun(ctx: ValidationContext, disk: XmlElement, src: ParsedSource): void {
  const source = firstChild(disk, 'source');
  if (src.type === 'network') {
    if (src.protocol !== 'iscsi') {
      const p = attr(source, 'protocol');
      ctx.report('disk-lun-protocol', p ? p.valueSpan : disk.nameSpan, {
        protocol: src.protocol ?? DISK_NET_PROTOCOL_NONE,
      });
    }
  } else if (src.type !== 'block' && src.type !== 'volume') {
    ctx.report(
      'disk-lun-source',
      (attr(disk, 'device') ?? attr(disk, 'type'))?.valueSpan ?? disk.nameSpan,
      {},
      { data: { replacement: 'disk' } },
    );
  }
  const fmt = attr(firstChild(disk, 'driver'), 'type');
  // An unknown format is already a parser error (disk-driver-format-unknown).
  if (fmt && fmt.value && fmt.value !== 'raw' && FILE_FORMATS.some((f) => f.value === fmt.value))
    ctx.report('disk-lun-format', fmt.valueSpan, {}, { data: { replacement: 'raw' } });
}
