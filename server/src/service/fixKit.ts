// The toolkit of quick fixes: where a diagnostic points in the tree, the Fix/Fixer shapes, and
// the fixes several rules share (LUKS with a passphrase secret, a new secret, the data-driven
// replace/insert/remove of Diagnostic.data, the security lint's attribute edits).
import type { Diagnostic } from 'vscode-languageserver-types';
import type { FeatureContext } from './featureContext';
import type { XmlEditor } from './xmlEdits';
import {
  attr,
  attrValue,
  childElements,
  firstChild,
  path,
  textContent,
  textSpan,
  walkElements,
  type Span,
  type XmlAttribute,
  type XmlElement,
} from './xmlModel';
import { normaliseUuid } from './secrets';
import { inDomainDisk } from './values';

export interface Target {
  /** The element the diagnostic is about (by name, attribute or text). */
  el: XmlElement;
  attr?: XmlAttribute;
  on: 'name' | 'attrName' | 'attrValue' | 'text';
}

export interface Fix {
  title: string;
  apply(ed: XmlEditor): void;
  preferred?: boolean;
}

export interface FixInput {
  fc: FeatureContext;
  d: Diagnostic;
  data: Record<string, unknown>;
  t: Target;
  uuid(): string;
}

export type Fixer = (x: FixInput) => Fix[];

export const eq = (a: Span, b: Span) => a.start === b.start && a.end === b.end;

export function locate(fc: FeatureContext, span: Span): Target | undefined {
  const root = fc.parsed.xml.topLevel;
  for (const top of root) {
    for (const el of walkElements(top)) {
      if (eq(el.nameSpan, span)) return { el, on: 'name' };
      for (const a of el.attributes) {
        if (eq(a.nameSpan, span)) return { el, attr: a, on: 'attrName' };
        if (eq(a.valueSpan, span)) return { el, attr: a, on: 'attrValue' };
      }
      if (
        span.start >= el.contentSpan.start &&
        span.end <= el.contentSpan.end &&
        childElements(el).length === 0 &&
        eq(textSpan(el), span)
      )
        return { el, on: 'text' };
    }
  }
  return undefined;
}

// ---- shared fixes ----

/** The passphrase <secret> line with a uuid. */
export const secretXml = (uuid: string) => `<secret type='passphrase' uuid='${uuid}'/>`;

/** Makes an <encryption> LUKS with exactly one passphrase secret (keeping a usable existing one). */
export function toLuks(enc: XmlElement, uuid: () => string, ed: XmlEditor): void {
  ed.setAttr(enc, 'format', 'luks');
  const secrets = childElements(enc, 'secret');
  if (!secrets.length) ed.appendChild(enc, secretXml(uuid()));
  else {
    const s = secrets[0];
    if (attrValue(s, 'type') !== 'passphrase') ed.setAttr(s, 'type', 'passphrase');
    if (!attr(s, 'uuid') && !attr(s, 'usage')) ed.setAttr(s, 'uuid', uuid());
    for (const extra of secrets.slice(1)) ed.removeElement(extra);
  }
  // libvirt refuses <cipher> on a domain disk (domain_validate.c).
  if (inDomainDisk(enc))
    for (const c of [...childElements(enc, 'cipher'), ...childElements(enc, 'ivgen')]) ed.removeElement(c);
}

export function encryptionOf(t: Target): XmlElement | undefined {
  for (let el: XmlElement | undefined = t.el; el; el = el.parent) if (el.name === 'encryption') return el;
  // A diagnostic on the volume/target/format: the volume's encryption.
  let root = t.el;
  while (root.parent) root = root.parent;
  return root.name === 'volume' ? path(root, 'target', 'encryption') : undefined;
}

export const useLuks: Fixer = ({ t, uuid }) => {
  const enc = encryptionOf(t);
  if (!enc) return [];
  const hasSecret = childElements(enc, 'secret').length > 0;
  return [
    {
      title: hasSecret ? "Use format 'luks'" : "Use format 'luks' with a passphrase secret (new uuid)",
      preferred: true,
      apply: (ed) => toLuks(enc, uuid, ed),
    },
  ];
};

export const addSecret: Fixer = ({ t, uuid, fc }) => {
  const enc = encryptionOf(t);
  if (!enc) return [];
  const fixes: Fix[] = [
    {
      title: 'Add a passphrase <secret> with a new uuid',
      preferred: true,
      apply: (ed) => ed.appendChild(enc, secretXml(uuid())),
    },
  ];
  for (const s of workspaceCandidates(fc, enc))
    fixes.push({
      title: `Add the workspace secret ${s.uuid} (${s.label})`,
      apply: (ed) => ed.appendChild(enc, secretXml(s.uuid)),
    });
  return fixes;
};

/** Workspace secrets of usage volume, those for this volume's path first. */
export function workspaceCandidates(fc: FeatureContext, enc: XmlElement): Array<{ uuid: string; label: string }> {
  let root = enc;
  while (root.parent) root = root.parent;
  const p =
    root.name === 'volume'
      ? textContent(path(root, 'target', 'path')).trim()
      : attrValue(enc.parent?.name === 'source' ? enc.parent : path(enc.parent, 'source'), 'file');
  const out: Array<{ uuid: string; label: string; rank: number }> = [];
  for (const s of fc.env.secrets?.() ?? []) {
    const u = normaliseUuid(s.uuid);
    if (!u || s.usageType !== 'volume') continue;
    out.push({ uuid: u, label: s.usageVolume ?? s.uri, rank: p && s.usageVolume === p ? 0 : 1 });
  }
  return out.sort((a, b) => a.rank - b.rank).slice(0, 5);
}

