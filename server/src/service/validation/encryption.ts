// <encryption> as libvirt's virStorageEncryptionParseNode reads it (storage_encryption_conf.c).
// Parse order: format → engine → secrets → cipher → ivgen. libvirt stops at the first error; we
// report every error libvirt would reach on its own, and none inside parts it ignores (cipher and
// ivgen under a format other than luks). The parsed facts are returned for the consumers
// (volume creation, domain disk validation), which add their own rules.
import { ENCRYPTION_FORMATS, ENCRYPTION_ENGINES, valuesIn } from '../../../../schemas/vocabulary';
import {
  checkLuksOptions,
  type LuksCheckResult,
  type LuksOptionInput,
  type LuksOptionName,
} from '../../../../schemas/luksOptions';
import { attr, childElements, firstChild, type XmlAttribute, type XmlElement } from '../xmlModel';
import type { ValidationContext } from './context';
import type { RuleId } from '../rules';
import { isRngUuid, parseUIntP, parseUuid } from './libvirtValues';
import { nearest, valuesKey } from '../../common/strings';
import { checkStructure, shapeAt } from './structure';
import type { Severity } from '../types';
import { cipherAlg } from '../volumeCreate';

/** Where the <encryption> element sits; some rules differ per consumer. */
export type EncryptionSite = 'volume' | 'disk' | 'snippet';

export interface CipherInfo {
  el: XmlElement;
  name?: XmlAttribute;
  size?: XmlAttribute;
  /** Parsed size when valid. */
  sizeValue?: bigint;
  mode?: XmlAttribute;
  hash?: XmlAttribute;
  /** True when libvirt's parser accepts the element. */
  valid: boolean;
}

export interface IvgenInfo {
  el: XmlElement;
  name?: XmlAttribute;
  hash?: XmlAttribute;
  valid: boolean;
}

export interface EncryptionInfo {
  el: XmlElement;
  /** The format when libvirt knows it (in the configured version); undefined when missing/unknown. */
  format?: string;
  formatAttr?: XmlAttribute;
  /** Engine when given and valid. */
  engine?: 'qemu' | 'librbd';
  engineAttr?: XmlAttribute;
  secrets: XmlElement[];
  /** Only for format luks (libvirt ignores cipher/ivgen otherwise). */
  cipher?: CipherInfo;
  ivgen?: IvgenInfo;
  /** True when libvirt's parser accepts the whole element. */
  parseOk: boolean;
}

// Element shapes come from the one grammar, schemas/elements.ts.
const ENCRYPTION_SHAPE = shapeAt('encryption');
const SECRET_SHAPE = shapeAt('encryption', 'secret');
const CIPHER_SHAPE = shapeAt('encryption', 'cipher');
const IVGEN_SHAPE = shapeAt('encryption', 'ivgen');

