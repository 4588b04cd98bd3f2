// schemas/qcow2Options.ts without tools: qemu's size/number/bool syntax, option splitting, the
// qcow2_co_create rule order, the Formatting line. Expected values are qemu-img 7.2's, measured
// (the matrix in matrix.oracle.test.ts runs the real tool).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkCreate, checkQcow2Rules, compatVersion, maxQcow2Size, parseQemuBool, parseQemuNumber, parseQemuSize,
  validateClusterSize, QEMU_MESSAGES, type Qcow2Values,
} from '../../schemas/qcow2Options';
import { splitQemuOptions } from '../../server/src/common/qemuOpts';

test('qemu_strtosz: suffixes, fractions, hex, rejections', () => {
  const ok = (s: string, v: bigint) => assert.deepEqual(parseQemuSize(s), { ok: true, value: v }, s);
  const bad = (s: string, range = false) => assert.deepEqual(parseQemuSize(s), { ok: false, range }, s);
  ok('0', 0n); ok('1', 1n); ok('1b', 1n); ok('1B', 1n); ok('1k', 1024n); ok('1K', 1024n); ok('64M', 64n << 20n); ok('1G', 1n << 30n);
  ok('2T', 2n << 40n); ok('1P', 1n << 50n); ok('1E', 1n << 60n); ok('1.5G', 3n << 29n); ok('1.5k', 1536n); ok('1.k', 1024n);
  ok('0x100', 256n); ok(' 12', 12n); ok('1.5e', 3n << 59n);
  bad('12Q'); bad('1e3'); bad('-1'); bad(''); bad('k'); bad('1.5'); bad('0x1k'); bad('0x1.5'); bad('1 k'); bad('abc');
  bad('99999999999999999999', true); bad('16E', true);
});

test('QemuOpts numbers and booleans', () => {
  assert.deepEqual(parseQemuNumber('16'), { ok: true, value: 16n });
  assert.deepEqual(parseQemuNumber('0x10'), { ok: true, value: 16n });
  assert.deepEqual(parseQemuNumber('010'), { ok: true, value: 8n });
  assert.deepEqual(parseQemuNumber('abc'), { ok: false, range: false });
  assert.deepEqual(parseQemuNumber('99999999999999999999'), { ok: false, range: true });
  for (const t of ['on', 'yes', 'true', 'y']) assert.equal(parseQemuBool(t), true);
  for (const f of ['off', 'no', 'false', 'n']) assert.equal(parseQemuBool(f), false);
  assert.equal(parseQemuBool('ON'), undefined);
  assert.equal(parseQemuBool('maybe'), undefined);
});

test('option strings: ,, escapes a comma, a bare name means on', () => {
  assert.deepEqual(splitQemuOptions('a=b,,c,d'), [{ name: 'a', value: 'b,c' }, { name: 'd', value: 'on' }]);
  assert.deepEqual(splitQemuOptions('backing_file=x,,y.qcow2,compat=1.1'), [{ name: 'backing_file', value: 'x,y.qcow2' }, { name: 'compat', value: '1.1' }]);
});

test('cluster size, compat and the size limit', () => {
  for (const c of [512, 1024, 4096, 65536, 2 ** 21]) assert.equal(validateClusterSize(c, false), undefined);
  for (const c of [0, 256, 1000, 48 * 1024, 2 ** 22]) assert.equal(validateClusterSize(c, false)?.message, QEMU_MESSAGES.clusterSize);
  assert.equal(validateClusterSize(8192, true)?.message, QEMU_MESSAGES.extL2Cluster);
  assert.equal(validateClusterSize(16384, true), undefined);
  assert.equal(compatVersion(undefined), 3);
  assert.equal(compatVersion('0.10'), 2);
  assert.equal(compatVersion('v3'), 3);
  assert.equal(compatVersion('2.0'), undefined);
  assert.equal(maxQcow2Size(65536, false), 2n ** 51n); // 2 PiB: 32 MiB of L1 entries × 512 MiB
});

const base: Qcow2Values = {
  version: 3, clusterSize: 65536, extendedL2: false, preallocation: 'off', hasBackingFile: false, hasBackingFmt: false,
  lazyRefcounts: false, refcountBits: 16, hasDataFile: false, dataFileRaw: false, compressionType: 'zlib',
};