export const removeTarget =
  (title: string): Fixer =>
  ({ t }) => {
    if (t.on === 'attrName' && t.attr)
      return [{ title, preferred: true, apply: (ed) => ed.removeAttr(t.el, t.attr!.name) }];
    return [{ title, preferred: true, apply: (ed) => ed.removeElement(t.el) }];
  };

/** Replaces the value/text at the diagnostic with data.replacement (and offers data.values). */
export const replaceValue: Fixer = ({ t, data }) => {
  if (t.on !== 'attrValue' && t.on !== 'text') return [];
  const rep = typeof data.replacement === 'string' ? data.replacement : undefined;
  if (rep === undefined) return [];
  if (t.on === 'attrValue') {
    const current = t.attr!.value ?? '';
    return rep === current
      ? []
      : [
          {
            title: `Replace '${current}' with '${rep}'`,
            preferred: true,
            apply: (ed) => ed.setAttr(t.el, t.attr!.name, rep),
          },
        ];
  }
  // Text: the whole content goes, surrounding blanks included (libvirt reads them too).
  const raw = textContent(t.el);
  if (raw === rep) return [];
  return [
    {
      title: `Replace '${raw.trim()}' with '${rep}'`,
      preferred: true,
      apply: (ed) => ed.replace(t.el.contentSpan, rep),
    },
  ];
};

/** Inserts data.insert: an attribute (`name='v'`) into the element, or an element as child/sibling. */
export const insertData: Fixer = ({ t, data }) => {
  const ins = typeof data.insert === 'string' ? data.insert : undefined;
  if (!ins) return [];
  if (ins.startsWith('<')) {
    const name = /^<([\w.-]+)/.exec(ins)?.[1] ?? 'element';
    // <ivgen> goes next to its <cipher>; everything else into the element reported.
    if (t.el.name === 'cipher')
      return [{ title: `Add ${ins}`, preferred: true, apply: (ed) => ed.insertAfter(t.el, ins) }];
    return [
      { title: `Add <${name}> to <${t.el.name}>: ${ins}`, preferred: true, apply: (ed) => ed.appendChild(t.el, ins) },
    ];
  }
  const m = /^([\w:.-]+)='([^']*)'$/.exec(ins);
  if (!m) return [];
  return [{ title: `Add ${ins}`, preferred: true, apply: (ed) => ed.setAttr(t.el, m[1], m[2]) }];
};

/** Other values from data.values, nearest first, as alternative fixes. */
export function alternatives(x: FixInput, max = 4): Fix[] {
  const values = Array.isArray(x.data.values)
    ? (x.data.values as unknown[]).filter((v): v is string => typeof v === 'string')
    : [];
  if (!values.length || (x.t.on !== 'attrValue' && x.t.on !== 'text')) return [];
  const current = x.t.on === 'attrValue' ? (x.t.attr!.value ?? '') : textContent(x.t.el).trim();
  const out: Fix[] = [];
  for (const v of values) {
    if (v === current || v === x.data.replacement || out.length >= max) continue;
    out.push({
      title: `Replace '${current}' with '${v}'`,
      apply: (ed) =>
        x.t.on === 'attrValue' ? ed.setAttr(x.t.el, x.t.attr!.name, v) : ed.replace(x.t.el.contentSpan, v),
    });
  }
  return out;
}

/** Security lint payload (validation/security.ts XmlCryptoFix): attribute edits on encryption/cipher/ivgen. */
export function cryptoFix(x: FixInput, fix: unknown, title: string, preferred: boolean): Fix | undefined {
  if (!fix || typeof fix !== 'object') return undefined;
  const f = fix as {
    encryption?: { format: string };
    cipher?: Record<string, string | null>;
    ivgen?: Record<string, string | null>;
  };
  const enc = encryptionOf(x.t);
  if (!enc) return undefined;
  const cipher = firstChild(enc, 'cipher');
  const ivgen = firstChild(enc, 'ivgen');
  const parts: string[] = [];
  if (f.encryption?.format) parts.push(`format='${f.encryption.format}'`);
  for (const [k, v] of Object.entries(f.cipher ?? {})) parts.push(v === null ? `no cipher ${k}` : `cipher ${k}='${v}'`);
  for (const [k, v] of Object.entries(f.ivgen ?? {})) parts.push(v === null ? `no ivgen ${k}` : `ivgen ${k}='${v}'`);
  if (!parts.length) return undefined;
  return {
    title: `${title}: ${parts.join(', ')}`,
    preferred,
    apply: (ed) => {
      if (f.encryption?.format) {
        if (f.encryption.format === 'luks') toLuks(enc, x.uuid, ed);
        else ed.setAttr(enc, 'format', f.encryption.format);
      }
      const setAll = (el: XmlElement | undefined, tag: string, attrs: Record<string, string | null> | undefined) => {
        if (!attrs || !Object.keys(attrs).length) return;
        if (!el) {
          const s = Object.entries(attrs)
            .filter(([, v]) => v !== null)
            .map(([k, v]) => ` ${k}='${v}'`)
            .join('');
          if (tag === 'ivgen' && cipher) ed.insertAfter(cipher, `<ivgen${s}/>`);
          else ed.appendChild(enc, `<${tag}${s}/>`);
          return;
        }
        for (const [k, v] of Object.entries(attrs))
          if (v === null) ed.removeAttr(el, k);
          else ed.setAttr(el, k, v);
      };
      setAll(cipher, 'cipher', f.cipher);
      setAll(ivgen, 'ivgen', f.ivgen);
    },
  };
}
