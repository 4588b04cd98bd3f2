// The header reader (writer/probe.ts) against `qemu-img info --output=json` on images qemu-img
// itself made: format, virtual size, cluster size, compat, features, backing file and format,
// data file, encryption and LUKS parameters. Plus `libvirt-volume info` on the same files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { probeImage } from '../../server/src/writer/probe';
import { nodeProbeIO } from '../../server/src/writer/nodeIO';
import { runInfo } from '../../server/src/cli/info';
import { qemuImg, qemuImgSkip } from '../helpers/oracle';

const skip = qemuImgSkip();

function qemu(dir: string, ...args: string[]): void {
  const r = qemuImg(args, { cwd: dir });
  assert.equal(r.status, 0, `qemu-img ${args.join(' ')}: ${r.stderr}`);
}

function info(dir: string, file: string): Record<string, any> {
  const r = qemuImg(['info', '--output=json', file], { cwd: dir });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('probeImage agrees with qemu-img info', { skip, timeout: 120_000 }, async () => {
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'lv-probe-'));
  const S = ['--object', 'secret,id=s,data=pw'];
  try {
    qemu(dir, 'create', '-q', '-f', 'qcow2', 'base.qcow2', '1G');
    qemu(dir, 'create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', '-o', 'lazy_refcounts=on,compression_type=zstd,extended_l2=on', 'top.qcow2');
    qemu(dir, 'create', '-q', '-f', 'qcow2', '-o', 'compat=0.10,cluster_size=4k', 'v2.qcow2', '3G');
    qemu(dir, 'create', '-q', '-f', 'qcow2', '-o', 'data_file=data.raw,data_file_raw=on,refcount_bits=64', 'df.qcow2', '8M');
    qemu(dir, 'create', '-q', '-f', 'qcow2', ...S, '-o', 'encrypt.format=luks,encrypt.key-secret=s,encrypt.iter-time=10,encrypt.cipher-alg=twofish-256,encrypt.hash-alg=sha512', 'enc.qcow2', '16M');
    qemu(dir, 'create', '-q', '-f', 'luks', ...S, '-o', 'key-secret=s,iter-time=10,cipher-mode=cbc,ivgen-alg=essiv', 'raw.luks', '4M');
    for (const f of ['vmdk', 'vdi', 'vpc', 'qed', 'qcow', 'raw']) qemu(dir, 'create', '-q', '-f', f, `x.${f}`, '32M');
    const io = nodeProbeIO();
    const files = ['base.qcow2', 'top.qcow2', 'v2.qcow2', 'df.qcow2', 'enc.qcow2', 'raw.luks', 'x.vmdk', 'x.vdi', 'x.vpc', 'x.qed', 'x.qcow', 'x.raw'];
    for (const f of files) {
      const q = info(dir, f);
      const p = probeImage(io, join(dir, f));
      assert.equal(p.format, q.format, `${f} format`);
      if (q.format !== 'vpc') assert.equal(p.virtualSize, q['virtual-size'], `${f} virtual size`);
      if (q['cluster-size'] !== undefined && ['qcow2', 'qcow', 'qed', 'vdi'].includes(q.format)) assert.equal(p.clusterSize, q['cluster-size'], `${f} cluster size`);
      assert.equal(p.backingFile, q['backing-filename'], `${f} backing file`);
      assert.equal(p.backingFormat, q['backing-filename-format'], `${f} backing format`);
      assert.equal(!!p.encrypted, !!q.encrypted, `${f} encrypted`);
      const spec = q['format-specific']?.data;
      if (q.format === 'qcow2') {
        assert.equal(p.compat, spec.compat, `${f} compat`);
        // qemu-img omits the v3-only fields for compat 0.10 images.
        if (spec.compat === '1.1') {
          assert.equal(p.lazyRefcounts, spec['lazy-refcounts'], `${f} lazy refcounts`);
          assert.equal(p.corrupt, spec.corrupt, `${f} corrupt`);
        }
        assert.equal(p.refcountBits, spec['refcount-bits'], `${f} refcount bits`);
        if (spec['compression-type']) assert.equal(p.compressionType, spec['compression-type'], `${f} compression`);
        if (spec['extended-l2'] !== undefined) assert.equal(p.extendedL2, spec['extended-l2'], `${f} extended l2`);
        assert.equal(p.dataFile, spec['data-file'], `${f} data file`);
        if (spec['data-file-raw'] !== undefined) assert.equal(p.dataFileRaw, spec['data-file-raw']);
      }
      const enc = q.format === 'luks' ? spec : spec?.encrypt;
      if (enc?.format === 'luks' || q.format === 'luks') {
        assert.ok(p.luks, `${f} LUKS header`);
        for (const [ours, theirs] of [['cipherAlg', 'cipher-alg'], ['cipherMode', 'cipher-mode'], ['ivgenAlg', 'ivgen-alg'], ['hashAlg', 'hash-alg'], ['uuid', 'uuid'], ['payloadOffset', 'payload-offset'], ['masterKeyIters', 'master-key-iters']] as const) {
          assert.equal(p.luks![ours], enc[theirs], `${f} ${theirs}`);
        }
        if (enc['ivgen-hash-alg']) assert.equal(p.luks!.ivgenHashAlg, enc['ivgen-hash-alg']);
        assert.deepEqual(p.luks!.slots.map((s) => s.active), enc.slots.map((s: { active: boolean }) => s.active), `${f} slots`);
      }
    }
    let out = '';
    assert.equal(await runInfo([join(dir, 'top.qcow2')], { out: (s) => { out += s; }, err: () => {} }), 0);
    assert.match(out, /backing file: base\.qcow2\n/);
    assert.match(out, /features: compression type, extended L2 entries, lazy refcounts/);
    out = '';
    assert.equal(await runInfo(['--json', join(dir, 'enc.qcow2')], { out: (s) => { out += s; }, err: () => {} }), 0);
    const j = JSON.parse(out);
    assert.equal(j.luks.cipherAlg, 'twofish-256');
    assert.equal(j.encryptFormat, 'luks');
    let err = '';
    assert.equal(await runInfo([join(dir, 'missing')], { out: () => {}, err: (s) => { err += s; } }), 1);
    assert.match(err, /No such file or directory/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
