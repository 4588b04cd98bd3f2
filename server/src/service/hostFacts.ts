// Host facts in the pure service (issue 11, "Check against the host"): which pool of the host a
// document is meant for, and lookups in the snapshot the environment injects (types.ts HostFacts).
// Nothing here calls virsh; without a snapshot (offline, or not gathered yet) every answer is empty.
import { POOL_TYPES, type PoolType } from '../../../schemas/vocabulary';
import { formatBytes } from '../common/bytes';
import { normaliseUuid } from './secrets';
import type { HostFacts, HostPool, HostSecret, LanguageSettings, ServiceEnvironment } from './types';
import type { Span, XmlDocument } from './xmlModel';

/**
 * The in-document pool hint: `<!-- libvirt-volume: pool=NAME -->`, anywhere in the document (a
 * comment libvirt ignores, so the file stays valid for virsh). The first one counts.
 */
const HINT = /<!--\s*libvirt-volume:\s*pool\s*=\s*([^\s]*?)\s*-->/d;

export interface PoolHint {
  name: string;
  /** The NAME inside the comment (diagnostics and completion replace it). */
  span: Span;
}

export function poolHint(text: string): PoolHint | undefined {
  // Cheap precheck: a 1 MB document without the marker costs one indexOf, not a regex scan.
  if (!text.includes('libvirt-volume:')) return undefined;
  const m = HINT.exec(text);
  if (!m) return undefined;
  const [start, end] = m.indices![1]!;
  return { name: m[1], span: { start, end } };
}

/**
 * Inside a pool hint being typed (`<!-- libvirt-volume: pool=` up to the cursor, before any `-->`):
 * the span of the name so far (to replace), else undefined.
 */
export function poolHintAt(text: string, offset: number): Span | undefined {
  const before = text.slice(Math.max(0, offset - 200), offset);
  const m = /<!--\s*libvirt-volume:\s*pool\s*=\s*([^\s>]*)$/.exec(before);
  if (!m || m[1].includes('--')) return undefined;
  let end = offset;
  while (end < text.length && /[^\s>-]/.test(text[end])) end++;
  return { start: offset - m[1].length, end };
}

export interface ChosenPool {
  name: string;
  /** How it was chosen: the hint (its span), the setting, or the host's `default` pool. */
  from: 'hint' | 'setting' | 'default';
  span?: Span;
  /** The pool on the host; undefined when the host has no pool of that name. */
  pool?: HostPool;
}

/**
 * The pool a <volume> is judged for: the document's hint, else `libvirtVolume.pool`, else the
 * host's `default` pool when it has one (the pool virt-manager and virt-install use by default).
 */
export function choosePool(text: string, settings: LanguageSettings, facts: HostFacts): ChosenPool | undefined {
  const hint = poolHint(text);
  const find = (n: string) => facts.pools.find((p) => p.name === n);
  if (hint) return { name: hint.name, from: 'hint', span: hint.span, pool: find(hint.name) };
  if (settings.pool) return { name: settings.pool, from: 'setting', pool: find(settings.pool) };
  const d = find('default');
  return d ? { name: 'default', from: 'default', pool: d } : undefined;
}

/** The pool's type as the existing poolType machinery knows it (undefined for a type it does not). */
export function poolTypeOf(p: HostPool | undefined): PoolType | undefined {
  return p && (POOL_TYPES as string[]).includes(p.type) ? (p.type as PoolType) : undefined;
}

interface SecretIndex {
  byUuid: Map<string, HostSecret>;
  /** Usage ids of volume secrets: what a `<secret usage=…>` is looked up by. */
  volumeUsages: Set<string>;
}
/** Built once per snapshot: a document with thousands of secret references costs lookups, not scans. */
const indexes = new WeakMap<HostFacts, SecretIndex>();
function secretIndex(facts: HostFacts): SecretIndex {
  let ix = indexes.get(facts);
  if (!ix) {
    ix = { byUuid: new Map(), volumeUsages: new Set() };
    for (const s of facts.secrets) {
      ix.byUuid.set(s.uuid, s);
      if (s.usageType === 'volume' && s.usageId !== undefined) ix.volumeUsages.add(s.usageId);
    }
    indexes.set(facts, ix);
  }
  return ix;
}

/**
 * The settings an editing feature (completion, hover, quick fixes) sees for a <volume>: the pool
 * type of the host's pool it is meant for, as validation judges it (validation/context.ts).
 */
export function withHostPool(settings: LanguageSettings, doc: XmlDocument, env: ServiceEnvironment): LanguageSettings {
  if (doc.root?.name !== 'volume' || !env.hostFacts) return settings;
  const facts = env.hostFacts();
  const type = facts && poolTypeOf(choosePool(doc.text, settings, facts)?.pool);
  return type ? { ...settings, poolType: type } : settings;
}

/** Hover text of the pool a hint names: the host's pool (type, state, folder, space), or that it has none. */
export function poolHintHover(facts: HostFacts, name: string): string {
  const p = facts.pools.find((x) => x.name === name);
  if (!p) return `No storage pool '${name}' on ${facts.uri}.`;
  const space =
    p.capacity !== undefined && p.available !== undefined
      ? `; ${formatBytes(p.available)} available of ${formatBytes(p.capacity)}`
      : '';
  const where = p.path ? ` at \`${p.path}\`` : '';
  const state = p.active ? 'active' : 'inactive';
  const count = `${p.volumes.length} volume${p.volumes.length === 1 ? '' : 's'}`;
  return `**Pool \`${p.name}\`** on ${facts.uri}: ${p.type}, ${state}${where}${space}; ${count}.`;
}

export function hostSecretByUuid(facts: HostFacts | undefined, uuid: string | undefined): HostSecret | undefined {
  if (!facts || uuid === undefined) return undefined;
  const ix = secretIndex(facts);
  // The canonical form (as libvirt prints it) is found without parsing; other spellings are normalised.
  const hit = ix.byUuid.get(uuid);
  if (hit) return hit;
  const n = normaliseUuid(uuid);
  return n ? ix.byUuid.get(n) : undefined;
}

/** Whether the host has a volume secret of this usage (secret_driver.c secretLookupByUsage). */
export function hostHasVolumeUsage(facts: HostFacts, usage: string): boolean {
  return secretIndex(facts).volumeUsages.has(usage);
}

/** One line about a host secret: usage and flags, never its value (libvirt never prints it either). */
export function hostSecretSummary(s: HostSecret): string {
  const usage = s.usageType ? `usage ${s.usageType}${s.usageId ? ` ${s.usageId}` : ''}` : 'no usage';
  return `${usage}; ephemeral ${s.ephemeral ? 'yes' : 'no'}, private ${s.private ? 'yes' : 'no'}`;
}

/** Where a path is on the host: the volume (and its pool) it is, if any. */
export function hostVolumeAt(facts: HostFacts, path: string) {
  for (const pool of facts.pools) {
    const volume = pool.volumes.find((v) => v.path === path);
    if (volume) return { pool, volume };
  }
  return undefined;
}

/** A host volume's one-line description for completion (pool, format, capacity). */
export function hostVolumeSummary(pool: HostPool, v: HostFacts['pools'][number]['volumes'][number]): string {
  const parts = [`pool ${pool.name}`];
  if (v.format) parts.push(v.format);
  if (v.capacity !== undefined) parts.push(formatBytes(v.capacity));
  return parts.join(', ');
}
