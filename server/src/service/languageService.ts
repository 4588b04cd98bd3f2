// The facade: one object with a method per feature, like vscode-json-languageservice's
// getLanguageService(). Pure: text in, LSP data out; I/O only through the injected environment.
import type {
  CodeAction,
  CodeActionContext,
  CompletionList,
  Diagnostic,
  DocumentSymbol,
  FoldingRange,
  Hover,
  Location,
  Position,
  Range,
  TextEdit,
} from 'vscode-languageserver-types';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { LanguageSettings, ServiceEnvironment } from './types';
import { LineIndex, parseXml, type XmlDocument } from './xmlModel';
import { validate, type ValidationOptions } from './validation';
import type { FeatureContext } from './featureContext';
import { doComplete } from './completion';
import { doHover } from './hover';
import { doCodeActions } from './codeActions';
import { findDefinition, findReferences } from './definition';
import { findDocumentSymbols } from './symbols';
import { getFoldingRanges } from './folding';
import {
  extractRegions,
  hostCompletion,
  hostDiagnostic,
  hostFolding,
  hostHover,
  hostKindOf,
  hostLocation,
  hostSymbols,
  judgesTemplate,
  regionRelative,
  RegionView,
  templateCandidates,
  templateLookups,
  regionUri,
} from './embedded';
import { uriToPath } from './imageRefs';
import { withHostPool } from './hostFacts';

export interface ParsedDocument {
  uri: string;
  version: number;
  xml: XmlDocument;
  lines: LineIndex;
}

export interface LanguageService {
  configure(settings: LanguageSettings): void;
  /** Parses (cached by uri+version). */
  parse(document: TextDocument): ParsedDocument;
  /** Drops a document's cached tree (closed in the editor, or checked by the CLI and done with:
   *  200 retained trees made the garbage collector copy them again and again). */
  forget(uri: string): void;
  /** `options`: a file named on purpose (check) and what its bytes told (encoding.ts). */
  doValidation(document: TextDocument, options?: ValidationOptions): Diagnostic[];
  doComplete(document: TextDocument, position: Position): CompletionList;
  doHover(document: TextDocument, position: Position): Hover | null;
  doCodeActions(document: TextDocument, range: Range, context: CodeActionContext): CodeAction[];
  /** From an encryption secret uuid to its `<secret>` document(s) in the workspace. */
  findDefinition(document: TextDocument, position: Position): Location[];
  /** From a secret uuid (in a `<secret>` or an `<encryption>`) to every use in the workspace. */
  findReferences(document: TextDocument, position: Position): Location[];
  findDocumentSymbols(document: TextDocument): DocumentSymbol[];
  getFoldingRanges(document: TextDocument): FoldingRange[];
  /** Drops results cached per embedded block (the workspace's secrets or images changed). */
  invalidate(): void;
}

/** A host file (playbook, template, Terraform) and its libvirt XML regions (embedded.ts). */
interface HostEntry {
  version: number;
  text: string;
  views: RegionView[];
  /** Region diagnostics by region text: an edit revalidates only the blocks it changed. */
  diagnostics: Map<string, Diagnostic[]>;
  generation: number;
}

