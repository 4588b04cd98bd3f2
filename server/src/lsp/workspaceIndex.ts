// Workspace index of libvirt `<secret>` documents and of `<encryption><secret uuid>` uses, read
// from the *.xml files of the workspace folders and from the libvirt XML embedded in playbooks,
// templates and Terraform files (a playbook's virt_secret task defines a secret; service/embedded.ts)
// (LSP layer: it does the fs I/O the pure service may not do; see ARCHITECTURE.md).
//
// For the LSP wiring (env.ts / server.ts):
//   const index = new WorkspaceIndex({ log, onChange: () => revalidateAll() });
//   env.secrets = () => index.secrets();   env.secretUses = () => index.secretUses();
//   index.setFolders(folderUris);          // on initialize / didChangeWorkspaceFolders; scans in the background
//   index.setOpen(uri, text)               // on didOpen / didChangeContent: open text wins over disk
//   index.closeOpen(uri)                   // on didClose: falls back to the file on disk
//   index.onWatchedFiles(params.changes)   // on workspace/didChangeWatchedFiles (and didSave: index.refresh(uri))
//   await index.ready                      // resolves when the first scan is done (tests)
//   index.dispose()
// onChange() fires (debounced 100 ms) only when the set of secrets changed, so that diagnostics
// that depend on it (rules/workspace.ts) are recomputed.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SecretInfo, SecretUse } from '../service/types';
import { extractSecretInfo, extractSecretUses } from '../service/secrets';
import { decodeXmlBytes } from '../service/encoding';
import { embeddedSecrets, hostKindOf } from '../service/embedded';

export interface WorkspaceIndexOptions {
  log(message: string): void;
  /** The secrets changed (debounced). */
  onChange(): void;
  /** Upper bound on files read per scan (a huge workspace must not stall the server). */
  maxFiles?: number;
  /** Files larger than this are skipped (bytes). */
  maxFileBytes?: number;
}

interface Entry {
  /** One for a secret.xml; one per `virt_secret` block of a host file. */
  secrets: SecretInfo[];
  uses: SecretUse[];
}

/** Directories never worth scanning for libvirt XML. */
const SKIP_DIRS = new Set(['node_modules', '.git', '.hg', '.svn', 'dist', 'out', '.vscode-test', '.tmp']);

/** Watched-file change types of the LSP (FileChangeType). */
export const FileChange = { Created: 1, Changed: 2, Deleted: 3 } as const;

export class WorkspaceIndex {
  private readonly disk = new Map<string, Entry>();
  private readonly open = new Map<string, Entry>();
  private folders: string[] = [];
  private scanGeneration = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;
  private secretsKey = '';
  /** Resolves when the latest scan has finished. */
  ready: Promise<void> = Promise.resolve();

  constructor(private readonly opts: WorkspaceIndexOptions) {}

  /** Every `<secret>` document known (open text wins over disk). */
  secrets(): SecretInfo[] {
    const out: SecretInfo[] = [];
    for (const [uri, e] of this.disk) if (!this.open.has(uri)) out.push(...e.secrets);
    for (const e of this.open.values()) out.push(...e.secrets);
    return out;
  }

  /** Every `<encryption><secret uuid>` of the workspace's XML files (open text wins). */
  secretUses(): SecretUse[] {
    const out: SecretUse[] = [];
    for (const [uri, e] of this.disk) if (!this.open.has(uri)) out.push(...e.uses);
    for (const e of this.open.values()) out.push(...e.uses);
    return out;
  }

  /** Sets the workspace folders (file: URIs) and rescans them in the background. */
  setFolders(uris: string[]): Promise<void> {
    this.folders = uris.filter((u) => u.startsWith('file:'));
    const gen = ++this.scanGeneration;
    this.ready = this.scan(gen).catch((e) =>
      this.opts.log(`workspace index: scan failed: ${(e as Error)?.message ?? e}`),
    );
    return this.ready;
  }

  setOpen(uri: string, text: string): void {
    if (!indexed(uri) && !/<(secret|encryption)[\s>/]/.test(text)) return;
    this.open.set(uri, entryOf(uri, text));
    this.changed();
  }

