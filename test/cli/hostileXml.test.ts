// `libvirt-volume check` on hostile files (issue 16 §4): bounded time, and bounded memory asserted
// by running the CLI under a 256 MB V8 heap (18 MB of '</bad>' took 2.9 GB and died before).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

const root = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
const bin = join(root, 'bin', 'libvirt-volume.js');
let dir = '';
before(() => { dir = mkdtempSync(join(tmpdir(), 'lv-hostile-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

const FILES: Record<string, string> = {
  'lt1.xml': '<volume>' + '<'.repeat(1 << 20) + '</volume>',
  'lt10.xml': '<volume>' + '<'.repeat(10 << 20),
  'bad18.xml': '<volume>' + '</bad>'.repeat(3 << 20) + '</volume>',
  'attrs50k.xml': '<volume ' + Array.from({ length: 50_000 }, (_, k) => `a${k}='${k}'`).join(' ') + '/>',
  'dup50k.xml': '<volume ' + "a='1' ".repeat(50_000) + '/>',
};

test('check: hostile files get a bounded verdict in bounded time and memory', (t) => {
  for (const [name, text] of Object.entries(FILES)) {
    writeFileSync(join(dir, name), text);
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['--max-old-space-size=256', bin, 'check', name], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    const ms = performance.now() - t0;
    t.diagnostic(`${name}: exit ${r.status}, ${r.stdout.split('\n').length - 1} lines, ${ms.toFixed(0)} ms`);
    assert.ok(ms < 20_000, `${name}: ${ms.toFixed(0)} ms`);
    assert.ok(r.status === 0 || r.status === 1, `${name}: exit ${r.status} ${r.signal ?? ''} ${r.stderr.slice(-300)}`);
    assert.ok(r.stdout.split('\n').length <= 1002, `${name}: ${r.stdout.split('\n').length} lines`);
    assert.match(r.stderr, /1 file checked/);
  }
});
