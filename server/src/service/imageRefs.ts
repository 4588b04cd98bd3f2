// Where a document names local image files, and how to read them through the injected
// environment: volume `<target><path>` and `<backingStore><path>`, domain disk `<source file>`
// and its `<backingStore>` layers. Shared by the image-aware checks (validation/imageChecks.ts)
// and the hover on paths (imageSummary.ts). Pure: paths are resolved as strings, files are read
// only by env.imageFacts.
import { targetFormatsFor, type PoolType } from '../../../schemas/vocabulary';
import type { ImageFacts, ServiceEnvironment } from './types';
import {
  attr,
  firstChild,
  textContent,
  textSpan,
  walkElements,
  type Span,
  type XmlDocument,
  type XmlElement,
} from './xmlModel';

export type ImageRefKind = 'volume-target' | 'volume-backing' | 'disk-source' | 'disk-backing';

export interface DeclaredFormat {
  /** libvirt's format name (as written, or the default). */
  value: string;
  /** Span of the `type` value; undefined when the format is implicit. */
  span: Span | undefined;
  /** True when no format is written and libvirt's default applies. */
  implicit: boolean;
}

export interface ImageRef {
  kind: ImageRefKind;
  /** The path as written (trimmed). */
  path: string;
  /** Span of the path text or attribute value. */
  span: Span;
  /** The element that owns the reference (`<volume>`, `<backingStore>`, `<disk>`). */
  owner: XmlElement;
  /** Declared format, when libvirt judges one for this reference. */
  format: DeclaredFormat | undefined;
  /** The `<encryption>` that applies to this file (targets and disk sources only). */
  encryption: XmlElement | undefined;
}

function declared(formatEl: XmlElement | undefined, fallback: string | undefined): DeclaredFormat | undefined {
  const a = attr(formatEl, 'type');
  // virXPathString: an empty type counts as missing (libvirt's util/virxml.c).
  if (a?.value) return { value: a.value, span: a.valueSpan, implicit: false };
  return fallback === undefined ? undefined : { value: fallback, span: undefined, implicit: true };
}

/** Only file-like pools have a file format (storage_conf.c poolTypeInfo); default raw. */
function fileFormatOf(pool: PoolType): 'raw' | undefined {
  return targetFormatsFor(pool)?.default === 'raw' ? 'raw' : undefined;
}

/** The trimmed text of a `<path>` element, '' when there is none. */
function pathText(el: XmlElement | undefined): string {
  return el ? textContent(el).trim() : '';
}

/**
 * Every local-file image reference of a document, in document order; with `wanted`, only those whose
 * path (as written) it accepts: the image checks ask for the files this host has, and most documents
 * name none, so nothing else of a reference is read or built for them (a `check` of many documents
 * runs this for each, in V8's interpreter: cli/tiering.ts).
 */
export function findImageRefs(
  doc: XmlDocument,
  pool: PoolType = 'dir',
  wanted?: (path: string) => boolean,
): ImageRef[] {
  const root = doc.root;
  if (!root) return [];
  const out: ImageRef[] = [];
  if (root.name === 'volume') {
    // Fields written out, no spread of a {path, span} object (a runtime call in the interpreter).
    const target = firstChild(root, 'target');
    const targetPath = firstChild(target, 'path');
    const t = pathText(targetPath);
    if (t && (!wanted || wanted(t))) {
      const fileFormat = fileFormatOf(pool);
      out.push({
        kind: 'volume-target',
        path: t,
        span: textSpan(targetPath!),
        owner: root,
        format: fileFormat && declared(firstChild(target, 'format'), fileFormat),
        encryption: firstChild(target, 'encryption'),
      });
    }
    const bs = firstChild(root, 'backingStore');
    const backingPath = firstChild(bs, 'path');
    const b = pathText(backingPath);
    // The backing format defaults like the target's (storage_conf.c: options->defaultFormat).
    if (b && bs && (!wanted || wanted(b))) {
      const fileFormat = fileFormatOf(pool);
      out.push({
        kind: 'volume-backing',
        path: b,
        span: textSpan(backingPath!),
        owner: bs,
        format: fileFormat && declared(firstChild(bs, 'format'), fileFormat),
        encryption: undefined,
      });
    }
    return out;
  }
  const disks =
    root.name === 'disk'
      ? [root]
      : [...walkElements(root)].filter((e) => e.name === 'disk' && e.parent?.name === 'devices');
  for (const disk of disks) {
    const type = attr(disk, 'type')?.value || 'file';
    if (type !== 'file') continue;
    const source = firstChild(disk, 'source');
    const file = attr(source, 'file');
    const fileValue = file?.value?.trim();
    if (file && fileValue && (!wanted || wanted(fileValue))) {
      // qemuDomainDeviceDiskDefPostParse sets raw for a disk without <driver type>.
      const driverType = attr(firstChild(disk, 'driver'), 'type');
      const format: DeclaredFormat = driverType?.value
        ? { value: driverType.value, span: driverType.valueSpan, implicit: false }
        : { value: 'raw', span: undefined, implicit: true };
      out.push({
        kind: 'disk-source',
        path: fileValue,
        span: file.valueSpan,
        owner: disk,
        format,
        encryption: firstChild(source, 'encryption') ?? firstChild(disk, 'encryption'),
      });
    }
    // Explicit backing layers: <backingStore type='file'><format/><source file/><backingStore/>…
    for (
      let bs = firstChild(disk, 'backingStore'), depth = 0;
      bs && depth < 64;
      bs = firstChild(bs, 'backingStore'), depth++
    ) {
      if ((attr(bs, 'type')?.value || 'file') !== 'file') continue;
      const f = attr(firstChild(bs, 'source'), 'file');
      const v = f?.value?.trim();
      if (f && v && (!wanted || wanted(v)))
        out.push({
          kind: 'disk-backing',
          path: v,
          span: f.valueSpan,
          owner: bs,
          format: declared(firstChild(bs, 'format'), undefined),
          encryption: undefined,
        });
    }
  }
  return out;
}

