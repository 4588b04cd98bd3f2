// The Node implementation of the writer's injected I/O: the only file in server/src/writer that
// imports node:fs. Positional writes go through fs.promises FileHandle-free fd calls so that one
// buffer can be reused without copies.
import * as fs from 'node:fs';
import type * as ChildProcess from 'node:child_process';
import type * as Crypto from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AsyncProbeIO, FileStat, ProbeIO, WriterIO } from './io';

const write = promisify(fs.write);
const read = promisify(fs.read);
const readv = promisify(fs.readv);

/**
 * Node has no binding for fallocate(2) or the FS_IOC_SETFLAGS ioctl: util-linux `fallocate` and
 * e2fsprogs `chattr +C` do them when installed (no secrets are involved). Without `fallocate` the
 * writer writes zeros instead (same allocation, slower); a failing `chattr` is ignored like qemu
 * ignores a failing FS_IOC_SETFLAGS (nocow only means something on btrfs).
 */
// Loaded on first use: most creations never spawn a helper, and the CLI's start-up is on the clock.
const spawnSync = ((...args: unknown[]) =>
  (require('node:child_process') as { spawnSync: (...a: unknown[]) => unknown }).spawnSync(
    ...args,
  )) as typeof ChildProcess.spawnSync;
/**
 * The helpers' whole environment: nothing of ours (a `--passphrase-env` variable, tokens) reaches
 * them; C messages so that "No space left on device" can be recognised.
 */
const CHILD_ENV: NodeJS.ProcessEnv = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
const FALLOCATE = ['/usr/bin/fallocate', '/bin/fallocate'].find((p) => fs.existsSync(p));
const CHATTR = ['/usr/bin/chattr', '/bin/chattr'].find((p) => fs.existsSync(p));

export interface NodeIOOptions {
  /** Another `fallocate` program (tests: one that records what it was given). */
  fallocate?: string;
}