test('qcow2_co_create rule order: the first violated rule wins', () => {
  const first = (v: Partial<Qcow2Values>) => checkQcow2Rules({ ...base, ...v })?.message;
  assert.equal(first({}), undefined);
  assert.equal(first({ version: 2, extendedL2: true, clusterSize: 1000 }), QEMU_MESSAGES.extL2Compat);
  assert.equal(first({ extendedL2: true, clusterSize: 1000 }), QEMU_MESSAGES.clusterSize);
  assert.equal(first({ version: 2, lazyRefcounts: true, refcountBits: 3 }), QEMU_MESSAGES.lazyCompat);
  assert.equal(first({ hasBackingFmt: true, preallocation: 'metadata' }), QEMU_MESSAGES.backingFmtWithoutFile);
  assert.equal(first({ hasBackingFile: true, preallocation: 'full' }), QEMU_MESSAGES.backingPrealloc);
  assert.equal(first({ hasBackingFile: true, preallocation: 'full', extendedL2: true }), undefined);
  assert.equal(first({ version: 2, refcountBits: 8 }), QEMU_MESSAGES.refcountCompat);
  assert.equal(first({ refcountBits: 128 }), QEMU_MESSAGES.refcountWidth);
  assert.equal(first({ dataFileRaw: true, version: 2 }), QEMU_MESSAGES.dataFileRawNeedsDataFile);
  assert.equal(first({ dataFileRaw: true, hasDataFile: true, hasBackingFile: true }), QEMU_MESSAGES.backingDataFileRaw);
  assert.equal(first({ version: 2, hasDataFile: true, compressionType: 'zstd' }), QEMU_MESSAGES.dataFileCompat);
  assert.equal(first({ version: 2, compressionType: 'zstd' }), QEMU_MESSAGES.compressionCompat);
});

test('checkCreate: stages, prefixes and the Formatting line', () => {
  const v = checkCreate({ format: 'qcow2', filename: 'a.qcow2', size: '1G', options: ['cluster_size=64k', 'compat=0.10'] });
  assert.ok(v.ok);
  assert.equal(v.formatting, "Formatting 'a.qcow2', fmt=qcow2 cluster_size=65536 extended_l2=off compression_type=zlib size=1073741824 compat=0.10 lazy_refcounts=off refcount_bits=16");
  assert.equal(v.spec.version, 2);
  const size = checkCreate({ format: 'qcow2', filename: 'a', size: '12Q' });
  assert.ok(!size.ok);
  assert.deepEqual(size.stderr, ['qemu-img: Invalid image size specified. You may use k, M, G, T, P or E suffixes for', 'qemu-img: kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.']);
  const unknown = checkCreate({ format: 'qcow2', filename: 'a', size: '1G', options: ['foo=bar,compat=2.0'] });
  assert.ok(!unknown.ok);
  assert.deepEqual(unknown.stderr, ["qemu-img: a: Invalid parameter 'foo'"]);
  assert.equal(unknown.formatting, undefined);
  const drv = checkCreate({ format: 'qcow2', filename: 'a', size: '1G', options: ['compat=2.0,preallocation=bogus'] });
  assert.ok(!drv.ok);
  assert.equal(drv.message, "Parameter 'version' does not accept value '2.0'");
  assert.match(drv.formatting ?? '', /^Formatting 'a', fmt=qcow2 .*preallocation=bogus .*compat=2.0/);
  const noFmt = checkCreate({ format: 'qcow2', filename: 'o', backingFile: 'b' }, () => ({ detectedFormat: 'qcow2', length: 1024 }));
  assert.ok(!noFmt.ok);
  assert.deepEqual(noFmt.stderr, ['qemu-img: o: Backing file specified without backing format', 'Detected format of qcow2.']);
  const fromBacking = checkCreate({ format: 'qcow2', filename: 'o', backingFile: 'b', backingFmt: 'qcow2' }, () => ({ detectedFormat: 'qcow2', length: 5 * 2 ** 20 }));
  assert.ok(fromBacking.ok);
  assert.equal(fromBacking.spec.size, 5 * 2 ** 20);
  const dfr = checkCreate({ format: 'qcow2', filename: 'o', size: '1G', options: ['data_file=d,data_file_raw=on'] });
  assert.ok(dfr.ok);
  assert.equal(dfr.spec.preallocation, 'metadata', 'data_file_raw silently means metadata preallocation');
  const rawMeta = checkCreate({ format: 'raw', filename: 'r', size: '1G', options: ['preallocation=metadata'] });
  assert.ok(!rawMeta.ok);
  assert.equal(rawMeta.message, 'Unsupported preallocation mode: metadata');
});

test('the writer touches the file system only through nodeIO.ts (injected I/O)', async () => {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const root = path.join(__dirname, '..', '..', 'server', 'src', 'writer');
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const n of fs.readdirSync(d)) {
      const p = path.join(d, n);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.ts')) files.push(p);
    }
  };
  walk(root);
  assert.ok(files.length >= 5);
  const offenders = files.filter((f) => !f.endsWith('nodeIO.ts') && /from ['"](node:)?fs(\/promises)?['"]|require\(['"](node:)?fs/.test(fs.readFileSync(f, 'utf8')));
  assert.deepEqual(offenders, []);
});
