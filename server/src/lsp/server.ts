// Wires the pure language service to an LSP connection (stdio, node-ipc or a socket, chosen by
// vscode-languageserver from the command line: `--stdio`, `--node-ipc`, `--socket=N`).
// Shape follows lsp-sample's server.ts: incremental sync, pull diagnostics where the client can
// pull, debounced push otherwise, settings through workspace/configuration.
// Rule: no request may take the server down. Every handler runs inside `guard`, which logs the
// exception and answers with an empty result.
import {
  CodeActionKind,
  DidChangeConfigurationNotification,
  DocumentDiagnosticReportKind,
  LSPErrorCodes,
  ResponseError,
  TextDocumentSyncKind,
  TextDocuments,
  type CancellationToken,
  type ClientCapabilities,
  type Connection,
  type InitializeParams,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Diagnostic } from 'vscode-languageserver-types';
import { getLanguageService, type LanguageService } from '../service/languageService';
import type { ServiceEnvironment } from '../service/types';
import { createEnvironment, type ServerEnvironment } from './env';
import { pickSection, SECTION, toSettings, type ServerSettings } from './settings';
import { registerCommands, COMMANDS } from './commands';
import { DOCUMENT_SELECTOR } from '../../../schemas/hosts';

/** Debounce of pushed diagnostics while typing (ms). Open and config changes validate at once. */
export const PUSH_DEBOUNCE_MS = 150;

export interface ServerState {
  connection: Connection;
  documents: TextDocuments<TextDocument>;
  service: LanguageService;
  env: ServerEnvironment;
  settings(): ServerSettings;
  capabilities(): ClientCapabilities;
  log(message: string): void;
  /** Re-validates every open document (after a settings or workspace change). */
  revalidateAll(): void;
}

