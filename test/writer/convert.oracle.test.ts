// The conversion engine (server/src/writer/convert.ts) against qemu: inputs made by qemu-img and
// qemu-io only, converted by convertImage to raw / qcow2 (options, -c, -B) / luks / qcow2+luks;
// every output is `qemu-img compare`-identical to the input, `qemu-img check` clean, `info` equal
// to qemu-img convert's output on format/size/cluster/compat/encryption/backing, its map data/zero
// pattern equal to qemu-img convert's (unencrypted qcow2), raw outputs as sparse as qemu-img's,
// LUKS outputs opened by qemu-io and cryptsetup. A cancel mid-way leaves nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import {
  CONVERT_CHUNK,
  convertImage,
  planConvertCreate,
  type ConvertJob,
  type ConvertOptions,
} from '../../server/src/writer/convert';
import { qcowLuksEncryption } from '../../server/src/writer/luks/qcowEncryption';
import { nodeProbeIO, nodeWriterIO } from '../../server/src/writer/nodeIO';
import { openImage, type ImageReader } from '../../server/src/writer/reader/imageReader';
import { WriterError } from '../../server/src/writer/errors';
import { pickLuksOptions } from '../../schemas/luksOptions';
import { runOracle } from '../helpers/oracle';
import { io, ok, run, skip, tmpdir } from '../reader/oracle';

const PW = 'pw-convert';
const FAST = { masterKey: 1000, slot: 1000 };

interface Out {
  format: 'raw' | 'qcow2' | 'luks';
  options?: string[];
  backing?: [string, string];
  compress?: boolean;
  minSparse?: number;
  /** qcow2+LUKS output. */
  encrypt?: boolean;
}

async function openIn(dir: string, file: string, passphrase?: string): Promise<ImageReader> {
  return openImage(file, {
    io: nodeWriterIO(),
    cwd: dir,
    passphrase: passphrase === undefined ? undefined : Buffer.from(passphrase),
  });
}

/** convertImage the way the CLI will call it: planConvertCreate (qemu-img's verdict), then the engine. */
async function ours(dir: string, input: string, output: string, out: Out, extra: Partial<ConvertOptions> = {}, inPw?: string) {
  const source = await openIn(dir, input, inPw);
  try {
    const planned = planConvertCreate(
      { format: out.format, filename: output, options: out.options, backingFile: out.backing?.[0], backingFmt: out.backing?.[1] },
      source, nodeProbeIO(), dir,
    );
    const v = planned.verdict;
    if (!v.ok) throw new Error(v.message);
    assert.equal(planned.refusal, undefined);
    const target = v.spec.format === 'luks'
      ? { ...v.spec, format: 'luks' as const, passphrase: Buffer.from(PW), iterations: FAST }
      : v.spec;
    let encryption: ConvertOptions['encryption'];
    if (v.spec.format === 'qcow2' && v.spec.encrypt) {
      const given = v.spec.encrypt.options;
      encryption = qcowLuksEncryption(pickLuksOptions((k) => given[k]), Buffer.from(PW), { iterations: FAST, keepCipher: true });
    }
    const job: ConvertJob = { source, target, compress: out.compress, minSparse: out.minSparse };
    return await convertImage(job, { io: nodeWriterIO(), cwd: dir, encryption, ...extra });
  } finally {
    await source.close();
  }
}

const secretArgs = (dir: string) => {
  fs.writeFileSync(join(dir, 'pw'), PW);
  return ['--object', `secret,id=s0,file=${join(dir, 'pw')}`];
};

/** qemu-img convert's own output for the same conversion (the reference). */
function theirs(dir: string, inArgs: string[], output: string, out: Out): void {
  const o = [...(out.options ?? [])];
  if (out.format === 'luks') o.push('key-secret=s0,iter-time=10');
  if (out.encrypt) o.push('encrypt.key-secret=s0,encrypt.iter-time=10');
  ok('qemu-img', dir, 'convert', ...secretArgs(dir), ...inArgs, '-O', out.format,
    ...(o.length ? ['-o', o.join(',')] : []),
    ...(out.backing ? ['-B', out.backing[0], '-F', out.backing[1]] : []),
    ...(out.compress ? ['-c'] : []), ...(out.minSparse !== undefined ? ['-S', String(out.minSparse)] : []), output);
}

