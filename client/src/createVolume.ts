// Prompts of "Libvirt: Create Volume". The server does the work (libvirtVolume.describeVolume /
// libvirtVolume.createVolume, see server/src/lsp/createVolume.ts); here we only ask and show.
import * as vscode from 'vscode';
import { ExecuteCommandRequest, WorkDoneProgress, type LanguageClient } from 'vscode-languageclient/node';

/** What the server's libvirtVolume.describeVolume answers (server/src/lsp/createVolume.ts). */
interface VolumeDescription {
  name?: string;
  format?: string;
  encrypted: boolean;
  legacyAes: boolean;
  legacyAesWarning?: string;
  targetPath?: string;
  suggestedOutput: string;
  errors: { line: number; character: number; code: string; message: string }[];
}
interface CreateResult {
  image: string;
  xml?: string;
  secretXml?: string;
  /** In a pool (server/src/lsp/createInPool.ts): the pool, and the secret the run defined. */
  pool?: string;
  secretUuid?: string;
  /** From an input image: what libvirt's storage driver would run. */
  libvirtCommand?: string;
  /** In a pool: what the run did on the host (secret defined, upload, …). */
  steps?: string[];
}

/** Create in a libvirt pool instead of a local file (the pools view's "Create Volume here"). */
export interface PoolDestination {
  connection: string;
  pool: string;
}

/** Arguments meant for the server itself (from a test, a keybinding or another extension). */
export function isServerArgs(a: unknown): boolean {
  return !!a && typeof a === 'object' && !(a instanceof vscode.Uri) && ('uri' in a || 'new' in a);
}

const exec = <T>(client: LanguageClient, command: string, arg: object) =>
  client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [arg] }) as Promise<T>;

/**
 * "Libvirt: Create Volume" and, with `fromImage`, "Create Volume from Image…" (libvirt's
 * vol-create-from: the volume XML describes the output, the input image is picked in a file
 * dialog, an encrypted input's passphrase asked in a password box); `dest` creates in a pool.
 */
export async function createVolumeUi(
  client: LanguageClient,
  uri?: vscode.Uri,
  dest?: PoolDestination,
  fromImage?: { input?: vscode.Uri },
): Promise<CreateResult | undefined> {
  const what = fromImage ? 'Create Volume from Image' : 'Create Volume';
  try {
    const active = vscode.window.activeTextEditor?.document;
    const activeVolume = active?.languageId === 'xml' && /<volume[\s>]/.test(active.getText()) ? active : undefined;
    // Into a pool, the open volume XML is one choice among the others: the view is not tied to an editor.
    if (!uri && activeVolume && !dest) uri = activeVolume.uri;
    if (!uri) {
      const pick = await vscode.window.showQuickPick(
        [
          ...(dest && activeVolume
            ? [{ label: `Volume XML: ${vscode.workspace.asRelativePath(activeVolume.uri)}`, id: 'active' }]
            : []),
          // The wizard has no input image: it writes a new empty volume.
          ...(fromImage ? [] : [{ label: 'New volume…', id: 'new' }]),
          { label: 'Open a volume XML file…', id: 'open' },
        ],
        dest ? { title: `${what} in pool ${dest.pool}` } : { title: what, placeHolder: 'No volume XML is open' },
      );
      if (!pick) return;
      if (pick.id === 'new') return await wizard(client, dest);
      if (pick.id === 'active') uri = activeVolume!.uri;
    }
    if (!uri) {
      const files = await vscode.window.showOpenDialog({ filters: { 'Volume XML': ['xml'] }, canSelectMany: false });
      if (!files?.length) return;
      uri = files[0];
    }
    // The server reads the open document's text (unsaved edits included).
    await vscode.workspace.openTextDocument(uri);
    let input = fromImage?.input;
    if (fromImage && !input) {
      const picked = await vscode.window.showOpenDialog({
        title: `${what}: the input image (raw, qcow2, LUKS)`,
        canSelectMany: false,
        defaultUri: vscode.Uri.joinPath(uri, '..'),
      });
      if (!picked?.length) return;
      input = picked[0];
    }
    const d = await exec<VolumeDescription>(client, 'libvirtVolume.describeVolume', { uri: uri.toString() });
    // vol-create-from takes the input's capacity when <capacity> is left out.
    const errors = d.errors.filter((e) => !input || e.code !== 'volume-capacity-required');
    if (errors.length) {
      const detail = errors.map((e) => `line ${e.line + 1}: ${e.message} [${e.code}]`).join('\n');
      void vscode.window.showErrorMessage(
        `${what}: ${vscode.workspace.asRelativePath(uri)} has ${errors.length} error(s) libvirt would refuse.`,
        { modal: true, detail },
      );
      return;
    }
    let from: { path: string; encrypted: boolean } | undefined;
    if (input) {
      const img = await exec<ImageDescription>(client, 'libvirtVolume.describeImage', { path: input.fsPath });
      from = { path: input.fsPath, encrypted: img.encrypted };
    }
    if (dest) return await run(client, { uri: uri.toString() }, undefined, d.encrypted, dest, from);
    // Legacy qcow AES (a libvirt < 4.5 document): the CLI wants --allow-insecure-aes, we ask.
    if (d.legacyAes) {
      const go = await vscode.window.showWarningMessage(
        `${what}: legacy qcow2 AES encryption`,
        { modal: true, detail: d.legacyAesWarning },
        'Create anyway',
      );
      if (go !== 'Create anyway') return;
    }
    const made = input ? ` made from ${input.path.split('/').pop()}` : '';
    const out = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(d.suggestedOutput),
      title: `Write the ${d.format ?? ''} image of ${d.name ?? 'the volume'}${made} to`,
    });
    if (!out) return;
    return await run(
      client,
      { uri: uri.toString(), ...(d.legacyAes ? { allowInsecureAes: true } : {}) },
      out.fsPath,
      d.encrypted && !d.legacyAes,
      undefined,
      from,
    );
  } catch (err) {
    // -32800: RequestCancelled (the Cancel button of the progress); the writer removed its temp file.
    if ((err as { code?: number })?.code === -32800 || err instanceof vscode.CancellationError)
      void vscode.window.showInformationMessage(`${what} cancelled; nothing was written.`);
    else void vscode.window.showErrorMessage(`${what}: ${(err as Error)?.message ?? err}`);
    return;
  }
}

