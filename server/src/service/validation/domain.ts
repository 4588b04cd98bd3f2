// Domain <disk> encryption (domain_conf.c, rules/domain.ts): every storage source of every disk — the top
// <source> and each <backingStore> layer — goes through the <encryption> parser;
// then generic validation (domain_validate.c) and the qemu driver's validation (qemu_domain.c
// qemuDomainValidateStorageSource, qemu_validate.c), assuming a current qemu with every
// capability. Other domain elements are not judged here.
import { DISK_NET_PROTOCOLS, FILE_FORMATS } from '../../../../schemas/vocabulary';
import { attr, attrValue, childElements, firstChild, path, type XmlAttribute, type XmlElement } from '../xmlModel';
import type { ValidationContext } from './context';
import {
  defaultBus,
  diskEnums,
  diskNamePrefix,
  parseDiskName,
  validateDiskGeneral,
  validateNetworkSourceRules,
} from './disk';
import { validateEncryption, type EncryptionInfo } from './encryption';

/** One storage source of a disk: the top image or a backing layer. */
interface StorageSource {
  /** The element that carries type/format (<disk>, <backingStore>). */
  el: XmlElement;
  kind: 'top' | 'backing';
  type: string;
  /** Image format (driver type on the top, <format type> on backing layers). */
  format?: string;
  protocol?: string;
  encryption?: EncryptionInfo;
}

export function validateDomain(ctx: ValidationContext): void {
  const root = ctx.doc.root;
  if (!root) return;
  const disks = root.name === 'disk' ? [root] : childElements(path(root, 'devices'), 'disk');
  // The post-parse facts the checks across disks need are read right after each disk's own
  // rules, while its elements are still in the CPU's caches (a second walk over a 1 MB domain's
  // thousands of disks missed them all again).
  const newer = diskEnums(ctx.version).v.newer;
  const entries: DiskEntry[] = [];
  for (const disk of disks) {
    validateDisk(ctx, disk);
    const e = diskEntry(disk, newer);
    if (e) entries.push(e);
  }
  const hostdevs = root.name === 'disk' ? [] : childElements(path(root, 'devices'), 'hostdev');
  validateDiskSet(ctx, disks.length, entries, hostdevs);
}

/** What domain-wide checks need of one disk, after libvirt's post-parse. */
interface DiskEntry {
  disk: XmlElement;
  dst: string;
  dev: XmlAttribute;
  bus: string;
  index: number;
  /** The drive address given or assigned (virDomainDiskDefAssignAddress), if the bus has one. */
  drive?: DriveAddress & { given: boolean };
}

interface DriveAddress {
  controller: number;
  bus: number;
  target: number;
  unit: number;
}

/**
 * Checks across disks: the same target twice (domain_conf.c virDomainDiskDefCheckDuplicateInfo,
 * from domain_validate.c virDomainDefDuplicateDiskInfoValidate) and two disks at one drive address
 * (domain_validate.c virDomainDefDuplicateDriveAddressesValidate). libvirt keeps disks grouped by
 * bus (domain_conf.c virDomainDiskInsert), which decides which disk a message names first.
 */