export function validateEncryption(ctx: ValidationContext, enc: XmlElement, site: EncryptionSite): EncryptionInfo {
  // Every field from the start: one object shape, no property added later (thousands per domain).
  const info: EncryptionInfo = {
    el: enc,
    format: undefined,
    formatAttr: undefined,
    engine: undefined,
    engineAttr: undefined,
    secrets: childElements(enc, 'secret'),
    cipher: undefined,
    ivgen: undefined,
    parseOk: true,
  };
  checkStructure(ctx, enc, ENCRYPTION_SHAPE);

  // format: virXPathString treats an empty attribute as missing.
  const format = attr(enc, 'format');
  info.formatAttr = format;
  const known = valuesIn(ENCRYPTION_FORMATS, ctx.version);
  if (!format || !format.value) {
    ctx.report('encryption-format-required', format ? format.valueSpan : enc.nameSpan, {}, { data: { values: known } });
    info.parseOk = false;
  } else if (!known.includes(format.value)) {
    const suggestion = nearest(format.value, known);
    ctx.report(
      'encryption-format-unknown',
      format.valueSpan,
      { format: format.value },
      { data: { replacement: suggestion, values: known } },
    );
    info.parseOk = false;
  } else {
    info.format = format.value;
  }

  // engine (7.9.0): virXMLPropEnum with NONZERO; virXMLPropString keeps '' as a value.
  const engine = attr(enc, 'engine');
  info.engineAttr = engine;
  if (engine && ctx.atLeast('7.9.0')) {
    const v = engine.value ?? '';
    if (v === 'qemu' || v === 'librbd') info.engine = v;
    else {
      ctx.report(
        'encryption-engine-invalid',
        engine.value === undefined ? engine.nameSpan : engine.valueSpan,
        { value: v },
        {
          data: {
            replacement:
              nearest(
                v,
                ENCRYPTION_ENGINES.map((e) => e.value),
              ) ?? 'qemu',
            values: ENCRYPTION_ENGINES.map((e) => e.value),
          },
        },
      );
      info.parseOk = false;
    }
    if (site === 'volume') ctx.report('encryption-engine-ignored', engine.nameSpan, {}, { data: { remove: true } });
  }

  const secrets = info.secrets;
  for (let i = 0; i < secrets.length; i++) if (!validateEncryptionSecret(ctx, secrets[i])) info.parseOk = false;

  // cipher/ivgen: parsed (and kept) for luks only; otherwise dropped without a look.
  const cipherEl = firstChild(enc, 'cipher');
  const ivgenEl = firstChild(enc, 'ivgen');
  if (info.format && info.format !== 'luks') {
    for (const el of [cipherEl, ivgenEl]) {
      if (el)
        ctx.report(
          'encryption-cipher-ignored',
          el.nameSpan,
          { element: el.name, format: info.format },
          { data: { remove: true } },
        );
    }
  } else if (info.format === 'luks') {
    if (cipherEl) info.cipher = validateCipher(ctx, cipherEl);
    if (ivgenEl) {
      if (!cipherEl) {
        ctx.report('ivgen-needs-cipher', ivgenEl.nameSpan);
        info.parseOk = false;
      }
      info.ivgen = validateIvgen(ctx, ivgenEl);
    } else if (cipherEl) {
      ctx.report('cipher-needs-ivgen', cipherEl.nameSpan, {}, { data: { insert: "<ivgen name='plain64'/>" } });
    }
    if ((cipherEl || ivgenEl) && !info.secrets.length) {
      ctx.report('encryption-cipher-without-secret', (cipherEl ?? ivgenEl)!.nameSpan);
    }
    if (info.cipher && !info.cipher.valid) info.parseOk = false;
    if (info.ivgen && !info.ivgen.valid) info.parseOk = false;
  }

  if (site !== 'volume') checkSecretUsable(ctx, info, 'warning');
  if (site === 'snippet') {
    if (info.format === 'default' || info.format === 'qcow') {
      ctx.report(
        'encryption-format-deprecated',
        format!.valueSpan,
        { format: info.format },
        { data: { replacement: 'luks' } },
      );
    }
    if (info.format === 'luks' && !info.secrets.length) ctx.report('encryption-secret-missing', format!.nameSpan);
    // No libvirt call rejects a bare snippet; qemu-img would refuse these values in a volume.
    if (info.format === 'luks' && info.cipher?.valid && (!info.ivgen || info.ivgen.valid)) {
      checkLuksCipherValues(ctx, info, 'warning');
    }
  }
  return info;
}

