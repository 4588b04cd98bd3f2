// libvirtVolume.createVolume with {pool, connection}: the volume (and its secret) made by libvirt
// in a pool on the host (host/createInPool.ts), off the keystroke path, with work-done progress
// and cancellation ($/cancelRequest or the progress' Cancel) that rolls back what was defined.
// When the host's qemu-img cannot, the image is written by the writer in its worker thread,
// exactly as a local Create Volume, then uploaded.
import { basename } from 'node:path';
import { ErrorCodes, LSPErrorCodes, ResponseError, type CancellationToken } from 'vscode-languageserver/node';
import { createInPool } from '../host/createInPool';
import { commandConnection, HostError } from '../host/virsh';
import { INSECURE_AES_WARNING } from '../../../schemas/luksOptions';
import {
  planFrom,
  readPassphrase,
  requestToken,
  runInWorker,
  type CreateVolumeParams,
  type CreateVolumeResult,
  type VolumeDescription,
  type WorkDone,
} from './createVolume';
import type { ServerState } from './server';
import type { VolumeFromCreation } from '../service/volumeCreate';

/** Where a host command finds no connection (lsp/commands.ts, createVolumeInPool). */
export const NO_CONNECTION = 'needs {connection}, the libvirtVolume.connection setting or LIBVIRT_DEFAULT_URI';

/** An AbortSignal that aborts when the LSP token is cancelled. */
export function abortOn(token: CancellationToken): AbortSignal {
  const ac = new AbortController();
  if (token.isCancellationRequested) ac.abort();
  else token.onCancellationRequested(() => ac.abort());
  return ac.signal;
}

/** Host failures as JSON-RPC errors: cancelled → RequestCancelled, refusals → InvalidParams. */
export async function hostCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof HostError)) throw e;
    if (e.code === 'cancelled') throw new ResponseError(LSPErrorCodes.RequestCancelled, e.message);
    throw new ResponseError(e.code === 'refused' ? ErrorCodes.InvalidParams : LSPErrorCodes.RequestFailed, e.message, {
      host: e.code,
    });
  }
}

export async function createVolumeInPool(
  state: ServerState,
  p: CreateVolumeParams,
  doc: {
    xmlText: string;
    desc: VolumeDescription;
    t0: number;
    /** vol-create-from: the input image (a file here, which the host cannot read: converted here, uploaded). */
    from?: { path: string; passphrase?: string; plan?: VolumeFromCreation };
  },
  token: CancellationToken,
  workDone: WorkDone,
): Promise<CreateVolumeResult> {
  const { desc, xmlText } = doc;
  const uri = commandConnection(p.connection, state.settings().connection, process.env);
  const invalid = (m: string) => new ResponseError(ErrorCodes.InvalidParams, m);
  if (!uri) throw invalid(`pool ${NO_CONNECTION}`);
  if (!p.pool) throw invalid('pool must name a libvirt storage pool');
  if (desc.legacyAes) throw invalid(`${INSECURE_AES_WARNING} Not created in a pool.`);
  let passphrase: string | undefined;
  if (desc.encrypted) {
    const file = p.passphraseFile || state.settings().passphraseFile;
    passphrase = p.passphrase ?? (file ? await readPassphrase(file) : undefined);
    if (!passphrase) throw invalid('an encrypted volume needs a passphrase (passphrase or passphraseFile)');
  }
  const both = requestToken(token, workDone);
  const signal = abortOn(both);
  const pool = p.pool;
  workDone.begin('Create Volume', 0, `${desc.name ?? ''} in pool ${pool}`, true);
  const steps: string[] = [];
  const note = (l: string): void => {
    state.log(`Create Volume: ${l}`);
    steps.push(l);
    workDone.report(l);
  };
  const bytes = passphrase !== undefined ? new TextEncoder().encode(passphrase) : undefined;
  try {
    const r = await hostCall(() =>
      createInPool({
        conn: { uri },
        pool,
        xmlText,
        force: !!p.force,
        passphrase: bytes,
        signal,
        note,
        preallocMetadata: !!p.preallocMetadata,
        uploadBecause: doc.from && `the input ${basename(doc.from.path)} is a file of this machine`,
        writeLocal: async (xml, output) => {
          await runInWorker(
            {
              xmlText: xml,
              output,
              force: false,
              passphrase,
              libvirtVersion: state.settings().libvirtVersion,
              preallocMetadata: !!p.preallocMetadata,
              iterTimeMs: typeof p.iterTimeMs === 'number' && p.iterTimeMs > 0 ? p.iterTimeMs : undefined,
              ...(doc.from ? { from: doc.from.path, fromPassphrase: doc.from.passphrase } : {}),
            },
            (done, total, message) =>
              workDone.report(
                total ? Math.floor((done / total) * 100) : 0,
                message ?? `${basename(output)}: writing here for upload`,
              ),
            both,
          );
        },
      }),
    );
    state.log(`Create Volume: ${r.name} in pool ${pool} on ${uri} in ${Date.now() - doc.t0} ms`);
    return {
      image: r.path,
      format: r.format ?? desc.format ?? 'raw',
      secretUuid: r.secretUuid,
      pool,
      uploaded: r.uploaded,
      // vol-create-from's qemu-img lines for the volume's path on the host (the answer of a local
      // Create Volume from Image carries them too); the conversion itself ran here.
      libvirtCommand: doc.from && hostCommandLine(state, xmlText, doc.from, r.path, p),
      steps,
      ms: Date.now() - doc.t0,
    };
  } finally {
    bytes?.fill(0);
    workDone.done();
    // The host's volumes and secrets changed (or a rollback ran): the checks against the host
    // (hostFacts.ts) should not wait for the next save or the 30 s refresh to see it.
    if (uri === state.settings().connection) state.env.host.invalidate();
  }
}

/**
 * The qemu-img lines libvirt would run for vol-create-from, with the volume's path on the host.
 * The volume exists by now: a plan that fails this late (the input changed meanwhile) keeps the
 * line planned before the run, with the pool's name for the path, rather than failing the answer.
 */
function hostCommandLine(
  state: ServerState,
  xmlText: string,
  from: { path: string; passphrase?: string; plan?: VolumeFromCreation },
  hostPath: string,
  p: CreateVolumeParams,
): string | undefined {
  try {
    return planFrom(state, xmlText, from, hostPath, p).commandLine;
  } catch {
    return from.plan?.commandLine;
  }
}
