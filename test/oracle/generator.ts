// A seeded, deterministic generator of mutated <volume> documents for the libvirt oracle.
// Start from realistic bases (raw, raw+luks with and without cipher, qcow2 with compat/features/
// cluster/perms/backing, qcow2+luks), apply 1–3 structural mutations: drop / duplicate / rename
// elements and attributes, swap enum values for vocabulary values and near-misses (`LUKS`,
// `aes-192`, `sha1`), bad numbers, units, uuids and empty values, move <encryption>, add
// features/compat/backingStore combinations. The vocabulary here is written independently of
// schemas/vocabulary.ts on purpose: the generator must not share the service's blind spots.
import { FIXTURE_BACKING_DIR, ORACLE_SECRET_USAGE, ORACLE_SECRET_UUID } from './libvirt';

export interface XNode { tag: string; attrs: Array<[string, string]>; kids: XNode[]; text?: string }
export interface Mutant { id: string; text: string; mutations: string[]; base: string }

/** mulberry32: small, fast, good enough for test-case generation, and reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const el = (tag: string, attrs: Record<string, string> = {}, kids: XNode[] = [], text?: string): XNode => ({ tag, attrs: Object.entries(attrs), kids, text });
const clone = (n: XNode): XNode => ({ tag: n.tag, attrs: n.attrs.map(([k, v]) => [k, v] as [string, string]), kids: n.kids.map(clone), text: n.text });

const esc = (s: string, q = false) => { const t = s.replace(/&/g, '&amp;').replace(/</g, '&lt;'); return q ? t.replace(/'/g, '&apos;') : t; };
export function serialize(n: XNode, depth = 0): string {
  const pad = '  '.repeat(depth);
  const attrs = n.attrs.map(([k, v]) => ` ${k}='${esc(v, true)}'`).join('');
  if (!n.kids.length && n.text === undefined) return `${pad}<${n.tag}${attrs}/>`;
  if (!n.kids.length) return `${pad}<${n.tag}${attrs}>${esc(n.text!)}</${n.tag}>`;
  return `${pad}<${n.tag}${attrs}>\n${n.kids.map((k) => serialize(k, depth + 1)).join('\n')}\n${pad}</${n.tag}>`;
}

// ---------------------------------------------------------------- bases

const secret = (how: 'uuid' | 'usage' = 'uuid') => el('secret', how === 'uuid' ? { type: 'passphrase', uuid: ORACLE_SECRET_UUID } : { type: 'passphrase', usage: ORACLE_SECRET_USAGE });
const luks = (kids: XNode[] = [secret()]) => el('encryption', { format: 'luks' }, kids);
const cipher = (name = 'aes', size = '256', mode = 'xts', hash = 'sha256') => el('cipher', { name, size, mode, hash });
const ivgen = (name = 'plain64', hash = 'sha256') => el('ivgen', { name, hash });
const cap = (v = '16', unit = 'M') => el('capacity', { unit }, [], v);
const fmt = (t: string) => el('format', { type: t });
const vol = (kids: XNode[]) => el('volume', {}, [el('name', {}, [], 'NAME'), ...kids]);

export const BASES: Record<string, () => XNode> = {
  raw: () => vol([cap(), el('allocation', {}, [], '0'), el('target', {}, [fmt('raw')])]),
  raw_luks: () => vol([cap(), el('target', {}, [fmt('raw'), luks()])]),
  raw_luks_cipher: () => vol([cap(), el('target', {}, [fmt('raw'), luks([secret('usage'), cipher('aes', '256', 'cbc', 'sha256'), ivgen('essiv', 'sha256')])])]),
  qcow2: () => vol([cap('1', 'G'), el('allocation', {}, [], '0'), el('target', {}, [fmt('qcow2')])]),
  qcow2_features: () => vol([cap('64', 'MiB'), el('target', {}, [fmt('qcow2'), el('compat', {}, [], '1.1'), el('clusterSize', { unit: 'KiB' }, [], '64'), el('features', {}, [el('lazy_refcounts')])])]),
  qcow2_perms: () => vol([cap('16', 'M'), el('target', {}, [fmt('qcow2'), el('permissions', {}, [el('mode', {}, [], '0600'), el('owner', {}, [], '-1'), el('group', {}, [], '-1'), el('label', {}, [], 'virt_image_t')])])]),
  qcow2_backing: () => vol([cap('16', 'M'), el('target', {}, [fmt('qcow2')]), el('backingStore', {}, [el('path', {}, [], `${FIXTURE_BACKING_DIR}/base.qcow2`), fmt('qcow2')])]),
  qcow2_luks: () => vol([cap('16', 'M'), el('target', {}, [fmt('qcow2'), el('compat', {}, [], '1.1'), luks()])]),
};

// ---------------------------------------------------------------- vocabulary and near-misses

const ENUMS: Record<string, string[]> = {
  'encryption@format': ['luks', 'luks2', 'luks-any', 'qcow', 'default', 'LUKS', 'Luks', 'luks1', 'aes', 'plain', ''],
  'encryption@engine': ['qemu', 'librbd', 'default', 'QEMU', 'dm-crypt', ''],
  'secret@type': ['passphrase', 'volume', 'Passphrase', 'ceph', 'iscsi', ''],
  'cipher@name': ['aes', 'serpent', 'twofish', 'cast5', 'des', '3des', 'AES', 'aes-256', 'sm4', 'blowfish', ''],
  'cipher@size': ['128', '192', '256', '512', '0', '-1', '+256', ' 256', '256 ', '0x100', 'abc', '', '4294967296', '99999999999'],
  'cipher@mode': ['xts', 'cbc', 'ecb', 'ctr', 'XTS', 'gcm', 'xts-plain64', ''],
  'cipher@hash': ['sha256', 'sha1', 'sha512', 'md5', 'sha224', 'sha384', 'ripemd160', 'sha3', 'SHA256', 'sm3', ''],
  'ivgen@name': ['plain64', 'plain', 'essiv', 'PLAIN64', 'benbi', 'null', ''],
  'ivgen@hash': ['sha256', 'sha1', 'sha512', 'md5', 'sha224', 'sha384', 'ripemd160', 'sha3', ''],
  'format@type': ['raw', 'qcow2', 'qcow', 'vmdk', 'qed', 'vdi', 'vpc', 'iso', 'dir', 'luks', 'none', 'QCOW2', 'qcow3', 'bochs', 'cow', ''],
  'capacity@unit': ['b', 'bytes', 'k', 'KiB', 'KB', 'M', 'MiB', 'MB', 'mb', 'G', 'GiB', 'Q', 'kbytes', 'iB', 'mib', ''],
  'allocation@unit': ['b', 'k', 'M', 'G', 'X', ''],
  'clusterSize@unit': ['b', 'KiB', 'k', 'M', 'KB', 'Q', ''],
  'volume@type': ['file', 'block', 'dir', 'network', 'netdir', 'ploop', 'bogus', ''],
};
const UUID_FORMS = [
  ORACLE_SECRET_UUID.toUpperCase(), ORACLE_SECRET_UUID.replace(/-/g, ''), ` ${ORACLE_SECRET_UUID} `, ORACLE_SECRET_UUID.slice(0, -1),
  ORACLE_SECRET_UUID + '0', ORACLE_SECRET_UUID.replace('a', 'z'), '', 'not-a-uuid', ORACLE_SECRET_UUID.replace(/-/g, ' '),
  '0a-81f5b2840-37b23c8d621ccc2f80d6f', ORACLE_SECRET_UUID.replace(/-/g, '').replace(/(..)/g, '$1-').slice(0, -1),
];
const TEXTS: Record<string, string[]> = {
  // (No huge in-range byte counts: a raw file that size fails on the file system, not in libvirt.)
  capacity: ['0', '1', '16', '+16', ' 16', '16 ', '-16', '1.5', '0x10', 'abc', '', '18446744073709551616'],
  allocation: ['0', '16', 'abc', '-1', '', '+0'],
  compat: ['1.1', '0.10', '1.1.1', '2.0', '-1.5', 'v3', 'abc', '', '1.10', ' 1.1', '1'],
  clusterSize: ['65536', '512', '256', '3000', '2097152', '4194304', '0', '64k', 'abc', '', '-512'],
  mode: ['0600', '644', '1777', '0800', '0', 'abc', '', '0777', '4755'],
  owner: ['-1', '0', '65534', '-2', 'root', '', '4294967296', '1.5'],
  group: ['-1', '65534', '-2', 'abc', ''],
  name: ['', 'a/b.img', '.', 'with space.img', 'UNIQUE.img', 'UNIQUE', 'dé.img'],
  path: [`${FIXTURE_BACKING_DIR}/base.qcow2`, `${FIXTURE_BACKING_DIR}/base.raw`, '/nonexistent/lvoracle/x.qcow2', 'base.qcow2', ''],
};
const RENAMES: Record<string, string[]> = {
  encryption: ['Encryption', 'encrypt', 'encryptions'], secret: ['Secret', 'secrets', 'passphrase'], cipher: ['Cipher', 'ciphers'],
  ivgen: ['IVgen', 'iv'], capacity: ['Capacity', 'size', 'capacty'], allocation: ['alloc'], target: ['Target', 'targets'],
  format: ['Format', 'fmt'], compat: ['Compat', 'compatibility'], features: ['feature', 'Features'], lazy_refcounts: ['lazy-refcounts', 'lazy_refcount', 'extended_l2', 'data_file'],
  clusterSize: ['clustersize', 'cluster_size'], name: ['Name', 'nam'], backingStore: ['backingstore', 'backing'], path: ['Path'], permissions: ['perms'],
  mode: ['Mode'], owner: ['user'], nocow: ['noCow'],
};
const ATTR_RENAMES: Record<string, string[]> = {
  format: ['Format', 'fmt', 'formats'], type: ['Type', 'typ'], uuid: ['UUID', 'uid', 'usage'], usage: ['Usage', 'uuid'], name: ['Name', 'alg'],
  size: ['Size', 'bits', 'length'], mode: ['Mode'], hash: ['Hash', 'digest'], unit: ['Unit', 'units'], engine: ['Engine'],
};

// ---------------------------------------------------------------- mutations

interface Ctx { r: () => number; root: XNode; id: string }
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
function all(n: XNode, parent: XNode | null = null, out: Array<{ n: XNode; parent: XNode | null }> = []) {
  out.push({ n, parent });
  for (const k of n.kids) all(k, n, out);
  return out;
}
const find = (root: XNode, tag: string) => all(root).find((x) => x.n.tag === tag)?.n;
const target = (root: XNode) => { let t = find(root, 'target'); if (!t) { t = el('target'); root.kids.push(t); } return t; };
const encryption = (root: XNode) => find(root, 'encryption');
function setAttr(n: XNode, k: string, v: string) {
  const a = n.attrs.find(([x]) => x === k);
  if (a) a[1] = v; else n.attrs.push([k, v]);
}
function insertAt(r: () => number, parent: XNode, n: XNode) { parent.kids.splice(Math.floor(r() * (parent.kids.length + 1)), 0, n); }

type Mutation = (c: Ctx) => string | undefined;
const MUTATIONS: Array<[number, Mutation]> = [
  [3, ({ r, root }) => { // drop an element
    const xs = all(root).filter((x) => x.parent && !(x.n.tag === 'name' && x.parent === root && r() < 0.7));
    if (!xs.length) return;
    const x = pick(r, xs); x.parent!.kids.splice(x.parent!.kids.indexOf(x.n), 1); return `drop <${x.n.tag}>`;
  }],
  [2, ({ r, root }) => { // duplicate an element (the copy possibly altered)
    const xs = all(root).filter((x) => x.parent);
    if (!xs.length) return;
    const x = pick(r, xs); const c = clone(x.n);
    const alt = r() < 0.5 && c.attrs.length ? c.attrs[Math.floor(r() * c.attrs.length)] : undefined;
    if (alt) alt[1] = pick(r, ENUMS[`${c.tag}@${alt[0]}`] ?? ['x', '']);
    x.parent!.kids.splice(x.parent!.kids.indexOf(x.n) + 1, 0, c); return `duplicate <${x.n.tag}>${alt ? ` (copy ${alt[0]}='${alt[1]}')` : ''}`;
  }],
  [2, ({ r, root }) => { // rename an element
    const xs = all(root).filter((x) => x.parent && RENAMES[x.n.tag]);
    if (!xs.length) return;
    const x = pick(r, xs); const to = pick(r, RENAMES[x.n.tag]); const from = x.n.tag; x.n.tag = to; return `rename <${from}> to <${to}>`;
  }],
  [3, ({ r, root }) => { // drop an attribute
    const xs = all(root).filter((x) => x.n.attrs.length);
    if (!xs.length) return;
    const x = pick(r, xs); const i = Math.floor(r() * x.n.attrs.length); const [k] = x.n.attrs.splice(i, 1)[0]; return `drop ${x.n.tag}@${k}`;
  }],
  [2, ({ r, root }) => { // rename an attribute
    const xs = all(root).filter((x) => x.n.attrs.some(([k]) => ATTR_RENAMES[k]));
    if (!xs.length) return;
    const x = pick(r, xs); const a = pick(r, x.n.attrs.filter(([k]) => ATTR_RENAMES[k]));
    const to = pick(r, ATTR_RENAMES[a[0]]); if (x.n.attrs.some(([k]) => k === to)) return;
    const from = a[0]; a[0] = to; return `rename ${x.n.tag}@${from} to @${to}`;
  }],
  [8, ({ r, root }) => { // swap an enum value (vocabulary and near-misses), or add the attribute
    const xs = all(root).flatMap((x) => Object.keys(ENUMS).filter((k) => k.startsWith(x.n.tag + '@')).map((k) => ({ n: x.n, key: k })));
    if (!xs.length) return;
    const x = pick(r, xs); const v = pick(r, ENUMS[x.key]); setAttr(x.n, x.key.split('@')[1], v); return `${x.key}='${v}'`;
  }],
  [5, ({ r, root }) => { // text values: numbers, compat, perms, names, paths
    const xs = all(root).filter((x) => TEXTS[x.n.tag] && !x.n.kids.length);
    if (!xs.length) return;
    const x = pick(r, xs); let v = pick(r, TEXTS[x.n.tag]);
    if (x.n.tag === 'capacity' || x.n.tag === 'allocation') {
      // Keep raw files small and sparse-able: big values only with small units or as overflow cases.
      const unit = x.n.attrs.find(([k]) => k === 'unit')?.[1] ?? '';
      if (/^[gtpe]/i.test(unit) && /^\d{3,}/.test(v.trim()) && v.length < 19) v = '1';
    }
    x.n.text = v; return `<${x.n.tag}>${JSON.stringify(v)}`;
  }],
  [4, ({ r, root }) => { // secret uuid forms (same secret differently written, or broken)
    const s = all(root).find((x) => x.n.tag === 'secret')?.n;
    if (!s) return;
    const v = pick(r, UUID_FORMS); s.attrs = s.attrs.filter(([k]) => k !== 'usage'); setAttr(s, 'uuid', v); return `secret@uuid='${v}'`;
  }],
  [3, ({ r, root }) => { // secret count and reference shape
    const enc = encryption(root);
    if (!enc) return;
    const choice = Math.floor(r() * 4);
    if (choice === 0) { enc.kids.push(secret(r() < 0.5 ? 'uuid' : 'usage')); return 'add a second <secret>'; }
    if (choice === 1) { enc.kids = enc.kids.filter((k) => k.tag !== 'secret'); return 'remove every <secret>'; }
    const s = enc.kids.find((k) => k.tag === 'secret');
    if (!s) { enc.kids.unshift(secret()); return 'add <secret>'; }
    if (choice === 2) { setAttr(s, 'usage', ORACLE_SECRET_USAGE); setAttr(s, 'uuid', ORACLE_SECRET_UUID); return 'secret with uuid and usage'; }
    s.attrs = s.attrs.filter(([k]) => k === 'type'); return 'secret without uuid/usage';
  }],
  [3, ({ r, root }) => { // cipher / ivgen presence
    const enc = encryption(root);
    if (!enc) return;
    const choice = Math.floor(r() * 5);
    const has = (t: string) => enc.kids.some((k) => k.tag === t);
    if (choice === 0 && !has('cipher')) { enc.kids.push(cipher(pick(r, ['aes', 'serpent', 'twofish', 'cast5']), pick(r, ['128', '192', '256']), pick(r, ['xts', 'cbc', 'ecb', 'ctr']), pick(r, ['sha256', 'sha1', 'sha512']))); return 'add <cipher>'; }
    if (choice === 1 && !has('ivgen')) { enc.kids.push(ivgen(pick(r, ['plain64', 'plain', 'essiv']), pick(r, ['sha256', 'sha1', 'md5', 'sha512']))); return 'add <ivgen>'; }
    if (choice === 2) { enc.kids = enc.kids.filter((k) => k.tag !== 'cipher'); return 'remove <cipher>'; }
    if (choice === 3) { enc.kids = enc.kids.filter((k) => k.tag !== 'ivgen'); return 'remove <ivgen>'; }
    enc.kids.push(cipher(), ivgen()); return 'add <cipher> + <ivgen>';
  }],
  [2, ({ r, root }) => { // move or add <encryption>
    const enc = encryption(root);
    const choice = Math.floor(r() * 3);
    if (!enc) { target(root).kids.push(luks(r() < 0.3 ? [] : [secret()])); return 'add <encryption format=luks>'; }
    const holder = all(root).find((x) => x.n === enc)!.parent!;
    holder.kids.splice(holder.kids.indexOf(enc), 1);
    if (choice === 0) { root.kids.push(enc); return 'move <encryption> to <volume>'; }
    if (choice === 1) { let b = find(root, 'backingStore'); if (!b) { b = el('backingStore', {}, [el('path', {}, [], `${FIXTURE_BACKING_DIR}/base.qcow2`), fmt('qcow2')]); root.kids.push(b); } b.kids.push(enc); return 'move <encryption> to <backingStore>'; }
    const t = target(root); t.kids.push(enc, clone(enc)); return 'two <encryption> in <target>';
  }],
  [4, ({ r, root }) => { // qcow2 options: compat / features / clusterSize / nocow
    const t = target(root);
    const choice = Math.floor(r() * 6);
    const drop = (tag: string) => { t.kids = t.kids.filter((k) => k.tag !== tag); };
    if (choice === 0) { drop('compat'); t.kids.push(el('compat', {}, [], pick(r, ['0.10', '1.1']))); return 'set <compat>'; }
    if (choice === 1) { let f = t.kids.find((k) => k.tag === 'features'); if (!f) { f = el('features'); t.kids.push(f); } const x = pick(r, ['lazy_refcounts', 'extended_l2', 'data_file', 'bogus']); f.kids.push(el(x)); return `add feature <${x}>`; }
    if (choice === 2) { drop('features'); t.kids.push(el('features')); return 'empty <features/>'; }
    if (choice === 3) { drop('clusterSize'); const [v, u] = pick(r, [['4', 'KiB'], ['16', 'KiB'], ['64', 'KiB'], ['512', ''], ['2', 'M'], ['1024', 'b'], ['3', 'KiB']]); t.kids.push(el('clusterSize', u ? { unit: u } : {}, [], v)); return `<clusterSize unit='${u}'>${v}`; }
    if (choice === 4) { t.kids.push(el('nocow')); return 'add <nocow/>'; }
    drop('compat'); drop('features'); return 'remove compat and features';
  }],
  [2, ({ r, root }) => { // backing store combinations
    const b = find(root, 'backingStore');
    const choice = Math.floor(r() * 4);
    if (!b) { root.kids.push(el('backingStore', {}, [el('path', {}, [], `${FIXTURE_BACKING_DIR}/${pick(r, ['base.qcow2', 'base.raw'])}`), ...(r() < 0.7 ? [fmt(pick(r, ['qcow2', 'raw', 'vmdk']))] : [])])); return 'add <backingStore>'; }
    if (choice === 0) { b.kids = b.kids.filter((k) => k.tag !== 'format'); return 'backingStore without <format>'; }
    if (choice === 1) { b.kids = b.kids.filter((k) => k.tag !== 'path'); return 'backingStore without <path>'; }
    if (choice === 2) { b.kids.push(el('permissions', {}, [el('mode', {}, [], pick(r, ['0644', '9999']))])); return 'backingStore permissions'; }
    root.kids.splice(root.kids.indexOf(b), 1); return 'drop <backingStore>';
  }],
  [1, ({ r, root }) => { // unknown element or attribute (ignored by the parser, RNG-invalid)
    const xs = all(root);
    const x = pick(r, xs);
    if (r() < 0.5) { insertAt(r, x.n, el(pick(r, ['colour', 'x-note', 'description']), {}, [], 'v')); return `unknown element in <${x.n.tag}>`; }
    setAttr(x.n, pick(r, ['color', 'foo', 'data-x']), 'v'); return `unknown attribute on <${x.n.tag}>`;
  }],
  [1, ({ r, root }) => { // empty every attribute value of one element
    const xs = all(root).filter((x) => x.n.attrs.length);
    if (!xs.length) return;
    const x = pick(r, xs); for (const a of x.n.attrs) a[1] = ''; return `empty attributes of <${x.n.tag}>`;
  }],
];
const TOTAL_WEIGHT = MUTATIONS.reduce((s, [w]) => s + w, 0);

/** Mutant `index` of `seed`: deterministic, independent of how many others are generated. */
export function mutant(seed: number, index: number): Mutant {
  const r = rng((seed * 1_000_003 + index * 7919) >>> 0);
  const baseName = pick(r, Object.keys(BASES));
  const root = BASES[baseName]();
  const id = `m${seed}-${index}`;
  const name = find(root, 'name');
  if (name) name.text = `${id}.img`;
  const mutations: string[] = [];
  const count = 1 + Math.floor(r() * 3);
  for (let tries = 0; mutations.length < count && tries < 20; tries++) {
    let w = r() * TOTAL_WEIGHT;
    const m = MUTATIONS.find(([wt]) => (w -= wt) < 0)![1];
    const what = m({ r, root, id });
    if (what) mutations.push(what);
  }
  // A mutated name keeps the mutant's id where it can, so concurrent creations do not collide.
  for (const x of all(root)) if (x.n.tag === 'name' && x.n.text?.includes('UNIQUE')) x.n.text = x.n.text.replace('UNIQUE', id);
  return { id, base: baseName, mutations, text: serialize(root) + '\n' };
}