/** One `<secret>` inside `<encryption>` (virStorageEncryptionSecretParse + virSecretLookupParseSecret). */
function validateEncryptionSecret(ctx: ValidationContext, s: XmlElement): boolean {
  let ok = true;
  checkStructure(ctx, s, SECRET_SHAPE);
  const type = attr(s, 'type');
  if (!type || !type.value) {
    ctx.report(
      'encryption-secret-type-required',
      type ? type.valueSpan : s.nameSpan,
      {},
      { data: { replacement: 'passphrase' } },
    );
    ok = false;
  } else if (type.value !== 'passphrase') {
    ctx.report(
      'encryption-secret-type-unknown',
      type.valueSpan,
      { type: type.value },
      { data: { replacement: 'passphrase' } },
    );
    ok = false;
  }
  const uuid = attr(s, 'uuid');
  const usage = attr(s, 'usage');
  if (!uuid && !usage) {
    ctx.report('encryption-secret-ref-missing', s.nameSpan);
    ok = false;
  } else if (uuid && usage) {
    ctx.report('encryption-secret-ref-both', usage.nameSpan);
    ok = false;
  } else if (usage && !usage.value) {
    // The lookup fails when the image is created or opened: an error for volume creation,
    // a start-time problem (warning) for disks and snippets — see checkSecretUsable.
  } else if (uuid) {
    const v = uuid.value ?? '';
    const canonical = parseUuid(v);
    if (!canonical) {
      ctx.report('encryption-secret-uuid-invalid', uuid.value === undefined ? uuid.nameSpan : uuid.valueSpan, {
        uuid: v,
      });
      ok = false;
    } else if (!isRngUuid(v)) {
      ctx.report(
        'encryption-secret-uuid-noncanonical',
        uuid.valueSpan,
        { uuid: v, canonical },
        { data: { replacement: canonical } },
      );
    }
  }
  return ok;
}

/** A secret reference that can never resolve (usage=''): reported by the consumer with its severity. */
export function checkSecretUsable(ctx: ValidationContext, info: EncryptionInfo, severity?: Severity): void {
  for (const s of info.secrets) {
    const usage = attr(s, 'usage');
    if (usage && !usage.value && !attr(s, 'uuid'))
      ctx.report('encryption-secret-usage-empty', usage.valueSpan, {}, { severity });
  }
}

function validateCipher(ctx: ValidationContext, el: XmlElement): CipherInfo {
  checkStructure(ctx, el, CIPHER_SHAPE);
  const c: CipherInfo = {
    el,
    name: attr(el, 'name'),
    size: attr(el, 'size'),
    mode: attr(el, 'mode'),
    hash: attr(el, 'hash'),
    valid: true,
  };
  // virXMLPropString: an empty name is present (and accepted by the parser).
  if (!c.name) {
    ctx.report('cipher-name-required', el.nameSpan, {}, { data: { insert: "name='aes'" } });
    c.valid = false;
  }
  if (!c.size) {
    ctx.report('cipher-size-required', el.nameSpan, {}, { data: { insert: "size='256'" } });
    c.valid = false;
  } else {
    const v = c.size.value ?? '';
    const n = parseUIntP(v);
    if (n === undefined) {
      ctx.report('cipher-size-invalid', c.size.value === undefined ? c.size.nameSpan : c.size.valueSpan, { value: v });
      c.valid = false;
    } else {
      c.sizeValue = n;
      if (!/^[0-9]+$/.test(v))
        ctx.report(
          'cipher-size-off-schema',
          c.size.valueSpan,
          { value: v, size: String(n) },
          { data: { replacement: String(n) } },
        );
    }
  }
  if (!!c.mode !== !!c.hash) {
    const present = (c.mode ?? c.hash)!;
    ctx.report(
      'cipher-mode-hash-pair',
      present.nameSpan,
      { missing: c.mode ? 'hash' : 'mode' },
      { data: { insert: c.mode ? "hash='sha256'" : "mode='xts'" } },
    );
  }
  return c;
}

function validateIvgen(ctx: ValidationContext, el: XmlElement): IvgenInfo {
  checkStructure(ctx, el, IVGEN_SHAPE);
  const g: IvgenInfo = { el, name: attr(el, 'name'), hash: attr(el, 'hash'), valid: true };
  if (!g.name) {
    ctx.report('ivgen-name-required', el.nameSpan, {}, { data: { insert: "name='plain64'" } });
    g.valid = false;
  }
  return g;
}

const CIPHER_FAMILIES = ['aes', 'serpent', 'twofish', 'cast5'];

/** checkLuksOptions' verdicts by option values: the same few combinations recur in every document of a
 *  folder, and each verdict builds BigInt iteration counts and a layout (a profile of 400 documents
 *  through `check` showed these calls as a tenth of the time). The verdicts are only read. */