/** The image reference whose path contains the offset (for hover). */
export function imageRefAt(doc: XmlDocument, offset: number, pool: PoolType = 'dir'): ImageRef | undefined {
  return findImageRefs(doc, pool).find((r) => offset >= r.span.start && offset <= r.span.end);
}

// ---- Paths (POSIX; the images live on the host running the server) ----

const NOT_NORMAL = /\/(?:\.\.?)?(?:\/|$)/;

/** Normalises `.`/`..`/`//` of an absolute POSIX path. */
export function normalizePath(p: string): string {
  // Most paths are already normal (no empty, `.` or `..` segment, no trailing '/'): kept as they are.
  if (p.charCodeAt(0) === 47 && !NOT_NORMAL.test(p)) return p;
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (!seg || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return '/' + parts.join('/');
}

export function dirname(p: string): string {
  const n = normalizePath(p);
  const i = n.lastIndexOf('/');
  return i <= 0 ? '/' : n.slice(0, i);
}

/** File-system path of a `file:` URI, or undefined for other schemes. */
export function uriToPath(uri: string): string | undefined {
  const m = /^file:\/\/([^/]*)(\/.*)?$/i.exec(uri);
  if (!m || (m[1] && m[1] !== 'localhost')) return undefined;
  try {
    return decodeURIComponent(m[2] ?? '/');
  } catch {
    return undefined;
  }
}

/** Protocol names qemu accepts as backing files (json:, nbd://, …): not local files. */
function isProtocol(p: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(p) && !/^file:/i.test(p);
}

/**
 * Absolute path of `p`: absolute paths are normalised, relative ones resolve against the folder
 * of `base` (a `file:` URI of the document, or an absolute path of the image that names it, as
 * qemu resolves backing files relative to the image, block.c bdrv_get_full_backing_filename).
 */
export function resolveImagePath(p: string, base: string): string | undefined {
  if (!p || isProtocol(p)) return undefined;
  if (/^file:/i.test(p)) return uriToPath(p);
  if (p.startsWith('/')) return normalizePath(p);
  const baseFile = base.startsWith('/') ? base : uriToPath(base);
  if (!baseFile) return undefined;
  return normalizePath(`${dirname(baseFile)}/${p}`);
}

// ---- Reading ----

/** Reads image facts once per path during one validation or hover. */
export class ImageReader {
  private readonly cache = new Map<string, ImageFacts | undefined>();
  constructor(
    private readonly env: ServiceEnvironment,
    private readonly docUri: string,
  ) {}

  get available(): boolean {
    return typeof this.env.imageFacts === 'function';
  }

  facts(absPath: string): ImageFacts | undefined {
    if (this.cache.has(absPath)) return this.cache.get(absPath);
    let f: ImageFacts | undefined;
    try {
      f = this.env.imageFacts?.(absPath, this.docUri) ?? undefined;
    } catch {
      f = undefined; // an unreadable file is not a finding (the XML may describe another host)
    }
    if (f && typeof f.format !== 'string') f = undefined;
    this.cache.set(absPath, f);
    return f;
  }

  /** Follows backing files from `start` (bounded), stopping at missing files or protocols. */
  chain(start: string, maxDepth = MAX_CHAIN): Chain {
    const links: ChainLink[] = [];
    const seen = new Set<string>();
    let cur: string | undefined = start;
    while (cur && links.length < maxDepth) {
      if (seen.has(cur)) return { links, loopsTo: cur };
      seen.add(cur);
      const facts = this.facts(cur);
      if (!facts) break;
      const backing: string | undefined = facts.backingFile ? resolveImagePath(facts.backingFile, cur) : undefined;
      links.push({ path: cur, facts, backing });
      cur = backing;
    }
    return { links, loopsTo: undefined };
  }
}

/** libvirt's chains are far shorter in practice; this bounds the header reads per path. */
export const MAX_CHAIN = 32;

export interface ChainLink {
  /** Absolute path of this layer. */
  path: string;
  facts: ImageFacts;
  /** Absolute path of its backing file, when the header names a local one. */
  backing: string | undefined;
}

export interface Chain {
  links: ChainLink[];
  /** Set when a backing file leads back to a layer already in the chain. */
  loopsTo: string | undefined;
}

/** libvirt and qemu spell a few formats differently; compare in qemu's terms. */
export function sameFormat(declaredFmt: string, actual: string): boolean {
  const norm = (f: string) => (f === 'iso' ? 'raw' : f === 'vhd' ? 'vpc' : f);
  return norm(declaredFmt) === norm(actual);
}
