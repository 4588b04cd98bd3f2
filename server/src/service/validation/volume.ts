// <volume> documents: libvirt's parser (storage_conf.c virStorageVolDefParseXML)
// and the storage driver at creation (storage_util.c, storage_driver.c, storage_backend_*.c,
// §4) for the configured pool type (default dir), then qemu-img's verdict on the options libvirt
// passes (§6.4). One function per element area; `validateVolume` is the dispatcher.
import {
  FEATURES,
  FILE_FORMATS,
  FILE_POOL_TYPES,
  POOLS_WITHOUT_CREATE,
  UNIT_NAMES,
  VOLUME_TYPES,
  valuesIn,
  targetFormatsFor,
} from '../../../../schemas/vocabulary';
import { attr, firstChild, textContent, textSpan, type XmlElement } from '../xmlModel';
import type { Span } from '../xmlModel';
import type { ValidationContext } from './context';
import type { RuleId } from '../rules';
import { checkLuksCipherValues, checkSecretUsable, validateEncryption, type EncryptionInfo } from './encryption';
import {
  LLONG_MAX,
  isAbsPath,
  isQemuId,
  isValidCompat,
  isValidOctalMode,
  isValidOwnerId,
  parseScaled,
} from './libvirtValues';
import { nearest } from '../../common/strings';
import { checkStructure, shapeAt } from './structure';
import { checkOtherFormatSize, checkQcow2Create, checkQedCreate } from './qcow2Create';

const ULLONG_MAX = (1n << 64n) - 1n;

/** The element's content as written (untrimmed), or its name when empty. */
function rawTextSpan(el: XmlElement): Span {
  return el.contentSpan.end > el.contentSpan.start ? el.contentSpan : el.nameSpan;
}

/** What the parser read from the document (only facts libvirt would hold). */
export interface VolumeFacts {
  root: XmlElement;
  name?: string;
  nameEl?: XmlElement;
  capacity?: bigint;
  capacityEl?: XmlElement;
  target?: XmlElement;
  /** Target format as libvirt resolves it (pool default when absent), undefined when invalid/ignored. */
  format?: string;
  formatEl?: XmlElement;
  backingPath?: string;
  backingEl?: XmlElement;
  backingFormat?: string;
  encryption?: EncryptionInfo;
  compat?: string;
  compatEl?: XmlElement;
  /** Feature elements libvirt knows (first of each). */
  features: Map<string, XmlElement>;
  featuresEl?: XmlElement;
  clusterSize?: bigint;
  clusterEl?: XmlElement;
  nocow: boolean;
}

// Element shapes come from the one grammar, schemas/elements.ts.
const VOLUME_SHAPE = shapeAt('volume');
const TARGET_SHAPE = shapeAt('volume', 'target');
const BACKING_SHAPE = shapeAt('volume', 'backingStore');
const PERMS_SHAPE = shapeAt('volume', 'target', 'permissions');

/** The volume types' names (validateType asks for every document). */
const VOLUME_TYPE_VALUES = VOLUME_TYPES.map((v) => v.value);

/** The names of a list of formats, worked out once per list (each document asks twice). */
const formatNames = new Map<readonly { value: string }[], string[]>();
function valuesOf(formats: readonly { value: string }[]): string[] {
  let names = formatNames.get(formats);
  if (!names) formatNames.set(formats, (names = formats.map((x) => x.value)));
  return names;
}

/** libvirt format names qemu has no block driver for (measured: `Unknown driver 'X'`). */
const QEMU_NO_DRIVER = ['iso', 'fat', 'vhd', 'cow', 'dir', 'ploop'];

export function validateVolume(ctx: ValidationContext): void {
  const root = ctx.doc.root;
  if (!root) return;
  checkStructure(ctx, root, VOLUME_SHAPE);
  const facts: VolumeFacts = { root, features: new Map(), nocow: false };
  validateName(ctx, facts);
  validateType(ctx, root);
  validateBackingStore(ctx, facts);
  validateSizes(ctx, facts);
  validateTarget(ctx, facts);
  validateCreation(ctx, facts);
}

function validateName(ctx: ValidationContext, f: VolumeFacts): void {
  const el = firstChild(f.root, 'name');
  f.nameEl = el;
  const name = el ? textContent(el) : '';
  if (!name) {
    ctx.report('volume-name-required', el ? el.nameSpan : f.root.nameSpan);
    return;
  }
  f.name = name;
  const slash = name.includes('/');
  // dir-like pools refuse '/' at creation; elsewhere only the schema does.
  if ((slash && !FILE_POOL_TYPES.includes(ctx.pool)) || (!slash && (name === '.' || name === '..'))) {
    ctx.report('volume-name-off-schema', textSpan(el!), { name });
  }
}

