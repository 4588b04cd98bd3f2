// Encrypted writes of guest bytes, the one loop for every encrypted output (qcow2+LUKS data
// clusters, preallocated or streamed, and raw LUKS payloads): each piece is copied into a scratch
// buffer, encrypted there sector by sector (modes.ts cryptSectors) and written, so the caller's
// buffer (often the reader's, or the shared zero buffer) is never modified.
import type { Fd, WriterIO } from '../io';
import { cryptSectors, type SectorCipher } from './modes';

const SECTOR = 512;

/**
 * Writes `buf` at byte `at` of `fd` encrypted with `cipher`, its first sector numbered `sector`
 * (qcow2+LUKS: the host offset / 512, block/qcow2.c qcow2_co_encdec; raw LUKS: the sector of the
 * payload, block/crypto.c). `scratch` is a whole number of sectors long.
 */
export async function pwriteEncrypted(
  io: WriterIO,
  fd: Fd,
  cipher: SectorCipher,
  scratch: Uint8Array,
  buf: Uint8Array,
  at: number,
  sector: number,
): Promise<void> {
  for (let done = 0; done < buf.length;) {
    const n = Math.min(scratch.length, buf.length - done);
    const b = scratch.subarray(0, n);
    b.set(buf.subarray(done, done + n));
    cryptSectors(cipher, b, BigInt(sector + done / SECTOR), false);
    await io.pwrite(fd, b, at + done);
    done += n;
  }
}
