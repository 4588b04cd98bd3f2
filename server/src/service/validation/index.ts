// Entry point of validation: syntax errors first, then the validators of the document kind
// (decided by the root element). Each validator runs in its own try/catch so that a bug in one
// rule is logged and the others still report.
import type { Diagnostic } from 'vscode-languageserver-types';
import type { LanguageSettings, ServiceEnvironment } from '../types';
import { LineIndex, type XmlDocument } from '../xmlModel';
import { MAX_DIAGNOSTICS, ValidationContext, type Validator } from './context';
import { validateEncryption } from './encryption';
import { validateVolume } from './volume';
import { validateDomain } from './domain';
import { validateSecret } from './secret';
import { validateDomainSecurity, validateSnippetSecurity, validateVolumeSecurity } from './security';
import { validateImages } from './imageChecks';
import { validateWorkspaceSecrets } from './workspace';
import { validateRoot } from './root';
import { validateHost } from './host';

export type DocumentKind = 'volume' | 'domain' | 'secret' | 'encryption' | 'other';

export function documentKind(doc: XmlDocument): DocumentKind {
  switch (doc.root?.name) {
    case 'volume':
      return 'volume';
    case 'domain':
      return 'domain';
    case 'secret':
      return 'secret';
    case 'encryption':
      return 'encryption';
    // A bare <disk> snippet is judged like a domain disk.
    case 'disk':
      return 'domain';
    default:
      return 'other';
  }
}

// The one place validators are registered: each document kind's list, run in this order.
const VALIDATORS: Record<DocumentKind, readonly Validator[]> = {
  volume: [validateVolume, validateVolumeSecurity, validateImages, validateWorkspaceSecrets, validateHost],
  domain: [validateDomain, validateDomainSecurity, validateImages, validateWorkspaceSecrets, validateHost],
  secret: [validateSecret],
  encryption: [
    (ctx) => ctx.doc.root && validateEncryption(ctx, ctx.doc.root, 'snippet'),
    validateSnippetSecurity,
    validateWorkspaceSecrets,
    validateHost,
  ],
  other: [],
};

/** How the text reached us: a whole file named by the user is always judged (the CLI's check). */
export interface ValidationOptions {
  /** The document was named on purpose: no root, or a foreign one, is libvirt's refusal. */
  named?: boolean;
  /** The file's bytes already stopped libxml2 (encoding.ts): that error alone is reported. */
  encodingError?: { offset: number; message: string };
}

export function validate(
  uri: string,
  doc: XmlDocument,
  lines: LineIndex,
  settings: LanguageSettings,
  env: ServiceEnvironment,
  options: ValidationOptions = {},
): Diagnostic[] {
  const kind = documentKind(doc);
  const ctx = new ValidationContext(uri, doc, lines, settings, env);
  if (options.encodingError) {
    const { offset, message } = options.encodingError;
    ctx.report('xml-not-well-formed', { start: offset, end: offset + 1 }, { detail: message });
    return ctx.diagnostics;
  }
  if (kind === 'other') {
    validateRoot(ctx, options.named === true);
    return ctx.diagnostics;
  }
  const errors = doc.errors;
  for (let i = 0; i < errors.length; i++) ctx.report('xml-not-well-formed', errors[i], { detail: errors[i].message });
  const validators = VALIDATORS[kind];
  for (let i = 0; i < validators.length; i++) {
    const v = validators[i];
    try {
      v(ctx);
    } catch (err) {
      env.log?.(`validator ${v.name || '(anonymous)'} failed on ${uri}: ${(err as Error)?.stack ?? err}`);
    }
  }
  if (ctx.dropped) {
    const dropped = ctx.dropped;
    ctx.dropped = 0;
    ctx.diagnostics.length = MAX_DIAGNOSTICS - 1;
    const at = { start: ctx.firstDropped, end: ctx.firstDropped };
    ctx.report('too-many-diagnostics', at, { count: dropped + 1, max: MAX_DIAGNOSTICS - 1 });
  }
  return ctx.diagnostics;
}
