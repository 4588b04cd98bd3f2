// libvirt XML embedded in other files (issue 12): Ansible `xml:` block scalars of community.libvirt's
// modules, Jinja templates (`*.xml.j2`) and Terraform heredocs. Pure: the "embedded region"
// extractor and the offset mapping between a region's XML (as the tool receives it) and its host file.
//
// A region's text is the string the tool sees: a YAML block scalar without its indentation (YAML 1.2
// §8.1 block scalars), a `<<-` heredoc without its common leading whitespace (HCL native syntax spec,
// "Template Expressions"), a template as it is. Template code is blanked to spaces of equal length
// (line breaks kept): offsets and lines of the XML around it hold, and `holes` say what was blanked
// so that a value written by a template is not judged. Segments map region offsets to host offsets.
import type {
  CompletionItem,
  CompletionList,
  Diagnostic,
  DocumentSymbol,
  FoldingRange,
  Hover,
  Location,
  Range,
  TextEdit,
} from 'vscode-languageserver-types';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { LineIndex, parseXml, type Span, type XmlElement } from './xmlModel';
import { HOST_EXTENSIONS, HOST_LANGUAGES } from '../../../schemas/hosts';
import { dirname, normalizePath } from './imageRefs';
import type { SecretInfo, SecretUse } from './types';
import { secretInfoOf, secretUsesOf } from './secrets';

export type HostKind = 'ansible' | 'jinja' | 'terraform';

/** A run of region text copied verbatim from the host. */
export interface Segment {
  region: number;
  host: number;
  length: number;
}

export interface EmbeddedRegion {
  /** XML as the tool receives it, with template code blanked to spaces. */
  text: string;
  /** The same before blanking (same length and offsets): what the outline shows. */
  raw: string;
  /** Host offsets of the first and past the last character of the region. */
  hostStart: number;
  hostEnd: number;
  /** Sorted by both offsets; every region character lies in exactly one. */
  segments: Segment[];
  /** Prefix the host puts after each line break inside the region (block indentation). */
  indent: string;
  /** The host's line break, used for inserted text. */
  eol: string;
  /** Region spans of blanked template code. */
  holes: Span[];
  /** A one-line YAML flow scalar: its style decides how inserted text is written (toHostText). */
  quote?: "'" | '"' | 'plain';
}

/** `xml: "{{ lookup('template', 'vm.xml.j2') }}"` (or `lookup('file', …)`) in a libvirt task: the file it names. */
export interface TemplateLookup {
  path: string;
  span: Span;
  lookup: 'template' | 'file';
}

/** community.libvirt's modules that take libvirt XML in `xml:` (docs of community.libvirt, plugins/modules). */
export const LIBVIRT_MODULES = ['virt', 'virt_pool', 'virt_volume', 'virt_secret'];
const MODULE_KEYS = new Set(LIBVIRT_MODULES.flatMap((m) => [m, `community.libvirt.${m}`]));

/** Roots that make a heredoc or a template libvirt XML (the kinds validation/index.ts judges, and pools). */
const LIBVIRT_ROOT = /^(?:\s|<\?[^]*?\?>|<!--[^]*?-->)*<(volume|pool|domain|disk|secret|encryption)[\s/>]/;

const LANGUAGE_KIND: Record<(typeof HOST_LANGUAGES)[number], HostKind> = {
  yaml: 'ansible',
  ansible: 'ansible',
  jinja: 'jinja',
  'jinja-xml': 'jinja',
  j2: 'jinja',
  terraform: 'terraform',
  hcl: 'terraform',
};

/** Every host extension with its kind, in HOST_EXTENSIONS' order (the first match wins). */
const HOST_ENDINGS: [string, HostKind][] = (Object.keys(HOST_EXTENSIONS) as HostKind[]).flatMap((kind) =>
  HOST_EXTENSIONS[kind].map((e): [string, HostKind] => [e, kind]),
);
const LONGEST_HOST_EXTENSION = Math.max(...HOST_ENDINGS.map(([e]) => e.length));

