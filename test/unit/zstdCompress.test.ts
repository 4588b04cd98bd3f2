// The zstd cluster compressor of `convert -c -o compression_type=zstd` (server/src/writer/zstdCompress.ts)
// without external tools: its frames are single zstd frames that the reader's decoder (fzstd, the
// other implementation in the tree) turns back into exactly one cluster, the frame header says the
// content size as qemu's ZSTD_e_end frames do, an incompressible cluster does not fit in
// cluster_size - 1 bytes (so the stream writer stores it uncompressed), and the WebAssembly module
// is loaded once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decompressCluster, zstdFrameLength } from '../../server/src/writer/reader/decompress';
import { loadZstdCompressor } from '../../server/src/writer/zstdCompress';

test('zstd clusters: one frame each, decoded by the reader to exactly the cluster; random data does not fit', async () => {
  const compress = await loadZstdCompressor();
  assert.equal(await loadZstdCompressor(), compress, 'loaded once');
  for (const cs of [512, 4096, 65536, 2 * 1024 * 1024]) {
    const text = Buffer.alloc(cs);
    for (let p = 0; p < cs; ) p += text.write(`guest sector ${p} of a qcow2 volume; `, p);
    const half = Buffer.concat([text.subarray(0, cs / 2), randomBytes(cs / 2)]);
    for (const cluster of [text, half, Buffer.alloc(cs)]) {
      const frame = compress(cluster);
      assert.ok(frame.length < cs - 1, `${cs}: compressible data compresses`);
      // The frame is followed by whatever comes next in the file (packed clusters, sector padding).
      const stored = Buffer.concat([frame, randomBytes(300)]);
      assert.equal(zstdFrameLength(stored), frame.length);
      assert.ok(Buffer.from(decompressCluster('zstd', stored, cs) as Uint8Array).equals(cluster), `${cs}: round trip`);
      // Frame header descriptor (RFC 8878 §3.1.1.1): a content size field, no dictionary id, no checksum.
      const fhd = frame[4];
      assert.equal(fhd & 0x04, 0, 'no checksum');
      assert.equal(fhd & 0x03, 0, 'no dictionary');
      assert.ok(fhd >> 6 !== 0 || (fhd & 0x20) !== 0, 'the content size is stored');
    }
    assert.ok(compress(randomBytes(cs)).length > cs - 1, `${cs}: random data does not fit in cluster_size - 1`);
  }
});
