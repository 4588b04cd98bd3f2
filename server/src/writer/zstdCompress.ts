// zstd compression of qcow2 clusters (`convert -c -O qcow2 -o compression_type=zstd`).
//
// What qemu writes (block/qcow2-threads.c qcow2_zstd_compress): each cluster is one zstd frame made
// by a fresh compression context at the default level (ZSTD_CLEVEL_DEFAULT, 3) with
// ZSTD_compressStream2(..., ZSTD_e_end) on the whole cluster — so the frame header carries the
// content size, no dictionary and no checksum — into a buffer of cluster_size - 1 bytes; when the
// frame does not fit, the cluster is written uncompressed (block/qcow2.c
// qcow2_co_pwritev_compressed_task). qemu's reader (qcow2_zstd_decompress) streams frames until the
// cluster is full and ignores the rest of the last sector, so one frame per cluster is what both
// sides agree on. The frame here is ZSTD_compress at level 3 — the same parameters.
//
// Node 20 has no zstd compressor (zlib.zstdCompressSync arrives in Node 22.15) and an encoder that
// matches zstd's ratio is not a small piece of code, so the real zstd library runs as WebAssembly:
// @bokuweb/zstd-wasm (MIT, libzstd compiled with Emscripten, no dependencies, no install script).
// It was measured against @hpcc-js/wasm-zstd (Apache-2.0): the same clusters compressed in 2.2–2.7× less
// CPU time, and this one's 250 kB .wasm stays a file of its own (dist/zstd.wasm, copied by
// scripts/build.mjs) instead of growing dist/cli.js, whose start-up is on the clock. The module is
// loaded on the first zstd -c conversion only.
import { WriterError } from './errors';

/** Compresses one whole cluster into one zstd frame (never empty). */
export type ZstdClusterCompressor = (cluster: Uint8Array) => Uint8Array;

/** qemu's level: a new ZSTD_CCtx's default (ZSTD_CLEVEL_DEFAULT). */
export const ZSTD_LEVEL = 3;

let loading: Promise<ZstdClusterCompressor> | undefined;

/** The zstd compressor, its WebAssembly instantiated once per process (thread). */
export function loadZstdCompressor(): Promise<ZstdClusterCompressor> {
  loading ??= load().catch((e: unknown) => {
    loading = undefined;
    throw new WriterError(
      `zstd compression is not available: ${(e as Error).message ?? String(e)} ` +
        '(the zstd.wasm file beside the bundle, or @bokuweb/zstd-wasm, is missing)',
      'refused',
      'compression_type',
    );
  });
  return loading;
}

async function load(): Promise<ZstdClusterCompressor> {
  const zstd = await import('@bokuweb/zstd-wasm');
  await zstd.init();
  return (cluster) => {
    const out = zstd.compress(cluster, ZSTD_LEVEL);
    // A frame starts with its magic (RFC 8878 §3.1.1): anything else is the library failing.
    if (out.length < 9 || out[0] !== 0x28 || out[1] !== 0xb5 || out[2] !== 0x2f || out[3] !== 0xfd) {
      throw new WriterError('zstd compression failed: no zstd frame produced', 'refused', 'compression_type');
    }
    return out;
  };
}
