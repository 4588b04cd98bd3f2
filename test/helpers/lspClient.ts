// A minimal LSP client for tests: spawns the built server (dist/server.js --stdio) and speaks
// JSON-RPC through vscode-jsonrpc. Records pushed diagnostics, answers workspace/configuration
// from `settings`, and reports server log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import type { Diagnostic } from 'vscode-languageserver-types';

export const ROOT = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
export const SERVER = join(ROOT, 'dist', 'server.js');

export interface ClientOptions {
  /** Advertise pull diagnostics (textDocument/diagnostic) like VS Code does. Default: push, like neovim 0.7. */
  pull?: boolean;
  settings?: Record<string, unknown>;
  rootPath?: string;
  workDoneProgress?: boolean;
  /** The server process' environment (default: this process'). */
  env?: NodeJS.ProcessEnv;
}

export class TestClient {
  readonly proc: ChildProcess;
  readonly conn: MessageConnection;
  readonly diagnostics = new Map<string, Diagnostic[]>();
  readonly logs: string[] = [];
  readonly progress: { token: string | number; value: { kind: string; percentage?: number; message?: string; title?: string; cancellable?: boolean } }[] = [];
  readonly progressTokens: (string | number)[] = [];
  settings: Record<string, unknown>;
  private waiters: Array<() => void> = [];
  private versions = new Map<string, number>();

  constructor(private opts: ClientOptions = {}) {
    this.settings = opts.settings ?? {};
    this.proc = spawn(process.execPath, [SERVER, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env });
    this.proc.stderr!.on('data', (b) => this.logs.push(String(b)));
    this.conn = createMessageConnection(new StreamMessageReader(this.proc.stdout!), new StreamMessageWriter(this.proc.stdin!));
    this.conn.onNotification('textDocument/publishDiagnostics', (p: { uri: string; diagnostics: Diagnostic[] }) => {
      this.diagnostics.set(p.uri, p.diagnostics);
      this.wake();
    });
    this.conn.onNotification('window/logMessage', (p: { message: string }) => { this.logs.push(p.message); });
    this.conn.onRequest('workspace/configuration', (p: { items: { section?: string }[] }) =>
      p.items.map((i) => (i.section ? this.settings[i.section] ?? null : this.settings)));
    this.conn.onRequest('client/registerCapability', () => null);
    this.conn.onRequest('window/workDoneProgress/create', (p: { token: string | number }) => { this.progressTokens.push(p.token); this.wake(); return null; });
    this.conn.onRequest('workspace/diagnostic/refresh', () => null);
    this.conn.onNotification('$/progress', (p: TestClient['progress'][number]) => { this.progress.push(p); this.wake(); });
    this.conn.listen();
  }

  private wake(): void { for (const w of this.waiters.splice(0)) w(); }

  async initialize(): Promise<unknown> {
    const rootUri = this.opts.rootPath ? pathToFileURL(this.opts.rootPath).href : null;
    const r = await this.conn.sendRequest('initialize', {
      processId: process.pid,
      rootUri,
      workspaceFolders: rootUri ? [{ uri: rootUri, name: 'ws' }] : null,
      capabilities: {
        workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: false } },
        textDocument: {
          synchronization: { dynamicRegistration: false },
          publishDiagnostics: { relatedInformation: true, versionSupport: true },
          ...(this.opts.pull ? { diagnostic: { dynamicRegistration: false } } : {}),
          completion: { completionItem: { snippetSupport: true } },
          hover: { contentFormat: ['markdown', 'plaintext'] },
        },
        window: { workDoneProgress: this.opts.workDoneProgress ?? true },
      },
    });
    await this.conn.sendNotification('initialized', {});
    return r;
  }

  open(uri: string, text: string, languageId = 'xml'): void {
    this.versions.set(uri, 1);
    void this.conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId, version: 1, text } });
  }

  /** An incremental change: replace `range` with `text`. */
  change(uri: string, range: { start: { line: number; character: number }; end: { line: number; character: number } }, text: string): void {
    const v = (this.versions.get(uri) ?? 1) + 1;
    this.versions.set(uri, v);
    void this.conn.sendNotification('textDocument/didChange', { textDocument: { uri, version: v }, contentChanges: [{ range, text }] });
  }

  close(uri: string): void {
    void this.conn.sendNotification('textDocument/didClose', { textDocument: { uri } });
  }

  request<R = unknown>(method: string, params: unknown): Promise<R> {
    return this.conn.sendRequest(method, params) as Promise<R>;
  }

  /** workspace/executeCommand with one argument, as every editor sends the project's commands. */
  executeCommand<R = unknown>(command: string, arg: unknown): Promise<R> {
    return this.request<R>('workspace/executeCommand', { command, arguments: [arg] });
  }

  /** Says the settings changed (the server reads them back through workspace/configuration) and lets it read them. */
  async settingsChanged(): Promise<void> {
    void this.conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
    await new Promise((r) => setTimeout(r, 300));
  }

  /** Waits until `pred` holds (checked after each pushed notification and every 50 ms). */
  async until<T>(pred: () => T | undefined | false, ms = 10_000, what = 'condition'): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = pred();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; server log:\n${this.logs.join('')}`);
      await new Promise<void>((res) => { this.waiters.push(res); setTimeout(res, 50); });
    }
  }

  async dispose(): Promise<void> {
    try {
      await Promise.race([this.conn.sendRequest('shutdown'), new Promise((r) => setTimeout(r, 2000))]);
      void this.conn.sendNotification('exit');
    } catch { /* already gone */ }
    this.conn.dispose();
    setTimeout(() => this.proc.kill(), 500).unref();
    await new Promise<void>((r) => { if (this.proc.exitCode !== null) r(); else this.proc.once('exit', () => r()); setTimeout(r, 1500).unref(); });
  }
}
