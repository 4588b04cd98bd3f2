// Completion offers exactly the LUKS values qemu-img 7.2 accepts: every cipher name × size × mode
// and essiv hash it offers creates an image; every QAPI value it leaves out is refused (or, for
// 192-bit keys outside xts, makes qemu-img abort — docs/rules.md: cipher-qemu-abort). The passphrase goes through a
// file, never the command line.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labels } from '../helpers/cursor';
import { CIPHERS, CIPHER_MODES, HASHES } from '../../schemas/vocabulary';
import { qemuImgAsync } from '../helpers/oracle';

const dir = mkdtempSync(join(tmpdir(), 'lv-complete-qemu-'));
const pw = join(dir, 'pw');
writeFileSync(pw, 'pw', { mode: 0o600 });
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
let active = 0;
const queue: Array<() => void> = [];
/** qemu-img create -f luks with these options; resolves to [ok, message]. Two at a time (2 cores). */
async function qemuLuks(opts: Record<string, string>): Promise<[boolean, string]> {
  if (active >= 2) await new Promise<void>((r) => queue.push(r));
  active++;
  try {
    const file = join(dir, `img${++n}.luks`);
    const o = ['key-secret=sec0', 'iter-time=10', ...Object.entries(opts).map(([k, v]) => `${k}=${v}`)].join(',');
    const r = await qemuImgAsync(['create', '-q', '-f', 'luks', '--object', `secret,id=sec0,file=${pw}`, '-o', o, file, '1M'], { timeout: 60_000 });
    rmSync(file, { force: true });
    return [r.status === 0, r.stderr.trim()];
  } finally {
    active--;
    queue.shift()?.();
  }
}

const enc = (inner: string) => `<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n  <target>\n    <format type='raw'/>\n    <encryption format='luks'>\n      <secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/>\n      ${inner}\n    </encryption>\n  </target>\n</volume>`;

test('cipher name × size × mode: offered ⇔ qemu-img accepts', async () => {
  const names = labels(enc(`<cipher name='|'/>`));
  assert.deepEqual(names.sort(), CIPHERS.map((c) => c.name).sort());
  const jobs: Array<Promise<string | undefined>> = [];
  let accepted = 0, refused = 0;
  for (const name of names) {
    for (const size of ['128', '192', '256']) {
      for (const mode of CIPHER_MODES.map((m) => m.value)) {
        const sizes = labels(enc(`<cipher name='${name}' size='|' mode='${mode}' hash='sha256'/>`));
        const modes = labels(enc(`<cipher name='${name}' size='${size}' mode='|' hash='sha256'/>`));
        const offered = sizes.includes(size) && modes.includes(mode);
        // Keep the run short: an accepted combination costs qemu's PBKDF benchmark (~2 s), so the
        // accepted side runs every size in the family's first mode and every mode with aes-256
        // and cast5-128; the refused side runs in full (refusals are immediate).
        const firstMode = modes.length && labels(enc(`<cipher name='${name}' size='${size}' mode='|' hash='sha256'/>`))[0];
        if (offered && mode !== firstMode && !(name === 'aes' && size === '256') && name !== 'cast5') continue;
        jobs.push(qemuLuks({ 'cipher-alg': `${name}-${size}`, 'cipher-mode': mode }).then(([ok, msg]) => {
          if (ok) accepted++; else refused++;
          return ok === offered ? undefined : `${name}-${size} ${mode}: offered=${offered} qemu=${ok ? 'accepts' : msg || 'fails'}`;
        }));
      }
    }
  }
  const mismatches = (await Promise.all(jobs)).filter(Boolean);
  assert.deepEqual(mismatches, []);
  assert.ok(accepted >= 15 && refused >= 10, `accepted ${accepted}, refused ${refused}`);
});

test('essiv hashes: offered ⇔ the digest keys a cipher of the family', async () => {
  const jobs: Array<Promise<string | undefined>> = [];
  for (const [alg, mode] of [['aes-128', 'cbc'], ['twofish-256', 'cbc'], ['cast5-128', 'cbc']]) {
    const [name, size] = alg.split('-');
    const offered = labels(enc(`<cipher name='${name}' size='${size}' mode='${mode}' hash='sha256'/>\n      <ivgen name='essiv' hash='|'/>`));
    for (const h of HASHES.map((x) => x.value)) {
      const want = offered.includes(h);
      jobs.push(qemuLuks({ 'cipher-alg': alg, 'cipher-mode': mode, 'ivgen-alg': 'essiv', 'ivgen-hash-alg': h }).then(([ok, msg]) =>
        ok === want ? undefined : `${alg} essiv:${h}: offered=${want} qemu=${ok ? 'accepts' : msg}`));
    }
  }
  assert.deepEqual((await Promise.all(jobs)).filter(Boolean), []);
});

test('every offered ivgen name and PBKDF hash is accepted', async () => {
  const ivgens = labels(enc(`<cipher name='aes' size='256' mode='xts' hash='sha256'/>\n      <ivgen name='|'/>`));
  const hashes = labels(enc(`<cipher name='aes' size='256' mode='xts' hash='|'/>`));
  assert.deepEqual(ivgens.sort(), ['essiv', 'plain', 'plain64']);
  assert.equal(hashes.length, 7);
  // One image per hash, cycling through the ivgens (each run costs a PBKDF benchmark).
  const results = await Promise.all(hashes.map((h, i) => qemuLuks({ 'hash-alg': h, 'ivgen-alg': ivgens[i % ivgens.length] })
    .then(([ok, m]) => (ok ? undefined : `hash ${h} ivgen ${ivgens[i % ivgens.length]}: ${m}`))));
  assert.deepEqual(results.filter(Boolean), []);
});
