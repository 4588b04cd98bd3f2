// Image-aware checks and the path hover on real images made by qemu-img 7.2: every warning has a
// fixture that triggers it and one that must not. Each case runs once per environment: the
// oracle's view (`qemu-img info`) and the writer's own header reader (probeImage), so the two
// must agree on every verdict.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { diagnose, extractMarkers } from '../helpers/check';
import { IMAGE_RULES } from '../../server/src/service/rules/image';
import { imageHover } from '../../server/src/service/imageSummary';
import { LineIndex, parseXml } from '../../server/src/service/xmlModel';
import type { ImageFacts, LanguageSettings, ServiceEnvironment } from '../../server/src/service/types';
import { readdirSync } from 'node:fs';
import { makeQemuFixtures, qemuImgEnv, qemuImgFacts, type Fixtures } from './imageFixtures';
import { imageEnvs, probeEnv } from './imageEnvs';

const MINE = new Set([...IMAGE_RULES.map((r) => r.id), 'weak-legacy-qcow-aes']);
const SECRET = `<secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/>`;
const ENC = `<encryption format='luks'>${SECRET}</encryption>`;

const vol = (path: string, fmt: string, extra = '', cap = '<capacity unit="M">64</capacity>', backing = '') =>
  `<volume><name>v</name>${cap}<target><path>${path}</path>${fmt}${extra}</target>${backing}</volume>`;
const disk = (driverType: string, file: string, source = '') =>
  `<domain type='kvm'><name>d</name><devices><disk type='file' device='disk'>${driverType ? `<driver name='qemu' type='${driverType}'/>` : ''}<source file='${file}'>${source}</source><target dev='vda'/></disk></devices></domain>`;

interface Case { name: string; xml: string; codes: string[]; settings?: LanguageSettings }

