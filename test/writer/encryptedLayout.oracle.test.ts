// qcow2 + encrypt.format=luks: the writer's layout hook (crypto header clusters after the other
// metadata, header extension 0x0537be77, crypt_method 2) against qemu-img 7.2. LUKS bytes are
// random (salts, key), so the files are compared outside the LUKS header area only; the LUKS
// content itself is the LUKS writer's (test/luks). qemu-io then opens our image with the passphrase.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { runCreate } from '../../server/src/cli/create';
import { probeImage } from '../../server/src/writer/probe';
import { nodeProbeIO } from '../../server/src/writer/nodeIO';
import { qemuImg, qemuImgSkip } from '../helpers/oracle';

const skip = qemuImgSkip();
const S = ['--object', 'secret,id=s,data=pw'];

for (const extra of ['', ',preallocation=metadata', ',cluster_size=512,compat=0.10']) {
  test(`qcow2+luks layout${extra || ' (defaults)'} matches qemu-img outside the LUKS area`, { skip, timeout: 60_000 }, async () => {
    const dir = fs.mkdtempSync(join(os.tmpdir(), 'lv-enc-'));
    try {
      const opts = `encrypt.format=luks,encrypt.key-secret=s,encrypt.iter-time=10${extra}`;
      const q = qemuImg(['create', '-q', '-f', 'qcow2', ...S, '-o', opts, 'q.qcow2', '32M'], { cwd: dir });
      assert.equal(q.status, 0, q.stderr);
      let err = '';
      const rc = await runCreate(['-q', '-f', 'qcow2', ...S, '-o', opts, 'o.qcow2', '32M'], { out: () => {}, err: (s) => { err += s; }, cwd: dir, isTTY: false });
      assert.equal(rc, 0, err);
      const io = nodeProbeIO();
      const pq = probeImage(io, join(dir, 'q.qcow2')), po = probeImage(io, join(dir, 'o.qcow2'));
      assert.deepEqual(po.cryptoHeader, pq.cryptoHeader);
      assert.equal(po.cryptMethod, 2);
      const a = fs.readFileSync(join(dir, 'q.qcow2')), b = fs.readFileSync(join(dir, 'o.qcow2'));
      assert.equal(b.length, a.length, 'file length');
      const { offset, length } = pq.cryptoHeader!;
      assert.ok(a.subarray(0, offset).equals(b.subarray(0, offset)), 'bytes before the LUKS area');
      assert.ok(a.subarray(offset + length).equals(b.subarray(offset + length)), 'bytes after the LUKS area');
      const rt = spawnSync('qemu-io', [...S, '--image-opts', '-c', 'write -P 0xab 0 64k', '-c', 'read -P 0xab 0 64k', 'driver=qcow2,encrypt.key-secret=s,file.filename=o.qcow2'], { cwd: dir, encoding: 'utf8' });
      assert.equal(rt.status, 0, rt.stderr);
      assert.match(rt.stdout, /read 65536\/65536 bytes/);
      assert.doesNotMatch(rt.stdout, /verification failed/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
