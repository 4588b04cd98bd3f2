// The one qcow2 header decoder: the header bytes (the first cluster, or as much of it as was read)
// as typed fields, the header extensions and the names stored in the file. Pure and total: it
// judges nothing and never reads past the bytes it is given. Its two users apply their own policy:
// the image reader (reader/qcow2Layer.ts readQcow2Header) refuses what qemu's qcow2_do_open
// refuses, with qemu's messages; probe.ts reports facts and warnings for `info` and the editor.
// Layout: qemu docs/interop/qcow2.txt, block/qcow2.h QCowHeader, field positions from qcow2Format.ts.
import { be32, be64 } from '../common/bytes';
import { QCOW2_EXT, QCOW2_EXT_HEADER_BYTES, QCOW2_HEADER as H, QCOW2_V2_HEADER_LENGTH } from './qcow2Format';

/** The header's fields; version 3's are version 2's defaults when the bytes do not hold them. */
export interface Qcow2HeaderFields {
  magic: number;
  version: number;
  backingFileOffset: number;
  backingFileSize: number;
  clusterBits: number;
  size: number;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  /** Incompatible feature bits: the high word (no bit defined there) and the low word. */
  incompatibleHigh: number;
  incompatible: number;
  /** Low words of the compatible and autoclear feature bits (the only ones qemu defines). */
  compatible: number;
  autoclear: number;
  refcountOrder: number;
  headerLength: number;
  /** The compression_type byte, when header_length covers it. */
  compressionType?: number;
}

function field(b: Uint8Array, [o, n]: readonly [number, number]): number {
  return n === 8 ? be64(b, o) : be32(b, o);
}

/** Decodes a qcow2 header from `b` (at least QCOW2_V2_HEADER_LENGTH bytes). */
export function decodeQcow2Header(b: Uint8Array): Qcow2HeaderFields {
  const f: Qcow2HeaderFields = {
    magic: field(b, H.magic),
    version: field(b, H.version),
    backingFileOffset: field(b, H.backingFileOffset),
    backingFileSize: field(b, H.backingFileSize),
    clusterBits: field(b, H.clusterBits),
    size: field(b, H.size),
    cryptMethod: field(b, H.cryptMethod),
    l1Size: field(b, H.l1Size),
    l1TableOffset: field(b, H.l1TableOffset),
    refcountTableOffset: field(b, H.refcountTableOffset),
    refcountTableClusters: field(b, H.refcountTableClusters),
    nbSnapshots: field(b, H.nbSnapshots),
    incompatibleHigh: 0,
    incompatible: 0,
    compatible: 0,
    autoclear: 0,
    refcountOrder: 4,
    headerLength: QCOW2_V2_HEADER_LENGTH,
  };
  const ct = H.compressionType[0];
  if (f.version >= 3 && b.length >= ct) {
    f.incompatibleHigh = be32(b, H.incompatibleFeatures[0]);
    f.incompatible = be32(b, H.incompatibleFeatures[0] + 4);
    f.compatible = be32(b, H.compatibleFeatures[0] + 4);
    f.autoclear = be32(b, H.autoclearFeatures[0] + 4);
    f.refcountOrder = field(b, H.refcountOrder);
    f.headerLength = field(b, H.headerLength);
    if (f.headerLength > ct && b.length > ct) f.compressionType = b[ct];
  }
  return f;
}

/**
 * Where the header extensions lie (qcow2_do_open): after the header (version 2: 72 bytes) up to
 * the backing file name, or the end of `available` bytes (the first cluster) when there is none.
 */
export function qcow2ExtensionArea(f: Qcow2HeaderFields, available: number): { start: number; end: number } {
  const start = f.version >= 3 ? f.headerLength : QCOW2_V2_HEADER_LENGTH;
  const backing = f.backingFileOffset;
  return { start, end: backing && backing < available ? backing : available };
}

export interface Qcow2Extension {
  type: number;
  /** Offset of the extension's own 8-byte header. */
  at: number;
  length: number;
  /** The data; undefined when it runs past the end of the area (the walk stops there). */
  data?: Uint8Array;
}

/** The header extensions, {u32 type, u32 length, data padded to 8}, until the end marker or the area's end. */
export function* qcow2Extensions(b: Uint8Array, area: { start: number; end: number }): Generator<Qcow2Extension> {
  const end = Math.min(area.end, b.length);
  for (let o = area.start; o + QCOW2_EXT_HEADER_BYTES <= end;) {
    const type = be32(b, o),
      length = be32(b, o + 4);
    if (type === QCOW2_EXT.end) return;
    const data = o + QCOW2_EXT_HEADER_BYTES;
    if (data + length > end) {
      yield { type, at: o, length };
      return;
    }
    yield { type, at: o, length, data: b.subarray(data, data + length) };
    o = data + Math.ceil(length / 8) * 8;
  }
}

/**
 * A name stored in the header (backing file, backing format, data file): a C string, as qemu reads
 * it (up to the first NUL byte), in UTF-8 as qcow2Render.ts writes it and as Node opens a path.
 */
export function headerName(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return Buffer.from(nul < 0 ? b : b.subarray(0, nul)).toString('utf8');
}
