// Convert's output into a preallocated qcow2 (-o preallocation=metadata|falloc|full, and
// data_file_raw, which implies metadata): qemu-img convert creates the image first (bdrv_create:
// qemu-img create's layout, here writer/create.ts writeQcow2Layout over qcow2Layout.ts planQcow2,
// one layout for both), then writes the guest data into the clusters that layout already placed.
// So every cluster stays where create put it and the file is qemu's, cluster for cluster.
//
// What the writes change (block/qcow2.c, block/qcow2-cluster.c, qemu 7.2):
//  - data lands at the cluster's host offset; the L2 entry stays (QCOW_OFLAG_COPIED, refcount 1).
//    With extended L2 entries the preallocated clusters have no allocated subcluster
//    (QCOW2_SUBCLUSTER_UNALLOCATED_ALLOC): a write sets the allocation bits of the subclusters
//    it touches (qcow2_alloc_cluster_link_l2) and fills the rest of a partly written subcluster
//    with zeros (calculate_l2_meta → perform_cow);
//  - zeros: an unencrypted preallocated image reads as zero (qcow2_has_zero_init → the file's),
//    so qemu-img writes none. An encrypted one does not (bs->encrypted: has_zero_init 0), so
//    qemu-img writes every zero range (blk_co_pwrite_zeroes, BDRV_REQ_MAY_UNMAP since -S is
//    set): whole clusters are unmapped (zero_in_l2_slice: entry 0 with QCOW_OFLAG_ZERO, or all
//    zero bits with extended L2; version 2: qcow2_cluster_discard, entry 0) and their refcount
//    drops to 0 (qcow2_free_any_cluster; their bytes are discarded: a hole); whole subclusters
//    of a cluster that keeps data get their zero bits; a part of a cluster or subcluster is
//    written as (encrypted) zeros (qcow2_co_pwrite_zeroes returns -ENOTSUP, the block layer
//    falls back to writing a zero buffer).
// Encrypted falloc/full: qemu allocates the data area, then discards what it frees. Here the data
// area is not allocated first (writeQcow2Layout deferData): every cluster that stays allocated is
// written whole by the copy (data or encrypted zeros), so the end state is the same — freed
// clusters are holes, the others are written — without writing zeros that are punched out again.
// Only the tail of the last cluster past the virtual size is allocated at the end, as qemu left it.
// Memory: one L2 table and one refcount block at a time (read back from the file, patched,
// written when the copy moves past them); the copy goes in guest order, so each is loaded once.
import type { SectorCipher } from './crypto/modes';
import { pwriteEncrypted } from './crypto/sectorWrite';
import { cancellationPoint } from './errors';
import type { Fd, WriterIO } from './io';
import { QCOW2_OFLAG_ZERO } from './qcow2Format';
import type { L2Run, Qcow2Layout } from './qcow2Layout';
import { writeZeros, zeros } from './zeroFill';

const SECTOR = 512;
/** Extended L2 bitmap: all 32 zero bits (high word), no allocation bit (low word). */
const ALL_ZERO_BITS = 0xffffffff;

export interface Qcow2PreplacedOptions {
  /** qcow2+LUKS: the payload cipher (sectors numbered by host offset, as qcow2_co_encdec). */
  cipher?: SectorCipher;
  /** Sectors the copy loop aligns data runs to. */
  alignment: number;
  signal?: AbortSignal;
  /** The external data file, opened (data clusters live there at their guest offset). */
  dataFd?: Fd;
  /** falloc/full whose data area was not allocated first (encrypted: see the file comment). */
  deferredMode?: 'falloc' | 'full';
}

/** A metadata cluster read back from the file, patched, written when the copy leaves it. */
interface Patched {
  index: number;
  host: number;
  buf: Uint8Array;
  view: DataView;
  dirty: boolean;
}

export class Qcow2PreplacedWriter {
  readonly hasZeroInit: boolean;
  readonly alignment: number;
  readonly compressCluster = undefined;
  private readonly cs: number;
  private readonly ext: boolean;
  private readonly sc: number;
  private readonly checkpoint = cancellationPoint();
  private l2: Patched | undefined;
  private refblock: Patched | undefined;
  private refblocks: Map<number, number> | undefined;
  /** Guest clusters freed by zero writes (only the last one is needed: the tail's allocation). */
  private lastFreed = -1;
  private runCache: { l1Index: number; run: L2Run } | undefined;
  private readonly scratch: Uint8Array;

  constructor(
    private readonly io: WriterIO,
    private readonly fd: Fd,
    private readonly layout: Qcow2Layout,
    private readonly o: Qcow2PreplacedOptions,
  ) {
    this.cs = layout.cs;
    this.ext = layout.input.extendedL2;
    this.sc = this.ext ? this.cs / 32 : this.cs;
    this.hasZeroInit = !o.cipher;
    this.alignment = o.alignment;
    this.scratch = new Uint8Array(o.cipher ? Math.max(this.cs, 2 * 1024 * 1024) : 0);
  }

  private get size(): number {
    return this.layout.input.size;
  }

