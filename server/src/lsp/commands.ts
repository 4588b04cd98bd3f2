// `workspace/executeCommand` handlers. Everything an editor needs for Create Volume runs here, so
// neovim or emacs get the same command as VS Code (ARCHITECTURE.md invariant 7).
import { ErrorCodes, ResponseError, type WorkDoneProgressReporter } from 'vscode-languageserver/node';
import { createVolume, describeVolume, type CreateVolumeParams } from './createVolume';
import type { ServerState } from './server';

export const CREATE_VOLUME = 'libvirtVolume.createVolume';
export const DESCRIBE_VOLUME = 'libvirtVolume.describeVolume';
export const COMMANDS = [CREATE_VOLUME, DESCRIBE_VOLUME];

export function registerCommands(state: ServerState): void {
  state.connection.onExecuteCommand(async (params, token, workDone) => {
    const arg = (params.arguments?.[0] ?? {}) as CreateVolumeParams;
    try {
      switch (params.command) {
        case DESCRIBE_VOLUME:
          if (!arg.uri) throw new ResponseError(ErrorCodes.InvalidParams, `${DESCRIBE_VOLUME} needs {uri}`);
          return describeVolume(state, arg.uri);
        case CREATE_VOLUME: {
          // Client-initiated progress when the request carried a token, else ask the client for one.
          let reporter: WorkDoneProgressReporter & { token?: typeof token } = workDone;
          if (!params.workDoneToken && state.capabilities().window?.workDoneProgress) {
            reporter = await state.connection.window.createWorkDoneProgress();
          }
          return await createVolume(state, arg, token, reporter);
        }
        default:
          return new ResponseError(ErrorCodes.InvalidParams, `unknown command ${params.command}`);
      }
    } catch (err) {
      if (err instanceof ResponseError) return err;
      state.connection.console.error(`${params.command} failed: ${(err as Error)?.stack ?? err}`);
      return new ResponseError(ErrorCodes.InternalError, `${params.command}: ${(err as Error)?.message ?? err}`);
    }
  });
}
