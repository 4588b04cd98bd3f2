// `libvirt-volume create -f luks …`: qemu-img-compatible creation of a raw LUKS container.
//   create -f luks [--object secret,id=ID,data=T|file=F[,format=base64]]... [-o OPTS] [-q] [--force]
//          [--passphrase-file F | --passphrase-env VAR | --passphrase-stdin] FILE SIZE
// OPTS: key-secret, cipher-alg, cipher-mode, ivgen-alg, ivgen-hash-alg, hash-alg, iter-time,
// preallocation (off|metadata|falloc|full). Messages are qemu-img's (`qemu-img: FILE: MSG` becomes
// `libvirt-volume: FILE: MSG`). The create.ts dispatcher hands `-f luks` here; the helpers below
// (readPassphrase; parseQemuImgOptions lives in writer/volumeXml.ts) also serve its qcow2 `encrypt.format=luks` path.
// The passphrase is read into memory only and never printed.
import { checkLuksOptions, type LuksOptionInput, type ResolvedLuksOptions } from '../../../schemas/luksOptions';
import type { LuksKeyDerivationReport } from '../writer/luks/luksHeader';
import { weakCryptoLines } from '../../../schemas/weakCrypto';
import { createLuksImage, luksFormattingLine, WriterError } from '../writer/luks/createLuks';
import { parseSecretObject, resolvePassphrase, resolveSecret, SecretError, type SecretObject } from '../writer/luks/secrets';
import { nodeWriterIO, readSecretFileSync } from '../writer/nodeIO';
import { readPassphraseStdin } from './passphraseStdin';
import { parseQemuImgOptions } from '../writer/volumeXml';
export { parseQemuImgOptions, parseSize } from '../writer/volumeXml';
import { parseQemuBool, parseQemuSize, QEMU_MESSAGES } from '../../../schemas/qcow2Options';

export const LUKS_USAGE = `create -f luks [--object secret,id=ID,data=TEXT|file=PATH[,format=base64]] -o key-secret=ID[,OPTS] FILE SIZE
  Create a raw LUKS1 container as qemu-img 7.2 does. OPTS: cipher-alg (aes-128|aes-192|aes-256|twofish-*|serpent-*|cast5-128),
  cipher-mode (xts|cbc|ctr|ecb), ivgen-alg (plain64|plain|essiv), ivgen-hash-alg, hash-alg, iter-time (ms, default 2000),
  preallocation (off|metadata|falloc|full).
  Instead of key-secret: --passphrase-file F (content verbatim), --passphrase-env VAR, --passphrase-stdin (one line).
  --force overwrites an existing FILE; -q prints nothing on success.`;

// The crypto driver's options plus the file protocol's (nocow, preallocation, extent_size_hint),
// which qemu-img also accepts with -f luks (block/crypto.c hands them to bdrv_create_file).
const LUKS_KEYS = ['key-secret', 'cipher-alg', 'cipher-mode', 'ivgen-alg', 'ivgen-hash-alg', 'hash-alg', 'iter-time', 'preallocation', 'size', 'nocow', 'extent_size_hint'];

/** The iteration counts achieved, printed after a LUKS creation (raw or inside qcow2). */
export function luksIterationsLine(r: ResolvedLuksOptions, k: LuksKeyDerivationReport): string {
  return `LUKS1 ${r.cipherAlg} ${r.cipherModeSpec}, PBKDF2-${r.hashAlg}: key slot 0 ${k.slotIters} iterations, ` +
    `master-key digest ${k.masterKeyIters} iterations (iter-time ${r.iterTimeMs} ms; speed measured in ${k.benchmarkMs} ms, derived in ${k.deriveMs} ms)`;
}

export interface LuksCliIO { out(s: string): void; err(s: string): void; signal?: AbortSignal; /** false: never draw progress. */ isTTY?: boolean }