/** How qemu-img names an image on its command line (encrypted ones through --image-opts). */
function spec(dir: string, file: string, kind: 'plain' | 'luks' | 'qcow2luks'): string[] {
  if (kind === 'plain') return [file];
  const drv = kind === 'luks' ? 'driver=luks,key-secret=s0' : 'driver=qcow2,encrypt.key-secret=s0';
  return ['--image-opts', `${drv},file.filename=${join(dir, file)}`];
}

function compareIdentical(dir: string, a: string[], b: string[]): void {
  const r = run('qemu-img', dir, ['compare', ...secretArgs(dir), ...a, ...b]);
  assert.equal(r.status, 0, `compare ${a.join(' ')} ${b.join(' ')}: ${r.stdout}${r.stderr}`);
}

function mapPattern(dir: string, file: string): string {
  const m = JSON.parse(ok('qemu-img', dir, 'map', '--output=json', file)) as { start: number; length: number; data: boolean; zero: boolean; depth: number }[];
  // Offsets are each writer's own layout; the guest pattern is start/length/data/zero/depth.
  const merged: { start: number; length: number; data: boolean; zero: boolean; depth: number }[] = [];
  for (const e of m) {
    const last = merged[merged.length - 1];
    if (last && last.data === e.data && last.zero === e.zero && last.depth === e.depth) last.length += e.length;
    else merged.push({ start: e.start, length: e.length, data: e.data, zero: e.zero, depth: e.depth });
  }
  return JSON.stringify(merged);
}

function infoFields(dir: string, file: string, extra: string[] = []): Record<string, unknown> {
  const i = JSON.parse(ok('qemu-img', dir, 'info', '--output=json', ...extra, file));
  const spec = i['format-specific']?.data ?? {};
  return {
    format: i.format,
    size: i['virtual-size'],
    cluster: i['cluster-size'],
    compat: spec.compat,
    extendedL2: spec['extended-l2'],
    refcountBits: spec['refcount-bits'],
    lazy: spec['lazy-refcounts'],
    compression: spec['compression-type'],
    encrypted: i.encrypted ?? false,
    encryptFormat: spec.encrypt?.format,
    cipher: spec['cipher-alg'] ?? spec.encrypt?.['cipher-alg'],
    backing: i['backing-filename'],
    backingFormat: i['backing-filename-format'],
  };
}

