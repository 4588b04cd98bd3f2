// A qcow2 image written in one sequential pass (convert's output), with bounded memory.
//
// Layout (ours; qemu's own allocator is replayed only for create, qcow2Layout.ts): cluster 0 is
// the header, written last; then the LUKS header area when encrypted (qcow2_set_up_encryption's
// clusters, named by the crypto header extension); then, in guest order, data clusters (and
// compressed clusters packed at byte granularity, as qcow2_alloc_bytes packs them), each L2
// table appended when the guest offset leaves its range; then the L1 table, the refcount blocks
// and the refcount table. Every cluster of the file is used, so every refcount is 1, except
// clusters holding compressed data, which count the compressed clusters touching them
// (qcow2_alloc_compressed_cluster_offset → update_refcount per touched cluster).
// Guest data/zero pattern (what `qemu-img map` shows) follows qemu's writes: a cluster (or, with
// extended L2, a subcluster) partly written is allocated whole and its unwritten part copied
// from the backing file or zero (qcow2 handle_alloc + perform_cow); explicit zeros become zero
// flags in version 3 (qcow2_cluster_zeroize; whole subclusters with extended L2) and zero data
// in version 2 (no zero flag: qemu falls back to writing a zero buffer).
// Entry formats: docs/interop/qcow2.txt (standard and compressed cluster descriptors, extended
// L2 bitmaps, refcount block entries of 1 to 64 bits).
// qcow2+LUKS: every data cluster encrypted with its sectors numbered by host offset
// (block/qcow2.c qcow2_co_encdec with crypt_physical_offset for LUKS).
// External data file (-o data_file=, no preallocation): data clusters live in the data file at
// their guest offset (qcow2_alloc_host_offset: host offset = guest offset with has_data_file),
// only metadata in the image, and only the image's clusters are refcounted (qcow2.txt).
// -c: the image's compression_type (block/qcow2-threads.c qcow2_co_compress): zlib raw deflate
// with a 4 KiB window (qcow2_zlib_compress: deflateInit2 level Z_DEFAULT_COMPRESSION, windowBits
// -12, memLevel 9), or one zstd frame per cluster (zstdCompress.ts); a cluster whose compressed
// form does not fit in cluster_size - 1 bytes is written uncompressed
// (qcow2_co_pwritev_compressed_task). Compressed clusters are never encrypted: qemu-img refuses -c
// with encryption, and this writer refuses a compressed cluster in a qcow2+LUKS (convert.ts).
import { deflateRawSync } from 'node:zlib';
import type { CreateSpec } from '../../../schemas/qcow2Options';
import { QEMU_MESSAGES } from '../../../schemas/qcow2Options';
import type { SectorCipher } from './crypto/modes';
import { pwriteEncrypted } from './crypto/sectorWrite';
import { cancellationPoint, WriterError } from './errors';
import type { Fd, WriterIO } from './io';
import { QCOW2_CRYPT, QCOW2_OFLAG_HI, QCOW2_OFLAG_ZERO } from './qcow2Format';
import { qcow2HeaderBytesNeeded, renderQcow2Header, type Qcow2HeaderFields } from './qcow2Render';
import type { ImageReader } from './reader/imageReader';
import { loadZstdCompressor } from './zstdCompress';

const SECTOR = 512;
/** Bytes gathered before one write (compressed clusters, refcount blocks). */
const STAGE = 1024 * 1024;
const HI = 2 ** 32;

export interface Qcow2StreamOptions {
  /** The output's backing file (-B), opened: fills the unwritten part of a partly written cluster. */
  backing?: ImageReader;
  /** qcow2+LUKS: the LUKS header area (headerLength bytes) and the payload cipher. */
  crypto?: { header: Uint8Array; cipher: SectorCipher; headerLength: number };
  /** -c: data() gets whole clusters (the last one may be short), each stored compressed. */
  compress: boolean;
  /** Sectors the copy loop aligns data runs to. */
  alignment: number;
  signal?: AbortSignal;
  /** The target reads as zeros where nothing is written (default: a new image without backing). */
  zeroInit?: boolean;
  /** The external data file (spec.dataFile), opened and sized: data clusters at their guest offset. */
  dataFd?: Fd;
}

