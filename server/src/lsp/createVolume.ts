// Create Volume as LSP commands, so every editor gets it (README "Create Volume from any editor"):
//   libvirtVolume.describeVolume {uri}                → what the prompts need (errors, format, encrypted,
//                                                        suggested output)
//   libvirtVolume.createVolume   {uri | new, output?, force?, passphrase? | passphraseFile?, writeSecretXml?}
//                                                     → {image, xml?, secretXml?, format, ms}
//   libvirtVolume.createVolume   {uri, from, fromPassphrase? | fromPassphraseFile?, …}  (vol-create-from:
//                                                        the volume made from the input image `from`)
// The image is written by the writer in a worker thread (createWorker.ts): a 10 GiB full
// preallocation must not stall diagnostics. Progress is LSP work-done progress; both $/cancelRequest
// and the progress' Cancel button stop the writer, which removes its temporary file.
// The passphrase travels only inside this process (request → worker message); it is never logged.
import { randomUUID } from 'node:crypto';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  ErrorCodes,
  LSPErrorCodes,
  ResponseError,
  type CancellationToken,
  type WorkDoneProgressReporter,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { DiagnosticSeverity } from 'vscode-languageserver-types';
import { attrValue, path as xpath, textContent } from '../service/xmlModel';
import { renderXml } from '../service/xmlDom';
import { formatBytes } from '../common/bytes';
import { uriToPath as fileUriPath } from '../service/imageRefs';
import { volumeSecretXml } from '../service/secrets';
import { INSECURE_AES_WARNING } from '../../../schemas/luksOptions';
import { unitMultiplier } from '../../../schemas/vocabulary';
import { isLegacyAes, readVolume } from '../service/volumeCreate';
import { readSecretFile } from '../writer/nodeIO';
import type { ServerState } from './server';
import { createVolumeInPool } from './createInPool';
import { addSecretIfMissing } from '../host/createInPool';
import type { WorkerMessage, WorkerReply, WorkerJob } from './createWorker';
import { planVolumeFrom } from '../volumeImage';
import type { VolumeFromCreation } from '../service/volumeCreate';
import { checkTarget, writeFileAtomic } from '../writer/publish';
import { errorText, WriterError } from '../writer/errors';
import { probeImage } from '../writer/probe';
import { nodeProbeIO, nodeWriterIO } from '../writer/nodeIO';
import { HOST_RULES } from '../service/rules/host';

const HOST_RULE_IDS: ReadonlySet<string> = new Set(HOST_RULES.map((r) => r.id));

export interface VolumeDescription {
  uri: string;
  name?: string;
  format?: string;
  capacity?: string;
  encrypted: boolean;
  encryptionFormat?: string;
  secretUuid?: string;
  /**
   * qcow2 with `<encryption format='qcow'|'default'>` (accepted before libvirt 4.5.0): legacy qcow
   * AES. Created only with `allowInsecureAes`, after the editor showed `legacyAesWarning`.
   */
  legacyAes: boolean;
  legacyAesWarning?: string;
  targetPath?: string;
  /** Where to write: the target path when its folder is writable, else next to the XML. */
  suggestedOutput: string;
  errors: { line: number; character: number; code: string; message: string }[];
}

export interface NewVolume {
  name: string;
  capacity: string;
  format: 'raw' | 'qcow2';
  encrypted?: boolean;
}

