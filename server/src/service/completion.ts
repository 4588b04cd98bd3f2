// Completion: element names allowed at the cursor, attribute names, attribute and text values
// (schemas/elements.ts + schemas/vocabulary.ts resolved by values.ts), workspace secret uuids and
// snippets. Works on half-typed documents: cursor.ts reads the tolerant tree plus the raw text.
import {
  CompletionItemKind,
  CompletionItemTag,
  CompletionList,
  InsertTextFormat,
  MarkupKind,
  TextEdit,
  type CompletionItem,
  type Position,
  type Range,
} from 'vscode-languageserver-types';
import { ROOTS, type ElementDef } from '../../../schemas/elements';
import { availableIn } from '../../../schemas/vocabulary';
import type { FeatureContext } from './featureContext';
import { cursorAt, type Cursor } from './cursor';
import { newUuid, normaliseUuid } from './secrets';
import { childElements, type Span, type XmlElement } from './xmlModel';
import { hostVolumeSummary, poolHintAt } from './hostFacts';
import { defOf, inDomainDisk, libvirtVersion, resolveValues, volumeTargetPath, type ValueTerm } from './values';
import { snippetsFor, type Snippet } from './snippets';

export function doComplete(fc: FeatureContext, position: Position): CompletionList {
  const { parsed } = fc;
  const offset = parsed.lines.offsetAt(position);
  const cursor = cursorAt(parsed.xml, offset);
  const items: CompletionItem[] = [];
  const range = (s: Span): Range => ({ start: parsed.lines.positionAt(s.start), end: parsed.lines.positionAt(s.end) });
  const facts = fc.env.hostFacts?.();
  const hint = facts && poolHintAt(parsed.xml.text, offset);
  if (facts && hint) {
    // `<!-- libvirt-volume: pool=` : the host's pools (hostFacts.ts poolHint).
    for (const p of facts.pools) {
      items.push({
        label: p.name,
        kind: CompletionItemKind.Value,
        detail: `${p.type} pool${p.active ? '' : ' (inactive)'}`,
        documentation: `Pool '${p.name}' on ${facts.uri}${p.path ? `: ${p.path}` : ''}`,
        textEdit: TextEdit.replace(range(hint), p.name),
      });
    }
    return CompletionList.create(items, false);
  }
  switch (cursor.kind) {
    case 'elementName':
      elementItems(fc, cursor.parent, cursor.element, range(cursor.replace), true, items);
      break;
    case 'endTag':
      endTagItems(fc, cursor, range(cursor.replace), items);
      break;
    case 'attributeName':
      attributeItems(fc, cursor.element, cursor.attribute?.name, range(cursor.replace), items, offset);
      break;
    case 'attributeValue':
      attributeValueItems(fc, cursor, range(cursor.replace), items);
      break;
    case 'content':
      contentItems(fc, cursor.element, range(cursor.replace), items);
      break;
  }
  return CompletionList.create(items, false);
}

/** Children of `parent` (or the roots) that may still be added, in the configured version. */
function allowedChildren(fc: FeatureContext, parent: XmlElement | undefined, editing?: XmlElement): ElementDef[] {
  const version = libvirtVersion(fc.settings);
  let defs: ElementDef[];
  if (!parent) defs = fc.parsed.xml.root && fc.parsed.xml.root !== editing ? [] : ROOTS;
  else defs = defOf(parent)?.children?.() ?? [];
  const present = new Set(
    childElements(parent)
      .filter((c) => c !== editing)
      .map((c) => c.name),
  );
  return defs.filter((d) => {
    if (d.since && !availableIn({ since: d.since }, version)) return false;
    if (d.single && present.has(d.name)) return false;
    // supplying <cipher> for domain disk definition is unnecessary (domain_validate.c).
    if (parent?.name === 'encryption' && (d.name === 'cipher' || d.name === 'ivgen') && inDomainDisk(parent))
      return false;
    return true;
  });
}

function markdown(description: string, doc?: string, since?: string): { kind: 'markdown'; value: string } {
  const parts = [description];
  if (since) parts.push(`Since libvirt ${since}.`);
  if (doc) parts.push(`[Documentation](${doc})`);
  return { kind: MarkupKind.Markdown, value: parts.join('\n\n') };
}

