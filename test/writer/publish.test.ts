// The writer's one publish protocol (server/src/writer/publish.ts) and the hostile-input items of
// the writer: non-regular targets refused even with force, <permissions> applied as libvirt's
// storage driver does (default 0600), exclusive temporary files that never follow a planted
// link, no environment inherited by helper programs, one errno prefix in messages, raw LUKS on a
// file system without hard links. Real files in a scratch folder; no qemu tools.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { checkCreate, type CreateSpec } from '../../schemas/qcow2Options';
import { createImage, type ImageJob } from '../../server/src/writer/create';
import { errorText, WriterError } from '../../server/src/writer/errors';
import { ioError, type WriterIO } from '../../server/src/writer/io';
import { nodeWriterIO } from '../../server/src/writer/nodeIO';
import { DEFAULT_VOLUME_MODE, writeFileAtomic } from '../../server/src/writer/publish';

function spec(format: string, filename: string, size: string, ...options: string[]): CreateSpec {
  const v = checkCreate({ format, filename, size, options });
  assert.ok(v.ok, v.ok ? '' : v.message);
  return v.spec;
}

const luksJob = (filename: string): ImageJob => ({
  format: 'luks', filename, size: 1 << 20, options: {}, passphrase: new TextEncoder().encode('pw'),
  iterations: { masterKey: 1000, slot: 1000 },
});

function scratch(): string {
  return fs.mkdtempSync(join(os.tmpdir(), 'lv-publish-'));
}

