// `workspace/executeCommand` handlers. Everything an editor needs for Create Volume runs here, so
// neovim or emacs get the same command as VS Code (ARCHITECTURE.md invariant 7).
// Arguments are checked field by field before anything runs: a wrong type answers InvalidParams
// (-32602, JSON-RPC 2.0 §5.1) naming the field, never InternalError with a JavaScript message.
import {
  ErrorCodes,
  ExecuteCommandRequest,
  ResponseError,
  type WorkDoneProgressReporter,
} from 'vscode-languageserver/node';
import { createVolume, describeImage, describeVolume, type CreateVolumeParams } from './createVolume';
import type { ServerState } from './server';
import { listPools } from '../host/pools';
import { listVolumes, volumeXml } from '../host/volumes';
import { commandConnection } from '../host/virsh';
import { abortOn, hostCall, NO_CONNECTION } from './createInPool';

export const CREATE_VOLUME = 'libvirtVolume.createVolume';
export const DESCRIBE_VOLUME = 'libvirtVolume.describeVolume';
export const LIST_POOLS = 'libvirtVolume.listPools';
export const LIST_VOLUMES = 'libvirtVolume.listVolumes';
export const VOLUME_XML = 'libvirtVolume.volumeXml';
export const DESCRIBE_IMAGE = 'libvirtVolume.describeImage';
export const COMMANDS = [CREATE_VOLUME, DESCRIBE_VOLUME, LIST_POOLS, LIST_VOLUMES, VOLUME_XML, DESCRIBE_IMAGE];
/** The arguments of the queries that take more than one field (host/volumes.ts, describeImage). */
const QUERY_FIELDS: Record<string, Record<string, FieldType>> = {
  [LIST_VOLUMES]: { connection: 'string', pool: 'string' },
  [VOLUME_XML]: { connection: 'string', pool: 'string', name: 'string' },
  [DESCRIBE_IMAGE]: { path: 'string' },
};

type FieldType = 'string' | 'boolean' | 'number' | 'object';
/** CreateVolumeParams' fields and their JSON types (createVolume.ts documents their meaning). */
const CREATE_FIELDS: Record<keyof CreateVolumeParams, FieldType> = {
  uri: 'string',
  new: 'object',
  output: 'string',
  force: 'boolean',
  passphrase: 'string',
  passphraseFile: 'string',
  writeSecretXml: 'boolean',
  iterTimeMs: 'number',
  allowInsecureAes: 'boolean',
  preallocMetadata: 'boolean',
  connection: 'string',
  pool: 'string',
  from: 'string',
  fromPassphrase: 'string',
  fromPassphraseFile: 'string',
};
const NEW_FIELDS: Record<string, FieldType> = {
  name: 'string',
  capacity: 'string',
  format: 'string',
  encrypted: 'boolean',
};

const jsonType = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function invalid(command: string, message: string): ResponseError<void> {
  return new ResponseError(ErrorCodes.InvalidParams, `${command}: ${message}`);
}

/** Checks the types of the fields present in `arg` (missing ones are judged by the command). */
function checkFields(
  command: string,
  arg: Record<string, unknown>,
  fields: Record<string, FieldType>,
  prefix = '',
): void {
  for (const [k, v] of Object.entries(arg)) {
    const want = fields[k];
    if (!want) throw invalid(command, `unknown argument '${prefix}${k}' (expected ${Object.keys(fields).join(', ')})`);
    // null is "not given": emacs' json-encode writes an unset optional field (nil) as null.
    if (v === undefined || v === null) continue;
    const ok =
      want === 'object' ? jsonType(v) === 'object' : want === 'number' ? Number.isFinite(v) : typeof v === want;
    const article = want === 'object' ? 'an' : 'a';
    if (!ok) throw invalid(command, `'${prefix}${k}' must be ${article} ${want}, got ${jsonType(v)}`);
  }
}

