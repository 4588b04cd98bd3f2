// Schema-only structure checks: libvirt's parsers silently ignore
// unknown elements and attributes and use the first of repeated elements; only the RelaxNG
// schema rejects them. So these are warnings, never errors.
import { elementDefAt } from '../../../../schemas/elements';
import { childElements, type XmlElement } from '../xmlModel';
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
  for (const a of el.attributes) {
    if (shape.attributes.includes(a.name) || a.name.startsWith('xmlns')) continue;
    ctx.report(
      'unknown-attribute',
      a.nameSpan,
      { attribute: a.name, element: el.name },
      { data: { remove: true, values: shape.attributes } },
    );
  }
  const seen = new Set<string>();
  for (const c of childElements(el)) {
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
    if (!spec.multiple && seen.has(c.name))
      ctx.report('duplicate-element', c.nameSpan, { element: c.name }, { data: { remove: true } });
    seen.add(c.name);
  }
}
