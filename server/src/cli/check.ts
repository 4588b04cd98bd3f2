// `libvirt-volume check [--json] [--libvirt-version X.Y.Z] [--pool-type T] PATH...`
// Runs the language service's validation on files and folders (recursing into *.xml) and prints
// compiler-style lines, or LSP diagnostics as JSON. A file named on the command line is always
// judged as libvirt would (empty, not XML, UTF-16, not UTF-8, a foreign root: exit 1 with libxml2's
// or libvirt's message); a folder walk skips XML whose root is no libvirt document and lists what it
// skipped. Exit: 0 no errors, 1 errors, 2 usage or I/O (or a folder without any *.xml).
// Playbooks, *.xml.j2 templates and Terraform files are judged on the libvirt XML they embed
// (service/embedded.ts); a playbook's `lookup('template'|'file', …)` adds that file to the files.
import { closeSync, constants, openSync, readdirSync, readSync, statSync, writeSync, type Dirent } from 'node:fs';
import { join, relative, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver-types';
import { getLanguageService } from '../service/languageService';
import { documentKind } from '../service/validation';
import { nearMissRoot } from '../service/validation/root';
import { decodeXmlBytes } from '../service/encoding';
import { extractRegions, hostKindOf, templateCandidates, templateLookups } from '../service/embedded';
import { HOST_EXTENSIONS } from '../../../schemas/hosts';
import type { LanguageSettings } from '../service/types';
import { nodeProbeIO } from '../writer/nodeIO';
import { tryProbeImage } from '../writer/probe';
import { LIBVIRT_VERSIONS, POOL_TYPES, type PoolType } from '../../../schemas/vocabulary';
import { Tiering } from './tiering';

export const USAGE = `check [--json] [--libvirt-version X.Y.Z] [--pool-type T] PATH...
  Validate libvirt volume, domain-disk, secret and <encryption> XML like libvirt would.
  PATH: files or folders (folders are searched for *.xml, playbooks, *.j2 templates and *.tf files;
        XML that is no libvirt document is skipped and listed). A file named here is always judged.
        In playbooks, templates and Terraform the embedded libvirt XML is checked, and a task's
        lookup('template', …) adds that template (templates/ beside the playbook, its folder, a role's),
        and lookup('file', …) that file (files/ beside the playbook, its folder, a role's).
  --json                 print [{"file", "diagnostics": [LSP Diagnostic]}] (0-based positions)
  --libvirt-version V    judge against libvirt V (default: newest known, ${LIBVIRT_VERSIONS[LIBVIRT_VERSIONS.length - 1]})
  --pool-type T          storage pool type for <volume> documents (default dir): ${POOL_TYPES.join(', ')}
  --no-image-checks      do not read the headers of the image files the documents name
  Exit status: 0 no errors, 1 errors found, 2 usage or I/O error, or a folder with nothing to check.`;

const PLAIN_RELATIVE = /^(?:(?!\.\.?\/)[^/]+\/)*(?!\.\.?$)[^/]+$/;
/** Names that pathToFileURL leaves as they are (no percent-encoding): their URL is the folder's plus the name. */
const URL_SAFE = /^[\w.\-/]+$/;
const SEV: Record<number, string> = { 1: 'error', 2: 'warning', 3: 'info', 4: 'hint' };

interface Options {
  json: boolean;
  settings: LanguageSettings;
  paths: string[];
}

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
      if (!v || !(POOL_TYPES as string[]).includes(v))
        return `invalid --pool-type '${v ?? ''}' (one of ${POOL_TYPES.join(', ')})`;
      o.settings.poolType = v as PoolType;
    } else if (a === '--') {
      o.paths.push(...args.slice(i + 1));
      i = args.length;
    } else if (a.startsWith('-') && a !== '-') return `unknown option '${a}'`;
    else o.paths.push(a);
  }
  if (!o.paths.length) return 'no PATH given';
  return o;
}

interface Found {
  file: string;
  named: boolean;
  skip?: string;
  /** Its size when a stat already made it known to be a regular file (the read then stops there). */
  size?: number;
}

