// qcow2 convert outputs with preallocation (metadata, falloc, full, and data_file_raw, which implies
// metadata) and with an external data file, against qemu-img convert 7.2 run with the same command
// line. Inputs are made by qemu-img and qemu-io only. Unencrypted outputs are the same bytes as
// qemu-img's (the image and the data file): same layout (qemu-img create's, writer/create.ts), the
// data in the same clusters, so `info`, `map` (offsets included) and `check` agree by construction;
// they are checked anyway, with `compare` against the input. Encrypted outputs differ in their keys
// only: same L1/L2 entries and refcounts as qemu-img's (zero clusters unmapped and freed), same map,
// `compare` identical with the input and with qemu-img's output, `check` clean, disk usage within a
// few blocks of qemu-img's. Then the data file's safety: an existing one is kept without --force,
// and a cancelled conversion leaves neither file behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { convertImage, planConvertCreate, type ConvertOptions } from '../../server/src/writer/convert';
import { nodeProbeIO, nodeWriterIO } from '../../server/src/writer/nodeIO';
import { openImage } from '../../server/src/writer/reader/imageReader';
import { WriterError } from '../../server/src/writer/errors';
import { io, ok, run, skip, tmpdir } from '../reader/oracle';

const root = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
const CLI = join(root, 'bin', 'libvirt-volume.js');
const SECRET = ['--object', 'secret,id=s0,file=pw'];
const ENC = 'encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10';

function ours(dir: string, args: string[]): void {
  const r = spawnSync(process.execPath, [CLI, 'convert', ...args], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, `libvirt-volume convert ${args.join(' ')}: ${r.stderr}`);
}

/** Inputs of several kinds: raw with holes, a chain with zeroed and compressed ranges, subclusters. */
function makeInputs(dir: string): string[] {
  const img = (...a: string[]) => ok('qemu-img', dir, 'create', '-q', ...a);
  fs.writeFileSync(join(dir, 'pw'), 'pw-prealloc');
  img('-f', 'raw', 'plain.raw', '6M');
  io(dir, 'plain.raw', ['write -P 0x11 0 64k', 'write -P 0x12 1000k 3k', 'write -P 0x13 2M 1M', 'write -P 0x14 5M 512',
    'write -P 0x15 5632k 2k'], ['-f', 'raw']);
  img('-f', 'qcow2', 'base.qcow2', '5M');
  io(dir, 'base.qcow2', ['write -P 0xaa 0 5M']);
  img('-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', 'top.qcow2', '5M');
  io(dir, 'top.qcow2', ['write -c -P 0x41 0 1M', 'write -z 2M 1M', 'write -P 0x42 3M 7k', 'write -z 4100k 8k']);
  img('-f', 'qcow2', '-o', 'extended_l2=on,cluster_size=128k', 'ext.qcow2', '4M');
  io(dir, 'ext.qcow2', ['write -P 0x51 4k 4k', 'write -z 20k 8k', 'write -P 0x52 200k 1k', 'write -P 0x53 1M 256k']);
  return ['plain.raw', 'top.qcow2', 'ext.qcow2'];
}

/** Allocated bytes once the file is on disk. */
function allocated(path: string): number {
  const fd = fs.openSync(path, 'r');
  try {
    fs.fsyncSync(fd);
    return fs.fstatSync(fd).blocks * 512;
  } finally {
    fs.closeSync(fd);
  }
}

/** Disk usage of the same order: within 1 % plus a few file-system blocks of qemu-img's. */
function sameUsage(a: string, b: string, what: string): void {
  const x = allocated(a),
    y = allocated(b);
  assert.ok(Math.abs(x - y) <= 64 * 1024 + x / 100, `${what}: disk usage ${y} bytes, qemu-img's ${x}`);
}

function imageOpts(file: string, encrypted: boolean): string[] {
  return encrypted ? [...SECRET, '--image-opts', `driver=qcow2,encrypt.key-secret=s0,file.filename=${file}`] : [file];
}