function validateType(ctx: ValidationContext, root: XmlElement): void {
  const t = attr(root, 'type');
  if (!t || !t.value) return; // virXPathString: empty = absent
  if (!VOLUME_TYPE_VALUES.includes(t.value)) {
    ctx.report(
      'volume-type-unknown',
      t.valueSpan,
      { type: t.value },
      {
        data: {
          replacement: nearest(t.value, VOLUME_TYPE_VALUES),
          values: VOLUME_TYPE_VALUES.slice(),
        },
      },
    );
  } else {
    ctx.report(
      'volume-type-output-only',
      t.nameSpan,
      { extra: t.value === 'ploop' ? " (and the schema does not list 'ploop')" : '' },
      { data: { remove: true } },
    );
  }
}

/** `<backingStore>`: counted only when `./backingStore/path` is non-empty (storage_conf.c). */
function validateBackingStore(ctx: ValidationContext, f: VolumeFacts): void {
  const el = firstChild(f.root, 'backingStore');
  if (!el) return;
  checkStructure(ctx, el, BACKING_SHAPE);
  const pathEl = firstChild(el, 'path');
  const p = pathEl ? textContent(pathEl) : '';
  if (!p) {
    ctx.report('volume-backing-no-path', el.nameSpan);
    return;
  }
  f.backingEl = el;
  f.backingPath = p;
  if (!isAbsPath(p)) ctx.report('volume-backing-path-relative', textSpan(pathEl!));
  const fmt = validateFormat(ctx, el, 'backing');
  f.backingFormat = fmt.format;
  if (fmt.absent && targetFormatsFor(ctx.pool)) {
    ctx.report('volume-backing-format-missing', el.nameSpan, {}, { data: { insert: "<format type='qcow2'/>" } });
  }
  validatePermissions(ctx, firstChild(el, 'permissions'));
}

/** `<capacity>` and `<allocation>` (virStorageSize + virScaleInteger, limit LLONG_MAX). */
function validateSizes(ctx: ValidationContext, f: VolumeFacts): void {
  const cap = firstChild(f.root, 'capacity');
  f.capacityEl = cap;
  const capText = cap ? textContent(cap) : '';
  if (!capText) {
    // vol-create with a backing store path may omit it (VIR_VOL_XML_PARSE_OPT_CAPACITY).
    if (!f.backingPath)
      ctx.report(
        'volume-capacity-required',
        cap ? cap.nameSpan : f.root.nameSpan,
        {},
        { data: { insert: "<capacity unit='GiB'>10</capacity>" } },
      );
  } else {
    f.capacity = validateScaled(ctx, cap!, capText, LLONG_MAX, 'volume-size-malformed');
  }
  const alloc = firstChild(f.root, 'allocation');
  const allocText = alloc ? textContent(alloc) : '';
  if (alloc && allocText) validateScaled(ctx, alloc, allocText, LLONG_MAX, 'volume-size-malformed');
}

/** A scaled integer element; returns bytes when libvirt accepts it. */
function validateScaled(
  ctx: ValidationContext,
  el: XmlElement,
  text: string,
  limit: bigint,
  malformedRule: RuleId,
): bigint | undefined {
  const unitAttr = attr(el, 'unit');
  const unit = unitAttr?.value || undefined;
  const r = parseScaled(text, unit, limit);
  // Surrounding whitespace is part of what libvirt refuses: point at the raw text then.
  const span = r.ok || r.error !== 'malformed' ? textSpan(el) : rawTextSpan(el);
  if (!r.ok) {
    if (r.error === 'malformed') ctx.report(malformedRule, span, { value: text });
    else if (r.error === 'unit') {
      const data = { replacement: nearest(unit ?? '', UNIT_NAMES), values: UNIT_NAMES };
      ctx.report('volume-unit-unknown', unitAttr!.valueSpan, { unit }, { data });
    } else ctx.report('volume-size-overflow', span, { value: String(r.value), unit: unit ?? '' });
    return undefined;
  }
  if (!/^[0-9]+$/.test(text)) {
    const parsed = text
      .trim()
      .replace(/^\+/, '')
      .replace(/^0+(?=\d)/, '');
    ctx.report(
      'volume-size-off-schema',
      span,
      { element: el.name, value: text, parsed },
      { data: { replacement: parsed } },
    );
  }
  return r.bytes;
}