  /** Host cluster of guest cluster `g` and how many clusters follow it contiguously (same L2 run). */
  private hostRun(g: number): { host: number; count: number } {
    const per = this.layout.l2Entries;
    if (this.layout.input.dataFile !== undefined) {
      // An external data file: host offset = guest offset (qcow2_alloc_host_offset with has_data_file).
      return { host: g, count: per - (g % per) };
    }
    const l1Index = Math.floor(g / per);
    const i = g % per;
    let r = this.runCache?.l1Index === l1Index ? this.runCache.run : undefined;
    if (!r || i < r.index || i >= r.index + r.count) {
      r = (this.layout.l2Runs.get(l1Index) ?? []).find((x) => i >= x.index && i < x.index + x.count);
      if (!r) throw new Error(`qcow2 layout: guest cluster ${g} is not preallocated`);
      this.runCache = { l1Index, run: r };
    }
    return { host: r.host + (i - r.index), count: r.count - (i - r.index) };
  }

  /** Writes guest bytes at a host byte offset (encrypted when qcow2+LUKS); `buf` is never modified. */
  private async writeHost(buf: Uint8Array, host: number): Promise<void> {
    const fd = this.o.dataFd ?? this.fd;
    const c = this.o.cipher;
    if (!c) await this.io.pwrite(fd, buf, host);
    else await pwriteEncrypted(this.io, fd, c, this.scratch, buf, host, host / SECTOR);
  }

  async data(offset: number, buf: Uint8Array): Promise<void> {
    await this.checkpoint(this.o.signal);
    const cs = this.cs;
    let o = offset,
      at = 0;
    while (at < buf.length) {
      const g = Math.floor(o / cs);
      const inC = o - g * cs;
      const r = this.hostRun(g);
      const n = Math.min(buf.length - at, r.count * cs - inC);
      if (this.ext) await this.cowEdges(o, n);
      await this.writeHost(buf.subarray(at, at + n), r.host * cs + inC);
      if (this.ext) await this.markAllocated(o, n);
      o += n;
      at += n;
    }
  }

  /**
   * Extended L2: the parts of the first and last subcluster of [o, o+n) outside it are filled
   * with zeros when that subcluster was not allocated yet (perform_cow; no backing file here).
   */
  private async cowEdges(o: number, n: number): Promise<void> {
    const sc = this.sc;
    const end = Math.min(o + n, this.size);
    const first = Math.floor(o / sc) * sc;
    const last = Math.min(Math.ceil(end / sc) * sc, this.size);
    if (first < o && !(await this.subAllocated(first))) await this.data(first, zeros(o - first));
    if (last > end && !(await this.subAllocated(last - 1))) await this.writeZeroRange(end, last - end);
  }

  /** Writes zeros at [o, o+n) without touching the bitmap (the caller marks the subcluster). */
  private async writeZeroRange(o: number, n: number): Promise<void> {
    const g = Math.floor(o / this.cs);
    const r = this.hostRun(g);
    await this.writeHost(zeros(n), r.host * this.cs + (o - g * this.cs));
  }

  private async subAllocated(o: number): Promise<boolean> {
    const g = Math.floor(o / this.cs);
    const t = await this.l2For(g);
    const at = (g % this.layout.l2Entries) * 16;
    const bit = Math.floor((o - g * this.cs) / this.sc);
    return ((t.view.getUint32(at + 12) >>> bit) & 1) === 1;
  }

  /** Extended L2: the subclusters touched by [o, o+n) allocated, their zero bits cleared. */
  private async markAllocated(o: number, n: number): Promise<void> {
    const cs = this.cs;
    for (let p = o; p < o + n;) {
      const g = Math.floor(p / cs);
      const e = Math.min(o + n, (g + 1) * cs);
      const from = Math.floor((p - g * cs) / this.sc);
      const to = Math.ceil((e - g * cs) / this.sc);
      const mask = bits(from, to);
      const t = await this.l2For(g);
      const at = (g % this.layout.l2Entries) * 16;
      t.view.setUint32(at + 8, (t.view.getUint32(at + 8) & ~mask) >>> 0);
      t.view.setUint32(at + 12, (t.view.getUint32(at + 12) | mask) >>> 0);
      t.dirty = true;
      p = e;
    }
  }

  /** Zeros of an encrypted image (has_zero_init 0): see the file comment for qemu's three cases. */
  async zero(offset: number, length: number): Promise<void> {
    await this.checkpoint(this.o.signal);
    const cs = this.cs,
      sc = this.sc;
    const end = offset + length;
    let o = offset;
    while (o < end) {
      const g = Math.floor(o / cs);
      const cEnd = Math.min((g + 1) * cs, this.size);
      const e = Math.min(end, cEnd);
      if (o === g * cs && e === cEnd) {
        await this.unmapCluster(g);
      } else {
        // Part of a cluster: whole subclusters (extended L2, version 3) get zero bits; the rest is
        // written as zeros. A unit ending at the image's end counts as whole (qcow2_co_pwrite_zeroes).
        const a = Math.ceil(o / sc) * sc;
        const b = e === this.size ? e : Math.floor(e / sc) * sc;
        if (this.ext && b > a) {
          if (a > o) await this.data(o, zeros(a - o));
          await this.zeroSubclusters(a, b);
          if (e > b) await this.data(b, zeros(e - b));
        } else {
          await this.data(o, zeros(e - o));
        }
      }
      o = e;
    }
  }

