// Image-aware checks and the path hover against an in-memory environment (fast layer; the real
// images made by qemu-img and by the project's writer are in test/image/).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { diagnose, extractMarkers } from '../helpers/check';
import { IMAGE_RULES } from '../../server/src/service/rules/image';
import type { ImageFacts, LanguageSettings, ServiceEnvironment } from '../../server/src/service/types';
import { imageHover, formatImageSummary } from '../../server/src/service/imageSummary';
import { findImageRefs, ImageReader, resolveImagePath, uriToPath } from '../../server/src/service/imageRefs';
import { LineIndex, parseXml } from '../../server/src/service/xmlModel';

const MINE = new Set([...IMAGE_RULES.map((r) => r.id), 'weak-legacy-qcow-aes']);
const URI = 'file:///vm/docs/t.xml';

function envOf(files: Record<string, ImageFacts>, calls: string[] = []): ServiceEnvironment {
  return { imageFacts: (p) => { calls.push(p); return files[p]; } };
}

function found(marked: string, files: Record<string, ImageFacts>, settings: LanguageSettings = {}): Array<[string, string]> {
  const { text } = extractMarkers(marked);
  const doc = TextDocument.create(URI, 'xml', 1, text);
  return diagnose(text, settings, envOf(files), URI)
    .filter((d) => MINE.has(String(d.code)))
    .map((d) => [String(d.code), text.slice(doc.offsetAt(d.range.start), doc.offsetAt(d.range.end))] as [string, string])
    .sort();
}
function expect(marked: string, files: Record<string, ImageFacts>, codes: string[], settings: LanguageSettings = {}): void {
  const { text, spans } = extractMarkers(marked);
  assert.deepEqual(found(marked, files, settings), codes.map((c, i) => [c, text.slice(spans[i][0], spans[i][1])] as [string, string]).sort());
}
function messages(text: string, files: Record<string, ImageFacts>): string[] {
  return diagnose(text, {}, envOf(files), URI).filter((d) => MINE.has(String(d.code))).map((d) => String(d.message));
}

const QCOW2: ImageFacts = { format: 'qcow2', virtualSize: 1 << 30, clusterSize: 65536, compat: '1.1' };
const RAW: ImageFacts = { format: 'raw', virtualSize: 1 << 20 };
const LUKS: ImageFacts = { format: 'luks', virtualSize: 16 << 20, encrypted: true, encryptFormat: 'luks' };
const QCOW2_LUKS: ImageFacts = { ...QCOW2, encrypted: true, encryptFormat: 'luks' };
const QCOW2_AES: ImageFacts = { ...QCOW2, encrypted: true, encryptFormat: 'aes' };
const SECRET = `<secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/>`;
const vol = (path: string, fmt: string, extra = '', cap = '<capacity unit="G">1</capacity>') =>
  `<volume><name>v</name>${cap}<target><path>${path}</path>${fmt}${extra}</target></volume>`;

test('declared format against the real one', () => {
  expect(vol('/i/a.qcow2', `<format type='[[raw]]'/>`), { '/i/a.qcow2': QCOW2 }, ['image-format-mismatch']);
  expect(vol('[[/i/a.qcow2]]', ''), { '/i/a.qcow2': QCOW2 }, ['image-format-mismatch']);
  expect(vol('/i/a.img', `<format type='[[qcow2]]'/>`), { '/i/a.img': RAW }, ['image-format-mismatch']);
  expect(vol('/i/a.qcow2', `<format type='qcow2'/>`), { '/i/a.qcow2': QCOW2 }, []);
  expect(vol('/i/a.img', `<format type='raw'/>`), { '/i/a.img': RAW }, []);
  expect(vol('/i/a.iso', `<format type='iso'/>`), { '/i/a.iso': RAW }, []);
  const [m] = messages(vol('/i/a.qcow2', `<format type='raw'/>`), { '/i/a.qcow2': QCOW2 });
  assert.match(m, /^declared format 'raw', but a\.qcow2 is a qcow2 image: .*format-probing hazard/);
  // Only pools with file formats have one to compare.
  expect(vol('/i/a.qcow2', ''), { '/i/a.qcow2': QCOW2 }, [], { poolType: 'logical' });
});

