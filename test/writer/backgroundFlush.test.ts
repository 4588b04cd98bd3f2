// Background flushing (issue 15): where flushes are slow, the periodic fdatasync costs more than
// the overlap saves, so the writer stops flushing in the background as soon as a flush is still
// running when the next is due. The real node I/O, with each fsync made slower than the writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { checkCreate } from '../../schemas/qcow2Options';
import { createImage } from '../../server/src/writer/create';
import type { WriterIO } from '../../server/src/writer/io';
import { nodeWriterIO } from '../../server/src/writer/nodeIO';

/** nodeWriterIO whose fsync takes at least `delayMs` longer, counting the calls. */
function slowFlushIO(delayMs: number): { io: WriterIO; fsyncs: () => number } {
  const real = nodeWriterIO();
  let n = 0;
  const io: WriterIO = { ...real, fsync: async (fd) => { n++; await real.fsync(fd); await new Promise((r) => setTimeout(r, delayMs)); } };
  return { io, fsyncs: () => n };
}

test('slow flushes: one background flush, then only the final one; the image is complete', async () => {
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'lv-bgflush-'));
  try {
    const v = checkCreate({ format: 'raw', filename: 'full.img', size: '256M', options: ['preallocation=full'] });
    assert.ok(v.ok);
    const { io, fsyncs } = slowFlushIO(2000);
    await createImage(v.spec, { io, cwd: dir });
    // A flush every 32 MiB would be 8 background flushes for 256 MiB; the first one is still
    // running (2 s) when the second is due, so flushing stops: 1 background + the final ones.
    assert.ok(fsyncs() <= 3, `${fsyncs()} fsync calls`);
    const st = fs.statSync(join(dir, 'full.img'));
    assert.equal(st.size, 256 * 2 ** 20);
    assert.ok(st.blocks * 512 >= st.size, 'fully allocated');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
