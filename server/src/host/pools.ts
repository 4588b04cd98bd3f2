// Pools and volumes as libvirt reports them: `pool-dumpxml` / `vol-dumpxml` / `secret-dumpxml`
// read with the strict tool-XML parser (service/xmlDom.ts), never with regular expressions.
import type { Element } from '@xmldom/xmldom';
import { childElements, parseToolXml } from '../service/xmlDom';
import { HostError, virsh, type HostConnection } from './virsh';

export interface PoolInfo {
  name: string;
  type: string;
  active: boolean;
  /** Bytes, as libvirt's <capacity unit='bytes'> etc. (virStoragePoolDefFormat). */
  capacity?: number;
  allocation?: number;
  available?: number;
  targetPath?: string;
}

const child = (el: Element | undefined, name: string): Element | undefined =>
  el ? childElements(el, name)[0] : undefined;
const text = (el: Element | undefined): string | undefined => el?.textContent?.trim() || undefined;
const bytes = (el: Element | undefined): number | undefined => {
  const t = text(el);
  return t !== undefined && /^\d+$/.test(t) ? Number(t) : undefined;
};

function toolXml(what: string, xml: string): Element {
  try {
    return parseToolXml(xml).documentElement!;
  } catch (e) {
    throw new HostError('libvirt', `${what}: unreadable XML from virsh: ${(e as Error).message}`);
  }
}

/** Reads `virsh pool-dumpxml` output. */
export function readPoolXml(xml: string, active: boolean): PoolInfo {
  const root = toolXml('pool-dumpxml', xml);
  return {
    name: text(child(root, 'name')) ?? '',
    type: root.getAttribute('type') ?? '',
    active,
    capacity: bytes(child(root, 'capacity')),
    allocation: bytes(child(root, 'allocation')),
    available: bytes(child(root, 'available')),
    targetPath: text(child(child(root, 'target'), 'path')),
  };
}

const names = (stdout: string): string[] =>
  stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

/** One pool (libvirt's own error when it does not exist). */
export async function poolInfo(conn: HostConnection, pool: string, signal?: AbortSignal): Promise<PoolInfo> {
  // Side by side: each virsh call is a connection of its own (an ssh login for a remote host).
  const [xml, list] = await Promise.all([
    virsh(conn, ['pool-dumpxml', '--', pool], { signal }),
    virsh(conn, ['pool-list', '--inactive', '--name'], { signal }),
  ]);
  return readPoolXml(xml.stdout, !names(list.stdout).includes(pool));
}

/** Every pool of the host, `default` first (the pool a user most likely wants), then by name. */
export async function listPools(conn: HostConnection, signal?: AbortSignal): Promise<PoolInfo[]> {
  const all = names((await virsh(conn, ['pool-list', '--all', '--name'], { signal })).stdout);
  const inactive = new Set(names((await virsh(conn, ['pool-list', '--inactive', '--name'], { signal })).stdout));
  const pools: PoolInfo[] = [];
  for (const name of all) {
    const xml = await virsh(conn, ['pool-dumpxml', '--', name], { signal });
    pools.push(readPoolXml(xml.stdout, !inactive.has(name)));
  }
  return pools.sort((a, b) => (a.name === 'default' ? -1 : b.name === 'default' ? 1 : a.name.localeCompare(b.name)));
}

/**
 * Whether a volume of that name exists in the pool. `vol-path` only looks the name up
 * (storage_driver.c storageVolGetPath); `vol-info` would refresh the volume first and answer
 * "not found" for one still being allocated, whose file does not exist yet.
 */
export async function volumeExists(
  conn: HostConnection,
  pool: string,
  name: string,
  signal?: AbortSignal,
): Promise<boolean> {
  try {
    await virsh(conn, ['vol-path', '--pool', pool, '--', name], { signal });
    return true;
  } catch (e) {
    if (e instanceof HostError && e.code === 'libvirt' && /Storage volume not found/i.test(e.message)) {
      return false;
    }
    throw e;
  }
}

export interface SecretUsage {
  uuid: string;
  usageType?: string;
  usageId?: string;
}

/** The secret with that uuid (`secret-dumpxml`), or undefined when the host has none. */
export async function findSecret(
  conn: HostConnection,
  uuid: string,
  signal?: AbortSignal,
): Promise<SecretUsage | undefined> {
  let xml: string;
  try {
    xml = (await virsh(conn, ['secret-dumpxml', '--', uuid], { signal })).stdout;
  } catch (e) {
    if (e instanceof HostError && e.code === 'libvirt' && /Secret not found/i.test(e.message)) return undefined;
    throw e;
  }
  const root = toolXml('secret-dumpxml', xml);
  const usage = child(root, 'usage');
  const type = usage?.getAttribute('type') ?? undefined;
  // virSecretDefFormatUsage: <volume>, <name> or <target> by usage type.
  const id = text(child(usage, 'volume')) ?? text(child(usage, 'name')) ?? text(child(usage, 'target'));
  return { uuid, usageType: type, usageId: id };
}