/**
 * Output through writeSync on fd 1 and 2, not process.stdout/stderr: the first use of those builds a
 * stream (Node's stream modules, and net's for a pipe), about 3 ms of the start-up budget of 15 ms
 * (issue 15). Where a direct write cannot finish (a full non-blocking pipe: EAGAIN; a reader that
 * went away: EPIPE) the rest goes to the stream, which handles those as it always did, and so does
 * every later write to that descriptor, so nothing is reordered.
 */
const streamed: boolean[] = [];
function emit(fd: 1 | 2, text: string): void {
  const stream = () => (fd === 1 ? process.stdout : process.stderr);
  if (streamed[fd]) {
    stream().write(text);
    return;
  }
  const bytes = Buffer.from(text);
  let done = 0;
  try {
    while (done < bytes.length) {
      const n = writeSync(fd, bytes, done);
      if (n <= 0) break;
      done += n;
    }
  } catch {
    // the stream reports it (or waits for the pipe) as before
  }
  if (done < bytes.length) {
    streamed[fd] = true;
    stream().write(bytes.subarray(done));
  }
}

const HOST_SUFFIXES: readonly string[] = Object.values(HOST_EXTENSIONS).flat();
const checkable = (name: string) => name.endsWith('.xml') || HOST_SUFFIXES.some((e) => name.endsWith(e));

/** The file a playbook's template or file lookup reads (Ansible's search order, service/embedded.ts). */
function templateFile(playbook: string, path: string, lookup: 'template' | 'file'): string | undefined {
  const isFile = (p: string) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  return templateCandidates(resolve(playbook), path, lookup).find(isFile);
}

// readdirSync(p).sort()'s order: names compared by UTF-16 code units.
const byName = (a: Dirent, b: Dirent) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const typed = (e: Dirent) => e.isFIFO() || e.isSocket() || e.isCharacterDevice() || e.isBlockDevice();

/**
 * Files to check: named files as given, folders searched for *.xml and host files (sorted, no dot
 * dirs). A folder is entered once (by device and inode: `a -> .` cycles end), and only regular
 * files are read (`z.xml -> /dev/zero` is listed as skipped). Returns how many candidates it held.
 */
function collect(p: string, out: Found[], seen: Set<string>): number {
  const st = statSync(p);
  const key = `${st.dev}:${st.ino}`;
  if (seen.has(key)) return 0;
  seen.add(key);
  let found = 0;
  // The directory entry's type settles regular files and folders without a stat each; a symbolic
  // link (or an entry of unknown type) is followed by a stat as before.
  const entries = readdirSync(p, { withFileTypes: true }).sort(byName);
  for (const e of entries) {
    const name = e.name;
    if (name.startsWith('.') || name === 'node_modules') continue;
    const child = join(p, name);
    let dir = e.isDirectory(),
      file = e.isFile();
    if (!dir && !file && (e.isSymbolicLink() || !typed(e))) {
      try {
        const s = statSync(child);
        dir = s.isDirectory();
        file = s.isFile();
      } catch {
        continue;
      }
    }
    if (dir) found += collect(child, out, seen);
    else if (checkable(name.toLowerCase())) {
      found++;
      out.push({ file: child, named: false, ...(file ? {} : { skip: 'not a regular file' }) });
    }
  }
  return found;
}

/**
 * The file's bytes, read into one buffer that the whole run reuses (grown to the largest file): one
 * open, reads until end of file, one close; no stat and no new buffer per file as readFileSync does.
 * The bytes are decoded into a string before the next read, so nothing keeps the shared buffer.
 */
let readBuffer = Buffer.allocUnsafe(64 * 1024);
function readBytes(file: string, size?: number): Buffer {
  // The flags as a number: fs's parsing of 'r' is ~2 us a file while V8 runs it unoptimized (cli/tiering.ts).
  const fd = openSync(file, constants.O_RDONLY);
  try {
    let length = 0;
    for (;;) {
      if (length === readBuffer.length) {
        const bigger = Buffer.allocUnsafe(readBuffer.length * 2);
        readBuffer.copy(bigger, 0, 0, length);
        readBuffer = bigger;
      }
      const n = readSync(fd, readBuffer, length, readBuffer.length - length, null);
      length += n;
      // A regular file of a size a stat gave is read once it holds that many bytes (readFileSync's
      // rule too): no further read only to learn that the file ends.
      if (n === 0 || (size !== undefined && length >= size)) return readBuffer.subarray(0, length);
    }
  } finally {
    closeSync(fd);
  }
}

