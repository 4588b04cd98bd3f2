// Where qemu-img 7.2 puts every qcow2 metadata cluster, and what each one holds.
//
// qemu's create path (block/qcow2.c qcow2_co_create) is: write a header cluster and a one-cluster
// refcount table pointing at one empty refcount block (clusters 0, 1, 2); open the image; allocate
// clusters 0–2; rewrite the header with its extensions; truncate to the virtual size (grow the L1
// table, and preallocate per mode); set the backing file; set up encryption. Every allocation goes
// through the refcount code in block/qcow2-refcount.c (alloc_clusters_noref, update_refcount,
// alloc_refcount_block, qcow2_refcount_area, qcow2_alloc_clusters_at) and, for preallocation,
// block/qcow2-cluster.c (qcow2_alloc_host_offset, handle_alloc, l2_allocate). The placement those
// functions produce — including refcount blocks that land in the middle of data, retries after a
// new refcount block (-EAGAIN), and the refcount table moving when it grows — is reproduced here
// on cluster ranges, not per cluster, so that a 1 TiB metadata preallocation is planned in
// milliseconds. Content is then rendered cluster by cluster from the final state, never held
// whole in memory. Layout facts checked against qemu-img 7.2 output byte for byte (test/writer).
//
// Hook for encryption (LUKS in qcow2, issue 5): `encryption.headerLength` bytes are allocated as
// clusters after everything else, zero-filled, with the provider's header bytes at their start,
// the crypto header extension (0x0537be77) and crypt_method set — as qcow2_set_up_encryption does.

export interface Qcow2LayoutInput {
  /** Virtual size in bytes (a multiple of 512). */
  size: number;
  clusterSize: number;
  version: 2 | 3;
  refcountBits: number;
  extendedL2: boolean;
  lazyRefcounts: boolean;
  compressionType: 'zlib' | 'zstd';
  preallocation: 'off' | 'metadata' | 'falloc' | 'full';
  /** External data file name as stored in the header (data clusters then live there, guest offset = host offset). */
  dataFile?: string;
  dataFileRaw: boolean;
  backingFile?: string;
  backingFmt?: string;
  /** qcow2 crypt_method (1 AES, 2 LUKS) and the LUKS header area length, when encrypted. */
  encryption?: { cryptMethod: 1 | 2; headerLength: number };
}

/** What a cluster holds at the end (later writes replace earlier ones, as on disk). */
type ClusterContent =
  | { kind: 'header' }
  | { kind: 'reftable'; table: number[]; part: number }
  | { kind: 'refblock'; index: number }
  | { kind: 'l2'; l1Index: number }
  | { kind: 'crypto'; part: number }
  | { kind: 'zero' };

const COPIED = 2n ** 63n;
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

/** Disjoint, sorted, merged [start, end) ranges of cluster indices with refcount 1. */
class Ranges {
  private s: number[] = [];
  private e: number[] = [];

  /** Index of the first range whose end is > c. */
  private upper(c: number): number {
    let lo = 0, hi = this.e.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.e[mid] > c) hi = mid; else lo = mid + 1;
    }
    return lo;
  }

  has(c: number): boolean {
    const i = this.upper(c);
    return i < this.s.length && this.s[i] <= c;
  }

  /** First position ≥ from where `n` consecutive free clusters start. */
  firstFreeRun(from: number, n: number): number {
    let pos = from;
    let i = this.upper(pos);
    for (;;) {
      if (i < this.s.length && this.s[i] <= pos) { pos = this.e[i]; i++; continue; }
      if (i >= this.s.length || this.s[i] - pos >= n) return pos;
      pos = this.e[i];
      i++;
    }
  }

  /** Number of free clusters starting at c, up to n. */
  freeFrom(c: number, n: number): number {
    const i = this.upper(c);
    if (i < this.s.length && this.s[i] <= c) return 0;
    if (i >= this.s.length) return n;
    return Math.min(n, this.s[i] - c);
  }

  add(a: number, b: number): void {
    if (a >= b) return;
    const i = this.upper(a - 1); // first range with end ≥ a (touching merges)
    let ns = a, ne = b;
    let j = i;
    while (j < this.s.length && this.s[j] <= b) {
      ns = Math.min(ns, this.s[j]);
      ne = Math.max(ne, this.e[j]);
      j++;
    }
    this.s.splice(i, j - i, ns);
    this.e.splice(i, j - i, ne);
  }

  remove(a: number, b: number): void {
    if (a >= b) return;
    const outS: number[] = [], outE: number[] = [];
    const i = this.upper(a);
    let j = i;
    while (j < this.s.length && this.s[j] < b) {
      if (this.s[j] < a) { outS.push(this.s[j]); outE.push(a); }
      if (this.e[j] > b) { outS.push(b); outE.push(this.e[j]); }
      j++;
    }
    this.s.splice(i, j - i, ...outS);
    this.e.splice(i, j - i, ...outE);
  }

  /** Largest allocated cluster < limit, or -1. */
  lastBelow(limit: number): number {
    const i = this.upper(limit - 1); // ranges before i end at or below limit - 1
    if (i < this.s.length && this.s[i] <= limit - 1) return limit - 1;
    return i > 0 ? this.e[i - 1] - 1 : -1;
  }

  /** Ranges intersecting [a, b), clipped. */
  *within(a: number, b: number): Generator<[number, number]> {
    for (let i = this.upper(a); i < this.s.length && this.s[i] < b; i++) {
      yield [Math.max(a, this.s[i]), Math.min(b, this.e[i])];
    }
  }
}