/** `<format type>` of the target or backing store, judged for the pool type (poolTypeInfo[]). */
function validateFormat(
  ctx: ValidationContext,
  parent: XmlElement,
  where: 'target' | 'backing',
): { format?: string; absent: boolean } {
  const el = firstChild(parent, 'format');
  const t = el ? attr(el, 'type') : undefined;
  const spec = targetFormatsFor(ctx.pool);
  if (!spec) {
    if (el && where === 'target') ctx.report('volume-format-ignored', el.nameSpan, { pool: ctx.pool });
    return { absent: !t?.value };
  }
  if (!t || !t.value) return { format: spec.default, absent: true };
  const values = valuesOf(spec.formats);
  if (values.includes(t.value)) return { format: t.value, absent: false };
  if (t.value === 'luks' && spec.formats === FILE_FORMATS) {
    ctx.report('volume-format-luks', t.valueSpan, {}, { data: { replacement: 'raw' } });
  } else {
    ctx.report(
      'volume-format-unknown',
      t.valueSpan,
      { format: t.value },
      { data: { replacement: nearest(t.value, values) ?? spec.default, values: values.slice() } },
    );
  }
  return { absent: false };
}

/** `<permissions>` (virStorageDefParsePerms). */
function validatePermissions(ctx: ValidationContext, perms: XmlElement | undefined): void {
  if (!perms) return;
  checkStructure(ctx, perms, PERMS_SHAPE);
  const mode = firstChild(perms, 'mode');
  const modeText = mode ? textContent(mode) : '';
  if (mode && modeText && !isValidOctalMode(modeText)) ctx.report('volume-perm-mode-invalid', textSpan(mode));
  const owner = firstChild(perms, 'owner');
  if (owner && !isValidOwnerId(textContent(owner))) ctx.report('volume-perm-owner-invalid', textSpan(owner));
  const group = firstChild(perms, 'group');
  if (group && !isValidOwnerId(textContent(group))) ctx.report('volume-perm-group-invalid', textSpan(group));
}

function validateTarget(ctx: ValidationContext, f: VolumeFacts): void {
  const t = firstChild(f.root, 'target');
  f.target = t;
  if (!t) {
    ctx.report(
      'volume-target-missing',
      f.root.nameSpan,
      {},
      { data: { insert: "<target><format type='raw'/></target>" } },
    );
    f.format = targetFormatsFor(ctx.pool)?.default;
    return;
  }
  checkStructure(ctx, t, TARGET_SHAPE);
  const fmt = validateFormat(ctx, t, 'target');
  // The removed "luks" format means raw + LUKS (its documented replacement): judge the rest so.
  f.format =
    fmt.format ??
    (attr(firstChild(t, 'format'), 'type')?.value === 'luks' && targetFormatsFor(ctx.pool)?.formats === FILE_FORMATS
      ? 'raw'
      : undefined);
  f.formatEl = firstChild(t, 'format');
  validatePermissions(ctx, firstChild(t, 'permissions'));
  const enc = firstChild(t, 'encryption');
  if (enc) f.encryption = validateEncryption(ctx, enc, 'volume');
  validateCompat(ctx, f, t);
  const nocow = firstChild(t, 'nocow');
  f.nocow = !!nocow;
  // (On plain raw files the flag fails at creation instead: validateCreation.)
  const plainRawFile = f.format === 'raw' && !enc && FILE_POOL_TYPES.includes(ctx.pool);
  if (nocow && !plainRawFile) ctx.report('volume-nocow-ignored', nocow.nameSpan);
  validateClusterSize(ctx, f, t);
  validateFeatures(ctx, f, t);
}

/** `<compat>` (virStorageCheckCompat); empty text counts as absent. */
function validateCompat(ctx: ValidationContext, f: VolumeFacts, t: XmlElement): void {
  const el = firstChild(t, 'compat');
  const v = el ? textContent(el) : '';
  if (!el || !v) return;
  if (!isValidCompat(v)) {
    ctx.report('volume-compat-invalid', rawTextSpan(el), {}, { data: { replacement: '1.1', values: ['1.1', '0.10'] } });
    return;
  }
  f.compat = v;
  f.compatEl = el;
  if (!/^[0-9]+\.[0-9]+$/.test(v)) ctx.report('volume-compat-off-schema', textSpan(el), { value: v });
}

