// VS Code entry: start the language server (dist/server.js over IPC), give "Libvirt: Create
// Volume" its prompts and the Explorer its "Libvirt" view (poolsView.ts). Everything else —
// validation, the image writer, secret XML, the host queries — runs in the server, so other
// editors get the same features (ARCHITECTURE.md invariant 7).
import * as vscode from 'vscode';
import {
  LanguageClient,
  TransportKind,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { createVolumeUi, isServerArgs } from './createVolume';
import { registerPoolsView } from './poolsView';
import { DOCUMENT_SELECTOR, HOST_EXTENSIONS } from '../../schemas/hosts';

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<{ client: LanguageClient }> {
  const module = context.asAbsolutePath('dist/server.js');
  // A larger young generation: the XML model of a 1 MB document (~19 MB of small objects) then
  // dies young instead of being promoted and mark-compacted — parse time drops about 3x
  // (bench/validation.bench.ts runs with the same flag; V8 reads it only at start-up).
  const heap = ['--max-semi-space-size=64'];
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc, options: { execArgv: heap } },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: [...heap, '--nolazy', '--inspect=6009'] } },
  };
  const clientOptions: LanguageClientOptions = {
    // XML, and the files libvirt XML is embedded in (Ansible playbooks, *.xml.j2, Terraform).
    documentSelector: DOCUMENT_SELECTOR,
    synchronize: {
      configurationSection: 'libvirtVolume',
      // <secret> files (and playbooks' virt_secret blocks) and images change on disk: the server's
      // workspace index listens.
      fileEvents: vscode.workspace.createFileSystemWatcher(
        `**/*.{${['.xml', ...Object.values(HOST_EXTENSIONS).flat()].map((e) => e.slice(1)).join(',')}}`,
      ),
    },
    middleware: {
      // The server advertises libvirtVolume.createVolume; the client registers it as the VS Code
      // command. Called from the palette or a menu (no server arguments), ask the user first.
      executeCommand: async (command, args, next) => {
        if (command === 'libvirtVolume.createVolume' && !isServerArgs(args[0])) {
          return createVolumeUi(client!, args[0] instanceof vscode.Uri ? args[0] : undefined);
        }
        return next(command, args);
      },
    },
  };
  client = new LanguageClient('libvirtVolume', 'libvirt Volume', serverOptions, clientOptions);
  const c = client;
  const started = c.start().then(() => c);
  // The Explorer's "Libvirt" view: its provider is there at once, its queries wait for the server.
  registerPoolsView(context, started);
  await started;
  context.subscriptions.push(client);
  // Arguments (volume XML uri?, input image uri?); the prompts end in the server's createVolume {from}.
  context.subscriptions.push(
    vscode.commands.registerCommand('libvirtVolume.createVolumeFromImage', (a?: unknown, b?: unknown) =>
      createVolumeUi(client!, a instanceof vscode.Uri ? a : undefined, undefined, {
        input: b instanceof vscode.Uri ? b : undefined,
      }),
    ),
  );
  return { client };
}

export function deactivate(): Thenable<void> | undefined {
  return client?.stop();
}