const passwordBox = (title: string, prompt?: string, ifEmpty?: string): Thenable<string | undefined> =>
  vscode.window.showInputBox({
    title,
    prompt,
    password: true,
    ignoreFocusOut: true,
    validateInput: (v) => (v ? undefined : ifEmpty),
  });

/** `output` a local image path, or none with `dest`: the server creates the volume in the pool. */
async function run(
  client: LanguageClient,
  base: object,
  output: string | undefined,
  encrypted: boolean,
  dest?: PoolDestination,
  from?: { path: string; encrypted: boolean },
): Promise<CreateResult | undefined> {
  // `output` comes from the save dialog, which asked before choosing an existing file (the OS's
  // dialog, or VS Code's simple one: "… already exists. Are you sure you want to overwrite it?"):
  // replaced without a second question. A file that appears later is the server's refusal.
  // In a pool there is no local file: the server refuses a name that exists (as libvirt's vol-create).
  let force = false;
  if (output !== undefined) {
    force = await vscode.workspace.fs.stat(vscode.Uri.file(output)).then(
      () => true,
      () => false,
    );
  }
  const args: Record<string, unknown> = { ...base, ...(dest ?? { output }), force };
  if (from) {
    args.from = from.path;
    if (from.encrypted) {
      const p = await passwordBox(
        'Create Volume from Image: passphrase of the input image',
        `${from.path} is encrypted (LUKS): its passphrase`,
        'The input image needs its passphrase',
      );
      if (!p) return;
      args.fromPassphrase = p;
    }
  }
  if (encrypted) {
    const file = vscode.workspace.getConfiguration('libvirtVolume').get<string>('passphraseFile');
    if (file) args.passphraseFile = file;
    else {
      const p1 = await passwordBox(
        'Create Volume: passphrase',
        'Passphrase of the LUKS key slot (it becomes the libvirt secret value)',
        'Empty passphrases are not allowed',
      );
      if (!p1) return;
      const p2 = await passwordBox('Create Volume: passphrase again');
      if (p2 === undefined) return;
      if (p1 !== p2) {
        void vscode.window.showErrorMessage('Create Volume: the passphrases differ.');
        return;
      }
      args.passphrase = p1;
    }
    // In a pool the server defines the libvirt secret itself (server/src/host/createInPool.ts).
    if (!dest) {
      const secret = await vscode.window.showQuickPick(
        [
          {
            label: 'Yes',
            description: 'write <secret> XML next to the image (then: virsh secret-define FILE)',
            yes: true,
          },
          { label: 'No', yes: false },
        ],
        { title: 'Also write the libvirt <secret> XML?', ignoreFocusOut: true },
      );
      if (!secret) return;
      args.writeSecretXml = secret.yes;
    }
  }
  // vscode-languageclient shows server-created progress in the status bar, without Cancel: own a
  // cancellable notification instead, hand its token to the server (workDoneToken) and cancel the
  // request ($/cancelRequest) from its Cancel button. The server removes the partial file.
  const token = `libvirtVolume.createVolume.${Date.now()}`;
  const r = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Create Volume', cancellable: true },
    async (progress, cancel) => {
      let last = 0;
      const sub = client.onProgress(WorkDoneProgress.type, token, (v) => {
        if (v.kind === 'end') return;
        const pct = v.percentage ?? last;
        progress.report({ message: v.message, increment: Math.max(0, pct - last) });
        last = Math.max(last, pct);
      });
      try {
        return (await client.sendRequest(
          ExecuteCommandRequest.type,
          { command: 'libvirtVolume.createVolume', arguments: [args], workDoneToken: token },
          cancel,
        )) as CreateResult;
      } finally {
        sub.dispose();
      }
    },
  );
  if (r.libvirtCommand) void client.outputChannel.appendLine(`libvirt would run: ${r.libvirtCommand}`);
  for (const step of r.steps ?? []) client.outputChannel.appendLine(`Create Volume: ${step}`);
  if (dest) {
    const how = r.secretUuid ? ` (secret ${r.secretUuid} defined)` : '';
    void vscode.window.showInformationMessage(`Created ${r.image} in pool ${r.pool ?? dest.pool}${how}`);
    return r;
  }
  const actions = ['Reveal', ...(r.secretXml ? ['Open secret XML'] : []), ...(r.xml ? ['Open volume XML'] : [])];
  void vscode.window.showInformationMessage(`Created ${r.image}`, ...actions).then(async (a) => {
    if (a === 'Reveal') await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(r.image));
    if (a === 'Open secret XML' && r.secretXml) await vscode.window.showTextDocument(vscode.Uri.file(r.secretXml));
    if (a === 'Open volume XML' && r.xml) await vscode.window.showTextDocument(vscode.Uri.file(r.xml));
  });
  return r;
}

