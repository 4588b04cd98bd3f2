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
import { childElements, parseToolXml, serializeXml } from '../service/xmlDom';
import { parseXml } from '../service/xmlModel';
import { findSecret, readPoolXml, volumeExists, type PoolInfo } from './pools';
import {
  HostError,
  HostStepError,
  QUERY_TIMEOUT_MS,
  TRANSFER_TIMEOUT_MS,
  virsh,
  virshSteps,
  type HostConnection,
} from './virsh';

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
   * Skip the host's qemu-img: make the image with `writeLocal` and upload it, saying why
   * (vol-create-from's input is a file of this machine, which the host cannot read).
   */
  uploadBecause?: string;
  /** The pool queries for this volume name, started earlier by the caller (poolQueries). */
  queries?: { name: string; result: Promise<PoolQueries> };
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

/** What a creation asks the host first: the pool (exists, active, target path) and the name. */
export interface PoolQueries {
  info: PromiseSettledResult<PoolInfo>;
  exists: PromiseSettledResult<boolean>;
}

/**
 * The queries side by side (each virsh is a connection: an ssh login for a remote host); judged
 * by createInPool in a fixed order. Two calls: `pool-dumpxml` (target path), and `vol-path`, which
 * answers whether the name is taken — or that the pool is not active (virsh-volume.c
 * virshCommandOptVolBy), so no `pool-list` is needed. Never rejects.
 */
export async function poolQueries(
  conn: HostConnection,
  pool: string,
  name: string,
  signal?: AbortSignal,
): Promise<PoolQueries> {
  const [xml, exists] = await Promise.allSettled([
    virsh(conn, ['pool-dumpxml', '--', pool], { signal }),
    volumeExists(conn, pool, name, signal),
  ]);
  if (xml.status === 'rejected') return { info: xml, exists };
  const inactive =
    exists.status === 'rejected' && exists.reason instanceof HostError && /is not active/.test(exists.reason.message);
  let info: PromiseSettledResult<PoolInfo>;
  try {
    info = { status: 'fulfilled', value: readPoolXml(xml.value.stdout, !inactive) };
  } catch (e) {
    info = { status: 'rejected', reason: e };
  }
  return { info, exists: inactive ? { status: 'fulfilled', value: false } : exists };
}

export async function createInPool(req: PoolCreateRequest): Promise<PoolCreateResult> {
  const { conn, pool, signal } = req;
  const vol = readVolume(parseXml(req.xmlText).root);
  const name = vol.name;
  if (!name) throw new HostError('refused', 'the volume has no <name>');
  // Wrong pool → libvirt's "Storage pool not found"; an inactive one is refused before anything is
  // defined.
  const { info: infoQuery, exists: existsQuery } = await (req.queries?.name === name
    ? req.queries.result
    : poolQueries(conn, pool, name, signal));
  if (infoQuery.status === 'rejected') throw infoQuery.reason;
  const info = infoQuery.value;
  if (!info.active) throw new HostError('refused', `storage pool '${pool}' is not active (virsh pool-start ${pool})`);
  const path = info.targetPath ? join(info.targetPath, name) : name;
  if (existsQuery.status === 'rejected') throw existsQuery.reason;
  if (existsQuery.value) {
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
    let whyLocal = req.uploadBecause;
    if (whyLocal === undefined) {
      volumeTried = true;
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
        // libvirt removed the volume its failed build had listed (storageVolCreateXML): while our
        // writer works, a volume of that name would be someone else's, never rolled back.
        volumeTried = false;
        whyLocal = `the host's qemu-img cannot create it ("${why}")`;
      }
    }
    if (whyLocal !== undefined) {
      req.note(`${whyLocal}; writing it here and uploading`);
      tmp = mkdtempSync(join(tmpdir(), 'libvirt-volume-upload-'));
      const local = join(tmp, 'image');
      await req.writeLocal(xmlSent, local, signal ?? new AbortController().signal);
      volumeTried = true;
      // A volume libvirt created itself needs no pool-refresh: storage_driver.c
      // storageVolCreateXML lists it, refreshes it (refreshVol) and counts its allocation.
      await uploadImage(req, name, local);
      uploaded = true;
    }
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
 * A local image into the pool as volume `name`, over one virsh connection (virshSteps: one ssh
 * login instead of three): a raw placeholder of the file's size (`vol-create-as`: libvirt
 * allocates it without qemu-img), `vol-upload --sparse`, which sends only the file's data
 * extents (virsh-volume.c cmdVolUpload, virFileInData) and has the daemon punch the holes, then
 * `pool-refresh`, which probes the uploaded file's real format (the upload changed it behind
 * libvirt's back; virStorageBackendRefreshVolTargetUpdate).
 */
async function uploadImage(req: PoolCreateRequest, name: string, local: string): Promise<void> {
  const { conn, pool, signal } = req;
  const size = statSync(local).size;
  let t0 = 0;
  const uploaded = (): void => {
    const s = (performance.now() - t0) / 1000;
    req.note(`uploaded ${size} bytes in ${s.toFixed(1)} s (${(size / Math.max(s, 0.001) / 1e6).toFixed(0)} MB/s)`);
  };
  const placeholder = ['--pool', pool, '--name', name, '--capacity', String(size), '--allocation', '0'];
  try {
    await virshSteps(
      conn,
      [
        { args: ['vol-create-as', ...placeholder, '--format', 'raw'] },
        { args: ['vol-upload', '--pool', pool, '--sparse', '--', name, local], timeoutMs: TRANSFER_TIMEOUT_MS },
        { args: ['pool-refresh', '--', pool] },
      ],
      {
        signal,
        onStep: (i) => {
          if (i === 1) {
            req.note(`uploading ${size} bytes into volume '${name}' of pool '${pool}' (vol-upload --sparse)`);
            t0 = performance.now();
          }
          if (i === 2) uploaded();
        },
      },
    );
  } catch (e) {
    // Only the refresh failed: libvirt refuses it while another volume is being allocated.
    if (!(e instanceof HostStepError && e.step === 2)) throw e;
    await refreshPool(req);
  }
}

/**
 * pool-refresh, which libvirt refuses while another volume of the pool is being allocated
 * ("has asynchronous jobs running", storage_driver.c storagePoolRefresh). The volume is made
 * either way: retried for a while, then skipped with a note, as libvirt's own refresh after an
 * upload skips (virStorageVolPoolRefreshThread).
 */
async function refreshPool(req: PoolCreateRequest): Promise<void> {
  const { conn, pool, signal } = req;
  for (let t0 = Date.now(); ;) {
    try {
      await virsh(conn, ['pool-refresh', '--', pool], { signal });
      return;
    } catch (e) {
      if (!(e instanceof HostError && /asynchronous jobs running/.test(e.message))) throw e;
      if (Date.now() - t0 > QUERY_TIMEOUT_MS) {
        req.note(`pool-refresh skipped: another volume is being allocated in pool '${pool}'`);
        return;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** How long a rollback waits for the host's qemu-img of a cancelled vol-create to end. */
const ROLLBACK_ALLOCATING_MS = 10 * 60_000;

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
    // A vol-create whose virsh was killed goes on in the daemon until the host's qemu-img ends
    // (storage_driver.c storageVolCreateXML: the volume is listed, `building`, and vol-delete
    // answers "still being allocated"); an aborted upload holds the volume until the daemon
    // closes its stream. Other failures are retried for 10 s; waiting for the allocation to end
    // is bounded by ROLLBACK_ALLOCATING_MS.
    const t0 = Date.now();
    let told = false;
    for (let i = 0; ;) {
      try {
        if (!(await volumeExists(conn, pool, made.name))) break;
        await virsh(conn, ['vol-delete', '--pool', pool, '--', made.name], call);
        req.note(`rolled back: deleted volume '${made.name}' from pool '${pool}'`);
        break;
      } catch (e) {
        const allocating = /still being allocated/.test((e as Error).message);
        if (allocating && !told) {
          req.note(`waiting for the host to finish allocating '${made.name}' to delete it`);
          told = true;
        }
        if (allocating ? Date.now() - t0 > ROLLBACK_ALLOCATING_MS : ++i >= 20) {
          req.note(`could not delete volume '${made.name}' from pool '${pool}': ${(e as Error).message}`);
          break;
        }
        await new Promise((r) => setTimeout(r, allocating ? 200 : 500));
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
