// The one fixture helper for diagnostics (rust-analyzer style): mark every expected range in the
// text with [[ and ]], list the expected diagnostics in document order, and compare whole objects.
import assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Diagnostic } from 'vscode-languageserver-types';
import { getLanguageService } from '../../server/src/service/languageService';
import type { LanguageSettings, ServiceEnvironment } from '../../server/src/service/types';

export interface Expected {
  code: string;
  severity: 'error' | 'warning' | 'information' | 'hint';
  message: string;
}

const SEV = ['', 'error', 'warning', 'information', 'hint'] as const;

/** Strips [[ ]] markers; returns the clean text and the marked [start, end) offsets in order. */
export function extractMarkers(marked: string): { text: string; spans: Array<[number, number]> } {
  let text = '';
  const spans: Array<[number, number]> = [];
  const open: number[] = [];
  for (let i = 0; i < marked.length; i++) {
    if (marked.startsWith('[[', i)) { open.push(text.length); i++; continue; }
    if (marked.startsWith(']]', i) && open.length) { spans.push([open.pop()!, text.length]); i++; continue; }
    text += marked[i];
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return { text, spans };
}

export function diagnose(text: string, settings: LanguageSettings = {}, env: ServiceEnvironment = {}, uri = 'file:///test.xml'): Diagnostic[] {
  const ls = getLanguageService({ log: (m) => { throw new Error(m); }, ...env });
  ls.configure(settings);
  return ls.doValidation(TextDocument.create(uri, 'xml', 1, text));
}

export function check(marked: string, expected: Expected[], settings: LanguageSettings = {}, env: ServiceEnvironment = {}): void {
  const { text, spans } = extractMarkers(marked);
  const doc = TextDocument.create('file:///test.xml', 'xml', 1, text);
  const actual = diagnose(text, settings, env)
    .map((d) => ({ span: [doc.offsetAt(d.range.start), doc.offsetAt(d.range.end)], code: String(d.code), severity: SEV[d.severity ?? 1], message: d.message, source: d.source }))
    .sort((a, b) => a.span[0] - b.span[0] || a.span[1] - b.span[1] || a.code.localeCompare(b.code));
  assert.equal(spans.length, expected.length, 'fixture error: one [[range]] per expected diagnostic');
  const want = expected.map((e, i) => ({ span: spans[i], code: e.code, severity: e.severity, message: e.message, source: 'libvirt' }));
  assert.deepEqual(actual, want);
}