/** A run of guest clusters mapped to consecutive host clusters inside one L2 table. */
interface L2Run { index: number; host: number; count: number }

const AGAIN = 'again' as const;

/** Thrown when qemu would fail with -EFBIG (the image is too large for the geometry). */
export class Qcow2TooLarge extends Error {}

export class Qcow2Plan {
  readonly cs: number;
  readonly bits: number;
  /** Refcount entries per refcount block, and its log2. */
  readonly rbEntries: number;
  readonly rbBits: number;
  /** Entries per L2 table and bytes per entry. */
  readonly l2Entries: number;
  readonly l2EntryBytes: number;
  readonly input: Qcow2LayoutInput;

  private alloc = new Ranges();
  private freeIdx = 0;
  /** Refcount table: entry → refcount block cluster index (0 = none). */
  reftable: number[] = [];
  reftableCluster = 1;
  reftableClusters = 1;
  l1Cluster = 0;
  l1Size = 0;
  /** L1 entry → L2 table cluster (sparse: a 2 PiB image has 4 Mi entries, mostly empty). */
  l1 = new Map<number, number>();
  l2Runs = new Map<number, L2Run[]>();
  /** Final content of each metadata cluster. */
  contents = new Map<number, ClusterContent>();
  /** Byte length of the file (largest write end or truncation). */
  fileLength = 0;
  /** qcow2 data area to preallocate (falloc/full) in bytes. */
  dataArea?: { offset: number; length: number; mode: 'falloc' | 'full' };
  /** The external data file's final length and how it is allocated. */
  dataFileTruncate?: { length: number; mode: 'off' | 'falloc' | 'full' };
  /**
   * Zeros qemu writes into the tail of the last data cluster when metadata preallocation ends
   * inside a cluster (qcow2_handle_l2meta performs the copy-on-write of the rest of the cluster).
   * In the data file when there is one, else in the image.
   */
  tailZeros?: { inDataFile: boolean; offset: number; length: number };
  cryptoHeader?: { offset: number; length: number };
  cryptMethod = 0;

  constructor(input: Qcow2LayoutInput) {
    this.input = input;
    this.cs = input.clusterSize;
    this.bits = Math.log2(this.cs);
    this.rbEntries = (this.cs * 8) / input.refcountBits;
    this.rbBits = Math.log2(this.rbEntries);
    this.l2EntryBytes = input.extendedL2 ? 16 : 8;
    this.l2Entries = this.cs / this.l2EntryBytes;
    this.build();
  }

  private setContent(cluster: number, c: ClusterContent): void {
    this.contents.set(cluster, c);
    this.grow((cluster + 1) * this.cs);
  }

  private grow(end: number): void {
    if (end > this.fileLength) this.fileLength = end;
  }

  // -- block/qcow2-refcount.c ------------------------------------------------------------------

  /** alloc_clusters_noref: first fit from free_cluster_index; advances the index past the run. */
  private allocNoref(n: number): number {
    const start = this.alloc.firstFreeRun(this.freeIdx, n);
    this.freeIdx = start + n;
    return start;
  }

