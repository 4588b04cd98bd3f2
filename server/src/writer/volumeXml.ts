// libvirt's <volume> XML → `qemu-img create` arguments, as libvirt's storage driver maps them,
// and the qemu-img option helpers both the CLI and the LSP's Create Volume worker use. Pure:
// no file I/O (the callers read and write), so the editor and the CLI create the same image.
import { parseQemuSize, type CreateArgs } from '../../../schemas/qcow2Options';
import { compareVersions, unitMultiplier } from '../../../schemas/vocabulary';
import { attrValue, firstChild, parseXml, textContent } from '../service/xmlModel';
import { splitQemuOptions } from '../common/qemuOpts';

/** `-o a=b,c=d` (qemu's QemuOpts syntax, `,,` escapes a comma); later occurrences win. */
export function parseQemuImgOptions(list: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const s of list) {
    for (const { name, value } of splitQemuOptions(s)) {
      if (name || value !== 'on') m.set(name, value); // an empty part (`,a`) is no option
    }
  }
  return m;
}

/** qemu-img size syntax (qemu_strtosz: bytes, or k/M/G/T/P/E suffixes, powers of 1024). */
export function parseSize(s: string): number | undefined {
  const r = parseQemuSize(s);
  return r.ok && r.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(r.value) : undefined;
}

// VOLUME.xml → qemu-img arguments, as libvirt's storage driver maps them (storage_util.c
// storageBackendCreateQemuImgOpts / storageBackendBuildQemuImgEncriptionOpts).

export interface XmlMapping {
  args: CreateArgs;
  /** The equivalent qemu-img command line (for the user). */
  commandLine: string;
  encrypted: boolean;
  /**
   * qcow2 with `<encryption format='qcow'|'default'>`: legacy qcow AES (`encryption=on`), which
   * libvirt created before 4.5.0 (VCR-QCOW-ENC refuses it since). Created only when the user says
   * so explicitly (--allow-insecure-aes; the editor asks).
   */
  legacyAes: boolean;
}

/** libvirt's compat default for qcow2 targets: 0.10 before 10.2.0, 1.1 since. */
export function defaultCompat(libvirtVersion: string): string {
  return compareVersions(libvirtVersion, '10.2.0') < 0 ? '0.10' : '1.1';
}

function scaled(el: ReturnType<typeof firstChild>): bigint | undefined {
  if (!el) return undefined;
  const m = /^\s*\+?(\d+)\s*$/.exec(textContent(el));
  const mul = unitMultiplier(attrValue(el, 'unit') ?? 'bytes');
  return m && mul !== undefined ? BigInt(m[1]) * mul : undefined;
}

/**
 * A qcow2 target with `<encryption format='qcow'|'default'>`: legacy qcow AES, what libvirt before
 * 4.5.0 created (`encryption=on`); the writer and Create Volume's prompts decide from this one test.
 */
export function isLegacyAes(format: string, enc: ReturnType<typeof firstChild>): boolean {
  return !!enc && format === 'qcow2' && (attrValue(enc, 'format') ?? 'default') !== 'luks';
}

/** The qemu secret id libvirt gives a volume's passphrase (storage_util.c: "<name>_encrypt0"). */
export function legacySecretId(vol: ReturnType<typeof firstChild>): string {
  return `${textContent(firstChild(vol, 'name')).trim() || 'volume'}_encrypt0`;
}

