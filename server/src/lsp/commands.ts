// `workspace/executeCommand` handlers. Everything an editor needs for Create Volume runs here, so
// neovim or emacs get the same command as VS Code (ARCHITECTURE.md invariant 7).
import { ResponseError, ErrorCodes } from 'vscode-languageserver/node';
import type { ServerState } from './server';

export const CREATE_VOLUME = 'libvirtVolume.createVolume';
export const COMMANDS = [CREATE_VOLUME];

export function registerCommands(state: ServerState): void {
  state.connection.onExecuteCommand(async (params) => {
    if (params.command === CREATE_VOLUME) {
      return new ResponseError(ErrorCodes.InternalError, 'Create Volume: the image writer is not available yet');
    }
    return new ResponseError(ErrorCodes.InvalidParams, `unknown command ${params.command}`);
  });
}
