// `libvirt-volume check [--json] [--libvirt-version X.Y.Z] [--pool-type T] PATH...`
// Runs the language service's validation on files and folders (recursing into *.xml) and prints
// compiler-style lines, or LSP diagnostics as JSON. Files whose root is not <volume>, <domain>,
// <disk>, <secret> or <encryption> are skipped. Exit: 0 no errors, 1 errors, 2 usage or I/O.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver-types';
import { getLanguageService } from '../service/languageService';
import { documentKind } from '../service/validation';
import type { LanguageSettings } from '../service/types';
import { nodeProbeIO } from '../writer/nodeIO';
import { tryProbeImage } from '../writer/probe';
import { LIBVIRT_VERSIONS, POOL_TYPES, type PoolType } from '../../../schemas/vocabulary';

export const USAGE = `check [--json] [--libvirt-version X.Y.Z] [--pool-type T] PATH...
  Validate libvirt volume, domain-disk, secret and <encryption> XML like libvirt would.
  PATH: files or folders (folders are searched for *.xml).
  --json                 print [{"file", "diagnostics": [LSP Diagnostic]}] (0-based positions)
  --libvirt-version V    judge against libvirt V (default: newest known, ${LIBVIRT_VERSIONS[LIBVIRT_VERSIONS.length - 1]})
  --pool-type T          storage pool type for <volume> documents (default dir): ${POOL_TYPES.join(', ')}
  --no-image-checks      do not read the headers of the image files the documents name
  Exit status: 0 no errors, 1 errors found, 2 usage or I/O error.`;

const SEV: Record<number, string> = { 1: 'error', 2: 'warning', 3: 'info', 4: 'hint' };

interface Options { json: boolean; settings: LanguageSettings; paths: string[] }

function parseArgs(args: string[]): Options | string {
  const o: Options = { json: false, settings: {}, paths: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (name: string): string | undefined => {
      if (a.startsWith(name + '=')) return a.slice(name.length + 1);
      return args[++i];
    };
    if (a === '--json') o.json = true;
    else if (a === '--no-image-checks') o.settings.imageChecks = false;
    else if (a === '--libvirt-version' || a.startsWith('--libvirt-version=')) {
      const v = value('--libvirt-version');
      if (!v || !/^\d+\.\d+(\.\d+)?$/.test(v)) return `invalid --libvirt-version '${v ?? ''}' (expected X.Y.Z)`;
      o.settings.libvirtVersion = v;
    } else if (a === '--pool-type' || a.startsWith('--pool-type=')) {
      const v = value('--pool-type');
      if (!v || !(POOL_TYPES as string[]).includes(v)) return `invalid --pool-type '${v ?? ''}' (one of ${POOL_TYPES.join(', ')})`;
      o.settings.poolType = v as PoolType;
    } else if (a === '--') o.paths.push(...args.slice(i + 1)), (i = args.length);
    else if (a.startsWith('-') && a !== '-') return `unknown option '${a}'`;
    else o.paths.push(a);
  }
  if (!o.paths.length) return 'no PATH given';
  return o;
}

/** Files to check: explicit files as given, folders searched for *.xml (sorted, no dot dirs). */
function collect(p: string, out: string[], explicit: boolean): void {
  const st = statSync(p);
  if (st.isDirectory()) {
    for (const name of readdirSync(p).sort()) {
      if (name.startsWith('.') || name === 'node_modules') continue;
      const child = join(p, name);
      let s;
      try { s = statSync(child); } catch { continue; }
      if (s.isDirectory()) collect(child, out, false);
      else if (name.toLowerCase().endsWith('.xml')) out.push(child);
    }
  } else if (explicit || p.toLowerCase().endsWith('.xml')) out.push(p);
}

export async function runCheck(args: string[]): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    process.stdout.write(`usage: libvirt-volume ${USAGE}\n`);
    return 0;
  }
  const o = parseArgs(args);
  if (typeof o === 'string') {
    process.stderr.write(`libvirt-volume check: ${o}\nusage: libvirt-volume ${USAGE}\n`);
    return 2;
  }
  let ioError = false;
  const files: string[] = [];
  for (const p of o.paths) {
    try {
      collect(p, files, true);
    } catch (e) {
      process.stderr.write(`libvirt-volume check: cannot read '${p}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
      ioError = true;
    }
  }
  // Image-aware checks (issue 7): the writer's bounded header reader on the files documents name.
  const probeIO = nodeProbeIO();
  const ls = getLanguageService({
    log: (m) => process.stderr.write(`libvirt-volume check: internal: ${m}\n`),
    imageFacts: (p) => tryProbeImage(probeIO, p),
  });
  ls.configure(o.settings);
  const results: { file: string; diagnostics: Diagnostic[] }[] = [];
  let errors = 0, warnings = 0, checked = 0, skipped = 0;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      process.stderr.write(`libvirt-volume check: cannot read '${file}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
      ioError = true;
      continue;
    }
    // One parse per file (the service's, reused by doValidation), forgotten after the verdict.
    const uri = pathToFileURL(isAbsolute(file) ? file : join(process.cwd(), file)).href;
    const document = TextDocument.create(uri, 'xml', 1, text);
    if (documentKind(ls.parse(document).xml) === 'other') { ls.forget(uri); skipped++; continue; }
    checked++;
    const diagnostics = ls.doValidation(document);
    ls.forget(uri);
    diagnostics.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
    for (const d of diagnostics) {
      if (d.severity === DiagnosticSeverity.Error) errors++;
      else if (d.severity === DiagnosticSeverity.Warning) warnings++;
    }
    results.push({ file, diagnostics });
  }
  if (o.json) {
    process.stdout.write(JSON.stringify(results, null, 2) + '\n');
  } else {
    for (const r of results) {
      const name = isAbsolute(r.file) ? r.file : relative(process.cwd(), r.file) || r.file;
      for (const d of r.diagnostics) {
        process.stdout.write(`${name}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${SEV[d.severity ?? 1]} ${d.code}: ${d.message}\n`);
      }
    }
  }
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  process.stderr.write(`${plural(checked, 'file')} checked${skipped ? `, ${skipped} skipped` : ''}: ${plural(errors, 'error')}, ${plural(warnings, 'warning')}\n`);
  if (ioError) return 2;
  return errors ? 1 : 0;
}