/** Maps a <volume> document (already validated) to qemu-img create arguments. */
export function mapVolumeXml(text: string, output: string, libvirtVersion: string, preallocMetadata: boolean): XmlMapping {
  const doc = parseXml(text);
  const vol = doc.root;
  const target = firstChild(vol, 'target');
  const format = attrValue(firstChild(target, 'format'), 'type') ?? 'raw';
  const capacity = scaled(firstChild(vol, 'capacity')) ?? 0n;
  const allocation = scaled(firstChild(vol, 'allocation'));
  const enc = firstChild(target, 'encryption');
  const encrypted = !!enc;
  const o: string[] = [];
  const args: CreateArgs = { format: encrypted && format === 'raw' ? 'luks' : format, filename: output, size: `${(capacity + 1023n) / 1024n}K` };
  const backing = firstChild(vol, 'backingStore');
  const backingPath = backing ? textContent(firstChild(backing, 'path')).trim() : '';
  if (backingPath) {
    args.backingFile = backingPath;
    o.push(`backing_fmt=${attrValue(firstChild(backing, 'format'), 'type') ?? 'raw'}`);
  }
  // libvirt before 4.5.0 passed `encryption=on` for the old qcow formats (storage_util.c); the
  // <cipher>/<ivgen> elements belong to luks only and are ignored otherwise (ENC-CIPHER-ONLY-LUKS).
  const legacyAes = isLegacyAes(format, enc);
  // qemu-img wants a key secret even though qcow AES stores no key material (the passphrase is
  // only used when the image is opened); libvirt names its secret object NAME_encrypt0.
  if (legacyAes) o.push('encryption=on', `encrypt.key-secret=${legacySecretId(vol)}`);
  else if (encrypted && format === 'qcow2') o.push('encrypt.format=luks');
  if (encrypted && !legacyAes) {
    const prefix = format === 'qcow2' ? 'encrypt.' : '';
    const cipher = firstChild(enc, 'cipher');
    const ivgen = firstChild(enc, 'ivgen');
    const esc = (s: string) => s.replace(/,/g, ',,');
    if (cipher) {
      const name = attrValue(cipher, 'name'), size = attrValue(cipher, 'size'), mode = attrValue(cipher, 'mode'), hash = attrValue(cipher, 'hash');
      if (name && size) o.push(`${prefix}cipher-alg=${esc(name)}-${esc(size)}`);
      if (mode) o.push(`${prefix}cipher-mode=${esc(mode)}`);
      if (hash) o.push(`${prefix}hash-alg=${esc(hash)}`);
    }
    if (ivgen) {
      const name = attrValue(ivgen, 'name'), hash = attrValue(ivgen, 'hash');
      if (name) o.push(`${prefix}ivgen-alg=${esc(name)}`);
      if (hash) o.push(`${prefix}ivgen-hash-alg=${esc(hash)}`);
    }
  }
  if (preallocMetadata && format === 'qcow2') o.push(allocation !== undefined && allocation < capacity ? 'preallocation=metadata' : 'preallocation=falloc');
  else if (format === 'raw' && !encrypted && allocation !== undefined && allocation >= capacity && capacity > 0n) o.push('preallocation=falloc');
  if (firstChild(target, 'nocow')) o.push('nocow=on');
  if (format === 'qcow2') {
    // A <features> element without <compat> makes libvirt's parser set compat 1.1 (VOL-COMPAT-DEFAULT).
    const compat = textContent(firstChild(target, 'compat')).trim() || (firstChild(target, 'features') ? '1.1' : '');
    o.push(`compat=${compat || defaultCompat(libvirtVersion)}`);
  }
  const cluster = scaled(firstChild(target, 'clusterSize'));
  if (cluster !== undefined) o.push(`cluster_size=${cluster}`);
  const features = firstChild(target, 'features');
  if (format === 'qcow2' && features) {
    if (firstChild(features, 'lazy_refcounts')) o.push('lazy_refcounts');
    if (firstChild(features, 'extended_l2')) o.push('extended_l2=on');
  }
  if (o.length) args.options = [o.join(',')];
  const q = (s: string) => (/^[\w./:=,+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const commandLine = ['qemu-img', 'create', '-f', args.format, ...(args.backingFile ? ['-b', args.backingFile] : []), ...(o.length ? ['-o', o.join(',')] : []), args.filename, args.size!].map(q).join(' ');
  return { args, commandLine, encrypted, legacyAes };
}

