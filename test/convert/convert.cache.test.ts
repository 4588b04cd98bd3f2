// `convert -t CACHE` flushes the output exactly when `qemu-img convert -t CACHE` does: both run
// under strace, counting fsync/fdatasync on the output. qemu-img convert's default target cache
// mode is 'unsafe' (qemu-img.c img_convert): no flush, the kernel writes the data back later;
// writeback, none, writethrough and directsync flush. Both outputs are compared with qemu-img.
// qemu-img's qcow2 create step flushes the empty image whatever -t says: that is no flush of data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { io, ok, skip as qemuSkip, tmpdir } from '../reader/oracle';

const root = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
const CLI = join(root, 'bin', 'libvirt-volume.js');
const haveStrace = spawnSync('strace', ['-V']).status === 0;
const skip = qemuSkip || (haveStrace ? false : 'strace is not installed');

/** Flush calls (fsync, fdatasync) of a command and its threads and children, under strace. */
function flushes(dir: string, cmd: string[]): number {
  const log = join(dir, 'strace.log');
  const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=fsync,fdatasync', '-o', log, ...cmd], {
    cwd: dir,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `${cmd.join(' ')}: ${r.stderr}`);
  const calls = fs.readFileSync(log, 'utf8').split('\n').filter((l) => /\b(fsync|fdatasync)\(/.test(l));
  fs.rmSync(log);
  return calls.length;
}

test('convert -t: the output is flushed exactly when qemu-img convert flushes it (default unsafe: never)', { skip, timeout: 120_000 }, () => {
  const dir = tmpdir('convert-cache');
  try {
    ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', 'in.qcow2', '8M');
    io(dir, 'in.qcow2', ['write -P 0x5a 1M 2M', 'write -z 4M 1M']);
    for (const mode of [undefined, 'unsafe', 'writeback', 'none', 'writethrough', 'directsync']) {
      for (const out of ['raw', 'qcow2']) {
        const t = mode ? ['-t', mode] : [];
        const args = ['-f', 'qcow2', '-O', out, ...t, 'in.qcow2'];
        const q = flushes(dir, ['qemu-img', 'convert', ...args, `q.${out}`]);
        const o = flushes(dir, [process.execPath, CLI, 'convert', ...args, `o.${out}`]);
        const what = `-O ${out} -t ${mode ?? '(default)'}: qemu-img ${q} flushes, ours ${o}`;
        // A qcow2 output is created (qcow2_co_create, writeback) and flushed while still empty, before
        // the copy opens it with the convert's cache mode: only a raw output's flushes are the copy's.
        if (out === 'raw') assert.equal(o > 0, q > 0, what);
        assert.equal(o > 0, mode !== undefined && mode !== 'unsafe', what);
        assert.equal(ok('qemu-img', dir, 'compare', `q.${out}`, `o.${out}`), 'Images are identical.\n');
        fs.rmSync(join(dir, `q.${out}`));
        fs.rmSync(join(dir, `o.${out}`));
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