const esc = (s: string) => s.replace(/[$}\\]/g, (c) => `\\${c}`);

/** Snippet body for an element without the leading `<`: required attributes and content. */
function elementBody(fc: FeatureContext, parent: XmlElement | undefined, d: ElementDef): string {
  let n = 1;
  let attrs = '';
  for (const a of d.attributes ?? []) {
    if (!a.required && !a.insert) continue;
    const values = parent ? resolveValues(a.values, { settings: fc.settings, env: fc.env, element: parent }) : [];
    const def =
      a.values === 'secretUuid'
        ? newUuid(fc.env.randomUUID)
        : (values.find((v) => v.isDefault)?.value ?? a.default ?? (values.length === 1 ? values[0].value : undefined));
    attrs += ` ${a.name}='\${${n++}${def ? `:${esc(def)}` : ''}}'`;
  }
  if (d.empty) return `${d.name}${attrs}/>`;
  if (d.text && parent) {
    const values = resolveValues(d.text, { settings: fc.settings, env: fc.env, element: parent }).map((v) => v.value);
    if (values.length) {
      const choices = values.map((v) => v.replace(/[,|$}\\]/g, (c) => `\\${c}`)).join(',');
      return `${d.name}${attrs}>\${${n}|${choices}|}</${d.name}>`;
    }
  }
  if (d.children) return `${d.name}${attrs}>\n\t$0\n</${d.name}>`;
  return `${d.name}${attrs}>$0</${d.name}>`;
}

function elementItems(
  fc: FeatureContext,
  parent: XmlElement | undefined,
  editing: XmlElement | undefined,
  range: Range,
  afterBracket: boolean,
  items: CompletionItem[],
): void {
  // Renaming an existing, complete start tag: only the name changes.
  const renameOnly =
    editing !== undefined &&
    (editing.attributes.length > 0 ||
      (editing.startTagEnd > editing.nameSpan.end && fc.parsed.xml.text[editing.startTagEnd - 1] === '>'));
  const defs = allowedChildren(fc, parent, editing);
  defs.forEach((d, i) => {
    const body = renameOnly ? d.name : elementBody(fc, parent, d);
    items.push({
      label: d.name,
      kind: CompletionItemKind.Property,
      sortText: `1${String(i).padStart(3, '0')}`,
      documentation: markdown(d.description, d.doc, d.since),
      // The typed word never includes '<' here (cursor.ts splits words at it).
      filterText: d.name,
      insertTextFormat: renameOnly ? InsertTextFormat.PlainText : InsertTextFormat.Snippet,
      textEdit: TextEdit.replace(range, afterBracket ? body : `<${body}`),
    });
  });
  if (!renameOnly) snippetItems(fc, parent, range, afterBracket, items);
}

function snippetItems(
  fc: FeatureContext,
  parent: XmlElement | undefined,
  range: Range,
  afterBracket: boolean,
  items: CompletionItem[],
): void {
  const present = new Set(childElements(parent).map((c) => c.name));
  if (!parent && fc.parsed.xml.root) return;
  const snippets: Snippet[] = snippetsFor(parent, () => newUuid(fc.env.randomUUID), {
    cipherAllowed: !parent || (!inDomainDisk(parent) && parent.name !== 'disk'),
    targetPath: parent ? volumeTargetPath(parent) : undefined,
  });
  snippets.forEach((s, i) => {
    if (s.single && present.has(s.single)) return;
    items.push({
      label: s.label,
      kind: CompletionItemKind.Snippet,
      detail: s.detail,
      sortText: `0${i}`,
      documentation: { kind: MarkupKind.Markdown, value: `${s.detail}\n\n\`\`\`xml\n<${s.preview}\n\`\`\`` },
      filterText: s.filter,
      insertTextFormat: InsertTextFormat.Snippet,
      textEdit: TextEdit.replace(range, afterBracket ? s.body : `<${s.body}`),
    });
  });
}