/** A partly written cluster, kept until the copy moves past it. */
interface Pending {
  cluster: number;
  buf: Uint8Array;
  /** Per sector: 1 written. */
  written: Uint8Array;
  /** Per subcluster (one for standard L2): 0 untouched, 1 data, 2 zero. */
  state: Uint8Array;
}

export class Qcow2StreamWriter {
  readonly hasZeroInit: boolean;
  readonly alignment: number;
  readonly compressCluster: number | undefined;
  private readonly cs: number;
  private readonly bits: number;
  private readonly ext: boolean;
  private readonly sub: number;
  private readonly entryBytes: number;
  private readonly l2Entries: number;
  private readonly l1: Float64Array;
  private readonly l2: Uint8Array;
  private readonly l2View: DataView;
  private l2Index = -1;
  private l2Used = false;
  /** Next free byte of the file (cluster-aligned except after compressed data). */
  private end = 0;
  private pending: Pending | undefined;
  /** -c: compressed clusters touching each host cluster (index = host cluster). */
  private shared: Uint16Array | undefined;
  private stage: Uint8Array | undefined;
  private stageAt = 0;
  private stageLen = 0;
  private readonly scratch: Uint8Array;
  private readonly refMax: number;
  /** -c: one cluster in, its compressed bytes out (the header's compression type). */
  private compress: ((cluster: Uint8Array) => Uint8Array) | undefined;
  private readonly checkpoint = cancellationPoint();

  constructor(
    private readonly io: WriterIO,
    private readonly fd: Fd,
    private readonly spec: CreateSpec,
    private readonly o: Qcow2StreamOptions,
  ) {
    this.cs = spec.clusterSize;
    this.bits = Math.log2(this.cs);
    this.ext = spec.extendedL2;
    this.sub = this.ext ? 32 : 1;
    this.entryBytes = this.ext ? 16 : 8;
    this.l2Entries = this.cs / this.entryBytes;
    this.l1 = new Float64Array(Math.ceil(spec.size / (this.cs * this.l2Entries)));
    this.l2 = new Uint8Array(this.cs);
    this.l2View = new DataView(this.l2.buffer);
    this.hasZeroInit = o.zeroInit ?? !o.backing;
    this.alignment = o.alignment;
    this.compressCluster = o.compress ? this.cs : undefined;
    this.scratch = new Uint8Array(Math.max(this.cs, 2 * 1024 * 1024));
    this.refMax = spec.refcountBits >= 32 ? Number.MAX_SAFE_INTEGER : 2 ** spec.refcountBits - 1;
    if (o.compress) {
      this.shared = new Uint16Array(1024);
      this.stage = new Uint8Array(STAGE);
    }
  }

  private headerFields(): Qcow2HeaderFields {
    const s = this.spec;
    const c = this.o.crypto;
    return {
      input: {
        version: s.version,
        size: s.size,
        dataFile: this.o.dataFd !== undefined ? s.dataFile : undefined,
        dataFileRaw: false,
        compressionType: s.compressionType,
        extendedL2: s.extendedL2,
        lazyRefcounts: s.lazyRefcounts,
        refcountBits: s.refcountBits,
        backingFile: s.backingFile,
        backingFmt: s.backingFmt,
        encryption: c ? { cryptMethod: QCOW2_CRYPT.luks, headerLength: c.headerLength } : undefined,
      },
      cs: this.cs,
      bits: this.bits,
      cryptMethod: c ? QCOW2_CRYPT.luks : QCOW2_CRYPT.none,
      l1Size: this.l1.length,
      l1Offset: 0,
      reftableOffset: 0,
      reftableClusters: 0,
      cryptoHeader: c ? { offset: this.cs, length: c.headerLength } : undefined,
    };
  }

