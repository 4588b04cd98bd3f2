// The internal snapshot table of a qcow2 image (docs/interop/qcow2.txt "Snapshots"), read as qemu's
// qcow2_read_snapshots reads it, with every offset and length checked against the file before it
// is used: nb_snapshots (header bytes 60-63) entries from snapshots_offset (64-71), each entry a
// 40-byte fixed part (L1 table offset and size, id and name lengths, dates, VM state size, extra
// data size), its extra data (the 64-bit VM state size, the snapshot's virtual disk size, icount),
// the id and name (not NUL-terminated), padded to a multiple of 8 bytes. A corrupt table is an error
// naming the table, the entry and the offset. find() is block/qcow2-snapshot.c
// find_snapshot_by_id_and_name; byIdOrName() is bdrv_snapshot_load_tmp_by_id_or_name (the id
// first, then the name).
import { QCOW2_HEADER } from '../qcow2Format';
import { at, corrupt, type BoundedFile } from './source';

/** qemu's QCOW_MAX_SNAPSHOTS (block/qcow2.h). */
export const MAX_SNAPSHOTS = 65536;
/** qemu's QCOW_MAX_SNAPSHOTS_SIZE: the whole table at most 64 MiB. */
const MAX_TABLE_BYTES = 1024 * MAX_SNAPSHOTS;
/** qemu's QCOW_MAX_SNAPSHOT_EXTRA_DATA. */
const MAX_EXTRA = 1024;
/** qemu's QCOW_MAX_L1_SIZE in entries (32 MiB of 8-byte entries). */
const MAX_L1_ENTRIES = 0x2000000 / 8;
const FIXED = 40;

export interface Qcow2Snapshot {
  /** The unique id (qemu numbers them 1, 2, …) and the name (tag), as stored (bytes). */
  id: Uint8Array;
  name: Uint8Array;
  l1TableOffset: number;
  l1Size: number;
  /** The snapshot's virtual disk size, when its extra data holds it (qemu writes it since 1.x). */
  diskSize?: number;
  /** The table entry's offset in the file (for messages). */
  entryOffset: number;
}

/** Index of the snapshot, as find_snapshot_by_id_and_name: both given must match; -1 when none. */
export function findSnapshot(list: readonly Qcow2Snapshot[], id?: string, name?: string): number {
  if (id === undefined && name === undefined) return -1;
  const eq = (b: Uint8Array, s: string) => Buffer.from(b).equals(Buffer.from(s, 'utf8'));
  return list.findIndex((s) => (id === undefined || eq(s.id, id)) && (name === undefined || eq(s.name, name)));
}

/** bdrv_snapshot_load_tmp_by_id_or_name: the id first, then the name. */
export function findSnapshotByIdOrName(list: readonly Qcow2Snapshot[], idOrName: string): number {
  const i = findSnapshot(list, idOrName);
  return i >= 0 ? i : findSnapshot(list, undefined, idOrName);
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3];
}
function u64(b: Uint8Array, o: number): number | undefined {
  const hi = u32(b, o),
    lo = u32(b, o + 4);
  return hi >= 0x200000 ? undefined : hi * 2 ** 32 + lo;
}

/** Reads the snapshot table of the qcow2 `file` (cluster size from its header). */
export async function readSnapshotTable(file: BoundedFile, clusterSize: number): Promise<Qcow2Snapshot[]> {
  const bad = (m: string) => corrupt(file.path, m);
  const h = await file.read(0, 72, 'qcow2 header');
  const count = u32(h, QCOW2_HEADER.nbSnapshots[0]);
  if (count === 0) return [];
  const tableOffset = u64(h, QCOW2_HEADER.snapshotsOffset[0]);
  if (count > MAX_SNAPSHOTS) throw bad(`snapshot table: too many snapshots (${count}, at most ${MAX_SNAPSHOTS})`);
  if (tableOffset === undefined || tableOffset === 0 || tableOffset % clusterSize !== 0) {
    throw bad(`snapshot table offset ${tableOffset === undefined ? 'beyond 2^53' : at(tableOffset)} is invalid`);
  }
  const out: Qcow2Snapshot[] = [];
  let o = tableOffset;
  for (let i = 0; i < count; i++) {
    const what = `snapshot table entry ${i}`;
    const where = `${what} at offset ${at(o)}`;
    if (o - tableOffset + FIXED > MAX_TABLE_BYTES) throw bad(`snapshot table is too big (entry ${i})`);
    const f = await file.read(o, FIXED, what);
    const l1TableOffset = u64(f, 0);
    const l1Size = u32(f, 8);
    const idSize = (f[12] << 8) | f[13],
      nameSize = (f[14] << 8) | f[15];
    const extraSize = u32(f, 36);
    if (extraSize > MAX_EXTRA) throw bad(`${where}: ${extraSize} bytes of extra data (at most ${MAX_EXTRA})`);
    const rest = await file.read(o + FIXED, extraSize + idSize + nameSize, what);
    const diskSize = extraSize >= 16 ? u64(rest, 8) : undefined;
    if (extraSize >= 16 && diskSize === undefined) throw bad(`${where}: disk size beyond 2^53`);
    if (l1TableOffset === undefined || l1TableOffset % clusterSize !== 0) {
      throw bad(`${where}: L1 table offset ${l1TableOffset === undefined ? 'beyond 2^53' : at(l1TableOffset)} invalid`);
    }
    if (l1Size > MAX_L1_ENTRIES) throw bad(`${where}: L1 table of ${l1Size} entries is too large`);
    file.check(l1TableOffset, l1Size * 8, `L1 table of ${what}`);
    out.push({
      id: rest.slice(extraSize, extraSize + idSize),
      name: rest.slice(extraSize + idSize, extraSize + idSize + nameSize),
      l1TableOffset,
      l1Size,
      diskSize,
      entryOffset: o,
    });
    o += Math.ceil((FIXED + extraSize + idSize + nameSize) / 8) * 8;
    if (o - tableOffset > MAX_TABLE_BYTES) throw bad(`snapshot table is too big (entry ${i})`);
  }
  return out;
}