function validateDiskSet(ctx: ValidationContext, disks: number, entries: DiskEntry[], hostdevs: XmlElement[]): void {
  const scsiHostdevs = hostdevs.map(scsiHostdevAddress).filter((h) => h !== undefined);
  if (disks < 2 && !scsiHostdevs.length) return;
  // virDomainDiskInsert puts a disk before the first disk of its bus with a greater index, or after
  // the last of its bus: buses in order of first appearance, each sorted (stably) by index. Linear
  // in the number of disks apart from the sort (a 1 MB domain has thousands).
  const byBus = new Map<string, DiskEntry[]>();
  for (const e of entries) {
    const group = byBus.get(e.bus);
    if (group) group.push(e);
    else byBus.set(e.bus, [e]);
  }
  const list = [...byBus.values()].flatMap((g) => g.sort((p, q) => p.index - q.index));
  // The names in use are only needed for a fix, i.e. once a target is used twice.
  let names: NameIndex | undefined;
  // Each later disk with a target seen before is reported with the first one (libvirt's pair i < j).
  const firstByDst = new Map<string, DiskEntry>();
  for (const b of list) {
    const a = firstByDst.get(b.dst);
    if (!a) {
      firstByDst.set(b.dst, b);
      continue;
    }
    // The range is the later disk in the document: the one a user just added.
    const later = a.dev.valueSpan.start > b.dev.valueSpan.start ? a : b;
    const free = freeName(later.dst, (names ??= nameIndex(list)));
    const fix = free ? { data: { replacement: free } } : {};
    // virDomainDiskGetSource: the source path, '<null>' (NULLSTR) without one.
    const args = { dst: a.dst, a: sourcePath(a.disk) ?? '<null>', b: sourcePath(b.disk) ?? '<null>' };
    ctx.report('disk-target-duplicate', later.dev.valueSpan, args, fix);
  }
  // Drive addresses as given or assigned by the post-parse, compared on the same bus; two
  // assigned ones only meet for the same target name, reported above.
  const firstByDrive = new Map<string, DiskEntry>();
  const driveKey = (bus: string, d: DriveAddress) => `${bus}/${d.controller}/${d.bus}/${d.target}/${d.unit}`;
  for (const b of list) {
    if (!b.drive) continue;
    const key = driveKey(b.bus, b.drive);
    const a = firstByDrive.get(key);
    if (!a) {
      firstByDrive.set(key, b);
      continue;
    }
    if (!a.drive!.given && !b.drive.given) continue;
    // The range is the <address> given (the later one when both are): without it the disk is
    // given one from its name, which is the fix.
    const byPlace = (p: DiskEntry, q: DiskEntry) => q.disk.nameSpan.start - p.disk.nameSpan.start;
    const given = [a, b].filter((e) => e.drive?.given).sort(byPlace);
    const addr = firstChild(given[0].disk, 'address')!;
    const x = a.drive!;
    const args = { dst: a.dst, controller: x.controller, bus: x.bus, target: x.target, unit: x.unit };
    ctx.report('disk-address-duplicate', addr.nameSpan, args, given[0].index >= 0 ? { data: { remove: true } } : {});
  }
  // SCSI host devices at a drive address: a scsi disk assigned the same address by its name (the
  // disk's post-parse, virDomainDiskDefAssignAddress, runs first), or given it (the hostdev's
  // post-parse, domain_postparse.c virDomainHostdevDefPostParse).
  for (const h of scsiHostdevs) {
    const e = firstByDrive.get(driveKey('scsi', h));
    const d = e?.drive;
    if (!e || !d) continue;
    if (!d.given) {
      const args = { dst: e.dst, controller: d.controller, unit: d.unit };
      ctx.report('disk-hostdev-address-conflict', e.dev.valueSpan, args);
    } else {
      const args = { controller: h.controller, bus: h.bus, target: h.target, unit: h.unit };
      ctx.report('disk-hostdev-address-used', h.el.nameSpan, args);
    }
  }
}

/** Indices in use per name prefix, and the fixes worked out so far (thousands of disks may clash). */
interface NameIndex {
  used: Map<string, Set<number>>;
  memo: Map<string, string | undefined>;
}

function nameIndex(list: DiskEntry[]): NameIndex {
  const used = new Map<string, Set<number>>();
  for (const e of list) {
    const prefix = diskNamePrefix(e.dst);
    if (!prefix || e.index < 0 || hasDigit(e.dst, prefix.length)) continue;
    let set = used.get(prefix);
    if (!set) used.set(prefix, (set = new Set()));
    set.add(e.index);
  }
  return { used, memo: new Map() };
}

function hasDigit(s: string, from: number): boolean {
  for (let k = from; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c >= 48 && c <= 57) return true;
  }
  return false;
}

/** The next name of `dst`'s prefix that no disk uses (virDiskNameToIndex's inverse: a..z, aa..). */
function freeName(dst: string, names: NameIndex): string | undefined {
  if (names.memo.has(dst)) return names.memo.get(dst);
  const prefix = diskNamePrefix(dst);
  const parsed = parseDiskName(dst);
  let out: string | undefined;
  if (prefix && parsed) {
    const used = names.used.get(prefix) ?? new Set<number>();
    let idx = parsed.index + 1;
    while (used.has(idx)) idx++;
    let letters = '';
    for (let n = idx + 1; n > 0; n = Math.floor((n - 1) / 26)) {
      letters = String.fromCharCode(97 + ((n - 1) % 26)) + letters;
    }
    // Past the last index libvirt parses, there is no name to offer.
    out = idx <= 0x7fffffff ? prefix + letters : undefined;
  }
  names.memo.set(dst, out);
  return out;
}

/** The `<address type='drive'>` of a SCSI host device (virHostdevIsSCSIDevice: subsystem, scsi). */
function scsiHostdevAddress(hostdev: XmlElement): (DriveAddress & { el: XmlElement }) | undefined {
  const mode = attrValue(hostdev, 'mode') ?? 'subsystem';
  if (mode !== 'subsystem' || attrValue(hostdev, 'type') !== 'scsi') return undefined;
  const address = firstChild(hostdev, 'address');
  if (!address || attrValue(address, 'type') !== 'drive') return undefined;
  return { ...driveAddress(address), el: address };
}