  /** Checks the header fits its cluster, writes the LUKS area; nothing else is written before data. */
  async start(): Promise<void> {
    const h = this.headerFields();
    if (qcow2HeaderBytesNeeded(h.input, this.cs) > this.cs) {
      // qcow2_update_header returns -ENOSPC: the backing file name does not fit in the header cluster.
      const s = this.spec;
      throw new WriterError(
        `Could not assign backing file '${s.backingFile}' with format '${s.backingFmt ?? ''}': No space left on device`,
        'refused',
      );
    }
    if (this.l1.length > 32 * 1024 * 1024) throw new WriterError(QEMU_MESSAGES.tooLarge('qcow2', true), 'refused');
    if (this.o.compress) {
      if (this.o.crypto) throw new WriterError('Compression and encryption not supported at the same time', 'refused');
      this.compress =
        this.spec.compressionType === 'zstd'
          ? await loadZstdCompressor()
          : (cluster) => deflateRawSync(cluster, { level: -1, windowBits: 12, memLevel: 9 });
    }
    this.end = this.cs;
    const c = this.o.crypto;
    if (c) {
      await this.io.pwrite(this.fd, c.header.subarray(0, c.headerLength), this.cs);
      this.end = this.cs + Math.ceil(c.headerLength / this.cs) * this.cs;
    }
  }

  // ---- allocation -------------------------------------------------------------------------

  /** `n` whole clusters at the (aligned) end of the file. */
  private async allocClusters(n: number): Promise<number> {
    await this.flushStage();
    this.end = Math.ceil(this.end / this.cs) * this.cs;
    const at = this.end;
    this.end += n * this.cs;
    return at;
  }

  /** Host offset for `n` data clusters from guest cluster `c`: in the data file, or appended. */
  private async allocData(c: number, n: number): Promise<number> {
    return this.o.dataFd !== undefined ? c * this.cs : this.allocClusters(n);
  }

  private async flushStage(): Promise<void> {
    if (this.stage && this.stageLen) {
      await this.io.pwrite(this.fd, this.stage.subarray(0, this.stageLen), this.stageAt);
      this.stageLen = 0;
    }
  }

  // ---- L2 entries -------------------------------------------------------------------------

  private async entryFor(cluster: number): Promise<number> {
    const idx = Math.floor(cluster / this.l2Entries);
    if (idx !== this.l2Index) {
      await this.flushL2();
      this.l2Index = idx;
      this.l2.fill(0);
      this.l2Used = false;
    }
    this.l2Used = true;
    return (cluster % this.l2Entries) * this.entryBytes;
  }

  /**
   * A standard entry: host offset with COPIED (refcount 1), or none (undefined: the zero flag or
   * nothing); ext: the bitmap. Host offset 0 is a cluster of an external data file (qcow2.txt).
   */
  private async setEntry(
    cluster: number,
    host: number | undefined,
    flagsLo: number,
    bitmap?: [number, number],
  ): Promise<void> {
    const at = await this.entryFor(cluster);
    const v = this.l2View;
    v.setUint32(at, host !== undefined ? Math.floor(host / HI) + QCOW2_OFLAG_HI.copied : 0);
    host ??= 0;
    v.setUint32(at + 4, (host % HI) + flagsLo);
    if (this.ext && bitmap) {
      v.setUint32(at + 8, bitmap[0]); // zero bits (32–63)
      v.setUint32(at + 12, bitmap[1]); // allocation bits (0–31)
    }
  }

  private async flushL2(): Promise<void> {
    if (this.l2Index < 0 || !this.l2Used) return;
    const host = await this.allocClusters(1);
    await this.io.pwrite(this.fd, this.l2, host);
    this.l1[this.l2Index] = host;
    this.l2Used = false;
  }

  // ---- data ---------------------------------------------------------------------------------