function endTagItems(
  fc: FeatureContext,
  cursor: Extract<Cursor, { kind: 'endTag' }>,
  range: Range,
  items: CompletionItem[],
): void {
  const text = fc.parsed.xml.text;
  const end = fc.parsed.lines.offsetAt(range.end);
  const hasGt = text[end] === '>';
  // The innermost element still open at the cursor.
  for (let el = cursor.element; el; el = el.parent) {
    if (el.closed && el.endTagNameSpan && fc.parsed.lines.offsetAt(range.start) !== el.endTagNameSpan.start) continue;
    items.push({
      label: `/${el.name}`,
      filterText: el.name,
      kind: CompletionItemKind.Property,
      textEdit: TextEdit.replace(range, hasGt ? el.name : `${el.name}>`),
    });
    break;
  }
}

function attributeItems(
  fc: FeatureContext,
  el: XmlElement,
  editing: string | undefined,
  range: Range,
  items: CompletionItem[],
  offset: number,
): void {
  const def = defOf(el);
  if (!def?.attributes) return;
  const version = libvirtVersion(fc.settings);
  const present = new Set(el.attributes.map((a) => a.name).filter((n) => n !== editing));
  const text = fc.parsed.xml.text;
  // After a closing quote with no blank the new attribute needs a leading space.
  const lead = !editing && offset > 0 && !/\s/.test(text[offset - 1]) ? ' ' : '';
  const existing = editing ? el.attributes.find((a) => a.name === editing) : undefined;
  // The storage driver ignores the engine of a volume's encryption (encryption-engine-ignored).
  const volumeSite = el.name === 'encryption' && el.parent?.name === 'target' && el.parent.parent?.name === 'volume';
  def.attributes.forEach((a, i) => {
    if (present.has(a.name)) return;
    if (volumeSite && a.name === 'engine') return;
    if (a.since && !availableIn({ since: a.since }, version)) return;
    const hasValues =
      resolveValues(a.values, { settings: fc.settings, env: fc.env, element: el }).length > 0 ||
      a.values === 'secretUuid';
    const body = existing && existing.value !== undefined ? a.name : `${lead}${a.name}='$1'`;
    const item: CompletionItem = {
      label: a.name,
      kind: CompletionItemKind.Field,
      sortText: `${a.required ? 0 : 1}${String(i).padStart(3, '0')}`,
      documentation: markdown(a.description + (a.default ? `\n\nDefault: \`${a.default}\`.` : ''), a.doc, a.since),
      detail: a.required ? 'required' : undefined,
      insertTextFormat: InsertTextFormat.Snippet,
      textEdit: TextEdit.replace(range, body),
    };
    if (hasValues && body !== a.name)
      item.command = { title: 'Suggest values', command: 'editor.action.triggerSuggest' };
    items.push(item);
  });
}

function valueItem(t: ValueTerm, i: number, range: Range, quote: string, extraDoc?: string): CompletionItem {
  const doc = [t.description];
  if (t.qemuOption) doc.push(`qemu-img: \`${t.qemuOption}\``);
  if (t.since) doc.push(`Since libvirt ${t.since}.`);
  if (t.deprecated) doc.push(`**Deprecated.** ${t.deprecated}`);
  if (extraDoc) doc.push(extraDoc);
  if (t.doc) doc.push(`[Documentation](${t.doc})`);
  const item: CompletionItem = {
    label: t.value,
    kind: CompletionItemKind.Value,
    detail: t.detail ?? ([t.isDefault ? 'default' : '', t.qemuOption ?? ''].filter(Boolean).join(' · ') || undefined),
    documentation: { kind: MarkupKind.Markdown, value: doc.join('\n\n') },
    sortText: `${t.deprecated ? 2 : t.isDefault ? 0 : 1}${String(i).padStart(3, '0')}`,
    textEdit: TextEdit.replace(range, `${quote}${t.value}${quote}`),
    filterText: quote ? `${quote}${t.value}${quote}` : t.value,
  };
  if (t.deprecated) item.tags = [CompletionItemTag.Deprecated];
  return item;
}

function attributeValueItems(
  fc: FeatureContext,
  cursor: Extract<Cursor, { kind: 'attributeValue' }>,
  range: Range,
  items: CompletionItem[],
): void {
  const el = cursor.element;
  const a = defOf(el)?.attributes?.find((x) => x.name === cursor.attribute.name);
  if (!a) return;
  const quote = cursor.quoted ? '' : "'";
  resolveValues(a.values, { settings: fc.settings, env: fc.env, element: el }, a.name).forEach((t, i) =>
    items.push(valueItem(t, i, range, quote)),
  );
  if (a.values === 'secretUuid') {
    items.push(newUuidItem(fc, range, quote, true));
  }
  if (a.values === 'secretUsage') {
    const tp = volumeTargetPath(el);
    if (tp && !items.some((it) => it.label === tp)) {
      items.push(
        valueItem(
          {
            value: tp,
            description:
              "The target path of this volume: a `<secret>` with `<usage type='volume'><volume>` equal " +
              'to it is found by usage.',
          },
          99,
          range,
          quote,
        ),
      );
    }
  }
}

