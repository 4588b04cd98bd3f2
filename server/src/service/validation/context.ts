// The one way rules report: look the rule up in the table, apply version range and severity
// overrides, fill the message and turn offsets into an LSP Diagnostic.
import { DiagnosticSeverity, type Diagnostic, type DiagnosticRelatedInformation } from 'vscode-languageserver-types';
import { availableIn, NEWEST_LIBVIRT, type PoolType } from '../../../../schemas/vocabulary';
import { ruleById, type RuleId } from '../rules';
import type { HostFacts, LanguageSettings, ServiceEnvironment, Severity } from '../types';
import { choosePool, poolTypeOf, type ChosenPool } from '../hostFacts';
import type { LineIndex, Span, XmlDocument } from '../xmlModel';

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

export interface ReportExtra {
  /** Machine-readable facts for quick fixes (e.g. the replacement value). */
  data?: Record<string, unknown>;
  related?: DiagnosticRelatedInformation[];
  /**
   * Severity for this report when the rule's default does not fit the site (e.g. a qemu-img
   * refusal judged in a bare <encryption> snippet, which no libvirt call rejects on its own).
   * A user's override in settings still wins.
   */
  severity?: Severity;
}

/**
 * Diagnostics kept per document. The parser already stops at MAX_SYNTAX_ERRORS (xmlModel.ts); this
 * bounds the rules too (a domain with 100k disks, each with a mistake), so that no document costs
 * the editor unbounded memory or time. Past it one 'too-many-diagnostics' note says how many more.
 */
export const MAX_DIAGNOSTICS = 1000;

export class ValidationContext {
  readonly diagnostics: Diagnostic[] = [];
  /** Reports past MAX_DIAGNOSTICS, and the offset of the first of them. */
  dropped = 0;
  firstDropped = 0;
  readonly version: string;
  readonly pool: PoolType;
  /** The host's snapshot (undefined offline) and, for a <volume>, the pool it is meant for. */
  readonly host?: { facts: HostFacts; pool?: ChosenPool };

  constructor(
    readonly uri: string,
    readonly doc: XmlDocument,
    readonly lines: LineIndex,
    readonly settings: LanguageSettings,
    readonly env: ServiceEnvironment,
  ) {
    this.version = settings.libvirtVersion || NEWEST_LIBVIRT;
    const facts = env.hostFacts?.();
    // A <volume> is judged as the real pool's type (a logical pool's volume as logical).
    const chosen = facts && doc.root?.name === 'volume' ? choosePool(doc.text, settings, facts) : undefined;
    if (facts) this.host = { facts, pool: chosen };
    this.pool = poolTypeOf(chosen?.pool) ?? settings.poolType ?? 'dir';
  }

  /** True when the configured libvirt version is at least `v`. */
  atLeast(v: string): boolean {
    return availableIn({ since: v }, this.version);
  }

  report(
    ruleId: RuleId,
    span: Span,
    args: Record<string, string | number | undefined> = {},
    extra: ReportExtra = {},
  ): void {
    const rule = ruleById(ruleId);
    if (!rule) throw new Error(`unknown rule ${ruleId}`);
    if (!availableIn(rule, this.version)) return;
    const sev = this.settings.severity?.[ruleId] ?? extra.severity ?? rule.severity;
    if (sev === 'ignore') return;
    if (this.diagnostics.length >= MAX_DIAGNOSTICS) {
      if (this.dropped++ === 0) this.firstDropped = span.start;
      return;
    }
    const message = rule.message.replace(/\{(\w+)\}/g, (_, k: string) => String(args[k] ?? ''));
    const d: Diagnostic = {
      range: { start: this.lines.positionAt(span.start), end: this.lines.positionAt(span.end) },
      severity: SEVERITY[sev],
      code: rule.id,
      codeDescription: { href: rule.doc },
      source: 'libvirt',
      message,
    };
    if (extra.data) d.data = { ruleId, ...extra.data };
    if (extra.related) d.relatedInformation = extra.related;
    this.diagnostics.push(d);
  }
}

export type Validator = (ctx: ValidationContext) => void;
