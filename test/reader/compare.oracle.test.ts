// `libvirt-volume compare` next to `qemu-img compare` on the same pairs of images (made by
// qemu-img and qemu-io): the same line on stdout ("Images are identical." / "Content mismatch at
// offset N!" / the size lines) and the same exit code, encrypted sides included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { io, ok, run as oracleRun, skip, tmpdir } from './oracle';

const QEMU_IMG = 'qemu-img';

const root = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
const CLI = join(root, 'bin', 'libvirt-volume.js');
const SECRET = ['--object', 'secret,id=s,data=pw-compare'];

function ours(dir: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [CLI, 'compare', ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function agree(dir: string, args: string[], expected: number): string {
  const q = oracleRun(QEMU_IMG, dir, ['compare', ...args]);
  const o = ours(dir, args);
  assert.equal(q.status, expected, `qemu-img compare ${args.join(' ')}: ${q.stdout}${q.stderr}`);
  assert.equal(o.status, q.status, `compare ${args.join(' ')}: exit ${o.status}, qemu-img ${q.status}\n${o.stdout}${o.stderr}`);
  assert.equal(o.stdout, q.stdout, `compare ${args.join(' ')}`);
  return o.stdout;
}

test('compare agrees with qemu-img compare: identical, first differing sector, sizes, chains, strict size',
  { skip, timeout: 300_000 }, () => {
    const dir = tmpdir('compare');
    try {
      const img = (...a: string[]) => ok('qemu-img', dir, 'create', '-q', ...a);
      img('-f', 'qcow2', 'a.qcow2', '6M');
      io(dir, 'a.qcow2', ['write -P 0x41 0 1M', 'write -P 0x42 2M 1M', 'write -z 4M 64k', 'write -c -P 0x43 5M 64k']);
      ok('qemu-img', dir, 'convert', '-O', 'raw', 'a.qcow2', 'a.raw');
      ok('qemu-img', dir, 'convert', '-c', '-O', 'qcow2', '-o', 'compression_type=zstd', 'a.qcow2', 'a-zstd.qcow2');
      const variant = (name: string, cmds: string[]) => { fs.copyFileSync(join(dir, 'a.qcow2'), join(dir, name)); io(dir, name, cmds); };
      variant('byte1000.qcow2', ['write -P 0x01 1000 1']);
      variant('late.qcow2', ['write -P 0x02 2097157 1']);
      variant('inhole.qcow2', ['write -P 0x03 3146444 1']); // a hole in a.qcow2: the check_empty_sectors path
      variant('zeroed.qcow2', ['write -z 2M 4k']);
      fs.copyFileSync(join(dir, 'a.qcow2'), join(dir, 'big.qcow2'));
      ok('qemu-img', dir, 'resize', '-q', 'big.qcow2', '8M');
      fs.copyFileSync(join(dir, 'big.qcow2'), join(dir, 'bigtail.qcow2'));
      io(dir, 'bigtail.qcow2', ['write -P 0x04 7340037 3']);
      // A 3-deep chain against its flattened copy.
      img('-f', 'qcow2', '-b', 'a.raw', '-F', 'raw', 'mid.qcow2', '6M');
      io(dir, 'mid.qcow2', ['write -P 0x51 100k 10k', 'write -z 2M 512']);
      img('-f', 'qcow2', '-b', 'mid.qcow2', '-F', 'qcow2', 'top.qcow2', '6M');
      io(dir, 'top.qcow2', ['write -P 0x52 3M 5k']);
      ok('qemu-img', dir, 'convert', '-O', 'qcow2', 'top.qcow2', 'flat.qcow2');

      for (const [a, b] of [['a.qcow2', 'a.raw'], ['a.raw', 'a-zstd.qcow2'], ['a.qcow2', 'a.qcow2'], ['top.qcow2', 'flat.qcow2'],
        ['a.qcow2', 'big.qcow2'], ['big.qcow2', 'a.raw']]) {
        assert.match(agree(dir, [a, b], 0), /Images are identical\.\n$/);
      }
      for (const [a, b] of [['a.qcow2', 'byte1000.qcow2'], ['late.qcow2', 'a.raw'], ['a.qcow2', 'inhole.qcow2'],
        ['zeroed.qcow2', 'a-zstd.qcow2'], ['bigtail.qcow2', 'a.qcow2'], ['top.qcow2', 'a.raw']]) {
        assert.match(agree(dir, [a, b], 1), /Content mismatch at offset \d+!\n$/);
      }
      // -F raw reads the second qcow2 file's own bytes: its header differs at once.
      assert.equal(agree(dir, ['-f', 'qcow2', '-F', 'raw', 'a.qcow2', 'byte1000.qcow2'], 1), 'Content mismatch at offset 0!\n');
      assert.equal(agree(dir, ['-s', 'a.qcow2', 'big.qcow2'], 1), 'Strict mode: Image size mismatch!\n');
      assert.equal(agree(dir, ['-s', 'a.qcow2', 'a.qcow2'], 0), 'Images are identical.\n');
      assert.equal(agree(dir, ['-q', 'a.qcow2', 'byte1000.qcow2'], 1), '');
      // -p: qemu's "\r"-ended updates (their steps depend on its chunking), the verdict and a newline.
      for (const [pair, code] of [[['a.qcow2', 'a.raw'], 0], [['a.qcow2', 'byte1000.qcow2'], 1]] as const) {
        const q = oracleRun(QEMU_IMG, dir, ['compare', '-p', ...pair]);
        const o = ours(dir, ['-p', ...pair]);
        assert.equal(o.status, code);
        assert.equal(q.status, code);
        const verdict = (s: string) => s.replace(/ {4}\(\d+\.\d\d\/100%\)\r/g, '');
        assert.equal(verdict(o.stdout), verdict(q.stdout));
        assert.equal(o.stdout.includes('(100.00/100%)'), q.stdout.includes('(100.00/100%)'));
      }
      // Errors: a missing image, a format that does not match (exit 2, stderr names the file).
      agree(dir, ['a.qcow2', 'missing.qcow2'], 2);
      assert.match(ours(dir, ['a.qcow2', 'missing.qcow2']).stderr, /missing\.qcow2/);
      agree(dir, ['-F', 'qcow2', 'a.qcow2', 'a.raw'], 2);
      agree(dir, ['-f', 'qcow2', '--image-opts', 'driver=qcow2,file.filename=a.qcow2', 'a.raw'], 2);
      agree(dir, ['a.qcow2'], 1);
      // A corrupt image (the file ends inside an L2 table): exit 3 naming the table and its offset,
      // where qemu-img 7.2 reads zeros and answers on the content.
      const b = fs.readFileSync(join(dir, 'a.qcow2'));
      const l2 = Number(b.readBigUInt64BE(Number(b.readBigUInt64BE(40))) & 0x00fffffffffffe00n);
      fs.writeFileSync(join(dir, 'cut.qcow2'), b.subarray(0, l2 + 8));
      const cut = ours(dir, ['cut.qcow2', 'a.raw']);
      assert.equal(cut.status, 3, cut.stderr);
      assert.match(cut.stderr, new RegExp(`cut\\.qcow2: L2 table .* at offset ${l2} .*past the end of the file`));
      assert.equal(cut.stdout, '');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

test('compare with encrypted sides: --object/--image-opts as qemu-img, or --passphrase-*; wrong passphrase exits 2',
  { skip, timeout: 300_000 }, () => {
    const dir = tmpdir('compare-luks');
    try {
      ok('qemu-img', dir, 'create', '-q', '-f', 'luks', ...SECRET, '-o', 'key-secret=s,iter-time=10,cipher-alg=serpent-256', 'l.luks', '3M');
      io(dir, 'driver=luks,key-secret=s,file.filename=l.luks', ['write -P 0x61 7 100000', 'write -P 0x62 2M 4k'], [...SECRET, '--image-opts']);
      ok('qemu-img', dir, 'create', '-q', '-f', 'qcow2', ...SECRET, '-o', 'encrypt.format=luks,encrypt.key-secret=s,encrypt.iter-time=10',
        'e.qcow2', '3M');
      const lo = 'driver=luks,key-secret=s,file.filename=l.luks';
      const eo = 'driver=qcow2,encrypt.key-secret=s,file.filename=e.qcow2';
      ok('qemu-img', dir, 'convert', ...SECRET, '--image-opts', lo, '-O', 'raw', 'plain.raw');
      ok('qemu-img', dir, 'convert', '-n', ...SECRET, '-f', 'raw', 'plain.raw', '--target-image-opts', eo);
      fs.copyFileSync(join(dir, 'plain.raw'), join(dir, 'other.raw'));
      io(dir, 'other.raw', ['write -P 0x63 2M 1'], ['-f', 'raw']);

      assert.match(agree(dir, [...SECRET, '--image-opts', lo, eo], 0), /identical/);
      assert.match(agree(dir, [...SECRET, '--image-opts', lo, 'driver=raw,file.filename=plain.raw'], 0), /identical/);
      assert.equal(agree(dir, [...SECRET, '--image-opts', eo, 'driver=raw,file.filename=other.raw'], 1),
        'Content mismatch at offset 2097152!\n');
      // qemu-img needs a key-secret; ours also takes the passphrase from a file or the environment.
      fs.writeFileSync(join(dir, 'pw.txt'), 'pw-compare');
      for (const args of [['--passphrase-file', 'pw.txt'], ['--passphrase-env', 'LV_PW']]) {
        const r = ours(dir, [...args, 'l.luks', 'e.qcow2'], { LV_PW: 'pw-compare' });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, 'Images are identical.\n');
      }
      const viaStdin = spawnSync(process.execPath, [CLI, 'compare', '--passphrase-stdin', 'l.luks', 'other.raw'],
        { cwd: dir, encoding: 'utf8', input: 'pw-compare\n' });
      assert.equal(viaStdin.status, 1, viaStdin.stderr);
      assert.equal(viaStdin.stdout, 'Content mismatch at offset 2097152!\n');
      // Wrong passphrase, missing key: exit 2 with qemu's message, naming the image.
      const wrong = ['--object', 'secret,id=s,data=nope', '--image-opts', lo, 'driver=raw,file.filename=plain.raw'];
      agree(dir, wrong, 2);
      assert.match(ours(dir, wrong).stderr, /Invalid password, cannot unlock any keyslot/);
      agree(dir, ['l.luks', 'plain.raw'], 2);
      assert.match(ours(dir, ['l.luks', 'plain.raw']).stderr, /l\.luks.*key-secret' is required for cipher/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
