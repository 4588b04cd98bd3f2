// Compressed qcow2 clusters (block/qcow2-threads.c qcow2_zlib_decompress, qcow2_zstd_decompress):
// the stored bytes are rounded up to 512-byte sectors, and compressed clusters are packed one
// after the other, so the input usually ends with the start of the next cluster. Both decoders
// stop at the end of their own stream and must produce exactly one cluster.
//  - zlib: a raw deflate stream (no zlib header; qemu deflates with window bits -12).
//  - zstd: one zstd frame. Node 20 has no zstd, so the frame is decoded by fzstd (pure JavaScript,
//    no native or WebAssembly build step, ~8 kB, by the author of fflate, 400k downloads a month;
//    chosen over zstd-codec/zstddec, which ship Emscripten/WebAssembly builds). fzstd reads
//    every frame it is given, so the frame's own length is found first from its block headers
//    (RFC 8878 §3.1.1) and only that frame is handed over.
import { promisify } from 'node:util';
import { constants, inflateRaw, inflateRawSync, type ZlibOptions } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';

export type CompressionType = 'zlib' | 'zstd';

/** The cluster's bytes, or an error message (the caller names the file and offset). */
export function decompressCluster(type: CompressionType, input: Uint8Array, clusterSize: number): Uint8Array | string {
  try {
    if (type === 'zlib') {
      // Z_SYNC_FLUSH: a stream cut short yields what it has instead of throwing "unexpected end".
      const out = inflateRawSync(input, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: clusterSize + 1 });
      if (out.length !== clusterSize) return `decompresses to ${out.length} bytes, not one ${clusterSize}-byte cluster`;
      return out;
    }
    const frame = zstdFrameLength(input);
    if (typeof frame === 'string') return frame;
    const out = new Uint8Array(clusterSize);
    const got = zstdDecompress(input.subarray(0, frame), out);
    if (got.length !== clusterSize) return `decompresses to ${got.length} bytes, not one ${clusterSize}-byte cluster`;
    return got;
  } catch (e) {
    return `cannot be decompressed (${type}: ${(e as Error).message})`;
  }
}

const inflateRawAsync = promisify(inflateRaw) as (input: Uint8Array, o: ZlibOptions) => Promise<Buffer>;

/**
 * decompressCluster with zlib on libuv's thread pool: a bulk read (several clusters in flight)
 * inflates on every core, as qemu's decompression runs in its thread pool (block/qcow2-threads.c
 * qcow2_co_decompress). zstd stays in JavaScript (fzstd has no asynchronous form).
 */
export async function decompressClusterAsync(
  type: CompressionType,
  input: Uint8Array,
  clusterSize: number,
): Promise<Uint8Array | string> {
  if (type !== 'zlib') return decompressCluster(type, input, clusterSize);
  try {
    const out = await inflateRawAsync(input, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: clusterSize + 1 });
    if (out.length !== clusterSize) return `decompresses to ${out.length} bytes, not one ${clusterSize}-byte cluster`;
    return out;
  } catch (e) {
    return `cannot be decompressed (zlib: ${(e as Error).message})`;
  }
}

const ZSTD_MAGIC = 0xfd2fb528;

/** Length of the zstd frame at the start of `b` (header, blocks, optional checksum), or why not. */
export function zstdFrameLength(b: Uint8Array): number | string {
  if (b.length < 6) return 'is too short for a zstd frame';
  const magic = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
  if (magic !== ZSTD_MAGIC) return 'does not start with the zstd frame magic';
  const fhd = b[4];
  const fcsFlag = fhd >> 6,
    singleSegment = (fhd >> 5) & 1,
    checksum = (fhd >> 2) & 1,
    didFlag = fhd & 3;
  if (fhd & 0x08) return 'has a reserved zstd frame header bit set';
  let p = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][didFlag] + [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag];
  for (;;) {
    if (p + 3 > b.length) return 'ends inside a zstd block header';
    const h = b[p] | (b[p + 1] << 8) | (b[p + 2] << 16);
    const last = h & 1,
      type = (h >> 1) & 3,
      size = h >> 3;
    if (type === 3) return 'has a reserved zstd block type';
    p += 3 + (type === 1 ? 1 : size);
    if (p > b.length) return 'ends inside a zstd block';
    if (last) break;
  }
  if (checksum) p += 4;
  return p > b.length ? 'ends inside the zstd checksum' : p;
}
