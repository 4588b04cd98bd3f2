// Host facts for the editor (issue 11, "Check against the host"): one snapshot per connection URI
// (host/facts.ts gathers it), kept here and handed to the service synchronously. The keystroke
// path never waits for the host: get() answers the last snapshot (or none) at once and, when that
// one is older than REFRESH_MS, starts a refresh in the background. A refresh whose facts differ
// from the last calls onChange (the server re-validates every open document). A save and a
// change of `libvirtVolume.connection` start a refresh at once. A failing host is logged (once
// per message) and answers no snapshot: its rules stay silent, as offline.
import { stat } from 'node:fs/promises';
import { gatherHostFacts, isLocalUri } from '../host/facts';
import type { HostFacts } from '../service/types';

/** A snapshot is refreshed in the background when asked for and older than this (ms). */
export const REFRESH_MS = 30_000;
/** A local path's existence is stat'ed again at most this often (ms). */
const STAT_TTL_MS = 5_000;

export interface HostFactsOptions {
  log(message: string): void;
  onChange(): void;
  /** Gatherer (tests inject a counting one); default host/facts.ts gatherHostFacts over virsh. */
  gather?: (uri: string, signal: AbortSignal) => Promise<HostFacts>;
}

interface Entry {
  facts?: HostFacts;
  /** When the last refresh (success or failure) ended; 0 = never. */
  at: number;
  running?: Promise<void>;
  abort?: AbortController;
  lastError?: string;
  /** A refresh was asked for while one ran (a save): run once more after it. */
  again?: boolean;
}

export class HostFactsCache {
  private uri: string | undefined;
  private readonly entries = new Map<string, Entry>();
  private readonly files = new Map<string, { at: number; exists: boolean; running?: boolean }>();
  private disposed = false;

  constructor(private readonly opts: HostFactsOptions) {}

  /** The connection in force (`libvirtVolume.connection`); undefined = offline. */
  configure(uri: string | undefined): void {
    if (uri === this.uri) return;
    this.uri = uri;
    this.files.clear();
    if (uri) void this.refresh();
  }

  /** The last snapshot of the connection's host, never waiting; a stale one starts a refresh. */
  get(): HostFacts | undefined {
    const uri = this.uri;
    if (!uri) return undefined;
    const e = this.entries.get(uri);
    // A refresh under way already answers this staleness (only a save asks for one more after it).
    if (!e?.running && (!e || Date.now() - e.at >= REFRESH_MS)) void this.refresh();
    return e?.facts;
  }

  /** Something may have changed on the host (a save, a command that created a volume). */
  invalidate(): void {
    if (!this.uri) return;
    this.files.clear();
    void this.refresh(true);
  }

  /** Resolves when the connection's current refresh (if any) has ended; for tests and commands. */
  async settled(): Promise<void> {
    for (;;) {
      const r = this.uri ? this.entries.get(this.uri)?.running : undefined;
      if (!r) return;
      await r;
    }
  }

  /** `again`: a run under way may predate the change (a save): run once more after it. */
  private refresh(again = false): Promise<void> {
    const uri = this.uri!;
    let e = this.entries.get(uri);
    if (!e) this.entries.set(uri, (e = { at: 0 }));
    const entry = e;
    if (entry.running) {
      if (again) entry.again = true;
      return entry.running;
    }
    const abort = (entry.abort = new AbortController());
    const gather = this.opts.gather ?? ((u: string, s: AbortSignal) => gatherHostFacts({ uri: u }, s));
    entry.running = (async () => {
      try {
        // Off the caller's turn: get() runs on the keystroke path, and spawning virsh is synchronous work.
        await new Promise((r) => setImmediate(r));
        if (this.disposed) return;
        const gathered = await gather(uri, abort.signal);
        const changed = JSON.stringify(gathered) !== JSON.stringify(entry.facts);
        // One object per snapshot (the service indexes it once); a local host's files are stat'ed.
        const facts = isLocalUri(uri) ? { ...gathered, fileExists: (p: string) => this.fileExists(p) } : gathered;
        if (changed || !entry.facts) entry.facts = facts;
        entry.lastError = undefined;
        if (changed && !this.disposed && this.uri === uri) this.opts.onChange();
      } catch (err) {
        const msg = (err as Error)?.message ?? String(err);
        if (msg !== entry.lastError) this.opts.log(`libvirt host ${uri}: ${msg}`);
        entry.lastError = msg;
        // A host that stopped answering proves nothing any more: its rules go silent.
        if (entry.facts) {
          entry.facts = undefined;
          if (!this.disposed && this.uri === uri) this.opts.onChange();
        }
      } finally {
        entry.at = Date.now();
        entry.running = undefined;
        if (entry.again && !this.disposed) {
          entry.again = false;
          if (this.uri === uri) void this.refresh();
        }
      }
    })();
    return entry.running;
  }

  /** Local connections: whether a path exists, from the cache; a miss stats in the background. */
  private fileExists(path: string): boolean | undefined {
    const hit = this.files.get(path);
    if (!hit || (!hit.running && Date.now() - hit.at >= STAT_TTL_MS)) {
      const next = { at: hit?.at ?? 0, exists: hit?.exists ?? false, running: true };
      this.files.set(path, next);
      if (this.files.size > 500) this.files.delete(this.files.keys().next().value!);
      stat(path).then(
        () => this.statDone(path, next, true, hit === undefined),
        (e: NodeJS.ErrnoException) => this.statDone(path, next, e.code !== 'ENOENT' && e.code !== 'ENOTDIR', !hit),
      );
    }
    return hit && hit.at ? hit.exists : undefined;
  }

  private statDone(
    path: string,
    rec: { at: number; exists: boolean; running?: boolean },
    exists: boolean,
    first: boolean,
  ) {
    // The first answer was "unknown" (silent): only a missing file changes what was reported.
    const changed = first ? !exists : rec.exists !== exists;
    rec.at = Date.now();
    rec.exists = exists;
    rec.running = false;
    if (changed && !this.disposed && this.files.get(path) === rec) this.opts.onChange();
  }

  dispose(): void {
    this.disposed = true;
    for (const e of this.entries.values()) e.abort?.abort();
  }
}