export async function runCheck(args: string[]): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    emit(1, `usage: libvirt-volume ${USAGE}\n`);
    return 0;
  }
  const o = parseArgs(args);
  if (typeof o === 'string') {
    emit(2, `libvirt-volume check: ${o}\nusage: libvirt-volume ${USAGE}\n`);
    return 2;
  }
  let ioError = false;
  const files: Found[] = [];
  const seen = new Set<string>();
  for (const p of o.paths) {
    // A name a folder walk would check (*.xml, a playbook, a template, a .tf) is taken as a file without
    // a stat: the read finds its end (one more read instead of a stat and its Stats object), and a folder
    // of that name (EISDIR) is walked when the read gets there.
    if (checkable(p.toLowerCase())) {
      files.push({ file: p, named: true });
      continue;
    }
    try {
      const st = statSync(p);
      if (!st.isDirectory()) files.push({ file: p, named: true, ...(st.isFile() ? { size: st.size } : {}) });
      else if (collect(p, files, seen) === 0) {
        emit(2, `libvirt-volume check: no *.xml, playbook, template or Terraform files in '${p}'\n`);
        ioError = true;
      }
    } catch (e) {
      emit(
        2,
        `libvirt-volume check: cannot read '${p}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`,
      );
      ioError = true;
    }
  }
  // Image-aware checks (issue 7): the writer's bounded header reader on the files documents name.
  const probeIO = nodeProbeIO();
  // One probe per path for the whole run: documents of one folder name the same base images, and
  // most named paths do not exist here (the XML describes another host), which a stat that does not
  // throw settles without an exception (an ENOENT error object per document showed in profiles).
  const probed = new Map<string, ReturnType<typeof tryProbeImage>>();
  // Each document names its own image, mostly in a folder this machine does not have: one stat of the
  // folder answers for every path in it (a file in a folder that is missing or unreachable is too).
  const folders = new Map<string, boolean>();
  const folderExists = (p: string) => {
    const d = p.slice(0, p.lastIndexOf('/')) || '/';
    let e = folders.get(d);
    if (e === undefined) {
      try {
        e = statSync(d, { throwIfNoEntry: false }) !== undefined;
      } catch {
        e = false; // ENOTDIR, EACCES: the file cannot be reached either
      }
      folders.set(d, e);
    }
    return e;
  };
  const imageFacts = (p: string) => {
    let f = probed.get(p);
    if (f === undefined && !probed.has(p)) {
      const exists = (!p.includes('/') || folderExists(p)) && statSync(p, { throwIfNoEntry: false });
      f = exists ? tryProbeImage(probeIO, p) : undefined;
      probed.set(p, f);
    }
    return f;
  };
  const ls = getLanguageService({
    log: (m) => emit(2, `libvirt-volume check: internal: ${m}\n`),
    imageFacts,
  });
  ls.configure(o.settings);
  const results: { file: string; diagnostics: Diagnostic[]; skipped?: string }[] = [];
  let errors = 0,
    warnings = 0,
    checked = 0;
  const skipped: { file: string; reason: string }[] = [];
  // The files already in the run, by absolute path: only a playbook's lookups need them.
  let listed: Set<string> | undefined;
  const cwd = process.cwd();
  // A folder name pathToFileURL would not encode is its URL as it stands (no URL object to build at
  // start-up: one cold call of it was a measurable part of a one-file check).
  const cwdUrl = (URL_SAFE.test(cwd) ? `file://${cwd}` : pathToFileURL(cwd).href).replace(/\/$/, '');
  const tiering = new Tiering(files.length);
  for (let i = 0; i < files.length; i++) {
    const { file, named, skip, size } = files[i];
    if (skip) {
      skipped.push({ file, reason: skip });
      continue;
    }
    let bytes: Buffer;
    try {
      bytes = readBytes(file, size);
      tiering.next(bytes.length);
    } catch (e) {
      if (named && (e as NodeJS.ErrnoException).code === 'EISDIR') {
        const found: Found[] = [];
        if (collect(file, found, seen) === 0) {
          emit(2, `libvirt-volume check: no *.xml, playbook, template or Terraform files in '${file}'\n`);
          ioError = true;
        }
        files.splice(i + 1, 0, ...found);
        continue;
      }
      emit(
        2,
        `libvirt-volume check: cannot read '${file}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`,
      );
      ioError = true;
      continue;
    }
    const { text, error } = decodeXmlBytes(bytes);
    const host = hostKindOf(file);
    // One parse per file (the service's, reused by doValidation), forgotten after the verdict.
    const uri =
      URL_SAFE.test(file) && PLAIN_RELATIVE.test(file)
        ? `${cwdUrl}/${file}`
        : pathToFileURL(isAbsolute(file) ? file : join(cwd, file)).href;
    const document = TextDocument.create(uri, host ? '' : 'xml', 1, text);
    if (host) {
      if (error) {
        skipped.push({ file, reason: error.message });
        continue;
      }
      if (host === 'ansible') {
        for (const t of templateLookups(text)) {
          listed ??= new Set(files.map((f) => resolve(f.file)));
          const found = templateFile(file, t.path, t.lookup);
          if (found && !listed.has(found)) {
            listed.add(found);
            files.push({ file: relative(process.cwd(), found) || found, named: false });
          } else if (!found) emit(2, `libvirt-volume check: ${file}: ${t.lookup} '${t.path}' not found\n`);
        }
      }
      if (!extractRegions(host, text).length) {
        skipped.push({ file, reason: 'no libvirt XML embedded' });
        continue;
      }
    } else if (!named) {
      // A walk judges libvirt documents (and near-miss roots); anything else is listed, not judged.
      const xml = error ? undefined : ls.parse(document).xml;
      const root = xml?.root;
      if (!xml || (documentKind(xml) === 'other' && !(root && nearMissRoot(root.name)))) {
        const reason = error
          ? error.message
          : root
            ? `root <${root.name}> is not a libvirt document`
            : `not XML (${xml?.errors[0]?.message ?? 'Document is empty'})`;
        ls.forget(uri);
        skipped.push({ file, reason });
        continue;
      }
    }
    checked++;
    const diagnostics = ls.doValidation(document, { named, encodingError: error });
    ls.forget(uri);
    diagnostics.sort(
      (a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character,
    );
    for (const d of diagnostics) {
      if (d.severity === DiagnosticSeverity.Error) errors++;
      else if (d.severity === DiagnosticSeverity.Warning) warnings++;
    }
    results.push({ file, diagnostics });
  }
  // A relative name without `.`, `..` or empty segments is already what path.relative would answer
  // (it resolves both paths for every file otherwise).
  const shown = (f: string) => (isAbsolute(f) ? f : PLAIN_RELATIVE.test(f) ? f : relative(cwd, f) || f);
  if (o.json) {
    // Skipped files are entries too (no diagnostics, `skipped`: why), so a CI job can see them.
    for (const k of skipped) results.push({ file: k.file, diagnostics: [], skipped: k.reason });
    emit(1, JSON.stringify(results, null, 2) + '\n');
  } else {
    for (const k of skipped) emit(2, `${shown(k.file)}: skipped: ${k.reason}\n`);
    // One write for the whole report (a write per line was a system call per diagnostic).
    let out = '';
    for (const r of results) {
      const name = shown(r.file);
      for (const d of r.diagnostics) {
        const at = `${name}:${d.range.start.line + 1}:${d.range.start.character + 1}`;
        out += `${at}: ${SEV[d.severity ?? 1]} ${d.code}: ${d.message}\n`;
      }
    }
    if (out) emit(1, out);
  }
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  const skips = skipped.length ? `, ${skipped.length} skipped` : '';
  const counts = `${plural(errors, 'error')}, ${plural(warnings, 'warning')}`;
  emit(2, `${plural(checked, 'file')} checked${skips}: ${counts}\n`);
  if (ioError) return 2;
  return errors ? 1 : 0;
}