/** `<clusterSize>` (7.4.0; virParseScaledValue, limit ULLONG_MAX, 0 = unset). */
function validateClusterSize(ctx: ValidationContext, f: VolumeFacts, t: XmlElement): void {
  const el = firstChild(t, 'clusterSize');
  if (!el || !ctx.atLeast('7.4.0')) return;
  const text = textContent(el);
  if (!text) return;
  const v = validateScaled(ctx, el, text, ULLONG_MAX, 'volume-cluster-invalid');
  if (v !== undefined && v > 0n) {
    f.clusterSize = v;
    f.clusterEl = el;
  }
}

/** `<features>`: every child element must be a feature this libvirt knows (virStorageFileFeature). */

function validateFeatures(ctx: ValidationContext, f: VolumeFacts, t: XmlElement): void {
  const el = firstChild(t, 'features');
  if (!el) return;
  f.featuresEl = el;
  const known = valuesIn(FEATURES, ctx.version);
  const children = el.children;
  for (let i = 0; i < children.length; i++) {
    const c = children[i];
    if (c.kind !== 'element') continue;
    if (!known.includes(c.name)) {
      ctx.report(
        'volume-feature-unknown',
        c.nameSpan,
        { name: c.name },
        { data: { replacement: nearest(c.name, known), values: known } },
      );
      continue;
    }
    if (!f.features.has(c.name)) f.features.set(c.name, c);
    // data_file (10.10.0) is off-schema, and qcow2 creation ignores it: one warning, the
    // creation fact where the volume is created with qemu-img (createWithQemuImg).
    if (c.name === 'data_file' && (f.format !== 'qcow2' || !FILE_POOL_TYPES.includes(ctx.pool))) {
      ctx.report('volume-feature-off-schema', c.nameSpan, { name: c.name });
    }
  }
  // VOL-COMPAT-DEFAULT: <features> without <compat> means compat 1.1.
  if (!f.compat) f.compat = '1.1';
}

// ---------------------------------------------------------------------------------------------
// Creation (storage_driver.c storageVolCreateXML, storage_util.c, storage_backend_*.c)

function validateCreation(ctx: ValidationContext, f: VolumeFacts): void {
  const pool = ctx.pool;
  if (POOLS_WITHOUT_CREATE.includes(pool)) {
    ctx.report('volume-pool-no-create', f.root.nameSpan, { pool });
    return;
  }
  const enc = f.encryption;
  if (FILE_POOL_TYPES.includes(pool) && f.name?.includes('/')) {
    ctx.report('volume-name-slash', textSpan(f.nameEl!), { name: f.name });
  }
  if (FILE_POOL_TYPES.includes(pool) && (f.name === '.' || f.name === '..')) {
    ctx.report('volume-name-exists', textSpan(f.nameEl!), { name: f.name });
  }
  if ((pool === 'disk' || pool === 'logical' || pool === 'zfs') && f.capacity === 0n) {
    ctx.report('volume-capacity-zero-pool', textSpan(f.capacityEl!));
  }
  if (pool === 'rbd' || pool === 'zfs') {
    if (enc) ctx.report('volume-encryption-pool-unsupported', enc.el.nameSpan);
    return;
  }
  if (pool === 'logical' || pool === 'disk') {
    if (!enc) return;
    if (enc.format && enc.format !== 'luks') {
      ctx.report('volume-encryption-pool-luks-only', enc.formatAttr!.valueSpan, {}, { data: { replacement: 'luks' } });
      return;
    }
    // These pools format the LV/partition as LUKS with qemu-img (raw + luks path).
    if (enc.format === 'luks') createWithQemuImg(ctx, f, 'raw');
    return;
  }
  // dir, fs, netfs, vstorage: storageBackendVolBuildLocal picks the builder.
  const fmt = f.format;
  if (!fmt) return; // invalid format: creation never reached
  if (fmt === 'dir') {
    if (f.backingPath) ctx.report('volume-backing-dir', f.backingEl!.nameSpan, {}, { data: { remove: true } });
    if (enc) ctx.report('volume-encryption-ignored', enc.el.nameSpan, { format: fmt }, { data: { remove: true } });
    return;
  }
  if (fmt === 'ploop') {
    if (enc) ctx.report('volume-encryption-ploop', enc.el.nameSpan);
    else ctx.report('volume-ploop-tools', f.formatEl ? attr(f.formatEl, 'type')!.valueSpan : f.root.nameSpan);
    return;
  }
  if (fmt === 'raw' && !enc) {
    // storageBackendCreateRaw: libvirt writes the file itself; qemu-img options are not used.
    if (f.backingPath)
      ctx.report('volume-backing-raw-file', f.backingEl!.nameSpan, {}, { data: { replacement: 'qcow2' } });
    const nocow = f.target && firstChild(f.target, 'nocow');
    if (nocow && f.name) ctx.report('volume-nocow-raw', nocow.nameSpan, { name: f.name }, { data: { remove: true } });
    if (f.clusterEl) ctx.report('cluster-size-ignored', f.clusterEl.nameSpan, {}, { data: { remove: true } });
    return;
  }
  createWithQemuImg(ctx, f, fmt);
}

