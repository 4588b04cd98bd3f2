// `create VOLUME.xml --connect URI --pool NAME`: the volume (and its secret) made by libvirt in a
// pool (host/createInPool.ts). The XML was judged by the language service already (cli/create.ts).
// The passphrase is read here once (file, environment variable or stdin) and goes to virsh
// through a pipe only. SIGINT/SIGTERM/SIGHUP cancel the run and roll back what it defined.
import { resolve } from 'node:path';
import {
  createInPool,
  poolQueries,
  type PoolCreateRequest,
  type PoolCreateResult,
  type PoolQueries,
} from '../host/createInPool';
import { HostError } from '../host/virsh';
import { planVolumeFrom, writeVolumeImage, writeVolumeImageFrom } from '../volumeImage';
import { announceLines, fromPassphrases } from './createFrom';
import { readVolume } from '../service/volumeCreate';
import { parseXml } from '../service/xmlModel';
import { isCancellation, errorText } from '../writer/errors';
import { resolvePassphrase, SecretError } from '../writer/luks/secrets';
import type { CreateCliIO } from './create';
import { cliPassphraseEnv } from './secretArgs';
import { guardInterrupts } from './signals';

export interface PoolCliArgs {
  xmlPath: string;
  text: string;
  uri: string;
  pool: string;
  force: boolean;
  quiet: boolean;
  libvirtVersion: string;
  preallocMetadata: boolean;
  /** --passphrase-file F / --passphrase-env V / --passphrase-stdin (and --object, refused here). */
  passthrough: string[];
  /** The pool queries started while the XML was being judged (earlyPoolQueries). */
  early?: EarlyPoolQueries;
  /** vol-create-from's input image (cli/createFrom.ts): converted here, uploaded into the pool. */
  from?: string;
}

export interface EarlyPoolQueries {
  name: string;
  result: Promise<PoolQueries>;
  /** Ends the queries (the XML was refused: nothing more is asked of the host). */
  abort(): void;
}

/**
 * Starts the pool queries (virsh round trips; ssh logins for a remote host) so that they run
 * while the language service loads and judges the XML, which costs about as long.
 */
export function earlyPoolQueries(uri: string, pool: string, text: string): EarlyPoolQueries | undefined {
  const name = readVolume(parseXml(text).root).name;
  if (!name) return undefined;
  const ac = new AbortController();
  return { name, result: poolQueries({ uri }, pool, name, ac.signal), abort: () => ac.abort() };
}

export async function runCreateInPool(a: PoolCliArgs, io: CreateCliIO): Promise<number> {
  const fail = (m: string): number => {
    a.early?.abort();
    io.err(`libvirt-volume: ${a.xmlPath}: ${m}\n`);
    return 1;
  };
  const opt = (name: string): string | undefined => {
    const i = a.passthrough.indexOf(name);
    return i >= 0 ? a.passthrough[i + 1] : undefined;
  };
  if (a.from !== undefined) return runCreateFromInPool(a, io);
  if (a.passthrough.includes('--object')) return fail('--object is not used with --pool: pass --passphrase-*');
  const enc = readVolume(parseXml(a.text).root).target.encryption;
  if (enc && enc.format !== 'luks') {
    return fail(`<encryption format='${enc.format}'>: only luks can be created in a pool`);
  }
  let passphrase: Uint8Array | undefined;
  if (enc) {
    try {
      passphrase = await resolvePassphrase(
        {
          objects: [],
          passphraseFile: opt('--passphrase-file'),
          passphraseEnv: opt('--passphrase-env'),
          passphraseStdin: a.passthrough.includes('--passphrase-stdin'),
        },
        cliPassphraseEnv(io.cwd),
      );
    } catch (e) {
      if (e instanceof SecretError && /key-secret/.test(e.message)) {
        return fail('an encrypted volume needs --passphrase-file F, --passphrase-env VAR or --passphrase-stdin');
      }
      return fail((e as Error).message);
    }
  }
  return createGuarded(
    a,
    io,
    fail,
    {
      passphrase,
      writeLocal: async (xmlText, output, signal) => {
        // Our writer, the same one the server's Create Volume runs (lsp/createWorker.ts).
        const pass = passphrase && Buffer.from(passphrase).toString('utf8');
        const job = {
          xmlText,
          output,
          force: false,
          passphrase: pass,
          libvirtVersion: a.libvirtVersion,
          preallocMetadata: a.preallocMetadata,
        };
        await writeVolumeImage(job, { progress: () => undefined, signal });
      },
    },
    (r) =>
      `Vol ${r.name} created in pool ${r.pool} on ${a.uri}: ${r.path}${r.uploaded ? ' (written here, uploaded)' : ''}`,
    () => passphrase?.fill(0),
  );
}