/** virDomainDeviceDriveAddressParseXML: each part an unsigned number, 0 when absent. */
function driveAddress(address: XmlElement): DriveAddress {
  const n = (name: string) => {
    const v = attrValue(address, name);
    return v === undefined ? 0 : /^[0-9]+$/.test(v) ? Number(v) : NaN;
  };
  return { controller: n('controller'), bus: n('bus'), target: n('target'), unit: n('unit') };
}

/** The post-parse facts of one disk; undefined when it has no usable target. */
function diskEntry(disk: XmlElement, newer: boolean): DiskEntry | undefined {
  const target = firstChild(disk, 'target');
  const dev = attr(target, 'dev');
  if (!dev || dev.value === undefined) return undefined;
  const dst = dev.value.startsWith('ioemu:') ? dev.value.slice(6) : dev.value;
  const device = attrValue(disk, 'device') || 'disk';
  const bus = attrValue(target, 'bus') ?? defaultBus(device, dst);
  const parsed = parseDiskName(dst, newer);
  const index = parsed ? parsed.index : -1;
  // Every entry has the same fields (drive undefined when none): one object shape for all disks.
  const e: DiskEntry = { disk, dst, dev, bus, index, drive: undefined };
  const address = firstChild(disk, 'address');
  const type = attrValue(address, 'type');
  if (type === 'drive') {
    e.drive = { ...driveAddress(address!), given: true };
  } else if (type === undefined && parsed) {
    const idx = parsed.index;
    // virDomainDiskDefAssignAddress (qemu uses narrow SCSI buses: 7 units).
    if (bus === 'ide') e.drive = assigned(Math.floor(idx / 4), idx % 2, Math.floor((idx % 4) / 2));
    else if (bus === 'sata') e.drive = assigned(Math.floor(idx / 6), idx % 6);
    else if (bus === 'fdc') e.drive = assigned(Math.floor(idx / 2), idx % 2);
    else if (bus === 'scsi') e.drive = assigned(Math.floor(idx / 7), idx % 7);
  }
  return e;
}

/** A drive address the post-parse assigns from the disk's name. */
function assigned(controller: number, unit: number, driveBus = 0): DriveAddress & { given: boolean } {
  return { controller, bus: driveBus, target: 0, unit, given: false };
}

/** src->path after parsing: local paths ('' dropped), network names (rbd/gluster: the image). */
function sourcePath(disk: XmlElement): string | undefined {
  const source = firstChild(disk, 'source');
  if (!source) return undefined;
  const type = attrValue(disk, 'type') || 'file';
  const local = ({ file: 'file', block: 'dev', dir: 'dir', vhostuser: 'path' } as Record<string, string>)[type];
  if (local) return attrValue(source, local) || undefined;
  if (type !== 'network') return undefined;
  const name = attrValue(source, 'name');
  const protocol = attrValue(source, 'protocol');
  const split = name !== undefined && (protocol === 'rbd' || protocol === 'gluster');
  return split ? name.slice(name.indexOf('/') + 1) : name;
}

