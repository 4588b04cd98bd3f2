// Fast checks of the conversion engine's pieces (no tools): the bulk xts path of cryptSectors
// against the per-sector reference (cryptRun with each sector's IV), and convert's own refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Aes } from '../../server/src/writer/crypto/blockCipher';
import { Plain64IvGen, PlainIvGen } from '../../server/src/writer/crypto/ivgen';
import { cryptRun, cryptSectors, type SectorCipher } from '../../server/src/writer/crypto/modes';
import { checkConvert, convertOutputSize } from '../../server/src/writer/convert';
import type { ImageReader } from '../../server/src/writer/reader/imageReader';

function perSector(sc: SectorCipher, buf: Uint8Array, start: bigint, decrypt: boolean): void {
  for (let off = 0, s = start; off < buf.length; off += 512, s++) {
    cryptRun(sc, sc.ivgen!.calculate(s, 16), buf, off, 512, decrypt);
  }
}

test('bulk xts (plain, plain64) equals sector-by-sector xts, across 2^32 sectors and batch boundaries', () => {
  for (const ivgen of [new Plain64IvGen(), new PlainIvGen()]) {
    for (const keyBytes of [16, 32]) {
      const sc: SectorCipher = { mode: 'xts', cipher: new Aes(randomBytes(keyBytes)), tweak: new Aes(randomBytes(keyBytes)), ivgen };
      for (const start of [0n, 2n ** 32n - 3n, 12345n]) {
        const plain = randomBytes(512 * 4100); // more than one 4096-sector batch
        const a = Uint8Array.from(plain), b = Uint8Array.from(plain);
        cryptSectors(sc, a, start, false);
        perSector(sc, b, start, false);
        assert.ok(Buffer.from(a).equals(Buffer.from(b)), `encrypt ${ivgen.constructor.name} ${keyBytes} from ${start}`);
        cryptSectors(sc, a, start, true);
        assert.ok(Buffer.from(a).equals(plain), `decrypt ${ivgen.constructor.name} ${keyBytes} from ${start}`);
      }
    }
  }
});

test('checkConvert: -c only for qcow2, zlib or zstd, not with encryption or preallocation (qemu\'s messages), -S a multiple of 512 up to 16 MiB, one output', () => {
  const source = { virtualSize: 1000 } as ImageReader;
  assert.equal(convertOutputSize(source), 1024);
  const raw = { format: 'raw' as const, filename: 'o', size: 1024, preallocation: 'off' as const, nocow: false, version: 3 as const,
    clusterSize: 65536, extendedL2: false, lazyRefcounts: false, refcountBits: 16, compressionType: 'zlib' as const, dataFileRaw: false };
  assert.equal(checkConvert({ source, target: raw }), undefined);
  assert.equal(checkConvert({ source, target: raw, compress: true })?.message, 'Compression not supported for this file format');
  for (const ms of [1, 511, 16 * 1024 * 1024 + 512, -512]) {
    assert.equal(checkConvert({ source, target: raw, minSparse: ms })?.message, 'Invalid buffer size for sparse output specified');
  }
  assert.equal(checkConvert({ source, target: raw, minSparse: 16 * 1024 * 1024 }), undefined);
  assert.match(checkConvert({ source })!.message, /exactly one output/);
  const q = { ...raw, format: 'qcow2' as const, compressionType: 'zstd' as const };
  assert.equal(checkConvert({ source, target: q, compress: true }), undefined, '-c with compression_type=zstd');
  // -c against encryption and preallocation: qemu-img.c img_convert's messages.
  const encrypted = { ...q, encrypt: { format: 'luks' as const, options: {} } };
  assert.equal(checkConvert({ source, target: encrypted, compress: true })?.message,
    'Compression and encryption not supported at the same time');
  assert.equal(checkConvert({ source, target: { ...q, preallocation: 'falloc' }, compress: true })?.message,
    'Compression and preallocation not supported at the same time');
  // Preallocated and data-file qcow2 outputs are written; -c with either is qemu's refusal, -B with
  // preallocation not written yet.
  const z = { ...q, compressionType: 'zlib' as const };
  for (const p of ['metadata', 'falloc', 'full'] as const) {
    assert.equal(checkConvert({ source, target: { ...z, preallocation: p } }), undefined);
    assert.equal(checkConvert({ source, target: { ...z, preallocation: p }, compress: true })?.message,
      'Compression and preallocation not supported at the same time');
    assert.match(checkConvert({ source, target: { ...z, preallocation: p, backingFile: 'b', backingFmt: 'raw' } })!.message,
      new RegExp(`preallocation=${p} with a backing file \\(-B\\) is not supported`));
  }
  assert.equal(checkConvert({ source, target: { ...z, dataFile: 'd' } }), undefined);
  assert.match(checkConvert({ source, target: { ...z, dataFile: 'd' }, compress: true })!.message, /Operation not supported/);
});