/** The command's one argument object, type-checked; throws InvalidParams. */
export function commandArgument(command: string, args: unknown[] | undefined): CreateVolumeParams {
  if (args !== undefined && !Array.isArray(args)) {
    throw invalid(command, `arguments must be an array, got ${jsonType(args)}`);
  }
  const arg = args === undefined || args.length === 0 ? {} : args[0];
  if (jsonType(arg) !== 'object') throw invalid(command, `the argument must be an object, got ${jsonType(arg)}`);
  const a = arg as Record<string, unknown>;
  const fields: Record<string, FieldType> =
    QUERY_FIELDS[command] ??
    (command === DESCRIBE_VOLUME
      ? { uri: 'string' }
      : command === LIST_POOLS
        ? { connection: 'string' }
        : CREATE_FIELDS);
  checkFields(command, a, fields);
  if (a.new !== undefined) checkFields(command, a.new as Record<string, unknown>, NEW_FIELDS, 'new.');
  return a as CreateVolumeParams;
}

export function registerCommands(state: ServerState): void {
  // onRequest, not onExecuteCommand: its reporter comes from vscode-languageserver's attachWorkDone
  // (common/progress.js), which deletes params.workDoneToken first, so a request that brought its
  // own token (VS Code's notification with Cancel) could not be told from one without: its
  // progress went to a second, server-created one and the notification stayed without a message.
  state.connection.onRequest(ExecuteCommandRequest.type, async (params, token) => {
    const workDone = state.connection.window.attachWorkDoneProgress(params.workDoneToken);
    try {
      if (!COMMANDS.includes(params.command)) {
        return invalid(params.command, `unknown command (known: ${COMMANDS.join(', ')})`);
      }
      const arg = commandArgument(params.command, params.arguments);
      switch (params.command) {
        case DESCRIBE_VOLUME: {
          if (!arg.uri) throw invalid(DESCRIBE_VOLUME, 'needs {uri}');
          const uri = arg.uri;
          // Image-aware errors need the headers: wait for them like a hover does (bounded).
          return await state.env.withImageFacts(() => describeVolume(state, uri));
        }
        case DESCRIBE_IMAGE: {
          const path = (arg as { path?: string }).path;
          if (!path) throw invalid(DESCRIBE_IMAGE, 'needs {path}');
          return describeImage(path);
        }
        case LIST_POOLS: {
          const uri = commandConnection(arg.connection, state.settings().connection, process.env);
          if (!uri) throw invalid(LIST_POOLS, NO_CONNECTION);
          return await hostCall(() => listPools({ uri }, abortOn(token)));
        }
        case LIST_VOLUMES:
        case VOLUME_XML: {
          const q = arg as { connection?: string; pool?: string; name?: string };
          const command = params.command;
          const uri = commandConnection(q.connection, state.settings().connection, process.env);
          if (!uri) throw invalid(command, NO_CONNECTION);
          if (!q.pool) throw invalid(command, 'needs {pool}');
          const pool = q.pool;
          if (command === LIST_VOLUMES) return await hostCall(() => listVolumes({ uri }, pool, abortOn(token)));
          if (!q.name) throw invalid(command, 'needs {name}');
          const name = q.name;
          return await hostCall(() => volumeXml({ uri }, pool, name, abortOn(token)));
        }
        default: {
          // Reads the headers the volume's checks need first, so the gate judges with them.
          const uri = arg.uri;
          if (uri) {
            await state.env.withImageFacts(() => {
              try {
                describeVolume(state, uri);
              } catch {
                /* judged below */
              }
            });
          }
          // Client-initiated progress when the request carried a token, else ask the client for one.
          let reporter: WorkDoneProgressReporter & { token?: typeof token } = workDone;
          if (!params.workDoneToken && state.capabilities().window?.workDoneProgress) {
            reporter = await state.connection.window.createWorkDoneProgress();
          }
          return await createVolume(state, arg, token, reporter);
        }
      }
    } catch (err) {
      if (err instanceof ResponseError) return err;
      state.connection.console.error(`${params.command} failed: ${(err as Error)?.stack ?? err}`);
      return new ResponseError(ErrorCodes.InternalError, `${params.command}: ${(err as Error)?.message ?? err}`);
    }
  });
}
