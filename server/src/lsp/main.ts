// Entry of dist/server.js. `node dist/server.js --stdio` (or `--node-ipc`, `--socket=N`) starts the
// language server. The same bundle is the worker_threads entry of Create Volume, so the image writer
// runs off the main thread without shipping a second file.
import { format } from 'node:util';
import { isMainThread, workerData } from 'node:worker_threads';
import {
  createConnection,
  ProposedFeatures,
  StreamMessageReader,
  StreamMessageWriter,
  type Connection,
} from 'vscode-languageserver/node';
import { startServer } from './server';
import { runCreateWorker } from './createWorker';

/**
 * Over stdio the reader is ours so that a framing error ends the process. vscode-jsonrpc's
 * StreamMessageReader.onData reports a missing or non-numeric Content-Length (or a header line
 * without ':') through onError and then waits for a header that never comes: the server would
 * live on, deaf. Exiting lets the client notice and restart it. A body that is not JSON is only
 * logged (the framing is intact, the next message is read normally); JSON.parse throws SyntaxError.
 */
function stdioConnection(): Connection {
  const reader = new StreamMessageReader(process.stdin);
  const writer = new StreamMessageWriter(process.stdout);
  reader.onError((err) => {
    if (err instanceof SyntaxError) return;
    process.stderr.write(`libvirt-volume server: unreadable LSP stream (${err?.message ?? err}); exiting\n`);
    process.exit(1);
  });
  // What vscode-languageserver does for `--stdio` itself (lib/node/main.js _createConnection), which
  // it skips when handed a reader: exit when the client closes stdin (0 after a shutdown request),
  // and keep console output off stdout, where it would corrupt the stream.
  let shutdown = false;
  const listen = reader.listen.bind(reader);
  reader.listen = (callback) =>
    listen((msg) => {
      if ((msg as { method?: string }).method === 'shutdown') shutdown = true;
      callback(msg);
    });
  reader.onClose(() => process.exit(shutdown ? 0 : 1));
  const connection = createConnection(ProposedFeatures.all, reader, writer);
  for (const k of ['log', 'info', 'debug', 'warn', 'error'] as const) {
    console[k] = (...args: unknown[]) => connection.console.log(format(...args));
  }
  return connection;
}

if (isMainThread) {
  const connection = process.argv.includes('--stdio') ? stdioConnection() : createConnection(ProposedFeatures.all);
  // Last line of defence: log and keep serving (a request handler's error is caught in `guard`).
  process.on('uncaughtException', (err) => connection.console.error(`uncaught: ${err?.stack ?? err}`));
  process.on('unhandledRejection', (err) =>
    connection.console.error(`unhandled rejection: ${(err as Error)?.stack ?? err}`),
  );
  startServer(connection);
} else if ((workerData as { role?: string } | undefined)?.role === 'createVolume') {
  runCreateWorker();
}
