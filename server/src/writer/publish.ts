// The one publish protocol for every file the project writes (images, data files, the <secret>
// and volume XML of Create Volume):
//   1. the target is checked first: a directory, device node, FIFO or socket is refused even with
//      `force` (replacing /dev/null with an image is never what was meant); an existing regular
//      file is refused unless `force`;
//   2. the content goes to a temporary file in the target's folder, created with
//      O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600 (a link planted under the name is never followed,
//      nobody else can open it meanwhile);
//   3. owner, group and mode are set on the open file before it gets its name, as libvirt's
//      storage driver does on the new volume (src/storage/storage_util.c storageBackendCreateRaw and
//      virStorageBackendCreateExecCommand: fchown only when the requested uid/gid differ from the
//      file's, then fchmod to the requested mode or VIR_STORAGE_DEFAULT_VOL_PERM_MODE, 0600);
//   4. publish with link() — never replaces a file that appeared meanwhile — or, with `force`,
//      rename(); where the file system has no hard links (EPERM, EXDEV, EOPNOTSUPP: vfat, some
//      FUSE and network mounts) a re-check then rename();
//   5. on error or cancellation the temporary file (or the published one, if publishing was the
//      last step to fail) is removed.
import { basename, dirname } from 'node:path';
import { WriterError } from './errors';
import type { Fd, FileStat, WriterIO } from './io';

/** libvirt's VIR_STORAGE_DEFAULT_VOL_PERM_MODE: a volume without <permissions><mode>. */
export const DEFAULT_VOLUME_MODE = 0o600;

/** <permissions> of a volume: undefined (or -1 for owner/group) keeps the creator's. */
export interface FilePermissions {
  mode?: number;
  owner?: number;
  group?: number;
}

export const EXISTS_MESSAGE = 'the file exists; use --force to overwrite it';

/**
 * What stands in the way of publishing at `path`, or undefined. `label` names the file in the
 * message (the data file is not the image).
 */
export function targetRefusal(st: FileStat | undefined, force: boolean, label = ''): WriterError | undefined {
  if (!st) return undefined;
  const prefix = label ? `${label}: ` : '';
  if (st.isDirectory) return new WriterError(`${prefix}Is a directory`, 'refused');
  if (!st.isFile) {
    const why = 'not a regular file (a device, FIFO or socket); it is never replaced, even with --force';
    return new WriterError(`${prefix}${why}`, 'refused');
  }
  if (!force) return new WriterError(`${prefix}${EXISTS_MESSAGE}`, 'exists');
  return undefined;
}

/** targetRefusal for a path, through the injected I/O. */
export async function checkTarget(
  io: WriterIO,
  path: string,
  force: boolean,
  label = '',
): Promise<WriterError | undefined> {
  return targetRefusal(await io.stat(path), force, label);
}

const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV']);

/** A file being written: a temporary name in the target's folder until publish(). */
export class PendingFile {
  private handle: Fd | undefined;
  private published = false;
  private constructor(
    readonly io: WriterIO,
    readonly target: string,
    readonly temp: string,
  ) {}

  static async create(io: WriterIO, target: string): Promise<PendingFile> {
    const temp = io.tempName(dirname(target), `.${basename(target)}`);
    const p = new PendingFile(io, target, temp);
    p.handle = await io.open(temp, 'create-exclusive', DEFAULT_VOLUME_MODE);
    return p;
  }

  get fd(): Fd {
    if (this.handle === undefined) throw new Error(`${this.temp} is closed`);
    return this.handle;
  }

  /** Owner, group, then mode, on the open temporary file (see the header). */
  async applyPermissions(perms: FilePermissions = {}): Promise<void> {
    const { io } = this;
    const owner = perms.owner ?? -1,
      group = perms.group ?? -1;
    if ((owner !== -1 || group !== -1) && io.fchown) {
      const st = io.fstat ? await io.fstat(this.fd) : undefined;
      const uid = owner !== -1 && owner !== st?.uid ? owner : -1;
      const gid = group !== -1 && group !== st?.gid ? group : -1;
      if (uid !== -1 || gid !== -1) {
        try {
          await io.fchown(this.fd, uid, gid);
        } catch (e) {
          const to = `(${owner >>> 0}, ${group >>> 0})`;
          throw new WriterError(`cannot chown '${this.target}' to ${to}: ${(e as Error).message}`, 'refused');
        }
      }
    }
    const mode = perms.mode ?? DEFAULT_VOLUME_MODE;
    await io.fchmod?.(this.fd, mode & 0o7777);
  }

  async close(): Promise<void> {
    if (this.handle !== undefined) {
      const fd = this.handle;
      this.handle = undefined;
      await this.io.close(fd);
    }
  }

  async publish(force: boolean): Promise<void> {
    const { io } = this;
    await this.close();
    if (force) {
      // Checked before writing too; checked again here so that a FIFO or device node that
      // took the name meanwhile is still never replaced.
      const refusal = await checkTarget(io, this.target, true, this.target);
      if (refusal) throw refusal;
      await io.rename(this.temp, this.target);
      this.published = true;
      return;
    }
    const appeared = () =>
      new WriterError(`'${this.target}' appeared meanwhile; use --force to overwrite it`, 'exists');
    try {
      await io.link(this.temp, this.target);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'EEXIST') throw appeared();
      if (!code || !NO_HARD_LINKS.has(code)) throw e;
      // No hard links here: the check and the rename are not atomic, the best this file system allows.
      if (await io.stat(this.target)) throw appeared();
      await io.rename(this.temp, this.target);
      this.published = true;
      return;
    }
    this.published = true;
    await io.unlink(this.temp);
  }

  /** Removes whatever this file left behind (best effort; never throws). */
  async discard(): Promise<void> {
    try {
      await this.close();
    } catch {
      /* already failing */
    }
    try {
      await this.io.unlink(this.temp);
    } catch {
      /* gone or never made */
    }
    if (this.published) {
      try {
        await this.io.unlink(this.target);
      } catch {
        /* gone */
      }
    }
  }
}

/**
 * Writes a small file (XML, a secret description) through the publish protocol: exclusive
 * temporary file, permissions, fsync, link/rename. Refuses non-regular targets always and an
 * existing file unless `force`.
 */
export async function writeFileAtomic(
  io: WriterIO,
  path: string,
  data: Uint8Array | string,
  opts: { force?: boolean; permissions?: FilePermissions } = {},
): Promise<void> {
  const refusal = await checkTarget(io, path, !!opts.force, path);
  if (refusal) throw refusal;
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const file = await PendingFile.create(io, path);
  try {
    await file.applyPermissions(opts.permissions);
    if (bytes.length) await io.pwrite(file.fd, bytes, 0);
    await io.fsync(file.fd);
    await file.publish(!!opts.force);
  } catch (e) {
    await file.discard();
    throw e;
  }
}