  /** update_refcount for clusters [c, c+n) by ±1; 'again' when a new refcount block was made. */
  private updateRefcount(c: number, n: number, add: 1 | -1): 'ok' | typeof AGAIN {
    if (n <= 0) return 'ok';
    const last = c + n - 1;
    let cur = c;
    while (cur <= last) {
      const ti = Math.floor(cur / this.rbEntries);
      const r = this.allocRefcountBlock(cur);
      if (r === AGAIN) {
        if (this.freeIdx > c) this.freeIdx = c;
        // Undo what this call changed so far (qemu calls update_refcount with the opposite sign).
        if (cur > c) this.applyRefcount(c, cur, add === 1 ? -1 : 1);
        return AGAIN;
      }
      const end = Math.min(last + 1, (ti + 1) * this.rbEntries);
      this.applyRefcount(cur, end, add);
      cur = end;
    }
    return 'ok';
  }

  private applyRefcount(a: number, b: number, add: 1 | -1): void {
    if (add === 1) this.alloc.add(a, b);
    else {
      this.alloc.remove(a, b);
      if (a < this.freeIdx) this.freeIdx = a;
    }
  }

  /** alloc_refcount_block: make sure the block covering cluster c exists. */
  private allocRefcountBlock(c: number): 'ok' | typeof AGAIN {
    const ti = Math.floor(c / this.rbEntries);
    if (ti < this.reftable.length && this.reftable[ti]) return 'ok';
    const newBlock = this.allocNoref(1);
    if (Math.floor(newBlock / this.rbEntries) === ti) {
      this.alloc.add(newBlock, newBlock + 1); // the block describes itself
    } else {
      const r = this.updateRefcount(newBlock, 1, 1);
      if (r === AGAIN) return AGAIN;
    }
    this.setContent(newBlock, { kind: 'refblock', index: ti });
    if (ti < this.reftable.length) {
      this.reftable[ti] = newBlock;
      return AGAIN;
    }
    const blocksUsed = Math.ceil(Math.max(c + 1, newBlock + 1) / this.rbEntries);
    this.refcountArea(blocksUsed * this.rbEntries, 0, false, ti, newBlock);
    return AGAIN;
  }

  /** qcow2_refcount_metadata_size: refcount blocks needed to cover `clusters` (fixed point). */
  private refblocksNeeded(clusters: number, generous: boolean): number {
    const perTable = this.cs / 8;
    let table = 0, blocks = 0, n = 0, last: number;
    do {
      last = n;
      blocks = Math.ceil((clusters + table + blocks) / this.rbEntries);
      table = Math.ceil(blocks / perTable);
      n = clusters + blocks + table;
      if (n === last && generous) {
        clusters += Math.ceil(table / 2);
        n = 0;
        generous = false;
      }
    } while (n !== last);
    return blocks;
  }

  /**
   * qcow2_refcount_area: new refcount blocks and a new refcount table at `start`, covering the
   * image plus `additional` clusters; the old table is freed. Returns the first cluster after it.
   */
  private refcountArea(start: number, additional: number, exact: boolean, newIndex: number, newBlock: number): number {
    const total = this.refblocksNeeded(start + additional, !exact);
    if (total * 8 > 0x800000) throw new Qcow2TooLarge('refcount table too large');
    const areaIndex = Math.floor(start / this.rbEntries);
    let tableSize = exact ? total : total + Math.ceil(total / 2);
    const perCluster = this.cs / 8;
    tableSize = Math.ceil(tableSize / perCluster) * perCluster;
    const tableClusters = (tableSize * 8) / this.cs;
    const table = new Array<number>(tableSize).fill(0);
    for (let i = 0; i < Math.min(tableSize, this.reftable.length); i++) table[i] = this.reftable[i];
    if (newBlock) table[newIndex] = newBlock;
    let extra = 0;
    for (let i = areaIndex; i < total; i++) if (!table[i]) extra++;
    const tableOffset = start + extra;
    const endOffset = tableOffset + tableClusters;
    let blockOffset = start;
    for (let i = areaIndex; i < total; i++) {
      if (!table[i]) {
        table[i] = blockOffset;
        this.setContent(blockOffset, { kind: 'refblock', index: i });
        blockOffset++;
      }
      const first = i * this.rbEntries;
      if (first < endOffset) {
        const j = first < start ? start - first : 0;
        const endIndex = Math.min(endOffset - first, this.rbEntries);
        this.alloc.add(first + j, first + endIndex);
      }
    }
    // The old table stays on disk as it was (stale) until something overwrites its clusters.
    const old = { cluster: this.reftableCluster, clusters: this.reftableClusters, table: this.reftable.slice() };
    for (let k = 0; k < old.clusters; k++) this.setContent(old.cluster + k, { kind: 'reftable', table: old.table, part: k });
    this.reftable = table;
    this.reftableCluster = tableOffset;
    this.reftableClusters = tableClusters;
    for (let k = 0; k < tableClusters; k++) this.setContent(tableOffset + k, { kind: 'reftable', table, part: k });
    this.updateRefcount(old.cluster, old.clusters, -1);
    return endOffset;
  }