/** Runs `create -f luks …` (argv without the leading `create`). Returns the exit status. */
export async function runLuksCreate(argv: string[], io: LuksCliIO = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): Promise<number> {
  const objects: SecretObject[] = [];
  const oList: string[] = [];
  const pos: string[] = [];
  let quiet = false, force = false, passphraseStdin = false;
  let passphraseFile: string | undefined, passphraseEnv: string | undefined;
  const fail = (msg: string, code = 1) => { io.err(`libvirt-volume: ${msg}\n`); return code; };
  try {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      const val = () => { const v = argv[++i]; if (v === undefined) throw new SecretError(`option '${a}' requires an argument`); return v; };
      if (a === '-f') { const f = val(); if (f !== 'luks') return fail(`runLuksCreate handles -f luks, not ${f}`, 2); }
      else if (a === '--object') {
        // qemu-img creates objects first: a bad secret object fails before anything else.
        const o = parseSecretObject(val());
        resolveSecret(o, readSecretFileSync);
        objects.push(o);
      }
      else if (a === '-o') oList.push(val());
      else if (a === '-q') quiet = true;
      else if (a === '--force') force = true;
      else if (a === '--passphrase-file') passphraseFile = val();
      else if (a === '--passphrase-env') passphraseEnv = val();
      else if (a === '--passphrase-stdin') passphraseStdin = true;
      else if (a.startsWith('-') && a !== '-') return fail(`unknown option ${a}\n${LUKS_USAGE}`, 2);
      else pos.push(a);
    }
  } catch (err) {
    if (err instanceof SecretError) return fail(err.message);
    throw err;
  }
  if (pos.length < 1) return fail(`Expecting image file name\n${LUKS_USAGE}`, 2);
  const file = pos[0];
  const opts = parseQemuImgOptions(oList);
  for (const k of opts.keys()) if (!LUKS_KEYS.includes(k)) return fail(`${file}: Invalid parameter '${k}'`);
  const sizeText = pos[1] ?? opts.get('size');
  if (sizeText === undefined) return fail(`${file}: Parameter 'size' is required`);
  const parsedSize = parseQemuSize(sizeText);
  if (!parsedSize.ok || parsedSize.value > 0x7fffffffffffffffn) {
    if (parsedSize.ok || parsedSize.range) return fail(QEMU_MESSAGES.sizeRange);
    return fail(QEMU_MESSAGES.sizeSyntax.join('\nlibvirt-volume: '));
  }
  if (parsedSize.value > BigInt(Number.MAX_SAFE_INTEGER)) return fail(`${file}: image size ${parsedSize.value} is larger than this tool supports (2^53 - 1 bytes)`);
  const size = Number(parsedSize.value);
  // File-protocol options, checked like QemuOpts does when qemu-img parses -o.
  const nocowText = opts.get('nocow');
  const nocow = nocowText === undefined ? false : parseQemuBool(nocowText);
  if (nocow === undefined) return fail(`${file}: ${QEMU_MESSAGES.expectsBool('nocow')}`);
  let extentSizeHint: number | undefined;
  const eshText = opts.get('extent_size_hint');
  if (eshText !== undefined) {
    const e = parseQemuSize(eshText);
    if (!e.ok) return fail(`${file}: ${QEMU_MESSAGES.expectsSize('extent_size_hint')}\n${QEMU_MESSAGES.sizeHint}`);
    extentSizeHint = Number(e.value);
  }

  const luksOpts: LuksOptionInput = {};
  for (const k of ['cipher-alg', 'cipher-mode', 'ivgen-alg', 'ivgen-hash-alg', 'hash-alg', 'iter-time'] as const) {
    if (opts.has(k)) luksOpts[k] = opts.get(k);
  }
  const keySecret = opts.get('key-secret');
  // qemu-img parses iter-time as a number before it prints `Formatting …`; the enums are checked
  // by the driver afterwards, and both come before the secret lookup.
  const pre = checkLuksOptions(luksOpts);
  if (!pre.ok && pre.kind === 'number') return fail(`${file}: ${pre.message}`);
  if (!quiet) io.out(luksFormattingLine(file, size, keySecret, luksOpts, { nocow: nocowText, preallocation: opts.get('preallocation'), extentSizeHint }) + '\n');
  if (!pre.ok && pre.kind === 'enum') return fail(`${file}: ${pre.message}`);
  // Weak choices (issue 7): the same verdicts the editor shows on <cipher>/<ivgen>, on stderr even
  // with -q; only for options qemu accepts (a refusal is the message then).
  if (pre.ok) for (const l of weakCryptoLines(luksOpts, size)) io.err(l + '\n');
  let passphrase: Uint8Array;
  try {
    passphrase = await resolvePassphrase(
      { objects, keySecret, passphraseFile, passphraseEnv, passphraseStdin },
      { readFile: readSecretFileSync, readStdin: readPassphraseStdin, env: process.env },
    );
  } catch (err) {
    if (err instanceof SecretError) return fail(`${file}: ${err.message}`);
    throw err;
  }
  // Ctrl-C: stop waiting for the key derivation / zero writing and remove the temporary file.
  const ac = new AbortController();
  const onSigint = (): void => ac.abort();
  const onOuter = (): void => ac.abort();
  io.signal?.addEventListener('abort', onOuter, { once: true });
  if (io.signal?.aborted) ac.abort();
  process.on('SIGINT', onSigint);
  try {
    // On a terminal: a one-line progress report (key derivation takes iter-time, full preallocation longer).
    const tty = !quiet && io.isTTY !== false && !!process.stderr.isTTY;
    let shown = false;
    const onProgress = tty ? (f: number, phase: 'derive' | 'write') => {
      io.err(`\r${phase === 'derive' ? 'deriving the key slot (PBKDF2)' : 'writing'} ${String(Math.round(f * 100)).padStart(3)}%   `);
      shown = true;
    } : undefined;
    const r = await createLuksImage({
      path: file, size, options: luksOpts, passphrase, preallocation: opts.get('preallocation'), force, io: nodeWriterIO(), signal: ac.signal, onProgress, nocow,
    }).finally(() => { if (shown) io.err('\n'); });
    if (!quiet) {
      io.out(luksIterationsLine(r.resolved, r.report) + '\n');
    }
    return 0;
  } catch (err) {
    if (err instanceof WriterError) return fail(`${file}: ${err.message}`);
    if ((err as Error).name === 'AbortError') { fail(`${file}: interrupted; nothing was left behind`); return 130; }
    const e = err as NodeJS.ErrnoException;
    return fail(`${file}: ${e.code ? `${e.code}: ` : ''}${e.message}`);
  } finally {
    process.off('SIGINT', onSigint);
    io.signal?.removeEventListener('abort', onOuter);
    passphrase.fill(0);
  }
}
