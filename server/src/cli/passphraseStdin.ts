// `--passphrase-stdin`: the passphrase from standard input (create -f luks, qcow2 encrypt.*).
// From a pipe or a file: everything up to EOF (resolvePassphrase drops one trailing newline, so
// `echo pw |` works). From a terminal: one line, as the help says, without echo, like cryptsetup's
// interactive prompt: the terminal is put in raw mode (no echo, no line discipline), Enter ends,
// Backspace deletes, Ctrl-C or Ctrl-D on an empty line aborts. The passphrase is never printed.

import { SecretError } from '../writer/luks/secrets';

/** Thrown when the user aborts the prompt (Ctrl-C / Ctrl-D): reported like any passphrase error. */
export class PassphraseAborted extends SecretError {}

export async function readPassphraseStdin(prompt = 'Passphrase: '): Promise<Uint8Array> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }
  const bytes: number[] = [];
  // Raw mode before the prompt: what is typed once the prompt shows is never echoed.
  stdin.setRawMode(true);
  process.stderr.write(prompt);
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        for (const b of chunk) {
          if (b === 0x0d || b === 0x0a) return done();
          if (b === 0x03 || (b === 0x04 && !bytes.length)) {
            return done(new PassphraseAborted('passphrase entry aborted'));
          }
          if (b === 0x7f || b === 0x08) {
            // Delete one UTF-8 character: continuation bytes are 10xxxxxx.
            while (bytes.length && (bytes.pop()! & 0xc0) === 0x80) {
              /* keep popping */
            }
          } else if (b === 0x15)
            bytes.length = 0; // Ctrl-U: kill the line
          else if (b >= 0x20 || b === 0x09) bytes.push(b);
        }
      };
      const done = (err?: Error) => {
        stdin.off('data', onData);
        stdin.pause();
        if (err) reject(err);
        else resolve();
      };
      stdin.on('data', onData);
      stdin.resume();
    });
  } finally {
    stdin.setRawMode(false);
    process.stderr.write('\n');
  }
  const out = Buffer.from(bytes);
  bytes.fill(0);
  return out;
}
