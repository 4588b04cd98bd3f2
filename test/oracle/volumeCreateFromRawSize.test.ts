// vol-create-from raw → raw with sizes that are no multiple of 512 (issue 13), against the real
// libvirt storage driver of a session libvirtd: libvirt copies the bytes itself (storage_util.c
// createRawFile: ftruncate to the capacity in bytes, the input file's bytes copied), so its file
// is exactly <capacity> long (raised to the input's length when smaller), where qemu-img would
// round up to whole sectors. For each case the daemon makes the input volume, qemu-io writes data
// into it (the last partial sector included), `virsh vol-create-from` makes libvirt's volume, and
// `create VOLUME.xml --from INPUT` makes ours from a copy of the same input: same length, same
// bytes, no qemu-img run by libvirt, and ours at most as allocated as libvirt's sparse copy.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIBVIRT_VERSION, SessionLibvirt } from './libvirt';
import { runCreate } from '../../server/src/cli/create';
import { runOracle } from '../helpers/oracle';

interface Case {
  name: string;
  /** The input volume's capacity in bytes. */
  input: number;
  /** The output's <capacity>/<allocation> elements (in bytes). */
  sizes: string;
  /** libvirt allocates the file (allocation ≥ the input's capacity): compared as allocated, not sparse. */
  allocated?: boolean;
}
const bytes = (n: number) => `<capacity unit='bytes'>${n}</capacity>`;
const ODD = 1_000_001;
const CASES: Case[] = [
  { name: 'odd_nocap', input: ODD, sizes: '' },
  { name: 'odd_between', input: ODD, sizes: `${bytes(ODD + 99)}<allocation>0</allocation>` },
  { name: 'odd_small', input: ODD, sizes: bytes(1000) },
  { name: 'odd_bigger', input: ODD, sizes: `${bytes(3_000_007)}<allocation>0</allocation>` },
  { name: 'odd_alloc', input: ODD, sizes: bytes(3_000_007), allocated: true },
  { name: 'even_odd', input: 2 ** 20, sizes: `${bytes(2 ** 20 + 1000)}<allocation>0</allocation>` },
];

const volumeXml = (name: string, sizes: string) =>
  `<volume><name>${name}</name>${sizes}<target><format type='raw'/></target></volume>`;

/** Data at several offsets and in the last (partial) sector, written by qemu-io; holes between. */
function fill(path: string, size: number): void {
  const tail = size - (size % 512 || 512);
  for (const cmd of ['write -P 0x5a 0 64k', 'write -P 0xa5 512k 4k', `write -P 0x77 ${tail} ${size - tail}`]) {
    const r = runOracle('qemu-io', ['-f', 'raw', path, '-c', cmd]);
    assert.equal(r.status, 0, `qemu-io ${cmd}: ${r.stderr}`);
  }
  assert.equal(statSync(path).size, size, 'qemu-io kept the input file\'s length');
}

let s: SessionLibvirt;
let dir: string;
before(async () => {
  s = await SessionLibvirt.start();
  dir = mkdtempSync(join(tmpdir(), 'lv-from-rawsize-'));
}, { timeout: 120_000 });
after(async () => {
  await s?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

for (const c of CASES) {
  test(`raw → raw ${c.name}: create --from makes libvirt's length and bytes`, { timeout: 300_000 }, async () => {
    const inName = `${c.name}_in`;
    const inCopy = join(dir, inName);
    const theirs = join(dir, `${c.name}.libvirt`);
    const r = await s.createVolumeFromRecorded(volumeXml(inName, bytes(c.input)), volumeXml(c.name, c.sizes), {
      fill: (p) => {
        fill(p, c.input);
        copyFileSync(p, inCopy);
      },
      inspect: (out) => copyFileSync(out, theirs),
    });
    assert.ok(r.ok, `libvirt's vol-create-from: ${r.message}`);
    assert.deepEqual(r.runs, [], 'libvirt copies raw to raw itself: no qemu-img');

    const doc = join(dir, `${c.name}.xml`);
    writeFileSync(doc, volumeXml(c.name, c.sizes));
    const mine = join(dir, `${c.name}.ours`);
    let log = '';
    const io = { out: (x: string) => { log += x; }, err: (x: string) => { log += x; }, cwd: dir, isTTY: false };
    const status = await runCreate([doc, '--from', inCopy, '--output', mine, '--libvirt-version', LIBVIRT_VERSION], io);
    assert.equal(status, 0, log);
    const theirSize = statSync(theirs).size;
    assert.match(log, new RegExp(`libvirt copies the bytes itself\\) .* ${theirSize} bytes`), log);
    assert.equal(statSync(mine).size, theirSize, `${c.name}: the file's length is libvirt's`);
    assert.ok(readFileSync(mine).equals(readFileSync(theirs)), `${c.name}: the bytes are libvirt's`);
    const blocks = (p: string) => statSync(p).blocks;
    if (c.allocated) assert.ok(blocks(mine) * 512 >= theirSize, `${c.name}: allocated as libvirt's (${blocks(mine)} blocks)`);
    else assert.ok(blocks(mine) <= blocks(theirs), `${c.name}: ${blocks(mine)} blocks, libvirt's ${blocks(theirs)}`);
    console.log(`# ${c.name}: input ${c.input} bytes → ${theirSize} bytes; blocks ours ${blocks(mine)}, libvirt ${blocks(theirs)}`);
  });
}