test('domain disks: <driver type> (raw when absent) against the file', () => {
  const disk = (drv: string, file: string) => `<domain type='kvm'><devices><disk type='file' device='disk'>${drv}<source file='${file}'/><target dev='vda'/></disk></devices></domain>`;
  expect(disk(`<driver name='qemu' type='[[raw]]'/>`, '/i/a.qcow2'), { '/i/a.qcow2': QCOW2 }, ['image-format-mismatch']);
  expect(disk('', '[[/i/a.qcow2]]'), { '/i/a.qcow2': QCOW2 }, ['image-format-mismatch']);
  expect(disk(`<driver name='qemu' type='qcow2'/>`, '/i/a.qcow2'), { '/i/a.qcow2': QCOW2 }, []);
  // Not a file disk: nothing to read.
  expect(`<disk type='block'><driver name='qemu' type='raw'/><source dev='/i/a.qcow2'/><target dev='vda'/></disk>`, { '/i/a.qcow2': QCOW2 }, []);
});

test('encryption declared against the header', () => {
  expect(vol('[[/i/a.luks]]', `<format type='raw'/>`), { '/i/a.luks': LUKS }, ['image-encryption-undeclared']);
  expect(vol('/i/a.luks', `<format type='raw'/>`, `<encryption format='luks'>${SECRET}</encryption>`), { '/i/a.luks': LUKS }, []);
  expect(vol('[[/i/e.qcow2]]', `<format type='qcow2'/>`), { '/i/e.qcow2': QCOW2_LUKS }, ['image-encryption-undeclared']);
  expect(vol('/i/e.qcow2', `<format type='qcow2'/>`, `<encryption format='luks'>${SECRET}</encryption>`), { '/i/e.qcow2': QCOW2_LUKS }, []);
  expect(vol('/i/p.qcow2', `<format type='qcow2'/>`, `<encryption format='[[luks]]'>${SECRET}</encryption>`), { '/i/p.qcow2': QCOW2 }, ['image-encryption-unexpected']);
  expect(vol('/i/a.luks', `<format type='[[qcow2]]'/>`, `<encryption format='luks'>${SECRET}</encryption>`), { '/i/a.luks': LUKS }, ['image-format-mismatch']);
  // Domain disk with source-level encryption.
  expect(`<disk type='file'><driver name='qemu' type='raw'/><source file='/i/a.luks'><encryption format='luks'>${SECRET}</encryption></source><target dev='vda'/></disk>`, { '/i/a.luks': LUKS }, []);
  expect(`<disk type='file'><driver name='qemu' type='raw'/><source file='[[/i/a.luks]]'/><target dev='vda'/></disk>`, { '/i/a.luks': LUKS }, ['image-encryption-undeclared']);
});

test('legacy AES inside the image', () => {
  expect(vol('[[/i/aes.qcow2]]', `<format type='qcow2'/>`, `<encryption format='[[luks]]'>${SECRET}</encryption>`), { '/i/aes.qcow2': QCOW2_AES }, ['weak-legacy-qcow-aes', 'image-encryption-kind-mismatch']);
  // Declared qcow: the XML's own format gets the legacy verdict once, not twice.
  expect(vol('/i/aes.qcow2', `<format type='qcow2'/>`, `<encryption format='[[qcow]]'>${SECRET}</encryption>`), { '/i/aes.qcow2': QCOW2_AES }, ['weak-legacy-qcow-aes']);
});

test('weak choices in an image header', () => {
  const weakLuks: ImageFacts = { ...LUKS, luks: { cipherAlg: 'aes-256', cipherMode: 'ecb', ivgenAlg: 'plain64', hashAlg: 'sha256', slots: [] } };
  expect(`<disk type='file'><driver name='qemu' type='raw'/><source file='[[/i/w.luks]]'><encryption format='luks'>${SECRET}</encryption></source><target dev='vda'/></disk>`, { '/i/w.luks': weakLuks }, ['image-weak-encryption']);
  const [m] = messages(`<disk type='file'><driver name='qemu' type='raw'/><source file='/i/w.luks'><encryption format='luks'>${SECRET}</encryption></source><target dev='vda'/></disk>`, { '/i/w.luks': weakLuks });
  assert.match(m, /^w\.luks is encrypted with a weak choice: cipher mode ecb shows data patterns: /);
  const xts128: ImageFacts = { ...LUKS, luks: { cipherAlg: 'aes-128', cipherMode: 'xts', ivgenAlg: 'plain64', hashAlg: 'sha256', slots: [] } };
  const ds = diagnose(`<disk type='file'><driver name='qemu' type='raw'/><source file='/i/x.luks'><encryption format='luks'>${SECRET}</encryption></source><target dev='vda'/></disk>`, {}, envOf({ '/i/x.luks': xts128 }), URI).filter((d) => d.code === 'image-weak-encryption');
  assert.deepEqual(ds.map((d) => d.severity), [4], 'the hint stays a hint');
  expect(`<disk type='file'><driver name='qemu' type='raw'/><source file='/i/a.luks'><encryption format='luks'>${SECRET}</encryption></source><target dev='vda'/></disk>`, { '/i/a.luks': { ...LUKS, luks: { cipherAlg: 'aes-256', cipherMode: 'xts', ivgenAlg: 'plain64', hashAlg: 'sha256' } } }, []);
});