  /** qcow2_alloc_clusters: n clusters anywhere (first fit), refcounted. */
  private allocClusters(n: number): number {
    for (;;) {
      const off = this.allocNoref(n);
      if (this.updateRefcount(off, n, 1) === 'ok') return off;
    }
  }

  /** qcow2_alloc_clusters_at: as many of n clusters at c as are free, refcounted. */
  private allocClustersAt(c: number, n: number): number {
    if (n === 0) return 0;
    for (;;) {
      const free = this.alloc.freeFrom(c, n);
      if (this.updateRefcount(c, free, 1) === 'ok') return free;
    }
  }

  // -- block/qcow2-cluster.c -------------------------------------------------------------------

  /** get_cluster_table → l2_allocate when the L1 entry is empty. */
  private lastDataHost = -1;

  private l2For(l1Index: number): number {
    if (!this.l1.has(l1Index)) {
      const c = this.allocClusters(1);
      this.l1.set(l1Index, c);
      this.setContent(c, { kind: 'l2', l1Index });
    }
    return this.l1.get(l1Index)!;
  }

  private link(guestCluster: number, host: number, count: number): void {
    const l1Index = Math.floor(guestCluster / this.l2Entries);
    let runs = this.l2Runs.get(l1Index);
    if (!runs) this.l2Runs.set(l1Index, (runs = []));
    const index = guestCluster % this.l2Entries;
    const prev = runs[runs.length - 1];
    if (prev && prev.index + prev.count === index && prev.host + prev.count === host) prev.count += count;
    else runs.push({ index, host, count });
  }

  /**
   * qcow2_alloc_host_offset for [offset, offset+bytes) on fresh L2 tables: per L2 table, the
   * table first, then data clusters, contiguous with the previous run when possible.
   * Returns {host (first host byte), bytes done}.
   */
  private allocHostOffset(offset: number, bytes: number): { host: number; bytes: number } {
    const maxReq = Math.floor(2147483136 / this.cs); // BDRV_REQUEST_MAX_BYTES in clusters
    let start = offset;
    let remaining = bytes;
    let clusterOffset = -1; // host byte offset for the next contiguous cluster
    let host = -1;
    let cur = 0;
    for (;;) {
      if (host < 0 && clusterOffset >= 0) host = clusterOffset;
      start += cur;
      remaining -= cur;
      if (clusterOffset >= 0) clusterOffset += cur;
      if (remaining === 0) break;
      cur = remaining;
      // handle_alloc
      const gc = Math.floor(start / this.cs);
      const intoCluster = start % this.cs;
      let n = Math.ceil((intoCluster + cur) / this.cs);
      n = Math.min(n, this.l2Entries - (gc % this.l2Entries), maxReq);
      this.l2For(Math.floor(gc / this.l2Entries));
      let hostCluster: number;
      if (this.input.dataFile) {
        hostCluster = gc;
      } else if (clusterOffset < 0) {
        hostCluster = this.allocClusters(n);
      } else {
        hostCluster = Math.floor(clusterOffset / this.cs);
        n = this.allocClustersAt(hostCluster, n);
        if (n === 0) break; // qemu zeroes cur_bytes here; nothing reads it after the loop
      }
      this.link(gc, hostCluster, n);
      this.lastDataHost = hostCluster + n - 1;
      if (clusterOffset < 0) clusterOffset = hostCluster * this.cs + intoCluster;
      cur = Math.min(cur, n * this.cs - intoCluster);
    }
    return { host, bytes: bytes - remaining };
  }

