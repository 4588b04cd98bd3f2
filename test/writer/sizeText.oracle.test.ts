// qemu-img info's size text (common/bytes.ts qemuSizeText) against qemu-img itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { qemuSizeText } from '../../server/src/common/bytes';
import { qemuImgOk } from '../helpers/oracle';

test("qemuSizeText is qemu-img info's virtual size text", () => {
  const dir = mkdtempSync(join(tmpdir(), 'lv-size-'));
  try {
    // Multiples of 512: qemu-img rounds a raw image's size up to whole sectors.
    for (const n of [512, 1024, 1536, 999_936, 1_000_448, 3_072_000, 1_024_000, 1_048_576, 11_010_048, 123_456_512, 1_610_612_736]) {
      const f = join(dir, `s${n}.img`);
      qemuImgOk(['create', '-q', '-f', 'raw', f, String(n)]);
      const info = qemuImgOk(['info', f]);
      assert.match(info, new RegExp(`^virtual size: ${qemuSizeText(n).replace('.', '\\.')} \\(${n} bytes\\)$`, 'm'), String(n));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
