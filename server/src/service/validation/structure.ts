// Schema-only structure checks: libvirt's parsers silently ignore
// unknown elements and attributes and use the first of repeated elements; only the RelaxNG
// schema rejects them. So these are warnings, never errors.
import { elementDefAt } from '../../../../schemas/elements';
import type { XmlElement } from '../xmlModel';
import type { ValidationContext } from './context';

export interface Shape {
  attributes: string[];
  /** Allowed children; `multiple` when the schema allows more than one. */
  children: Record<string, { multiple?: boolean }>;
}

/** The shape of the element at `path` in schemas/elements.ts (the one grammar; `single` = at most once). */
export function shapeAt(...path: string[]): Shape {
  const def = elementDefAt(path);
  if (!def) throw new Error(`no element grammar for ${path.join('/')}`);
  return {
    attributes: (def.attributes ?? []).map((a) => a.name),
    children: Object.fromEntries((def.children?.() ?? []).map((c) => [c.name, c.single ? {} : { multiple: true }])),
  };
}

export function checkStructure(ctx: ValidationContext, el: XmlElement, shape: Shape): void {
  // Index loops, no iterators: this runs for most elements of every document, in a `check` of many
  // documents without V8's optimizing tier (cli/tiering.ts), where an iterator costs more than the work.
  const attributes = el.attributes;
  for (let i = 0; i < attributes.length; i++) {
    const a = attributes[i];
    if (shape.attributes.includes(a.name) || a.name.startsWith('xmlns')) continue;
    ctx.report(
      'unknown-attribute',
      a.nameSpan,
      { attribute: a.name, element: el.name },
      { data: { remove: true, values: shape.attributes } },
    );
  }
  // The names of the single-occurrence children seen so far: at most one entry per child the shape
  // allows, so a plain array (no Set per element: this runs for each of a domain's thousands of
  // <encryption> and <secret> elements).
  let seen: string[] | undefined;
  const children = el.children;
  for (let i = 0; i < children.length; i++) {
    const c = children[i];
    if (c.kind !== 'element') continue;
    const spec = shape.children[c.name];
    if (!spec) {
      ctx.report(
        'unknown-element',
        c.nameSpan,
        { element: c.name, parent: el.name },
        { data: { remove: true, values: Object.keys(shape.children) } },
      );
      continue;
    }
    if (spec.multiple) continue;
    if (seen?.includes(c.name))
      ctx.report('duplicate-element', c.nameSpan, { element: c.name }, { data: { remove: true } });
    else (seen ??= []).push(c.name);
  }
}
