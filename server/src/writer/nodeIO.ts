// The Node implementation of the writer's injected I/O: the only file in server/src/writer that
// imports node:fs. Positional writes go through fs.promises FileHandle-free fd calls so that one
// buffer can be reused without copies.
import * as fs from 'node:fs';
import type * as ChildProcess from 'node:child_process';
import type * as Crypto from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { FileStat, ProbeIO, WriterIO } from './io';

const write = promisify(fs.write);
const read = promisify(fs.read);

/**
 * Node has no binding for fallocate(2) or the FS_IOC_SETFLAGS ioctl: util-linux `fallocate` and
 * e2fsprogs `chattr +C` do them when installed (no secrets are involved). Without `fallocate` the
 * writer writes zeros instead (same allocation, slower); a failing `chattr` is ignored like qemu
 * ignores a failing FS_IOC_SETFLAGS (nocow only means something on btrfs).
 */
// Loaded on first use: most creations never spawn a helper, and the CLI's start-up is on the clock.
const spawnSync = ((...args: unknown[]) =>
  (require('node:child_process') as { spawnSync: (...a: unknown[]) => unknown }).spawnSync(...args)) as typeof ChildProcess.spawnSync;
const FALLOCATE = ['/usr/bin/fallocate', '/bin/fallocate'].find((p) => fs.existsSync(p));
const CHATTR = ['/usr/bin/chattr', '/bin/chattr'].find((p) => fs.existsSync(p));

export function nodeWriterIO(): WriterIO {
  const paths = new Map<number, string>();
  /** Bytes written since the last flush, per fd. */
  const dirty = new Map<number, number>();
  return {
    // Metadata calls (open, close, ftruncate, stat, link, rename, unlink) are synchronous: each is
    // one short syscall on a local file, while a thread-pool round trip costs 0.1–0.5 ms — most of
    // a sparse qcow2's creation time (unlink only frees data on the error path). Long calls (big
    // flushes, big writes) stay asynchronous so that progress and cancellation keep flowing.
    async open(path, mode) {
      const flags = mode === 'create-exclusive' ? fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL
        : mode === 'write' ? fs.constants.O_RDWR : fs.constants.O_RDONLY;
      const fd = fs.openSync(path, flags, 0o644);
      paths.set(fd, path);
      return fd;
    },
    async close(fd) {
      paths.delete(fd);
      dirty.delete(fd);
      fs.closeSync(fd);
    },
    async pwrite(fd, data, offset) {
      dirty.set(fd, (dirty.get(fd) ?? 0) + data.length);
      let done = 0;
      if (data.length <= SYNC_WRITE_MAX) {
        // Small writes land in the page cache in microseconds; a thread-pool round trip costs
        // more than the copy (2,000+ scattered L2 tables for a 1 TiB preallocation). Large ones
        // (zero fill) stay asynchronous so that SIGINT and progress keep flowing.
        while (done < data.length) {
          const n = fs.writeSync(fd, data, done, data.length - done, offset + done);
          if (n <= 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
          done += n;
        }
        return;
      }
      while (done < data.length) {
        const { bytesWritten } = await write(fd, data, done, data.length - done, offset + done);
        if (bytesWritten <= 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
        done += bytesWritten;
      }
    },
    async pread(fd, length, offset) {
      const buf = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await read(fd, buf, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    },
    async ftruncate(fd, length) {
      fs.ftruncateSync(fd, length);
    },
    ...(FALLOCATE ? {
      async fallocate(fd: number, offset: number, length: number) {
        const path = paths.get(fd);
        if (!path) throw Object.assign(new Error('fallocate: unknown file'), { code: 'EBADF' });
        const r = spawnSync(FALLOCATE, ['-o', String(offset), '-l', String(length), path], { encoding: 'utf8' });
        if (r.status !== 0) {
          const msg = (r.stderr || '').trim();
          const code = /No space left/.test(msg) ? 'ENOSPC' : /not supported/i.test(msg) ? 'EOPNOTSUPP' : 'EIO';
          throw Object.assign(new Error(msg || 'fallocate failed'), { code });
        }
      },
    } : {}),
    async setNocow(fd) {
      const path = paths.get(fd);
      if (CHATTR && path) spawnSync(CHATTR, ['+C', path], { stdio: 'ignore' });
    },
    async fsync(fd) {
      // fdatasync, as qemu's raw_co_flush_to_disk: data and the size, not the timestamps. A file
      // with little written (a sparse image's metadata) is flushed in place: ~1 ms of waiting is
      // cheaper than a thread-pool hop; bigger flushes run off the event loop.
      const pending = dirty.get(fd) ?? 0;
      dirty.set(fd, 0);
      if (pending <= SYNC_FLUSH_MAX) fs.fdatasyncSync(fd);
      else await promisify(fs.fdatasync)(fd);
    },
    async rename(from, to) {
      fs.renameSync(from, to);
    },
    async link(from, to) {
      fs.linkSync(from, to);
    },
    async unlink(path) {
      fs.unlinkSync(path);
    },
    async stat(path) {
      const st = fs.statSync(path, { throwIfNoEntry: false });
      return st ? toStat(st) : undefined;
    },
    tempName(dir, prefix) {
      // node:crypto is loaded here, not at start-up: it is ~6 ms of `libvirt-volume check`'s start
      // (which reads through this module's ProbeIO and never names a temporary file).
      const { randomBytes } = require('node:crypto') as typeof Crypto;
      return join(dir, `${prefix}.${randomBytes(6).toString('hex')}.tmp`);
    },
  };
}

const SYNC_WRITE_MAX = 256 * 1024;
const SYNC_FLUSH_MAX = 1 << 20;

function toStat(st: fs.Stats): FileStat {
  return { size: st.size, isFile: st.isFile(), isDirectory: st.isDirectory(), allocated: st.blocks * 512 };
}

/** Synchronous bounded reads for the header reader. */
export function nodeProbeIO(): ProbeIO {
  return {
    read(path, offset, length) {
      const fd = fs.openSync(path, 'r');
      try {
        const buf = Buffer.alloc(length);
        let got = 0;
        while (got < length) {
          const n = fs.readSync(fd, buf, got, length - got, offset + got);
          if (n === 0) break;
          got += n;
        }
        return buf.subarray(0, got);
      } finally {
        fs.closeSync(fd);
      }
    },
    size(path) {
      const st = fs.statSync(path);
      if (st.isDirectory()) throw Object.assign(new Error(`${path} is a directory`), { code: 'EISDIR' });
      return st.size;
    },
  };
}