/** Each check: a triggering fixture, then the ones that must stay silent. */
const CASES: Case[] = [
  // image-format-mismatch
  { name: 'raw declared over qcow2', xml: vol('plain.qcow2', `<format type='[[raw]]'/>`), codes: ['image-format-mismatch'] },
  { name: 'raw by default over qcow2 (domain, no <driver type>)', xml: disk('', '[[plain.qcow2]]'), codes: ['image-format-mismatch'] },
  { name: 'qcow2 declared over raw', xml: disk('[[qcow2]]', 'raw.img'), codes: ['image-format-mismatch'] },
  { name: 'qcow2 declared over a LUKS container', xml: vol('luks.img', `<format type='[[qcow2]]'/>`, ENC), codes: ['image-format-mismatch'] },
  { name: 'qcow2 over qcow2', xml: vol('plain.qcow2', `<format type='qcow2'/>`), codes: [] },
  { name: 'qcow2 v2 over qcow2 v2', xml: disk('qcow2', 'v2.qcow2'), codes: [] },
  { name: 'raw over raw', xml: disk('raw', 'raw.img'), codes: [] },
  // image-encryption-undeclared / -unexpected / -kind-mismatch
  { name: 'LUKS container declared raw without <encryption>', xml: vol('[[luks.img]]', `<format type='raw'/>`), codes: ['image-encryption-undeclared'] },
  { name: 'encrypted qcow2 without <encryption>', xml: disk('qcow2', '[[enc.qcow2]]'), codes: ['image-encryption-undeclared'] },
  { name: 'LUKS container as raw + luks', xml: vol('luks.img', `<format type='raw'/>`, ENC), codes: [] },
  { name: 'encrypted qcow2 with source-level luks', xml: disk('qcow2', 'enc.qcow2', ENC), codes: [] },
  { name: '<encryption> over an unencrypted qcow2', xml: vol('plain.qcow2', `<format type='qcow2'/>`, `<encryption format='[[luks]]'>${SECRET}</encryption>`), codes: ['image-encryption-unexpected'] },
  { name: 'luks declared over legacy AES', xml: vol('[[aes.qcow2]]', `<format type='qcow2'/>`, `<encryption format='[[luks]]'>${SECRET}</encryption>`), codes: ['weak-legacy-qcow-aes', 'image-encryption-kind-mismatch'] },
  { name: 'legacy AES declared as qcow: one legacy verdict', xml: vol('aes.qcow2', `<format type='qcow2'/>`, `<encryption format='[[qcow]]'>${SECRET}</encryption>`), codes: ['weak-legacy-qcow-aes'] },
  // image-weak-encryption: the header's own cipher choices when the document does not state them
  { name: 'weak LUKS header under a domain disk', xml: disk('raw', '[[[[weak.luks]]]]', ENC), codes: ['image-weak-encryption', 'image-weak-encryption'] },
  { name: 'default LUKS header under a domain disk', xml: disk('raw', 'luks.img', ENC), codes: [] },
  { name: 'weak LUKS header, cipher stated in the volume (the <cipher> lint speaks instead)', xml: vol('weak.luks', `<format type='raw'/>`, `<encryption format='luks'>${SECRET}<cipher name='aes' size='128' mode='cbc' hash='sha1'/><ivgen name='plain64'/></encryption>`), codes: [] },
  // image-capacity-smaller
  { name: 'capacity below the virtual size', xml: vol('plain.qcow2', `<format type='qcow2'/>`, '', '<capacity unit="M">[[32]]</capacity>'), codes: ['image-capacity-smaller'] },
  { name: 'capacity equal to the virtual size', xml: vol('plain.qcow2', `<format type='qcow2'/>`, '', '<capacity unit="M">64</capacity>'), codes: [] },
  // image-backing-format-mismatch
  { name: 'volume backing store declared raw over qcow2', xml: vol('new.qcow2', `<format type='qcow2'/>`, '', undefined, `<backingStore><path>base.qcow2</path><format type='[[raw]]'/></backingStore>`), codes: ['image-backing-format-mismatch'] },
  { name: 'volume backing store qcow2 over qcow2', xml: vol('new.qcow2', `<format type='qcow2'/>`, '', undefined, `<backingStore><path>base.qcow2</path><format type='qcow2'/></backingStore>`), codes: [] },
  { name: 'header backing format raw over a qcow2 backing file', xml: disk('qcow2', '[[top-wrongfmt.qcow2]]'), codes: ['image-backing-format-mismatch'] },
  { name: 'header backing formats right', xml: disk('qcow2', 'top.qcow2'), codes: [] },
  { name: 'raw backing file declared raw', xml: disk('qcow2', 'top-raw.qcow2'), codes: [] },
  // image-backing-format-missing
  { name: 'backing file without a recorded format, itself backed (libvirt refuses)', xml: disk('qcow2', '[[nofmt2.qcow2]]'), codes: ['image-backing-format-missing'] },
  { name: 'backing file without a recorded format, not backed (libvirt probes)', xml: disk('qcow2', '[[nofmt.qcow2]]'), codes: ['image-backing-format-probed'] },
  // image-backing-loop
  { name: 'backing chain loop', xml: disk('qcow2', '[[loop-a.qcow2]]'), codes: ['image-backing-loop'] },
  { name: 'three-layer chain', xml: disk('qcow2', 'top2.qcow2'), codes: [] },
  // No file, no finding; the setting turns everything off.
  { name: 'missing file', xml: vol('gone.qcow2', `<format type='raw'/>`), codes: [] },
  { name: 'imageChecks off', xml: vol('plain.qcow2', `<format type='raw'/>`), codes: [], settings: { imageChecks: false } },
];

let fx: Fixtures;
before(() => { fx = makeQemuFixtures(); });
after(() => fx?.cleanup());

