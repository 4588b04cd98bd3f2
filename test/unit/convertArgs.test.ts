// `convert`'s command line read as qemu-img's getopt_long reads it (no tools, the fast unit layer):
// clustered and attached short options, operands before options, abbreviated long
// options, `--name=value`, `--`, and the order of the combination checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConvertRefusal, parseConvertArgs } from '../../server/src/cli/convert';

const noFile = (p: string): Uint8Array => {
  throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
};
const parse = (...argv: string[]) => parseConvertArgs(argv, noFile);
const refusal = (...argv: string[]): string[] => {
  try {
    parse(...argv);
  } catch (e) {
    if (e instanceof ConvertRefusal) return e.lines;
    throw e;
  }
  assert.fail(`accepted: ${argv.join(' ')}`);
};

test('getopt_long as qemu-img: clusters, attached values, permuted operands, long prefixes, --', () => {
  const a = parse('in.qcow2', '-pqcOqcow2', '-o', 'cluster_size=4k', '-o', 'compat=v2', '-S8k', 'out.img', '--ob=secret,id=s,data=x');
  assert.deepEqual([a.progress, a.quiet, a.compressed, a.outFmt, a.outFmtGiven], [true, true, true, 'qcow2', true]);
  assert.deepEqual(a.options, ['cluster_size=4k', 'compat=v2']);
  assert.equal(a.minSparse, 8192);
  assert.deepEqual([a.sources, a.output], [['in.qcow2'], 'out.img']);
  assert.deepEqual(a.objects, [{ id: 's', data: 'x', file: undefined, format: undefined }]);
  const b = parse('-n', '--target-image-opts', '--', '-in', 'driver=raw,file.filename=o');
  assert.deepEqual([b.sources, b.output, b.outFmt, b.skipCreate], [['-in'], 'driver=raw,file.filename=o', undefined, true]);
  const c = parse('a', 'b');
  assert.deepEqual([c.outFmt, c.outFmtGiven, c.minSparse, c.cache, c.srcCache], ['raw', false, 4096, 'unsafe', 'writeback']);
  assert.deepEqual(parse('-m', '0x10', '-W', '-U', '-T', 'none', '-t', 'writeback', 'a', 'b').sources, ['a']);
  assert.equal(parse('-S', '0', 'a', 'b').minSparse, 0);
});

test('the refusals of the command line, with qemu-img\'s words and in its order', () => {
  assert.deepEqual(refusal('-x'), ["qemu-img: unrecognized option '-x'", "Try 'qemu-img --help' for more information"]);
  assert.deepEqual(refusal('a', '-O'), ["qemu-img: missing argument for option '-O'", "Try 'qemu-img --help' for more information"]);
  // A bad --object is reported where it stands, before a later bad option.
  assert.match(refusal('--object', 'secret,id=s', '-x')[0], /Either 'file' or 'data' must be provided/);
  assert.match(refusal('--object', 'secret,id=s,file=nope', 'a', 'b')[0], /^qemu-img: Unable to read nope: /);
  // The combinations come after the whole line, in img_convert's order.
  assert.deepEqual(refusal('-C', '-c', '--target-image-opts', 'a', 'b'), ['qemu-img: Cannot enable copy offloading when -c is used']);
  assert.deepEqual(refusal('-o', 'x=1', '--target-image-opts', 'a', 'b'), ['qemu-img: --target-image-opts requires use of -n flag']);
  assert.deepEqual(refusal('-n', '-o', 'x=1', 'a', 'b'), ['qemu-img: -o has no effect when skipping image creation']);
  assert.deepEqual(refusal('-T', 'bogus'), ['qemu-img: Must specify image file name']);
  assert.deepEqual(refusal('-T', 'bogus', 'a', 'b'), ['qemu-img: Invalid source cache option: bogus']);
  assert.equal(refusal('-S', '1000', 'a', 'b').length, 1);
  assert.equal(refusal('-S', '1x', 'a', 'b').length, 2);
  assert.match(refusal('--salvage', 'a', 'b')[0], /--salvage/);
  assert.match(refusal('--bitmaps', 'a', 'b')[0], /--bitmaps/);
  assert.equal(refusal('--skip-broken-bitmaps', 'a', 'b')[0], 'qemu-img: --skip-broken-bitmaps requires --bitmaps');
  // -o help needs a format only with --target-image-opts (otherwise -O defaults to raw).
  assert.equal(parse('-o', 'help').help, true);
  assert.deepEqual(refusal('-n', '--target-image-opts', '-o', 'help'), ['qemu-img: -o has no effect when skipping image creation']);
});

test('-l (internal snapshots), -r (rate), several inputs and --target-is-zero as qemu-img reads them', () => {
  // -l NAME: an id, else a name; -l snapshot.*: QemuOpts with snapshot.id / snapshot.name, which win over -l NAME.
  assert.deepEqual(parse('-l', 'first', 'a', 'b').snapshot, { idOrName: 'first' });
  assert.deepEqual(parse('-l', 'snapshot.id=1,snapshot.name=x', 'a', 'b').snapshot, { id: '1', name: 'x' });
  assert.deepEqual(parse('-l', 'snapshot.name=x', '-l', 'y', 'a', 'b').snapshot, { name: 'x' });
  assert.deepEqual(refusal('-l', 'snapshot.foo=1', 'a', 'b'), [
    "qemu-img: Invalid parameter 'snapshot.foo'",
    "qemu-img: Failed in parsing snapshot param 'snapshot.foo=1'",
  ]);
  // -r: qemu's size suffixes, bytes per second.
  assert.equal(parse('-r', '2M', 'a', 'b').rateLimit, 2 * 1024 * 1024);
  assert.equal(parse('-r', '1500', 'a', 'b').rateLimit, 1500);
  // Every operand but the last is an input, concatenated in order.
  assert.deepEqual(parse('a', 'b', 'c', 'out').sources, ['a', 'b', 'c']);
  assert.equal(parse('-n', '--target-is-zero', 'a', 'b').targetIsZero, true);
  assert.deepEqual(refusal('--target-is-zero', 'a', 'b'), ['qemu-img: --target-is-zero requires use of -n flag']);
});
