// Quick fixes and snippets judged by libvirt 9.0 itself:
//  * parse layer (test driver, every fixture): a document libvirt's parser refuses becomes one it
//    accepts once our preferred fixes are applied — whenever every parser-level error has a fix;
//  * creation layer (session libvirtd, real storage driver + qemu-img): encrypted volumes fixed by
//    "use LUKS with a passphrase secret" and the volume/secret snippets are really created.
// The fixes' "new uuid" is pointed at the session's defined secret (injected randomUUID).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { getLanguageService } from '../../server/src/service/languageService';
import { ruleById } from '../../server/src/service/rules';
import type { LanguageSettings } from '../../server/src/service/types';
import { accept, applyEdits } from '../helpers/cursor';
import { cleanupScratch, Limiter, ORACLE_SECRET_UUID, parseDomain, parseVolume, SessionLibvirt } from './libvirt';

const FIXTURES = join(__dirname, '..', 'fixtures');
const SETTINGS: LanguageSettings = { libvirtVersion: '9.0.0', imageChecks: false };
const env = { randomUUID: () => ORACLE_SECRET_UUID, log: (m: string) => { throw new Error(m); } };

/** Applies preferred fixes of error diagnostics (whose layer is in `layers`) until none is left to fix. */
function fixAll(text: string, layers: string[]): { text: string; unfixed: string[]; applied: string[] } {
  const ls = getLanguageService(env);
  ls.configure(SETTINGS);
  const applied: string[] = [];
  for (let round = 0; round < 12; round++) {
    const doc = TextDocument.create('file:///fix.xml', 'xml', round + 1, text);
    const errors = ls.doValidation(doc).filter((d) => d.severity === 1 && layers.includes(ruleById(String(d.code))?.layer ?? ''));
    let done = false;
    for (const d of errors) {
      const action = ls.doCodeActions(doc, d.range, { diagnostics: [d] }).find((a) => a.isPreferred);
      if (!action) continue;
      text = applyEdits(text, action.edit!.changes!['file:///fix.xml']);
      applied.push(`${d.code}: ${action.title}`);
      done = true;
      break;
    }
    if (!done) return { text, unfixed: errors.map((d) => String(d.code)), applied };
  }
  return { text, unfixed: ['(too many rounds)'], applied };
}

let session: SessionLibvirt;
before(async () => { session = await SessionLibvirt.start(); }, { timeout: 120_000 });
after(async () => { await session?.stop(); cleanupScratch(); });

test('parser layer: preferred fixes turn every refused fixture with fixable errors into an accepted one', { timeout: 600_000 }, async (t) => {
  const lim = new Limiter(2);
  const results: Array<{ file: string; verdict: 'accepted' | 'still refused' | 'unfixable' | 'was fine'; detail: string }> = [];
  const jobs: Array<Promise<void>> = [];
  for (const kind of ['volume', 'domain'] as const) {
    const parse = kind === 'volume' ? parseVolume : parseDomain;
    // The test driver runs the parser (and for domains the generic validation), nothing else.
    const layers = kind === 'volume' ? ['PARSE'] : ['PARSE', 'DEF-VAL'];
    for (const f of readdirSync(join(FIXTURES, kind)).filter((x) => x.endsWith('.xml')).sort()) {
      jobs.push(lim.run(async () => {
        const original = readFileSync(join(FIXTURES, kind, f), 'utf8');
        if (/<(volume|domain)[\s>]/.test(original) === false) return;
        const before = await parse(original);
        if (before.ok) { results.push({ file: `${kind}/${f}`, verdict: 'was fine', detail: '' }); return; }
        const fixed = fixAll(original, [...layers, 'SYNTAX']);
        if (!fixed.applied.length || fixed.unfixed.length) { results.push({ file: `${kind}/${f}`, verdict: 'unfixable', detail: fixed.unfixed.join(',') }); return; }
        const afterFix = await parse(fixed.text);
        results.push({ file: `${kind}/${f}`, verdict: afterFix.ok ? 'accepted' : 'still refused', detail: afterFix.ok ? fixed.applied.join('; ') : `${afterFix.message}\n${fixed.applied.join('; ')}\n${fixed.text}` });
      }));
    }
  }
  await Promise.all(jobs);
  const refused = results.filter((r) => r.verdict === 'still refused');
  const accepted = results.filter((r) => r.verdict === 'accepted');
  t.diagnostic(`refused by libvirt and fixed → accepted: ${accepted.length}; still refused: ${refused.length}; no fix for some error: ${results.filter((r) => r.verdict === 'unfixable').length}; accepted already: ${results.filter((r) => r.verdict === 'was fine').length}`);
  assert.deepEqual(refused.map((r) => `${r.file}: ${r.detail}`), []);
  // A floor, so that a change which stops offering fixes cannot pass silently.
  assert.ok(accepted.length >= 40, `only ${accepted.length} fixed fixtures accepted (unfixable: ${results.filter((r) => r.verdict === 'unfixable').map((r) => `${r.file}[${r.detail}]`).join(' ')})`);
});

