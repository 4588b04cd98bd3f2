// `create VOLUME.xml --from INPUT` (libvirt's vol-create-from): prints the qemu-img runs libvirt's
// storage driver would make for this input (service/volumeCreate.ts volumeCreationFrom), then makes
// the volume here with the image reader and converter (volumeImage.ts writeVolumeImageFrom).
// Passphrases: the output's as `create` takes it (--passphrase-file F | --passphrase-env VAR |
// --passphrase-stdin), the input's the same way with a `--from-` prefix; never on a command line,
// and stdin carries at most one of them. With --connect/--pool the conversion runs here into a
// temporary file that vol-upload streams into the pool (cli/createInPool.ts).
import { resolve } from 'node:path';
import { planVolumeFrom, writeVolumeImageFrom } from '../volumeImage';
import { checkTarget } from '../writer/publish';
import { errorText, isCancellation } from '../writer/errors';
import { resolvePassphrase, SecretError } from '../writer/luks/secrets';
import { nodeWriterIO } from '../writer/nodeIO';
import type { PoolType } from '../../../schemas/vocabulary';
import type { CreateCliIO } from './create';
import { cliPassphraseEnv } from './secretArgs';
import { guardInterrupts } from './signals';

/** The passphrase options of `create --from`: the output's, and the input's with `--from-`. */
export const FROM_VALUED = ['--from', '--from-passphrase-file', '--from-passphrase-env'];

export interface FromCliArgs {
  xmlPath: string;
  text: string;
  from: string;
  output: string;
  force: boolean;
  quiet: boolean;
  libvirtVersion: string;
  preallocMetadata: boolean;
  poolType: PoolType;
  /** --passphrase-file F, --passphrase-env V, --passphrase-stdin, their --from- twins, --object. */
  passthrough: string[];
}

/** Reads the output's and the input's passphrases (each only when needed); throws SecretError. */
export async function fromPassphrases(
  passthrough: string[],
  cwd: string,
  need: { output: boolean; input: boolean },
): Promise<{ output?: Uint8Array; input?: Uint8Array }> {
  const opt = (name: string) => {
    const i = passthrough.indexOf(name);
    return i >= 0 ? passthrough[i + 1] : undefined;
  };
  if (passthrough.includes('--object')) {
    throw new SecretError('--object is not used with --from: pass --passphrase-* and --from-passphrase-*');
  }
  if (passthrough.includes('--passphrase-stdin') && passthrough.includes('--from-passphrase-stdin')) {
    throw new SecretError('standard input carries one passphrase: use a file or a variable for the other');
  }
  const env = cliPassphraseEnv(cwd);
  const read = async (prefix: string, what: string): Promise<Uint8Array> => {
    try {
      return await resolvePassphrase(
        {
          objects: [],
          passphraseFile: opt(`${prefix}passphrase-file`),
          passphraseEnv: opt(`${prefix}passphrase-env`),
          passphraseStdin: passthrough.includes(`${prefix}passphrase-stdin`),
        },
        env,
      );
    } catch (e) {
      if (e instanceof SecretError && /key-secret/.test(e.message)) {
        throw new SecretError(
          `${what} needs ${prefix}passphrase-file F, ${prefix}passphrase-env VAR or ${prefix}passphrase-stdin`,
        );
      }
      throw new SecretError(`${what}: ${(e as Error).message.replace(/--passphrase/g, `${prefix}passphrase`)}`);
    }
  };
  return {
    output: need.output ? await read('--', 'the encrypted volume') : undefined,
    input: need.input ? await read('--from-', 'the encrypted input image') : undefined,
  };
}

/** The lines printed before the work: what libvirt would run (or do itself) for this input. */
export function announceLines(libvirtVersion: string, plan: { tool: string; commandLine: string }): string {
  const verb = plan.tool === 'qemu-img' ? 'would run' : 'does';
  return plan.commandLine
    .split('\n')
    .map((l, i) => (i === 0 ? `# libvirt ${libvirtVersion} ${verb}: ${l}` : `#   then: ${l}`))
    .join('\n');
}

export async function runCreateFrom(a: FromCliArgs, io: CreateCliIO): Promise<number> {
  const fail = (m: string): number => {
    io.err(`libvirt-volume: ${a.xmlPath}: ${m}\n`);
    return 1;
  };
  const base = {
    xmlText: a.text,
    xmlPath: a.xmlPath,
    output: resolve(io.cwd, a.output),
    from: resolve(io.cwd, a.from),
    libvirtVersion: a.libvirtVersion,
    preallocMetadata: a.preallocMetadata,
    poolType: a.poolType,
  };
  let plan;
  // Planned without passphrases first (which ones are needed depends on the input's header).
  try {
    plan = planVolumeFrom({ ...base, passphrase: '-', fromPassphrase: '-' });
  } catch (e) {
    return fail((e as Error).message);
  }
  const refusal = await checkTarget(nodeWriterIO(), base.output, a.force, a.output);
  if (refusal) return fail(refusal.message);
  let secrets: { output?: Uint8Array; input?: Uint8Array };
  try {
    secrets = await fromPassphrases(a.passthrough, io.cwd, {
      output: plan.output.encrypted && !plan.output.legacyAes,
      input: plan.inputEncrypted,
    });
  } catch (e) {
    return fail((e as Error).message);
  }
  if (!a.quiet) io.out(announceLines(a.libvirtVersion, plan) + '\n');
  const guard = guardInterrupts();
  const text = (b: Uint8Array | undefined) => b && Buffer.from(b).toString('utf8');
  try {
    await writeVolumeImageFrom(
      { ...base, force: a.force, passphrase: text(secrets.output), fromPassphrase: text(secrets.input) },
      { progress: () => undefined, signal: guard.signal },
    );
    return 0;
  } catch (e) {
    if (isCancellation(e) || guard.signal.aborted) {
      io.err(`libvirt-volume: ${a.xmlPath}: interrupted; nothing was left behind\n`);
      return guard.exitCode ?? 130;
    }
    return fail(errorText(e));
  } finally {
    guard.dispose();
    secrets.output?.fill(0);
    secrets.input?.fill(0);
  }
}
