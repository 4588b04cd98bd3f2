// Resolves the value sources of schemas/elements.ts against a document: the key sizes of *this*
// cipher, the essiv hashes that fit it, the formats of the configured pool, the workspace's
// secrets. Completion lists these values; hover explains them.
import {
  CIPHERS,
  CIPHER_MODES,
  ENCRYPTION_FORMATS,
  FEATURES,
  FILE_FORMATS,
  HASHES,
  IVGENS,
  LUKS_DEFAULTS,
  NEWEST_LIBVIRT,
  availableIn,
  targetFormatsFor,
  type CipherFamily,
  type Term,
} from '../../../schemas/vocabulary';
import { elementDefAt, type AttrDef, type ElementDef, type ValueSource } from '../../../schemas/elements';
import type { LanguageSettings, ServiceEnvironment } from './types';
import { attrValue, elementPath, firstChild, path, textContent, type XmlElement } from './xmlModel';
import { normaliseUuid } from './secrets';
import { hostSecretSummary } from './hostFacts';
import {
  LUKS_ENUM_OPTIONS,
  checkLuksOptions,
  type LuksCheckKind,
  type LuksOptionInput,
} from '../../../schemas/luksOptions';
import { cipherAlg } from './volumeCreate';

export interface ValueTerm extends Term {
  /** Sorts first (qemu's or libvirt's default in this context). */
  isDefault?: boolean;
  /** A qemu-img option this value becomes, e.g. `cipher-alg=twofish-256`. */
  qemuOption?: string;
  /** Completion's detail line when the value has a better one (a host secret's usage). */
  detail?: string;
}

export interface ValueContext {
  settings: LanguageSettings;
  env: ServiceEnvironment;
  /** The element holding the attribute or text. */
  element: XmlElement;
}

export function libvirtVersion(settings: LanguageSettings): string {
  return settings.libvirtVersion || NEWEST_LIBVIRT;
}

/** The definition of an element of the document, or undefined for unknown places. */
export function defOf(el: XmlElement | undefined): ElementDef | undefined {
  return el ? elementDefAt(elementPath(el)) : undefined;
}

export function attrDefOf(el: XmlElement, name: string): AttrDef | undefined {
  return defOf(el)?.attributes?.find((a) => a.name === name);
}

export function cipherFamily(name: string | undefined): CipherFamily | undefined {
  return name === undefined ? undefined : CIPHERS.find((c) => c.name === name);
}

/** The `<cipher>` sibling of an `<ivgen>` (or the element itself when it is the cipher). */
function cipherOf(el: XmlElement): XmlElement | undefined {
  return el.name === 'cipher' ? el : firstChild(el.parent, 'cipher');
}

/** True when the encryption element sits in a domain disk (where `<cipher>` is refused). */
export function inDomainDisk(el: XmlElement): boolean {
  for (let cur = el.parent; cur; cur = cur.parent) if (cur.name === 'disk') return true;
  return false;
}

/** The qemu-img option prefix for encryption options: `encrypt.` inside qcow2 (storage_util.c). */
function qemuPrefix(el: XmlElement): string {
  const target = el.name === 'encryption' ? el.parent : el.parent?.parent;
  const fmt = attrValue(path(target, 'format'), 'type');
  return fmt === 'qcow2' ? 'encrypt.' : '';
}

/** The qemu-img option an encryption attribute value becomes (storage_util.c), if any. */
export function qemuOptionFor(el: XmlElement, attrName: string, value: string): string | undefined {
  const p = qemuPrefix(el);
  if (el.name === 'cipher') {
    const name = attrName === 'name' ? value : attrValue(el, 'name');
    const size = attrName === 'size' ? value : attrValue(el, 'size');
    if (attrName === 'name' || attrName === 'size') {
      const alg = cipherAlg({ name, size });
      return alg ? `${p}cipher-alg=${alg}` : undefined;
    }
    if (attrName === 'mode') return `${p}cipher-mode=${value}`;
    if (attrName === 'hash') return `${p}hash-alg=${value}`;
  }
  if (el.name === 'ivgen') {
    if (attrName === 'name') return `${p}ivgen-alg=${value}`;
    if (attrName === 'hash') return `${p}ivgen-hash-alg=${value}`;
  }
  return undefined;
}

const OWNER: Term[] = [
  { value: '-1', description: 'Keep the default: the uid of the pool directory / the creating process.' },
  { value: '0', description: 'root.' },
];
const GROUP: Term[] = [
  { value: '-1', description: 'Keep the default: the gid of the pool directory / the creating process.' },
  { value: '0', description: 'root.' },
];
const OCTAL_MODES: Term[] = [
  { value: '0600', description: 'Owner read/write only: the usual mode for a private or encrypted image.' },
  { value: '0640', description: 'Owner read/write, group read.' },
  { value: '0644', description: 'Owner read/write, everyone read.' },
  { value: '0660', description: 'Owner and group read/write.' },
  { value: '0700', description: 'Owner only (directories).' },
  { value: '0755', description: 'Owner all, others read and enter (directories).' },
];
/** Formats a domain disk's `<driver type>` may name that qemu opens (qemu block drivers). */
const DISK_FORMATS = ['raw', 'qcow2', 'qcow', 'qed', 'vmdk', 'vpc', 'vdi', 'bochs', 'cloop', 'dmg'];

