// The volumes of a pool as libvirt reports them, for the editor's pools view and any LSP client:
// `vol-list` names them (virsh 9.0's vol-list has no --name: its table is read), then one virsh
// process runs every `vol-dumpxml` (a ';'-separated command string, tools/vsh.c
// vshCommandStringParse), whose XML is read with the strict tool-XML parser (service/xmlDom.ts).
import type { Element } from '@xmldom/xmldom';
import { childElements, parseToolXml } from '../service/xmlDom';
import { HostError, libvirtMessage, virsh, virshBatch, type HostConnection } from './virsh';

export interface VolumeInfo {
  name: string;
  /** target/path: the file, device or URL a domain's <disk> names. */
  path?: string;
  /** Bytes (virStorageVolDefFormat writes unit='bytes'). */
  capacity?: number;
  allocation?: number;
  /** target/format type (raw, qcow2, …); absent for pools without formats. */
  format?: string;
  /** target/encryption present (luks, or legacy qcow). */
  encrypted: boolean;
  /** The vol-dumpxml of a listed name failed (removed meanwhile, say): libvirt's message. */
  error?: string;
}

const child = (el: Element | undefined, name: string): Element | undefined =>
  el ? childElements(el, name)[0] : undefined;
const text = (el: Element | undefined): string | undefined => el?.textContent ?? undefined;
const bytes = (el: Element | undefined): number | undefined => {
  const t = el?.textContent?.trim();
  return t !== undefined && /^\d+$/.test(t) ? Number(t) : undefined;
};

/** Reads one `virsh vol-dumpxml` document. */
export function readVolumeInfo(xml: string): VolumeInfo {
  let root: Element;
  try {
    root = parseToolXml(xml).documentElement!;
  } catch (e) {
    throw new HostError('libvirt', `vol-dumpxml: unreadable XML from virsh: ${(e as Error).message}`);
  }
  const target = child(root, 'target');
  return {
    name: text(child(root, 'name')) ?? '',
    path: text(child(target, 'path')) || undefined,
    capacity: bytes(child(root, 'capacity')),
    allocation: bytes(child(root, 'allocation')),
    format: child(target, 'format')?.getAttribute('type') || undefined,
    encrypted: !!child(target, 'encryption'),
  };
}

/**
 * Terminal columns of a string as virsh pads its table cells (wcwidth in vshTableSafeEncode):
 * combining marks 0, East Asian wide and emoji 2, others 1. An estimate is enough: it only picks
 * between the places a row could be split.
 */
function columns(s: string): number {
  let n = 0;
  for (const c of s) {
    if (/[\p{Mn}\p{Me}\u200b]/u.test(c)) continue;
    const cp = c.codePointAt(0)!;
    const wide =
      (cp >= 0x1100 && cp <= 0x115f) ||
      (cp >= 0x2e80 && cp <= 0xa4cf) ||
      (cp >= 0xac00 && cp <= 0xd7a3) ||
      (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0xfe30 && cp <= 0xfe4f) ||
      (cp >= 0xff00 && cp <= 0xff60) ||
      (cp >= 0xffe0 && cp <= 0xffe6) ||
      (cp >= 0x1f300 && cp <= 0x1faff) ||
      (cp >= 0x20000 && cp <= 0x3fffd);
    n += wide ? 2 : 1;
  }
  return n;
}

/**
 * The rows of `virsh vol-list --pool P` (columns Name and Path, vshTable: a leading space, cells
 * padded to the column's width, three spaces between columns). A name may hold spaces, so a row
 * is split where its Path cell starts: among the places a run of three spaces ends, the one at the
 * header's Path column.
 */
export function volumeRows(table: string): { name: string; path?: string }[] {
  const lines = table.split('\n');
  const h = lines.findIndex((l) => /^\s*Name\s+Path\s*$/.test(l));
  if (h < 0 || !/^-+$/.test(lines[h + 1]?.trim() ?? '')) {
    throw new HostError('libvirt', `vol-list: no Name/Path table in virsh's answer: ${table.slice(0, 200)}`);
  }
  const pathColumn = columns(lines[h].slice(0, lines[h].indexOf('Path')));
  const rows: { name: string; path?: string }[] = [];
  for (const row of lines.slice(h + 2)) {
    if (!row.trim()) continue;
    let best = -1;
    for (let i = 4; i < row.length; i++) {
      if (row[i] === ' ' || row.slice(i - 3, i) !== '   ') continue;
      if (
        best < 0 ||
        Math.abs(columns(row.slice(0, i)) - pathColumn) < Math.abs(columns(row.slice(0, best)) - pathColumn)
      )
        best = i;
    }
    // No Path cell (a volume without a path): the whole row is the name.
    if (best < 0) rows.push({ name: row.slice(1).replace(/ +$/, '') });
    else rows.push({ name: row.slice(1, best - 3).replace(/ +$/, ''), path: row.slice(best).replace(/\s+$/, '') });
  }
  return rows;
}

/** The names of `virsh vol-list --pool P`, in its order. */
export function volumeNames(table: string): string[] {
  return volumeRows(table).map((r) => r.name);
}

/** Command strings stay well below Linux's 128 KiB limit of one argument (MAX_ARG_STRLEN). */
const BATCH = 200;

/** Every volume of a pool with its sizes, format and encryption, in vol-list's order. */
export async function listVolumes(conn: HostConnection, pool: string, signal?: AbortSignal): Promise<VolumeInfo[]> {
  const table = await virsh(conn, ['vol-list', '--pool', pool], { signal, utf8: true });
  const names = volumeNames(table.stdout);
  const out: VolumeInfo[] = [];
  for (let i = 0; i < names.length; i += BATCH) {
    const part = names.slice(i, i + BATCH);
    // A volume removed since vol-list answers nothing; virshBatch keeps the others' answers.
    const { stdout, stderr } = await virshBatch(
      conn,
      part.map((n) => ['vol-dumpxml', '--pool', pool, '--', n]),
      { signal, utf8: true },
    );
    part.forEach((n, j) => {
      const xml = stdout[j];
      out.push(
        xml.trim()
          ? readVolumeInfo(xml)
          : { name: n, encrypted: false, error: libvirtMessage(stderr) || 'vol-dumpxml answered nothing' },
      );
    });
  }
  return out;
}

/** `virsh vol-dumpxml --pool P -- NAME`: the volume's XML as libvirt formats it. */
export async function volumeXml(
  conn: HostConnection,
  pool: string,
  name: string,
  signal?: AbortSignal,
): Promise<string> {
  return (await virsh(conn, ['vol-dumpxml', '--pool', pool, '--', name], { signal, utf8: true })).stdout;
}