/** createInPool under the CLI's interrupt guard, with its notes and messages: what both entries share. */
async function createGuarded(
  a: PoolCliArgs,
  io: CreateCliIO,
  fail: (m: string) => number,
  req: Pick<PoolCreateRequest, 'passphrase' | 'uploadBecause' | 'writeLocal'>,
  done: (r: PoolCreateResult) => string,
  wipe: () => void,
): Promise<number> {
  const guard = guardInterrupts();
  const note = (l: string): void => {
    if (!a.quiet) io.out(`${l}\n`);
  };
  try {
    const r = await createInPool({
      conn: { uri: a.uri },
      pool: a.pool,
      xmlText: a.text,
      force: a.force,
      signal: guard.signal,
      note,
      preallocMetadata: a.preallocMetadata,
      queries: a.early,
      ...req,
    });
    note(done(r));
    return 0;
  } catch (e) {
    if (guard.signal.aborted || isCancellation(e) || (e instanceof HostError && e.code === 'cancelled')) {
      io.err(`libvirt-volume: ${a.xmlPath}: interrupted; nothing this run defined was left behind\n`);
      return guard.exitCode ?? 130;
    }
    return fail(e instanceof HostError ? e.message : errorText(e));
  } finally {
    guard.dispose();
    wipe();
  }
}

/**
 * `--from INPUT --connect URI --pool NAME`: the input is a file of this machine, which a remote
 * host cannot read, so libvirt's own vol-create-from (whose input must be a volume of the host) is
 * not used: the volume is converted here into a temporary file (the same engine as without --pool)
 * and streamed in with vol-create + vol-upload --sparse; the secret is defined first and everything
 * this run defined is rolled back on failure, as for a volume created here.
 */
async function runCreateFromInPool(a: PoolCliArgs, io: CreateCliIO): Promise<number> {
  const fail = (m: string): number => {
    a.early?.abort();
    io.err(`libvirt-volume: ${a.xmlPath}: ${m}\n`);
    return 1;
  };
  const from = resolve(io.cwd, a.from!);
  const vol = readVolume(parseXml(a.text).root);
  const enc = vol.target.encryption;
  if (enc && enc.format !== 'luks')
    return fail(`<encryption format='${enc.format}'>: only luks can be created in a pool`);
  let plan;
  try {
    // The host decides the path; the plan is shown with the volume's name in the pool.
    const shown = `${a.pool}/${vol.name ?? 'volume'}`;
    const base = { xmlText: a.text, output: shown, from, libvirtVersion: a.libvirtVersion };
    plan = planVolumeFrom({ ...base, preallocMetadata: a.preallocMetadata, passphrase: '-', fromPassphrase: '-' });
  } catch (e) {
    return fail((e as Error).message);
  }
  let secrets: { output?: Uint8Array; input?: Uint8Array };
  try {
    secrets = await fromPassphrases(a.passthrough, io.cwd, { output: !!enc, input: plan.inputEncrypted });
  } catch (e) {
    return fail((e as Error).message);
  }
  if (!a.quiet) io.out(announceLines(a.libvirtVersion, plan) + '\n');
  const text = (b: Uint8Array | undefined) => b && Buffer.from(b).toString('utf8');
  return createGuarded(
    a,
    io,
    fail,
    {
      passphrase: secrets.output,
      uploadBecause: `the input ${a.from} is a file of this machine`,
      writeLocal: async (xmlText, output, signal) => {
        const job = {
          xmlText,
          output,
          from,
          force: false,
          passphrase: text(secrets.output),
          fromPassphrase: text(secrets.input),
          libvirtVersion: a.libvirtVersion,
          preallocMetadata: a.preallocMetadata,
        };
        await writeVolumeImageFrom(job, { progress: () => undefined, signal });
      },
    },
    (r) => `Vol ${r.name} created in pool ${r.pool} on ${a.uri} from ${a.from}: ${r.path} (converted here, uploaded)`,
    () => {
      secrets.output?.fill(0);
      secrets.input?.fill(0);
    },
  );
}