/** Every value a source allows in this context (empty for free text). */
export function resolveValues(source: ValueSource | undefined, vc: ValueContext, attrName?: string): ValueTerm[] {
  if (!source) return [];
  const version = libvirtVersion(vc.settings);
  const el = vc.element;
  if (Array.isArray(source)) return source.filter((t) => availableIn(t, version));
  switch (source) {
    case 'encryptionFormat':
      return ENCRYPTION_FORMATS.filter((t) => availableIn(t, version)).map((t) => ({
        ...t,
        isDefault: t.value === 'luks',
      }));
    case 'cipherName':
      return CIPHERS.map((c) => ({
        value: c.name,
        description: `${c.description} Key sizes: ${c.keySizes.join(', ')} bits.`,
        isDefault: c.name === 'aes',
        qemuOption: qemuOptionFor(el, 'name', c.name),
      }));
    case 'cipherSize': {
      const fam = cipherFamily(attrValue(el, 'name'));
      const fams = fam ? [fam] : CIPHERS;
      const mode = enumOrUndefined('cipher-mode', attrValue(el, 'mode'));
      const sizes = [...new Set(fams.flatMap((f) => f.keySizes))]
        .sort((a, b) => b - a)
        // qemu must accept name-size with the mode in force (qemu 7.2 aborts on 192-bit non-xts keys).
        .filter(
          (sz) =>
            !fam ||
            qemuAccepts({ 'cipher-alg': `${fam.name}-${sz}`, 'cipher-mode': mode }, [
              'enum',
              'algorithm',
              'qemu-abort',
            ]),
        );
      return sizes.map((sz) => ({
        value: String(sz),
        description: fam
          ? `${sz}-bit ${fam.name} key.`
          : `${sz}-bit key (${fams
              .filter((f) => f.keySizes.includes(sz))
              .map((f) => f.name)
              .join(', ')}).`,
        isDefault: sz === 256 || (fam !== undefined && fam.keySizes.length === 1),
        qemuOption: fam ? qemuOptionFor(el, 'size', String(sz)) : undefined,
      }));
    }
    case 'cipherMode': {
      const alg = cipherAlgOf(el);
      return CIPHER_MODES.filter((m) =>
        qemuAccepts({ 'cipher-alg': alg, 'cipher-mode': m.value }, ['mode', 'qemu-abort']),
      ).map((m) => ({
        ...m,
        isDefault: m.value === LUKS_DEFAULTS.cipherMode,
        qemuOption: qemuOptionFor(el, 'mode', m.value),
      }));
    }
    case 'hash':
      return HASHES.map((h) => ({
        value: h.value,
        description: `${h.description} Digest ${h.digestBytes * 8} bits.`,
        isDefault: h.value === LUKS_DEFAULTS.hashAlg,
        deprecated: h.weak ? 'Weak hash.' : undefined,
        qemuOption: qemuOptionFor(el, attrName ?? 'hash', h.value),
      }));
    case 'ivgenName':
      return IVGENS.map((t) => ({
        ...t,
        isDefault: t.value === LUKS_DEFAULTS.ivgenAlg,
        qemuOption: qemuOptionFor(el, 'name', t.value),
      }));
    case 'ivgenHash': {
      const essiv = attrValue(el, 'name') === 'essiv';
      const cipher = cipherOf(el);
      const fam = cipherFamily(attrValue(cipher, 'name'));
      const alg = cipher ? cipherAlgOf(cipher) : undefined;
      // crypto/block-luks.c qcrypto_block_luks_essiv_cipher: the digest keys a cipher of the
      // same family, so its length must be one of the family's key sizes.
      const fits = (h: string) =>
        alg
          ? qemuAccepts({ 'cipher-alg': alg, 'ivgen-alg': 'essiv', 'ivgen-hash-alg': h }, ['essiv'])
          : (fam ? [fam] : CIPHERS).some((f) =>
              f.keySizes.some((sz) =>
                qemuAccepts({ 'cipher-alg': `${f.name}-${sz}`, 'ivgen-alg': 'essiv', 'ivgen-hash-alg': h }, ['essiv']),
              ),
            );
      return HASHES.filter((h) => !essiv || fits(h.value)).map((h) => ({
        value: h.value,
        description: `${h.description} Digest ${h.digestBytes * 8} bits${essiv ? `: keys the ${h.digestBytes * 8}-bit ${fam?.name ?? 'cipher'} that encrypts the sector number` : '; only used by the essiv generator (with plain/plain64 it is merely recorded in the header)'}.`,
        isDefault: h.value === LUKS_DEFAULTS.hashAlg,
        deprecated: h.weak ? 'Weak hash.' : undefined,
        qemuOption: qemuOptionFor(el, 'hash', h.value),
      }));
    }
    case 'targetFormat': {
      const pool = vc.settings.poolType ?? 'dir';
      const f = targetFormatsFor(pool);
      return f ? f.formats.map((t) => ({ ...t, isDefault: t.value === f.default })) : [];
    }
    case 'diskFormat':
      return FILE_FORMATS.filter((t) => DISK_FORMATS.includes(t.value)).map((t) => ({
        ...t,
        isDefault: t.value === 'raw',
      }));
    case 'secretUuid': {
      const secrets = vc.env.secrets?.() ?? [];
      const seen = new Set<string>();
      const out: ValueTerm[] = [];
      for (const s of secrets) {
        const u = normaliseUuid(s.uuid);
        if (!u || seen.has(u)) continue;
        seen.add(u);
        out.push({ value: s.uuid!.trim(), description: secretSummary(s.usageType, s.usageVolume, s.uri) });
      }
      // The host's secrets (libvirtVolume.connection): volume secrets only, the type libvirt accepts here.
      const facts = vc.env.hostFacts?.();
      for (const s of facts?.secrets ?? []) {
        if (s.usageType !== 'volume' || seen.has(s.uuid)) continue;
        seen.add(s.uuid);
        out.push({
          value: s.uuid,
          detail: `${s.usageType} ${s.usageId ?? ''}`.trim(),
          description: `On ${facts!.uri}: ${hostSecretSummary(s)}`,
        });
      }
      return out;
    }
    case 'secretUsage': {
      const out: ValueTerm[] = [];
      const seen = new Set<string>();
      for (const s of vc.env.secrets?.() ?? []) {
        if (s.usageType !== 'volume' || !s.usageVolume || seen.has(s.usageVolume)) continue;
        seen.add(s.usageVolume);
        out.push({
          value: s.usageVolume,
          description: secretSummary(s.usageType, s.usageVolume, s.uri) + (s.uuid ? ` (uuid ${s.uuid})` : ''),
        });
      }
      const facts = vc.env.hostFacts?.();
      for (const s of facts?.secrets ?? []) {
        if (s.usageType !== 'volume' || !s.usageId || seen.has(s.usageId)) continue;
        seen.add(s.usageId);
        out.push({ value: s.usageId, description: `On ${facts!.uri}: secret ${s.uuid}, ${hostSecretSummary(s)}` });
      }
      return out;
    }
    case 'octalMode':
      return OCTAL_MODES.map((t) => ({ ...t, isDefault: t.value === '0600' }));
    case 'owner':
      return OWNER;
    case 'group':
      return GROUP;
    case 'feature':
      return FEATURES.filter((t) => availableIn(t, version));
  }
}

