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
// milliseconds. Content is then rendered cluster by cluster from the final state (qcow2Render.ts),
// never held whole in memory. Layout facts checked against qemu-img 7.2 output byte for byte (test/writer).
//
// Hook for encryption (LUKS in qcow2, issue 5): `encryption.headerLength` bytes are allocated as
// clusters after everything else, zero-filled, with the provider's header bytes at their start,
// the crypto header extension and crypt_method set — as qcow2_set_up_encryption does.
// The allocator only places clusters; qcow2Render.ts turns the read-only layout into bytes.

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
export type ClusterContent =
  | { kind: 'header' }
  | { kind: 'reftable'; table: number[]; part: number }
  | { kind: 'refblock'; index: number }
  | { kind: 'l2'; l1Index: number }
  | { kind: 'crypto'; part: number }
  | { kind: 'zero' };

/** Disjoint, sorted, merged [start, end) ranges of cluster indices with refcount 1. */
class Ranges {
  private s: number[] = [];
  private e: number[] = [];

  /** Index of the first range whose end is > c. */
  private upper(c: number): number {
    let lo = 0,
      hi = this.e.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.e[mid] > c) hi = mid;
      else lo = mid + 1;
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
      if (i < this.s.length && this.s[i] <= pos) {
        pos = this.e[i];
        i++;
        continue;
      }
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
    let ns = a,
      ne = b;
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
    const outS: number[] = [],
      outE: number[] = [];
    const i = this.upper(a);
    let j = i;
    while (j < this.s.length && this.s[j] < b) {
      if (this.s[j] < a) {
        outS.push(this.s[j]);
        outE.push(a);
      }
      if (this.e[j] > b) {
        outS.push(b);
        outE.push(this.e[j]);
      }
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
export interface L2Run {
  index: number;
  host: number;
  count: number;
}

const AGAIN = 'again' as const;

/** Thrown when qemu would fail with -EFBIG (the image is too large for the geometry). */
export class Qcow2TooLarge extends Error {}

class Qcow2Allocator {
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

  /** The read-only snapshot of what was planned (the allocator is not used afterwards). */
  result(): Qcow2Layout {
    const alloc = this.alloc;
    return Object.freeze({
      input: Object.freeze({ ...this.input }),
      cs: this.cs,
      bits: this.bits,
      rbEntries: this.rbEntries,
      l2Entries: this.l2Entries,
      l2EntryBytes: this.l2EntryBytes,
      reftableCluster: this.reftableCluster,
      reftableClusters: this.reftableClusters,
      l1Cluster: this.l1Cluster,
      l1Size: this.l1Size,
      l1: this.l1,
      l2Runs: this.l2Runs,
      contents: this.contents,
      fileLength: this.fileLength,
      dataArea: this.dataArea,
      dataFileTruncate: this.dataFileTruncate,
      tailZeros: this.tailZeros,
      cryptoHeader: this.cryptoHeader,
      cryptMethod: this.cryptMethod,
      allocatedWithin: (a: number, b: number) => alloc.within(a, b),
    });
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
    let table = 0,
      blocks = 0,
      n = 0,
      last: number;
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
    for (let k = 0; k < old.clusters; k++)
      this.setContent(old.cluster + k, { kind: 'reftable', table: old.table, part: k });
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
    let host = 0,
      cur = 0;
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
        if (end > current)
          this.dataFileTruncate = { length: end, mode: preallocation === 'metadata' ? 'off' : preallocation };
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
}

/**
 * The allocator's result: where every metadata cluster lies and what it holds. Read-only — the
 * renderer (qcow2Render.ts) turns it into bytes, create.ts reads its sizes; nobody changes it.
 */
export interface Qcow2Layout {
  readonly input: Readonly<Qcow2LayoutInput>;
  readonly cs: number;
  readonly bits: number;
  /** Refcount entries per refcount block. */
  readonly rbEntries: number;
  /** Entries per L2 table and bytes per entry. */
  readonly l2Entries: number;
  readonly l2EntryBytes: number;
  readonly reftableCluster: number;
  readonly reftableClusters: number;
  readonly l1Cluster: number;
  readonly l1Size: number;
  /** L1 entry → L2 table cluster (sparse). */
  readonly l1: ReadonlyMap<number, number>;
  readonly l2Runs: ReadonlyMap<number, readonly L2Run[]>;
  /** Final content of each metadata cluster. */
  readonly contents: ReadonlyMap<number, ClusterContent>;
  /** Byte length of the file (largest write end or truncation). */
  readonly fileLength: number;
  /** qcow2 data area to preallocate (falloc/full) in bytes. */
  readonly dataArea?: Readonly<{ offset: number; length: number; mode: 'falloc' | 'full' }>;
  /** The external data file's final length and how it is allocated. */
  readonly dataFileTruncate?: Readonly<{ length: number; mode: 'off' | 'falloc' | 'full' }>;
  /** Zeros qemu writes into the tail of the last data cluster (see the allocator). */
  readonly tailZeros?: Readonly<{ inDataFile: boolean; offset: number; length: number }>;
  readonly cryptoHeader?: Readonly<{ offset: number; length: number }>;
  readonly cryptMethod: number;
  /** Allocated (refcount 1) cluster ranges intersecting [a, b), clipped. */
  allocatedWithin(a: number, b: number): Iterable<[number, number]>;
}

/** Replays qemu's allocator for `input` and returns the frozen layout; throws Qcow2TooLarge. */
export function planQcow2(input: Qcow2LayoutInput): Qcow2Layout {
  return new Qcow2Allocator(input).result();
}