test('capacity smaller than the virtual size', () => {
  expect(vol('/i/a.qcow2', `<format type='qcow2'/>`, '', '<capacity unit="M">[[512]]</capacity>'), { '/i/a.qcow2': QCOW2 }, ['image-capacity-smaller']);
  expect(vol('/i/a.qcow2', `<format type='qcow2'/>`, '', '<capacity unit="G">1</capacity>'), { '/i/a.qcow2': QCOW2 }, []);
  expect(vol('/i/a.qcow2', `<format type='qcow2'/>`, '', '<capacity unit="G">2</capacity>'), { '/i/a.qcow2': QCOW2 }, []);
  const [m] = messages(vol('/i/a.qcow2', `<format type='qcow2'/>`, '', '<capacity unit="M">512</capacity>'), { '/i/a.qcow2': QCOW2 });
  assert.equal(m, 'capacity 512 MiB is smaller than the virtual size of a.qcow2 (1 GiB)');
});

test('backing store format, missing backing format, loops', () => {
  const withBacking = (fmt: string) => `<volume><name>v</name><capacity unit="G">1</capacity><target><path>/i/new.qcow2</path><format type='qcow2'/></target><backingStore><path>/i/base.qcow2</path>${fmt}</backingStore></volume>`;
  expect(withBacking(`<format type='[[raw]]'/>`), { '/i/base.qcow2': QCOW2 }, ['image-backing-format-mismatch']);
  expect(withBacking(`<format type='qcow2'/>`), { '/i/base.qcow2': QCOW2 }, []);
  // Chain through headers: top says backing format raw, the backing file is qcow2.
  const files: Record<string, ImageFacts> = {
    '/i/top.qcow2': { ...QCOW2, backingFile: 'mid.qcow2', backingFormat: 'raw' },
    '/i/mid.qcow2': { ...QCOW2, backingFile: '/i/base.img' },
    '/i/base.img': RAW,
  };
  expect(vol('[[[[/i/top.qcow2]]]]', `<format type='qcow2'/>`), files, ['image-backing-format-mismatch', 'image-backing-format-probed']);
  assert.deepEqual(messages(vol('/i/top.qcow2', `<format type='qcow2'/>`), files), [
    "backing format 'raw' in the header of top.qcow2, but the backing file mid.qcow2 is a qcow2 image",
    "format of backing image '/i/base.img' of image 'mid.qcow2' is not recorded; libvirt and qemu probe it (raw). Record it: qemu-img rebase -u -F raw -b /i/base.img mid.qcow2",
  ]);
  // The probed file has a backing file itself: libvirt refuses (storage_source.c returns -2).
  const refused: Record<string, ImageFacts> = {
    '/i/t.qcow2': { ...QCOW2, backingFile: 'm.qcow2' },
    '/i/m.qcow2': { ...QCOW2, backingFile: 'b.qcow2', backingFormat: 'qcow2' },
    '/i/b.qcow2': QCOW2,
  };
  expect(vol('[[/i/t.qcow2]]', `<format type='qcow2'/>`), refused, ['image-backing-format-missing']);
  // The backing file cannot be read: nothing to say.
  expect(vol('/i/t.qcow2', `<format type='qcow2'/>`), { '/i/t.qcow2': { ...QCOW2, backingFile: 'm.qcow2' } }, []);
  const loop: Record<string, ImageFacts> = {
    '/i/a.qcow2': { ...QCOW2, backingFile: 'b.qcow2', backingFormat: 'qcow2' },
    '/i/b.qcow2': { ...QCOW2, backingFile: './a.qcow2', backingFormat: 'qcow2' },
  };
  expect(vol('[[/i/a.qcow2]]', `<format type='qcow2'/>`), loop, ['image-backing-loop']);
  assert.deepEqual(messages(vol('/i/a.qcow2', `<format type='qcow2'/>`), loop), ['backing chain loops: a.qcow2 → b.qcow2 → a.qcow2; libvirt refuses to start a VM on it (backing store is self-referential)']);
  expect(vol('[[/i/s.qcow2]]', `<format type='qcow2'/>`), { '/i/s.qcow2': { ...QCOW2, backingFile: 's.qcow2', backingFormat: 'qcow2' } }, ['image-backing-loop']);
  // A chain that ends in a missing file or a protocol is no finding.
  expect(vol('/i/c.qcow2', `<format type='qcow2'/>`), { '/i/c.qcow2': { ...QCOW2, backingFile: 'gone.qcow2', backingFormat: 'qcow2' } }, []);
  expect(vol('/i/c.qcow2', `<format type='qcow2'/>`), { '/i/c.qcow2': { ...QCOW2, backingFile: 'nbd://host/x', backingFormat: 'raw' } }, []);
  // Domain <backingStore> layers.
  expect(`<disk type='file'><driver name='qemu' type='qcow2'/><source file='/i/top2.qcow2'/><backingStore type='file'><format type='[[raw]]'/><source file='/i/base.qcow2'/></backingStore><target dev='vda'/></disk>`,
    { '/i/top2.qcow2': { ...QCOW2, backingFile: 'base.qcow2', backingFormat: 'qcow2' }, '/i/base.qcow2': QCOW2 }, ['image-backing-format-mismatch']);
});