  private async zeroSubclusters(a: number, b: number): Promise<void> {
    const g = Math.floor(a / this.cs);
    const mask = bits((a - g * this.cs) / this.sc, Math.ceil((b - g * this.cs) / this.sc));
    const t = await this.l2For(g);
    const at = (g % this.layout.l2Entries) * 16;
    t.view.setUint32(at + 8, (t.view.getUint32(at + 8) | mask) >>> 0);
    t.view.setUint32(at + 12, (t.view.getUint32(at + 12) & ~mask) >>> 0);
    t.dirty = true;
    // The cluster stays allocated: its zero subclusters keep the space qemu allocated for them.
    if (this.o.deferredMode) await this.allocate(this.hostRun(g).host * this.cs + (a - g * this.cs), b - a);
  }

  /** A deferred falloc/full range of host bytes allocated now (fallocate, or zeros written). */
  private async allocate(at: number, n: number): Promise<void> {
    const fd = this.o.dataFd ?? this.fd;
    if (this.o.deferredMode === 'falloc' && this.io.fallocate) await this.io.fallocate(fd, at, n);
    else await writeZeros(this.io, fd, at, n, () => undefined, this.o.signal);
  }

  /** A whole cluster of zeros: its entry unmapped (zero flag, zero bits or nothing), its refcount 0. */
  private async unmapCluster(g: number): Promise<void> {
    const t = await this.l2For(g);
    const eb = this.layout.l2EntryBytes;
    const at = (g % this.layout.l2Entries) * eb;
    const host = this.hostRun(g).host;
    t.view.setUint32(at, 0);
    t.view.setUint32(at + 4, !this.ext && this.layout.input.version === 3 ? QCOW2_OFLAG_ZERO : 0);
    if (this.ext) {
      t.view.setUint32(at + 8, ALL_ZERO_BITS);
      t.view.setUint32(at + 12, 0);
    }
    t.dirty = true;
    this.lastFreed = g;
    // A data file's clusters have no refcount (qcow2_free_any_cluster only discards them).
    if (this.layout.input.dataFile === undefined) await this.freeCluster(host);
  }

  // ---- patched metadata: one L2 table, one refcount block ----------------------------------

  private async load(p: Patched | undefined, index: number, host: number): Promise<Patched> {
    if (p?.index === index) return p;
    if (p) await this.store(p);
    const buf = new Uint8Array(this.cs);
    buf.set(await this.io.pread(this.fd, this.cs, host));
    return { index, host, buf, view: new DataView(buf.buffer), dirty: false };
  }

  private async store(p: Patched | undefined): Promise<void> {
    if (p?.dirty) {
      await this.io.pwrite(this.fd, p.buf, p.host);
      p.dirty = false;
    }
  }

  private async l2For(g: number): Promise<Patched> {
    const l1Index = Math.floor(g / this.layout.l2Entries);
    const host = this.layout.l1.get(l1Index);
    if (host === undefined) throw new Error(`qcow2 layout: no L2 table for guest cluster ${g}`);
    this.l2 = await this.load(this.l2, l1Index, host * this.cs);
    return this.l2;
  }

  private async freeCluster(host: number): Promise<void> {
    const L = this.layout;
    if (!this.refblocks) {
      this.refblocks = new Map();
      for (const [cluster, c] of L.contents) if (c.kind === 'refblock') this.refblocks.set(c.index, cluster);
    }
    const index = Math.floor(host / L.rbEntries);
    const cluster = this.refblocks.get(index);
    if (cluster === undefined) throw new Error(`qcow2 layout: no refcount block for cluster ${host}`);
    const b = (this.refblock = await this.load(this.refblock, index, cluster * this.cs));
    const i = host % L.rbEntries;
    const width = L.input.refcountBits;
    if (width < 8) {
      const per = 8 / width;
      b.buf[Math.floor(i / per)] &= ~(((1 << width) - 1) << ((i % per) * width));
    } else {
      b.buf.fill(0, (i * width) / 8, ((i + 1) * width) / 8);
    }
    b.dirty = true;
  }

  /** The patched tables written; the tail of a deferred last cluster allocated. Returns the file length. */
  async finish(): Promise<number> {
    await this.store(this.l2);
    await this.store(this.refblock);
    const mode = this.o.deferredMode;
    const cs = this.cs;
    const lastCluster = Math.ceil(this.size / cs) - 1;
    const tail = this.size % cs;
    if (mode && tail && lastCluster >= 0 && this.lastFreed !== lastCluster) {
      await this.allocate(this.hostRun(lastCluster).host * cs + tail, cs - tail);
    }
    return this.layout.fileLength;
  }
}

/** Bits [from, to) of a 32-bit word. */
function bits(from: number, to: number): number {
  if (to <= from) return 0;
  const n = to - from;
  return (n >= 32 ? 0xffffffff : ((1 << n) - 1) << from) >>> 0;
}
