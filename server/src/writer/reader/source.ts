// Bounded access to one file of an image (the image itself, a backing file, an external data
// file): the size is taken once at open, and every offset and length that came from the file is
// checked against it before a read is issued, so a corrupt table is a clear 'corrupt' error that
// names the table and offset, never a short read, an exception from deep inside, or a read past
// the end. Only regular files are opened (a FIFO would block the reader forever).
import type { Fd, WriterIO } from '../io';
import { errorText, WriterError } from '../errors';

/** The part of the writer's injected I/O the reader uses (writer/io.ts; nodeIO implements it). */
export type ReaderIO = Pick<WriterIO, 'open' | 'close' | 'pread' | 'preadInto' | 'preadvInto' | 'stat' | 'fstat'>;

/** `offset` as decimal and hexadecimal, the way both qemu's messages (hex) and a hexdump user read it. */
export function at(offset: number): string {
  return `${offset} (0x${offset.toString(16)})`;
}

export function corrupt(path: string, message: string): WriterError {
  return new WriterError(`${path}: ${message}`, 'corrupt');
}

export class BoundedFile {
  /** `path`: the file's name in messages. */
  private constructor(
    readonly path: string,
    private readonly io: ReaderIO,
    private readonly fd: Fd,
    readonly size: number,
  ) {}

  /** `name` is how messages call the file (what the user typed; default `path`). */
  static async open(io: ReaderIO, path: string, role: string, name = path): Promise<BoundedFile> {
    try {
      return await BoundedFile.openChecked(io, path, role, name);
    } catch (e) {
      if (e instanceof WriterError) throw e;
      // EACCES, ELOOP, ENAMETOOLONG, a name with a NUL byte from a corrupt header …: one clear refusal.
      throw new WriterError(`Could not open '${name}': ${errorText(e)} (${role})`, 'refused');
    }
  }

  private static async openChecked(io: ReaderIO, path: string, role: string, name: string): Promise<BoundedFile> {
    const st = await io.stat(path);
    if (!st) throw new WriterError(`Could not open '${name}': No such file or directory (${role})`, 'refused');
    if (!st.isFile) throw new WriterError(`Could not open '${name}': not a regular file (${role})`, 'refused');
    const fd = await io.open(path, 'read');
    try {
      // The file could have been swapped between stat and open: the open file's own status counts.
      const fst = io.fstat ? await io.fstat(fd) : st;
      if (!fst.isFile) throw new WriterError(`Could not open '${name}': not a regular file (${role})`, 'refused');
      return new BoundedFile(name, io, fd, fst.size);
    } catch (e) {
      await io.close(fd);
      throw e;
    }
  }

  /** Throws unless [offset, offset + length) lies inside the file; `what` names the table or field. */
  check(offset: number, length: number, what: string): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw corrupt(this.path, `${what} at offset ${offset} has an impossible offset or length`);
    }
    if (offset + length > this.size) {
      throw corrupt(
        this.path,
        `${what} at offset ${at(offset)} (${length} bytes) extends past the end of the ` + `file (${this.size} bytes)`,
      );
    }
  }

  /** Reads exactly `length` bytes at `offset` after checking the bounds. */
  async read(offset: number, length: number, what: string): Promise<Uint8Array> {
    this.check(offset, length, what);
    if (length === 0) return new Uint8Array(0);
    const b = await this.io.pread(this.fd, length, offset);
    // The file shrank under us: as corrupt as a table past the end.
    if (b.length !== length) throw corrupt(this.path, `${what} at offset ${at(offset)}: short read (file truncated?)`);
    return b;
  }

  /** Fills `dst` with the bytes at `offset` after checking the bounds (read in place when the I/O can). */
  async readInto(offset: number, dst: Uint8Array, what: string): Promise<void> {
    this.check(offset, dst.length, what);
    if (dst.length === 0) return;
    if (!this.io.preadInto) {
      dst.set(await this.read(offset, dst.length, what));
      return;
    }
    const n = await this.io.preadInto(this.fd, dst, offset);
    if (n !== dst.length) throw corrupt(this.path, `${what} at offset ${at(offset)}: short read (file truncated?)`);
  }

  /**
   * Fills each of `dsts` in turn with the consecutive bytes at `offset` (one preadv when the I/O
   * has it), after checking the bounds of the whole span.
   */
  async readvInto(offset: number, dsts: Uint8Array[], what: string): Promise<void> {
    if (!this.io.preadvInto) {
      for (const d of dsts) {
        await this.readInto(offset, d, what);
        offset += d.length;
      }
      return;
    }
    const length = dsts.reduce((n, d) => n + d.length, 0);
    this.check(offset, length, what);
    if (length === 0) return;
    const n = await this.io.preadvInto(this.fd, dsts, offset);
    if (n !== length) throw corrupt(this.path, `${what} at offset ${at(offset)}: short read (file truncated?)`);
  }

  async close(): Promise<void> {
    await this.io.close(this.fd);
  }
}
