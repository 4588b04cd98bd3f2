// The ServiceEnvironment of the language server: the I/O the pure service may not do itself.
// - secrets(): `<secret>` documents of the workspace (workspaceIndex.ts, open documents win over disk);
// - imageFacts(): header facts of local images (the writer's reader, bounded bytes and time);
// - log(): the LSP console.
import type { TextDocuments } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { ImageFacts, SecretInfo, ServiceEnvironment } from '../service/types';
import type { ServerSettings } from './settings';

export interface ServerEnvironment extends ServiceEnvironment {
  configure(settings: ServerSettings): void;
  setWorkspaceFolders(uris: string[]): void;
  /** Starts background work (workspace indexing) once the client is initialized. */
  start(): void;
  dispose(): void;
}

export interface EnvironmentOptions {
  log(message: string): void;
  documents: TextDocuments<TextDocument>;
  /** Called when a cross-file fact changed (a secret appeared), so diagnostics are recomputed. */
  onChange(): void;
}

export function createEnvironment(opts: EnvironmentOptions): ServerEnvironment {
  let settings: ServerSettings = {};
  let folders: string[] = [];
  return {
    log: opts.log,
    secrets(): SecretInfo[] {
      return [];
    },
    imageFacts(_path: string, _baseUri: string): ImageFacts | undefined {
      if (settings.imageChecks === false) return undefined;
      return undefined;
    },
    configure(s) { settings = s; },
    setWorkspaceFolders(uris) { folders = uris; void folders; },
    start() { /* workspace index starts here */ },
    dispose() { /* nothing yet */ },
  };
}
