// The ServiceEnvironment of the language server: the I/O the pure service may not do itself.
// - secrets()/secretUses(): `<secret>` documents and secret uuid uses of the workspace
//   (workspaceIndex.ts; open documents win over disk);
// - imageFacts(): header facts of local images through the writer's probe, read asynchronously
//   (imageProbe.ts) and cached: the service's synchronous call never waits for the disk. A
//   miss answers "unknown" and starts the read; when facts arrive that differ from what was
//   answered, onChange() re-validates. Request handlers that want the facts in their answer
//   (hover, pulled diagnostics) run through withImageFacts(), which waits for them, bounded;
// - hostFacts(): the last snapshot of the libvirt host of `libvirtVolume.connection`
//   (hostFacts.ts: refreshed in the background, never awaited; new facts re-validate);
// - isFile(): whether a playbook's template lookup names an existing file (one stat);
// - log(): the LSP console.
import { statSync } from 'node:fs';
import type { HostFacts, ImageFacts, SecretInfo, SecretUse, ServiceEnvironment } from '../service/types';
import { HostFactsCache } from './hostFacts';
import { ImageProbes } from './imageProbe';
import type { ServerSettings } from './settings';
import { WorkspaceIndex } from './workspaceIndex';

export interface ServerEnvironment extends ServiceEnvironment {
  readonly index: WorkspaceIndex;
  readonly host: HostFactsCache;
  configure(settings: ServerSettings): void;
  setWorkspaceFolders(uris: string[]): void;
  /** Starts background work (workspace indexing) once the client is initialized. */
  start(): void;
  /**
   * Runs `fn` (a synchronous service call); while image facts it asked for are still being read,
   * waits for them (at most `waitMs` in all) and runs it again. Answers the last run's result.
   */
  withImageFacts<T>(fn: () => T, waitMs?: number): Promise<T>;
  dispose(): void;
}

export interface EnvironmentOptions {
  log(message: string): void;
  /** Called when a cross-file fact changed (a secret appeared), so diagnostics are recomputed. */
  onChange(): void;
}

/** Image headers are re-read at most this often per path while typing (ms). */
const FACTS_TTL_MS = 1000;
/** A path whose read timed out is not read again for this long (ms). */
const SLOW_PATH_BACKOFF_MS = 60_000;
/** Default bound of withImageFacts (ms): what a hover may wait for headers. */
export const FACTS_WAIT_MS = 1000;

export function createEnvironment(opts: EnvironmentOptions): ServerEnvironment {
  let settings: ServerSettings = {};
  let folders: string[] = [];
  const index = new WorkspaceIndex({ log: opts.log, onChange: opts.onChange });
  const probes = new ImageProbes(opts.log);
  const host = new HostFactsCache({ log: opts.log, onChange: opts.onChange });
  const facts = new Map<string, { at: number; facts: ImageFacts | undefined }>();
  const inflight = new Map<string, Promise<void>>();
  /** Reads still running that the current withImageFacts run asked for. */
  let asked: Set<Promise<void>> | undefined;
  let changeTimer: NodeJS.Timeout | undefined;
  const changed = () => {
    // One re-validation for a burst of arrivals (a backing chain arrives link by link).
    changeTimer ??= setTimeout(() => {
      changeTimer = undefined;
      opts.onChange();
    }, 0);
  };
  const read = (path: string): Promise<void> => {
    let p = inflight.get(path);
    if (p) return p;
    p = probes.probe(path).then(({ facts: f, timedOut }) => {
      inflight.delete(path);
      const before = facts.get(path);
      const at = Date.now() + (timedOut ? SLOW_PATH_BACKOFF_MS - FACTS_TTL_MS : 0);
      facts.set(path, { at, facts: f });
      if (facts.size > 500) facts.delete(facts.keys().next().value!);
      if (JSON.stringify(before?.facts) !== JSON.stringify(f)) changed();
    });
    inflight.set(path, p);
    return p;
  };
  return {
    index,
    host,
    log: opts.log,
    hostFacts(): HostFacts | undefined {
      return host.get();
    },
    secrets(): SecretInfo[] {
      return index.secrets();
    },
    secretUses(): SecretUse[] {
      return index.secretUses();
    },
    imageFacts(path: string, baseUri: string): ImageFacts | undefined {
      // A host volume's XML (the Libvirt view's read-only libvirt-volume: documents) names files
      // on that host: a local file at the same path says nothing about them.
      if (settings.imageChecks === false || baseUri.startsWith('libvirt-volume:')) return undefined;
      const hit = facts.get(path);
      // Stale or unknown: read in the background and answer what is known now (withImageFacts
      // waits for the read and asks again, so a hover shows what the file says now).
      if (!hit || Date.now() - hit.at >= FACTS_TTL_MS) {
        const p = read(path); // not inside `asked?.add(…)`: `?.` would skip the read too
        asked?.add(p);
      }
      return hit?.facts;
    },
    async withImageFacts<T>(fn: () => T, waitMs = FACTS_WAIT_MS): Promise<T> {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const mine = (asked = new Set());
        let result: T;
        try {
          result = fn();
        } finally {
          asked = undefined;
        }
        const left = deadline - Date.now();
        if (!mine.size || left <= 0) return result;
        let t: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all(mine),
          new Promise<void>((r) => {
            t = setTimeout(r, left);
          }),
        ]);
        clearTimeout(t);
      }
    },
    isFile(path: string): boolean {
      try {
        return statSync(path).isFile();
      } catch {
        return false;
      }
    },
    configure(s) {
      settings = s;
      facts.clear();
      // Only the setting (machine-scoped) puts diagnostics online; LIBVIRT_DEFAULT_URI does not.
      host.configure(s.connection);
    },
    setWorkspaceFolders(uris) {
      folders = uris;
    },
    start() {
      void index.setFolders(folders);
    },
    dispose() {
      index.dispose();
      probes.dispose();
      host.dispose();
      if (changeTimer) clearTimeout(changeTimer);
    },
  };
}
