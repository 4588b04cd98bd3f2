// One exclusive lock between processes of a checkout (the test runner runs test files two at a
// time, and several of them install the e2e host or package the .vsix). mkdir is atomic; the
// holder's pid inside lets a lock left behind by a dead process be taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function alive(pid) {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
}

/** Runs fn() holding the lock `dir` (waits for another holder, at most timeoutMs). */
export function withLock(dir, fn, { timeoutMs = 15 * 60_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(dir, { recursive: false });
      writeFileSync(join(dir, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let pid = 0;
      try { pid = Number(readFileSync(join(dir, 'pid'), 'utf8')); } catch { /* being written or removed */ }
      if (pid && !alive(pid)) { rmSync(dir, { recursive: true, force: true }); continue; }
      if (Date.now() > deadline) throw new Error(`${dir}: still held by pid ${pid || '?'} after ${timeoutMs} ms`, { cause: e });
      sleep(200);
    }
  }
  try { return fn(); } finally { rmSync(dir, { recursive: true, force: true }); }
}
