// Header reader: what an image file says about itself, from a bounded number of bytes (at most the
// first qcow2 cluster, ≤ 2 MiB, plus one 592-byte LUKS header), through injected synchronous I/O.
// Used by `libvirt-volume info`, the writer (backing-file checks) and the language service's
// image-aware diagnostics (env.imageFacts).
//
// Formats are recognised by magic like qemu's probes (block/*.c `*_probe`): qcow/qcow2 "QFI\xfb"
// (version 1 = qcow), qed "QED\0", vmdk "KDMV"/"COWD"/text descriptor, vdi signature 0xbeda107f
// at 0x40, vpc "conectix", vhdx "vhdxfile", LUKS "LUKS\xba\xbe"; anything else is raw.
// qcow2 layout: docs/interop/qcow2.txt (header fields, header extensions, feature bits).
// LUKS1 layout: cryptsetup's "LUKS On-Disk Format Specification" 1.2.3 (qemu crypto/block-luks.c).
import type { ProbeIO } from './io';
import { hasLuksMagic, luksVersion, readLuks1Header, splitCipherModeSpec, LUKS1_HEADER } from './luks/luksFormat';
import {
  QCOW2_AUTOCLEAR,
  QCOW2_COMPAT,
  QCOW2_COMPRESSION,
  QCOW2_CRYPT,
  QCOW2_CRYPTO_EXT_BYTES,
  QCOW2_EXT,
  QCOW2_HEADER as H,
  QCOW2_INCOMPAT,
  QCOW2_MAGIC,
  QCOW2_V2_HEADER_LENGTH,
  qcow2FeatureNames,
} from './qcow2Format';
import { LUKS1 } from '../../../schemas/luksOptions';
import { be32, be64 } from '../common/bytes';
import { decodeQcow2Header, headerName, qcow2ExtensionArea, qcow2Extensions } from './qcow2Header';

/** LUKS parameters in qemu's spellings (`qemu-img info`: cipher-alg `aes-256`, mode `xts`, …). */
export interface LuksParams {
  cipherAlg?: string;
  cipherMode?: string;
  ivgenAlg?: string;
  ivgenHashAlg?: string;
  hashAlg?: string;
  /** Bytes (LUKS1 stores sectors). */
  payloadOffset?: number;
  slots?: { active: boolean }[];
}

/**
 * What an image file says about itself: the one contract between this reader and its users
 * (the CLI, the writer's backing checks, and the language service through env.imageFacts, which
 * re-exports it from service/types.ts). Every field has one name; nothing else is attached.
 */
export interface ImageFacts {
  /** qemu's format name: raw, qcow2, qcow, luks, qed, vmdk, vdi, vpc, vhdx. */
  format: string;
  virtualSize?: number;
  /** File length in bytes. */
  fileSize?: number;
  /** Bytes allocated on disk (`qemu-img info`'s actual-size), when the provider knows them. */
  actualSize?: number;
  encrypted?: boolean;
  encryptFormat?: 'luks' | 'aes';
  backingFile?: string;
  backingFormat?: string;
  clusterSize?: number;
  compat?: string;
  lazyRefcounts?: boolean;
  refcountBits?: number;
  compressionType?: string;
  dataFile?: string;
  extendedL2?: boolean;
  /** The LUKS header's parameters (raw LUKS, or the header inside an encrypted qcow2). */
  luks?: LuksParams;
}

export interface LuksHeaderFacts extends LuksParams {
  version: number;
  /** Header strings. */
  cipherName: string;
  cipherModeSpec: string;
  hashSpec: string;
  keyBytes?: number;
  masterKeyIters?: number;
  uuid: string;
  slots: { active: boolean; iters?: number; keyOffset: number; stripes: number }[];
  activeSlots: number[];
}

