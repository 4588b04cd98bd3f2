// The Node implementation of the writer's injected I/O: the only file in server/src/writer that
// imports node:fs. Positional writes go through fs.promises FileHandle-free fd calls so that one
// buffer can be reused without copies.
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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
const FALLOCATE = ['/usr/bin/fallocate', '/bin/fallocate'].find((p) => fs.existsSync(p));
const CHATTR = ['/usr/bin/chattr', '/bin/chattr'].find((p) => fs.existsSync(p));

export function nodeWriterIO(): WriterIO {
  const paths = new Map<number, string>();
  return {
    async open(path, mode) {
      const flags = mode === 'create-exclusive' ? fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL
        : mode === 'write' ? fs.constants.O_RDWR : fs.constants.O_RDONLY;
      return fs.promises.open(path, flags, 0o644).then((h) => {
        // Keep a bare fd: FileHandle would close it on garbage collection with a warning.
        const fd = h.fd;
        (h as unknown as { _keep?: unknown })._keep = h;
        handles.set(fd, h);
        paths.set(fd, path);
        return fd;
      });
    },
    async close(fd) {
      const h = handles.get(fd);
      handles.delete(fd);
      paths.delete(fd);
      if (h) await h.close();
    },
    async pwrite(fd, data, offset) {
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
      await promisify(fs.ftruncate)(fd, length);
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
      await promisify(fs.fsync)(fd);
    },
    async rename(from, to) {
      await fs.promises.rename(from, to);
    },
    async link(from, to) {
      await fs.promises.link(from, to);
    },
    async unlink(path) {
      await fs.promises.unlink(path);
    },
    async stat(path) {
      try {
        const st = await fs.promises.stat(path);
        return toStat(st);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    },
    tempName(dir, prefix) {
      return join(dir, `${prefix}.${randomBytes(6).toString('hex')}.tmp`);
    },
  };
}

const handles = new Map<number, fs.promises.FileHandle>();
const SYNC_WRITE_MAX = 256 * 1024;

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