  /** preallocate_co: metadata for [0, size); returns the data end qemu truncates to. */
  private preallocate(size: number): number {
    this.lastDataHost = -1;
    let offset = 0;
    let bytes = size;
    let host = 0, cur = 0;
    const chunkMax = Math.floor(0x7fffffff / this.cs) * this.cs;
    while (bytes) {
      cur = Math.min(bytes, chunkMax);
      const r = this.allocHostOffset(offset, cur);
      host = r.host;
      cur = r.bytes;
      bytes -= cur;
      offset += cur;
    }
    return host + cur;
  }

  // -- block/qcow2.c qcow2_co_create / qcow2_co_truncate ---------------------------------------

  private build(): void {
    const { size, preallocation } = this.input;
    // Header cluster, refcount table (cluster 1) → refcount block (cluster 2).
    this.setContent(0, { kind: 'header' });
    this.reftable = new Array<number>(this.cs / 8).fill(0);
    this.reftable[0] = 2;
    this.setContent(1, { kind: 'reftable', table: this.reftable, part: 0 });
    this.setContent(2, { kind: 'refblock', index: 0 });
    this.allocClusters(3);

    // qcow2_co_truncate → qcow2_grow_l1_table (exact size).
    const shift = this.bits + Math.log2(this.l2Entries);
    const l1Size = Math.ceil(size / 2 ** shift);
    if (l1Size > 0x2000000 / 8) throw new Qcow2TooLarge('L1 table too large');
    if (l1Size > 0) {
      this.l1Cluster = this.allocClusters(Math.ceil((l1Size * 8) / this.cs));
      this.l1Size = l1Size;
      this.grow(this.l1Cluster * this.cs + l1Size * 8);
    }

    const dataFile = !!this.input.dataFile;
    if (preallocation === 'off') {
      if (dataFile) this.dataFileTruncate = { length: size, mode: 'off' };
    } else if (preallocation === 'metadata' || dataFile) {
      const end = this.preallocate(size);
      let current = 0;
      // The copy-on-write covers the rest of the last cluster, or of the last subcluster with
      // extended L2 entries (32 subclusters per cluster).
      const tail = size % this.cs;
      const unit = this.input.extendedL2 ? this.cs / 32 : this.cs;
      const tailEnd = Math.ceil(tail / unit) * unit;
      if (tail && tailEnd > tail && this.lastDataHost >= 0) {
        this.tailZeros = { inDataFile: dataFile, offset: this.lastDataHost * this.cs + tail, length: tailEnd - tail };
        current = this.lastDataHost * this.cs + tailEnd;
      }
      if (dataFile) {
        // bdrv_co_truncate only when the data file is shorter than the end (qemu's condition).
        if (end > current) this.dataFileTruncate = { length: end, mode: preallocation === 'metadata' ? 'off' : preallocation };
      } else {
        this.grow(current);
        this.grow(end);
      }
    } else {
      // falloc/full without a data file: refcount structures for everything first, data after them.
      const oldFileClusters = Math.ceil(this.fileLength / this.cs);
      const last = this.alloc.lastBelow(oldFileClusters);
      const oldFileSize = last >= 0 ? last + 1 : 0;
      const dataClusters = Math.ceil(size / this.cs);
      const l2Tables = Math.ceil(dataClusters / this.l2Entries) + 1;
      const allocationStart = this.refcountArea(oldFileSize, dataClusters + l2Tables, true, 0, 0);
      const got = this.allocClustersAt(allocationStart, dataClusters);
      if (got !== dataClusters) throw new Error('qcow2 layout: data area not contiguous');
      this.dataArea = { offset: allocationStart * this.cs, length: dataClusters * this.cs, mode: preallocation };
      this.grow((allocationStart + dataClusters) * this.cs);
      let guest = 0;
      let hostC = allocationStart;
      let left = dataClusters;
      while (left) {
        const n = Math.min(left, this.l2Entries - (guest % this.l2Entries));
        this.l2For(Math.floor(guest / this.l2Entries));
        this.link(guest, hostC, n);
        guest += n;
        hostC += n;
        left -= n;
      }
    }

    // qcow2_set_up_encryption → qcow2_crypto_hdr_init_func: zeroed clusters for the crypto header.
    const enc = this.input.encryption;
    if (enc) {
      this.cryptMethod = enc.cryptMethod;
      if (enc.headerLength > 0) {
        const n = Math.ceil(enc.headerLength / this.cs);
        const c = this.allocClusters(n);
        for (let k = 0; k < n; k++) this.setContent(c + k, { kind: 'crypto', part: k });
        this.cryptoHeader = { offset: c * this.cs, length: enc.headerLength };
      }
    }
  }