/** The value when qemu's QAPI enum knows it, else undefined (then it does not narrow anything). */
function enumOrUndefined(
  option: 'cipher-mode' | 'ivgen-alg' | 'ivgen-hash-alg' | 'hash-alg',
  v: string | undefined,
): string | undefined {
  return v !== undefined && LUKS_ENUM_OPTIONS.find((o) => o.name === option)!.values.includes(v) ? v : undefined;
}

/** `name-size` of a `<cipher>` when qemu would take it as a cipher-alg, else undefined. */
export function cipherAlgOf(cipher: XmlElement): string | undefined {
  const name = attrValue(cipher, 'name');
  const size = attrValue(cipher, 'size');
  const alg = name && size ? `${name}-${size.trim().replace(/^\+/, '')}` : undefined;
  return alg && LUKS_ENUM_OPTIONS[0].values.includes(alg) ? alg : undefined;
}

/**
 * False when qemu-img 7.2 refuses these LUKS options for one of the given reasons
 * (schemas/luksOptions.ts); problems of other options do not count against the candidate.
 */
function qemuAccepts(o: LuksOptionInput, reasons: LuksCheckKind[]): boolean {
  const r = checkLuksOptions(o);
  return r.ok || !reasons.includes(r.kind);
}

export function secretSummary(usageType: string | undefined, usageVolume: string | undefined, uri: string): string {
  const usage =
    usageType === 'volume' && usageVolume
      ? `usage volume ${usageVolume}`
      : usageType
        ? `usage ${usageType}`
        : 'no usage';
  return `${usage} — ${uri.replace(/^file:\/\//, '')}`;
}

/** The target path of the volume an element belongs to (for usage completion and checks). */
export function volumeTargetPath(el: XmlElement): string | undefined {
  let root = el;
  while (root.parent) root = root.parent;
  if (root.name !== 'volume') return undefined;
  const p = path(root, 'target', 'path');
  return p ? textContent(p).trim() || undefined : undefined;
}
