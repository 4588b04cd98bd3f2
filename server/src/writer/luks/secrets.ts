// Passphrases for LUKS creation: qemu-img's `--object secret,id=ID,data=TEXT|file=PATH[,format=base64]`
// (qemu crypto/secret_common.c, crypto/secret.c: file content verbatim, `file` and `data` mutually
// exclusive, base64 checked, the result must be UTF-8 and is used up to the first NUL byte, as qemu
// calls strlen on it), plus sources that keep the passphrase off the command line: stdin, a file,
// an environment variable. The passphrase is held in memory only; nothing here logs or writes it.
// File reading is injected so this module stays free of node:fs.

import { splitQemuOptions } from '../../common/qemuOpts';

export interface SecretObject {
  id: string;
  data?: string;
  file?: string;
  format?: string;
}

export class SecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretError';
  }
}

const ID_RE = /^[A-Za-z][A-Za-z0-9_.-]*$/; // qemu id_wellformed()

/** Parses the argument of `--object`; only the `secret` type is meaningful to this tool. */
export function parseSecretObject(spec: string): SecretObject {
  const props: Record<string, string> = {};
  for (const { name, value } of splitQemuOptions(spec, 'qom-type')) props[name] = value;
  const type = props['qom-type'];
  delete props['qom-type'];
  if (type === undefined) throw new SecretError(`Parameter 'qom-type' is missing`);
  // qemu's own words for a type it does not know (qom/object_interfaces.c); only secrets matter here.
  if (type !== 'secret') throw new SecretError(`Parameter 'qom-type' does not accept value '${type}'`);
  const id = props.id;
  if (id === undefined) throw new SecretError(`Parameter 'id' is missing`);
  if (!ID_RE.test(id)) throw new SecretError(`Parameter 'id' expects an identifier`);
  for (const k of Object.keys(props)) {
    if (!['id', 'data', 'file', 'format'].includes(k)) throw new SecretError(`Property 'secret.${k}' not found`);
  }
  if (props.format !== undefined && props.format !== 'raw' && props.format !== 'base64') {
    throw new SecretError(`Parameter 'format' does not accept value '${props.format}'`);
  }
  return { id, data: props.data, file: props.file, format: props.format };
}

/** Turns a secret object into passphrase bytes. `readFile` returns the file's bytes or throws. */
export function resolveSecret(o: SecretObject, readFile: (path: string) => Uint8Array): Uint8Array {
  if (o.data !== undefined && o.file !== undefined) throw new SecretError(`'file' and 'data' are mutually exclusive`);
  if (o.data === undefined && o.file === undefined) throw new SecretError(`Either 'file' or 'data' must be provided`);
  let raw: Uint8Array;
  if (o.file !== undefined) {
    try {
      raw = readFile(o.file);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why =
        e.code === 'ENOENT'
          ? 'No such file or directory'
          : e.code === 'EACCES'
            ? 'Permission denied'
            : ['ENOTREG', 'EISDIR', 'EFBIG'].includes(e.code ?? '')
              ? e.message
              : (e.code ?? 'error');
      throw new SecretError(`Unable to read ${o.file}: Failed to open file “${o.file}”: ${why}`);
    }
  } else raw = Buffer.from(o.data!, 'utf8');
  if (o.format === 'base64') {
    const text = Buffer.from(raw).toString('latin1');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text.replace(/[\r\n]/g, '')))
      throw new SecretError('Base64 data contains invalid characters');
    raw = Buffer.from(text, 'base64');
  }
  return passphraseBytes(raw, o.id);
}

/** qemu's qcrypto_secret_lookup_as_utf8 + strlen: valid UTF-8, cut at the first NUL. */
export function passphraseBytes(raw: Uint8Array, id: string): Uint8Array {
  const buf = Buffer.from(raw);
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    throw new SecretError(`Data from secret ${id} is not valid UTF-8`);
  }
  const nul = buf.indexOf(0);
  return nul < 0 ? buf : buf.subarray(0, nul);
}

/**
 * The passphrase sources a create command accepts. `--object` secrets are looked up by the
 * `key-secret` option like qemu-img; the other three replace them (and need no key-secret).
 */
export interface PassphraseSources {
  objects: SecretObject[];
  keySecret?: string;
  /** Path of a file whose whole content is the passphrase (verbatim, like `file=`). */
  passphraseFile?: string;
  /** Name of an environment variable holding the passphrase. */
  passphraseEnv?: string;
  /** Read the passphrase from standard input (one trailing newline is dropped: `echo pw |` works). */
  passphraseStdin?: boolean;
}

export interface PassphraseEnv {
  readFile(path: string): Uint8Array;
  readStdin(): Promise<Uint8Array>;
  env: Record<string, string | undefined>;
  /** The `encrypt.` prefix for qcow2 messages. */
  prefix?: string;
}

export async function resolvePassphrase(s: PassphraseSources, e: PassphraseEnv): Promise<Uint8Array> {
  const prefix = e.prefix ?? '';
  const alternatives = [s.passphraseFile !== undefined, s.passphraseEnv !== undefined, !!s.passphraseStdin].filter(
    Boolean,
  ).length;
  if (alternatives > 1)
    throw new SecretError('use only one of --passphrase-file, --passphrase-env and --passphrase-stdin');
  if (alternatives === 1 && s.keySecret !== undefined)
    throw new SecretError(`${prefix}key-secret and --passphrase-* cannot be used together`);
  if (s.passphraseFile !== undefined)
    return resolveSecret({ id: 'passphrase-file', file: s.passphraseFile }, e.readFile);
  if (s.passphraseEnv !== undefined) {
    const v = e.env[s.passphraseEnv];
    if (v === undefined) throw new SecretError(`environment variable ${s.passphraseEnv} is not set`);
    return passphraseBytes(Buffer.from(v, 'utf8'), s.passphraseEnv);
  }
  if (s.passphraseStdin) {
    let b = Buffer.from(await e.readStdin());
    if (b.length && b[b.length - 1] === 0x0a)
      b = b.subarray(0, b.length - (b.length > 1 && b[b.length - 2] === 0x0d ? 2 : 1));
    return passphraseBytes(b, 'stdin');
  }
  if (s.keySecret === undefined) throw new SecretError(`Parameter '${prefix}key-secret' is required for cipher`);
  const obj = [...s.objects].reverse().find((o) => o.id === s.keySecret);
  if (!obj) throw new SecretError(`No secret with id '${s.keySecret}'`);
  return resolveSecret(obj, e.readFile);
}
