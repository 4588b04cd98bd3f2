// Weak-encryption lint on `<encryption>` (issue 7). The judgement is schemas/weakCrypto.ts's
// weakChoices(); this file maps the XML onto qemu's option names the way libvirt's storage
// driver does (storage_util.c storageBackendBuildQemuImgEncriptionOpts)
// and puts each verdict on the attribute at fault, with a quick-fix payload in `data`.
import { unitMultiplier } from '../../../../schemas/vocabulary';
import {
  libvirtCipherAlg,
  MODERN_DEFAULT,
  weakChoices,
  type CryptoChoices,
  type CryptoFix,
  type WeakChoice,
} from '../../../../schemas/weakCrypto';
import { attr, firstChild, textContent, type Span, type XmlElement } from '../xmlModel';
import type { ValidationContext } from './context';

/** Quick-fix payload in libvirt XML terms: attribute values to set; `null` removes one. */
export interface XmlCryptoFix {
  encryption?: { format: string };
  cipher?: Record<string, string | null>;
  ivgen?: Record<string, string | null>;
}

/** Translates a fix in qemu option terms into `<cipher>`/`<ivgen>` attribute edits. */
export function toXmlFix(fix: CryptoFix, cipher: XmlElement | undefined): XmlCryptoFix {
  const out: XmlCryptoFix = {};
  const c: Record<string, string | null> = {};
  const iv: Record<string, string | null> = {};
  if (fix.format) out.encryption = { format: fix.format };
  if (fix.cipherAlg) {
    const m = /^(.*)-(\d+)$/.exec(fix.cipherAlg);
    if (m) {
      c.name = m[1];
      c.size = m[2];
    }
  }
  if (fix.cipherMode !== undefined) c.mode = fix.cipherMode;
  if (fix.hashAlg !== undefined) c.hash = fix.hashAlg;
  // libvirt's schema wants mode and hash together (storagecommon.rng keycipher); fill the partner
  // with qemu's default, which is what applies when it is absent anyway.
  if ('mode' in c && !('hash' in c) && !attr(cipher, 'hash')) c.hash = MODERN_DEFAULT.hashAlg;
  if ('hash' in c && !('mode' in c) && !attr(cipher, 'mode')) c.mode = MODERN_DEFAULT.cipherMode;
  if (fix.ivgenAlg !== undefined) iv.name = fix.ivgenAlg;
  if (fix.ivgenHashAlg !== undefined) iv.hash = fix.ivgenHashAlg;
  // Only what changes (a size fix does not rewrite the name).
  const unchanged = (el: XmlElement | undefined, edits: Record<string, string | null>) => {
    for (const [k, v] of Object.entries(edits))
      if ((v === null && el && !attr(el, k)) || (v !== null && attr(el, k)?.value === v)) delete edits[k];
  };
  unchanged(cipher, c);
  unchanged(cipher?.parent ? firstChild(cipher.parent, 'ivgen') : undefined, iv);
  if (Object.keys(c).length) out.cipher = c;
  if (Object.keys(iv).length) out.ivgen = iv;
  return out;
}

/** Capacity in bytes as libvirt reads it (virStorageSize); undefined when it does not parse. */
export function capacityBytes(volume: XmlElement | undefined): bigint | undefined {
  const cap = firstChild(volume, 'capacity');
  if (!cap) return undefined;
  const m = /^[ \t\n\r]*\+?(\d+)$/.exec(textContent(cap));
  if (!m) return undefined;
  const mul = unitMultiplier(attr(cap, 'unit')?.value ?? 'bytes');
  return mul === undefined ? undefined : BigInt(m[1]) * mul;
}

function luksChoices(
  enc: XmlElement,
  sizeBytes: bigint | undefined,
): { choices: CryptoChoices; cipher: XmlElement; ivgen: XmlElement | undefined } | undefined {
  // libvirt reads the first <cipher>/<ivgen> only, and only for format luks
  // (virStorageEncryptionParseNode); without <cipher> it passes no cipher options and qemu's
  // defaults (aes-256-xts-plain64, sha256) apply — nothing to judge.
  const cipher = firstChild(enc, 'cipher');
  if (!cipher) return undefined;
  const ivgen = firstChild(enc, 'ivgen');
  const name = attr(cipher, 'name')?.value;
  const size = attr(cipher, 'size')?.value;
  return {
    cipher,
    ivgen,
    choices: {
      cipherAlg: libvirtCipherAlg(name, size),
      cipherMode: attr(cipher, 'mode')?.value || undefined,
      hashAlg: attr(cipher, 'hash')?.value || undefined,
      ivgenAlg: attr(ivgen, 'name')?.value || undefined,
      ivgenHashAlg: attr(ivgen, 'hash')?.value || undefined,
      sizeBytes,
    },
  };
}