/** virStorageBackendCreateQemuImgCmdFromVol and the qemu-img run (storage_util.c). */
function createWithQemuImg(ctx: ValidationContext, f: VolumeFacts, format: string): void {
  const enc = f.encryption;
  // ISO is created as raw (…SetInfo).
  const fmt = format === 'iso' ? 'raw' : format;
  const fmtSpan: Span =
    f.formatEl && attr(f.formatEl, 'type')?.value
      ? attr(f.formatEl, 'type')!.valueSpan
      : (f.target?.nameSpan ?? f.root.nameSpan);

  if (enc) {
    // VCR-SECRET-COUNT (storageBackendCreateQemuImg → storageBackendGenerateSecretData).
    if (enc.secrets.length !== 1) {
      ctx.report('volume-secret-count', enc.secrets.length > 1 ? enc.secrets[1].nameSpan : enc.el.nameSpan);
    } else checkSecretUsable(ctx, enc);
    if (
      (enc.format === 'default' || enc.format === 'qcow') &&
      (fmt === 'qcow' || fmt === 'qcow2') &&
      ctx.atLeast('4.5.0')
    ) {
      ctx.report('volume-encryption-qcow-create', enc.formatAttr!.valueSpan, {}, { data: { replacement: 'luks' } });
    }
  }
  // …SetInfo: compat/features only with qcow2 (an empty <features/> implies compat 1.1).
  if (f.compat && fmt !== 'qcow2') {
    const el = f.compatEl ?? f.featuresEl!;
    ctx.report('volume-compat-format', el.nameSpan, {}, { data: { remove: true } });
  }
  if (f.featuresEl && fmt !== 'qcow2') {
    ctx.report('volume-features-format', f.featuresEl.nameSpan, {}, { data: { remove: true } });
  }
  if (enc && fmt === 'raw' && enc.format && enc.format !== 'luks') {
    ctx.report('volume-raw-encryption', enc.formatAttr!.valueSpan, {}, { data: { replacement: 'luks' } });
  }
  if (f.backingPath && fmt === 'raw') {
    ctx.report('volume-backing-raw', f.backingEl!.nameSpan, {}, { data: { replacement: 'qcow2' } });
  }
  // …CheckEncryption (legacy formats on qcow/qcow2 were refused above, others on raw too).
  if (
    enc &&
    enc.format &&
    !((enc.format === 'default' || enc.format === 'qcow') && (fmt === 'qcow' || fmt === 'qcow2')) &&
    fmt !== 'raw'
  ) {
    if (fmt !== 'qcow2' || (enc.format === 'luks' && !ctx.atLeast('6.10.0'))) {
      ctx.report(
        'volume-encryption-image-format',
        fmtSpan,
        { format: fmt },
        { data: { replacement: fmt === 'qcow2' ? 'raw' : 'qcow2' } },
      );
    } else if (enc.format !== 'luks') {
      const number = ['default', 'qcow', 'luks', 'luks2', 'luks-any'].indexOf(enc.format);
      ctx.report(
        'volume-encryption-format-unsupported',
        enc.formatAttr!.valueSpan,
        { number },
        { data: { replacement: 'luks' } },
      );
    }
  }
  if (fmt === 'qcow2' && f.compat === '0.10') {
    const lazy = f.features.get('lazy_refcounts');
    if (lazy)
      ctx.report('volume-lazy-refcounts-compat', lazy.nameSpan, { compat: f.compat }, { data: { replacement: '1.1' } });
    const l2 = f.features.get('extended_l2');
    if (l2)
      ctx.report('volume-extended-l2-compat', l2.nameSpan, { compat: f.compat }, { data: { replacement: '1.1' } });
  }

  // ---- qemu-img's verdict on what libvirt passes ----
  if (f.backingPath && (fmt === 'vdi' || fmt === 'vpc')) {
    ctx.report(
      'volume-backing-format-unsupported',
      f.backingEl!.nameSpan,
      { detail: "Invalid parameter 'backing_fmt'" },
      { data: { replacement: 'qcow2' } },
    );
  } else if (f.backingPath && fmt !== 'raw' && QEMU_NO_DRIVER.includes(f.backingFormat ?? 'raw')) {
    // bdrv_img_create opens the backing image with backing_fmt as the driver name first.
    const bf = f.backingEl && firstChild(f.backingEl, 'format');
    ctx.report(
      'volume-backing-format-unsupported',
      bf ? attr(bf, 'type')!.valueSpan : f.backingEl!.nameSpan,
      { detail: `Unknown driver '${f.backingFormat}' (Could not open backing image.)` },
      { data: { replacement: 'qcow2' } },
    );
  } else if (f.backingPath && fmt === 'vmdk' && (f.backingFormat ?? 'raw') !== 'vmdk') {
    const bf = f.backingEl && firstChild(f.backingEl, 'format');
    ctx.report('volume-backing-format-unsupported', bf ? bf.nameSpan : f.backingEl!.nameSpan, {
      detail: 'backing_file must be a vmdk image',
    });
  }
  const notCreatable: Record<string, string> = {
    bochs: "Format driver 'bochs' does not support image creation",
    cloop: "Format driver 'cloop' does not support image creation",
    dmg: "Format driver 'dmg' does not support image creation",
    fat: "Unknown file format 'fat'",
    vhd: "Unknown file format 'vhd'",
    cow: "Unknown file format 'cow'",
  };
  if (notCreatable[fmt]) {
    ctx.report(
      'volume-format-not-creatable',
      fmtSpan,
      { detail: notCreatable[fmt] },
      { data: { replacement: 'qcow2' } },
    );
    return;
  }
  // Independent of other errors: qemu-img judges the cipher values whatever else is wrong.
  const luks = !!enc && enc.format === 'luks' && (fmt === 'raw' || (fmt === 'qcow2' && ctx.atLeast('6.10.0')));
  if (luks) checkLuksCipherValues(ctx, enc!);
  if (luks && f.name && !isQemuId(`${f.name}_encrypt0`)) {
    ctx.report('volume-name-secret-id', textSpan(f.nameEl!), { id: `${f.name}_encrypt0` });
  }
  // cluster_size is passed for any qemu-img format; only qcow2 and qed know it.
  if (f.clusterSize !== undefined && fmt !== 'qcow2' && fmt !== 'qed') {
    ctx.report('cluster-size-unsupported', f.clusterEl!.nameSpan, {}, { data: { remove: true } });
  }
  const dataFile = f.features.get('data_file');
  if (fmt === 'qcow2' && dataFile)
    ctx.report('volume-feature-ignored', dataFile.nameSpan, { name: 'data_file' }, { data: { remove: true } });
  checkOtherFormatSize(ctx, fmt, f.capacity, f.capacityEl);
  if (fmt === 'qed')
    checkQedCreate(ctx, {
      clusterSize: f.clusterSize,
      clusterEl: f.clusterEl,
      capacity: f.capacity,
      capacityEl: f.capacityEl,
    });
  if (fmt === 'qcow2') {
    if (!f.compatEl && !f.featuresEl) {
      ctx.report(
        'volume-compat-default',
        f.target?.nameSpan ?? f.root.nameSpan,
        {},
        { data: { insert: '<compat>1.1</compat>' } },
      );
    }
    // Before 10.2.0 libvirt passes compat=0.10 when none is given; since then 1.1.
    const compat = f.compat ?? (ctx.atLeast('10.2.0') ? '1.1' : '0.10');
    checkQcow2Create(ctx, {
      compat,
      compatEl: f.compatEl,
      clusterSize: f.clusterSize,
      clusterEl: f.clusterEl,
      extendedL2: f.features.get('extended_l2'),
      lazyRefcounts: f.features.get('lazy_refcounts'),
      capacity: f.capacity,
      capacityEl: f.capacityEl,
      hasBacking: !!f.backingPath,
    });
  }
}
