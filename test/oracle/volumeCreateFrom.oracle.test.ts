// vol-create-from (issue 13): service/volumeCreate.ts volumeCreationFrom against the real libvirt 9.0
// storage driver. For each case a session libvirtd makes the input volume in a dir pool, qemu-io
// writes data into it, and `virsh vol-create-from` runs with an argv recorder first on the daemon's
// PATH: the qemu-img runs libvirt made (secret files normalised) must equal the ones we print, and a
// refusal must be libvirt's message. Then `create VOLUME.xml --from INPUT` makes the same volume
// with our engine: `qemu-img compare` finds it identical to libvirt's and `qemu-img info` agrees.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIBVIRT_VERSION, ORACLE_SECRET_UUID, SessionLibvirt } from './libvirt';
import { parseXml } from '../../server/src/service/xmlModel';
import {
  inputVolume, readVolume, SECRET_FILE_PLACEHOLDER, volumeCreationFrom,
} from '../../server/src/service/volumeCreate';
import { probeImage } from '../../server/src/writer/probe';
import { nodeProbeIO } from '../../server/src/writer/nodeIO';
import { runOracle, qemuImgOk } from '../helpers/oracle';
import { runCreate } from '../../server/src/cli/create';

/** The oracle secret's value (SessionLibvirt.start sets it). */
const PASSPHRASE = 'pw';
const enc = (inner = '') =>
  `<encryption format='luks'><secret type='passphrase' uuid='${ORACLE_SECRET_UUID}'/>${inner}</encryption>`;
const CIPHER = "<cipher name='aes' size='256' mode='cbc' hash='sha256'/><ivgen name='essiv' hash='sha256'/>";
const RAW = "<format type='raw'/>";
const QCOW2 = "<format type='qcow2'/>";
const M8 = "<capacity unit='M'>8</capacity>";

interface Case {
  name: string;
  input: string;
  output: string;
  /** Output <capacity>/<allocation> (default 8 MiB, the input's size). */
  sizes?: string;
  backing?: boolean;
  flags?: string[];
  /** Our engine makes it too (the formats it writes). */
  ours?: boolean;
}
const CASES: Case[] = [
  { name: 'raw_qcow2', input: RAW, output: QCOW2, ours: true },
  { name: 'raw_qcow2_opts', input: RAW, output: QCOW2 + "<nocow/><compat>1.1</compat><clusterSize unit='KiB'>128</clusterSize>"
    + '<features><lazy_refcounts/><extended_l2/></features>', ours: true },
  { name: 'raw_qcow2_big', input: RAW, output: QCOW2, sizes: "<capacity unit='M'>16</capacity>", ours: true },
  { name: 'raw_qcow2_nocap', input: RAW, output: QCOW2, sizes: '', ours: true },
  { name: 'raw_qcow2_meta', input: RAW, output: QCOW2, sizes: M8 + '<allocation>0</allocation>', flags: ['--prealloc-metadata'],
    ours: true },
  { name: 'raw_qcow2_falloc', input: RAW, output: QCOW2, flags: ['--prealloc-metadata'], ours: true },
  { name: 'raw_qcow2_meta_big', input: RAW, output: QCOW2 + "<clusterSize unit='KiB'>128</clusterSize>",
    sizes: "<capacity unit='M'>16</capacity><allocation>0</allocation>", flags: ['--prealloc-metadata'], ours: true },
  { name: 'raw_qcow2_back', input: RAW, output: QCOW2, backing: true, ours: true },
  { name: 'raw_qcow2_back_meta', input: RAW, output: QCOW2, backing: true, flags: ['--prealloc-metadata'] },
  { name: 'qcow2_raw', input: QCOW2, output: RAW, ours: true },
  { name: 'qcow2_qcow2', input: QCOW2, output: QCOW2 + '<compat>1.1</compat>', ours: true },
  { name: 'qcow2_raw_meta', input: QCOW2, output: RAW, flags: ['--prealloc-metadata'] },
  { name: 'raw_raw', input: RAW, output: RAW, ours: true },
  { name: 'raw_raw_sparse', input: RAW, output: RAW, sizes: M8 + '<allocation>0</allocation>', ours: true },
  { name: 'raw_raw_big', input: RAW, output: RAW, sizes: "<capacity unit='M'>12</capacity>", ours: true },
  { name: 'raw_raw_meta', input: RAW, output: RAW, flags: ['--prealloc-metadata'] },
  { name: 'raw_iso', input: RAW, output: "<format type='iso'/>", ours: true },
  { name: 'iso_qcow2', input: "<format type='iso'/>", output: QCOW2, ours: true },
  { name: 'raw_vmdk', input: RAW, output: "<format type='vmdk'/>" },
  { name: 'raw_luks', input: RAW, output: RAW + enc(), ours: true },
  { name: 'raw_luks_cipher', input: RAW, output: RAW + enc(CIPHER), ours: true },
  { name: 'raw_luks_big', input: RAW, output: RAW + enc(), sizes: "<capacity unit='M'>12</capacity>", ours: true },
  { name: 'luks_raw', input: RAW + enc(), output: RAW, ours: true },
  { name: 'luks_qcow2', input: RAW + enc(), output: QCOW2 + '<compat>1.1</compat>', ours: true },
  { name: 'luks_qcow2_big', input: RAW + enc(), output: QCOW2 + '<compat>1.1</compat>', sizes: "<capacity unit='M'>12</capacity>",
    ours: true },
  { name: 'raw_qluks_big', input: RAW, output: QCOW2 + '<compat>1.1</compat>' + enc(), sizes: "<capacity unit='M'>12</capacity>",
    ours: true },
  { name: 'luks_luks', input: RAW + enc(), output: RAW + enc(), ours: true },
  { name: 'qcow2_raw_luks', input: QCOW2, output: RAW + enc(), ours: true },
  { name: 'raw_qluks', input: RAW, output: QCOW2 + enc(), ours: true },
  { name: 'raw_qluks_opts', input: RAW, output: QCOW2 + '<nocow/><compat>1.1</compat>' + enc(CIPHER), ours: true },
  { name: 'raw_qluks_meta', input: RAW, output: QCOW2 + enc(), sizes: M8 + '<allocation>0</allocation>',
    flags: ['--prealloc-metadata'], ours: true },
  { name: 'qluks_raw', input: QCOW2 + enc(), output: RAW, ours: true },
  { name: 'qluks_luks', input: QCOW2 + enc(), output: RAW + enc(), ours: true },
  { name: 'qluks_qcow2', input: QCOW2 + enc(), output: QCOW2 + "<compat>1.1</compat><clusterSize unit='KiB'>128</clusterSize>",
    ours: true },
];