  closeOpen(uri: string): void {
    if (this.open.delete(uri)) this.changed();
  }

  /** Re-reads one file from disk (after a save or a watched-file event). */
  async refresh(uri: string): Promise<void> {
    if (!uri.startsWith('file:') || !indexed(uri)) return;
    const entry = await this.read(uri);
    if (entry) this.disk.set(uri, entry);
    else this.disk.delete(uri);
    this.changed();
  }

  /** workspace/didChangeWatchedFiles. */
  async onWatchedFiles(changes: Array<{ uri: string; type: number }>): Promise<void> {
    for (const c of changes) {
      if (c.type === FileChange.Deleted) {
        // A deleted folder reports only itself: drop everything under it.
        const prefix = c.uri.endsWith('/') ? c.uri : `${c.uri}/`;
        for (const k of [...this.disk.keys()]) if (k === c.uri || k.startsWith(prefix)) this.disk.delete(k);
        this.changed();
      } else await this.refresh(c.uri);
    }
  }

  dispose(): void {
    this.disposed = true;
    this.scanGeneration++;
    if (this.timer) clearTimeout(this.timer);
  }

  private async scan(gen: number): Promise<void> {
    const max = this.opts.maxFiles ?? 5000;
    const found = new Map<string, Entry>();
    let files = 0;
    const walk = async (dir: string, depth: number): Promise<void> => {
      if (gen !== this.scanGeneration || files >= max || depth > 12) return;
      let names: import('node:fs').Dirent[];
      try {
        names = await fsp.readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const d of names) {
        if (gen !== this.scanGeneration || files >= max) return;
        const p = join(dir, d.name);
        if (d.isDirectory()) {
          if (!SKIP_DIRS.has(d.name) && !d.name.startsWith('.')) await walk(p, depth + 1);
        } else if (d.isFile() && indexed(d.name)) {
          files++;
          const uri = pathToFileURL(p).toString();
          const e = await this.read(uri);
          if (e) found.set(uri, e);
        }
      }
    };
    for (const f of this.folders) {
      let dir: string;
      try {
        dir = fileURLToPath(f);
      } catch {
        continue;
      }
      await walk(dir, 0);
    }
    if (gen !== this.scanGeneration) return;
    if (files >= max) this.opts.log(`workspace index: stopped after ${max} XML files`);
    this.disk.clear();
    for (const [k, v] of found) this.disk.set(k, v);
    this.changed();
  }

  /** Reads and indexes one file; undefined when unreadable, too big or irrelevant. */
  private async read(uri: string): Promise<Entry | undefined> {
    try {
      const file = fileURLToPath(uri);
      const st = await fsp.stat(file);
      if (!st.isFile() || st.size > (this.opts.maxFileBytes ?? 1 << 20)) return undefined;
      // As libvirt reads it: a UTF-16 or non-UTF-8 <secret> file is one `secret-define` refuses.
      const { text, error } = decodeXmlBytes(await fsp.readFile(file));
      if (error) return undefined;
      const e = entryOf(uri, text);
      return e.secrets.length || e.uses.length ? e : undefined;
    } catch {
      return undefined;
    }
  }

  /** Debounced notification, only when the secrets themselves changed. */
  private changed(): void {
    const key = JSON.stringify(
      this.secrets()
        .map((s) => [s.uri, s.uuid, s.usageType, s.usageVolume])
        .sort(),
    );
    if (key === this.secretsKey || this.disposed) return;
    this.secretsKey = key;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.disposed) this.opts.onChange();
    }, 100);
    this.timer.unref?.();
  }
}

/** XML files and the host files of embedded libvirt XML. */
const indexed = (uriOrName: string) => uriOrName.toLowerCase().endsWith('.xml') || !!hostKindOf(uriOrName);

function entryOf(uri: string, text: string): Entry {
  const kind = hostKindOf(uri);
  if (kind) return embeddedSecrets(kind, uri, text);
  const secret = extractSecretInfo(uri, text);
  return { secrets: secret ? [secret] : [], uses: extractSecretUses(uri, text) };
}
