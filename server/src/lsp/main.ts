// Entry of dist/server.js. `node dist/server.js --stdio` (or `--node-ipc`, `--socket=N`) starts the
// language server. The same bundle is the worker_threads entry of Create Volume, so the image writer
// runs off the main thread without shipping a second file.
import { isMainThread, workerData } from 'node:worker_threads';
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { startServer } from './server';
import { runCreateWorker } from './createWorker';

if (isMainThread) {
  const connection = createConnection(ProposedFeatures.all);
  // Last line of defence: log and keep serving (a request handler's error is caught in `guard`).
  process.on('uncaughtException', (err) => connection.console.error(`uncaught: ${err?.stack ?? err}`));
  process.on('unhandledRejection', (err) => connection.console.error(`unhandled rejection: ${(err as Error)?.stack ?? err}`));
  startServer(connection);
} else if ((workerData as { role?: string } | undefined)?.role === 'createVolume') {
  runCreateWorker();
}
