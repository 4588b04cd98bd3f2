// Create a volume (and its secret) in a libvirt pool, on any host virsh reaches. The order is
// libvirt's own for an encrypted volume: the secret exists with its value before `vol-create`,
// because the storage driver hands it to qemu-img (storage_util.c
// storageBackendCreateQemuImgSecretObject looks the secret up by the volume's uuid). Where the
// host's qemu-img cannot create the image (missing, or its LUKS benchmark fails), our writer
// makes it locally and `vol-upload --sparse` streams it into a raw placeholder volume. Whatever
// this run defined is removed again when a later step fails or the run is cancelled.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newUuid, normaliseUuid, volumeSecretXml } from '../service/secrets';
import { readVolume } from '../service/volumeCreate';
import { childElements, parseToolXml, renderXml, serializeXml } from '../service/xmlDom';
import { parseXml } from '../service/xmlModel';
import { findSecret, poolInfo, volumeExists } from './pools';
import { HostError, QUERY_TIMEOUT_MS, TRANSFER_TIMEOUT_MS, virsh, type HostConnection } from './virsh';

export interface PoolCreateRequest {
  conn: HostConnection;
  pool: string;
  /** The volume XML (already judged by the language service: no errors). */
  xmlText: string;
  /** Delete a volume of the same name first (and say so through `note`). */
  force: boolean;
  /** `virsh vol-create --prealloc-metadata` (qcow2 without a backing store; libvirt judges). */
  preallocMetadata?: boolean;
  /** For encrypted volumes: the secret's value. Handed to virsh through a pipe only. */
  passphrase?: Uint8Array;
  signal?: AbortSignal;
  /** A line for the user (what was done, what is being rolled back). */
  note(line: string): void;
  /**
   * Writes the image the XML describes to `output` with our writer (one creation path: the CLI's
   * and the server's own). Used only when the host's qemu-img cannot.
   */
  writeLocal(xmlText: string, output: string, signal: AbortSignal): Promise<void>;
  /**
   * Always make the image with `writeLocal` and upload it, saying why (vol-create-from's input is a
   * file of this machine, which the host cannot read).
   */
  uploadBecause?: string;
}

export interface PoolCreateResult {
  pool: string;
  name: string;
  /** The volume's path on the host (the pool's target path + name). */
  path: string;
  format?: string;
  secretUuid?: string;
  /** True when this run defined the secret (false: an existing one with this volume's usage). */
  secretDefined: boolean;
  /** True when our writer made the image and vol-upload streamed it in. */
  uploaded: boolean;
}

/**
 * vol-create failures that mean "the host's qemu-img cannot", not "libvirt refuses": qemu's PBKDF
 * benchmark (crypto/pbkdf.c qcrypto_pbkdf2_count_iters, "Unable to get accurate CPU usage"), and
 * no qemu-img on the host (storage_util.c virStorageBackendCreateQemuImg).
 */
const HOST_QEMU_IMG_CANNOT = [/Unable to get accurate CPU usage/, /without qemu-img/, /Cannot find 'qemu-img'/i];

/** The XML to send: the caller's, with a fresh secret uuid added when `<encryption>` names none. */
export function withSecretUuid(xmlText: string, uuid: string): string {
  const doc = parseToolXml(xmlText);
  const target = childElements(doc.documentElement!, 'target')[0];
  const enc = target && childElements(target, 'encryption')[0];
  if (!enc) return xmlText;
  const secret = doc.createElement('secret');
  secret.setAttribute('type', 'passphrase');
  secret.setAttribute('uuid', uuid);
  enc.appendChild(secret);
  return serializeXml(doc);
}

