// qcow2 metadata clusters as bytes, from the allocator's read-only layout (qcow2Layout.ts
// planQcow2): the header with its extensions (qcow2_update_header), refcount table and blocks,
// L1 and L2 tables, the LUKS header clusters. Every on-disk name is qcow2Format.ts's. Content is
// rendered cluster by cluster on demand, never held whole in memory.
import {
  QCOW2_AUTOCLEAR,
  QCOW2_COMPAT,
  QCOW2_COMPRESSION,
  QCOW2_CRYPTO_EXT_BYTES,
  QCOW2_EXT,
  QCOW2_EXT_HEADER_BYTES,
  QCOW2_FEATURE_ENTRY_BYTES,
  QCOW2_FEATURE_NAMES,
  QCOW2_HEADER as H,
  QCOW2_INCOMPAT,
  QCOW2_MAGIC,
  QCOW2_OFLAG_HI,
  QCOW2_V2_HEADER_LENGTH,
  QCOW2_V3_HEADER_LENGTH,
} from './qcow2Format';
import type { ClusterContent, Qcow2Layout, Qcow2LayoutInput } from './qcow2Layout';

const COPIED = BigInt(QCOW2_OFLAG_HI.copied) << 32n;
/** The value 1 as big-endian 16/32-bit words, read in the host's (little-endian) order. */
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const ONE_BE16 = LITTLE ? 0x0100 : 1;
const ONE_BE32 = LITTLE ? 0x01000000 : 1;
/** Swapped low words of L2 entries for every low-bit pattern (≤ 512 KiB, for clusters ≥ 64 KiB). */
const loTemplates = new Map<number, Int32Array>();
function loTemplate(bits: number): Int32Array {
  let t = loTemplates.get(bits);
  if (!t) {
    const n = 1 << (32 - bits);
    t = new Int32Array(2 * n);
    for (let x = 0; x < n; x++) t[2 * x + 1] = bswapI32(x << bits);
    loTemplates.set(bits, t);
  }
  return t;
}