/** No XML at hand: name, size, format, encryption → the server writes the volume XML and the image. */
async function wizard(client: LanguageClient, dest?: PoolDestination): Promise<CreateResult | undefined> {
  const name = await vscode.window.showInputBox({
    title: 'New volume (1/4): name',
    value: 'vol1.qcow2',
    validateInput: (v) => (/^[^/\s]+$/.test(v) ? undefined : 'A file name without / or spaces'),
  });
  if (!name) return;
  const size = await vscode.window.showInputBox({
    title: 'New volume (2/4): capacity',
    value: '1G',
    prompt: 'Bytes or with a unit: K, M, G, T (powers of 1024)',
    validateInput: (v) => (/^\d+(\.\d+)?\s*([KMGTPE]i?B?|[kmgtpe]|B)?$/.test(v.trim()) ? undefined : 'e.g. 10G'),
  });
  if (!size) return;
  const format = await vscode.window.showQuickPick(['qcow2', 'raw'], { title: 'New volume (3/4): format' });
  if (!format) return;
  const enc = await vscode.window.showQuickPick(
    [
      { label: 'No encryption', luks: false },
      { label: 'LUKS', description: 'aes-256-xts-plain64, sha256', luks: true },
    ],
    { title: 'New volume (4/4): encryption' },
  );
  if (!enc) return;
  let out: vscode.Uri | undefined;
  if (!dest) {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const title = 'Write the image to';
    out = await vscode.window.showSaveDialog({ defaultUri: folder && vscode.Uri.joinPath(folder, name), title });
    if (!out) return;
  }
  const volume = { name: out?.path.split('/').pop() ?? name, capacity: size.trim(), format, encrypted: enc.luks };
  return run(client, { new: volume }, out?.fsPath, enc.luks, dest);
}

/** What libvirtVolume.describeImage answers about an input image (server/src/lsp/createVolume.ts). */
interface ImageDescription {
  format: string;
  encrypted: boolean;
  virtualSize?: number;
}