const vol = (name: string, fmt: string, enc: string) => `<volume>\n  <name>${name}</name>\n  <capacity unit='M'>16</capacity>\n  <target>\n    <format type='${fmt}'/>\n${fmt === 'qcow2' ? '    <compat>1.1</compat>\n' : ''}${enc}\n  </target>\n</volume>\n`;

test('creation layer: encrypted volumes fixed to LUKS are created by the real storage driver', { timeout: 600_000 }, async () => {
  const cases = [
    vol('fixq.qcow2', 'qcow2', `    <encryption format='qcow'>\n      <secret type='passphrase' uuid='${ORACLE_SECRET_UUID}'/>\n    </encryption>`),
    vol('fixr.img', 'raw', `    <encryption format='default'/>`),
    vol('fixs.qcow2', 'qcow2', `    <encryption format='luks'/>`),
    vol('fixt.img', 'raw', `    <encryption format='luks'>\n      <secret type='volume' uuid='${ORACLE_SECRET_UUID}' usage='/x'/>\n    </encryption>`),
  ];
  const out: string[] = [];
  for (const text of cases) {
    const before = await session.createVolume(text);
    assert.equal(before.ok, false, `libvirt should refuse:\n${text}`);
    const fixed = fixAll(text, ['PARSE', 'CREATE', 'QEMU-IMG', 'RNG', 'LINT']);
    const r = await session.createVolume(fixed.text);
    if (!r.ok) out.push(`${r.message}\n${fixed.applied.join('; ')}\n${fixed.text}`);
  }
  assert.deepEqual(out, []);
});

test('snippets: the volume, secret and disk encryption snippets are accepted by libvirt', { timeout: 600_000 }, async () => {
  const u = { randomUUID: () => ORACLE_SECRET_UUID };
  const failures: string[] = [];
  for (const label of ['volume (raw)', 'volume (qcow2)', 'volume (encrypted qcow2)', 'volume (encrypted raw, LUKS)']) {
    // A unique name per snippet and a small size (the snippet's default is 10 GiB).
    const text = accept('|', label, SETTINGS, u).replace('<name>disk.', `<name>snip${label.replace(/\W+/g, '')}.`).replace(/<capacity unit='GiB'>10</, "<capacity unit='MiB'>16<");
    const r = await session.createVolume(text);
    if (!r.ok) failures.push(`${label}: ${r.message}\n${text}`);
  }
  const secret = accept('|', 'secret (volume passphrase)', SETTINGS, { randomUUID: () => '3e3fce45-4f53-4fa7-bb32-11f34168b82b' });
  const s = await session.defineSecret(secret);
  if (!s.ok) failures.push(`secret: ${s.message}\n${secret}`);
  // The explicit-cipher LUKS block inside a volume target, created for real.
  const withCipher = accept(vol('snipc.img', 'raw', '    |'), 'encryption (LUKS, explicit cipher)', SETTINGS, u);
  const c = await session.createVolume(withCipher);
  if (!c.ok) failures.push(`explicit cipher: ${c.message}\n${withCipher}`);
  // The disk-source snippet in a domain (test driver: parser + generic validation).
  const dom = `<domain type='qemu'>\n  <name>snip</name>\n  <memory>65536</memory>\n  <os><type>hvm</type></os>\n  <devices>\n    <disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n      <source file='/var/lib/libvirt/images/v.qcow2'>|</source>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n  </devices>\n</domain>\n`;
  const d = accept(dom, 'encryption (LUKS)', SETTINGS, u);
  const dv = await parseDomain(d);
  if (!dv.ok) failures.push(`disk snippet: ${dv.message}\n${d}`);
  const dq = await session.defineDomain(d);
  if (!dq.ok) failures.push(`disk snippet (qemu driver): ${dq.message}\n${d}`);
  assert.deepEqual(failures, []);
});
