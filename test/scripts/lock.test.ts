// scripts/lock.mjs: test files that install the e2e host or package the .vsix at the same time must
// take turns (a fresh clone's first run had two `npm ci` in e2e/host at once, and both failed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOCK = join(__dirname, '..', '..', 'scripts', 'lock.mjs');

/** A process that holds the lock for `ms` and logs when it enters and leaves. */
function holder(dir: string, log: string, tag: string, ms: number): Promise<number | null> {
  const code = `import(${JSON.stringify(LOCK)}).then(({ withLock }) => withLock(${JSON.stringify(dir)}, () => {
    const fs = require('node:fs');
    fs.appendFileSync(${JSON.stringify(log)}, '${tag}+');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${ms});
    fs.appendFileSync(${JSON.stringify(log)}, '${tag}-');
  }));`;
  return new Promise((res) => spawn(process.execPath, ['-e', code], { stdio: 'inherit' }).on('close', res));
}

test('two processes take the lock in turn; a lock left by a dead process is taken over', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lv-lock-'));
  try {
    const log = join(dir, 'log');
    writeFileSync(log, '');
    const codes = await Promise.all([holder(join(dir, 'l'), log, 'a', 300), holder(join(dir, 'l'), log, 'b', 300)]);
    assert.deepEqual(codes, [0, 0]);
    assert.match(readFileSync(log, 'utf8'), /^(a\+a-b\+b-|b\+b-a\+a-)$/, 'no overlap');
    // A holder that died: its pid no longer runs, so the next one proceeds at once.
    mkdirSync(join(dir, 'stale'));
    writeFileSync(join(dir, 'stale', 'pid'), '2147483646');
    writeFileSync(log, '');
    const t0 = Date.now();
    assert.equal(await holder(join(dir, 'stale'), log, 'c', 0), 0);
    assert.equal(readFileSync(log, 'utf8'), 'c+c-');
    assert.ok(Date.now() - t0 < 5000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