export function mutants(seed: number, count: number): Mutant[] {
  return Array.from({ length: count }, (_, i) => mutant(seed, i));
}

// ---------------------------------------------------------------- domain <disk> documents

const srcFile = (file: string, kids: XNode[] = []) => el('source', { file }, kids);
const diskEl = (type: string, device: string, drv: string, kids: XNode[], dev = 'vda', bus = 'virtio') =>
  el('disk', { type, device }, [el('driver', { name: 'qemu', type: drv }), ...kids, el('target', { dev, bus })]);
const domain = (disks: XNode[]) => el('domain', { type: 'qemu' }, [
  el('name', {}, [], 'NAME'), el('memory', { unit: 'MiB' }, [], '128'),
  el('os', {}, [el('type', { arch: 'x86_64', machine: 'pc' }, [], 'hvm')]),
  el('devices', {}, [el('emulator', {}, [], '/usr/bin/qemu-system-x86_64'), ...disks]),
]);

export const DOMAIN_BASES: Record<string, () => XNode> = {
  file_raw_luks: () => domain([diskEl('file', 'disk', 'raw', [srcFile('/var/lib/libvirt/images/a.img', [luks()])])]),
  file_qcow2_luks_usage: () => domain([diskEl('file', 'disk', 'qcow2', [srcFile('/var/lib/libvirt/images/a.qcow2', [luks([secret('usage')])])])]),
  disk_level_luks: () => domain([diskEl('file', 'disk', 'raw', [srcFile('/var/lib/libvirt/images/a.img'), luks()])]),
  backing_chain_luks: () => domain([diskEl('file', 'disk', 'qcow2', [srcFile('/var/lib/libvirt/images/top.qcow2', [luks()]),
    el('backingStore', { type: 'file' }, [el('format', { type: 'qcow2' }), srcFile('/var/lib/libvirt/images/base.qcow2', [luks()]), el('backingStore')])])]),
  rbd_librbd: () => domain([diskEl('network', 'disk', 'raw', [el('source', { protocol: 'rbd', name: 'pool/image' }, [el('host', { name: 'mon1.example.org', port: '6789' }), el('encryption', { format: 'luks2', engine: 'librbd' }, [secret()])])])]),
  two_disks: () => domain([diskEl('file', 'disk', 'raw', [srcFile('/var/lib/libvirt/images/a.img', [luks()])]), diskEl('file', 'disk', 'qcow2', [srcFile('/var/lib/libvirt/images/b.qcow2')], 'vdb')]),
};