function spanFor(w: WeakChoice, enc: XmlElement, cipher: XmlElement | undefined, ivgen: XmlElement | undefined): Span {
  const v = (el: XmlElement | undefined, a: string) => attr(el, a)?.valueSpan;
  switch (w.field) {
    case 'format':
      return v(enc, 'format') ?? enc.nameSpan;
    case 'cipherAlg':
      // A key-size verdict sits on `size`, a cipher verdict on `name`.
      return (w.id === 'weak-xts-128-key' ? v(cipher, 'size') : v(cipher, 'name')) ?? cipher?.nameSpan ?? enc.nameSpan;
    case 'cipherMode':
      return v(cipher, 'mode') ?? v(ivgen, 'name') ?? cipher?.nameSpan ?? enc.nameSpan;
    case 'hashAlg':
      return v(cipher, 'hash') ?? cipher?.nameSpan ?? enc.nameSpan;
    case 'ivgenAlg':
      return v(ivgen, 'name') ?? ivgen?.nameSpan ?? cipher?.nameSpan ?? enc.nameSpan;
    case 'ivgenHashAlg':
      return v(ivgen, 'hash') ?? ivgen?.nameSpan ?? enc.nameSpan;
  }
}

/** Judges one `<encryption>`; `site` decides whether `<cipher>` means anything there. */
export function checkEncryptionStrength(
  ctx: ValidationContext,
  enc: XmlElement,
  site: 'volume' | 'disk' | 'snippet',
  sizeBytes?: bigint,
): void {
  const format = attr(enc, 'format')?.value;
  if (format === 'qcow' || format === 'default') {
    // Legacy qcow AES: `default` meant qcow AES for qcow/qcow2 images before 4.5.0.
    for (const w of weakChoices({ legacyAes: true })) report(ctx, w, enc, undefined, undefined);
    return;
  }
  // On a domain disk <cipher> is refused (DENC-CIPHER) and the image header decides anyway.
  // (validateDomainSecurity relies on this: on a disk only the legacy formats above are judged.)
  if (format !== 'luks' || site === 'disk') return;
  const parsed = luksChoices(enc, sizeBytes);
  if (!parsed) return;
  for (const w of weakChoices(parsed.choices)) report(ctx, w, enc, parsed.cipher, parsed.ivgen);
}

function report(
  ctx: ValidationContext,
  w: WeakChoice,
  enc: XmlElement,
  cipher: XmlElement | undefined,
  ivgen: XmlElement | undefined,
): void {
  const data: Record<string, unknown> = { fix: toXmlFix(w.fix, cipher), reason: w.reason };
  if (w.field !== 'format') {
    // The whole modern default as a second fix, when it differs from the smallest change.
    const modern = toXmlFix({ ...MODERN_DEFAULT }, cipher);
    if (JSON.stringify(modern) !== JSON.stringify(data.fix)) data.modernDefault = modern;
  }
  ctx.report(w.id, spanFor(w, enc, cipher, ivgen), w.args, { data });
}

export function validateVolumeSecurity(ctx: ValidationContext): void {
  const vol = ctx.doc.root;
  if (vol?.name !== 'volume') return;
  const enc = firstChild(firstChild(vol, 'target'), 'encryption');
  if (enc) checkEncryptionStrength(ctx, enc, 'volume', capacityBytes(vol));
}

export function validateSnippetSecurity(ctx: ValidationContext): void {
  if (ctx.doc.root?.name === 'encryption') checkEncryptionStrength(ctx, ctx.doc.root, 'snippet');
}

export function validateDomainSecurity(ctx: ValidationContext): void {
  // Every <encryption> of a disk: disk level, <source> level, and backing-store layers
  // (virDomainStorageSourceParse reads ./encryption under any <source>). Not the TPM's
  // <encryption secret=…/> (DENC-TPM-NOT-THIS).
  const root = ctx.doc.root;
  const text = ctx.doc.text;
  // On a disk only a legacy qcow format is judged (checkEncryptionStrength). Without an '&' (a
  // reference could spell the value) such a format is in the text as written, at the start of a
  // value: a document without one has nothing to report, found by one native scan instead of a
  // walk over a large domain's disks.
  if (!root || (!text.includes('&') && !LEGACY_FORMAT.test(text))) return;
  diskEncryptions(ctx, text, root, { next: -1 });
}

/** A `format` attribute whose value starts with a legacy qcow format (a superset: `qcow2`, other
 *  elements' `format`; unterminated values too, which keep what follows the quote). */
const LEGACY_FORMAT = /format\s*=\s*["'](?:qcow|default)/;

/**
 * Every element in document order, as a walk of the whole tree would, but a subtree whose text
 * holds no `<encryption` is skipped: one forward search of the text (`at.next`, the first
 * occurrence at or after the element being visited) instead of a visit of each of a large
 * domain's tens of thousands of elements. An <encryption> element's text starts with it.
 */
function diskEncryptions(ctx: ValidationContext, text: string, el: XmlElement, at: { next: number }): void {
  if (at.next < el.start) at.next = text.indexOf('<encryption', el.start);
  if (at.next < 0 || at.next >= el.end) return;
  if (el.name === 'encryption') {
    const p = el.parent;
    if (p && (p.name === 'disk' || p.name === 'source')) checkEncryptionStrength(ctx, el, 'disk');
  }
  const children = el.children;
  for (let i = 0; i < children.length; i++) {
    const c = children[i];
    if (c.kind === 'element') diskEncryptions(ctx, text, c, at);
    if (at.next < 0) return;
  }
}