function validateDisk(ctx: ValidationContext, disk: XmlElement): void {
  // The general parser and validation rules (type, device, bus, target, source, lun, ...).
  validateDiskGeneral(ctx, disk);
  const type = attrValue(disk, 'type') || 'file';
  const device = attrValue(disk, 'device') || 'disk';
  const source = firstChild(disk, 'source');
  const diskEnc = firstChild(disk, 'encryption');
  const srcEnc = firstChild(source, 'encryption');

  const top: StorageSource = {
    el: disk,
    kind: 'top',
    type,
    format: attrValue(firstChild(disk, 'driver'), 'type') || undefined,
    protocol: attrValue(source, 'protocol'),
    encryption: undefined,
  };
  // domain_conf.c: the disk-level <encryption> is the legacy place; both at once is refused.
  if (diskEnc && srcEnc) ctx.report('disk-encryption-both', srcEnc.nameSpan, {}, { data: { remove: true } });
  const topEncEl = srcEnc ?? diskEnc;
  if (topEncEl) {
    top.encryption = validateEncryption(ctx, topEncEl, 'disk');
    const sourcePlaceAllowed =
      type !== 'vhostuser' && type !== 'vhostvdpa' && !(type === 'network' && top.protocol === 'nfs');
    if (diskEnc && !srcEnc && sourcePlaceAllowed && ctx.atLeast('3.9.0'))
      ctx.report('disk-encryption-legacy-location', diskEnc.nameSpan);
  }
  if (srcEnc) checkEncryptionLocation(ctx, type, top.protocol, srcEnc);
  // Only one of them is reported as a duplicate; the other encryption is still parsed.
  if (diskEnc && srcEnc) validateEncryption(ctx, diskEnc, 'disk');

  // virDomainDiskDefDriverParseXML: the driver type must be a storage file format ('' included).
  const driverType = attr(firstChild(disk, 'driver'), 'type');
  if (driverType && !FORMATS.includes(driverType.value ?? '')) {
    ctx.report(
      'disk-driver-format-unknown',
      driverType.valueSpan,
      { format: driverType.value ?? '' },
      { data: { replacement: 'qcow2', values: FORMATS } },
    );
    top.format = undefined;
  }

  const chain: StorageSource[] = [top];
  for (let bs = firstChild(disk, 'backingStore'); bs; bs = firstChild(bs, 'backingStore')) {
    // An empty <backingStore/> ends the chain.
    if (!hasElementChild(bs)) break;
    if (!validateBackingLayer(ctx, bs)) break;
    const bsSource = firstChild(bs, 'source');
    const layer: StorageSource = {
      el: bs,
      kind: 'backing',
      type: attrValue(bs, 'type') || 'file',
      format: attrValue(firstChild(bs, 'format'), 'type') || undefined,
      protocol: attrValue(bsSource, 'protocol'),
      encryption: undefined,
    };
    // virDomainDiskDefValidateSourceChainOne judges every layer's <auth> and protocol.
    if (layer.type === 'network' && bsSource && NET_PROTOCOLS.includes(layer.protocol ?? '')) {
      validateNetworkSourceRules(ctx, undefined, bsSource, layer.protocol!);
    }
    const e = firstChild(bsSource, 'encryption');
    if (e) {
      layer.encryption = validateEncryption(ctx, e, 'disk');
      checkEncryptionLocation(ctx, layer.type, layer.protocol, e);
    }
    chain.push(layer);
  }
  // <mirror> (a block job's target) is only read back from a running domain's status XML: a
  // define ignores it entirely (measured with libvirt 9.0), so its <encryption> is not judged.

  // ---- domain_validate.c (DEF-VAL) ----
  for (const src of chain) {
    const enc = src.encryption;
    // virDomainDiskDefValidateSourceChainOne.
    if (enc?.format === 'luks' && enc.cipher)
      ctx.report('disk-encryption-cipher', enc.cipher.el.nameSpan, {}, { data: { remove: true } });
  }
  const topEnc = top.encryption;
  if (topEnc && device === 'lun' && topEnc.format && topEnc.format !== 'default') {
    ctx.report('disk-encryption-lun', topEnc.el.nameSpan);
  }
  if (topEnc && type === 'vhostuser') ctx.report('disk-encryption-vhostuser', topEnc.el.nameSpan);

  // ---- qemu driver (QEMU-VAL), per storage source of the chain ----
  for (const src of chain) {
    validateQemuFormat(ctx, src, disk);
    validateQemuSource(ctx, src);
  }

  // qemu_validate.c: an SD card takes one secret at most.
  const bus = attrValue(firstChild(disk, 'target'), 'bus');
  if (bus === 'sd' && topEnc && topEnc.secrets.length > 1) {
    ctx.report('disk-encryption-sd-secrets', topEnc.secrets[1].nameSpan, {
      dst: attrValue(firstChild(disk, 'target'), 'dev') ?? '',
    });
  }
}

/** Whether the element has any child element (no list built: this runs per backing layer). */
function hasElementChild(el: XmlElement): boolean {
  const children = el.children;
  for (let i = 0; i < children.length; i++) if (children[i].kind === 'element') return true;
  return false;
}

const FORMATS = FILE_FORMATS.map((f) => f.value);
const NET_PROTOCOLS = DISK_NET_PROTOCOLS.map((p) => p.value);

/**
 * virDomainDiskBackingStoreParse: type (default file) and format must be known, a <source> must
 * be there. Returns false when the layer is unusable (libvirt would stop here).
 */
