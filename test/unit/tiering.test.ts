// check's use of V8's optimizing tier (server/src/cli/tiering.ts): off for the start of a run of
// many documents, back on for good at a big document or after a long run; short runs untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BIG_DOCUMENT, LONG_RUN, MANY, Tiering } from '../../server/src/cli/tiering';

test('tiering: a short run keeps V8 flags as they are', () => {
  const set: string[] = [];
  const t = new Tiering(MANY - 1, (f) => set.push(f));
  assert.equal(t.next(BIG_DOCUMENT + 1), true);
  assert.deepEqual(set, []);
});

test('tiering: many small documents start without TurboFan; a big document turns it on once', () => {
  const set: string[] = [];
  const t = new Tiering(400, (f) => set.push(f));
  assert.deepEqual(set, ['--no-opt']);
  assert.equal(t.next(4096), false);
  assert.equal(t.next(BIG_DOCUMENT + 1), true);
  assert.equal(t.next(4096), true);
  assert.deepEqual(set, ['--no-opt', '--opt']);
});

test('tiering: a long run of small documents turns it on after LONG_RUN bytes', () => {
  const set: string[] = [];
  const t = new Tiering(10_000, (f) => set.push(f));
  let on = false,
    read = 0;
  while (!on) {
    on = t.next(64 * 1024);
    read += 64 * 1024;
  }
  assert.ok(read > LONG_RUN && read <= LONG_RUN + 64 * 1024, `${read}`);
  assert.deepEqual(set, ['--no-opt', '--opt']);
});