const LUKS_VERDICTS = new Map<string, LuksCheckResult>();
const MAX_LUKS_VERDICTS = 256;
/** The `<cipher>`/`<ivgen>` values (valuesKey of name, size, mode, hash, ivgen name and hash) qemu accepts. */
const ACCEPTED_AS_WRITTEN = new Set<string>();

function luksVerdict(opts: LuksOptionInput): LuksCheckResult {
  let key = '';
  for (const [k, v] of Object.entries(opts)) key += `${k}=${String(v).length}:${v};`; // lengths: no collisions
  let r = LUKS_VERDICTS.get(key);
  if (!r) {
    if (LUKS_VERDICTS.size >= MAX_LUKS_VERDICTS) LUKS_VERDICTS.clear();
    LUKS_VERDICTS.set(key, (r = checkLuksOptions(opts)));
  }
  return r;
}

/**
 * The qemu-img side of <cipher>/<ivgen> (storage_util.c storageBackendBuildQemuImgEncriptionOpts): libvirt passes
 * cipher-alg=NAME-SIZE, cipher-mode, hash-alg, ivgen-alg, ivgen-hash-alg verbatim; qemu-img
 * (schemas/luksOptions.ts checkLuksOptions, qemu's order and text) decides. Each enum value is
 * judged on its own so that every independent refusal shows; the combination rules (algorithm
 * family, essiv digest, cast5 without xts, the 7.2 abort) only when the enums pass.
 */