/** Byte swap of an int32, staying in int32 (no doubles in the hot loop). */
function bswapI32(x: number): number {
  return (x << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

export class Qcow2Renderer {
  constructor(private readonly p: Qcow2Layout) {}

  /** The header cluster (qcow2_update_header). */
  renderHeader(out: Uint8Array): void {
    const p = this.p;
    renderQcow2Header(out, {
      input: p.input,
      cs: p.cs,
      bits: p.bits,
      cryptMethod: p.cryptMethod,
      l1Size: p.l1Size,
      l1Offset: p.l1Size ? p.l1Cluster * p.cs : 0,
      reftableOffset: p.reftableCluster * p.cs,
      reftableClusters: p.reftableClusters,
      cryptoHeader: p.cryptoHeader,
    });
  }

  /** Bytes one header cluster needs (for the "does the backing name fit" check). */
  headerBytesNeeded(): number {
    return qcow2HeaderBytesNeeded(this.p.input, this.p.cs);
  }

  private coversWholeCluster(c: ClusterContent): boolean {
    if (c.kind === 'l2') {
      const runs = this.p.l2Runs.get(c.l1Index);
      return !!runs && runs.reduce((n, r) => n + r.count, 0) === this.p.l2Entries && this.p.l2EntryBytes === 8;
    }
    const rb = this.p.input.refcountBits;
    if (c.kind === 'refblock' && (rb === 16 || rb === 32 || rb === 8)) {
      const first = c.index * this.p.rbEntries;
      let n = 0;
      for (const [a, b] of this.p.allocatedWithin(first, first + this.p.rbEntries)) n += b - a;
      return n === this.p.rbEntries;
    }
    return false;
  }

  /** Fills `out` (one cluster) with the content of `cluster`. `crypto` gives the LUKS header bytes. */
  renderCluster(cluster: number, out: Uint8Array, crypto?: Uint8Array): void {
    const c = this.p.contents.get(cluster);
    // Skip clearing what is about to be overwritten whole (preallocated L2 tables and refcount
    // blocks of a large image are full: 168 MB of memset saved for 1 TiB).
    if (!c || !this.coversWholeCluster(c)) out.fill(0);
    if (!c) return;
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    switch (c.kind) {
      case 'header':
        this.renderHeader(out);
        return;
      case 'reftable': {
        const per = this.p.cs / 8;
        for (let i = 0; i < per; i++) {
          const e = c.table[c.part * per + i];
          if (e) v.setBigUint64(i * 8, BigInt(e) * BigInt(this.p.cs));
        }
        return;
      }
      case 'refblock': {
        // Refcounts are 0 or 1 at creation: whole ranges are filled at once (big-endian 1s).
        const first = c.index * this.p.rbEntries;
        const rb = this.p.input.refcountBits;
        const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
        const aligned = out.byteOffset % 8 === 0;
        const u16 = () => new Uint16Array(out.buffer, out.byteOffset, out.byteLength / 2);
        const u32 = () => new Uint32Array(out.buffer, out.byteOffset, out.byteLength / 4);
        for (const [a, b] of this.p.allocatedWithin(first, first + this.p.rbEntries)) {
          const lo = a - first,
            hi = b - first;
          if (rb === 8) bytes.fill(1, lo, hi);
          else if (rb === 16 && aligned) u16().fill(ONE_BE16, lo, hi);
          else if (rb === 32 && aligned) u32().fill(ONE_BE32, lo, hi);
          else {
            for (let k = lo; k < hi; k++) {
              if (rb === 16) v.setUint16(k * 2, 1);
              else if (rb === 32) v.setUint32(k * 4, 1);
              else if (rb === 64) bytes[k * 8 + 7] = 1;
              else bytes[(k * rb) >> 3] |= 1 << ((k * rb) & 7); // LSB first within a byte
            }
          }
        }
        return;
      }
      case 'l2': {
        const runs = this.p.l2Runs.get(c.l1Index) ?? [];
        const words = this.p.l2EntryBytes / 4;
        // Entries are big-endian (host offset | COPIED): on a little-endian host, byte-swapped
        // 32-bit halves computed with int32 arithmetic only (16 Mi entries for 1 TiB).
        const fast = LITTLE && out.byteOffset % 4 === 0 && runs.every((r) => r.host + r.count < 2 ** 31);
        if (fast) {
          const i32 = new Int32Array(out.buffer, out.byteOffset, out.byteLength >> 2);
          const bits = this.p.bits;
          const tmpl = words === 2 && bits >= 16 ? loTemplate(bits) : undefined;
          for (const r of runs) {
            let w = r.index * words;
            if (tmpl) {
              // The swapped low word depends only on the low 32 - bits bits of the cluster
              // number: copy it from a template, then store the high word.
              const mask = (1 << (32 - bits)) - 1;
              for (let h = r.host, end = r.host + r.count; h < end;) {
                const x = h & mask;
                const n = Math.min(end - h, mask + 1 - x);
                i32.set(tmpl.subarray(2 * x, 2 * (x + n)), w);
                const hiSwapped = bswapI32((h >>> (32 - bits)) | QCOW2_OFLAG_HI.copied);
                for (let k = 0; k < n; k++) i32[w + 2 * k] = hiSwapped;
                w += 2 * n;
                h += n;
              }
              continue;
            }
            let hiSrc = -1,
              hiSwapped = 0;
            for (let h = r.host, end = r.host + r.count; h < end; h++, w += words) {
              const hi = h >>> (32 - bits);
              if (hi !== hiSrc) {
                hiSrc = hi;
                hiSwapped = bswapI32(hi | QCOW2_OFLAG_HI.copied);
              }
              i32[w] = hiSwapped;
              i32[w + 1] = bswapI32(h << bits);
            }
          }
        } else {
          for (const r of runs) {
            let hostByte = r.host * this.p.cs;
            for (let k = 0; k < r.count; k++) {
              const o = (r.index + k) * this.p.l2EntryBytes;
              v.setUint32(o, (Math.floor(hostByte / 2 ** 32) | QCOW2_OFLAG_HI.copied) >>> 0);
              v.setUint32(o + 4, hostByte >>> 0);
              hostByte += this.p.cs;
            }
          }
        }
        return;
      }
      case 'crypto':
        if (crypto) {
          const from = c.part * this.p.cs;
          if (from < crypto.length) out.set(crypto.subarray(from, Math.min(crypto.length, from + this.p.cs)));
        }
        return;
      case 'zero':
        return;
    }
  }

  /**
   * The L1 table bytes [first, first+count) entries — qemu writes l1Size × 8 bytes exactly (not
   * cluster-padded); callers render it in pieces so that a 32 MiB table never sits in memory.
   */
  renderL1(first: number, count: number, out: Uint8Array): void {
    out.fill(0, 0, count * 8);
    const v = new DataView(out.buffer, out.byteOffset, count * 8);
    for (const [i, c] of this.p.l1) {
      if (i >= first && i < first + count) v.setBigUint64((i - first) * 8, (BigInt(c) * BigInt(this.p.cs)) | COPIED);
    }
  }

  /** Metadata clusters in ascending order (the L1 clusters are separate: renderL1). */
  metadataClusters(): number[] {
    return [...this.p.contents.keys()].sort((a, b) => a - b);
  }
}

/** What the header cluster says: the layout's fields (create) or a streamed image's (convert). */
export interface Qcow2HeaderFields {
  input: Pick<
    Qcow2LayoutInput,
    | 'version'
    | 'size'
    | 'dataFile'
    | 'dataFileRaw'
    | 'compressionType'
    | 'extendedL2'
    | 'lazyRefcounts'
    | 'refcountBits'
    | 'backingFile'
    | 'backingFmt'
    | 'encryption'
  >;
  cs: number;
  bits: number;
  cryptMethod: number;
  l1Size: number;
  l1Offset: number;
  reftableOffset: number;
  reftableClusters: number;
  cryptoHeader?: Readonly<{ offset: number; length: number }>;
}

/** The header cluster (qcow2_update_header). */
export function renderQcow2Header(out: Uint8Array, h: Qcow2HeaderFields): void {
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const inp = h.input;
  out.fill(0);
  v.setUint32(H.magic[0], QCOW2_MAGIC);
  v.setUint32(H.version[0], inp.version);
  v.setUint32(H.clusterBits[0], h.bits);
  v.setBigUint64(H.size[0], BigInt(inp.size));
  v.setUint32(H.cryptMethod[0], h.cryptMethod);
  v.setUint32(H.l1Size[0], h.l1Size);
  v.setBigUint64(H.l1TableOffset[0], BigInt(h.l1Offset));
  v.setBigUint64(H.refcountTableOffset[0], BigInt(h.reftableOffset));
  v.setUint32(H.refcountTableClusters[0], h.reftableClusters);
  let p: number = QCOW2_V2_HEADER_LENGTH;
  if (inp.version === 3) {
    let incompat = 0;
    if (inp.dataFile) incompat |= QCOW2_INCOMPAT.dataFile;
    if (inp.compressionType !== 'zlib') incompat |= QCOW2_INCOMPAT.compression;
    if (inp.extendedL2) incompat |= QCOW2_INCOMPAT.extendedL2;
    v.setBigUint64(H.incompatibleFeatures[0], BigInt(incompat));
    v.setBigUint64(H.compatibleFeatures[0], BigInt(inp.lazyRefcounts ? QCOW2_COMPAT.lazyRefcounts : 0));
    v.setBigUint64(H.autoclearFeatures[0], BigInt(inp.dataFileRaw ? QCOW2_AUTOCLEAR.dataFileRaw : 0));
    v.setUint32(H.refcountOrder[0], Math.log2(inp.refcountBits));
    v.setUint32(H.headerLength[0], QCOW2_V3_HEADER_LENGTH);
    out[H.compressionType[0]] = QCOW2_COMPRESSION[inp.compressionType];
    p = QCOW2_V3_HEADER_LENGTH;
  }
  const enc = new TextEncoder();
  const EH = QCOW2_EXT_HEADER_BYTES;
  const ext = (type: number, data: Uint8Array): void => {
    v.setUint32(p, type);
    v.setUint32(p + 4, data.length);
    out.set(data, p + EH);
    p += EH + Math.ceil(data.length / 8) * 8;
  };
  if (inp.backingFmt !== undefined && inp.backingFile !== undefined) {
    ext(QCOW2_EXT.backingFormat, enc.encode(inp.backingFmt));
  }
  if (inp.dataFile !== undefined) ext(QCOW2_EXT.dataFile, enc.encode(inp.dataFile));
  if (h.cryptoHeader) {
    const d = new Uint8Array(QCOW2_CRYPTO_EXT_BYTES);
    const dv = new DataView(d.buffer);
    dv.setBigUint64(0, BigInt(h.cryptoHeader.offset));
    dv.setBigUint64(8, BigInt(h.cryptoHeader.length));
    ext(QCOW2_EXT.cryptoHeader, d);
  }
  // Feature name table: v3 only, and not for clusters ≤ 4 KiB (it would crowd out the backing name).
  if (inp.version === 3 && h.cs > 4096) {
    const FE = QCOW2_FEATURE_ENTRY_BYTES;
    const d = new Uint8Array(QCOW2_FEATURE_NAMES.length * FE);
    QCOW2_FEATURE_NAMES.forEach(([type, bit, name], i) => {
      d[i * FE] = type;
      d[i * FE + 1] = bit;
      d.set(enc.encode(name), i * FE + 2);
    });
    ext(QCOW2_EXT.featureTable, d);
  }
  p += EH; // end of extensions (zeros)
  if (inp.backingFile !== undefined) {
    const name = enc.encode(inp.backingFile);
    out.set(name, p);
    v.setBigUint64(H.backingFileOffset[0], BigInt(p));
    v.setUint32(H.backingFileSize[0], name.length);
  }
}

/** Bytes one header cluster needs (for the "does the backing name fit" check). */
export function qcow2HeaderBytesNeeded(inp: Qcow2HeaderFields['input'], cs: number): number {
  const enc = new TextEncoder();
  const pad = (n: number) => QCOW2_EXT_HEADER_BYTES + Math.ceil(n / 8) * 8;
  let p = inp.version === 3 ? QCOW2_V3_HEADER_LENGTH : QCOW2_V2_HEADER_LENGTH;
  if (inp.backingFmt !== undefined && inp.backingFile !== undefined) p += pad(enc.encode(inp.backingFmt).length);
  if (inp.dataFile !== undefined) p += pad(enc.encode(inp.dataFile).length);
  if (inp.encryption?.headerLength) p += pad(QCOW2_CRYPTO_EXT_BYTES);
  if (inp.version === 3 && cs > 4096) p += pad(QCOW2_FEATURE_NAMES.length * QCOW2_FEATURE_ENTRY_BYTES);
  p += QCOW2_EXT_HEADER_BYTES;
  if (inp.backingFile !== undefined) p += enc.encode(inp.backingFile).length;
  return p;
}