/** What probeImage returns: ImageFacts plus everything the header says. */
export interface ProbedImage extends ImageFacts {
  /** File length in bytes. */
  fileSize: number;
  /** qcow2: 2 or 3. */
  version?: number;
  headerLength?: number;
  incompatibleFeatures?: number;
  compatibleFeatures?: number;
  autoclearFeatures?: number;
  /** Names of the set feature bits, e.g. `lazy refcounts` (qcow2.txt names). */
  features?: string[];
  refcountBits?: number;
  lazyRefcounts?: boolean;
  extendedL2?: boolean;
  compressionType?: 'zlib' | 'zstd' | string;
  dirty?: boolean;
  corrupt?: boolean;
  dataFile?: string;
  dataFileRaw?: boolean;
  l1Size?: number;
  l1TableOffset?: number;
  refcountTableOffset?: number;
  refcountTableClusters?: number;
  nbSnapshots?: number;
  /** qcow2 crypt_method: 0 none, 1 aes, 2 luks. */
  cryptMethod?: number;
  /** qcow2 + LUKS: where the LUKS header lives inside the qcow2 file. */
  cryptoHeader?: { offset: number; length: number };
  luks?: LuksHeaderFacts;
  /** Problems found while reading (truncated header, unreadable extension). */
  warnings?: string[];
}

function le32(b: Uint8Array, o: number): number {
  return b[o] + (b[o + 1] << 8) + (b[o + 2] << 16) + ((b[o + 3] << 24) >>> 0);
}
function le64(b: Uint8Array, o: number): number {
  return le32(b, o) + le32(b, o + 4) * 2 ** 32;
}
function ascii(b: Uint8Array, o: number, n: number): string {
  let s = '';
  for (let i = o; i < o + n && i < b.length && b[i] !== 0; i++) s += String.fromCharCode(b[i]);
  return s;
}
function startsWith(b: Uint8Array, bytes: number[] | string, at = 0): boolean {
  const arr = typeof bytes === 'string' ? [...bytes].map((c) => c.charCodeAt(0)) : bytes;
  if (b.length < at + arr.length) return false;
  return arr.every((v, i) => b[at + i] === v);
}

/** Reads the LUKS1/LUKS2 binary header in `h` (at least 592 bytes for all LUKS1 key slots). */
export function parseLuksHeader(h: Uint8Array): LuksHeaderFacts | undefined {
  const version = luksVersion(h);
  if (version === undefined || h.length < LUKS1_HEADER.keySlots[0]) return undefined;
  const v1 = readLuks1Header(h);
  if (!v1) {
    // LUKS2: binary header then JSON; report what the binary part says (its uuid is where LUKS1's is).
    const uuid = ascii(h, LUKS1_HEADER.uuid[0], LUKS1_HEADER.uuid[1]);
    return { version, cipherName: '', cipherModeSpec: '', hashSpec: '', uuid, slots: [], activeSlots: [] };
  }
  const { cipherName, cipherMode: cipherModeSpec, hashSpec, keyBytes } = v1;
  const slots = v1.keySlots.map((k) => ({
    active: k.active,
    iters: k.active ? k.iterations : undefined,
    keyOffset: k.keyMaterialOffset * LUKS1.sectorSize,
    stripes: k.stripes,
  }));
  const activeSlots = v1.keySlots.flatMap((k, i) => (k.active ? [i] : []));
  // qemu's names: the mode spec is `MODE-IVGEN[:IVHASH]`; xts keys are two cipher keys.
  const { mode, ivgen: ivgenAlg, ivHash: ivgenHashAlg } = splitCipherModeSpec(cipherModeSpec);
  const cipherKeyBits = (mode === 'xts' ? keyBytes / 2 : keyBytes) * 8;
  return {
    version,
    cipherName,
    cipherModeSpec,
    hashSpec,
    cipherAlg: cipherName ? `${cipherName}-${cipherKeyBits}` : undefined,
    cipherMode: mode || undefined,
    ivgenAlg: ivgenAlg || undefined,
    ivgenHashAlg: ivgenHashAlg || undefined,
    hashAlg: hashSpec || undefined,
    payloadOffset: v1.payloadOffset * LUKS1.sectorSize,
    keyBytes,
    masterKeyIters: v1.mkDigestIterations,
    uuid: v1.uuid,
    slots,
    activeSlots,
  };
}

