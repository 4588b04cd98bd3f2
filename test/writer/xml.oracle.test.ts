// `libvirt-volume create VOLUME.xml`: the image a libvirt <volume> describes, mapped to qemu-img
// options as libvirt's storage driver maps them (libvirt-rules.md §6.4), byte-identical to what
// qemu-img makes from that mapping; documents libvirt refuses are refused with the diagnostics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { defaultCompat, mapVolumeXml, runCreate } from '../../server/src/cli/create';
import { qemuImgSkip, runOracle } from '../helpers/oracle';

const skip = qemuImgSkip();

const vol = (target: string, extra = '') => `<volume>
  <name>v.img</name>
  <capacity unit='M'>20</capacity>
  <allocation>0</allocation>
  ${extra}
  <target>${target}</target>
</volume>
`;

test('libvirt mapping: compat default by version, features imply 1.1, KiB sizes, backing_fmt raw', () => {
  assert.equal(defaultCompat('9.0.0'), '0.10');
  assert.equal(defaultCompat('10.2.0'), '1.1');
  let m = mapVolumeXml(vol("<format type='qcow2'/>"), 'out.qcow2', '9.0.0', false);
  assert.deepEqual(m.args.options, ['compat=0.10']);
  assert.equal(m.args.size, '20480K');
  m = mapVolumeXml(vol("<format type='qcow2'/><features><lazy_refcounts/></features><clusterSize unit='KiB'>128</clusterSize><nocow/>"), 'o', '9.0.0', false);
  assert.deepEqual(m.args.options, ['nocow=on,compat=1.1,cluster_size=131072,lazy_refcounts']);
  m = mapVolumeXml(vol("<format type='qcow2'/>", "<backingStore><path>/b.img</path></backingStore>"), 'o', '11.3.0', false);
  assert.equal(m.args.backingFile, '/b.img');
  assert.deepEqual(m.args.options, ['backing_fmt=raw,compat=1.1']);
  m = mapVolumeXml(vol("<format type='qcow2'/>").replace('<capacity unit=\'M\'>20</capacity>', '<capacity>1000</capacity>'), 'o', '11.3.0', true);
  assert.equal(m.args.size, '1K', 'capacity rounded up to KiB');
  assert.deepEqual(m.args.options, ['preallocation=metadata,compat=1.1']);
  m = mapVolumeXml(vol("<format type='raw'/>").replace('<allocation>0</allocation>', "<allocation unit='M'>20</allocation>"), 'o', '11.3.0', false);
  assert.deepEqual(m.args.options, ['preallocation=falloc']);
});

test('create VOLUME.xml: same bytes as qemu-img with libvirt\'s arguments; refusals print diagnostics', { skip }, async () => {
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'lv-xml-'));
  try {
    const run = async (args: string[]) => {
      let out = '', err = '';
      const status = await runCreate(args, { out: (s) => { out += s; }, err: (s) => { err += s; }, cwd: dir, isTTY: false });
      return { status, out, err };
    };
    fs.writeFileSync(join(dir, 'a.xml'), vol("<format type='qcow2'/><clusterSize unit='KiB'>256</clusterSize><features><lazy_refcounts/><extended_l2/></features>"));
    const r = await run(['a.xml', '--output', 'ours.qcow2', '--libvirt-version', '9.0.0']);
    assert.equal(r.status, 0, r.err);
    const cmdline = /would run: (qemu-img create .*) ours\.qcow2 (\S+)\n/.exec(r.out);
    assert.ok(cmdline, r.out);
    const q = runOracle('sh', ['-c', `${cmdline[1]} theirs.qcow2 ${cmdline[2]}`], { cwd: dir });
    assert.equal(q.status, 0, q.stderr);
    assert.equal(spawnSync('cmp', ['ours.qcow2', 'theirs.qcow2'], { cwd: dir }).status, 0, 'same bytes as qemu-img');

    // The target path of the document when there is no --output.
    fs.writeFileSync(join(dir, 'b.xml'), vol(`<path>${join(dir, 'b.img')}</path><format type='raw'/>`));
    const b = await run(['b.xml', '-q']);
    assert.equal(b.status, 0, b.err);
    assert.equal(fs.statSync(join(dir, 'b.img')).size, 20 * 2 ** 20);

    // libvirt refuses lazy_refcounts with compat 0.10: the diagnostics, and nothing written.
    fs.writeFileSync(join(dir, 'bad.xml'), vol("<format type='qcow2'/><compat>0.10</compat><features><lazy_refcounts/></features>"));
    const bad = await run(['bad.xml', '--output', 'bad.qcow2']);
    assert.equal(bad.status, 1);
    assert.match(bad.err, /bad\.xml:\d+:\d+: error: .*lazy_refcounts/);
    assert.match(bad.err, /libvirt would refuse this volume/);
    assert.ok(!fs.existsSync(join(dir, 'bad.qcow2')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
