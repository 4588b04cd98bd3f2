// The ServiceEnvironment of the language server: the I/O the pure service may not do itself.
// - secrets()/secretUses(): `<secret>` documents and secret uuid uses of the workspace
//   (workspaceIndex.ts; open documents win over disk);
// - imageFacts(): header facts of local images through the writer's probe (bounded reads);
// - isFile(): whether a playbook's template lookup names an existing file (one stat);
// - log(): the LSP console.
import { statSync } from 'node:fs';
import type { ImageFacts, SecretInfo, SecretUse, ServiceEnvironment } from '../service/types';
import { nodeProbeIO } from '../writer/nodeIO';
import { tryProbeImage } from '../writer/probe';
import type { ServerSettings } from './settings';
import { WorkspaceIndex } from './workspaceIndex';

export interface ServerEnvironment extends ServiceEnvironment {
  readonly index: WorkspaceIndex;
  configure(settings: ServerSettings): void;
  setWorkspaceFolders(uris: string[]): void;
  /** Starts background work (workspace indexing) once the client is initialized. */
  start(): void;
  dispose(): void;
}

export interface EnvironmentOptions {
  log(message: string): void;
  /** Called when a cross-file fact changed (a secret appeared), so diagnostics are recomputed. */
  onChange(): void;
}

/** Image headers are re-read at most this often per path while typing (ms). */
const FACTS_TTL_MS = 1000;

export function createEnvironment(opts: EnvironmentOptions): ServerEnvironment {
  let settings: ServerSettings = {};
  let folders: string[] = [];
  const index = new WorkspaceIndex({ log: opts.log, onChange: opts.onChange });
  const probeIO = nodeProbeIO();
  const facts = new Map<string, { at: number; facts: ImageFacts | undefined }>();
  return {
    index,
    log: opts.log,
    secrets(): SecretInfo[] {
      return index.secrets();
    },
    secretUses(): SecretUse[] {
      return index.secretUses();
    },
    imageFacts(path: string): ImageFacts | undefined {
      if (settings.imageChecks === false) return undefined;
      const now = Date.now();
      const hit = facts.get(path);
      if (hit && now - hit.at < FACTS_TTL_MS) return hit.facts;
      const f = tryProbeImage(probeIO, path);
      // Allocation for the path hover's "disk size" (issue 7): st_blocks, which no header says.
      if (f) try { f.actualSize = statSync(path).blocks * 512; } catch { /* unknown */ }
      facts.set(path, { at: now, facts: f });
      if (facts.size > 500) facts.delete(facts.keys().next().value!);
      return f;
    },
    isFile(path: string): boolean {
      try { return statSync(path).isFile(); } catch { return false; }
    },
    configure(s) { settings = s; facts.clear(); },
    setWorkspaceFolders(uris) { folders = uris; },
    start() { void index.setFolders(folders); },
    dispose() { index.dispose(); },
  };
}
