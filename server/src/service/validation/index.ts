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

export type DocumentKind = 'volume' | 'domain' | 'secret' | 'encryption' | 'other';

export function documentKind(doc: XmlDocument): DocumentKind {
  switch (doc.root?.name) {
    case 'volume': return 'volume';
    case 'domain': return 'domain';
    case 'secret': return 'secret';
    case 'encryption': return 'encryption';
    // A bare <disk> snippet is judged like a domain disk.
    case 'disk': return 'domain';
    default: return 'other';
  }
}

const VALIDATORS: Record<DocumentKind, Validator[]> = {
  volume: [validateVolume],
  domain: [validateDomain],
  secret: [validateSecret],
  encryption: [(ctx) => ctx.doc.root && validateEncryption(ctx, ctx.doc.root, 'snippet')],
  other: [],
};

/** Adds validators for a document kind (feature files register themselves here). */
export function registerValidator(kind: DocumentKind, v: Validator): void {
  VALIDATORS[kind].push(v);
}

export function validate(uri: string, doc: XmlDocument, lines: LineIndex, settings: LanguageSettings, env: ServiceEnvironment): Diagnostic[] {
  const kind = documentKind(doc);
  const ctx = new ValidationContext(uri, doc, lines, settings, env);
  if (kind === 'other') return [];
  for (const e of doc.errors) ctx.report('xml-not-well-formed', e, { detail: e.message });
  for (const v of VALIDATORS[kind]) {
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

// Issue 7: weak-encryption lint and image-aware checks (they register their own rules).
registerValidator('volume', validateVolumeSecurity);
registerValidator('volume', validateImages);
registerValidator('domain', validateDomainSecurity);
registerValidator('domain', validateImages);
registerValidator('encryption', validateSnippetSecurity);

// Issue 3: encryption secrets against the workspace's <secret> documents.
registerValidator('volume', validateWorkspaceSecrets);
registerValidator('domain', validateWorkspaceSecrets);
registerValidator('encryption', validateWorkspaceSecrets);