const FIRST_READ = 65536;
const MAX_CLUSTER = 2 * 1024 * 1024;

function parseQcow2(io: ProbeIO, path: string, first: Uint8Array, fileSize: number): ProbedImage {
  const warnings: string[] = [];
  const h0 = decodeQcow2Header(first);
  const version = h0.version;
  const clusterSize = h0.clusterBits >= 9 && h0.clusterBits <= 21 ? 2 ** h0.clusterBits : undefined;
  let header = first;
  // Extensions and the backing file name live in the first cluster: read the rest when needed.
  if (clusterSize && clusterSize > first.length && first.length === FIRST_READ) {
    header = io.read(path, 0, Math.min(clusterSize, MAX_CLUSTER));
  }
  const f = header === first ? h0 : decodeQcow2Header(header);
  const inc = f.incompatible;
  const facts: ProbedImage = {
    format: 'qcow2',
    fileSize,
    version,
    compat: version === 2 ? '0.10' : version === 3 ? '1.1' : undefined,
    virtualSize: f.size,
    clusterSize,
    cryptMethod: f.cryptMethod,
    l1Size: f.l1Size,
    l1TableOffset: f.l1TableOffset,
    refcountTableOffset: f.refcountTableOffset,
    refcountTableClusters: f.refcountTableClusters,
    nbSnapshots: f.nbSnapshots,
    refcountBits: f.refcountOrder <= 6 ? 2 ** f.refcountOrder : undefined,
    incompatibleFeatures: f.incompatibleHigh * 2 ** 32 + inc,
    compatibleFeatures: f.compatible,
    autoclearFeatures: f.autoclear,
    compressionType: compressionName(f.compressionType),
    headerLength: f.headerLength,
    dirty: (inc & QCOW2_INCOMPAT.dirty) !== 0,
    corrupt: (inc & QCOW2_INCOMPAT.corrupt) !== 0,
    extendedL2: (inc & QCOW2_INCOMPAT.extendedL2) !== 0,
    lazyRefcounts: (f.compatible & QCOW2_COMPAT.lazyRefcounts) !== 0,
    dataFileRaw: (f.autoclear & QCOW2_AUTOCLEAR.dataFileRaw) !== 0,
    features: qcow2FeatureNames(inc, f.compatible, f.autoclear),
  };
  const limit = Math.min(header.length, clusterSize ?? header.length);
  for (const { type, data } of qcow2Extensions(header, qcow2ExtensionArea(f, limit))) {
    if (!data) {
      warnings.push(`header extension 0x${type.toString(16)} runs past the first cluster`);
      break;
    }
    if (type === QCOW2_EXT.backingFormat) facts.backingFormat = headerName(data);
    else if (type === QCOW2_EXT.dataFile) facts.dataFile = headerName(data);
    else if (type === QCOW2_EXT.cryptoHeader && data.length >= QCOW2_CRYPTO_EXT_BYTES) {
      facts.cryptoHeader = { offset: be64(data, 0), length: be64(data, 8) };
    }
  }
  const backingOffset = f.backingFileOffset;
  const backingSize = f.backingFileSize;
  if (backingOffset && backingSize) {
    if (backingOffset + backingSize <= header.length)
      facts.backingFile = headerName(header.subarray(backingOffset, backingOffset + backingSize));
    else warnings.push('backing file name lies outside the first cluster');
  }
  if (facts.cryptMethod === QCOW2_CRYPT.aes) {
    facts.encrypted = true;
    facts.encryptFormat = 'aes';
  }
  if (facts.cryptMethod === QCOW2_CRYPT.luks) {
    facts.encrypted = true;
    facts.encryptFormat = 'luks';
    if (facts.cryptoHeader && facts.cryptoHeader.offset + LUKS1.headerBytes <= fileSize) {
      const luks = parseLuksHeader(io.read(path, facts.cryptoHeader.offset, LUKS1.headerBytes));
      if (luks) facts.luks = luks;
      else warnings.push('no LUKS header at the offset the crypto header extension names');
    }
  }
  if (warnings.length) facts.warnings = warnings;
  return facts;
}