export function startServer(connection: Connection): ServerState {
  const documents = new TextDocuments(TextDocument);
  let settings: ServerSettings = {};
  let caps: ClientCapabilities = {};
  let pullDiagnostics = false;
  let configurationPull = false;
  let dynamicConfig = false;
  let folders: string[] = [];

  const log = (message: string) => connection.console.log(message);
  const env = createEnvironment({ log: (m) => connection.console.error(m), onChange: () => state.revalidateAll() });
  const service = getLanguageService(env as ServiceEnvironment);
  /** Runs a handler; an exception is logged and answered with `fallback`, cancellation with its error. */
  function guard<T>(
    name: string,
    token: CancellationToken | undefined,
    fallback: T,
    fn: () => T,
  ): T | ResponseError<void> {
    if (token?.isCancellationRequested) return new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled');
    try {
      const r = fn();
      if (token?.isCancellationRequested) return new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled');
      return r ?? fallback;
    } catch (err) {
      connection.console.error(`${name} failed: ${(err as Error)?.stack ?? err}`);
      return fallback;
    }
  }

  /** `guard` for service calls that may read image headers: waits for them (env.withImageFacts). */
  async function guardFacts<T>(
    name: string,
    token: CancellationToken,
    fallback: T,
    fn: () => T,
  ): Promise<T | ResponseError<void>> {
    if (token.isCancellationRequested) return new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled');
    try {
      const r = await env.withImageFacts(fn);
      if (token.isCancellationRequested) return new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled');
      return r ?? fallback;
    } catch (err) {
      connection.console.error(`${name} failed: ${(err as Error)?.stack ?? err}`);
      return fallback;
    }
  }

  function validate(doc: TextDocument): Diagnostic[] {
    try {
      return service.doValidation(doc);
    } catch (err) {
      connection.console.error(`validation failed on ${doc.uri}: ${(err as Error)?.stack ?? err}`);
      return [];
    }
  }

  // Push mode: one timer per document; a newer version cancels the pending run.
  const timers = new Map<string, NodeJS.Timeout>();
  function schedulePush(doc: TextDocument, delay: number): void {
    if (pullDiagnostics) return;
    const old = timers.get(doc.uri);
    if (old) clearTimeout(old);
    timers.set(
      doc.uri,
      setTimeout(() => {
        timers.delete(doc.uri);
        const current = documents.get(doc.uri);
        if (!current) return;
        const diagnostics = validate(current);
        // Typed on while we worked: that version's own run will push.
        if (documents.get(doc.uri)?.version !== current.version) return;
        void connection.sendDiagnostics({ uri: current.uri, version: current.version, diagnostics });
      }, delay),
    );
  }

  const state: ServerState = {
    connection,
    documents,
    service,
    env,
    settings: () => settings,
    capabilities: () => caps,
    log,
    revalidateAll() {
      // Results cached per embedded block depend on settings, secrets and images too.
      service.invalidate();
      if (pullDiagnostics) {
        if (caps.workspace?.diagnostics?.refreshSupport) void connection.languages.diagnostics.refresh();
      } else {
        for (const d of documents.all()) schedulePush(d, 0);
      }
    },
  };

  async function loadSettings(fromNotification?: unknown): Promise<void> {
    let raw: unknown;
    if (configurationPull) {
      try {
        raw = await connection.workspace.getConfiguration(SECTION);
      } catch (err) {
        connection.console.error(`workspace/configuration failed: ${(err as Error)?.message ?? err}`);
      }
    }
    // Clients without workspace/configuration (or answering null) send settings in the notification.
    if (raw == null) raw = pickSection(fromNotification);
    settings = toSettings(raw);
    service.configure(settings);
    env.configure(settings);
  }

  connection.onInitialize((params: InitializeParams): InitializeResult => {
    caps = params.capabilities;
    pullDiagnostics = !!caps.textDocument?.diagnostic;
    configurationPull = !!caps.workspace?.configuration;
    dynamicConfig = !!caps.workspace?.didChangeConfiguration?.dynamicRegistration;
    settings = toSettings(pickSection(params.initializationOptions));
    service.configure(settings);
    env.configure(settings);
    folders = params.workspaceFolders
      ? params.workspaceFolders.map((f) => f.uri)
      : params.rootUri
        ? [params.rootUri]
        : [];
    env.setWorkspaceFolders(folders);
    return {
      capabilities: {
        // save: didSave refreshes the workspace index and the host facts (hostFacts.ts).
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } },
        completionProvider: { triggerCharacters: ['<', '/', ' ', '"', "'", '='], resolveProvider: false },
        hoverProvider: true,
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
        definitionProvider: true,
        referencesProvider: true,
        documentSymbolProvider: true,
        foldingRangeProvider: true,
        executeCommandProvider: { commands: COMMANDS },
        workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
        // The selector names the hosts of embedded libvirt XML (playbooks, templates, Terraform) besides XML.
        ...(pullDiagnostics
          ? {
              diagnosticProvider: {
                interFileDependencies: true,
                workspaceDiagnostics: false,
                documentSelector: DOCUMENT_SELECTOR,
              },
            }
          : {}),
      },
      serverInfo: { name: 'libvirt-volume', version: '0.1.0' },
    };
  });

  connection.onInitialized(async () => {
    if (dynamicConfig) void connection.client.register(DidChangeConfigurationNotification.type, { section: SECTION });
    if (caps.workspace?.workspaceFolders) {
      connection.workspace.onDidChangeWorkspaceFolders((e) => {
        const gone = new Set(e.removed.map((f) => f.uri));
        folders = folders.filter((u) => !gone.has(u)).concat(e.added.map((f) => f.uri));
        env.setWorkspaceFolders(folders);
        env.start();
      });
    }
    await loadSettings();
    env.start();
    state.revalidateAll();
  });

  connection.onDidChangeConfiguration(async (params) => {
    await loadSettings(params.settings);
    state.revalidateAll();
  });

  documents.onDidOpen((e) => {
    env.index.setOpen(e.document.uri, e.document.getText());
    schedulePush(e.document, 0);
  });
  documents.onDidChangeContent((e) => {
    env.index.setOpen(e.document.uri, e.document.getText());
    schedulePush(e.document, PUSH_DEBOUNCE_MS);
  });
  documents.onDidSave((e) => {
    void env.index.refresh(e.document.uri);
    // The user may have changed the host meanwhile (secret-define, vol-create): ask it again.
    env.host.invalidate();
  });
  connection.onDidChangeWatchedFiles((p) => void env.index.onWatchedFiles(p.changes));
  documents.onDidClose((e) => {
    env.index.closeOpen(e.document.uri);
    service.forget(e.document.uri);
    const t = timers.get(e.document.uri);
    if (t) clearTimeout(t);
    timers.delete(e.document.uri);
    // Pull clients drop a closed document's results themselves; push clients need an empty set.
    if (!pullDiagnostics) void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
  });

  connection.languages.diagnostics.on(async (params, token) => {
    const doc = documents.get(params.textDocument.uri);
    if (token.isCancellationRequested)
      throw new ResponseError(LSPErrorCodes.ServerCancelled, 'cancelled', { retriggerRequest: true });
    const items = doc ? await env.withImageFacts(() => validate(doc)) : [];
    return { kind: DocumentDiagnosticReportKind.Full, items };
  });

  connection.onCompletion((params, token) =>
    guard('completion', token, null, () => {
      const doc = documents.get(params.textDocument.uri);
      return doc ? service.doComplete(doc, params.position) : null;
    }),
  );
  connection.onHover((params, token) =>
    guardFacts('hover', token, null, () => {
      const doc = documents.get(params.textDocument.uri);
      return doc ? service.doHover(doc, params.position) : null;
    }),
  );
  connection.onCodeAction((params, token) =>
    guardFacts('codeAction', token, [], () => {
      const doc = documents.get(params.textDocument.uri);
      return doc ? service.doCodeActions(doc, params.range, params.context) : [];
    }),
  );
  connection.onDefinition((params, token) =>
    guard('definition', token, null, () => {
      const doc = documents.get(params.textDocument.uri);
      return doc ? service.findDefinition(doc, params.position) : null;
    }),
  );
  connection.onReferences((params, token) =>
    guard('references', token, [], () => {
      const doc = documents.get(params.textDocument.uri);
      return doc ? service.findReferences(doc, params.position) : [];
    }),
  );
  connection.onDocumentSymbol((params, token) =>
    guard('documentSymbol', token, [], () => {
      const doc = documents.get(params.textDocument.uri);
      return doc ? service.findDocumentSymbols(doc) : [];
    }),
  );
  connection.onFoldingRanges((params, token) =>
    guard('foldingRange', token, [], () => {
      const doc = documents.get(params.textDocument.uri);
      return doc ? service.getFoldingRanges(doc) : [];
    }),
  );

  registerCommands(state);

  connection.onShutdown(() => {
    for (const t of timers.values()) clearTimeout(t);
    timers.clear();
    env.dispose();
  });

  documents.listen(connection);
  connection.listen();
  return state;
}