export interface CreateVolumeParams {
  /** Volume XML document (open in the editor or on disk). */
  uri?: string;
  /** Or: a new volume; the server writes its XML next to the image. */
  new?: NewVolume;
  /** Image path; default `suggestedOutput` (from `new`: ./<name> next to the XML folder). */
  output?: string;
  /** Replace an existing image (and XML files this command writes). */
  force?: boolean;
  passphrase?: string;
  /** File whose content (verbatim) is the passphrase; default the `libvirtVolume.passphraseFile` setting. */
  passphraseFile?: string;
  /** Write `<image>.secret.xml` (libvirt `<secret>` with the volume's uuid and usage path). */
  writeSecretXml?: boolean;
  /** LUKS key-derivation time in ms (qemu's iter-time; default 2000). Tests use 10. */
  iterTimeMs?: number;
  /** The user confirmed creating legacy qcow AES (the CLI's --allow-insecure-aes). */
  allowInsecureAes?: boolean;
  /** As `virsh vol-create --prealloc-metadata` (qcow2 without a backing store only). */
  preallocMetadata?: boolean;
  /**
   * libvirt's vol-create-from: the volume's content is this input image's (raw, qcow2, LUKS; a
   * relative path is taken from the XML's folder); `<capacity>` may then be left out.
   */
  from?: string;
  /** The input image's passphrase when it is encrypted (or fromPassphraseFile, read verbatim). */
  fromPassphrase?: string;
  fromPassphraseFile?: string;
  /** Create in this libvirt pool instead of a local file (lsp/createInPool.ts). */
  pool?: string;
  /** libvirt URI for `pool`; default the `libvirtVolume.connection` setting, then LIBVIRT_DEFAULT_URI. */
  connection?: string;
}

export interface CreateVolumeResult {
  image: string;
  format: string;
  xml?: string;
  secretXml?: string;
  secretUuid?: string;
  ms: number;
  /** From an input image: the qemu-img lines libvirt's storage driver would run (or what it does itself). */
  libvirtCommand?: string;
  /** In a pool: its name, and whether our writer made the image and vol-upload streamed it in. */
  pool?: string;
  uploaded?: boolean;
  /** In a pool: what the run did on the host, in order (secret defined, upload, …), as the CLI prints it. */
  steps?: string[];
}

/** A document's file path (service/imageRefs.ts uriToPath); other URIs are taken as paths as they are. */
const uriToPath = (uri: string) => fileUriPath(uri) ?? uri;

function loadDocument(state: ServerState, uri: string): TextDocument {
  const open = state.documents.get(uri);
  if (open) return open;
  const p = uriToPath(uri);
  if (!existsSync(p)) throw new ResponseError(ErrorCodes.InvalidParams, `no such volume XML: ${p}`);
  // Reading a FIFO or a device would block the server's main thread (or never end).
  if (!statSync(p).isFile()) throw new ResponseError(ErrorCodes.InvalidParams, `${p} is not a regular file`);
  return TextDocument.create(
    uri.startsWith('file:') ? uri : pathToFileURL(resolve(p)).href,
    'xml',
    0,
    readFileSync(p, 'utf8'),
  );
}