/** qemu-img info's compression type: zlib when the header has no such byte (version 2 too). */
function compressionName(c: number | undefined): string {
  return c === undefined || c === QCOW2_COMPRESSION.zlib
    ? 'zlib'
    : c === QCOW2_COMPRESSION.zstd
      ? 'zstd'
      : `unknown(${c})`;
}

/**
 * Reads the header of `path` and says what the image is. Throws only when the file cannot be read
 * (missing, permission): callers map that to "no facts".
 */
export function probeImage(io: ProbeIO, path: string): ProbedImage {
  const fileSize = io.size(path);
  const first = io.read(path, 0, Math.min(FIRST_READ, fileSize));
  if (first.length >= QCOW2_V2_HEADER_LENGTH && be32(first, H.magic[0]) === QCOW2_MAGIC) {
    const version = be32(first, H.version[0]);
    if (version === 1) {
      // qcow v1 (block/qcow.c QCowHeader): size at 24, cluster_bits at 32, crypt_method at 36.
      const crypt = be32(first, 36);
      const boff = be64(first, 8),
        bsize = be32(first, 16);
      const f: ProbedImage = {
        format: 'qcow',
        fileSize,
        version: 1,
        virtualSize: be64(first, 24),
        clusterSize: 2 ** first[32],
        cryptMethod: crypt,
      };
      if (crypt === 1) {
        f.encrypted = true;
        f.encryptFormat = 'aes';
      }
      if (boff && bsize && boff + bsize <= first.length) f.backingFile = headerName(first.subarray(boff, boff + bsize));
      return f;
    }
    return parseQcow2(io, path, first, fileSize);
  }
  if (hasLuksMagic(first)) {
    const luks = parseLuksHeader(first);
    const f: ProbedImage = { format: 'luks', fileSize, encrypted: true, encryptFormat: 'luks', luks };
    if (luks?.payloadOffset !== undefined) f.virtualSize = Math.max(0, fileSize - luks.payloadOffset);
    return f;
  }
  if (startsWith(first, 'QED\0') && first.length >= 56) {
    return { format: 'qed', fileSize, clusterSize: le32(first, 4), virtualSize: le64(first, 48) };
  }
  if (startsWith(first, 'KDMV') && first.length >= 20) {
    return { format: 'vmdk', fileSize, virtualSize: le64(first, 12) * 512 };
  }
  if (startsWith(first, 'COWD') || startsWith(first, '# Disk DescriptorFile')) {
    return { format: 'vmdk', fileSize };
  }
  if (first.length >= 0x17c && le32(first, 0x40) === 0xbeda107f) {
    // VDI 1.1 header (block/vdi.c VdiHeader): disk_size at 0x170, block_size at 0x178.
    return { format: 'vdi', fileSize, virtualSize: le64(first, 0x170), clusterSize: le32(first, 0x178) };
  }
  if (startsWith(first, 'conectix') && first.length >= 56) {
    return { format: 'vpc', fileSize, virtualSize: be64(first, 48) };
  }
  if (startsWith(first, 'vhdxfile')) {
    return { format: 'vhdx', fileSize };
  }
  return { format: 'raw', fileSize, virtualSize: fileSize };
}

/** probeImage that answers undefined instead of throwing (for env.imageFacts). */
export function tryProbeImage(io: ProbeIO, path: string): ProbedImage | undefined {
  try {
    return probeImage(io, path);
  } catch {
    return undefined;
  }
}