export function getLanguageService(env: ServiceEnvironment = {}): LanguageService {
  let settings: LanguageSettings = {};
  const cache = new Map<string, ParsedDocument>();

  /** The cached parse when it is this version's; otherwise the stale entry is dropped. */
  const cached = (document: TextDocument, text: string): ParsedDocument | undefined => {
    const hit = cache.get(document.uri);
    // Clients restart versions when a document is reopened (neovim starts at 0 each time), so
    // the text must match too; equal strings are usually the same object and compare in O(1).
    if (hit && hit.version === document.version && hit.xml.text === text) return hit;
    if (hit) cache.delete(document.uri);
    return undefined;
  };
  const parse = (document: TextDocument): ParsedDocument => {
    const text = document.getText();
    // Drop the stale tree before building the new one, and hold no reference to it while parsing
    // (a local `hit` in this frame kept it reachable): otherwise both are alive during the parse
    // and a large document's old model is copied by the young-generation GC once more.
    const hit = cached(document, text);
    if (hit) return hit;
    const parsed = { uri: document.uri, version: document.version, xml: parseXml(text), lines: new LineIndex(text) };
    cache.set(document.uri, parsed);
    if (cache.size > 200) cache.delete(cache.keys().next().value!);
    return parsed;
  };

  const feature = (document: TextDocument): FeatureContext => {
    const parsed = parse(document);
    // With host facts, a <volume> is edited for the real pool's type (hostFacts.ts).
    return {
      document,
      parsed,
      settings: withHostPool(settings, parsed.xml, env),
      env,
      openDocuments: () => [...cache.values()],
    };
  };

  // Embedded XML: every feature runs on each region's own document and its results are mapped back.
  const hosts = new Map<string, HostEntry>();
  /** Region uri → view, to move locations (references, related information) back into host files. */
  const views = new Map<string, RegionView>();
  let generation = 0;
  const hostOf = (document: TextDocument): HostEntry | undefined => {
    const kind = hostKindOf(document.uri, document.languageId);
    if (!kind) return undefined;
    const text = document.getText();
    const hit = hosts.get(document.uri);
    if (hit && hit.version === document.version && hit.text === text) return hit;
    if (hit) for (const v of hit.views) views.delete(v.uri);
    const hostLines = new LineIndex(text);
    const vs = extractRegions(kind, text).map(
      (r, i) => new RegionView(r, regionUri(document.uri, i), document.uri, hostLines, document.version),
    );
    for (const v of vs) views.set(v.uri, v);
    const entry: HostEntry = {
      version: document.version,
      text,
      views: vs,
      diagnostics: hit?.diagnostics ?? new Map(),
      generation: hit?.generation ?? generation,
    };
    hosts.delete(document.uri);
    hosts.set(document.uri, entry);
    if (hosts.size > 200) {
      const [uri, old] = hosts.entries().next().value!;
      for (const v of old.views) views.delete(v.uri);
      hosts.delete(uri);
    }
    return entry;
  };
  const viewAt = (h: HostEntry, position: Position) => h.views.find((v) => v.regionPosition(position) !== undefined);
  const regionDiagnostics = (v: RegionView): Diagnostic[] => {
    const p = parse(v.document);
    return validate(v.uri, p.xml, p.lines, settings, env)
      .filter((d) => !judgesTemplate(v, d, p.xml))
      .map((d) => regionRelative(v, d));
  };
  const locations = (ls: Location[]) => ls.map((l) => hostLocation(l, views));

  return {
    configure(s) {
      settings = { ...s };
      generation++;
    },
    invalidate() {
      generation++;
    },
    parse,
    forget(uri) {
      cache.delete(uri);
    },
    doValidation(document, options) {
      const h = hostOf(document);
      if (!h) {
        const p = parse(document);
        return validate(document.uri, p.xml, p.lines, settings, env, options);
      }
      const fresh = h.generation === generation;
      const next = new Map<string, Diagnostic[]>();
      const out: Diagnostic[] = [];
      for (const v of h.views) {
        const key = v.region.text;
        const ds = next.get(key) ?? (fresh ? h.diagnostics.get(key) : undefined) ?? regionDiagnostics(v);
        next.set(key, ds);
        for (const d of ds) out.push(hostDiagnostic(v, d, views));
      }
      h.diagnostics = next;
      h.generation = generation;
      return out;
    },
    doComplete(document, position) {
      const h = hostOf(document);
      if (!h) return doComplete(feature(document), position);
      const v = viewAt(h, position);
      const at = v?.regionPosition(position);
      if (!v || !at || v.inHole(at)) return { isIncomplete: false, items: [] };
      return hostCompletion(v, doComplete(feature(v.document), at));
    },
    doHover(document, position) {
      const h = hostOf(document);
      if (!h) return doHover(feature(document), position);
      const v = viewAt(h, position);
      const at = v?.regionPosition(position);
      if (!v || !at || v.inHole(at)) return null;
      return hostHover(v, doHover(feature(v.document), at));
    },
    doCodeActions(document, range, context) {
      const h = hostOf(document);
      if (!h) return doCodeActions(feature(document), range, context);
      const v = viewAt(h, range.start);
      const r = v?.regionRange(range);
      if (!v || !r) return [];
      const diagnostics = context.diagnostics.flatMap((d) => {
        const dr = v.regionRange(d.range);
        return dr ? [{ ...d, range: dr }] : [];
      });
      return doCodeActions(feature(v.document), r, { ...context, diagnostics }).map((a) => {
        const changes = a.edit?.changes;
        const documentChanges = a.edit?.documentChanges?.map((c) =>
          'textDocument' in c && c.textDocument.uri === v.uri
            ? {
                ...c,
                textDocument: { ...c.textDocument, uri: document.uri },
                edits: c.edits.map((e) => ({ ...v.hostEdit(e as TextEdit) })),
              }
            : c,
        );
        const edit = a.edit && {
          ...a.edit,
          ...(changes
            ? {
                changes: Object.fromEntries(
                  Object.entries(changes).map(([uri, es]) =>
                    uri === v.uri ? [document.uri, es.map((e) => v.hostEdit(e))] : [uri, es],
                  ),
                ),
              }
            : {}),
          ...(documentChanges ? { documentChanges } : {}),
        };
        const ds = a.diagnostics?.map((d) => hostDiagnostic(v, d, views));
        return { ...a, ...(edit ? { edit } : {}), ...(ds ? { diagnostics: ds } : {}) };
      });
    },
    findDefinition(document, position) {
      const h = hostOf(document);
      if (!h) return locations(findDefinition(feature(document), position));
      const v = viewAt(h, position);
      const at = v?.regionPosition(position);
      if (v && at) return locations(findDefinition(feature(v.document), at));
      // `xml: "{{ lookup('template', 'vm.xml.j2') }}"` (or 'file'): the file, where Ansible would find it.
      const offset = document.offsetAt(position);
      const lookup =
        hostKindOf(document.uri, document.languageId) === 'ansible'
          ? templateLookups(h.text).find((l) => offset >= l.span.start && offset <= l.span.end)
          : undefined;
      const hostPath = uriToPath(document.uri);
      if (!lookup || !hostPath || !env.isFile) return [];
      const found = templateCandidates(hostPath, lookup.path, lookup.lookup).find((p) => env.isFile!(p));
      const zero = { line: 0, character: 0 };
      const uri = `file://${found?.split('/').map(encodeURIComponent).join('/')}`;
      return found ? [{ uri, range: { start: zero, end: zero } }] : [];
    },
    findReferences(document, position) {
      const h = hostOf(document);
      if (!h) return locations(findReferences(feature(document), position));
      const v = viewAt(h, position);
      const at = v?.regionPosition(position);
      return v && at ? locations(findReferences(feature(v.document), at)) : [];
    },
    findDocumentSymbols(document) {
      const h = hostOf(document);
      if (!h) return findDocumentSymbols(feature(document));
      return h.views.flatMap((v) => {
        const d = v.displayDocument;
        if (d === v.document) return hostSymbols(v, findDocumentSymbols(feature(d)));
        // Parsed outside the cache: openDocuments() (references) must only see the judged text.
        const text = d.getText();
        const parsed = { uri: d.uri, version: d.version, xml: parseXml(text), lines: new LineIndex(text) };
        return hostSymbols(
          v,
          findDocumentSymbols({ document: d, parsed, settings, env, openDocuments: () => [...cache.values()] }),
        );
      });
    },
    getFoldingRanges(document) {
      const h = hostOf(document);
      if (!h) return getFoldingRanges(feature(document));
      return h.views.flatMap((v) => hostFolding(v, getFoldingRanges(feature(v.document))));
    },
  };
}
