// `libvirt-volume info [--json] FILE...`: what an image's header says (writer/probe.ts), in the
// spirit of `qemu-img info`: format, virtual size, cluster size, compat, features, backing file
// and format, data file, encryption (LUKS parameters and key slots). Reads a bounded header only;
// no passphrase is needed. Exit: 0 all read, 1 a file could not be read, 2 usage.
import { nodeProbeIO } from '../writer/nodeIO';
import { probeImage, type ProbedImage } from '../writer/probe';
import { weakChoices } from '../../../schemas/weakCrypto';
import { qemuSizeText } from '../common/bytes';

export const USAGE = `info [--json] FILE...
  Show what an image file's header says: format, virtual size, cluster size, compat, features,
  backing file and format, external data file, encryption (LUKS cipher, mode, hash, key slots).
  --json   print the facts as JSON (one object, or an array for several files)`;

export function infoLines(file: string, f: ProbedImage): string[] {
  const out = [`image: ${file}`, `file format: ${f.format}`];
  if (f.virtualSize !== undefined) out.push(`virtual size: ${qemuSizeText(f.virtualSize)} (${f.virtualSize} bytes)`);
  out.push(`file length: ${qemuSizeText(f.fileSize)} (${f.fileSize} bytes)`);
  if (f.clusterSize !== undefined) out.push(`cluster_size: ${f.clusterSize}`);
  if (f.backingFile !== undefined) out.push(`backing file: ${f.backingFile}`);
  if (f.backingFormat !== undefined) out.push(`backing file format: ${f.backingFormat}`);
  if (f.encrypted) out.push('encrypted: yes');
  const spec: string[] = [];
  if (f.format === 'qcow2') {
    spec.push(`compat: ${f.compat ?? `unknown (version ${f.version})`}`);
    spec.push(`compression type: ${f.compressionType}`);
    spec.push(`lazy refcounts: ${f.lazyRefcounts}`);
    spec.push(`refcount bits: ${f.refcountBits}`);
    spec.push(`corrupt: ${f.corrupt}`);
    spec.push(`extended l2: ${f.extendedL2}`);
    if (f.dirty) spec.push('dirty: true');
    if (f.dataFile !== undefined) spec.push(`data file: ${f.dataFile}`, `data file raw: ${f.dataFileRaw}`);
    if (f.features?.length) spec.push(`features: ${f.features.join(', ')}`);
  }
  if (f.encryptFormat === 'aes') spec.push('encrypt:', '    format: aes (legacy qcow AES-CBC: insecure)');
  if (f.luks) {
    const l = f.luks;
    const lines = [
      `format: luks${l.version !== 1 ? l.version : ''}`,
      ...(l.cipherAlg ? [`cipher alg: ${l.cipherAlg}`] : []),
      ...(l.cipherMode ? [`cipher mode: ${l.cipherMode}`] : []),
      ...(l.ivgenAlg ? [`ivgen alg: ${l.ivgenAlg}`] : []),
      ...(l.ivgenHashAlg ? [`ivgen hash alg: ${l.ivgenHashAlg}`] : []),
      ...(l.hashAlg ? [`hash alg: ${l.hashAlg}`] : []),
      ...(l.payloadOffset !== undefined ? [`payload offset: ${l.payloadOffset}`] : []),
      ...(l.masterKeyIters !== undefined ? [`master key iters: ${l.masterKeyIters}`] : []),
      `uuid: ${l.uuid}`,
      `key slots: ${l.activeSlots.length} active (${l.activeSlots.join(', ') || 'none'}) of ${l.slots.length}`,
    ];
    if (f.format === 'luks') spec.push(...lines);
    else spec.push('encrypt:', ...lines.map((x) => `    ${x}`));
  }
  if (spec.length) out.push('Format specific information:', ...spec.map((s) => `    ${s}`));
  for (const w of f.warnings ?? []) out.push(`warning: ${w}`);
  // Weak choices in the header (issue 7): the verdicts the editor and `create` give, same data.
  const weak =
    f.encryptFormat === 'aes'
      ? weakChoices({ legacyAes: true })
      : f.luks?.cipherAlg
        ? weakChoices({ ...f.luks, sizeBytes: f.virtualSize })
        : [];
  for (const w of weak) out.push(`weak encryption: ${w.summary} [${w.id}] ${w.doc}`);
  return out;
}

export interface InfoCliIO {
  out(s: string): void;
  err(s: string): void;
}

export async function runInfo(
  args: string[],
  io: InfoCliIO = {
    out: (s) => {
      process.stdout.write(s);
    },
    err: (s) => {
      process.stderr.write(s);
    },
  },
): Promise<number> {
  let json = false;
  const files: string[] = [];
  for (const a of args) {
    if (a === '--json' || a === '--output=json') json = true;
    else if (a === '-h' || a === '--help') {
      io.out(USAGE + '\n');
      return 0;
    } else if (a.startsWith('-') && a !== '-') {
      io.err(`libvirt-volume info: unknown option ${a}\n${USAGE}\n`);
      return 2;
    } else files.push(a);
  }
  if (!files.length) {
    io.err(`libvirt-volume info: expecting a file\n${USAGE}\n`);
    return 2;
  }
  const probe = nodeProbeIO();
  const results: (ProbedImage & { filename: string })[] = [];
  let failed = false;
  for (const f of files) {
    try {
      results.push({ filename: f, ...probeImage(probe, f) });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A FIFO, a directory or a character device is refused before it is opened (nodeIO.ts).
      const why =
        code === 'ENOENT'
          ? 'No such file or directory'
          : code === 'ENOTREG' || code === 'EISDIR'
            ? (e as Error).message
            : (code ?? (e as Error).message);
      io.err(`libvirt-volume info: Could not open '${f}': ${why}\n`);
      failed = true;
    }
  }
  if (json) io.out(JSON.stringify(results.length === 1 && files.length === 1 ? results[0] : results, null, 2) + '\n');
  else io.out(results.map((r) => infoLines(r.filename, r).join('\n')).join('\n\n') + (results.length ? '\n' : ''));
  return failed ? 1 : 0;
}
