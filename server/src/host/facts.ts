// Host facts for the language service (issue 11, "Check against the host"): the secrets, pools
// and volumes of a libvirt host as one snapshot (service/types.ts HostFacts), gathered in three
// virsh runs, each one process holding many commands separated by `;` (virsh's own command-string
// syntax, tools/vsh.c vshCommandStringParse): names first, then every pool's and secret's XML,
// then the volumes' XML. A run per object would cost one connection (and an ssh login) each.
// Tool XML is read with service/xmlDom.ts parseToolXml, never with regular expressions.
import type { HostFacts, HostPool, HostSecret, HostVolume } from '../service/types';
import { childElements, parseToolXml } from '../service/xmlDom';
import { readPoolXml } from './pools';
import { QUERY_TIMEOUT_MS, virshBatch, type HostConnection } from './virsh';
import { readVolumeInfo, volumeRows } from './volumes';

/** Volumes whose XML (capacity, format) is read per refresh; past it only names and paths are known. */
export const MAX_VOLUME_XML = 2000;
/** The later runs move every pool's and volume's XML: more than a reachability query may need. */
const BULK_TIMEOUT_MS = 3 * QUERY_TIMEOUT_MS;

const lines = (s: string): string[] =>
  s
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

/** The rows of a virsh table (tools/vsh-table.c): the lines after the `-----` rule; undefined without one. */
export function tableRows(out: string): string[] | undefined {
  const all = out.split('\n');
  const rule = all.findIndex((l) => /^-{4,}\s*$/.test(l));
  return rule < 0 ? undefined : all.slice(rule + 1).filter((l) => l.trim());
}

const text = (el: ReturnType<typeof childElements>[number] | undefined): string | undefined =>
  el?.textContent?.trim() || undefined;

/** `secret-dumpxml` (virSecretDefFormat): uuid, usage and flags; libvirt never prints the value here. */
export function readSecretXml(xml: string): HostSecret | undefined {
  let root;
  try {
    root = parseToolXml(xml).documentElement;
  } catch {
    return undefined;
  }
  if (!root || root.nodeName !== 'secret') return undefined;
  const uuid = text(childElements(root, 'uuid')[0]);
  if (!uuid) return undefined;
  const usage = childElements(root, 'usage')[0];
  const id = ['volume', 'name', 'target'].map((n) => text(usage && childElements(usage, n)[0])).find(Boolean);
  return {
    uuid: uuid.toLowerCase(),
    usageType: usage?.getAttribute('type') || undefined,
    usageId: id,
    ephemeral: root.getAttribute('ephemeral') === 'yes',
    private: root.getAttribute('private') === 'yes',
  };
}

/** `vol-dumpxml` (virStorageVolDefFormat) as the service's HostVolume; undefined when unreadable. */
export function readVolumeXml(xml: string): HostVolume | undefined {
  try {
    const v = readVolumeInfo(xml);
    if (!v.name || v.path === undefined) return undefined;
    return { name: v.name, path: v.path, capacity: v.capacity, format: v.format };
  } catch {
    return undefined;
  }
}

/** `vol-list --pool P` rows with a path; none when virsh printed no table (an error). */
function readVolList(out: string): HostVolume[] {
  try {
    return volumeRows(out).flatMap((r) => (r.path === undefined ? [] : [{ name: r.name, path: r.path }]));
  } catch {
    return [];
  }
}

/**
 * A libvirt URI that names no remote host: the daemon runs on this machine, so a path it would
 * open is one this process can stat (`qemu:///system`, `qemu+unix:///session?socket=…`, `test:///…`).
 */
export function isLocalUri(uri: string): boolean {
  const m = /^([a-z0-9.+-]+):\/\/([^/?]*)/i.exec(uri);
  if (!m) return false;
  const transport = m[1].split('+')[1];
  return m[2] === '' && (transport === undefined || transport === 'unix');
}

/** Everything the language service may ask about the host, as of now. */
export async function gatherHostFacts(conn: HostConnection, signal?: AbortSignal): Promise<HostFacts> {
  const {
    stdout: [all, inactive, secretList],
  } = await virshBatch(
    conn,
    [['pool-list', '--all', '--name'], ['pool-list', '--inactive', '--name'], ['secret-list']],
    { signal, utf8: true },
  );
  const poolNames = lines(all);
  const off = new Set(lines(inactive));
  // The test driver has no secret driver: no table at all, and nothing may be judged missing.
  const secretRows = tableRows(secretList);
  const uuids = (secretRows ?? []).map((r) => r.trim().split(/\s+/)[0]).filter(Boolean);
  const second: string[][] = [];
  for (const p of poolNames) {
    second.push(['pool-dumpxml', '--', p]);
    second.push(off.has(p) ? ['echo'] : ['vol-list', '--pool', p]);
  }
  for (const u of uuids) second.push(['secret-dumpxml', '--', u]);
  const { stdout: out } = await virshBatch(conn, second, { signal, timeoutMs: BULK_TIMEOUT_MS, utf8: true });
  const pools: HostPool[] = [];
  poolNames.forEach((name, i) => {
    const xml = out[2 * i];
    if (!xml.trim()) return; // undefined meanwhile
    let info;
    try {
      info = readPoolXml(xml, !off.has(name));
    } catch {
      return;
    }
    pools.push({
      name: info.name || name,
      type: info.type,
      active: info.active,
      path: info.targetPath,
      capacity: info.capacity,
      available: info.available,
      volumes: readVolList(out[2 * i + 1]),
    });
  });
  const secrets = uuids.flatMap((_, i) => readSecretXml(out[2 * poolNames.length + i]) ?? []);
  // Capacity and format of each volume, bounded (a pool of 10 000 images costs one run, not a stall).
  const vols = pools.flatMap((p) => p.volumes).slice(0, MAX_VOLUME_XML);
  const { stdout: xmls } = await virshBatch(
    conn,
    vols.map((v) => ['vol-dumpxml', '--', v.path]),
    { signal, timeoutMs: BULK_TIMEOUT_MS, utf8: true },
  );
  vols.forEach((v, i) => {
    const d = readVolumeXml(xmls[i]);
    if (d && d.path === v.path) Object.assign(v, d);
  });
  return { uri: conn.uri, secretsKnown: secretRows !== undefined, secrets, pools };
}