function checkClean(dir: string, file: string, encrypted: boolean): void {
  const r = run('qemu-img', dir, ['check', ...imageOpts(file, encrypted)]);
  assert.equal(r.status, 0, `check ${file}: ${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /No errors were found/);
}

function compareIdentical(dir: string, a: string, b: string, encA: boolean, encB: boolean): void {
  const side = (f: string, e: boolean) =>
    e ? `driver=qcow2,encrypt.key-secret=s0,file.filename=${f}` : `driver=${format(dir, f)},file.filename=${f}`;
  const r = run('qemu-img', dir, ['compare', ...SECRET, '--image-opts', side(a, encA), side(b, encB)]);
  assert.equal(r.status, 0, `compare ${a} ${b}: ${r.stdout}${r.stderr}`);
}

const format = (dir: string, f: string) => JSON.parse(ok('qemu-img', dir, 'info', '--output=json', f)).format as string;

function info(dir: string, file: string, encrypted: boolean): Record<string, unknown> {
  const i = JSON.parse(ok('qemu-img', dir, 'info', '--output=json', ...imageOpts(file, encrypted)));
  const d = i['format-specific']?.data ?? {};
  return {
    format: i.format, size: i['virtual-size'], cluster: i['cluster-size'], compat: d.compat, extendedL2: d['extended-l2'],
    refcountBits: d['refcount-bits'], lazy: d['lazy-refcounts'], encrypted: i.encrypted ?? false,
    encryptFormat: d.encrypt?.format, dataFileRaw: d['data-file-raw'], hasDataFile: d['data-file'] !== undefined,
  };
}

const map = (dir: string, file: string, encrypted: boolean) =>
  ok('qemu-img', dir, 'map', '--output=json', ...imageOpts(file, encrypted));

/** Every L2 entry (with its bitmap) and every refcount of a qcow2, read from the file. */
function tables(path: string): { l2: string[]; refcounts: number[] } {
  const b = fs.readFileSync(path);
  const cs = 1 << b.readUInt32BE(20);
  const l1Size = b.readUInt32BE(36);
  const l1 = Number(b.readBigUInt64BE(40));
  const v3 = b.readUInt32BE(4) >= 3;
  const ext = v3 && (b.readBigUInt64BE(72) & 16n) !== 0n;
  const width = v3 ? 1 << b.readUInt32BE(96) : 16;
  const eb = ext ? 16 : 8;
  const l2: string[] = [];
  for (let i = 0; i < l1Size; i++) {
    const t = Number(b.readBigUInt64BE(l1 + i * 8) & 0x00fffffffffffe00n);
    for (let j = 0; t && j < cs / eb; j++) {
      l2.push(b.readBigUInt64BE(t + j * eb).toString(16) + (ext ? `/${b.readBigUInt64BE(t + j * eb + 8).toString(16)}` : ''));
    }
  }
  const refcounts: number[] = [];
  const rt = Number(b.readBigUInt64BE(48));
  const perBlock = (cs * 8) / width;
  for (let i = 0; i < (b.readUInt32BE(56) * cs) / 8; i++) {
    const blk = Number(b.readBigUInt64BE(rt + i * 8));
    for (let k = 0; blk && k < perBlock && (i * perBlock + k) * cs < b.length; k++) {
      if (width < 8) {
        // Sub-byte widths: the first entry in the least significant bits of a byte (qcow2.txt).
        const per = 8 / width;
        refcounts.push((b[blk + Math.floor(k / per)] >> ((k % per) * width)) & ((1 << width) - 1));
      } else {
        let v = 0;
        for (let x = 0; x < width / 8; x++) v = v * 256 + b[blk + (k * width) / 8 + x];
        refcounts.push(v);
      }
    }
  }
  return { l2, refcounts };
}

const OPTIONS = ['', 'compat=0.10,', 'extended_l2=on,', 'cluster_size=4k,refcount_bits=2,', 'extended_l2=on,cluster_size=1M,'];

test('preallocation=metadata|falloc|full: the same bytes as qemu-img convert, check clean, compare identical',
  { skip, timeout: 900_000 }, () => {
    const dir = tmpdir('convert-prealloc');
    try {
      const inputs = makeInputs(dir);
      let n = 0;
      for (const input of inputs) {
        // Every option set on the raw input; the qcow2 inputs with standard and extended L2 entries.
        for (const opt of input === 'plain.raw' ? OPTIONS : OPTIONS.slice(0, 3).filter((o) => o !== 'compat=0.10,')) {
          for (const mode of ['metadata', 'falloc', 'full']) {
            const o = ['-O', 'qcow2', '-o', `${opt}preallocation=${mode}`, input];
            const what = `${input} -o ${opt}preallocation=${mode}`;
            ok('qemu-img', dir, 'convert', ...o, 'qemu.qcow2');
            ours(dir, [...o, 'ours.qcow2']);
            assert.ok(fs.readFileSync(join(dir, 'ours.qcow2')).equals(fs.readFileSync(join(dir, 'qemu.qcow2'))), what);
            checkClean(dir, 'ours.qcow2', false);
            compareIdentical(dir, input, 'ours.qcow2', false, false);
            assert.deepEqual(info(dir, 'ours.qcow2', false), info(dir, 'qemu.qcow2', false), what);
            assert.equal(map(dir, 'ours.qcow2', false), map(dir, 'qemu.qcow2', false), what);
            sameUsage(join(dir, 'qemu.qcow2'), join(dir, 'ours.qcow2'), what);
            fs.rmSync(join(dir, 'ours.qcow2'));
            fs.rmSync(join(dir, 'qemu.qcow2'));
            n++;
          }
        }
      }
      assert.equal(n, (OPTIONS.length + 2 * 2) * 3);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

test('encrypted preallocated outputs: qemu-img\'s L2 entries and refcounts (zero clusters freed), map, compare, check',
  { skip, timeout: 900_000 }, () => {
    const dir = tmpdir('convert-prealloc-enc');
    try {
      makeInputs(dir);
      // Each option set once per mode, over both inputs (every case opens LUKS several times).
      const cases: [string, string, string][] = [
        ['plain.raw', '', 'metadata'], ['top.qcow2', '', 'falloc'], ['plain.raw', 'compat=0.10,', 'full'],
        ['top.qcow2', 'extended_l2=on,', 'metadata'], ['plain.raw', 'extended_l2=on,cluster_size=256k,', 'falloc'],
        ['top.qcow2', 'extended_l2=on,', 'full'],
      ];
      for (const [input, opt, mode] of cases) {
        const o = [...SECRET, '-O', 'qcow2', '-o', `${opt}preallocation=${mode},${ENC}`, input];
        const what = `${input} -o ${opt}preallocation=${mode},encrypt`;
        ok('qemu-img', dir, 'convert', ...o, 'qemu.qcow2');
        ours(dir, [...o, 'ours.qcow2']);
        assert.deepEqual(tables(join(dir, 'ours.qcow2')), tables(join(dir, 'qemu.qcow2')), what);
        checkClean(dir, 'ours.qcow2', true);
        compareIdentical(dir, input, 'ours.qcow2', false, true);
        compareIdentical(dir, 'qemu.qcow2', 'ours.qcow2', true, true);
        assert.deepEqual(info(dir, 'ours.qcow2', true), info(dir, 'qemu.qcow2', true), what);
        assert.equal(map(dir, 'ours.qcow2', true), map(dir, 'qemu.qcow2', true), what);
        assert.equal(fs.statSync(join(dir, 'ours.qcow2')).size, fs.statSync(join(dir, 'qemu.qcow2')).size, what);
        sameUsage(join(dir, 'qemu.qcow2'), join(dir, 'ours.qcow2'), what);
        fs.rmSync(join(dir, 'ours.qcow2'));
        fs.rmSync(join(dir, 'qemu.qcow2'));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

test('data_file outputs (off, metadata, falloc, full, data_file_raw; plain and encrypted): the data file as qemu-img\'s',
  { skip, timeout: 900_000 }, () => {
    const dir = tmpdir('convert-datafile');
    try {
      makeInputs(dir);
      // Every mode plain over two inputs; each option set and the encrypted image on some of them.
      const cases: [string, string, string, boolean][] = [
        ...['off', 'metadata', 'falloc', 'full', 'raw'].flatMap((m): [string, string, string, boolean][] =>
          [['plain.raw', '', m, false], ['top.qcow2', '', m, false]]),
        ['ext.qcow2', 'extended_l2=on,', 'off', false], ['ext.qcow2', 'extended_l2=on,', 'metadata', false],
        ['top.qcow2', 'cluster_size=4k,', 'off', false], ['plain.raw', 'cluster_size=4k,', 'raw', false],
        ['plain.raw', '', 'off', true], ['top.qcow2', 'extended_l2=on,', 'off', true],
        ['plain.raw', '', 'full', true], ['top.qcow2', '', 'raw', true],
      ];
      for (const [input, opt, mode, encrypted] of cases) {
        const o = (df: string) => [...SECRET, '-O', 'qcow2', '-o',
          `${opt}data_file=${df},${mode === 'raw' ? 'data_file_raw=on' : `preallocation=${mode}`}` +
          (encrypted ? `,${ENC}` : ''), input];
        const what = `${input} -o ${opt}${mode}${encrypted ? ' encrypted' : ''}`;
        ok('qemu-img', dir, 'convert', ...o('qemu.data'), 'qemu.qcow2');
        ours(dir, [...o('ours.data'), 'ours.qcow2']);
        const [a, b] = [join(dir, 'qemu.data'), join(dir, 'ours.data')];
        assert.equal(fs.statSync(b).size, fs.statSync(a).size, what);
        if (!encrypted) {
          assert.ok(fs.readFileSync(b).equals(fs.readFileSync(a)), `${what}: data file bytes`);
          // The image's own clusters sit elsewhere without preallocation (ours: tables at the end).
          if (mode !== 'off') {
            const image = (f: string) => fs.readFileSync(join(dir, f)).toString('latin1').replace(/(ours|qemu)\.data/, 'D');
            assert.ok(image('ours.qcow2') === image('qemu.qcow2'), `${what}: image bytes`);
          }
        }
        assert.deepEqual(tables(join(dir, 'ours.qcow2')).l2, tables(join(dir, 'qemu.qcow2')).l2, what);
        checkClean(dir, 'ours.qcow2', encrypted);
        compareIdentical(dir, input, 'ours.qcow2', false, encrypted);
        compareIdentical(dir, 'qemu.qcow2', 'ours.qcow2', encrypted, encrypted);
        assert.deepEqual(info(dir, 'ours.qcow2', encrypted), info(dir, 'qemu.qcow2', encrypted), what);
        const m = (f: string) => map(dir, f, encrypted).replace(/"offset": \d+/g, '');
        assert.equal(m('ours.qcow2'), m('qemu.qcow2'), what);
        sameUsage(a, b, what);
        for (const f of ['ours.qcow2', 'ours.data', 'qemu.qcow2', 'qemu.data']) fs.rmSync(join(dir, f));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

test('a data file is never overwritten without force; a cancelled conversion leaves neither file behind',
  { skip, timeout: 300_000 }, async () => {
    const dir = tmpdir('convert-datafile-safety');
    try {
      makeInputs(dir);
      const convert = async (extra: Partial<ConvertOptions> = {}, mode = 'full') => {
        const source = await openImage('plain.raw', { io: nodeWriterIO(), cwd: dir });
        try {
          const v = planConvertCreate({ format: 'qcow2', filename: 'out.qcow2', options: [`data_file=out.data,preallocation=${mode}`] },
            source, nodeProbeIO(), dir).verdict;
          assert.ok(v.ok && v.spec.format === 'qcow2');
          return await convertImage({ source, target: v.spec }, { io: nodeWriterIO(), cwd: dir, ...extra });
        } finally {
          await source.close();
        }
      };
      fs.writeFileSync(join(dir, 'out.data'), 'keep me');
      const before = fs.readdirSync(dir).sort();
      await assert.rejects(convert(), (e: unknown) => e instanceof WriterError && e.code === 'exists' &&
        /data file 'out\.data' exists .*--force/.test(e.message));
      assert.equal(fs.readFileSync(join(dir, 'out.data'), 'utf8'), 'keep me');
      assert.deepEqual(fs.readdirSync(dir).sort(), before);
      const r = await convert({ force: true });
      assert.equal(r.dataFile, join(dir, 'out.data'));
      compareIdentical(dir, 'plain.raw', 'out.qcow2', false, false);
      fs.rmSync(join(dir, 'out.qcow2'));
      fs.rmSync(join(dir, 'out.data'));
      // Cancelled while the data file is being filled: nothing of either file stays.
      for (const mode of ['off', 'full']) {
        const ac = new AbortController();
        let seen = 0;
        const p = convert({ signal: ac.signal, onProgress: (x) => { if (x.phase === 'data' && x.done > 0 && !seen++) ac.abort(); } }, mode);
        await assert.rejects(p, (e: unknown) => e instanceof WriterError && e.code === 'cancelled');
        assert.ok(seen >= 1, `${mode}: cancelled during the copy`);
        assert.deepEqual(fs.readdirSync(dir).sort(), before.filter((f) => f !== 'out.data'), mode);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