test('missing files, other hosts and the setting give nothing; relative paths use the document folder', () => {
  expect(vol('/i/none.qcow2', `<format type='raw'/>`), {}, []);
  expect(vol('/i/a.qcow2', `<format type='raw'/>`), { '/i/a.qcow2': QCOW2 }, [], { imageChecks: false });
  expect(vol('../img/a.qcow2', `<format type='[[raw]]'/>`), { '/vm/img/a.qcow2': QCOW2 }, ['image-format-mismatch']);
  // No environment: nothing read, nothing reported.
  assert.deepEqual(diagnose(vol('/i/a.qcow2', `<format type='raw'/>`), {}, {}, URI).filter((d) => MINE.has(String(d.code))), []);
  // An environment that throws is treated as unreadable.
  assert.deepEqual(diagnose(vol('/i/a.qcow2', `<format type='raw'/>`), {}, { imageFacts: () => { throw new Error('EIO'); } }, URI).filter((d) => MINE.has(String(d.code))), []);
  // Each file's header is read once per validation.
  const calls: string[] = [];
  diagnose(`<volume><name>v</name><capacity>1</capacity><target><path>/i/t.qcow2</path><format type='qcow2'/></target><backingStore><path>/i/b.qcow2</path><format type='qcow2'/></backingStore></volume>`, {},
    envOf({ '/i/t.qcow2': { ...QCOW2, backingFile: 'b.qcow2', backingFormat: 'qcow2' }, '/i/b.qcow2': QCOW2 }, calls), URI);
  assert.deepEqual(calls.sort(), ['/i/b.qcow2', '/i/t.qcow2']);
});