  /** Writes clusters' bytes at host `host` (encrypted when qcow2+LUKS); `buf` is never modified. */
  private async writeHost(buf: Uint8Array, host: number): Promise<void> {
    const c = this.o.crypto;
    const fd = this.o.dataFd ?? this.fd;
    if (!c) await this.io.pwrite(fd, buf, host);
    else await pwriteEncrypted(this.io, fd, c.cipher, this.scratch, buf, host, host / SECTOR);
  }

  async data(offset: number, buf: Uint8Array): Promise<void> {
    await this.checkpoint(this.o.signal);
    if (this.o.compress) return this.compressed(offset, buf);
    const cs = this.cs;
    let o = offset,
      at = 0;
    while (at < buf.length) {
      const c = Math.floor(o / cs);
      const inC = o - c * cs;
      if (inC === 0 && buf.length - at >= cs && this.pending?.cluster !== c) {
        // A run of whole clusters: one allocation, one write.
        const n = Math.floor((buf.length - at) / cs);
        await this.flushPending();
        const host = await this.allocData(c, n);
        await this.writeHost(buf.subarray(at, at + n * cs), host);
        const full: [number, number] = [0, 0xffffffff];
        for (let k = 0; k < n; k++) await this.setEntry(c + k, host + k * cs, 0, full);
        o += n * cs;
        at += n * cs;
        continue;
      }
      const n = Math.min(cs - inC, buf.length - at);
      const p = await this.pendingFor(c);
      p.buf.set(buf.subarray(at, at + n), inC);
      p.written.fill(1, inC / SECTOR, Math.ceil((inC + n) / SECTOR));
      const sc = cs / this.sub;
      for (let s = Math.floor(inC / sc); s < Math.ceil((inC + n) / sc); s++) p.state[s] = 1;
      o += n;
      at += n;
    }
  }

  /** Explicit zeros (a target with a backing file: the backing must not show through). */
  async zero(offset: number, length: number): Promise<void> {
    await this.checkpoint(this.o.signal);
    const cs = this.cs;
    const sc = cs / this.sub;
    const zeroFlag = this.spec.version === 3;
    // Version 2 without a backing file: an unallocated cluster already reads as zeros and there is
    // no zero flag; qemu leaves such ranges alone (the written parts of a cluster are zero-filled).
    if (!zeroFlag && !this.o.backing) return;
    let o = offset;
    const stop = offset + length;
    while (o < stop) {
      const c = Math.floor(o / cs);
      const inC = o - c * cs;
      const n = Math.min(cs - inC, stop - o);
      if (zeroFlag && n === cs && this.pending?.cluster !== c) {
        await this.flushPending();
        if (this.ext) await this.setEntry(c, undefined, 0, [0xffffffff, 0]);
        else await this.setEntry(c, undefined, QCOW2_OFLAG_ZERO);
      } else if (!zeroFlag) {
        await this.data(o, new Uint8Array(n));
      } else {
        // Partial: whole subclusters get the zero bit (extended L2); the rest is written zeros.
        const p = await this.pendingFor(c);
        for (let b = inC; b < inC + n;) {
          const s = Math.floor(b / sc);
          const se = Math.min((s + 1) * sc, inC + n);
          if (this.ext && b === s * sc && se === (s + 1) * sc && p.state[s] !== 1) p.state[s] = 2;
          else {
            p.buf.fill(0, b, se);
            p.written.fill(1, b / SECTOR, Math.ceil(se / SECTOR));
            p.state[s] = 1;
          }
          b = se;
        }
      }
      o += n;
    }
  }

  private async pendingFor(cluster: number): Promise<Pending> {
    if (this.pending && this.pending.cluster !== cluster) await this.flushPending();
    if (!this.pending) {
      this.pending = {
        cluster,
        buf: new Uint8Array(this.cs),
        written: new Uint8Array(this.cs / SECTOR),
        state: new Uint8Array(this.sub),
      };
    }
    return this.pending;
  }

