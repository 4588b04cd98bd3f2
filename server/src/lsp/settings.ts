// `libvirtVolume.*` settings as the client sends them (workspace/configuration, didChangeConfiguration
// or initializationOptions) → the service's LanguageSettings. Anything malformed is dropped, never thrown.
import { POOL_TYPES, type PoolType } from '../../../schemas/vocabulary';
import type { LanguageSettings, Severity } from '../service/types';

export const SECTION = 'libvirtVolume';

export interface ServerSettings extends LanguageSettings {
  /** Passphrase file for Create Volume (read by the command, never logged). */
  passphraseFile?: string;
  /** libvirt URI for pool commands (`libvirtVolume.connection`); empty = offline. */
  connection?: string;
}

const SEVERITIES = new Set(['error', 'warning', 'information', 'hint', 'ignore']);

export function toSettings(raw: unknown): ServerSettings {
  const s: ServerSettings = {};
  if (!raw || typeof raw !== 'object') return s;
  const r = raw as Record<string, unknown>;
  if (typeof r.libvirtVersion === 'string' && /^\d+\.\d+(\.\d+)?$/.test(r.libvirtVersion.trim())) {
    const v = r.libvirtVersion.trim();
    s.libvirtVersion = v.split('.').length === 2 ? `${v}.0` : v;
  }
  if (typeof r.poolType === 'string' && (POOL_TYPES as string[]).includes(r.poolType))
    s.poolType = r.poolType as PoolType;
  if (r.severity && typeof r.severity === 'object') {
    const sev: Record<string, Severity | 'ignore'> = {};
    for (const [k, v] of Object.entries(r.severity as Record<string, unknown>)) {
      if (typeof v === 'string' && SEVERITIES.has(v)) sev[k] = v as Severity | 'ignore';
    }
    s.severity = sev;
  }
  if (typeof r.imageChecks === 'boolean') s.imageChecks = r.imageChecks;
  if (typeof r.passphraseFile === 'string' && r.passphraseFile) s.passphraseFile = r.passphraseFile;
  if (typeof r.connection === 'string' && r.connection.trim()) s.connection = r.connection.trim();
  if (typeof r.pool === 'string' && r.pool.trim()) s.pool = r.pool.trim();
  return s;
}

/** Finds our section in a didChangeConfiguration / initializationOptions payload, in either shape. */
export function pickSection(payload: unknown): unknown {
  if (!payload || typeof payload !== 'object') return undefined;
  const p = payload as Record<string, unknown>;
  if (p[SECTION] && typeof p[SECTION] === 'object') return p[SECTION];
  if (p.settings && typeof p.settings === 'object') return pickSection(p.settings);
  // Flat dotted keys, as some clients send them: { "libvirtVolume.poolType": "dir" }.
  const flat: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) if (k.startsWith(SECTION + '.')) flat[k.slice(SECTION.length + 1)] = v;
  return Object.keys(flat).length ? flat : undefined;
}