function run(env: ServiceEnvironment, c: Case, absolute: boolean): Array<[string, string]> {
  let { text } = extractMarkers(c.xml);
  const uri = pathToFileURL(join(fx.dir, 'doc.xml')).href;
  if (absolute) text = text.replace(/(<path>|file=')([a-z0-9.-]+\.(?:img|qcow2|raw|luks))/g, (_, p: string, f: string) => p + join(fx.dir, f));
  const doc = TextDocument.create(uri, 'xml', 1, text);
  return diagnose(text, c.settings ?? {}, env, uri)
    .filter((d) => MINE.has(String(d.code)))
    .map((d) => [String(d.code), text.slice(doc.offsetAt(d.range.start), doc.offsetAt(d.range.end))] as [string, string]);
}

for (const [envName, getEnv] of [['qemu-img info', () => qemuImgEnv] as const, ...imageEnvs()]) {
  describe(`image checks via ${envName}`, () => {
    for (const c of CASES) {
      test(`${c.name} → ${c.codes.join(', ') || 'nothing'}`, () => {
        const { text, spans } = extractMarkers(c.xml);
        const want = c.codes.map((code, i) => [code, text.slice(spans[i][0], spans[i][1])] as [string, string]);
        const byPos = (a: [string, string], b: [string, string]) => text.indexOf(a[1]) - text.indexOf(b[1]) || a[0].localeCompare(b[0]);
        assert.deepEqual(run(getEnv(), c, false).sort(byPos), want.sort(byPos));
      });
    }
    test('absolute paths give the same verdicts', () => {
      for (const c of CASES) {
        const rel = run(getEnv(), c, false).map((x) => x[0]).sort();
        const abs = run(getEnv(), c, true).map((x) => x[0]).sort();
        assert.deepEqual(abs, rel, c.name);
      }
    });
    test('hover on a path shows the summary and the chain', () => {
      const text = disk('qcow2', 'top2.qcow2');
      const uri = pathToFileURL(join(fx.dir, 'doc.xml')).href;
      const h = imageHover(parseXml(text), new LineIndex(text), text.indexOf('top2.qcow2') + 2, uri, getEnv(), {});
      assert.ok(h, 'hover expected');
      const md = (h.contents as { value: string }).value;
      assert.match(md, new RegExp(`image: ${join(fx.dir, 'top2.qcow2').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\nfile format: qcow2\\nvirtual size: 1 MiB \\(1048576 bytes\\)`));
      assert.match(md, /cluster_size: 65536\nbacking file: top\.qcow2\nbacking file format: qcow2/);
      assert.match(md, /Backing chain: `top2\.qcow2` \(qcow2\) → `top\.qcow2` \(qcow2\) → `base\.qcow2` \(qcow2\)$/);
      const luksText = vol('weak.luks', `<format type='raw'/>`, ENC);
      const lh = imageHover(parseXml(luksText), new LineIndex(luksText), luksText.indexOf('weak.luks'), uri, getEnv(), {});
      const lmd = (lh!.contents as { value: string }).value;
      assert.match(lmd, /file format: luks/);
      assert.match(lmd, /encrypted: yes/);
      assert.match(lmd, /cipher alg: aes-128\n {4}cipher mode: cbc\n {4}ivgen alg: plain64\n {4}hash alg: sha1\n {4}key slots: 1 active of 8/);
      assert.match(lmd, /⚠ weak encryption: cbc with the predictable ivgen plain64/);
      assert.match(lmd, /⚠ weak encryption: PBKDF2 hash sha1/);
      const loopText = disk('qcow2', 'loop-a.qcow2');
      const loopH = imageHover(parseXml(loopText), new LineIndex(loopText), loopText.indexOf('loop-a'), uri, getEnv(), {});
      assert.match((loopH!.contents as { value: string }).value, /Backing chain: `loop-a\.qcow2` \(qcow2\) → `loop-b\.qcow2` \(qcow2\) → `loop-a\.qcow2` ⚠ loop/);
    });
  });
}

test('the writer\'s header reader agrees with qemu-img info on every fixture', () => {
  const env = probeEnv();
  const KEYS = ['format', 'virtualSize', 'clusterSize', 'compat', 'backingFile', 'backingFormat', 'encrypted', 'encryptFormat'] as const;
  const files = readdirSync(fx.dir).filter((f) => /\.(img|qcow2|raw|luks)$/.test(f));
  assert.ok(files.length >= 15, `fixtures: ${files.length}`);
  for (const f of files) {
    const p = join(fx.dir, f);
    const q = qemuImgFacts(p)!;
    const mine = env.imageFacts!(p, '')!;
    const pick = (x: ImageFacts) => Object.fromEntries(KEYS.map((k) => [k, x[k] ?? (k === 'encrypted' ? false : undefined)]));
    assert.deepEqual(pick(mine), pick(q), f);
    const ql = q.luks;
    if (ql) {
      const ml = mine.luks;
      for (const k of ['cipherAlg', 'cipherMode', 'ivgenAlg', 'hashAlg'] as const) assert.equal(ml?.[k], ql[k], `${f} ${k}`);
    }
  }
});