function validateBackingLayer(ctx: ValidationContext, bs: XmlElement): boolean {
  let ok = true;
  const type = attr(bs, 'type');
  const types = diskEnums(ctx.version).types;
  if (type && type.value !== undefined && type.value !== '' && !types.includes(type.value)) {
    ctx.report(
      'disk-backing-type-unknown',
      type.valueSpan,
      { type: type.value },
      { data: { replacement: 'file', values: types } },
    );
    ok = false;
  }
  const fmtEl = firstChild(bs, 'format');
  const fmt = attr(fmtEl, 'type');
  if (!fmt || !fmt.value) {
    ctx.report(
      'disk-backing-format-required',
      fmt ? fmt.valueSpan : (fmtEl ?? bs).nameSpan,
      {},
      { data: { insert: "<format type='qcow2'/>" } },
    );
    ok = false;
  } else if (!FORMATS.includes(fmt.value)) {
    ctx.report(
      'disk-backing-format-unknown',
      fmt.valueSpan,
      { format: fmt.value },
      { data: { replacement: 'qcow2', values: FORMATS } },
    );
    ok = false;
  }
  if (!firstChild(bs, 'source')) {
    ctx.report('disk-backing-source-required', bs.nameSpan);
    ok = false;
  }
  return ok;
}

/** Image formats the qemu driver refuses (qemuDomainValidateStorageSource), for every layer. */
function validateQemuFormat(ctx: ValidationContext, src: StorageSource, disk: XmlElement): void {
  const fmt = src.format;
  const el = src.kind === 'top' ? attr(firstChild(disk, 'driver'), 'type') : attr(firstChild(src.el, 'format'), 'type');
  if (!fmt || !el) return;
  let detail: string | undefined;
  if (fmt === 'iso') detail = "storage format 'iso' is not directly supported by QEMU, use 'raw' instead";
  else if (fmt === 'dir')
    detail = "'directory' storage format is not directly supported by QEMU, use 'dir' disk type instead";
  else if (fmt === 'cow') detail = "'cow' storage format is not supported";
  // A volume's actual type is only known once the pool resolves it (virStorageSourceGetActualType).
  else if (fmt === 'fat' && src.type !== 'dir' && src.type !== 'volume') {
    detail = "storage format 'fat' is supported only with 'dir' storage type";
  } else if (fmt === 'fat' && src.type === 'dir' && src.kind === 'top' && !firstChild(disk, 'readonly')) {
    detail = "virtual FAT storage can't be accessed in read-write mode";
  }
  if (detail)
    ctx.report(
      'disk-format-unsupported',
      el.valueSpan,
      { detail },
      { data: { replacement: fmt === 'iso' ? 'raw' : undefined } },
    );
}

/** qemuDomainValidateStorageSource: the engine defaults to qemu on every layer (post-parse, 7.9.0). */
function validateQemuSource(ctx: ValidationContext, src: StorageSource): void {
  const enc = src.encryption;
  if (!enc || !enc.format) return;
  const span = enc.formatAttr!.valueSpan;
  if (enc.format === 'default' || enc.format === 'qcow') {
    ctx.report('disk-encryption-old-qcow', span, {}, { data: { replacement: 'luks' } });
    return;
  }
  const engine = enc.engine ?? 'qemu';
  if (engine === 'qemu') {
    if (enc.format === 'luks2' || enc.format === 'luks-any') {
      // 9.0 says "luks2 is currently…"; the message quotes the format since luks-any (9.3.0).
      ctx.report(
        'disk-encryption-qemu-luks2',
        span,
        { format: ctx.atLeast('9.3.0') ? `'${enc.format}'` : enc.format },
        { data: { replacement: 'luks' } },
      );
    }
    // A missing driver type becomes raw in post-parse, but not for type='volume' disks, which
    // then fail this check with no format at all (measured with libvirt 9.0).
    const fmt = src.format ?? (src.type === 'volume' ? 'none' : 'raw');
    if (enc.format === 'luks' && fmt && fmt !== 'raw' && fmt !== 'qcow2') {
      ctx.report('disk-encryption-image-format', span, {}, { data: { imageFormat: fmt } });
    }
    if (enc.secrets.length > 1) ctx.report('disk-encryption-qemu-one-secret', enc.secrets[1].nameSpan);
    if (enc.format === 'luks' && enc.secrets.length === 0) ctx.report('disk-encryption-no-secret', enc.el.nameSpan);
  } else if (src.type !== 'network') {
    // The check is `actualType != NETWORK && protocol != RBD`: it only fires for non-network disks.
    ctx.report('disk-encryption-rbd-only', enc.engineAttr!.valueSpan, {}, { data: { replacement: 'qemu' } });
  }
}

/** DENC-LOCATION: the schema has no <encryption> in the <source> of nfs, vhostuser, vhostvdpa disks. */
function checkEncryptionLocation(
  ctx: ValidationContext,
  type: string,
  protocol: string | undefined,
  enc: XmlElement,
): void {
  const what =
    type === 'vhostuser' || type === 'vhostvdpa' ? type : type === 'network' && protocol === 'nfs' ? 'nfs' : undefined;
  if (what) ctx.report('disk-encryption-location', enc.nameSpan, { what });
}