const volumeXml = (name: string, sizes: string, target: string, backing = '') =>
  `<volume><name>${name}</name>${sizes}<target>${target}</target>${backing}</volume>`;

/** libvirt's argv with each secret file it wrote under its run directory replaced by our placeholder. */
const normalise = (argv: string[]) => argv.map((a) => a.replace(/^(secret,id=[^,]+,file=).*$/, `$1${SECRET_FILE_PLACEHOLDER}`));

/** qemu-io/qemu-img arguments that open an image with the oracle passphrase (plain images: -f FMT). */
function opener(path: string, facts: { format: string; encrypted?: boolean }): string[] {
  if (facts.format === 'luks') {
    return ['--object', `secret,id=s0,data=${PASSPHRASE}`, '--image-opts', `driver=luks,key-secret=s0,file.filename=${path}`];
  }
  if (facts.encrypted) {
    return ['--object', `secret,id=s0,data=${PASSPHRASE}`, '--image-opts',
      `driver=qcow2,encrypt.key-secret=s0,file.filename=${path}`];
  }
  return ['-f', facts.format, path];
}

/** Data at several offsets, a zeroed range and holes: what the conversion must carry over. */
function fill(path: string): void {
  const facts = probeImage(nodeProbeIO(), path);
  const open = opener(path, facts);
  const io = (cmd: string) => {
    const r = runOracle('qemu-io', [...(open[0] === '-f' ? [] : []), ...open, '-c', cmd]);
    if (r.status !== 0) throw new Error(`qemu-io ${cmd} on ${path}: ${r.stderr}`);
  };
  io('write -P 0x5a 0 64k');
  io('write -P 0xa5 1M 192k');
  io('write -z 1088k 64k');
  io('write -P 0x11 7M 4k');
}

