// Hover: for elements, attributes and values, what they mean, the values allowed here, the
// default, the libvirt version that brought them, the documentation link and, for cipher/ivgen,
// the qemu-img option the value becomes (storage_util.c storageBackendBuildQemuImgEncriptionOpts).
import { MarkupKind, type Hover, type Position } from 'vscode-languageserver-types';
import type { AttrDef, ElementDef } from '../../../schemas/elements';
import { unitMultiplier } from '../../../schemas/vocabulary';
import { formatBytes } from '../common/bytes';
import type { FeatureContext } from './featureContext';
import { cursorAt } from './cursor';
import { imageHover } from './imageSummary';
import { attrValue, textContent, textSpan, type Span, type XmlElement } from './xmlModel';
import { defOf, libvirtVersion, qemuOptionFor, resolveValues, secretSummary, type ValueTerm } from './values';
import { normaliseUuid, secretsByUuid } from './secrets';
import { hostSecretByUuid, hostSecretSummary, poolHint, poolHintHover } from './hostFacts';
import { readVolume, volumeCreation } from './volumeCreate';

export function doHover(fc: FeatureContext, position: Position): Hover | null {
  const { parsed } = fc;
  const offset = parsed.lines.offsetAt(position);
  // An image path (volume target/backing path, disk source file): what the file's header says.
  const image = imageHover(parsed.xml, parsed.lines, offset, fc.document.uri, fc.env, fc.settings);
  if (image) return image;
  const cursor = cursorAt(parsed.xml, offset);
  const range = (s: Span) => ({ start: parsed.lines.positionAt(s.start), end: parsed.lines.positionAt(s.end) });
  const md = (value: string, s: Span): Hover => ({ contents: { kind: MarkupKind.Markdown, value }, range: range(s) });
  const facts = fc.env.hostFacts?.();
  const hint = facts && poolHint(parsed.xml.text);
  if (facts && hint && offset >= hint.span.start && offset <= hint.span.end)
    return md(poolHintHover(facts, hint.name), hint.span);
  switch (cursor.kind) {
    case 'elementName': {
      const el = cursor.element;
      const def = defOf(el);
      if (!el || !def) return null;
      const cmd = qemuImgCommand(el, libvirtVersion(fc.settings));
      return md(
        elementHover(def) + (cmd ? `\n\nlibvirt's storage driver runs:\n\n\`\`\`sh\n${cmd}\n\`\`\`` : ''),
        el.nameSpan,
      );
    }
    case 'endTag': {
      const el = cursor.element;
      const def = defOf(el);
      return el && def && el.endTagNameSpan ? md(elementHover(def), el.endTagNameSpan) : null;
    }
    case 'attributeName': {
      if (!cursor.attribute) return null;
      const a = defOf(cursor.element)?.attributes?.find((x) => x.name === cursor.attribute!.name);
      return a ? md(attributeHover(fc, cursor.element, a), cursor.attribute.nameSpan) : null;
    }
    case 'attributeValue': {
      const el = cursor.element;
      const a = defOf(el)?.attributes?.find((x) => x.name === cursor.attribute.name);
      const value = cursor.attribute.value;
      if (!a || value === undefined || cursor.replace.start === cursor.replace.end) return null;
      return md(valueHover(fc, el, a.name, a, value), cursor.attribute.valueSpan);
    }
    case 'content': {
      const el = cursor.element;
      const def = defOf(el);
      if (!el || !def || (!def.text && !def.textHint)) return null;
      const span = textSpan(el);
      if (span === el.nameSpan || offset < span.start || offset > span.end) return null;
      const value = textContent(el).trim();
      return md(textHover(fc, el, def, value), span);
    }
  }
}

/**
 * The qemu-img command line libvirt's storage driver runs for an encrypted volume (the one mapping,
 * volumeCreate.ts), shown on the <encryption>, <cipher> and <ivgen> of a volume with format luks.
 */
function qemuImgCommand(el: XmlElement, version: string): string | undefined {
  const enc = el.name === 'encryption' ? el : el.parent?.name === 'encryption' ? el.parent : undefined;
  if (!enc || (el.name !== 'encryption' && el.name !== 'cipher' && el.name !== 'ivgen')) return undefined;
  const target = enc.parent;
  const vol = target?.parent;
  if (target?.name !== 'target' || vol?.name !== 'volume' || vol.parent || attrValue(enc, 'format') !== 'luks')
    return undefined;
  const v = readVolume(vol);
  if (v.target.format !== 'raw' && v.target.format !== 'qcow2') return undefined;
  return volumeCreation(v, { output: `POOL/${v.name ?? 'NAME'}`, libvirtVersion: version }).commandLine;
}

function sinceDoc(since: string | undefined, doc: string | undefined): string[] {
  const out: string[] = [];
  if (since) out.push(`Since libvirt ${since}.`);
  if (doc) out.push(`[libvirt documentation](${doc})`);
  return out;
}