  /** The partly written cluster: unwritten sectors of touched (sub)clusters from the backing file. */
  private async flushPending(): Promise<void> {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    const cs = this.cs,
      sc = cs / this.sub;
    const guest = p.cluster * cs;
    let alloc = 0,
      zero = 0;
    for (let s = 0; s < this.sub; s++) {
      if (p.state[s] === 1) alloc |= 1 << s;
      else if (p.state[s] === 2) zero |= 1 << s;
    }
    if (!alloc) {
      await this.setEntry(p.cluster, undefined, 0, [zero >>> 0, 0]);
      return;
    }
    const b = this.o.backing;
    if (b) {
      // Copy-on-write of the unwritten sectors (perform_cow), only where the backing file reaches.
      for (let s = 0; s < this.sub; s++) {
        if (p.state[s] !== 1) continue;
        for (let k = (s * sc) / SECTOR; k < ((s + 1) * sc) / SECTOR;) {
          if (p.written[k]) {
            k++;
            continue;
          }
          let e = k;
          while (e < ((s + 1) * sc) / SECTOR && !p.written[e]) e++;
          const from = guest + k * SECTOR,
            to = Math.min(guest + e * SECTOR, b.virtualSize);
          if (to > from) await b.read(from, p.buf.subarray(k * SECTOR, k * SECTOR + (to - from)));
          k = e;
        }
      }
    }
    const host = await this.allocData(p.cluster, 1);
    if (!this.ext) await this.writeHost(p.buf, host);
    else {
      // Only the allocated subclusters: the others stay holes, as qemu leaves them.
      for (let s = 0; s < this.sub;) {
        if (p.state[s] !== 1) {
          s++;
          continue;
        }
        let e = s;
        while (e < this.sub && p.state[e] === 1) e++;
        await this.writeHost(p.buf.subarray(s * sc, e * sc), host + s * sc);
        s = e;
      }
    }
    await this.setEntry(p.cluster, host, 0, [zero >>> 0, this.ext ? alloc >>> 0 : 0]);
  }

  /** -c: one cluster (the image's last may be short: padded with zeros, as qemu pads it). */
  private async compressed(offset: number, buf: Uint8Array): Promise<void> {
    const cs = this.cs;
    let cluster = buf;
    if (buf.length < cs) {
      cluster = new Uint8Array(cs);
      cluster.set(buf);
    }
    const c = offset / cs;
    const out = this.compress!(cluster);
    if (out.length > cs - 1) {
      const host = await this.allocClusters(1);
      await this.writeHost(cluster, host);
      await this.setEntry(c, host, 0, [0, 0xffffffff]);
      return;
    }
    // Byte-granular packing; a cluster whose refcount is at its maximum is not shared further.
    let host = this.end;
    if (host % cs !== 0 && this.refOf(Math.floor(host / cs)) >= this.refMax) {
      await this.flushStage();
      host = this.end = Math.ceil(host / cs) * cs;
    }
    const first = Math.floor(host / cs),
      last = Math.floor((host + out.length - 1) / cs);
    for (let k = first; k <= last; k++) this.addRef(k);
    if (this.stageLen && this.stageAt + this.stageLen !== host) await this.flushStage();
    if (this.stageLen + out.length > this.stage!.length) await this.flushStage();
    if (!this.stageLen) this.stageAt = host;
    this.stage!.set(out, this.stageLen);
    this.stageLen += out.length;
    this.end = host + out.length;
    // Compressed cluster descriptor: host offset in the low x bits, additional sectors above them.
    const x = 62 - (this.bits - 8);
    const sectors = Math.floor((host + out.length - 1) / SECTOR) - Math.floor(host / SECTOR);
    const value = BigInt(host) | (BigInt(sectors) << BigInt(x)) | (BigInt(QCOW2_OFLAG_HI.compressed) << 32n);
    const at = await this.entryFor(c);
    this.l2View.setBigUint64(at, value);
  }

