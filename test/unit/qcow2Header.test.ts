// The one qcow2 header decoder (writer/qcow2Header.ts) on an image the writer makes: its fields and
// extensions, the walk stopping at an extension that runs past its area, and a backing file named
// in UTF-8 (as qcow2Render.ts stores it) read back by probe.ts and opened by the reader's chain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { checkCreate } from '../../schemas/qcow2Options';
import { createImage } from '../../server/src/writer/create';
import { nodeProbeIO, nodeWriterIO } from '../../server/src/writer/nodeIO';
import { probeImage } from '../../server/src/writer/probe';
import { openImage } from '../../server/src/writer/reader/imageReader';
import { QCOW2_EXT, QCOW2_MAGIC } from '../../server/src/writer/qcow2Format';
import {
  decodeQcow2Header,
  headerName,
  qcow2ExtensionArea,
  qcow2Extensions,
} from '../../server/src/writer/qcow2Header';

const BACKING = 'bäse ü.raw';

async function withImage(fn: (dir: string, image: string) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'lv-qcow2-header-'));
  try {
    fs.writeFileSync(join(dir, BACKING), Buffer.alloc(1 << 20, 0x5a));
    const v = checkCreate({ format: 'qcow2', filename: 'img', size: '1M', options: [], backingFile: BACKING, backingFmt: 'raw' },
      () => ({ detectedFormat: 'raw', length: 1 << 20 }));
    assert.ok(v.ok, v.ok ? '' : v.message);
    await createImage(v.spec, { io: nodeWriterIO(), cwd: dir });
    await fn(dir, join(dir, 'img'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('decoder: the fields and extensions of a written qcow2; a walk stops at an extension past its area', async () => {
  await withImage(async (_dir, image) => {
    const bytes = fs.readFileSync(image);
    const f = decodeQcow2Header(bytes);
    assert.equal(f.magic, QCOW2_MAGIC);
    assert.deepEqual([f.version, f.clusterBits, f.size, f.cryptMethod, f.refcountOrder, f.headerLength, f.compressionType],
      [3, 16, 1 << 20, 0, 4, 112, 0]);
    assert.equal(headerName(bytes.subarray(f.backingFileOffset, f.backingFileOffset + f.backingFileSize)), BACKING);
    const area = qcow2ExtensionArea(f, 65536);
    assert.deepEqual(area, { start: 112, end: f.backingFileOffset }, 'extensions end where the backing name starts');
    const exts = [...qcow2Extensions(bytes, area)];
    const format = exts.find((e) => e.type === QCOW2_EXT.backingFormat);
    assert.equal(format?.data && headerName(format.data), 'raw');
    assert.ok(exts.some((e) => e.type === QCOW2_EXT.featureTable), exts.map((e) => e.type.toString(16)).join(','));
    const cut = [...qcow2Extensions(bytes, { start: area.start, end: area.start + 10 })];
    assert.deepEqual(cut, [{ type: exts[0].type, at: area.start, length: exts[0].length }], 'no data past the area, then no more');
    // Fewer bytes than version 3's fields: version 2's defaults, never a read past the end.
    const short = decodeQcow2Header(bytes.subarray(0, 72));
    assert.deepEqual([short.version, short.incompatible, short.refcountOrder, short.headerLength, short.compressionType],
      [3, 0, 4, 72, undefined]);
    assert.equal(headerName(Uint8Array.from([0x61, 0, 0x62])), 'a', 'a C string ends at its NUL byte');
  });
});

test('a backing file named in UTF-8: probe.ts reports the name, the reader opens it through the chain', async () => {
  await withImage(async (dir, image) => {
    const facts = probeImage(nodeProbeIO(), image);
    assert.equal(facts.backingFile, BACKING);
    assert.equal(facts.backingFormat, 'raw');
    const r = await openImage(image, { io: nodeWriterIO(), cwd: dir });
    try {
      assert.equal(r.backing?.format, 'raw');
      const b = new Uint8Array(4096);
      await r.read(8192, b);
      assert.ok(b.every((x) => x === 0x5a), 'the backing file shows through');
    } finally {
      await r.close();
    }
  });
});