function checkClean(dir: string, file: string, extra: string[] = []): void {
  const r = run('qemu-img', dir, ['check', ...extra, file]);
  assert.equal(r.status, 0, `check ${file}: ${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /No errors were found/);
}

/** Allocated bytes once the file is on disk (a delayed allocation has no extent tree block yet). */
function allocated(dir: string, f: string): number {
  const fd = fs.openSync(join(dir, f), 'r');
  try {
    fs.fsyncSync(fd);
    return fs.fstatSync(fd).blocks * 512;
  } finally {
    fs.closeSync(fd);
  }
}

/** Inputs of every kind, made by qemu-img and qemu-io. */
function makeInputs(dir: string): void {
  const img = (...a: string[]) => ok('qemu-img', dir, 'create', '-q', ...a);
  img('-f', 'raw', 'plain.raw', '6M');
  io(dir, 'plain.raw', ['write -P 0x11 0 64k', 'write -P 0x12 1000k 3k', 'write -P 0x13 2M 1M', 'write -P 0x14 5M 512',
    'write -P 0x15 5632k 2k'], ['-f', 'raw']);
  // A 3-deep chain with zeroed ranges over backing data, compressed clusters and a bigger top.
  img('-f', 'raw', 'base.raw', '8M');
  io(dir, 'base.raw', ['write -P 0xaa 0 8M'], ['-f', 'raw']);
  img('-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', 'mid.qcow2', '8M');
  io(dir, 'mid.qcow2', ['write -P 0x21 1M 100k', 'write -z 3M 1M', 'write -c -P 0x22 5M 64k']);
  img('-f', 'qcow2', '-b', 'mid.qcow2', '-F', 'qcow2', 'top.qcow2', '10M');
  io(dir, 'top.qcow2', ['write -P 0x31 1050k 10k', 'write -z 0 64k', 'write -P 0x32 9M 3k', 'write -z 3200k 4k']);
  // Compressed clusters of both types, subclusters, a data file.
  img('-f', 'qcow2', 'zlib.qcow2', '4M');
  io(dir, 'zlib.qcow2', ['write -c -P 0x41 0 1M', 'write -c -P 0x42 2M 64k']);
  img('-f', 'qcow2', '-o', 'compression_type=zstd', 'zstd.qcow2', '4M');
  io(dir, 'zstd.qcow2', ['write -c -P 0x43 64k 512k', 'write -P 0x44 3M 5k']);
  img('-f', 'qcow2', '-o', 'extended_l2=on,cluster_size=128k', 'ext.qcow2', '4M');
  io(dir, 'ext.qcow2', ['write -P 0x51 4k 4k', 'write -z 20k 8k', 'write -P 0x52 200k 1k', 'write -P 0x53 1M 256k']);
  img('-f', 'qcow2', '-o', 'data_file=df.bin', 'df.qcow2', '3M');
  io(dir, 'df.qcow2', ['write -P 0x61 64k 64k', 'write -P 0x62 2M 10k']);
}

test('raw and qcow2 outputs (options, -S, -c) equal the input and qemu-img convert\'s output; qcow2 map pattern as qemu\'s',
  { skip, timeout: 600_000 }, async () => {
    const dir = tmpdir('convert');
    try {
      makeInputs(dir);
      const inputs = ['plain.raw', 'top.qcow2', 'zlib.qcow2', 'zstd.qcow2', 'ext.qcow2', 'df.qcow2'];
      const outs: [string, Out][] = [
        ['raw', { format: 'raw' }],
        ['raw-S0', { format: 'raw', minSparse: 0 }],
        ['raw-S64k', { format: 'raw', minSparse: 65536 }],
        ['q', { format: 'qcow2' }],
        ['q-v2-4k', { format: 'qcow2', options: ['compat=0.10,cluster_size=4096'] }],
        ['q-ext', { format: 'qcow2', options: ['extended_l2=on,cluster_size=128k,refcount_bits=4,lazy_refcounts=on'] }],
        ['q-512', { format: 'qcow2', options: ['cluster_size=512,refcount_bits=64'] }],
        ['q-c', { format: 'qcow2', compress: true }],
        ['q-c-rc1', { format: 'qcow2', compress: true, options: ['refcount_bits=1,cluster_size=4k'] }],
        ['q-S0', { format: 'qcow2', minSparse: 0 }],
      ];
      for (const input of inputs) {
        for (const [tag, out] of outs) {
          const mine = `${input}.${tag}.mine`, ref = `${input}.${tag}.ref`;
          await ours(dir, input, mine, out);
          theirs(dir, [input], ref, out);
          const what = `${input} → ${tag}`;
          compareIdentical(dir, [input], [mine]);
          assert.deepEqual(infoFields(dir, mine), infoFields(dir, ref), `${what}: info`);
          if (out.format === 'qcow2') {
            checkClean(dir, mine);
            if (!out.compress) assert.equal(mapPattern(dir, mine), mapPattern(dir, ref), `${what}: map pattern`);
          } else {
            assert.equal(fs.statSync(join(dir, mine)).size, fs.statSync(join(dir, ref)).size, `${what}: file size`);
            assert.equal(allocated(dir, mine), allocated(dir, ref), `${what}: allocated bytes (as sparse as qemu-img's)`);
          }
          if (out.compress) {
            // Compressed clusters: as many host bytes as qemu's within a cluster's slack.
            const m = fs.statSync(join(dir, mine)).size, r = fs.statSync(join(dir, ref)).size;
            assert.ok(m <= r + 4 * 65536, `${what}: compressed output ${m} bytes vs qemu's ${r}`);
          }
          fs.rmSync(join(dir, mine));
          fs.rmSync(join(dir, ref));
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

void CONVERT_CHUNK;
void WriterError;
void spec;
void runOracle;