function elementHover(def: ElementDef): string {
  const parts = [`**\`<${def.name}>\`**`, def.description];
  const attrs = def.attributes?.map((a) => `\`${a.name}\`${a.required ? ' (required)' : ''}`);
  if (attrs?.length) parts.push(`Attributes: ${attrs.join(', ')}.`);
  const kids = def.children?.().map((c) => `\`<${c.name}>\``);
  if (kids?.length) parts.push(`Children: ${kids.join(', ')}.`);
  parts.push(...sinceDoc(def.since, def.doc));
  return parts.join('\n\n');
}

function allowedList(values: ValueTerm[]): string {
  const shown = values
    .slice(0, 20)
    .map((v) => `\`${v.value}\``)
    .join(', ');
  return values.length > 20 ? `${shown}, …` : shown;
}

function attributeHover(fc: FeatureContext, el: XmlElement, a: AttrDef): string {
  const parts = [`**\`${a.name}\`** attribute of \`<${el.name}>\`${a.required ? ' (required)' : ''}`, a.description];
  const values = resolveValues(a.values, { settings: fc.settings, env: fc.env, element: el }, a.name);
  if (values.length && a.values !== 'secretUuid' && a.values !== 'secretUsage')
    parts.push(`Allowed here: ${allowedList(values)}.`);
  const def = values.find((v) => v.isDefault)?.value ?? a.default;
  if (def) parts.push(`Default: \`${def}\`.`);
  parts.push(...sinceDoc(a.since, a.doc));
  return parts.join('\n\n');
}

function valueHover(fc: FeatureContext, el: XmlElement, attrName: string, a: AttrDef, value: string): string {
  if (a.values === 'secretUuid') return uuidHover(fc, value);
  const values = resolveValues(a.values, { settings: fc.settings, env: fc.env, element: el }, attrName);
  const term = values.find((v) => v.value === value);
  const parts = [`**\`${value}\`** — \`${a.name}\` of \`<${el.name}>\``];
  if (term) {
    parts.push(term.description);
    if (term.deprecated) parts.push(`**Deprecated.** ${term.deprecated}`);
    if (term.isDefault) parts.push('This is the default.');
  } else if (values.length) {
    parts.push(`Not a value accepted here. Allowed: ${allowedList(values)}.`);
  }
  const q = qemuOptionFor(el, attrName, value);
  if (q) parts.push(`qemu-img option: \`${q}\``);
  parts.push(...sinceDoc(term?.since, term?.doc ?? a.doc));
  return parts.join('\n\n');
}

function uuidHover(fc: FeatureContext, value: string): string {
  const parts = [`**Secret uuid** \`${value}\``];
  const norm = normaliseUuid(value);
  if (!norm) parts.push('libvirt cannot parse this uuid (32 hex digits expected).');
  else if (norm !== value) parts.push(`libvirt reads it as \`${norm}\`.`);
  const secrets = fc.env.secrets?.() ?? [];
  const hits = secretsByUuid(secrets, value);
  for (const s of hits) parts.push(`Defined in the workspace: ${secretSummary(s.usageType, s.usageVolume, s.uri)}.`);
  if (!hits.length && secrets.length) parts.push('No `<secret>` document of the workspace has this uuid.');
  // The host's secret: usage and flags from secret-dumpxml; the value is never read.
  const facts = fc.env.hostFacts?.();
  if (facts?.secretsKnown) {
    const h = hostSecretByUuid(facts, value);
    parts.push(h ? `On ${facts.uri}: ${hostSecretSummary(h)}.` : `No secret with this uuid on ${facts.uri}.`);
  }
  return parts.join('\n\n');
}

function textHover(fc: FeatureContext, el: XmlElement, def: ElementDef, value: string): string {
  const parts = [`**\`${value}\`** — content of \`<${el.name}>\``];
  const values = resolveValues(def.text, { settings: fc.settings, env: fc.env, element: el });
  const term = values.find((v) => v.value === value);
  if (term) parts.push(term.description);
  else if (values.length && def.text !== 'octalMode' && def.text !== 'owner' && def.text !== 'group')
    parts.push(`Not a value libvirt knows here. Allowed: ${allowedList(values)}.`);
  else parts.push(def.description);
  if (el.name === 'uuid' && el.parent?.name === 'secret') {
    const norm = normaliseUuid(value);
    if (norm && norm !== value) parts.push(`libvirt reads it as \`${norm}\`.`);
  }
  if (
    (el.name === 'capacity' || el.name === 'allocation' || el.name === 'physical' || el.name === 'clusterSize') &&
    /^\+?\d+$/.test(value)
  ) {
    const bytes = scaledBytes(value, attrValue(el, 'unit'));
    const iec = bytes !== undefined && bytes >= 1024n ? ` (${formatBytes(bytes)})` : '';
    if (bytes !== undefined) parts.push(`= ${bytes.toLocaleString('en-US')} bytes${iec}.`);
  }
  parts.push(...sinceDoc(term?.since ?? def.since, term?.doc ?? def.doc));
  return parts.join('\n\n');
}

function scaledBytes(value: string, unit: string | undefined): bigint | undefined {
  const mult = unitMultiplier(unit ?? '');
  return mult === undefined ? undefined : BigInt(value.replace(/^\+/, '')) * mult;
}
