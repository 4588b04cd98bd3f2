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
  convertEncryption,
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
import type { CreateSpec } from '../../schemas/qcow2Options';
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
      encryption = convertEncryption(pickLuksOptions((k) => given[k]), Buffer.from(PW), { iterations: FAST });
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

/** One image as an --image-opts string (qemu-img compare takes both sides the same way). */
function opts(dir: string, file: string, kind: 'plain' | 'luks' | 'qcow2luks'): string {
  if (kind !== 'plain') return spec(dir, file, kind)[1];
  const fmt = JSON.parse(ok('qemu-img', dir, 'info', '--output=json', file)).format as string;
  return `driver=${fmt},file.filename=${join(dir, file)}`;
}

function compareOpts(dir: string, a: string, b: string): void {
  compareIdentical(dir, ['--image-opts', a], [b]);
}

function compareIdentical(dir: string, a: string[], b: string[]): void {
  const r = run('qemu-img', dir, ['compare', ...secretArgs(dir), ...a, ...b]);
  assert.equal(r.status, 0, `compare ${a.join(' ')} ${b.join(' ')}: ${r.stdout}${r.stderr}`);
}

function mapPattern(dir: string, file: string, enc = false): string {
  const args = enc ? [...secretArgs(dir), ...spec(dir, file, 'qcow2luks')] : [file];
  const m = JSON.parse(ok('qemu-img', dir, 'map', '--output=json', ...args)) as { start: number; length: number; data: boolean; zero: boolean; depth: number }[];
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

function checkClean(dir: string, file: string, enc = false): void {
  const r = run('qemu-img', dir, ['check', ...(enc ? [...secretArgs(dir), ...spec(dir, file, 'qcow2luks')] : [file])]);
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
        ['raw-full', { format: 'raw', options: ['preallocation=full'] }],
        ['raw-falloc', { format: 'raw', options: ['preallocation=falloc'] }],
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

function qemuIo(dir: string, imageArgs: string[], cmds: string[]): void {
  ok('qemu-io', dir, ...secretArgs(dir), ...cmds.flatMap((c) => ['-c', c]), ...imageArgs);
}

test('LUKS and qcow2+LUKS outputs from plain and encrypted inputs: identical, info as qemu-img\'s, opened by qemu-io and cryptsetup',
  { skip, timeout: 600_000 }, async () => {
    const dir = tmpdir('convert-luks');
    try {
      makeInputs(dir);
      const sec = secretArgs(dir);
      ok('qemu-img', dir, 'convert', ...sec, 'top.qcow2', '-O', 'luks', '-o', 'key-secret=s0,iter-time=10', 'in.luks');
      ok('qemu-img', dir, 'convert', ...sec, 'top.qcow2', '-O', 'qcow2', '-o',
        'encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10', 'in-enc.qcow2');
      type Kind = 'plain' | 'luks' | 'qcow2luks';
      const luks: Out = { format: 'luks' };
      const luksCbc: Out = { format: 'luks', options: ['cipher-alg=aes-128,cipher-mode=cbc,ivgen-alg=essiv,ivgen-hash-alg=sha256'] };
      const qluks: Out = { format: 'qcow2', options: ['encrypt.format=luks'], encrypt: true };
      const qluksExt: Out = { format: 'qcow2', options: ['encrypt.format=luks,extended_l2=on,encrypt.cipher-alg=twofish-256'], encrypt: true };
      const raw: Out = { format: 'raw' };
      // Each input kind into each output kind at least once (qemu's LUKS runs are slow: kept few).
      const pairs: [string, Kind, string, Out, Kind][] = [
        ['plain.raw', 'plain', 'luks', luks, 'luks'],
        ['top.qcow2', 'plain', 'luks-cbc', luksCbc, 'luks'],
        ['plain.raw', 'plain', 'qluks', qluks, 'qcow2luks'],
        ['top.qcow2', 'plain', 'qluks-ext', qluksExt, 'qcow2luks'],
        ['in.luks', 'luks', 'raw', raw, 'plain'],
        ['in.luks', 'luks', 'qluks', qluks, 'qcow2luks'],
        ['in-enc.qcow2', 'qcow2luks', 'raw', raw, 'plain'],
        ['in-enc.qcow2', 'qcow2luks', 'luks', luks, 'luks'],
      ];
      {
        for (const [input, ik, tag, out, ok_] of pairs) {
          const mine = `${input}.${tag}.mine`, ref = `${input}.${tag}.ref`;
          const ourOut = { ...out, options: out.options?.map((o) => o) };
          await ours(dir, input, mine, ourOut, {}, ik === 'plain' ? undefined : PW);
          theirs(dir, spec(dir, input, ik), ref, out);
          const what = `${input} → ${tag}`;
          compareOpts(dir, opts(dir, input, ik), opts(dir, mine, ok_));
          compareOpts(dir, opts(dir, ref, ok_), opts(dir, mine, ok_));
          assert.deepEqual(infoFields(dir, mine), infoFields(dir, ref), `${what}: info`);
          if (ok_ === 'qcow2luks') {
            checkClean(dir, mine, true);
            assert.equal(mapPattern(dir, mine, true), mapPattern(dir, ref, true), `${what}: map pattern`);
          }
          if (ok_ === 'luks') {
            assert.equal(fs.statSync(join(dir, mine)).size, fs.statSync(join(dir, ref)).size, `${what}: file size`);
            // qemu-io reads the pattern qemu-io wrote into the input, through our LUKS output.
            if (input === 'plain.raw') qemuIo(dir, spec(dir, mine, 'luks'), ['read -P 0x13 2M 1M', 'read -P 0 3M 2M']);
            const dump = runOracle('cryptsetup', ['luksDump', join(dir, mine)]);
            assert.equal(dump.status, 0, dump.stderr);
            assert.match(dump.stdout, /Version:\s+1/);
            const t = runOracle('cryptsetup', ['open', '--test-passphrase', `--key-file=${join(dir, 'pw')}`, join(dir, mine)]);
            assert.equal(t.status, 0, `${what}: cryptsetup --test-passphrase: ${t.stderr}`);
          }
          fs.rmSync(join(dir, mine));
          fs.rmSync(join(dir, ref));
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

test('-B: only the top image is copied, unallocated ranges show the output\'s backing file (map as qemu-img\'s)',
  { skip, timeout: 600_000 }, async () => {
    const dir = tmpdir('convert-backing');
    try {
      makeInputs(dir);
      const outs: [string, Out][] = [
        ['b', { format: 'qcow2', backing: ['mid.qcow2', 'qcow2'] }],
        ['b-ext', { format: 'qcow2', backing: ['mid.qcow2', 'qcow2'], options: ['extended_l2=on'] }],
        ['b-v2', { format: 'qcow2', backing: ['mid.qcow2', 'qcow2'], options: ['compat=0.10,cluster_size=4k'] }],
        ['b-c', { format: 'qcow2', backing: ['mid.qcow2', 'qcow2'], compress: true }],
        ['b-luks', { format: 'qcow2', backing: ['mid.qcow2', 'qcow2'], options: ['encrypt.format=luks'], encrypt: true }],
      ];
      for (const [tag, out] of outs) {
        const mine = `top.${tag}.mine`, ref = `top.${tag}.ref`;
        await ours(dir, 'top.qcow2', mine, out);
        theirs(dir, ['top.qcow2'], ref, out);
        const k = out.encrypt ? 'qcow2luks' : 'plain';
        compareOpts(dir, opts(dir, 'top.qcow2', 'plain'), opts(dir, mine, k));
        assert.deepEqual(infoFields(dir, mine), infoFields(dir, ref), `${tag}: info`);
        checkClean(dir, mine, !!out.encrypt);
        if (!out.compress) {
          assert.equal(mapPattern(dir, mine, !!out.encrypt), mapPattern(dir, ref, !!out.encrypt), `${tag}: map pattern`);
        }
        fs.rmSync(join(dir, mine));
        fs.rmSync(join(dir, ref));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

test('-n writes into an existing raw or LUKS image, zeros included; refusals leave nothing behind',
  { skip, timeout: 300_000 }, async () => {
    const dir = tmpdir('convert-n');
    try {
      makeInputs(dir);
      const sec = secretArgs(dir);
      ok('qemu-img', dir, 'create', '-q', '-f', 'raw', 'exist.raw', '12M');
      io(dir, 'exist.raw', ['write -P 0xee 0 12M'], ['-f', 'raw']);
      ok('qemu-img', dir, 'create', '-q', ...sec, '-f', 'luks', '-o', 'key-secret=s0,iter-time=10', 'exist.luks', '12M');
      qemuIo(dir, spec(dir, 'exist.luks', 'luks'), ['write -P 0xee 0 12M']);
      for (const [file, format] of [['exist.raw', 'raw'], ['exist.luks', 'luks']] as const) {
        const source = await openIn(dir, 'top.qcow2');
        try {
          await convertImage({ source, existing: { filename: file, format, passphrase: format === 'luks' ? Buffer.from(PW) : undefined } },
            { io: nodeWriterIO(), cwd: dir });
        } finally {
          await source.close();
        }
        // The first 10M are the input's (zeros written over the 0xee pattern); the rest untouched.
        const k = format === 'luks' ? 'luks' : 'plain';
        const r = run('qemu-img', dir, ['compare', ...sec, '--image-opts', opts(dir, 'top.qcow2', 'plain'),
          k === 'plain' ? `driver=raw,file.filename=${join(dir, file)}` : opts(dir, file, k)]);
        assert.equal(r.status, 1, `${file}: the target is larger, its tail keeps its own bytes: ${r.stdout}`);
        qemuIo(dir, k === 'plain' ? ['-f', 'raw', file] : spec(dir, file, k), ['read -P 0 0 64k', 'read -P 0xaa 64k 64k', 'read -P 0xee 10M 2M']);
        ok('qemu-img', dir, 'convert', ...sec, ...(k === 'plain' ? ['-f', 'raw', file] : spec(dir, file, k)), '-O', 'raw', 'back.raw');
        ok('qemu-img', dir, 'resize', '-q', '-f', 'raw', '--shrink', 'back.raw', '10M');
        compareOpts(dir, opts(dir, 'top.qcow2', 'plain'), `driver=raw,file.filename=${join(dir, 'back.raw')}`);
        fs.rmSync(join(dir, 'back.raw'));
      }

      // Into qcow2 targets qemu-img created (as libvirt's vol-create-from does): v3, v2, extended L2,
      // qcow2+LUKS; same map, info and content as qemu-img convert -n into the same kind of target.
      const targets: [string, string[], boolean][] = [
        ['v3', [], false],
        ['v2', ['-o', 'compat=0.10'], false],
        ['ext', ['-o', 'extended_l2=on,lazy_refcounts=on,refcount_bits=8'], false],
        ['enc', ['-o', 'encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10'], true],
      ];
      for (const [tag, o, enc] of targets) {
        const mine = `n-${tag}.mine.qcow2`, ref = `n-${tag}.ref.qcow2`;
        for (const f of [mine, ref]) ok('qemu-img', dir, 'create', '-q', ...sec, '-f', 'qcow2', ...o, f, '12M');
        fs.chmodSync(join(dir, mine), 0o640);
        const source = await openIn(dir, 'top.qcow2');
        try {
          await convertImage({ source, existing: { filename: mine, format: 'qcow2', passphrase: enc ? Buffer.from(PW) : undefined } },
            { io: nodeWriterIO(), cwd: dir });
        } finally {
          await source.close();
        }
        const k = enc ? 'qcow2luks' : 'plain';
        const target = (f: string) => enc ? spec(dir, f, 'qcow2luks') : ['--target-image-opts', `driver=qcow2,file.filename=${join(dir, f)}`];
        ok('qemu-img', dir, 'convert', ...sec, '-n', 'top.qcow2', ...(enc ? ['--target-image-opts', spec(dir, ref, k)[1]] : target(ref)));
        assert.equal(fs.statSync(join(dir, mine)).mode & 0o777, 0o640, `${tag}: the target's mode kept`);
        compareOpts(dir, opts(dir, ref, k), opts(dir, mine, k));
        assert.deepEqual(infoFields(dir, mine), infoFields(dir, ref), `${tag}: info`);
        checkClean(dir, mine, enc);
        assert.equal(mapPattern(dir, mine, enc), mapPattern(dir, ref, enc), `${tag}: map pattern`);
      }

      // Refusals, before a byte: -c with raw, a bad -S, an existing output, a smaller -n target.
      const before = fs.readdirSync(dir).sort();
      const source = await openIn(dir, 'top.qcow2');
      try {
        const v = planConvertCreate({ format: 'raw', filename: 'new.raw' }, source, nodeProbeIO(), dir).verdict;
        assert.ok(v.ok);
        const opts = { io: nodeWriterIO(), cwd: dir };
        await assert.rejects(convertImage({ source, target: v.spec as CreateSpec, compress: true }, opts),
          (e: WriterError) => e.code === 'refused' && e.message === 'Compression not supported for this file format');
        await assert.rejects(convertImage({ source, target: v.spec as CreateSpec, minSparse: 1000 }, opts),
          /Invalid buffer size for sparse output specified/);
        const exists = planConvertCreate({ format: 'raw', filename: 'plain.raw' }, source, nodeProbeIO(), dir).verdict;
        assert.ok(exists.ok);
        await assert.rejects(convertImage({ source, target: exists.spec as CreateSpec }, opts), (e: WriterError) => e.code === 'exists');
        ok('qemu-img', dir, 'create', '-q', '-f', 'raw', 'small.raw', '1M');
        await assert.rejects(convertImage({ source, existing: { filename: 'small.raw', format: 'raw' } }, opts),
          /output file is smaller than input file/);
        fs.rmSync(join(dir, 'small.raw'));
        // A qcow2+LUKS provider that would not keep its payload cipher: refused before key derivation.
        const e = planConvertCreate({ format: 'qcow2', filename: 'new.qcow2', options: ['encrypt.format=luks'] },
          source, nodeProbeIO(), dir).verdict;
        assert.ok(e.ok);
        // -c with encryption: qemu-img's refusal (img_convert), before key derivation.
        await assert.rejects(convertImage({ source, target: e.spec as CreateSpec, compress: true }, opts),
          /Compression and encryption not supported at the same time/);
        const noCipher = qcowLuksEncryption({}, Buffer.from(PW), { iterations: FAST });
        await assert.rejects(convertImage({ source, target: e.spec as CreateSpec }, { ...opts, encryption: noCipher }),
          /must keep its payload cipher/);
      } finally {
        await source.close();
      }
      assert.deepEqual(fs.readdirSync(dir).sort(), before, 'nothing left behind');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

test('cancel mid-way: WriterError cancelled, no temporary file or output left', { skip, timeout: 300_000 }, async () => {
  const dir = tmpdir('convert-cancel');
  try {
    ok('qemu-img', dir, 'create', '-q', '-f', 'raw', 'big.raw', '48M');
    io(dir, 'big.raw', ['write -P 0x77 0 48M'], ['-f', 'raw']);
    for (const out of [{ format: 'raw' }, { format: 'qcow2' }, { format: 'luks' }] as Out[]) {
      const before = fs.readdirSync(dir).sort();
      const ac = new AbortController();
      let seen = 0;
      await assert.rejects(
        ours(dir, 'big.raw', `out.${out.format}`, out, {
          signal: ac.signal,
          onProgress: (p) => {
            if (p.phase === 'data' && p.done > 4 * CONVERT_CHUNK && !seen++) ac.abort();
          },
        }),
        (e: WriterError) => e.code === 'cancelled',
      );
      assert.ok(seen > 0, `${out.format}: cancelled during the data phase`);
      assert.deepEqual(fs.readdirSync(dir).sort(), before, `${out.format}: nothing left behind`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('memory stays bounded: a 64 GiB sparse qcow2 with data spread over it, to qcow2 and to raw', { skip, timeout: 300_000 }, async () => {
  const dir = tmpdir('convert-rss');
  try {
    ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', 'huge.qcow2', '64G');
    io(dir, 'huge.qcow2', ['write -P 0x5a 0 1M', 'write -P 0x5b 17G 3M', 'write -z 30G 1G', 'write -P 0x5c 63G 2M']);
    // A child process, so that its peak RSS is the conversion's alone (minus its start-up).
    const script = `
      const { convertImage, planConvertCreate } = require(${JSON.stringify(join(__dirname, '../../server/src/writer/convert'))});
      const { nodeProbeIO, nodeWriterIO } = require(${JSON.stringify(join(__dirname, '../../server/src/writer/nodeIO'))});
      const { openImage } = require(${JSON.stringify(join(__dirname, '../../server/src/writer/reader/imageReader'))});
      (async () => {
        const dir = ${JSON.stringify(dir)};
        const before = process.memoryUsage().rss;
        for (const [format, name] of [['qcow2', 'out.qcow2'], ['raw', 'out.raw']]) {
          const source = await openImage('huge.qcow2', { io: nodeWriterIO(), cwd: dir });
          const v = planConvertCreate({ format, filename: name }, source, nodeProbeIO(), dir).verdict;
          await convertImage({ source, target: v.spec }, { io: nodeWriterIO(), cwd: dir });
          await source.close();
        }
        console.log(JSON.stringify({ before, peak: process.resourceUsage().maxRSS * 1024 }));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const r = runOracle(process.execPath, ['--import', 'tsx', '-e', script], { cwd: join(__dirname, '../..') });
    assert.equal(r.status, 0, r.stderr);
    const { before, peak } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { before: number; peak: number };
    console.log(`convert of a 64 GiB qcow2: peak RSS ${(peak / 1048576).toFixed(1)} MiB, ${((peak - before) / 1048576).toFixed(1)} MiB over start-up`);
    assert.ok(peak - before < 64 * 1024 * 1024, `peak RSS grew by ${((peak - before) / 1048576).toFixed(1)} MiB over start-up`);
    compareIdentical(dir, ['huge.qcow2'], ['out.qcow2']);
    checkClean(dir, 'out.qcow2');
    assert.equal(mapPattern(dir, 'out.qcow2'), mapPattern(dir, 'huge.qcow2'));
    const raw = fs.statSync(join(dir, 'out.raw'));
    assert.equal(raw.size, 64 * 1024 ** 3);
    assert.ok(raw.blocks * 512 < 16 * 1024 * 1024, `raw output allocated ${raw.blocks * 512} bytes`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
