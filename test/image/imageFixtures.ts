// Real image fixtures for the image-aware checks (issue 7): made by qemu-img 7.2 in a scratch
// folder, plus the environments that read them. `qemuImgEnv` asks `qemu-img info` (the oracle);
// the probe env (imageEnvs.ts) uses the writer's own bounded header reader.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageFacts, ServiceEnvironment } from '../../server/src/service/types';
import { qemuImgOk } from '../helpers/oracle';

export interface Fixtures {
  dir: string;
  cleanup(): void;
}

function qemuImg(dir: string, args: string[]): void {
  qemuImgOk(args, { cwd: dir });
}

/** Images for every check: a triggering one and a clean one each. Small sizes, iter-time 10. */
export function makeQemuFixtures(): Fixtures {
  const dir = mkdtempSync(join(tmpdir(), 'lv-image-'));
  const pw = join(dir, 'pw.txt');
  writeFileSync(pw, 'secret-pass', { mode: 0o600 });
  const S = ['--object', `secret,id=s,file=${pw}`];
  const q = (...a: string[]) => qemuImg(dir, a);
  q('create', '-q', '-f', 'raw', 'raw.img', '1M');
  q('create', '-q', '-f', 'qcow2', 'plain.qcow2', '64M');
  q('create', '-q', '-f', 'qcow2', '-o', 'compat=0.10,cluster_size=4096', 'v2.qcow2', '1M');
  q('create', '-q', '-f', 'luks', ...S, '-o', 'key-secret=s,iter-time=10', 'luks.img', '1M');
  q('create', '-q', '-f', 'luks', ...S, '-o', 'key-secret=s,iter-time=10,cipher-alg=aes-128,cipher-mode=cbc,ivgen-alg=plain64,hash-alg=sha1', 'weak.luks', '1M');
  q('create', '-q', '-f', 'qcow2', ...S, '-o', 'encrypt.format=luks,encrypt.key-secret=s,encrypt.iter-time=10', 'enc.qcow2', '1M');
  q('create', '-q', '-f', 'qcow2', ...S, '-o', 'encrypt.format=aes,encrypt.key-secret=s', 'aes.qcow2', '1M');
  // Backing chains.
  q('create', '-q', '-f', 'qcow2', 'base.qcow2', '1M');
  q('create', '-q', '-f', 'raw', 'base.raw', '1M');
  q('create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', 'top.qcow2');
  q('create', '-q', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', 'top-raw.qcow2');
  // qemu-img accepts -F raw over a qcow2 backing file without a word.
  q('create', '-q', '-f', 'qcow2', '-u', '-b', 'base.qcow2', '-F', 'raw', 'top-wrongfmt.qcow2', '1M');
  q('create', '-q', '-f', 'qcow2', '-b', 'top.qcow2', '-F', 'qcow2', 'top2.qcow2');
  // A loop: a → b → a (only possible with -u, which does not open the backing file).
  q('create', '-q', '-f', 'qcow2', '-u', '-b', 'loop-b.qcow2', '-F', 'qcow2', 'loop-a.qcow2', '1M');
  q('create', '-q', '-f', 'qcow2', '-u', '-b', 'loop-a.qcow2', '-F', 'qcow2', 'loop-b.qcow2', '1M');
  // A backing file without a backing format, as qemu < 6.1 wrote them: qemu-img 7.2 refuses to
  // make one, so blank the backing-format header extension (qcow2.c QCOW2_EXT_MAGIC_BACKING_FORMAT
  // 0xe2792aca) of a normal image; a zero type ends the extension list.
  // nofmt.qcow2 → base.qcow2 (libvirt probes it and starts); nofmt2.qcow2 → top.qcow2 → base.qcow2
  // (the probed file has a backing file itself: libvirt refuses).
  q('create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', 'nofmt.qcow2');
  q('create', '-q', '-f', 'qcow2', '-b', 'top.qcow2', '-F', 'qcow2', 'nofmt2.qcow2');
  for (const f of ['nofmt.qcow2', 'nofmt2.qcow2']) dropBackingFormat(join(dir, f));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Blanks the qcow2 backing-format header extension (as images from qemu < 6.1 lack it). */
export function dropBackingFormat(path: string): void {
  const head = readFileSync(path).subarray(0, 4096);
  const at = head.indexOf(Buffer.from([0xe2, 0x79, 0x2a, 0xca]));
  if (at < 0) throw new Error(`fixture: no backing-format extension in ${path}`);
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(4), 0, 4, at);
  closeSync(fd);
}

/** ImageFacts from `qemu-img info --output=json` (the oracle's view of the same file). */
export function qemuImgFacts(path: string): ImageFacts | undefined {
  let out: string;
  try {
    out = qemuImgOk(['info', '--output=json', path]);
  } catch {
    return undefined;
  }
  const j = JSON.parse(out) as Record<string, any>;
  const data = j['format-specific']?.data ?? {};
  const enc = j.format === 'luks' ? data : data.encrypt;
  const facts: ImageFacts = { format: j.format, virtualSize: j['virtual-size'] };
  if (j['actual-size'] !== undefined) facts.actualSize = j['actual-size'];
  if (j['cluster-size'] !== undefined) facts.clusterSize = j['cluster-size'];
  if (data.compat) facts.compat = data.compat;
  if (j['backing-filename']) facts.backingFile = j['backing-filename'];
  if (j['backing-filename-format']) facts.backingFormat = j['backing-filename-format'];
  if (j.encrypted || j.format === 'luks') {
    facts.encrypted = true;
    facts.encryptFormat = j.format === 'luks' ? 'luks' : enc?.format;
  }
  if (enc && enc['cipher-alg']) {
    facts.luks = {
      cipherAlg: enc['cipher-alg'], cipherMode: enc['cipher-mode'], ivgenAlg: enc['ivgen-alg'],
      ivgenHashAlg: enc['ivgen-hash-alg'], hashAlg: enc['hash-alg'], slots: enc.slots,
    };
  }
  return facts;
}

export const qemuImgEnv: ServiceEnvironment = { imageFacts: (p) => qemuImgFacts(p) };
