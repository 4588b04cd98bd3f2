// Domain <disk> encryption (libvirt-rules.md §2): every storage source of every disk — the top
// <source> and each <backingStore> layer — goes through the <encryption> parser;
// then generic validation (domain_validate.c) and the qemu driver's validation (qemu_domain.c
// qemuDomainValidateStorageSource, qemu_validate.c), assuming a current qemu with every
// capability. Other domain elements are not judged here.
import { attrValue, childElements, firstChild, path, type XmlElement } from '../xmlModel';
import type { ValidationContext } from './context';
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

  const chain: StorageSource[] = [top];
  for (let bs = firstChild(disk, 'backingStore'); bs; bs = firstChild(bs, 'backingStore')) {
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
  for (const src of chain) validateQemuSource(ctx, src);

  // qemu_validate.c: an SD card takes one secret at most.
  const bus = attrValue(firstChild(disk, 'target'), 'bus');
  if (bus === 'sd' && topEnc && topEnc.secrets.length > 1) {
    ctx.report('disk-encryption-sd-secrets', topEnc.secrets[1].nameSpan, { dst: attrValue(firstChild(disk, 'target'), 'dev') ?? '' });
  }
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
    // A missing driver type becomes raw in post-parse (not for type='volume', resolved later).
    const fmt = src.format ?? (src.type === 'volume' ? undefined : 'raw');
    if (enc.format === 'luks' && fmt && fmt !== 'raw' && fmt !== 'qcow2') {
      ctx.report('disk-encryption-image-format', span, {}, { data: { imageFormat: fmt } });
    }
    if (enc.secrets.length > 1) ctx.report('disk-encryption-qemu-one-secret', enc.secrets[1].nameSpan);
    if (enc.format === 'luks' && enc.secrets.length === 0) ctx.report('disk-encryption-no-secret', enc.el.nameSpan);
  } else if (src.type !== 'network' && src.type !== 'volume') {
    // The check is `actualType != NETWORK && protocol != RBD`: it only fires for non-network disks.
    ctx.report('disk-encryption-rbd-only', enc.engineAttr!.valueSpan, {}, { data: { replacement: 'qemu' } });
  }
}

/** DENC-LOCATION: the schema has no <encryption> in the <source> of nfs, vhostuser, vhostvdpa disks. */
function checkEncryptionLocation(ctx: ValidationContext, type: string, protocol: string | undefined, enc: XmlElement): void {
  const what = type === 'vhostuser' || type === 'vhostvdpa' ? type : type === 'network' && protocol === 'nfs' ? 'nfs' : undefined;
  if (what) ctx.report('disk-encryption-location', enc.nameSpan, { what });
}