test('only the files this host has are looked at further: each reference on its own', () => {
  // The target's file is missing, the backing file is there: the backing store is still judged.
  const v = `<volume><name>v</name><capacity>1</capacity><target><path>/i/gone.qcow2</path><format type='qcow2'/></target><backingStore><path>/i/b.qcow2</path><format type='[[raw]]'/></backingStore></volume>`;
  expect(v, { '/i/b.qcow2': QCOW2 }, ['image-backing-format-mismatch']);
  // Two disks, the first file missing: the second is judged, with its own format and encryption.
  const d = `<domain><devices><disk type='file'><driver type='raw'/><source file='/i/gone.img'/><target dev='vda'/></disk><disk type='file'><driver type='[[raw]]'/><source file='/i/a.qcow2'/><target dev='vdb'/></disk></devices></domain>`;
  expect(d, { '/i/a.qcow2': QCOW2 }, ['image-format-mismatch']);
  // findImageRefs' `wanted` keeps the references (whole, in order) whose path it accepts.
  const doc = parseXml(extractMarkers(d).text);
  const all = findImageRefs(doc);
  assert.deepEqual(all.map((r) => r.path), ['/i/gone.img', '/i/a.qcow2']);
  assert.deepEqual(findImageRefs(doc, 'dir', (p) => p !== '/i/gone.img'), all.slice(1));
  const vdoc = parseXml(extractMarkers(v).text);
  const vall = findImageRefs(vdoc);
  assert.deepEqual(vall.map((r) => [r.kind, r.path, r.format?.value]), [['volume-target', '/i/gone.qcow2', 'qcow2'], ['volume-backing', '/i/b.qcow2', 'raw']]);
  assert.deepEqual(findImageRefs(vdoc, 'dir', (p) => p === '/i/b.qcow2'), vall.slice(1));
  assert.deepEqual(findImageRefs(vdoc, 'dir', () => false), []);
});

test('path resolution', () => {
  assert.equal(resolveImagePath('a.img', 'file:///x/y/doc.xml'), '/x/y/a.img');
  assert.equal(resolveImagePath('../a.img', 'file:///x/y/doc.xml'), '/x/a.img');
  assert.equal(resolveImagePath('/abs//./b.img', 'untitled:Untitled-1'), '/abs/b.img');
  assert.equal(resolveImagePath('rel.img', 'untitled:Untitled-1'), undefined);
  assert.equal(resolveImagePath('b.qcow2', '/img/dir/top.qcow2'), '/img/dir/b.qcow2');
  assert.equal(resolveImagePath('json:{"file":{}}', '/img/top.qcow2'), undefined);
  assert.equal(uriToPath('file:///a%20b/c.xml'), '/a b/c.xml');
  // Paths already normal are returned as they are; every other form is normalised.
  for (const [p, want] of [['/a/b', '/a/b'], ['/a/.b/..c/d.', '/a/.b/..c/d.'], ['/a/b/', '/a/b'], ['/', '/'], ['//a', '/a'], ['/a/.', '/a'], ['/a/..', '/'], ['/a/./b/../c', '/a/c']])
    assert.equal(resolveImagePath(p, 'untitled:Untitled-1'), want, p);
});

test('hover on a path: qemu-img info-like summary with the chain', () => {
  const text = vol('/i/top.qcow2', `<format type='qcow2'/>`);
  const files: Record<string, ImageFacts> = {
    '/i/top.qcow2': { ...QCOW2, actualSize: 200704, backingFile: 'base.luks', backingFormat: 'luks' },
    '/i/base.luks': { ...LUKS, luks: { cipherAlg: 'aes-128', cipherMode: 'cbc', ivgenAlg: 'plain64', hashAlg: 'sha1', slots: [{ active: true }, ...Array(7).fill({ active: false })] } },
  };
  const xml = parseXml(text);
  const h = imageHover(xml, new LineIndex(text), text.indexOf('top.qcow2'), URI, envOf(files), {});
  assert.ok(h);
  const md = (h.contents as { value: string }).value;
  assert.match(md, /image: \/i\/top\.qcow2\nfile format: qcow2\nvirtual size: 1 GiB \(1073741824 bytes\)\ndisk size: 196 KiB\ncluster_size: 65536\nbacking file: base\.luks\nbacking file format: luks\nFormat specific information:\n {4}compat: 1\.1/);
  assert.match(md, /Backing chain: `top\.qcow2` \(qcow2\) → `base\.luks` \(luks\)$/);
  assert.equal(imageHover(xml, new LineIndex(text), text.indexOf('<name>'), URI, envOf(files), {}), null);
  assert.equal(imageHover(xml, new LineIndex(text), text.indexOf('top.qcow2'), URI, envOf(files), { imageChecks: false }), null);
  const base = formatImageSummary(new ImageReader(envOf(files), URI).chain('/i/base.luks'));
  assert.match(base, /encrypted: yes\nFormat specific information:\n {4}cipher alg: aes-128\n {4}cipher mode: cbc\n {4}ivgen alg: plain64\n {4}hash alg: sha1\n {4}key slots: 1 active of 8/);
  assert.match(base, /⚠ weak encryption: cbc with the predictable ivgen plain64/);
  assert.match(base, /⚠ weak encryption: PBKDF2 hash sha1/);
});