test('non-regular targets are refused with and without force (device node, FIFO, directory)', async () => {
  const dir = scratch();
  try {
    const devNull = fs.statSync('/dev/null');
    fs.symlinkSync('/dev/null', join(dir, 'null-link'));
    fs.mkdirSync(join(dir, 'folder'));
    const fifo = spawnSync('mkfifo', [join(dir, 'fifo')]);
    const targets = ['null-link', 'folder', ...(fifo.status === 0 ? ['fifo'] : [])];
    const jobs: [string, (t: string) => ImageJob][] = [
      ['raw', (t) => spec('raw', t, '1M')],
      ['qcow2', (t) => spec('qcow2', t, '1M')],
      ['luks', (t) => luksJob(t)],
    ];
    for (const t of targets) {
      for (const [kind, job] of jobs) {
        for (const force of [false, true]) {
          await assert.rejects(createImage(job(t), { io: nodeWriterIO(), cwd: dir, force }),
            (e) => e instanceof WriterError && e.code === 'refused', `${kind} over ${t}, force=${force}`);
        }
      }
      await assert.rejects(writeFileAtomic(nodeWriterIO(), join(dir, t), '<secret/>', { force: true }),
        (e) => e instanceof WriterError && e.code === 'refused', `XML over ${t}`);
    }
    const after = fs.statSync('/dev/null');
    assert.ok(after.isCharacterDevice(), '/dev/null is still the device');
    assert.equal(after.ino, devNull.ino);
    assert.ok(fs.lstatSync(join(dir, 'null-link')).isSymbolicLink());
    assert.deepEqual(fs.readdirSync(dir).sort(), targets.sort(), 'no temporary file left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a regular file is replaced only with force; the refusal message is the same for every format', async () => {
  const dir = scratch();
  try {
    const messages = new Set<string>();
    for (const job of [spec('raw', 'img', '1M'), spec('qcow2', 'img', '1M'), luksJob('img')]) {
      fs.writeFileSync(join(dir, 'img'), 'precious');
      await assert.rejects(createImage(job, { io: nodeWriterIO(), cwd: dir }), (e) => {
        assert.ok(e instanceof WriterError && e.code === 'exists');
        messages.add(e.message);
        return true;
      });
      assert.equal(fs.readFileSync(join(dir, 'img'), 'utf8'), 'precious');
      await createImage(job, { io: nodeWriterIO(), cwd: dir, force: true });
      assert.notEqual(fs.readFileSync(join(dir, 'img'), 'utf8'), 'precious');
    }
    assert.equal(messages.size, 1, [...messages].join(' | '));
    assert.deepEqual(fs.readdirSync(dir), ['img']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('<permissions>: mode 0600 by default (umask ignored), the requested mode, owner and group', async () => {
  const dir = scratch();
  const old = process.umask(0);
  try {
    for (const job of [spec('raw', 'a', '1M'), spec('qcow2', 'b', '1M', 'data_file=b.data'), luksJob('c')]) {
      await createImage(job, { io: nodeWriterIO(), cwd: dir });
    }
    for (const f of ['a', 'b', 'b.data', 'c']) {
      assert.equal(fs.statSync(join(dir, f)).mode & 0o7777, DEFAULT_VOLUME_MODE, f);
    }
    await createImage(spec('qcow2', 'd', '1M'), { io: nodeWriterIO(), cwd: dir, permissions: { mode: 0o640 } });
    assert.equal(fs.statSync(join(dir, 'd')).mode & 0o7777, 0o640);
    await writeFileAtomic(nodeWriterIO(), join(dir, 'x.xml'), '<volume/>');
    assert.equal(fs.statSync(join(dir, 'x.xml')).mode & 0o7777, DEFAULT_VOLUME_MODE);
    if (process.getuid?.() === 0) {
      // libvirt chowns when <owner>/<group> differ from the new file's (storageBackendCreateRaw).
      await createImage(spec('raw', 'e', '1M'), { io: nodeWriterIO(), cwd: dir, permissions: { owner: 65534, group: 65534 } });
      const st = fs.statSync(join(dir, 'e'));
      assert.deepEqual([st.uid, st.gid], [65534, 65534]);
    } else {
      // Not permitted to give the file away: refused, nothing left behind.
      await assert.rejects(createImage(spec('raw', 'e', '1M'), { io: nodeWriterIO(), cwd: dir, permissions: { owner: 0 } }),
        /cannot chown/);
      assert.equal(fs.existsSync(join(dir, 'e')), false);
    }
  } finally {
    process.umask(old);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('exclusive temporary files: a planted link under the name is never followed', async () => {
  const dir = scratch();
  try {
    const victim = join(dir, 'victim');
    fs.writeFileSync(victim, 'untouched');
    fs.symlinkSync(victim, join(dir, 'planted'));
    await assert.rejects(nodeWriterIO().open(join(dir, 'planted'), 'create-exclusive'), { code: 'EEXIST' });
    await assert.rejects(nodeWriterIO().open(join(dir, 'planted'), 'write'), { code: 'ELOOP' });
    // Every temporary name is fresh: a link planted at every name the old `.NAME.<pid>.tmp`
    // scheme would use catches nothing.
    fs.symlinkSync(victim, join(dir, `.out.xml.${process.pid}.tmp`));
    await writeFileAtomic(nodeWriterIO(), join(dir, 'out.xml'), '<secret/>');
    assert.equal(fs.readFileSync(victim, 'utf8'), 'untouched');
    assert.equal(fs.readFileSync(join(dir, 'out.xml'), 'utf8'), '<secret/>');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('helper programs get no environment of ours (a --passphrase-env variable stays here)', async () => {
  const dir = scratch();
  const name = 'LV_TEST_PASSPHRASE';
  process.env[name] = 'correct horse battery staple';
  try {
    const real = ['/usr/bin/fallocate', '/bin/fallocate'].find((p) => fs.existsSync(p));
    const helper = join(dir, 'fallocate.sh');
    fs.writeFileSync(helper, `#!/bin/sh\nenv > '${join(dir, 'env.txt')}'\n${real ? `exec ${real} "$@"` : 'exit 1'}\n`, { mode: 0o755 });
    const io = nodeWriterIO({ fallocate: helper });
    await createImage(spec('raw', 'img', '1M', 'preallocation=falloc'), { io, cwd: dir }).catch(() => undefined);
    const env = fs.readFileSync(join(dir, 'env.txt'), 'utf8');
    assert.doesNotMatch(env, /correct horse/);
    assert.doesNotMatch(env, new RegExp(name));
  } finally {
    delete process.env[name];
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an errno appears once in a message (no "ENOSPC: ENOSPC:")', () => {
  const node = ioError('ENOSPC', 'ENOSPC: no space left on device, write');
  assert.equal(errorText(node), 'ENOSPC: no space left on device, write');
  assert.equal(errorText(ioError('EIO', 'short write')), 'EIO: short write');
  assert.equal(errorText(new WriterError('the file exists; use --force to overwrite it', 'exists')),
    'the file exists; use --force to overwrite it');
  try {
    fs.openSync(join(os.tmpdir(), 'lv-no-such-dir', 'x'), 'r');
  } catch (e) {
    assert.match(errorText(e), /^ENOENT: no such file or directory/);
    assert.doesNotMatch(errorText(e), /ENOENT: ENOENT/);
  }
});

test('raw LUKS publishes where hard links are refused (EPERM, EXDEV): the qcow2 fallback', async () => {
  for (const code of ['EPERM', 'EXDEV']) {
    const dir = scratch();
    try {
      const real = nodeWriterIO();
      const io: WriterIO = { ...real, link: () => Promise.reject(ioError(code, `link: ${code}`)) };
      const r = await createImage(luksJob('img.luks'), { io, cwd: dir });
      assert.equal(r.fileSize, fs.statSync(join(dir, 'img.luks')).size);
      assert.deepEqual(fs.readdirSync(dir), ['img.luks']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('cancellation is one AbortSignal for every format; nothing is left behind', async () => {
  const dir = scratch();
  try {
    for (const job of [spec('raw', 'img', '1M'), spec('qcow2', 'img', '1M'), luksJob('img')]) {
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(createImage(job, { io: nodeWriterIO(), cwd: dir, signal: ac.signal }),
        (e) => e instanceof WriterError && e.code === 'cancelled' && e.name === 'AbortError');
    }
    assert.deepEqual(fs.readdirSync(dir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a timer (signal handler, worker message) can cancel a long metadata preallocation', async () => {
  // 512 GiB with 64 KiB clusters: 64 MiB of L2 tables written in small synchronous writes; the
  // writer yields to the event loop between them so that the abort is seen.
  const dir = scratch();
  try {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    const t0 = Date.now();
    await assert.rejects(createImage(spec('qcow2', 'img', '512G', 'preallocation=metadata'), { io: nodeWriterIO(), cwd: dir, signal: ac.signal }),
      (e) => e instanceof WriterError && e.code === 'cancelled');
    assert.ok(Date.now() - t0 < 5000, `cancelled after ${Date.now() - t0} ms`);
    assert.deepEqual(fs.readdirSync(dir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