function contentItems(fc: FeatureContext, el: XmlElement | undefined, range: Range, items: CompletionItem[]): void {
  const def = defOf(el);
  if (el && def?.text) {
    resolveValues(def.text, { settings: fc.settings, env: fc.env, element: el }).forEach((t, i) =>
      items.push(valueItem(t, i, range, '')),
    );
  }
  if (el?.name === 'uuid' && el.parent?.name === 'secret' && !el.parent.parent) secretDocUuidItems(fc, range, items);
  if (el?.name === 'path' && el.parent?.name === 'backingStore') backingPathItems(fc, el, range, items);
  if (!el || def?.children) elementItems(fc, el, undefined, range, false, items);
}

/** `<backingStore><path>`: the volumes of the host's pools (the whole path is replaced). */
function backingPathItems(fc: FeatureContext, el: XmlElement, range: Range, items: CompletionItem[]): void {
  const facts = fc.env.hostFacts?.();
  if (!facts) return;
  const { lines } = fc.parsed;
  const span = el.contentSpan;
  const whole = { start: lines.positionAt(span.start), end: lines.positionAt(Math.max(span.end, span.start)) };
  // An unclosed <path> has no end yet: replace up to the cursor's word end.
  const r = el.closed ? whole : { start: whole.start, end: range.end };
  let n = 0;
  for (const pool of facts.pools) {
    for (const v of pool.volumes) {
      items.push({
        label: v.path,
        kind: CompletionItemKind.File,
        detail: hostVolumeSummary(pool, v),
        documentation: `Volume '${v.name}' of pool '${pool.name}' on ${facts.uri}`,
        sortText: `0${String(n++).padStart(5, '0')}`,
        textEdit: TextEdit.replace(r, v.path),
      });
    }
  }
}

/** `<secret><uuid>`: uuids that workspace volumes use but no secret defines yet, and a fresh one. */
function secretDocUuidItems(fc: FeatureContext, range: Range, items: CompletionItem[]): void {
  const defined = new Set((fc.env.secrets?.() ?? []).map((s) => normaliseUuid(s.uuid)).filter(Boolean));
  const seen = new Set<string>();
  for (const u of fc.env.secretUses?.() ?? []) {
    const n = normaliseUuid(u.uuid);
    if (!n || defined.has(n) || seen.has(n)) continue;
    seen.add(n);
    items.push({
      label: n,
      kind: CompletionItemKind.Value,
      sortText: `0${seen.size}`,
      detail: `used by ${u.uri.slice(u.uri.lastIndexOf('/') + 1)}`,
      documentation: {
        kind: MarkupKind.Markdown,
        value:
          `Used by \`<encryption><secret uuid>\` in ${u.uri.replace(/^file:\/\//, '')}; ` +
          'no `<secret>` document of the workspace defines it yet.',
      },
      textEdit: TextEdit.replace(range, n),
    });
  }
  items.push(newUuidItem(fc, range, '', false));
}

/** "New random UUID": a fresh uuid (quoted when the cursor is not inside quotes), with the virsh steps. */
function newUuidItem(fc: FeatureContext, range: Range, quote: string, explain: boolean): CompletionItem {
  const uuid = newUuid(fc.env.randomUUID);
  const steps =
    `Inserts \`${uuid}\`. Define the secret with \`virsh secret-define\` using this uuid, then set its value ` +
    'with `virsh secret-set-value`.';
  return {
    label: 'New random UUID',
    kind: CompletionItemKind.Value,
    detail: uuid,
    sortText: '9',
    ...(explain ? { documentation: { kind: MarkupKind.Markdown, value: steps } } : {}),
    filterText: `${quote}${uuid}${quote}`,
    textEdit: TextEdit.replace(range, `${quote}${uuid}${quote}`),
  };
}