  // -- rendering -------------------------------------------------------------------------------

  /** The header cluster (qcow2_update_header). */
  renderHeader(out: Uint8Array): void {
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const inp = this.input;
    out.fill(0);
    v.setUint32(0, 0x514649fb);
    v.setUint32(4, inp.version);
    v.setUint32(20, this.bits);
    v.setBigUint64(24, BigInt(inp.size));
    v.setUint32(32, this.cryptMethod);
    v.setUint32(36, this.l1Size);
    v.setBigUint64(40, BigInt(this.l1Size ? this.l1Cluster * this.cs : 0));
    v.setBigUint64(48, BigInt(this.reftableCluster * this.cs));
    v.setUint32(56, this.reftableClusters);
    let p = 72;
    if (inp.version === 3) {
      let incompat = 0;
      if (inp.dataFile) incompat |= 4;
      if (inp.compressionType !== 'zlib') incompat |= 8;
      if (inp.extendedL2) incompat |= 16;
      v.setBigUint64(72, BigInt(incompat));
      v.setBigUint64(80, BigInt(inp.lazyRefcounts ? 1 : 0));
      v.setBigUint64(88, BigInt(inp.dataFileRaw ? 2 : 0));
      v.setUint32(96, Math.log2(inp.refcountBits));
      v.setUint32(100, 112);
      out[104] = inp.compressionType === 'zstd' ? 1 : 0;
      p = 112;
    }
    const enc = new TextEncoder();
    const ext = (type: number, data: Uint8Array): void => {
      v.setUint32(p, type);
      v.setUint32(p + 4, data.length);
      out.set(data, p + 8);
      p += 8 + Math.ceil(data.length / 8) * 8;
    };
    if (inp.backingFmt !== undefined && inp.backingFile !== undefined) ext(0xe2792aca, enc.encode(inp.backingFmt));
    if (inp.dataFile !== undefined) ext(0x44415441, enc.encode(inp.dataFile));
    if (this.cryptoHeader) {
      const d = new Uint8Array(16);
      const dv = new DataView(d.buffer);
      dv.setBigUint64(0, BigInt(this.cryptoHeader.offset));
      dv.setBigUint64(8, BigInt(this.cryptoHeader.length));
      ext(0x0537be77, d);
    }
    // Feature name table: v3 only, and not for clusters ≤ 4 KiB (it would crowd out the backing name).
    if (inp.version === 3 && this.cs > 4096) {
      const names: [number, number, string][] = [
        [0, 0, 'dirty bit'], [0, 1, 'corrupt bit'], [0, 2, 'external data file'], [0, 3, 'compression type'],
        [0, 4, 'extended L2 entries'], [1, 0, 'lazy refcounts'], [2, 0, 'bitmaps'], [2, 1, 'raw external data'],
      ];
      const d = new Uint8Array(names.length * 48);
      names.forEach(([type, bit, name], i) => { d[i * 48] = type; d[i * 48 + 1] = bit; d.set(enc.encode(name), i * 48 + 2); });
      ext(0x6803f857, d);
    }
    p += 8; // end of extensions (zeros)
    if (inp.backingFile !== undefined) {
      const name = enc.encode(inp.backingFile);
      out.set(name, p);
      v.setBigUint64(8, BigInt(p));
      v.setUint32(16, name.length);
    }
  }

  /** Bytes one header cluster needs (for the "does the backing name fit" check). */
  headerBytesNeeded(): number {
    const enc = new TextEncoder();
    const pad = (n: number) => 8 + Math.ceil(n / 8) * 8;
    let p = this.input.version === 3 ? 112 : 72;
    if (this.input.backingFmt !== undefined && this.input.backingFile !== undefined) p += pad(enc.encode(this.input.backingFmt).length);
    if (this.input.dataFile !== undefined) p += pad(enc.encode(this.input.dataFile).length);
    if (this.input.encryption?.headerLength) p += pad(16);
    if (this.input.version === 3 && this.cs > 4096) p += pad(384);
    p += 8;
    if (this.input.backingFile !== undefined) p += enc.encode(this.input.backingFile).length;
    return p;
  }