let session: SessionLibvirt;
let scratch: string;
before(async () => {
  session = await SessionLibvirt.start();
  scratch = mkdtempSync(join(tmpdir(), 'lv-volfrom-'));
}, { timeout: 120_000 });
after(async () => {
  await session?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

test('our printed qemu-img lines are the runs libvirt 9.0 makes at vol-create-from; create --from makes the same volume',
  { timeout: 1_500_000 }, async () => {
    const disagree: string[] = [];
    const made: string[] = [];
    let agree = 0;
    for (const c of CASES) {
      const inName = `${c.name}_in`;
      const backing = c.backing ? `<backingStore><path>${session.backingDir}/base.qcow2</path><format type='qcow2'/></backingStore>` : '';
      const inXml = volumeXml(inName, M8, c.input);
      const outXml = volumeXml(c.name, c.sizes ?? M8, c.output, backing);
      const output = join(session.pool, c.name);
      let input: ReturnType<typeof inputVolume> | undefined;
      const inCopy = join(scratch, inName);
      const theirs = join(scratch, `${c.name}.libvirt`);
      const r = await session.createVolumeFromRecorded(inXml, outXml, {
        flags: c.flags,
        fill: (p) => {
          fill(p);
          input = inputVolume(p, probeImage(nodeProbeIO(), p));
          copyFileSync(p, inCopy);
        },
        inspect: (out) => copyFileSync(out, theirs),
      });
      const m = volumeCreationFrom(readVolume(parseXml(outXml).root), input!, {
        output, libvirtVersion: LIBVIRT_VERSION, preallocMetadata: !!c.flags?.length,
      });
      const ours = m.refusal ? [] : m.runs;
      const runs = r.runs.map(normalise);
      const same = JSON.stringify(ours) === JSON.stringify(runs) && (m.refusal ? !r.ok && r.message.endsWith(m.refusal) : r.ok);
      if (same) agree++;
      else {
        disagree.push(`${c.name}: libvirt ${JSON.stringify(runs)} ${r.ok ? 'ok' : r.message} | ours ${JSON.stringify(ours)} ` +
          `${m.refusal ?? ''}`);
      }
      if (!c.ours || !r.ok) continue;
      // create VOLUME.xml --from INPUT makes what libvirt made, from a copy of the same input.
      const doc = join(scratch, `${c.name}.xml`);
      writeFileSync(doc, outXml);
      const pw = join(scratch, 'pw');
      writeFileSync(pw, PASSPHRASE, { mode: 0o600 });
      const mine = join(scratch, `${c.name}.ours`);
      const secrets = [
        ...(m.inputEncrypted ? ['--from-passphrase-file', pw] : []),
        ...(m.output.encrypted ? ['--passphrase-file', pw] : []),
      ];
      let log = '';
      const status = await runCreate(
        [doc, '--from', inCopy, '--output', mine, '--libvirt-version', LIBVIRT_VERSION, ...secrets, ...(c.flags ?? [])],
        { out: (s) => { log += s; }, err: (s) => { log += s; }, cwd: scratch, isTTY: false },
      );
      assert.equal(status, 0, `${c.name}: ${log}`);
      // The line printed is the mapping's (with our output path).
      assert.ok(log.includes(m.commandLine.split(output).join(mine).split('\n')[0].slice(0, 40)), `${c.name}: ${log}`);
      const theirFacts = probeImage(nodeProbeIO(), theirs);
      const myFacts = probeImage(nodeProbeIO(), mine);
      // Past the input's end an encrypted output holds what its unwritten payload decrypts to (qemu
      // creates LUKS payloads as holes: noise under each key); the input's extent is compared there.
      const grown = (theirFacts.format === 'luks' || theirFacts.encrypted) && (theirFacts.virtualSize ?? 0) > input!.capacity;
      const [a, b] = grown ? [head(theirs, theirFacts, input!.capacity), head(mine, myFacts, input!.capacity)] : [theirs, mine];
      const fa = grown ? { format: 'raw' } : theirFacts;
      const fb = grown ? { format: 'raw' } : myFacts;
      const cmp = runOracle('qemu-img', ['compare', ...compareSide(a, fa, b, fb)]);
      assert.equal(cmp.status, 0, `${c.name}: qemu-img compare: ${cmp.stdout}${cmp.stderr}`);
      const keys = ['format', 'virtual-size', 'cluster-size', 'encrypted'] as const;
      const info = (p: string, f: typeof myFacts) => {
        const j = JSON.parse(qemuImgOk(['info', '-U', '--output=json', ...(f.format === 'luks' || f.encrypted
          ? opener(p, f) : [p])]));
        return { ...Object.fromEntries(keys.map((k) => [k, j[k]])), compat: j['format-specific']?.data?.compat };
      };
      assert.deepEqual(info(mine, myFacts), info(theirs, theirFacts), `${c.name}: qemu-img info`);
      if (theirFacts.format === 'raw') assert.equal(statSync(mine).size, statSync(theirs).size, `${c.name}: raw length`);
      made.push(c.name);
    }
    console.log(`# libvirt ${LIBVIRT_VERSION} vol-create-from vs our mapping: ${agree}/${CASES.length} agree; `
      + `create --from made ${made.length} identical volumes`);
    assert.deepEqual(disagree, []);
  });

/** The first `bytes` of an image's guest content, as a raw file (qemu-img dd). */
function head(path: string, f: { format: string; encrypted?: boolean }, bytes: bigint): string {
  const out = `${path}.head`;
  const src = opener(path, f);
  const ifArg = src[0] === '-f' ? ['-f', f.format, `if=${path}`] : [...src.slice(0, 3), `if=${src[3]}`];
  qemuImgOk(['dd', ...ifArg, '-O', 'raw', 'bs=65536', `count=${bytes / 65536n}`, `of=${out}`]);
  return out;
}

/** `qemu-img compare` arguments for two images, encrypted ones through --image-opts. */
function compareSide(a: string, fa: { format: string; encrypted?: boolean }, b: string, fb: { format: string; encrypted?: boolean }) {
  const enc = (f: { format: string; encrypted?: boolean }) => f.format === 'luks' || !!f.encrypted;
  if (!enc(fa) && !enc(fb)) return ['-f', fa.format, '-F', fb.format, a, b];
  const spec = (p: string, f: { format: string; encrypted?: boolean }) =>
    f.format === 'luks' ? `driver=luks,key-secret=s0,file.filename=${p}`
      : f.encrypted ? `driver=qcow2,encrypt.key-secret=s0,file.filename=${p}` : `driver=${f.format},file.filename=${p}`;
  return ['--object', `secret,id=s0,data=${PASSPHRASE}`, '--image-opts', spec(a, fa), spec(b, fb)];
}