const DOMAIN_ENUMS: Record<string, string[]> = {
  'driver@type': ['raw', 'qcow2', 'vmdk', 'qed', 'luks', 'QCOW2', ''],
  'disk@device': ['disk', 'cdrom', 'lun', 'floppy', 'bogus'],
  'disk@type': ['file', 'block', 'network', 'volume', 'vhostuser', 'bogus'],
  'encryption@engine': ['qemu', 'librbd', 'default', ''],
  'target@bus': ['virtio', 'sata', 'scsi', 'ide', 'usb', 'sd'],
};

/** 'disk': mutate anywhere inside a <disk>; 'encryption': only <encryption> subtrees, the image format and the engine. */
export type DomainScope = 'disk' | 'encryption';
const ENCRYPTION_SCOPE_ENUMS = ['driver@type', 'encryption@engine'];

type DomainMutation = (c: Ctx & { scope: DomainScope }) => string | undefined;
const DOMAIN_MUTATIONS: Array<[number, DomainMutation]> = [
  [4, ({ r, root, scope }) => { // domain enums
    const keys = Object.keys(DOMAIN_ENUMS).filter((k) => scope === 'disk' || ENCRYPTION_SCOPE_ENUMS.includes(k));
    const xs = all(root).flatMap((x) => keys.filter((k) => k.startsWith(x.n.tag + '@')).map((k) => ({ n: x.n, key: k })));
    if (!xs.length) return;
    const x = pick(r, xs); const v = pick(r, DOMAIN_ENUMS[x.key]); setAttr(x.n, x.key.split('@')[1], v); return `${x.key}='${v}'`;
  }],
  [3, ({ r, root }) => { // move <encryption> between the disk, its source, a backing source and a mirror
    const enc = encryption(root);
    const disk = find(root, 'disk');
    if (!enc || !disk) return;
    const holder = all(root).find((x) => x.n === enc)!.parent!;
    const choice = Math.floor(r() * 4);
    if (choice === 0) { holder.kids.splice(holder.kids.indexOf(enc), 1); disk.kids.push(enc); return 'encryption to <disk> level'; }
    if (choice === 1) { const s = disk.kids.find((k) => k.tag === 'source'); if (!s || s === holder) return; holder.kids.splice(holder.kids.indexOf(enc), 1); s.kids.push(enc); return 'encryption to <source>'; }
    if (choice === 2) { disk.kids.push(clone(enc)); return 'encryption also at <disk> level'; }
    disk.kids.push(el('mirror', { type: 'file', job: 'copy' }, [el('format', { type: 'qcow2' }), srcFile('/var/lib/libvirt/images/copy.qcow2', [clone(enc)])])); return 'add <mirror> with encryption';
  }],
  // The generic structural and value mutations, applied inside one <disk> only: the service
  // judges disks, not the rest of a domain (memory, os, …), so those stay valid.
  ...MUTATIONS.filter((_, i) => [0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 14].includes(i)).map(([w, m]): [number, DomainMutation] => [w, (c) => {
    const scopes = all(c.root).filter((x) => x.n.tag === (c.scope === 'disk' ? 'disk' : 'encryption'));
    return scopes.length ? m({ ...c, root: pick(c.r, scopes).n }) : undefined;
  }]),
];
const DOMAIN_TOTAL = DOMAIN_MUTATIONS.reduce((s, [w]) => s + w, 0);

/** Domain mutant `index` of `seed` (ids `d<seed>-<index>`), for the define oracles. */
export function domainMutant(seed: number, index: number, scope: DomainScope = 'disk'): Mutant {
  const r = rng((seed * 2_000_029 + index * 104_729) >>> 0);
  const baseName = pick(r, Object.keys(DOMAIN_BASES));
  const root = DOMAIN_BASES[baseName]();
  const id = `${scope === 'disk' ? 'd' : 'e'}${seed}-${index}`;
  const name = find(root, 'name');
  if (name) name.text = id;
  const mutations: string[] = [];
  const count = 1 + Math.floor(r() * 3);
  for (let tries = 0; mutations.length < count && tries < 20; tries++) {
    let w = r() * DOMAIN_TOTAL;
    const m = DOMAIN_MUTATIONS.find(([wt]) => (w -= wt) < 0)![1];
    const what = m({ r, root, id, scope });
    if (what) mutations.push(what);
  }
  for (const x of all(root)) if (x.n.tag === 'name' && x.n.text?.includes('UNIQUE')) x.n.text = x.n.text.replace('UNIQUE', id);
  return { id, base: baseName, mutations, text: serialize(root) + '\n' };
}