export function checkLuksCipherValues(ctx: ValidationContext, info: EncryptionInfo, severity?: Severity): void {
  const c = info.cipher;
  if (!c || !c.valid || !c.name || c.sizeValue === undefined) return;
  const g = info.ivgen && info.ivgen.valid ? info.ivgen : undefined;
  // The usual case, a set of values qemu accepts, is answered by the values as written: no option
  // object, algorithm name or verdict key to build for each document (issue 15).
  const written = valuesKey(c.name.value, c.size!.value, c.mode?.value, c.hash?.value, g?.name?.value, g?.hash?.value);
  if (ACCEPTED_AS_WRITTEN.has(written)) return;
  const name = c.name.value ?? '';
  const opts: LuksOptionInput = { 'cipher-alg': cipherAlg({ name, size: String(c.sizeValue) }) };
  if (c.mode?.value !== undefined) opts['cipher-mode'] = c.mode.value;
  if (c.hash?.value !== undefined) opts['hash-alg'] = c.hash.value;
  if (g?.name?.value !== undefined) {
    opts['ivgen-alg'] = g.name.value;
    if (g.hash?.value !== undefined) opts['ivgen-hash-alg'] = g.hash.value;
  }
  // The usual case, every value valid and the combination too, is one (remembered) verdict: the
  // whole set passes qemu's enum checks and its combination rules at once.
  if (luksVerdict(opts).ok) {
    if (ACCEPTED_AS_WRITTEN.size >= MAX_LUKS_VERDICTS) ACCEPTED_AS_WRITTEN.clear();
    ACCEPTED_AS_WRITTEN.add(written);
    return;
  }
  const algSpan = CIPHER_FAMILIES.includes(name) ? c.size!.valueSpan : c.name.valueSpan;
  const where: Record<LuksOptionName, { rule: RuleId; span: { start: number; end: number } }> = {
    'cipher-alg': { rule: 'cipher-algorithm-invalid', span: algSpan },
    'cipher-mode': { rule: 'cipher-mode-invalid', span: c.mode?.valueSpan ?? c.el.nameSpan },
    'hash-alg': { rule: 'cipher-hash-invalid', span: c.hash?.valueSpan ?? c.el.nameSpan },
    'ivgen-alg': { rule: 'ivgen-name-invalid', span: g?.name?.valueSpan ?? c.el.nameSpan },
    'ivgen-hash-alg': { rule: 'ivgen-hash-invalid', span: g?.hash?.valueSpan ?? g?.name?.valueSpan ?? c.el.nameSpan },
    'iter-time': { rule: 'cipher-combination-invalid', span: c.el.nameSpan },
    'key-secret': { rule: 'cipher-combination-invalid', span: c.el.nameSpan },
  };
  const dropped = new Set<string>();
  for (const key of Object.keys(opts) as (keyof LuksOptionInput)[]) {
    const r = luksVerdict({ [key]: opts[key] });
    if (!r.ok && r.kind === 'enum') {
      dropped.add(key);
      const w = where[r.option];
      ctx.report(w.rule, w.span, { detail: r.message }, { severity, data: enumData(r.option, String(opts[key])) });
    }
  }
  // The combination rules, judged without the refused values, count only when they do not
  // depend on one of them (fixing that value could change their verdict).
  for (const k of dropped) delete opts[k as keyof LuksOptionInput];
  const involves: Record<string, string[]> = {
    algorithm: ['cipher-alg'],
    essiv: ['cipher-alg', 'ivgen-alg', 'ivgen-hash-alg'],
    mode: ['cipher-alg', 'cipher-mode'],
    'qemu-abort': ['cipher-alg', 'cipher-mode'],
  };
  // qemu stops at the first; the essiv and the mode rule are independent, so after an essiv
  // refusal the rest is judged again with a neutral ivgen.
  for (let round = 0; round < 3; round++) {
    const r = luksVerdict(opts);
    if (r.ok) return;
    if ((involves[r.kind] ?? []).some((k) => dropped.has(k))) return;
    switch (r.kind) {
      case 'algorithm':
        ctx.report(
          'cipher-algorithm-invalid',
          c.name.valueSpan,
          { detail: r.message },
          { severity, data: { replacement: 'aes', values: CIPHER_FAMILIES } },
        );
        return;
      case 'essiv':
        ctx.report('ivgen-essiv-incompatible', where['ivgen-hash-alg'].span, { detail: r.message }, { severity });
        opts['ivgen-alg'] = 'plain64';
        delete opts['ivgen-hash-alg'];
        dropped.add('ivgen-alg');
        continue;
      case 'mode':
        // cast5 has no xts in qemu, and xts is qemu's default mode when none is given.
        ctx.report(
          'cipher-mode-unsupported',
          c.mode?.valueSpan ?? c.name.valueSpan,
          { detail: r.message },
          { severity, data: { replacement: 'cbc' } },
        );
        return;
      case 'qemu-abort':
        ctx.report(
          'cipher-qemu-abort',
          c.mode?.valueSpan ?? c.size!.valueSpan,
          { alg: String(opts['cipher-alg']), mode: opts['cipher-mode'] ?? 'xts' },
          { severity, data: { replacement: 'xts' } },
        );
        return;
      default:
        ctx.report('cipher-combination-invalid', c.el.nameSpan, { detail: r.message }, { severity });
        return;
    }
  }
}

function enumData(option: LuksOptionName, value: string): Record<string, unknown> {
  const values: Record<string, string[]> = {
    'cipher-mode': ['xts', 'cbc', 'ctr', 'ecb'],
    'hash-alg': ['sha256', 'sha512', 'sha384', 'sha224', 'sha1', 'ripemd160', 'md5'],
    'ivgen-alg': ['plain64', 'plain', 'essiv'],
    'ivgen-hash-alg': ['sha256', 'sha512', 'sha384', 'sha224', 'sha1', 'ripemd160', 'md5'],
  };
  if (option === 'cipher-alg') {
    const fam = value.split('-')[0];
    if (CIPHER_FAMILIES.includes(fam))
      return {
        replacement: fam === 'cast5' ? '128' : '256',
        values: fam === 'cast5' ? ['128'] : ['128', '192', '256'],
      };
    return { replacement: nearest(fam, CIPHER_FAMILIES) ?? 'aes', values: CIPHER_FAMILIES };
  }
  const list = values[option] ?? [];
  // qemu's enums are lower case: 'SHA256' → 'sha256'.
  const lower = value.toLowerCase();
  return { replacement: list.includes(lower) ? lower : nearest(value, list), values: list };
}