  private refOf(cluster: number): number {
    return this.shared && cluster < this.shared.length ? this.shared[cluster] : 0;
  }

  private addRef(cluster: number): void {
    let s = this.shared!;
    if (cluster >= s.length) {
      const grown = new Uint16Array(Math.max(cluster + 1, s.length * 2));
      grown.set(s);
      s = this.shared = grown;
    }
    s[cluster]++;
  }

  // ---- the end: L1, refcounts, header ------------------------------------------------------

  /** Writes the remaining tables and the header; returns the file length. */
  async finish(): Promise<number> {
    await this.flushPending();
    await this.flushL2();
    const cs = this.cs;
    const l1Clusters = Math.ceil((this.l1.length * 8) / cs);
    const l1At = l1Clusters ? await this.allocClusters(l1Clusters) : await this.allocClusters(0);
    if (l1Clusters) {
      const t = new Uint8Array(l1Clusters * cs);
      const v = new DataView(t.buffer);
      this.l1.forEach((host, i) => {
        if (host) {
          v.setUint32(i * 8, Math.floor(host / HI) + QCOW2_OFLAG_HI.copied);
          v.setUint32(i * 8 + 4, host % HI);
        }
      });
      await this.io.pwrite(this.fd, t, l1At);
    }
    // Refcount blocks and table after everything; they count themselves (a fixed point).
    const before = this.end / cs;
    const rbEntries = (cs * 8) / this.spec.refcountBits;
    let rb = 0,
      rt = 0;
    for (;;) {
      const total = before + rb + rt;
      const nrb = Math.ceil(total / rbEntries);
      const nrt = Math.ceil((nrb * 8) / cs);
      if (nrb === rb && nrt === rt) break;
      rb = nrb;
      rt = nrt;
    }
    const used = before + rb + rt;
    const rbAt = await this.allocClusters(rb);
    const block = new Uint8Array(cs);
    for (let b = 0; b < rb; b++) {
      await this.checkpoint(this.o.signal);
      block.fill(0);
      const firstCluster = b * rbEntries;
      const n = Math.min(rbEntries, used - firstCluster);
      for (let i = 0; i < n; i++) this.putRef(block, i, this.refOf(firstCluster + i) || 1);
      await this.io.pwrite(this.fd, block, rbAt + b * cs);
    }
    const rtAt = await this.allocClusters(rt);
    const table = new Uint8Array(rt * cs);
    const tv = new DataView(table.buffer);
    for (let b = 0; b < rb; b++) {
      const host = rbAt + b * cs;
      tv.setUint32(b * 8, Math.floor(host / HI));
      tv.setUint32(b * 8 + 4, host % HI);
    }
    if (rt) await this.io.pwrite(this.fd, table, rtAt);
    const h = this.headerFields();
    h.l1Offset = l1Clusters ? l1At : 0;
    h.reftableOffset = rtAt;
    h.reftableClusters = rt;
    const header = new Uint8Array(cs);
    renderQcow2Header(header, h);
    await this.io.pwrite(this.fd, header, 0);
    await this.io.ftruncate(this.fd, this.end);
    return this.end;
  }

  /** Refcount entry `i` of a block: sub-byte widths little-endian within a byte, others big-endian. */
  private putRef(block: Uint8Array, i: number, value: number): void {
    const bits = this.spec.refcountBits;
    if (bits < 8) {
      const per = 8 / bits;
      block[Math.floor(i / per)] |= value << ((i % per) * bits);
      return;
    }
    const v = new DataView(block.buffer, block.byteOffset);
    const bytes = bits / 8;
    if (bytes === 1) block[i] = value;
    else if (bytes === 2) v.setUint16(i * 2, value);
    else if (bytes === 4) v.setUint32(i * 4, value);
    else v.setBigUint64(i * 8, BigInt(value));
  }
}