  private coversWholeCluster(c: ClusterContent): boolean {
    if (c.kind === 'l2') {
      const runs = this.l2Runs.get(c.l1Index);
      return !!runs && runs.reduce((n, r) => n + r.count, 0) === this.l2Entries && this.l2EntryBytes === 8;
    }
    if (c.kind === 'refblock' && (this.input.refcountBits === 16 || this.input.refcountBits === 32 || this.input.refcountBits === 8)) {
      const first = c.index * this.rbEntries;
      let n = 0;
      for (const [a, b] of this.alloc.within(first, first + this.rbEntries)) n += b - a;
      return n === this.rbEntries;
    }
    return false;
  }

  /** Fills `out` (one cluster) with the content of `cluster`. `crypto` gives the LUKS header bytes. */
  renderCluster(cluster: number, out: Uint8Array, crypto?: Uint8Array): void {
    const c = this.contents.get(cluster);
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
        const per = this.cs / 8;
        for (let i = 0; i < per; i++) {
          const e = c.table[c.part * per + i];
          if (e) v.setBigUint64(i * 8, BigInt(e) * BigInt(this.cs));
        }
        return;
      }
      case 'refblock': {
        // Refcounts are 0 or 1 at creation: whole ranges are filled at once (big-endian 1s).
        const first = c.index * this.rbEntries;
        const rb = this.input.refcountBits;
        const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
        const aligned = out.byteOffset % 8 === 0;
        for (const [a, b] of this.alloc.within(first, first + this.rbEntries)) {
          const lo = a - first, hi = b - first;
          if (rb === 8) bytes.fill(1, lo, hi);
          else if (rb === 16 && aligned) new Uint16Array(out.buffer, out.byteOffset, out.byteLength / 2).fill(ONE_BE16, lo, hi);
          else if (rb === 32 && aligned) new Uint32Array(out.buffer, out.byteOffset, out.byteLength / 4).fill(ONE_BE32, lo, hi);
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
        const runs = this.l2Runs.get(c.l1Index) ?? [];
        const words = this.l2EntryBytes / 4;
        // Entries are big-endian (host offset | COPIED): on a little-endian host, byte-swapped
        // 32-bit halves computed with int32 arithmetic only (16 Mi entries for 1 TiB).
        const fast = LITTLE && out.byteOffset % 4 === 0 && runs.every((r) => r.host + r.count < 2 ** 31);
        if (fast) {
          const i32 = new Int32Array(out.buffer, out.byteOffset, out.byteLength >> 2);
          const bits = this.bits;
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
                const hiSwapped = bswapI32((h >>> (32 - bits)) | 0x80000000);
                for (let k = 0; k < n; k++) i32[w + 2 * k] = hiSwapped;
                w += 2 * n;
                h += n;
              }
              continue;
            }
            let hiSrc = -1, hiSwapped = 0;
            for (let h = r.host, end = r.host + r.count; h < end; h++, w += words) {
              const hi = h >>> (32 - bits);
              if (hi !== hiSrc) { hiSrc = hi; hiSwapped = bswapI32(hi | 0x80000000); }
              i32[w] = hiSwapped;
              i32[w + 1] = bswapI32(h << bits);
            }
          }
        } else {
          for (const r of runs) {
            let hostByte = r.host * this.cs;
            for (let k = 0; k < r.count; k++) {
              const o = (r.index + k) * this.l2EntryBytes;
              v.setUint32(o, (Math.floor(hostByte / 2 ** 32) | 0x80000000) >>> 0);
              v.setUint32(o + 4, hostByte >>> 0);
              hostByte += this.cs;
            }
          }
        }
        return;
      }
      case 'crypto':
        if (crypto) {
          const from = c.part * this.cs;
          if (from < crypto.length) out.set(crypto.subarray(from, Math.min(crypto.length, from + this.cs)));
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
    for (const [i, c] of this.l1) {
      if (i >= first && i < first + count) v.setBigUint64((i - first) * 8, (BigInt(c) * BigInt(this.cs)) | COPIED);
    }
  }

  /** Metadata clusters in ascending order (the L1 clusters are separate: renderL1). */
  metadataClusters(): number[] {
    return [...this.contents.keys()].sort((a, b) => a - b);
  }
}