function writableDir(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

export function describeVolume(state: ServerState, uri: string): VolumeDescription {
  const doc = loadDocument(state, uri);
  const parsed = state.service.parse(doc);
  const root = parsed.xml.root;
  const diagnostics = state.service.doValidation(doc);
  // The checks against the host are not this gate's: Create Volume talks to the host itself (it
  // defines the volume's secret, refuses an existing name unless force, asks the chosen pool), and
  // a file made here is no volume of a pool yet.
  const errors = diagnostics
    .filter((d) => d.severity === DiagnosticSeverity.Error && !HOST_RULE_IDS.has(String(d.code)))
    .map((d) => ({
      line: d.range.start.line,
      character: d.range.start.character,
      code: String(d.code ?? ''),
      message: String(d.message),
    }));
  if (root?.name !== 'volume')
    errors.unshift({
      line: 0,
      character: 0,
      code: 'not-a-volume',
      message: `expected a <volume> document, found <${root?.name ?? ''}>`,
    });
  const vol = readVolume(root);
  const enc = vol.target.encryption;
  const { name } = vol;
  const targetPath = vol.target.path;
  const cap = xpath(root, 'capacity');
  const format = vol.target.format;
  const legacyAes = isLegacyAes(vol);
  const xmlDir = dirname(uriToPath(doc.uri));
  const fileName = basename(targetPath || name || 'volume.img');
  const suggestedOutput =
    targetPath && isAbsolute(targetPath) && writableDir(dirname(targetPath)) ? targetPath : join(xmlDir, fileName);
  return {
    uri: doc.uri,
    name,
    format,
    capacity: cap
      ? `${textContent(cap).trim()}${attrValue(cap, 'unit') ? ' ' + attrValue(cap, 'unit') : ''}`
      : undefined,
    encrypted: !!enc,
    encryptionFormat: enc?.format,
    secretUuid: enc?.secrets[0]?.uuid,
    legacyAes,
    legacyAesWarning: legacyAes ? INSECURE_AES_WARNING : undefined,
    targetPath,
    suggestedOutput,
    errors,
  };
}

/** Capacity text like "10G" or "512 MiB" → [value, unit] for `<capacity unit=…>`. */
function parseCapacity(text: string): [string, string] {
  const m = /^(\d+)\s*([a-zA-Z]*)$/.exec(text.trim());
  // libvirt's units (virScaleInteger), from the one list in schemas/.
  if (!m || (m[2] && unitMultiplier(m[2]) === undefined)) {
    throw new ResponseError(
      ErrorCodes.InvalidParams,
      `capacity '${text}': expected an integer with an optional unit (K, M, G, T, KiB, GB, …)`,
    );
  }
  return [m[1], m[2] ? (m[2].length === 1 ? m[2].toUpperCase() : m[2]) : 'bytes'];
}

/**
 * The volume XML of the wizard: what `virsh vol-create` takes for a dir pool, with the target's
 * elements in the order libvirt's virStorageVolTargetDefFormat (storage_conf.c) writes them.
 */
export function newVolumeXml(v: NewVolume, imagePath: string, secretUuid?: string): string {
  const [value, unit] = parseCapacity(v.capacity);
  const encryption = v.encrypted && {
    name: 'encryption',
    attrs: { format: 'luks' },
    children: [{ name: 'secret', attrs: { type: 'passphrase', uuid: secretUuid } }],
  };
  return renderXml({
    name: 'volume',
    children: [
      { name: 'name', text: v.name },
      { name: 'capacity', attrs: { unit }, text: value },
      {
        name: 'target',
        children: [
          { name: 'path', text: imagePath },
          { name: 'format', attrs: { type: v.format } },
          encryption,
          // compat 1.1 explicitly: before libvirt 10.2 a missing <compat> meant qcow2 v2 (rule volume-compat-default).
          v.format === 'qcow2' && { name: 'compat', text: '1.1' },
        ],
      },
    ],
  });
}

const existsMessage = (path: string) => `${path} exists (pass force to replace it)`;

/**
 * Writes a small text file through the writer's publish protocol (exclusive temporary file,
 * link/rename); refuses a non-regular target always and an existing file unless `force`.
 * The <secret> XML names a secret: readable by its owner only, like the image.
 */
async function writeTextFile(path: string, text: string, force: boolean): Promise<void> {
  try {
    await writeFileAtomic(nodeWriterIO(), path, text, { force });
  } catch (err) {
    if (err instanceof WriterError && err.code !== 'cancelled') {
      throw new ResponseError(ErrorCodes.InvalidParams, err.code === 'exists' ? existsMessage(path) : err.message);
    }
    throw err;
  }
}

/** Refuses a target the writer would refuse (exists without force, or not a regular file). */
async function checkOutput(path: string, force: boolean): Promise<void> {
  const refusal = await checkTarget(nodeWriterIO(), path, force, path);
  if (!refusal) return;
  throw new ResponseError(ErrorCodes.InvalidParams, refusal.code === 'exists' ? existsMessage(path) : refusal.message);
}

export async function readPassphrase(file: string): Promise<string> {
  try {
    // Verbatim, like qemu's `--object secret,file=`: a trailing newline is part of the passphrase.
    // Regular files up to PASSPHRASE_FILE_MAX only, read off the event loop (nodeIO.ts).
    return (await readSecretFile(file)).toString('utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOTREG' || e.code === 'EISDIR' || e.code === 'EFBIG' ? e.message : (e.code ?? String(err));
    throw new ResponseError(ErrorCodes.InvalidParams, `cannot read the passphrase file ${file}: ${why}`);
  }
}

/** The worker entry: the running server bundle itself (main.ts switches on workerData.role). */
function workerScript(): string {
  const main = process.argv[1];
  return main && /server\.js$/.test(main) ? main : join(__dirname, 'server.js');
}

/** Runs the writer job in a worker thread; forwards progress; cancellation through a shared flag. */
export function runInWorker(
  job: WorkerJob,
  onProgress: (done: number, total: number, message?: string) => void,
  token: CancellationToken,
): Promise<{ format: string }> {
  return new Promise((resolvePromise, reject) => {
    const worker = new Worker(workerScript(), { workerData: { role: 'createVolume' } });
    const send = (m: WorkerMessage) => worker.postMessage(m);
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      if (killTimer) clearTimeout(killTimer);
      sub.dispose();
      fn();
      void worker.terminate();
    };
    const sub = token.onCancellationRequested(() => {
      send({ type: 'cancel' });
      // The writer checks its signal between chunks; if it is stuck in one call, stop the thread.
      killTimer = setTimeout(
        () => finish(() => reject(new ResponseError(LSPErrorCodes.RequestCancelled, 'Create Volume cancelled'))),
        10_000,
      );
    });
    worker.on('message', (m: WorkerReply) => {
      if (m.type === 'progress') onProgress(m.done, m.total, m.message);
      else if (m.type === 'done') finish(() => resolvePromise({ format: m.format }));
      else if (m.type === 'error')
        finish(() =>
          reject(
            m.cancelled
              ? new ResponseError(LSPErrorCodes.RequestCancelled, 'Create Volume cancelled')
              : new ResponseError(ErrorCodes.InternalError, m.message),
          ),
        );
    });
    worker.on('error', (err) =>
      finish(() => reject(new ResponseError(ErrorCodes.InternalError, `writer thread failed: ${err?.message ?? err}`))),
    );
    worker.on('exit', (code) =>
      finish(() => reject(new ResponseError(ErrorCodes.InternalError, `writer thread exited (${code})`))),
    );
    send({ type: 'start', job });
    if (token.isCancellationRequested) send({ type: 'cancel' });
  });
}

/** A request's work-done progress; its own token is the progress' Cancel button. */
export type WorkDone = WorkDoneProgressReporter & { token?: CancellationToken };

/** A Create Volume request's cancellation: $/cancelRequest or the progress' Cancel button. */
export function requestToken(token: CancellationToken, workDone: WorkDone): CancellationToken {
  return workDone.token ? anyToken(token, workDone.token) : token;
}

function anyToken(...tokens: CancellationToken[]): CancellationToken {
  return {
    get isCancellationRequested() {
      return tokens.some((t) => t.isCancellationRequested);
    },
    onCancellationRequested: (listener, thisArg, disposables) => {
      const subs = tokens.map((t) => t.onCancellationRequested(listener, thisArg, disposables));
      return { dispose: () => subs.forEach((s) => s.dispose()) };
    },
  };
}

export async function createVolume(
  state: ServerState,
  p: CreateVolumeParams,
  token: CancellationToken,
  workDone: WorkDone,
): Promise<CreateVolumeResult> {
  const t0 = Date.now();
  if (!p || typeof p !== 'object' || (!p.uri && !p.new))
    throw new ResponseError(
      ErrorCodes.InvalidParams,
      'libvirtVolume.createVolume needs {uri} or {new: {name, capacity, format, encrypted}}',
    );
  const force = !!p.force;
  let xmlText: string;
  let xmlPath: string | undefined;
  let output: string;
  let desc: VolumeDescription;
  let writtenXml: string | undefined;
  if (p.new) {
    const v = p.new;
    if (!v.name || !v.capacity || !['raw', 'qcow2'].includes(v.format))
      throw new ResponseError(ErrorCodes.InvalidParams, 'new volume needs name, capacity and format raw or qcow2');
    output = resolve(p.output ?? join(process.cwd(), v.name));
    xmlPath = join(dirname(output), `${basename(output, extname(output)) || basename(output)}.xml`);
    if (xmlPath === output) xmlPath = `${output}.xml`;
    xmlText = newVolumeXml(v, output, v.encrypted ? randomUUID() : undefined);
    const doc = TextDocument.create(pathToFileURL(xmlPath).href, 'xml', 0, xmlText);
    desc = describeDoc(state, doc);
  } else {
    desc = describeVolume(state, p.uri!);
    xmlPath = uriToPath(desc.uri);
    xmlText = loadDocument(state, p.uri!).getText();
    output = resolve(dirname(xmlPath), p.output ?? desc.suggestedOutput);
    // In a pool, a LUKS <encryption> without <secret> gets a new uuid: the secret the run defines.
    const withSecret = p.pool !== undefined ? addSecretIfMissing(xmlText) : xmlText;
    if (withSecret !== xmlText) {
      xmlText = withSecret;
      desc = describeDoc(state, TextDocument.create(desc.uri, 'xml', 0, xmlText));
    }
  }
  let from: { path: string; passphrase?: string; plan?: VolumeFromCreation } | undefined;
  if (p.from !== undefined) {
    if (p.new) throw new ResponseError(ErrorCodes.InvalidParams, 'from needs the volume XML {uri}, not {new}');
    // vol-create-from parses with VIR_VOL_XML_PARSE_NO_CAPACITY: the input's capacity is used.
    desc = { ...desc, errors: desc.errors.filter((e) => e.code !== 'volume-capacity-required') };
    from = { path: resolve(dirname(xmlPath!), p.from) };
  }
  if (desc.errors.length) {
    const list = desc.errors.map((e) => `  line ${e.line + 1}: ${e.message} [${e.code}]`).join('\n');
    throw new ResponseError(
      ErrorCodes.InvalidParams,
      `the volume XML has ${desc.errors.length} error(s) libvirt would refuse:\n${list}`,
      { errors: desc.errors },
    );
  }
  if (from) {
    // In a pool the host decides the path (createInPool answers it): planned with the pool's name
    // first, as the CLI shows it, and the answer's line is made with the real path.
    const planned = p.pool !== undefined ? `${p.pool}/${desc.name ?? 'volume'}` : output;
    from.passphrase = await fromPassphrase(state, p, xmlText, from.path, planned);
    from.plan = planFrom(state, xmlText, from, planned, p);
  }
  if (p.pool !== undefined) {
    return createVolumeInPool(state, p, { xmlText, desc, t0, from }, token, workDone);
  }
  await checkOutput(output, force);
  if (desc.legacyAes && !p.allowInsecureAes) {
    throw new ResponseError(
      ErrorCodes.InvalidParams,
      `${INSECURE_AES_WARNING} Create Volume makes one only with allowInsecureAes (the editor asks first).`,
    );
  }
  let passphrase: string | undefined;
  // qcow AES stores no key material: nothing to derive, so no passphrase is asked for.
  if (desc.encrypted && !desc.legacyAes) {
    const file = p.passphraseFile || state.settings().passphraseFile;
    passphrase = p.passphrase ?? (file ? await readPassphrase(file) : undefined);
    if (!passphrase)
      throw new ResponseError(
        ErrorCodes.InvalidParams,
        'an encrypted volume needs a passphrase (passphrase or passphraseFile)',
      );
  }
  const secretPath = p.writeSecretXml && desc.encrypted ? `${output}.secret.xml` : undefined;
  if (secretPath) await checkOutput(secretPath, force);
  if (p.new) await checkOutput(xmlPath!, force);

  workDone.begin('Create Volume', 0, basename(output), true);
  let last = 0;
  try {
    const { format } = await runInWorker(
      {
        xmlText,
        xmlPath,
        output,
        force,
        passphrase,
        libvirtVersion: state.settings().libvirtVersion,
        allowInsecureAes: !!p.allowInsecureAes,
        preallocMetadata: !!p.preallocMetadata,
        iterTimeMs: typeof p.iterTimeMs === 'number' && p.iterTimeMs > 0 ? p.iterTimeMs : undefined,
        ...(from ? { from: from.path, fromPassphrase: from.passphrase } : {}),
      },
      (done, total, message) => {
        const now = Date.now();
        if (now - last < 100 && done < total) return;
        last = now;
        const text = message ?? `${basename(output)}: ${formatBytes(done)} of ${formatBytes(total)}`;
        workDone.report(total ? Math.floor((done / total) * 100) : 0, text);
      },
      requestToken(token, workDone),
    );
    if (p.new) await writeTextFile(xmlPath!, xmlText, force);
    if (p.new) writtenXml = xmlPath;
    if (secretPath) {
      const volPath = desc.targetPath ?? output;
      await writeTextFile(
        secretPath,
        volumeSecretXml(desc.secretUuid!, volPath, desc.name ?? basename(volPath)),
        force,
      );
    }
    state.log(`Create Volume: wrote ${output} (${format})${from ? ` from ${from.path}` : ''} in ${Date.now() - t0} ms`);
    return {
      image: output,
      format,
      libvirtCommand: from?.plan?.commandLine,
      xml: writtenXml,
      secretXml: secretPath,
      secretUuid: desc.encrypted ? desc.secretUuid : undefined,
      ms: Date.now() - t0,
    };
  } finally {
    workDone.done();
  }
}

/**
 * libvirtVolume.describeImage {path}: an input image for Create Volume from Image, from its header
 * (writer/probe.ts: a few bounded reads) — whether the editor must ask for its passphrase.
 */
export function describeImage(path: string): { format: string; encrypted: boolean; virtualSize?: number } {
  try {
    const f = probeImage(nodeProbeIO(), resolve(path));
    return { format: f.format, encrypted: f.format === 'luks' || !!f.encrypted, virtualSize: f.virtualSize };
  } catch (e) {
    throw new ResponseError(ErrorCodes.InvalidParams, `cannot read the image ${path}: ${errorText(e)}`);
  }
}

/**
 * The input image's passphrase, when its header says it is encrypted (probed by planFrom's
 * mapping): fromPassphrase or fromPassphraseFile. Nothing is asked for a plain input.
 */
async function fromPassphrase(
  state: ServerState,
  p: CreateVolumeParams,
  xmlText: string,
  path: string,
  output: string,
): Promise<string | undefined> {
  const plan = planFrom(state, xmlText, { path, passphrase: '-' }, output, p, '-');
  if (!plan.inputEncrypted) return undefined;
  const pass = p.fromPassphrase ?? (p.fromPassphraseFile ? await readPassphrase(p.fromPassphraseFile) : undefined);
  if (!pass) {
    throw new ResponseError(
      ErrorCodes.InvalidParams,
      `the input image ${path} is encrypted: it needs fromPassphrase or fromPassphraseFile`,
    );
  }
  return pass;
}

/** volumeImage.ts planVolumeFrom's refusals (libvirt's, the reader's, the writer's) as InvalidParams. */
export function planFrom(
  state: ServerState,
  xmlText: string,
  from: { path: string; passphrase?: string },
  output: string,
  p: CreateVolumeParams,
  passphrase = p.passphrase ?? '-',
): VolumeFromCreation {
  try {
    return planVolumeFrom({
      xmlText,
      output,
      from: from.path,
      fromPassphrase: from.passphrase,
      passphrase,
      libvirtVersion: state.settings().libvirtVersion,
      preallocMetadata: !!p.preallocMetadata,
    });
  } catch (e) {
    throw new ResponseError(ErrorCodes.InvalidParams, (e as Error).message);
  }
}

function describeDoc(state: ServerState, doc: TextDocument): VolumeDescription {
  const uri = doc.uri;
  // Not open and not on disk yet: validate the generated text directly.
  const fake: ServerState = {
    ...state,
    documents: { get: (u: string) => (u === uri ? doc : state.documents.get(u)) } as ServerState['documents'],
  };
  return describeVolume(fake, uri);
}
