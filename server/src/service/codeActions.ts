// Quick fixes keyed by rule id (Diagnostic.code). Validators put the facts a fix needs into
// Diagnostic.data (`replacement`, `remove`, `insert`, `values`, security `fix`); fixKit.ts applies
// those generically, quickFixes.ts holds the rule-specific fixers that need the tree (LUKS with a
// passphrase secret, moving a disk's encryption into <source>, a fresh secret uuid …).
import { CodeActionKind, type CodeAction, type CodeActionContext, type Range } from 'vscode-languageserver-types';
import type { FeatureContext } from './featureContext';
import { XmlEditor } from './xmlEdits';
import { createSecretDocumentAction } from './secretDocument';
import { newUuid } from './secrets';
import {
  alternatives,
  cryptoFix,
  insertData,
  locate,
  removeTarget,
  replaceValue,
  type Fix,
  type FixInput,
} from './fixKit';
import { FIXERS } from './quickFixes';

export function doCodeActions(fc: FeatureContext, range: Range, context: CodeActionContext): CodeAction[] {
  const out: CodeAction[] = [];
  const { lines } = fc.parsed;
  let uuidMemo: string | undefined;
  const uuid = () => (uuidMemo ??= newUuid(fc.env.randomUUID));
  for (const d of context.diagnostics) {
    if (d.source !== 'libvirt' || typeof d.code !== 'string') continue;
    const span = { start: lines.offsetAt(d.range.start), end: lines.offsetAt(d.range.end) };
    const t = locate(fc, span);
    if (!t) continue;
    const data = (d.data && typeof d.data === 'object' ? d.data : {}) as Record<string, unknown>;
    const x: FixInput = { fc, d, data, t, uuid };
    const fixes: Fix[] = [];
    try {
      const fixers = FIXERS[d.code];
      if (fixers) for (const f of fixers) fixes.push(...f(x));
      else if (data.fix) {
        const a = cryptoFix(x, data.fix, 'Use', true);
        if (a) fixes.push(a);
        const b = cryptoFix(x, data.modernDefault, "Use qemu's modern default", false);
        if (b && b.title !== a?.title) fixes.push(b);
      } else if (data.replacement !== undefined) fixes.push(...replaceValue(x));
      else if (data.insert !== undefined) fixes.push(...insertData(x));
      else if (data.remove) fixes.push(...removeTarget('Remove it')(x));
      fixes.push(...alternatives(x));
    } catch (e) {
      fc.env.log?.(`code action for ${d.code} failed: ${(e as Error)?.stack ?? e}`);
      continue;
    }
    for (const f of fixes) {
      const ed = new XmlEditor(fc.parsed.xml.text, lines);
      f.apply(ed);
      if (!ed.edits.length) continue;
      out.push({
        title: f.title,
        kind: CodeActionKind.QuickFix,
        diagnostics: [d],
        isPreferred: f.preferred || undefined,
        edit: { changes: { [fc.document.uri]: ed.edits } },
      });
    }
  }
  // Not tied to a diagnostic (it also helps when the workspace has no secrets yet).
  if (
    !context.only ||
    context.only.some((k) => CodeActionKind.Refactor.startsWith(k) || k.startsWith(CodeActionKind.Refactor))
  ) {
    const create = createSecretDocumentAction(fc, lines.offsetAt(range.start));
    if (create) out.push(create);
  }
  return out;
}