/** Which kind of host a document is, from its uri's extension first, then its language id. */
export function hostKindOf(uri: string, languageId = ''): HostKind | undefined {
  // `check` asks this twice for every file: only the end of the path is lower-cased (no copy of the
  // whole uri, no regular expression) unless a query or fragment has to be cut off first.
  const path =
    uri.includes('?') || uri.includes('#')
      ? uri.replace(/[?#].*$/, '').toLowerCase()
      : uri.slice(-LONGEST_HOST_EXTENSION).toLowerCase();
  for (let i = 0; i < HOST_ENDINGS.length; i++) if (path.endsWith(HOST_ENDINGS[i][0])) return HOST_ENDINGS[i][1];
  return (LANGUAGE_KIND as Record<string, HostKind>)[languageId];
}

export function extractRegions(kind: HostKind, text: string): EmbeddedRegion[] {
  try {
    if (kind === 'ansible') return yamlRegions(text);
    if (kind === 'terraform') return heredocRegions(text);
    return jinjaRegion(text);
  } catch {
    // The extractor is line-based and bounded; a bug in it must not take a feature down.
    return [];
  }
}

// ---- building regions -------------------------------------------------------------------------

interface Line {
  start: number;
  end: number;
  next: number;
}

function lines(text: string): Line[] {
  const out: Line[] = [];
  let start = 0;
  while (start <= text.length) {
    let end = start;
    while (end < text.length && text.charCodeAt(end) !== 10 && text.charCodeAt(end) !== 13) end++;
    let next = end;
    if (text.charCodeAt(next) === 13) next++;
    if (text.charCodeAt(next) === 10) next++;
    out.push({ start, end, next });
    if (next === end) break;
    start = next;
  }
  return out;
}

const eolOf = (text: string) => (/\r\n/.test(text) ? '\r\n' : '\n');

/** Region from host lines, each stripped of up to `strip` leading characters (`ws` decides which count). */
function fromLines(
  host: string,
  ls: Line[],
  strip: number,
  indent: string,
  holes: (t: string) => [string, Span[]],
): EmbeddedRegion {
  const segments: Segment[] = [];
  let raw = '';
  for (let i = 0; i < ls.length; i++) {
    const l = ls[i];
    let s = l.start;
    while (s < l.end && s - l.start < strip && (host[s] === ' ' || host[s] === '\t')) s++;
    // The last line's break is not part of the XML (YAML's clip chomping keeps it, which XML ignores).
    const end = i === ls.length - 1 ? l.end : l.next;
    segments.push({ region: raw.length, host: s, length: end - s });
    raw += host.slice(s, end);
  }
  const [text, hs] = holes(raw);
  const last = ls[ls.length - 1];
  return { text, raw, hostStart: segments[0].host, hostEnd: last.end, segments, indent, eol: eolOf(host), holes: hs };
}

const indentOf = (text: string, l: Line) => {
  let i = l.start;
  while (i < l.end && text[i] === ' ') i++;
  return i - l.start;
};
const isBlank = (text: string, l: Line) => text.slice(l.start, l.end).trim() === '';

const KEY_LINE = /^( *)((?:- +)*)(['"]?)([\w.]+)\3 *:(?: +|$)/;
const LOOKUP = /lookup\(\s*(['"])(template|file)\1\s*,\s*(['"])([^'"]+)\3/;

/** The key line a key at column `col` of line `i` belongs to: the nearest less-indented one. */
function parentLine(text: string, ls: Line[], i: number, col: number): { j: number; key?: string; col: number } | void {
  for (let j = i - 1; j >= 0; j--) {
    const line = text.slice(ls[j].start, ls[j].end);
    if (!line.trim() || /^\s*#/.test(line)) continue;
    const m = KEY_LINE.exec(line);
    const keyCol = m ? m[1].length + m[2].length : indentOf(text, ls[j]);
    if (keyCol >= col) continue;
    return { j, key: m?.[4], col: keyCol };
  }
  return undefined;
}

/**
 * True when the task key on line `j` (at column `col`) sits beside a community.libvirt module key in
 * the same task mapping: the `args:` keyword (Ansible's task keywords) passes its mapping to that module.
 */
function besideModule(text: string, ls: Line[], j: number, col: number): boolean {
  const keyAt = (k: number) => {
    const line = text.slice(ls[k].start, ls[k].end);
    if (!line.trim() || /^\s*#/.test(line)) return undefined;
    const m = KEY_LINE.exec(line);
    const c = m ? m[1].length + m[2].length : indentOf(text, ls[k]);
    return { c, key: m?.[4], item: !!m?.[2] };
  };
  // Backwards to the task's first key (the `- ` line), forwards to the next item or a shallower line.
  for (let k = j; k >= 0; k--) {
    const a = keyAt(k);
    if (!a || a.c > col) continue;
    if (a.c < col) break;
    if (MODULE_KEYS.has(a.key ?? '')) return true;
    if (a.item) break;
  }
  for (let k = j + 1; k < ls.length; k++) {
    const a = keyAt(k);
    if (!a || a.c > col) continue;
    if (a.c < col || a.item) break;
    if (MODULE_KEYS.has(a.key ?? '')) return true;
  }
  return false;
}

/** An `xml:` key of a libvirt task: where its value starts, on which line, and whether in a flow mapping. */
interface XmlKey {
  line: number;
  col: number;
  value: number;
  flow: boolean;
}

/**
 * Every `xml:` parameter of a community.libvirt task: under the module key (`virt_volume:\n  xml: …`),
 * under its `args:` (`args:\n  xml: …`) or in a one-line flow mapping (`args: { xml: '…' }`).
 */
function xmlKeys(text: string, ls: Line[]): XmlKey[] {
  const out: XmlKey[] = [];
  for (let i = 0; i < ls.length; i++) {
    const line = text.slice(ls[i].start, ls[i].end);
    const k = /^( *)((?:- +)*)xml *:(?= |$)/.exec(line);
    if (k) {
      const col = k[1].length + k[2].length;
      const p = parentLine(text, ls, i, col);
      const ok = p && (MODULE_KEYS.has(p.key ?? '') || (p.key === 'args' && besideModule(text, ls, p.j, p.col)));
      if (ok) out.push({ line: i, col, value: ls[i].start + k[0].length, flow: false });
      continue;
    }
    // A flow mapping on one line: `args: { xml: … }` or `virt_volume: { xml: … }` (YAML §7.4).
    const f = /^( *)((?:- +)*)(['"]?)([\w.]+)\3 *: *\{ *(?:[^{}'"]*, *)?xml *: */.exec(line);
    if (!f) continue;
    const col = f[1].length + f[2].length;
    if (MODULE_KEYS.has(f[4]) || (f[4] === 'args' && besideModule(text, ls, i, col)))
      out.push({ line: i, col, value: ls[i].start + f[0].length, flow: true });
  }
  return out;
}

/** Double-quoted escapes that stand for one character (YAML 1.2 §5.7); others make a scalar unjudged. */
const ESCAPES: Record<string, string> = {
  '0': '\0',
  a: '\x07',
  b: '\b',
  t: '\t',
  '\t': '\t',
  n: '\n',
  v: '\v',
  f: '\f',
  r: '\r',
  e: '\x1b',
  ' ': ' ',
  '"': '"',
  '/': '/',
  '\\': '\\',
  N: '\x85',
  _: '\xa0',
  L: '\u2028',
  P: '\u2029',
};

/**
 * A one-line flow scalar starting at `at` (before `end`): plain, 'single' (`''` is a quote) or
 * "double" (escapes). Each region character maps to one host character (an escape's to its first,
 * the next one follows the escape), so positions and ranges map back exactly. Multi-line flow
 * scalars and `\x`/`\u`/`\U` escapes (not one character each in UTF-16) are not judged (undefined).
 */
function flowScalar(text: string, at: number, end: number, flow: boolean): EmbeddedRegion | undefined {
  const segments: Segment[] = [];
  let raw = '';
  const push = (ch: string, host: number) => {
    const last = segments[segments.length - 1];
    if (last && last.host + last.length === host) last.length++;
    else segments.push({ region: raw.length, host, length: 1 });
    raw += ch;
  };
  const q = text[at];
  let i = at;
  if (q === "'" || q === '"') {
    for (i = at + 1; ; i++) {
      if (i >= end) return undefined; // the scalar goes on past this line
      const c = text[i];
      if (q === "'" && c === "'") {
        if (text[i + 1] !== "'") break;
        push("'", i++);
      } else if (q === '"' && c === '"') break;
      else if (q === '"' && c === '\\') {
        const e = ESCAPES[text[i + 1]];
        if (e === undefined || i + 1 >= end) return undefined;
        push(e, i++);
      } else push(c, i);
    }
  } else {
    // Plain: up to ` #` (a comment) or, in a flow mapping, a `,` or `}` (YAML §7.3.3).
    for (; i < end; i++) {
      const c = text[i];
      if (c === '#' && /\s/.test(text[i - 1])) break;
      if (flow && (c === ',' || c === '}' || c === ']')) break;
      push(c, i);
    }
    while (raw && /\s$/.test(raw)) {
      raw = raw.slice(0, -1);
      const last = segments[segments.length - 1];
      if (--last.length === 0) segments.pop();
    }
  }
  if (!raw) return undefined;
  const [blank, holes] = blankJinja(raw);
  if (!LIBVIRT_ROOT.test(blank)) return undefined;
  const last = segments[segments.length - 1];
  return {
    text: blank,
    raw,
    hostStart: segments[0].host,
    hostEnd: last.host + last.length,
    segments,
    indent: '',
    eol: eolOf(text),
    holes,
    quote: q === "'" || q === '"' ? q : 'plain',
  };
}

function yamlRegions(text: string): EmbeddedRegion[] {
  const ls = lines(text);
  const out: EmbeddedRegion[] = [];
  let after = 0;
  for (const k of xmlKeys(text, ls)) {
    if (k.line < after) continue;
    const rest = text.slice(k.value, ls[k.line].end);
    const m = /^ *([|>])([-+]?)([1-9]?)([-+]?) *(?:#.*)?$/.exec(rest);
    if (!m || k.flow) {
      const at = k.value + (rest.length - rest.trimStart().length);
      // A plain scalar goes on over more-indented lines (YAML §7.3.3): only a one-line one is judged.
      let n = k.line + 1;
      while (n < ls.length && isBlank(text, ls[n])) n++;
      if (!k.flow && !`'"`.includes(text[at]) && n < ls.length && indentOf(text, ls[n]) > k.col) continue;
      const r = flowScalar(text, at, ls[k.line].end, k.flow);
      if (r) out.push(r);
      continue;
    }
    const col = k.col;
    // Content: the following lines more indented than the key (blank lines included), YAML §8.1.1.
    const digit = m[3] ? Number(m[3]) : 0;
    let j = k.line + 1;
    let indent = digit ? col + digit : 0;
    const body: Line[] = [];
    for (; j < ls.length; j++) {
      const l = ls[j];
      if (isBlank(text, l)) {
        body.push(l);
        continue;
      }
      const n = indentOf(text, l);
      if (!indent) indent = n;
      if (n <= col || n < indent) break;
      body.push(l);
    }
    while (body.length && isBlank(text, body[body.length - 1])) body.pop();
    after = j;
    if (!body.length || indent <= col) continue;
    out.push(fromLines(text, body, indent, ' '.repeat(indent), blankJinja));
  }
  return out;
}

/**
 * Files that libvirt tasks load with `lookup('template', …)` or `lookup('file', …)` (Ansible's
 * template and file lookup plugins).
 */
export function templateLookups(text: string): TemplateLookup[] {
  const ls = lines(text);
  const out: TemplateLookup[] = [];
  for (const k of xmlKeys(text, ls)) {
    const rest = text.slice(k.value, ls[k.line].end);
    const m = LOOKUP.exec(rest);
    if (!m) continue;
    const start = k.value + m.index + m[0].length - m[4].length - 1;
    out.push({ path: m[4], span: { start, end: start + m[4].length }, lookup: m[2] as 'template' | 'file' });
  }
  return out;
}

/**
 * Where Ansible's template (file) lookup looks for `path` used in the playbook or task file
 * `hostPath`, in order: a `templates/` (`files/`) folder beside it, the folder itself, and a role's
 * `templates/` (`files/`) (the file being `roles/R/tasks/main.yml`). Ansible documents this search
 * order ("Search paths in Ansible"; lookup plugins' find_file_in_search_path).
 */
export function templateCandidates(hostPath: string, path: string, lookup: 'template' | 'file' = 'template'): string[] {
  if (path.startsWith('/')) return [normalizePath(path)];
  const dir = dirname(hostPath);
  const sub = lookup === 'file' ? 'files' : 'templates';
  return [`${dir}/${sub}/${path}`, `${dir}/${path}`, `${dirname(dir)}/${sub}/${path}`].map(normalizePath);
}

function jinjaRegion(text: string): EmbeddedRegion[] {
  const [blank, holes] = blankJinja(text);
  if (!LIBVIRT_ROOT.test(blank)) return [];
  return [
    {
      text: blank,
      raw: text,
      hostStart: 0,
      hostEnd: text.length,
      segments: [{ region: 0, host: 0, length: text.length }],
      indent: '',
      eol: eolOf(text),
      holes,
    },
  ];
}

function heredocRegions(text: string): EmbeddedRegion[] {
  const ls = lines(text);
  const out: EmbeddedRegion[] = [];
  for (let i = 0; i < ls.length; i++) {
    const m = /<<(-?)([A-Za-z_][\w-]*)[ \t]*$/.exec(text.slice(ls[i].start, ls[i].end));
    if (!m) continue;
    let j = i + 1;
    while (j < ls.length && text.slice(ls[j].start, ls[j].end).trim() !== m[2]) j++;
    const body = ls.slice(i + 1, j);
    i = j;
    if (!body.length) continue;
    let strip = 0;
    if (m[1]) {
      // `<<-`: HCL removes the smallest leading whitespace of the non-blank lines.
      strip = Infinity;
      for (const l of body) {
        if (isBlank(text, l)) continue;
        let k = l.start;
        while (k < l.end && (text[k] === ' ' || text[k] === '\t')) k++;
        strip = Math.min(strip, k - l.start);
      }
      if (strip === Infinity) strip = 0;
    }
    const first = body.find((l) => !isBlank(text, l))!;
    const region = fromLines(text, body, strip, text.slice(first.start, first.start + strip), blankInterpolation);
    if (LIBVIRT_ROOT.test(region.text)) out.push(region);
  }
  return out;
}

/** Blanks text[start, end) except line breaks. */
function blankRange(chars: string[], start: number, end: number): void {
  for (let k = start; k < end; k++) if (chars[k] !== '\n' && chars[k] !== '\r') chars[k] = ' ';
}

/** Index just past `close`, skipping quoted strings (Jinja expressions may hold `}}` in strings). */
function findClose(text: string, from: number, close: string, quotes: boolean): number {
  for (let k = from; k < text.length; k++) {
    const c = text[k];
    if (quotes && (c === '"' || c === "'")) {
      const e = text.indexOf(c, k + 1);
      if (e < 0) return -1;
      k = e;
    } else if (text.startsWith(close, k)) return k + close.length;
  }
  return -1;
}

/** Jinja's `{{ }}`, `{% %}` and `{# #}` (Jinja's default delimiters), `{% raw %}` bodies kept as text. */
export function blankJinja(text: string): [string, Span[]] {
  const chars = text.split('');
  const holes: Span[] = [];
  for (let i = text.indexOf('{'); i >= 0 && i < text.length; i = text.indexOf('{', i)) {
    const open = text[i + 1];
    const close = open === '{' ? '}}' : open === '%' ? '%}' : open === '#' ? '#}' : '';
    if (!close) {
      i++;
      continue;
    }
    let end = findClose(text, i + 2, close, open !== '#');
    if (end < 0) end = text.length;
    blankRange(chars, i, end);
    holes.push({ start: i, end });
    if (open === '%' && /^\{%[-+]?\s*raw\s*[-+]?%\}$/.test(text.slice(i, end))) {
      const r = /\{%[-+]?\s*endraw\s*[-+]?%\}/g;
      r.lastIndex = end;
      const e = r.exec(text);
      if (e) {
        blankRange(chars, e.index, e.index + e[0].length);
        holes.push({ start: e.index, end: e.index + e[0].length });
        end = e.index + e[0].length;
      }
    }
    i = end;
  }
  return [chars.join(''), holes];
}

/** HCL template interpolations `${ }` and directives `%{ }` (`$${`/`%%{` are escapes). */
export function blankInterpolation(text: string): [string, Span[]] {
  const chars = text.split('');
  const holes: Span[] = [];
  for (let i = 0; i < text.length - 1; i++) {
    const c = text[i];
    if ((c === '$' || c === '%') && text[i + 1] === c && text[i + 2] === '{') {
      i += 2;
      continue;
    }
    if ((c !== '$' && c !== '%') || text[i + 1] !== '{') continue;
    let depth = 0,
      k = i + 1;
    for (; k < text.length; k++) {
      if (text[k] === '"') {
        const e = text.indexOf('"', k + 1);
        if (e < 0) {
          k = text.length;
          break;
        }
        k = e;
      } else if (text[k] === '{') depth++;
      else if (text[k] === '}' && --depth === 0) break;
    }
    const end = Math.min(k + 1, text.length);
    blankRange(chars, i, end);
    holes.push({ start: i, end });
    i = end - 1;
  }
  return [chars.join(''), holes];
}

// ---- workspace facts ----------------------------------------------------------------------------

/** The uri the language service gives region `index` (0-based) of a host file. */
export const regionUri = (hostUri: string, index: number) => `${hostUri}#libvirt-xml-${index + 1}`;
/** The host file of a region uri (other uris unchanged). */
export const hostUriOf = (uri: string) => uri.replace(/#libvirt-xml-\d+$/, '');

/**
 * The `<secret>` documents and `<encryption><secret uuid>` uses of a host file's regions (a
 * playbook's `virt_secret` task defines a secret like a secret.xml does), at host positions.
 */
export function embeddedSecrets(
  kind: HostKind,
  uri: string,
  text: string,
): { secrets: SecretInfo[]; uses: SecretUse[] } {
  const out: { secrets: SecretInfo[]; uses: SecretUse[] } = { secrets: [], uses: [] };
  if (!/<(?:secret|encryption)[\s>/]/.test(text)) return out;
  const hostLines = new LineIndex(text);
  for (const r of extractRegions(kind, text)) {
    const ls = new LineIndex(r.text);
    const at = (p: { line: number; character: number }) => hostLines.positionAt(toHost(r, ls.offsetAt(p)));
    const move = (x: Range) => ({ start: at(x.start), end: at(x.end) });
    const xml = parseXml(r.text);
    const info = secretInfoOf(uri, xml, ls);
    if (info) out.secrets.push(info.uuidRange ? { ...info, uuidRange: move(info.uuidRange) } : info);
    for (const u of secretUsesOf(uri, xml, ls)) out.uses.push({ ...u, range: move(u.range) });
  }
  return out;
}

// ---- offset mapping ---------------------------------------------------------------------------

/** Host offset of a region offset (at a line start: after the host's indentation). */
export function toHost(r: EmbeddedRegion, offset: number): number {
  const s = r.segments;
  let lo = 0,
    hi = s.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (s[mid].region <= offset) lo = mid;
    else hi = mid - 1;
  }
  return s[lo].host + Math.min(Math.max(offset - s[lo].region, 0), s[lo].length);
}

/** Region offset of a host offset; indentation maps to the start of its line's content; outside: undefined. */
export function toRegion(r: EmbeddedRegion, offset: number): number | undefined {
  if (offset < r.hostStart || offset > r.hostEnd) return undefined;
  const s = r.segments;
  let lo = 0,
    hi = s.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (s[mid].host <= offset) lo = mid;
    else hi = mid - 1;
  }
  const seg = s[lo];
  if (offset < seg.host) return seg.region;
  if (offset <= seg.host + seg.length) return seg.region + (offset - seg.host);
  return lo + 1 < s.length ? s[lo + 1].region : seg.region + seg.length;
}

/** Text inserted into a region, as it must read in the host (indentation after each line break). */
export function toHostText(r: EmbeddedRegion, text: string): string {
  // In a one-line scalar a line break would end or fold it: XML takes a space there (between markup).
  if (r.quote === '"') return text.replace(/[\\"]/g, '\\$&').replace(/\r?\n/g, '\\n');
  if (r.quote === "'") return text.replace(/'/g, "''").replace(/\r?\n/g, ' ');
  if (r.quote === 'plain') return text.replace(/\r?\n/g, ' ');
  if (!r.indent && r.eol === '\n') return text;
  return text.replace(/\r?\n/g, r.eol + r.indent);
}

/** True when [start, end] touches template code: a value the template writes is not judged. */
export function touchesHole(r: EmbeddedRegion, start: number, end: number): boolean {
  return r.holes.some((h) => start <= h.end && end >= h.start);
}

/**
 * A mapped view of one region: its own TextDocument (for the service's features) and converters
 * between its positions and the host's.
 */
export class RegionView {
  readonly lines: LineIndex;
  readonly document: TextDocument;
  constructor(
    readonly region: EmbeddedRegion,
    readonly uri: string,
    readonly hostUri: string,
    private readonly hostLines: LineIndex,
    version: number,
  ) {
    this.lines = new LineIndex(region.text);
    this.document = TextDocument.create(uri, 'xml', version, region.text);
  }
  /**
   * The region with its template code as written, for names in the outline (`volume {{ name }}.qcow2`),
   * when that code cannot change the XML's structure (no markup characters in it); else the blanked one.
   */
  get displayDocument(): TextDocument {
    const { raw, holes } = this.region;
    if (!holes.length || holes.some((h) => /[<>&"']/.test(raw.slice(h.start, h.end)))) return this.document;
    return TextDocument.create(`${this.uri}-display`, 'xml', this.document.version, raw);
  }
  hostRange(range: Range): Range {
    const start = toHost(this.region, this.lines.offsetAt(range.start));
    const end = toHost(this.region, this.lines.offsetAt(range.end));
    return { start: this.hostLines.positionAt(start), end: this.hostLines.positionAt(Math.max(start, end)) };
  }
  /** Region position of a host position, or undefined outside the region. */
  regionPosition(pos: { line: number; character: number }): { line: number; character: number } | undefined {
    const o = toRegion(this.region, this.hostLines.offsetAt(pos));
    return o === undefined ? undefined : this.lines.positionAt(o);
  }
  regionRange(range: Range): Range | undefined {
    const s = this.regionPosition(range.start);
    const e = this.regionPosition(range.end);
    return s && e ? { start: s, end: e } : undefined;
  }
  inHole(pos: { line: number; character: number }): boolean {
    const o = this.lines.offsetAt(pos);
    return this.region.holes.some((h) => o > h.start && o < h.end);
  }
  hostEdit(e: TextEdit): TextEdit {
    return { range: this.hostRange(e.range), newText: toHostText(this.region, e.newText) };
  }
}

/**
 * Diagnostics of a region that judge template code: their range touches a hole, or they sit on an
 * element whose attribute values or text hold one (a value the template computes is not known).
 */
export function judgesTemplate(view: RegionView, d: Diagnostic, xml = parseXml(view.region.text)): boolean {
  const r = view.region;
  if (!r.holes.length) return false;
  const s = view.lines.offsetAt(d.range.start),
    e = view.lines.offsetAt(d.range.end);
  if (touchesHole(r, s, e)) return true;
  // Which branch of an `{% if %}` renders, and how often a `{% for %}` body does, is not known.
  if (/duplicate/.test(String(d.code)) && controlBlocks(r).some((b) => s >= b.start && s <= b.end)) return true;
  let el: XmlElement | undefined;
  const visit = (x: XmlElement) => {
    if (s < x.start || s > x.end) return;
    el = x;
    for (const c of x.children) if (c.kind === 'element') visit(c);
  };
  for (const t of xml.topLevel) visit(t);
  if (!el) return false;
  const found = el as XmlElement;
  if (found.attributes.some((a) => touchesHole(r, a.valueSpan.start, a.valueSpan.end))) return true;
  return found.children.some((c) => c.kind === 'text' && touchesHole(r, c.start, c.end));
}

/**
 * Spans between template block statements and their `end…`: Jinja's `{% if %}…{% endif %}`, `{% for %}…`
 * and HCL's template directives `%{ if }…%{ endif }`, `%{ for }…%{ endfor }`.
 */
export function controlBlocks(r: EmbeddedRegion): Span[] {
  const out: Span[] = [];
  const open: number[] = [];
  for (const h of r.holes) {
    const m = /^(?:\{%[-+]?|%\{~?)\s*(end)?(if|for|macro|call|filter|with|block)\b/.exec(r.raw.slice(h.start, h.end));
    if (!m) continue;
    if (!m[1]) open.push(h.end);
    else if (open.length) out.push({ start: open.pop()!, end: h.start });
  }
  for (const start of open) out.push({ start, end: r.text.length });
  return out;
}

// ---- LSP results from region to host ------------------------------------------------------------

/** A region's diagnostic as cached: locations in the region itself say so by an empty uri (blocks move). */
export function regionRelative(view: RegionView, d: Diagnostic): Diagnostic {
  if (!d.relatedInformation?.some((ri) => ri.location.uri === view.uri)) return d;
  return {
    ...d,
    relatedInformation: d.relatedInformation.map((ri) =>
      ri.location.uri === view.uri ? { ...ri, location: { ...ri.location, uri: '' } } : ri,
    ),
  };
}

export function hostDiagnostic(view: RegionView, d: Diagnostic, views: Map<string, RegionView>): Diagnostic {
  const out: Diagnostic = { ...d, range: view.hostRange(d.range) };
  if (d.relatedInformation) {
    out.relatedInformation = d.relatedInformation.map((ri) => ({
      ...ri,
      location:
        ri.location.uri === ''
          ? { uri: view.hostUri, range: view.hostRange(ri.location.range) }
          : hostLocation(ri.location, views),
    }));
  }
  return out;
}

/** A location in a region (by its uri) moved to its host file; other locations unchanged. */
export function hostLocation(l: Location, views: Map<string, RegionView>): Location {
  const v = views.get(l.uri);
  return v ? { uri: v.hostUri, range: v.hostRange(l.range) } : l;
}

export function hostCompletion(view: RegionView, list: CompletionList): CompletionList {
  const item = (c: CompletionItem): CompletionItem => {
    const out = { ...c };
    const te = c.textEdit;
    // Multi-line insert text is left to the client, which indents it like the current host line.
    if (te && 'range' in te) out.textEdit = { ...te, range: view.hostRange(te.range) };
    else if (te) out.textEdit = { ...te, insert: view.hostRange(te.insert), replace: view.hostRange(te.replace) };
    if (c.additionalTextEdits) out.additionalTextEdits = c.additionalTextEdits.map((e) => view.hostEdit(e));
    return out;
  };
  const defaults = list.itemDefaults?.editRange;
  const editRange =
    defaults &&
    ('start' in defaults
      ? view.hostRange(defaults)
      : { insert: view.hostRange(defaults.insert), replace: view.hostRange(defaults.replace) });
  const itemDefaults = editRange ? { itemDefaults: { ...list.itemDefaults, editRange } } : {};
  return { ...list, items: list.items.map(item), ...itemDefaults };
}

export function hostHover(view: RegionView, h: Hover | null): Hover | null {
  return h && h.range ? { ...h, range: view.hostRange(h.range) } : h;
}

export function hostSymbols(view: RegionView, symbols: DocumentSymbol[]): DocumentSymbol[] {
  return symbols.map((s) => ({
    ...s,
    range: view.hostRange(s.range),
    selectionRange: view.hostRange(s.selectionRange),
    ...(s.children ? { children: hostSymbols(view, s.children) } : {}),
  }));
}

export function hostFolding(view: RegionView, ranges: FoldingRange[]): FoldingRange[] {
  const line = (l: number) => {
    const at = { line: l, character: 0 };
    return view.hostRange({ start: at, end: at }).start.line;
  };
  return ranges.map(({ startCharacter: _s, endCharacter: _e, ...f }) => ({
    ...f,
    startLine: line(f.startLine),
    endLine: line(f.endLine),
  }));
}