export function nodeWriterIO(options: NodeIOOptions = {}): WriterIO {
  const fallocateBin = options.fallocate ?? FALLOCATE;
  const paths = new Map<number, string>();
  /** Bytes written since the last flush, per fd. */
  const dirty = new Map<number, number>();
  return {
    // Metadata calls (open, close, ftruncate, stat, link, rename, unlink) are synchronous: each is
    // one short syscall on a local file, while a thread-pool round trip costs 0.1–0.5 ms — most of
    // a sparse qcow2's creation time (unlink only frees data on the error path). Long calls (big
    // flushes, big writes) stay asynchronous so that progress and cancellation keep flowing.
    async open(path, mode, perm = 0o600) {
      // O_NOFOLLOW: a symbolic link planted under the temporary name is never followed (O_EXCL
      // already refuses it on Linux; the flag says so explicitly and covers `write`).
      const flags =
        mode === 'create-exclusive'
          ? fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW
          : mode === 'write'
            ? fs.constants.O_RDWR | fs.constants.O_NOFOLLOW
            : fs.constants.O_RDONLY;
      const fd = fs.openSync(path, flags, perm);
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
    async preadInto(fd, buf, offset) {
      // Off the event loop (a convert reads the next chunk while it writes this one), into the
      // caller's buffer: no allocation per read.
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await read(fd, buf, got, buf.length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got;
    },
    async preadvInto(fd, bufs, offset) {
      // One syscall for many clusters (a 64 KiB read costs ~35 µs of thread-pool hand-off on the
      // 2-core VM, more than the copy); a short read (libuv passes at most IOV_MAX buffers at
      // once) resumes where it stopped.
      let got = 0;
      const rest = bufs.filter((b) => b.length > 0);
      while (rest.length) {
        const { bytesRead: n } = await readv(fd, rest, offset + got);
        if (n === 0) break;
        got += n;
        let k = n;
        while (rest.length && k >= rest[0].length) k -= rest.shift()!.length;
        if (k > 0) rest[0] = rest[0].subarray(k);
      }
      return got;
    },
    async ftruncate(fd, length) {
      fs.ftruncateSync(fd, length);
    },
    ...(fallocateBin
      ? {
          async fallocate(fd: number, offset: number, length: number) {
            const path = paths.get(fd);
            if (!path) throw Object.assign(new Error('fallocate: unknown file'), { code: 'EBADF' });
            const r = spawnSync(fallocateBin, ['-o', String(offset), '-l', String(length), path], {
              encoding: 'utf8',
              env: CHILD_ENV,
            });
            if (r.status !== 0) {
              const msg = (r.stderr || '').trim();
              const code = /No space left/.test(msg) ? 'ENOSPC' : /not supported/i.test(msg) ? 'EOPNOTSUPP' : 'EIO';
              throw Object.assign(new Error(msg || 'fallocate failed'), { code });
            }
          },
        }
      : {}),
    async setNocow(fd) {
      const path = paths.get(fd);
      if (CHATTR && path) spawnSync(CHATTR, ['+C', path], { stdio: 'ignore', env: CHILD_ENV });
    },
    async fchmod(fd, mode) {
      fs.fchmodSync(fd, mode);
    },
    async fchown(fd, uid, gid) {
      fs.fchownSync(fd, uid, gid);
    },
    async fstat(fd) {
      return toStat(fs.fstatSync(fd));
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
    async realpath(path) {
      return fs.realpathSync(path);
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
  return {
    size: st.size,
    isFile: st.isFile(),
    isDirectory: st.isDirectory(),
    uid: st.uid,
    gid: st.gid,
    allocated: st.blocks * 512,
    mode: st.mode & 0o7777,
  };
}

/**
 * Synchronous bounded reads for the header reader. Only regular files and block devices are
 * opened: a FIFO would block open(2) until a writer appears, a character device (/dev/zero,
 * a tty) never ends. The type is checked before opening (so opening a device has no side effect)
 * and again on the open descriptor, opened O_NONBLOCK | O_NOCTTY, so a path swapped for a FIFO in
 * between cannot block either.
 */
export function nodeProbeIO(): ProbeIO {
  return {
    read(path, offset, length) {
      const { fd } = openReadable(path);
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
      const { fd, st } = openReadable(path);
      try {
        return st.isBlockDevice() ? blockDeviceSize(st.rdev) : st.size;
      } finally {
        fs.closeSync(fd);
      }
    },
  };
}

/** nodeProbeIO through fs.promises: the same checks, nothing waits on the event loop. */
export function nodeAsyncProbeIO(): AsyncProbeIO {
  const open = async (path: string) => {
    refuseUnreadable(await fs.promises.stat(path));
    const fh = await fs.promises.open(path, PROBE_OPEN_FLAGS);
    try {
      const st = await fh.stat();
      refuseUnreadable(st);
      return { fh, st };
    } catch (err) {
      await fh.close();
      throw err;
    }
  };
  return {
    async read(path, offset, length) {
      const { fh } = await open(path);
      try {
        const buf = Buffer.alloc(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return buf.subarray(0, got);
      } finally {
        await fh.close();
      }
    },
    async stat(path) {
      const { fh, st } = await open(path);
      await fh.close();
      return st.isBlockDevice() ? { size: blockDeviceSize(st.rdev) } : { size: st.size, allocated: st.blocks * 512 };
    },
  };
}

/** Why `st` is not something the probe reads (undefined: a regular file or a block device). */
function notReadable(st: fs.Stats): string | undefined {
  if (st.isFile() || st.isBlockDevice()) return undefined;
  const kind = st.isDirectory()
    ? 'a directory'
    : st.isFIFO()
      ? 'a FIFO'
      : st.isCharacterDevice()
        ? 'a character device'
        : st.isSocket()
          ? 'a socket'
          : 'a special file';
  return `${kind}, not a regular file or block device`;
}

const PROBE_OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY;

function refuseUnreadable(st: fs.Stats): void {
  const why = notReadable(st);
  if (why) throw Object.assign(new Error(why), { code: st.isDirectory() ? 'EISDIR' : 'ENOTREG' });
}

function openReadable(path: string): { fd: number; st: fs.Stats } {
  refuseUnreadable(fs.statSync(path));
  const fd = fs.openSync(path, PROBE_OPEN_FLAGS);
  try {
    const st = fs.fstatSync(fd);
    refuseUnreadable(st);
    return { fd, st };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/**
 * A block device's size: st_size is 0 for device nodes and Node has no BLKGETSIZE64 ioctl; sysfs
 * gives it in 512-byte sectors (Documentation/ABI/stable/sysfs-block, "size"). 0 when unknown.
 * rdev is split as glibc's gnu_dev_major/gnu_dev_minor do (sys/sysmacros.h).
 */
function blockDeviceSize(rdev: number): number {
  const lo = rdev >>> 0,
    hi = Math.floor(rdev / 2 ** 32) >>> 0;
  const major = ((lo >>> 8) & 0xfff) | (hi & ~0xfff);
  const minor = ((lo & 0xff) | (((lo >>> 12) | (hi << 20)) & ~0xff)) >>> 0;
  try {
    return Number(fs.readFileSync(`/sys/dev/block/${major}:${minor}/size`, 'utf8').trim()) * 512 || 0;
  } catch {
    return 0;
  }
}

/**
 * Largest passphrase file accepted (bytes). A passphrase file is read whole (verbatim, like qemu's
 * `--object secret,file=`, which has no limit: crypto/secret.c reads it with g_file_get_contents).
 * cryptsetup caps key files at 8 MiB and interactive passphrases at 512 characters (its
 * `--help`: "Maximum keyfile size: 8192kB, Maximum interactive passphrase length 512"); 64 KiB is
 * far above any passphrase and refuses a wrong file (an image, a log) before it is read.
 */
export const PASSPHRASE_FILE_MAX = 64 * 1024;

/** Messages name no path: callers say which file (qemu style "Failed to open file “F”: …"). */
function secretFileError(st: fs.Stats): Error | undefined {
  if (!st.isFile()) {
    const why = (notReadable(st) ?? '').replace(' or block device', '');
    return Object.assign(new Error(why), { code: st.isDirectory() ? 'EISDIR' : 'ENOTREG' });
  }
  if (st.size > PASSPHRASE_FILE_MAX) return tooBig();
  return undefined;
}
const tooBig = () =>
  Object.assign(new Error(`larger than ${PASSPHRASE_FILE_MAX / 1024} KiB, not a passphrase file`), { code: 'EFBIG' });

/**
 * Reads a passphrase file (CLI `--passphrase-file`, `--object secret,file=`): a regular file of at
 * most PASSPHRASE_FILE_MAX bytes, checked before opening and on the open descriptor (O_NONBLOCK:
 * a FIFO swapped in cannot block). /dev/zero, a FIFO or a directory fail at once (code ENOTREG,
 * EISDIR; EFBIG when too big).
 */
export function readSecretFileSync(path: string): Buffer {
  const pre = secretFileError(fs.statSync(path));
  if (pre) throw pre;
  const fd = fs.openSync(path, PROBE_OPEN_FLAGS);
  try {
    const bad = secretFileError(fs.fstatSync(fd));
    if (bad) throw bad;
    const buf = Buffer.alloc(PASSPHRASE_FILE_MAX + 1);
    let got = 0,
      n: number;
    while (got < buf.length && (n = fs.readSync(fd, buf, got, buf.length - got, got)) > 0) got += n;
    if (got > PASSPHRASE_FILE_MAX) throw tooBig(); // grew after fstat
    return buf.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

/** readSecretFileSync without blocking the event loop (the language server's Create Volume). */
export async function readSecretFile(path: string): Promise<Buffer> {
  const pre = secretFileError(await fs.promises.stat(path));
  if (pre) throw pre;
  const fh = await fs.promises.open(path, PROBE_OPEN_FLAGS);
  try {
    const bad = secretFileError(await fh.stat());
    if (bad) throw bad;
    const buf = Buffer.alloc(PASSPHRASE_FILE_MAX + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got === buf.length) break;
    }
    if (got > PASSPHRASE_FILE_MAX) throw tooBig();
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}
