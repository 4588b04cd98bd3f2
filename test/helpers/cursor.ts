// Cursor-marker fixtures for the editing features (css-languageservice style): write the text with
// one `|` where the cursor is, call complete()/hover()/codeActions() and assert on plain LSP data.
import assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { CodeAction, CompletionItem, Diagnostic, Hover, MarkupContent, TextEdit } from 'vscode-languageserver-types';
import { getLanguageService, type LanguageService } from '../../server/src/service/languageService';
import type { LanguageSettings, ServiceEnvironment } from '../../server/src/service/types';
import { snippetToText } from '../../server/src/service/snippets';

export const FIXED_UUID = '3e3fce45-4f53-4fa7-bb32-11f34168b82b';

export function service(settings: LanguageSettings = {}, env: ServiceEnvironment = {}): LanguageService {
  const ls = getLanguageService({ log: (m) => { throw new Error(m); }, randomUUID: () => FIXED_UUID, ...env });
  ls.configure(settings);
  return ls;
}

/** Splits `a|b` into the text and the cursor offset. */
export function cursorText(marked: string): { text: string; offset: number } {
  const offset = marked.indexOf('|');
  if (offset < 0 || marked.indexOf('|', offset + 1) >= 0) throw new Error('fixture error: exactly one | cursor marker');
  return { text: marked.slice(0, offset) + marked.slice(offset + 1), offset };
}

export function completions(marked: string, settings: LanguageSettings = {}, env: ServiceEnvironment = {}): CompletionItem[] {
  const { text, offset } = cursorText(marked);
  const doc = TextDocument.create('file:///test.xml', 'xml', 1, text);
  return service(settings, env).doComplete(doc, doc.positionAt(offset)).items;
}

/** Labels of the completion items in sortText order. */
export function labels(marked: string, settings: LanguageSettings = {}, env: ServiceEnvironment = {}): string[] {
  return completions(marked, settings, env)
    .map((c, i) => ({ c, i }))
    .sort((a, b) => (a.c.sortText ?? a.c.label).localeCompare(b.c.sortText ?? b.c.label) || a.i - b.i)
    .map(({ c }) => c.label);
}

/** Applies edits to a text (any order, non-overlapping). */
export function applyEdits(text: string, edits: TextEdit[]): string {
  const doc = TextDocument.create('file:///x.xml', 'xml', 1, text);
  return TextDocument.applyEdits(doc, edits);
}

/** The text after accepting the completion item with this label (snippet placeholders filled with their defaults). */
export function accept(marked: string, label: string, settings: LanguageSettings = {}, env: ServiceEnvironment = {}): string {
  const { text } = cursorText(marked);
  const item = completions(marked, settings, env).find((c) => c.label === label);
  if (!item) throw new Error(`no completion item ${label}; have ${completions(marked, settings, env).map((c) => c.label).join(', ')}`);
  const edit = item.textEdit as TextEdit;
  const newText = item.insertTextFormat === 2 ? snippetToText(edit.newText) : edit.newText;
  return applyEdits(text, [{ range: edit.range, newText }, ...(item.additionalTextEdits ?? [])]);
}

export function hover(marked: string, settings: LanguageSettings = {}, env: ServiceEnvironment = {}): Hover | null {
  const { text, offset } = cursorText(marked);
  const doc = TextDocument.create('file:///test.xml', 'xml', 1, text);
  return service(settings, env).doHover(doc, doc.positionAt(offset));
}

export function hoverText(marked: string, settings: LanguageSettings = {}, env: ServiceEnvironment = {}): string {
  const h = hover(marked, settings, env);
  return h ? (h.contents as MarkupContent).value : '';
}

/** Diagnostics of a text and the code actions offered for each. */
export function actionsFor(text: string, settings: LanguageSettings = {}, env: ServiceEnvironment = {}, uri = 'file:///test.xml'): Array<{ diagnostic: Diagnostic; actions: CodeAction[] }> {
  const ls = service(settings, env);
  const doc = TextDocument.create(uri, 'xml', 1, text);
  return ls.doValidation(doc).map((d) => ({ diagnostic: d, actions: ls.doCodeActions(doc, d.range, { diagnostics: [d], only: ['quickfix'] }) }));
}

/** Applies a code action's workspace edit to the one document. */
export function applyAction(text: string, action: CodeAction, uri = 'file:///test.xml'): string {
  const edits = action.edit?.changes?.[uri] ?? [];
  if (!edits.length) throw new Error(`action ${action.title} has no edit for ${uri}`);
  return applyEdits(text, edits);
}

/** Applies the preferred quick fix of the `code` diagnostic: asserts there is one, and that it leaves no error. */
export function applyPreferredFix(text: string, code: string): string {
  const hit = actionsFor(text).find((x) => x.diagnostic.code === code);
  assert.ok(hit, `no ${code} diagnostic`);
  const action = hit.actions.find((a) => a.isPreferred);
  assert.ok(action, `no preferred fix for ${code}`);
  const after = applyAction(text, action);
  assert.deepEqual(actionsFor(after).filter((x) => x.diagnostic.severity === 1).map((x) => x.diagnostic.code), [], after);
  return after;
}
