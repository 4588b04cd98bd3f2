// Host facts for the language service (issue 11, "Check against the host"): the secrets, pools
// and volumes of a libvirt host as one snapshot (service/types.ts HostFacts), gathered in three
// virsh runs, each one process holding many commands separated by `;` (virsh's own command-string
// syntax, tools/vsh.c vshCommandStringParse): names first, then every pool's and secret's XML,
// then the volumes' XML. A run per object would cost one connection (and an ssh login) each.
// Tool XML is read with service/xmlDom.ts parseToolXml, never with regular expressions.
import { randomBytes } from 'node:crypto';
import type { HostFacts, HostPool, HostSecret, HostVolume } from '../service/types';
import { childElements, parseToolXml } from '../service/xmlDom';
import { readPoolXml } from './pools';
import { HostError, QUERY_TIMEOUT_MS, virsh, type HostConnection } from './virsh';

/** Volumes whose XML (capacity, format) is read per refresh; past it only names and paths are known. */
export const MAX_VOLUME_XML = 2000;
/** The later runs move every pool's and volume's XML: more than a reachability query may need. */
const BULK_TIMEOUT_MS = 3 * QUERY_TIMEOUT_MS;

/** One argument quoted for virsh's command-string parser (single quotes, `'` as `'\''`, as in sh). */
export function virshQuote(arg: string): string {
  return `'${arg.replace(/'/g, "'\\''")}'`;
}

/**
 * Runs the commands in one virsh process; answers each command's stdout. Every command is
 * followed by `echo MARK` (a fresh random marker), so the output splits back per command, and
 * the run's last command is an echo: virsh's exit status is the last command's, so one failing
 * query (a pool removed meanwhile) does not fail the run; its section is empty.
 */
export async function virshBatch(
  conn: HostConnection,
  commands: string[][],
  signal?: AbortSignal,
  timeoutMs = QUERY_TIMEOUT_MS,
): Promise<string[]> {
  if (!commands.length) return [];
  const mark = `@@lv-${randomBytes(6).toString('hex')}@@`;
  const script = commands.map((c) => `${c.map(virshQuote).join(' ')}; echo ${mark}`).join('; ');
  let stdout: string;
  try {
    ({ stdout } = await virsh(conn, [script], { signal, timeoutMs }));
  } catch (e) {
    // virsh.ts names the call by its first argument: here the whole script, not worth a log line.
    if (e instanceof HostError) throw new HostError(e.code, e.message.split(script).join(`${commands[0][0]} …`));
    throw e;
  }
  const parts = stdout.split(`${mark}\n`);
  return commands.map((_, i) => parts[i] ?? '');
}

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

/** `vol-list --pool P` rows: name and path columns (vsh-table pads columns with at least 3 spaces). */
export function readVolList(out: string): { name: string; path: string }[] {
  return (tableRows(out) ?? []).flatMap((row) => {
    const m = /^ (.*?) {3,}(\S.*?)\s*$/.exec(row);
    return m ? [{ name: m[1].trim(), path: m[2] }] : [];
  });
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

/** `vol-dumpxml` (virStorageVolDefFormat): name, path, capacity in bytes, target format. */
export function readVolumeXml(xml: string): HostVolume | undefined {
  let root;
  try {
    root = parseToolXml(xml).documentElement;
  } catch {
    return undefined;
  }
  if (!root || root.nodeName !== 'volume') return undefined;
  const name = text(childElements(root, 'name')[0]);
  const target = childElements(root, 'target')[0];
  const path = text(target && childElements(target, 'path')[0]);
  if (name === undefined || path === undefined) return undefined;
  const cap = text(childElements(root, 'capacity')[0]);
  const format = target && childElements(target, 'format')[0]?.getAttribute('type');
  return { name, path, capacity: cap && /^\d+$/.test(cap) ? Number(cap) : undefined, format: format || undefined };
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
  const [all, inactive, secretList] = await virshBatch(
    conn,
    [['pool-list', '--all', '--name'], ['pool-list', '--inactive', '--name'], ['secret-list']],
    signal,
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
  const out = await virshBatch(conn, second, signal, BULK_TIMEOUT_MS);
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
  const xmls = await virshBatch(
    conn,
    vols.map((v) => ['vol-dumpxml', '--', v.path]),
    signal,
    BULK_TIMEOUT_MS,
  );
  vols.forEach((v, i) => {
    const d = readVolumeXml(xmls[i]);
    if (d && d.path === v.path) Object.assign(v, d);
  });
  return { uri: conn.uri, secretsKnown: secretRows !== undefined, secrets, pools };
}
