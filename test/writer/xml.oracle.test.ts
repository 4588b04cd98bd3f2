// `libvirt-volume create VOLUME.xml`: the image a libvirt <volume> describes, mapped to qemu-img
// options as libvirt's storage driver maps them (storage_util.c), byte-identical to what
// qemu-img makes from that mapping; documents libvirt refuses are refused with the diagnostics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { runCreate } from '../../server/src/cli/create';
import { qemuImgInfo, qemuImgSkip, runOracle } from '../helpers/oracle';

const skip = qemuImgSkip();

const vol = (target: string, extra = '') => `<volume>
  <name>v.img</name>
  <capacity unit='M'>20</capacity>
  <allocation>0</allocation>
  ${extra}
  <target>${target}</target>
</volume>
`;

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

    // iso is created as libvirt creates it: `qemu-img create -f raw`, a raw image.
    fs.writeFileSync(join(dir, 'iso.xml'), vol("<format type='iso'/>"));
    const iso = await run(['iso.xml', '--output', 'v.iso', '--libvirt-version', '9.0.0']);
    assert.equal(iso.status, 0, iso.err);
    assert.match(iso.out, /# libvirt 9\.0\.0 would run: qemu-img create -f raw v\.iso 20480K\n/);
    const isoInfo = qemuImgInfo(join(dir, 'v.iso'));
    assert.deepEqual([isoInfo.format, isoInfo['virtual-size']], ['raw', 20 * 2 ** 20]);

    // --prealloc-metadata as virsh vol-create's: the storage driver's refusal for a raw volume.
    const pm = await run(['b.xml', '--output', 'pm.img', '--prealloc-metadata']);
    assert.equal(pm.status, 1);
    assert.match(pm.err, /metadata preallocation is not supported for raw volumes/);
    assert.ok(!fs.existsSync(join(dir, 'pm.img')));

    // A format libvirt hands to qemu-img but the writer does not make: the line, then a clear stop.
    fs.writeFileSync(join(dir, 'vmdk.xml'), vol("<format type='vmdk'/>"));
    const vmdk = await run(['vmdk.xml', '--output', 'v.vmdk', '--libvirt-version', '9.0.0']);
    assert.equal(vmdk.status, 1);
    assert.match(vmdk.out, /would run: qemu-img create -f vmdk v\.vmdk 20480K/);
    assert.match(vmdk.err, /writes raw, qcow2, luks images only/);
    assert.ok(!fs.existsSync(join(dir, 'v.vmdk')));

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
