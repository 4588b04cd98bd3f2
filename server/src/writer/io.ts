// The writer's file I/O, injected: the writer and the header reader never import node:fs
// (nodeIO.ts is the one implementation that does; tests inject faults through wrappers).

/** An open file (an fd for nodeIO; anything for fakes). */
export type Fd = number;

export interface FileStat {
  size: number;
  isFile: boolean;
  isDirectory: boolean;
  /** Owner and group (undefined where the platform does not say). */
  uid?: number;
  gid?: number;
  /** Allocated bytes (st_blocks × 512), when the platform says. */
  allocated?: number;
  /** Permission bits (st_mode & 07777), when the platform says. */
  mode?: number;
}

/** Asynchronous file operations the image writer needs. All offsets and sizes in bytes. */
export interface WriterIO {
  /**
   * Opens a file. `create-exclusive` creates it and fails with EEXIST if anything exists under the
   * name, a symbolic link included (O_CREAT|O_EXCL|O_NOFOLLOW), with permission bits `perm`
   * (default 0600, before the umask); `read` opens read-only; `write` opens an existing file read-write.
   */
  open(path: string, mode: 'create-exclusive' | 'read' | 'write', perm?: number): Promise<Fd>;
  close(fd: Fd): Promise<void>;
  /** Writes all of `data` at `offset`. */
  pwrite(fd: Fd, data: Uint8Array, offset: number): Promise<void>;
  /** Reads up to `length` bytes at `offset` (short at end of file). */
  pread(fd: Fd, length: number, offset: number): Promise<Uint8Array>;
  /**
   * Reads up to `buf.length` bytes at `offset` into `buf`; the count read (short at end of file).
   * Optional: bulk readers (convert) use it to read without a buffer per call.
   */
  preadInto?(fd: Fd, buf: Uint8Array, offset: number): Promise<number>;
  /**
   * Reads consecutive file bytes from `offset` into each of `bufs` in turn (preadv); the count read
   * (short at end of file). Optional: the reader gathers clusters stored one after the other in one
   * call instead of one per cluster.
   */
  preadvInto?(fd: Fd, bufs: Uint8Array[], offset: number): Promise<number>;
  ftruncate(fd: Fd, length: number): Promise<void>;
  /**
   * Allocates [offset, offset+length) like posix_fallocate (extends the file when needed).
   * Optional: without it the writer writes zeros.
   */
  fallocate?(fd: Fd, offset: number, length: number): Promise<void>;
  fsync(fd: Fd): Promise<void>;
  /** Renames, replacing the target (used with --force). */
  rename(from: string, to: string): Promise<void>;
  /** Creates `to` as a hard link to `from`; fails with EEXIST when `to` exists (no-replace publish). */
  link(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** undefined when the path does not exist. */
  stat(path: string): Promise<FileStat | undefined>;
  /** Sets the permission bits exactly (no umask), like fchmod(2). */
  fchmod?(fd: Fd, mode: number): Promise<void>;
  /** Changes owner and/or group (-1 keeps one), like fchown(2). */
  fchown?(fd: Fd, uid: number, gid: number): Promise<void>;
  /** The open file's status (fstat(2)). */
  fstat?(fd: Fd): Promise<FileStat>;
  /** The path with every symbolic link resolved (realpath(3)): a file replaced by rename stays where links point. */
  realpath?(path: string): Promise<string>;
  /** Sets the no-copy-on-write attribute (Linux FS_NOCOW_FL, btrfs); a no-op where unsupported. */
  setNocow?(fd: Fd): Promise<void>;
  /** A name not used yet in `dir` for a temporary file, starting with `prefix`. */
  tempName(dir: string, prefix: string): string;
}

/** Synchronous, bounded reads for the header reader (the language service calls it synchronously). */
export interface ProbeIO {
  /** Reads up to `length` bytes at `offset`; throws when the file cannot be read. */
  read(path: string, offset: number, length: number): Uint8Array;
  /** File size in bytes; throws when the file does not exist. */
  size(path: string): number;
}

/** ProbeIO's asynchronous twin, for callers that must not wait on the disk (the language server). */
export interface AsyncProbeIO {
  read(path: string, offset: number, length: number): Promise<Uint8Array>;
  /** Size in bytes and allocated bytes (st_blocks × 512, undefined for devices). */
  stat(path: string): Promise<{ size: number; allocated?: number }>;
}

/** An error with an errno-style code, as Node's fs throws (`ENOSPC`, `EIO`, `EEXIST`, …). */
export interface IOError extends Error {
  code?: string;
}

export function ioError(code: string, message: string): IOError {
  const e = new Error(message) as IOError;
  e.code = code;
  return e;
}
