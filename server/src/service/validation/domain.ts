// Domain <disk> encryption (domain_conf.c, rules/domain.ts): every storage source of every disk — the top
// <source> and each <backingStore> layer — goes through the <encryption> parser;
// then generic validation (domain_validate.c) and the qemu driver's validation (qemu_domain.c
// qemuDomainValidateStorageSource, qemu_validate.c), assuming a current qemu with every
// capability. Other domain elements are not judged here.
import { DISK_SOURCE_TYPES, FILE_FORMATS, availableIn } from '../../../../schemas/vocabulary';
import { attr, attrValue, childElements, firstChild, path, type XmlElement } from '../xmlModel';
import type { ValidationContext } from './context';
import { validateDiskGeneral } from './disk';
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
  for (const disk of disks) validateDisk(ctx, disk);
}

function validateDisk(ctx: ValidationContext, disk: XmlElement): void {
  // The general parser and validation rules (type, device, bus, target, source, lun, ...).
  validateDiskGeneral(ctx, disk);
  const type = attrValue(disk, 'type') || 'file';
  const device = attrValue(disk, 'device') || 'disk';
  const source = firstChild(disk, 'source');
  const diskEnc = firstChild(disk, 'encryption');
  const srcEnc = firstChild(source, 'encryption');

  const top: StorageSource = { el: disk, kind: 'top', type, format: attrValue(firstChild(disk, 'driver'), 'type') || undefined, protocol: attrValue(source, 'protocol') };
  // domain_conf.c: the disk-level <encryption> is the legacy place; both at once is refused.
  if (diskEnc && srcEnc) ctx.report('disk-encryption-both', srcEnc.nameSpan, {}, { data: { remove: true } });
  const topEncEl = srcEnc ?? diskEnc;
  if (topEncEl) {
    top.encryption = validateEncryption(ctx, topEncEl, 'disk');
    const sourcePlaceAllowed = type !== 'vhostuser' && type !== 'vhostvdpa' && !(type === 'network' && top.protocol === 'nfs');
    if (diskEnc && !srcEnc && sourcePlaceAllowed && ctx.atLeast('3.9.0')) ctx.report('disk-encryption-legacy-location', diskEnc.nameSpan);
  }
  if (srcEnc) checkEncryptionLocation(ctx, type, top.protocol, srcEnc);
  // Only one of them is reported as a duplicate; the other encryption is still parsed.
  if (diskEnc && srcEnc) validateEncryption(ctx, diskEnc, 'disk');

  // virDomainDiskDefDriverParseXML: the driver type must be a storage file format ('' included).
  const driverType = attr(firstChild(disk, 'driver'), 'type');
  if (driverType && !FORMATS.includes(driverType.value ?? '')) {
    ctx.report('disk-driver-format-unknown', driverType.valueSpan, { format: driverType.value ?? '' }, { data: { replacement: 'qcow2', values: FORMATS } });
    top.format = undefined;
  }

  const chain: StorageSource[] = [top];
  for (let bs = firstChild(disk, 'backingStore'); bs; bs = firstChild(bs, 'backingStore')) {
    // An empty <backingStore/> ends the chain.
    if (!childElements(bs).length) break;
    if (!validateBackingLayer(ctx, bs)) break;
    const bsSource = firstChild(bs, 'source');
    const layer: StorageSource = { el: bs, kind: 'backing', type: attrValue(bs, 'type') || 'file', format: attrValue(firstChild(bs, 'format'), 'type') || undefined, protocol: attrValue(bsSource, 'protocol') };
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
    if (enc?.format === 'luks' && enc.cipher) ctx.report('disk-encryption-cipher', enc.cipher.el.nameSpan, {}, { data: { remove: true } });
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
    ctx.report('disk-encryption-sd-secrets', topEnc.secrets[1].nameSpan, { dst: attrValue(firstChild(disk, 'target'), 'dev') ?? '' });
  }
}

const FORMATS = FILE_FORMATS.map((f) => f.value);

/**
 * virDomainDiskBackingStoreParse: type (default file) and format must be known, a <source> must
 * be there. Returns false when the layer is unusable (libvirt would stop here).
 */
function validateBackingLayer(ctx: ValidationContext, bs: XmlElement): boolean {
  let ok = true;
  const type = attr(bs, 'type');
  const types = DISK_SOURCE_TYPES.filter((t) => availableIn(t, ctx.version)).map((t) => t.value);
  if (type && type.value !== undefined && type.value !== '' && !types.includes(type.value)) {
    ctx.report('disk-backing-type-unknown', type.valueSpan, { type: type.value }, { data: { replacement: 'file', values: types } });
    ok = false;
  }
  const fmtEl = firstChild(bs, 'format');
  const fmt = attr(fmtEl, 'type');
  if (!fmt || !fmt.value) {
    ctx.report('disk-backing-format-required', fmt ? fmt.valueSpan : (fmtEl ?? bs).nameSpan, {}, { data: { insert: "<format type='qcow2'/>" } });
    ok = false;
  } else if (!FORMATS.includes(fmt.value)) {
    ctx.report('disk-backing-format-unknown', fmt.valueSpan, { format: fmt.value }, { data: { replacement: 'qcow2', values: FORMATS } });
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
  else if (fmt === 'dir') detail = "'directory' storage format is not directly supported by QEMU, use 'dir' disk type instead";
  else if (fmt === 'cow') detail = "'cow' storage format is not supported";
  else if (fmt === 'fat' && src.type !== 'dir') detail = "storage format 'fat' is supported only with 'dir' storage type";
  else if (fmt === 'fat' && src.kind === 'top' && !firstChild(disk, 'readonly')) detail = "virtual FAT storage can't be accessed in read-write mode";
  if (detail) ctx.report('disk-format-unsupported', el.valueSpan, { detail }, { data: { replacement: fmt === 'iso' ? 'raw' : undefined } });
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
      ctx.report('disk-encryption-qemu-luks2', span, { format: ctx.atLeast('9.3.0') ? `'${enc.format}'` : enc.format }, { data: { replacement: 'luks' } });
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
function checkEncryptionLocation(ctx: ValidationContext, type: string, protocol: string | undefined, enc: XmlElement): void {
  const what = type === 'vhostuser' || type === 'vhostvdpa' ? type : type === 'network' && protocol === 'nfs' ? 'nfs' : undefined;
  if (what) ctx.report('disk-encryption-location', enc.nameSpan, { what });
}