export async function createInPool(req: PoolCreateRequest): Promise<PoolCreateResult> {
  const { conn, pool, signal } = req;
  const vol = readVolume(parseXml(req.xmlText).root);
  const name = vol.name;
  if (!name) throw new HostError('refused', 'the volume has no <name>');
  // Wrong pool → libvirt's "Storage pool not found"; an inactive one is refused before anything is defined.
  const info = await poolInfo(conn, pool, signal);
  if (!info.active) throw new HostError('refused', `storage pool '${pool}' is not active (virsh pool-start ${pool})`);
  const path = info.targetPath ? join(info.targetPath, name) : name;
  if (await volumeExists(conn, pool, name, signal)) {
    if (!req.force) {
      throw new HostError('refused', `volume '${name}' already exists in pool '${pool}' (force replaces it)`);
    }
    await virsh(conn, ['vol-delete', '--pool', pool, '--', name], { signal });
    req.note(`deleted the existing volume '${name}' from pool '${pool}' (force)`);
  }

  const enc = vol.target.encryption;
  const luks = enc?.format === 'luks';
  let xmlSent = req.xmlText;
  let secretUuid: string | undefined;
  let secretDefined = false;
  let volumeTried = false;
  let uploaded = false;
  let tmp: string | undefined;
  try {
    if (luks) {
      if (!req.passphrase?.length) throw new HostError('refused', 'an encrypted volume needs a passphrase');
      const given = enc.secrets.find((s) => s.uuid !== undefined)?.uuid;
      secretUuid = normaliseUuid(given) ?? newUuid();
      if (given === undefined) xmlSent = withSecretUuid(req.xmlText, secretUuid);
      const existing = await findSecret(conn, secretUuid, signal);
      if (existing) {
        // Re-using a secret that belongs to another volume (or to a disk, iSCSI, …) would give
        // that other user our passphrase: refused.
        if (existing.usageType !== 'volume' || existing.usageId !== path) {
          throw new HostError(
            'refused',
            `secret ${secretUuid} already exists on ${conn.uri} with usage ` +
              `${existing.usageType ?? '?'} '${existing.usageId ?? ''}', not volume '${path}'`,
          );
        }
        req.note(`using the existing secret ${secretUuid} (usage volume ${path})`);
      } else {
        await virsh(conn, ['secret-define', '/dev/stdin'], { stdin: volumeSecretXml(secretUuid, path, name), signal });
        secretDefined = true;
        req.note(`defined secret ${secretUuid} (usage volume ${path})`);
      }
      // --plain: the bytes as they are (no base64); --file /dev/stdin: from our pipe, never argv.
      await virsh(conn, ['secret-set-value', secretUuid, '--file', '/dev/stdin', '--plain'], {
        stdin: req.passphrase,
        signal,
      });
    }
    volumeTried = true;
    let whyLocal = req.uploadBecause;
    if (whyLocal === undefined) {
      try {
        const flags = req.preallocMetadata ? ['--prealloc-metadata'] : [];
        await virsh(conn, ['vol-create', pool, '/dev/stdin', ...flags], {
          stdin: xmlSent,
          signal,
          timeoutMs: TRANSFER_TIMEOUT_MS,
        });
      } catch (e) {
        const why =
          e instanceof HostError && e.code === 'libvirt'
            ? HOST_QEMU_IMG_CANNOT.map((r) => r.exec(e.message)?.[0]).find(Boolean)
            : undefined;
        if (!why) throw e;
        whyLocal = `the host's qemu-img cannot create it ("${why}")`;
      }
    }
    if (whyLocal !== undefined) {
      req.note(`${whyLocal}; writing it here and uploading`);
      tmp = mkdtempSync(join(tmpdir(), 'libvirt-volume-upload-'));
      const local = join(tmp, 'image');
      await req.writeLocal(xmlSent, local, signal ?? new AbortController().signal);
      const size = statSync(local).size;
      // A raw placeholder: libvirt allocates it without qemu-img; the upload replaces its content
      // and pool-refresh probes the real format (virStorageBackendRefreshVolTargetUpdate).
      const placeholder = renderXml({
        name: 'volume',
        children: [
          { name: 'name', text: name },
          { name: 'capacity', attrs: { unit: 'bytes' }, text: String(size) },
          { name: 'allocation', attrs: { unit: 'bytes' }, text: '0' },
          { name: 'target', children: [{ name: 'format', attrs: { type: 'raw' } }] },
        ],
      });
      await virsh(conn, ['vol-create', pool, '/dev/stdin'], { stdin: placeholder, signal });
      await virsh(conn, ['vol-upload', '--pool', pool, '--sparse', '--', name, local], {
        signal,
        timeoutMs: TRANSFER_TIMEOUT_MS,
      });
      uploaded = true;
    }
    await virsh(conn, ['pool-refresh', '--', pool], { signal });
    return { pool, name, path, format: vol.target.format, secretUuid, secretDefined, uploaded };
  } catch (e) {
    await rollback(req, { name, volumeTried, secretUuid: secretDefined ? secretUuid : undefined });
    throw signal?.aborted && !(e instanceof HostError && e.code === 'cancelled')
      ? new HostError('cancelled', `cancelled: ${(e as Error).message}`)
      : e;
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Removes what this run made. Runs without the caller's signal (it is aborted when cancelled).
 * The volume name was free (or freed) before this run, so a volume with that name now is ours
 * — even when virsh was killed while the daemon went on creating it.
 */
async function rollback(
  req: PoolCreateRequest,
  made: { name: string; volumeTried: boolean; secretUuid?: string },
): Promise<void> {
  const { conn, pool } = req;
  const call = { timeoutMs: QUERY_TIMEOUT_MS };
  if (made.volumeTried) {
    // A vol-create killed mid-way may still be allocating in the daemon ("still being
    // allocated"): retried for up to 10 s.
    for (let i = 0; i < 20; i++) {
      try {
        if (!(await volumeExists(conn, pool, made.name))) break;
        await virsh(conn, ['vol-delete', '--pool', pool, '--', made.name], call);
        req.note(`rolled back: deleted volume '${made.name}' from pool '${pool}'`);
        break;
      } catch (e) {
        if (i === 19) req.note(`could not delete volume '${made.name}' from pool '${pool}': ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
  if (made.secretUuid) {
    try {
      await virsh(conn, ['secret-undefine', '--', made.secretUuid], call);
      req.note(`rolled back: undefined secret ${made.secretUuid}`);
    } catch (e) {
      req.note(`could not undefine secret ${made.secretUuid}: ${(e as Error).message}`);
    }
  }
}

/** The text with a new `<secret uuid>` when its LUKS `<encryption>` names none; else unchanged. */
export function addSecretIfMissing(xmlText: string): string {
  const enc = readVolume(parseXml(xmlText).root).target.encryption;
  if (enc?.format !== 'luks' || enc.secrets.length) return xmlText;
  try {
    return withSecretUuid(xmlText, newUuid());
  } catch {
    return xmlText; // not well-formed: the language service reports it
  }
}
