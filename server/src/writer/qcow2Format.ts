// The qcow2 on-disk format, named once: header fields, magic, header extension ids, feature bits
// and their feature-table names, table entry flags. The renderer (qcow2Render.ts) and the reader
// (probe.ts) both use these names; nothing else spells a qcow2 offset or magic number.
// Source: qemu's docs/interop/qcow2.txt and block/qcow2.h (QCowHeader, QCOW2_EXT_MAGIC_*,
// QCOW2_INCOMPAT_*, QCOW2_COMPAT_*, QCOW2_AUTOCLEAR_*, QCOW_OFLAG_*). All integers big-endian.

/** "QFI\xfb" (QCOW_MAGIC). */
export const QCOW2_MAGIC = 0x514649fb;

/** Header fields: [offset, length] in bytes (QCowHeader; version 3 fields from byte 72). */
export const QCOW2_HEADER = {
  magic: [0, 4],
  version: [4, 4],
  backingFileOffset: [8, 8],
  backingFileSize: [16, 4],
  clusterBits: [20, 4],
  size: [24, 8],
  cryptMethod: [32, 4],
  l1Size: [36, 4],
  l1TableOffset: [40, 8],
  refcountTableOffset: [48, 8],
  refcountTableClusters: [56, 4],
  nbSnapshots: [60, 4],
  snapshotsOffset: [64, 8],
  // version 3
  incompatibleFeatures: [72, 8],
  compatibleFeatures: [80, 8],
  autoclearFeatures: [88, 8],
  refcountOrder: [96, 4],
  headerLength: [100, 4],
  compressionType: [104, 1],
} as const satisfies Record<string, readonly [number, number]>;

/** Header length of version 2 (fixed) and the one qemu writes for version 3 (104 + padding to 8). */
export const QCOW2_V2_HEADER_LENGTH = 72;
export const QCOW2_V3_HEADER_LENGTH = 112;

/** compression_type byte values. */
export const QCOW2_COMPRESSION = { zlib: 0, zstd: 1 } as const;

/** crypt_method values. */
export const QCOW2_CRYPT = { none: 0, aes: 1, luks: 2 } as const;

/** Header extension types (QCOW2_EXT_MAGIC_*); each is {u32 type, u32 length, data padded to 8}. */
export const QCOW2_EXT = {
  end: 0x00000000,
  backingFormat: 0xe2792aca,
  featureTable: 0x6803f857,
  cryptoHeader: 0x0537be77,
  bitmaps: 0x23852875,
  dataFile: 0x44415441,
} as const;
export const QCOW2_EXT_HEADER_BYTES = 8;
/** Crypto header extension data: u64 offset, u64 length of the LUKS header area. */
export const QCOW2_CRYPTO_EXT_BYTES = 16;

/** Feature bits (bit values). */
export const QCOW2_INCOMPAT = { dirty: 1, corrupt: 2, dataFile: 4, compression: 8, extendedL2: 16 } as const;
export const QCOW2_COMPAT = { lazyRefcounts: 1 } as const;
export const QCOW2_AUTOCLEAR = { bitmaps: 1, dataFileRaw: 2 } as const;

/** Feature name table entry kinds (the first byte of each 48-byte entry). */
export const QCOW2_FEATURE_TYPE = { incompatible: 0, compatible: 1, autoclear: 2 } as const;
export const QCOW2_FEATURE_ENTRY_BYTES = 48;

/** The feature name table qemu writes (qcow2_update_header), in its order: [type, bit number, name]. */
export const QCOW2_FEATURE_NAMES: readonly (readonly [number, number, string])[] = [
  [QCOW2_FEATURE_TYPE.incompatible, 0, 'dirty bit'],
  [QCOW2_FEATURE_TYPE.incompatible, 1, 'corrupt bit'],
  [QCOW2_FEATURE_TYPE.incompatible, 2, 'external data file'],
  [QCOW2_FEATURE_TYPE.incompatible, 3, 'compression type'],
  [QCOW2_FEATURE_TYPE.incompatible, 4, 'extended L2 entries'],
  [QCOW2_FEATURE_TYPE.compatible, 0, 'lazy refcounts'],
  [QCOW2_FEATURE_TYPE.autoclear, 0, 'bitmaps'],
  [QCOW2_FEATURE_TYPE.autoclear, 1, 'raw external data'],
];

/** Names of the set feature bits, in the table's order. */
export function qcow2FeatureNames(incompatible: number, compatible: number, autoclear: number): string[] {
  const words = [incompatible, compatible, autoclear];
  return QCOW2_FEATURE_NAMES.filter(([type, bit]) => (words[type] / 2 ** bit) % 2 >= 1).map(([, , name]) => name);
}

/**
 * L1/L2/refcount-table entry flags (QCOW_OFLAG_*), as the high word's bits: entries are u64 and
 * the flags live in bits 63/62, so renderers set them on the upper 32 bits.
 */
export const QCOW2_OFLAG_HI = { copied: 0x80000000, compressed: 0x40000000 } as const;
/** Bit 0 of a standard L2 entry: the cluster reads as zeros (QCOW_OFLAG_ZERO). */
export const QCOW2_OFLAG_ZERO = 1;
/** Bytes per refcount table and L1 entry. */
export const QCOW2_TABLE_ENTRY_BYTES = 8;
