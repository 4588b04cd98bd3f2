// The secret side of the subcommands' command lines, written once (compare, convert, create,
// create -f luks, create --from, create --pool): qemu-img's `--object secret,…` and where
// --passphrase-file / --passphrase-env / --passphrase-stdin and `file=` secrets are read from.
// qemu-img.c creates an --object as its getopt loop meets it (user_creatable_process_cmdline), so a
// bad secret object (syntax, unreadable file, bad base64 or UTF-8) fails before anything is opened.
import { resolve } from 'node:path';
import { parseSecretObject, resolveSecret, type PassphraseEnv, type SecretObject } from '../writer/luks/secrets';
import { readSecretFileSync } from '../writer/nodeIO';
import { readPassphraseStdin } from './passphraseStdin';

/** A secret file named on the command line: relative to the run's folder, a bounded read of a regular file. */
export function secretFileReader(cwd: string): (path: string) => Uint8Array {
  return (p) => readSecretFileSync(resolve(cwd, p));
}

/** `--object`'s argument parsed and its secret read at once; throws SecretError with qemu's message. */
export function secretObject(spec: string, cwd: string): SecretObject {
  const o = parseSecretObject(spec);
  resolveSecret(o, secretFileReader(cwd));
  return o;
}

/** Where a command-line run reads passphrases from (writer/luks/secrets.ts resolvePassphrase). */
export function cliPassphraseEnv(
  cwd: string,
  io: { readStdin?: () => Promise<Uint8Array>; env?: Record<string, string | undefined> } = {},
  prefix?: string,
): PassphraseEnv {
  return {
    readFile: secretFileReader(cwd),
    readStdin: io.readStdin ?? readPassphraseStdin,
    env: io.env ?? process.env,
    ...(prefix !== undefined ? { prefix } : {}),
  };
}
