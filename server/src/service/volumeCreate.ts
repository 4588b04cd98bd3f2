// One reader of a libvirt <volume> document (name, sizes, target, encryption, backing store) and
// the one mapping from it to what libvirt's storage driver does at vol-create: the qemu-img argv
// it runs (src/storage/storage_util.c virStorageBackendCreateQemuImgCmdFromVol and
// storageBackendCreateQemuImgOpts, virQEMUBuildLuksOpts for the LUKS options) or the plain file it
// writes itself (storageBackendCreateRaw), plus the typed arguments our writer creates the same
// image from. Pure: the CLI and the editor's Create Volume both call it.
import { compareVersions, FILE_POOL_TYPES, type PoolType } from '../../../schemas/vocabulary';
import type { CreateArgs } from '../../../schemas/qcow2Options';
import type { LuksOptionInput } from '../../../schemas/luksOptions';
import type { ImageFacts } from './types';
import { LLONG_MAX, parseScaled } from './validation/libvirtValues';
import { attrValue, childElements, firstChild, textContent, type XmlElement } from './xmlModel';

export interface VolumeCipher {
  name?: string;
  size?: string;
  mode?: string;
  hash?: string;
}
export interface VolumeIvgen {
  name?: string;
  hash?: string;
}
export interface VolumeSecretRef {
  type?: string;
  uuid?: string;
  usage?: string;
}

export interface VolumeEncryption {
  /** The format attribute as written (absent: libvirt's `default`). */
  format?: string;
  secrets: VolumeSecretRef[];
  cipher?: VolumeCipher;
  ivgen?: VolumeIvgen;
}

export interface VolumePermissions {
  mode?: string;
  owner?: string;
  group?: string;
  label?: string;
}

/** A <volume> as libvirt's parser reads it (virStorageVolDefParseXML), values as written. */
export interface VolumeDoc {
  name?: string;
  /** Bytes; undefined when absent or not a scaled integer libvirt accepts. */
  capacity?: bigint;
  /** Bytes as written; libvirt takes the capacity when <allocation> is absent. */
  allocation?: bigint;
  target: {
    path?: string;
    /** `<format type>`; libvirt's default for file volumes is raw. */
    format: string;
    permissions?: VolumePermissions;
    compat?: string;
    /** Present when <features> is (even empty: the parser then sets compat 1.1). */
    features?: { lazyRefcounts: boolean; extendedL2: boolean };
    nocow: boolean;
    clusterSize?: bigint;
    encryption?: VolumeEncryption;
  };
  backingStore?: { path: string; format: string };
}

const text = (el: XmlElement | undefined): string | undefined => (el ? textContent(el).trim() : undefined);

function scaled(el: XmlElement | undefined): bigint | undefined {
  if (!el) return undefined;
  const r = parseScaled(textContent(el).trim(), attrValue(el, 'unit'), LLONG_MAX);
  return r.ok ? r.bytes : undefined;
}

/** Reads the <volume> root once; every consumer (mapping, editor, CLI) takes its fields from here. */
export function readVolume(vol: XmlElement | undefined): VolumeDoc {
  const target = firstChild(vol, 'target');
  const enc = firstChild(target, 'encryption');
  const cipher = firstChild(enc, 'cipher');
  const ivgen = firstChild(enc, 'ivgen');
  const perms = firstChild(target, 'permissions');
  const features = firstChild(target, 'features');
  const backing = firstChild(vol, 'backingStore');
  const backingPath = text(firstChild(backing, 'path'));
  return {
    name: text(firstChild(vol, 'name')) || undefined,
    capacity: scaled(firstChild(vol, 'capacity')),
    allocation: scaled(firstChild(vol, 'allocation')),
    target: {
      path: text(firstChild(target, 'path')) || undefined,
      format: attrValue(firstChild(target, 'format'), 'type') ?? 'raw',
      permissions: perms && {
        mode: text(firstChild(perms, 'mode')),
        owner: text(firstChild(perms, 'owner')),
        group: text(firstChild(perms, 'group')),
        label: text(firstChild(perms, 'label')),
      },
      compat: text(firstChild(target, 'compat')) || undefined,
      features: features && {
        lazyRefcounts: !!firstChild(features, 'lazy_refcounts'),
        extendedL2: !!firstChild(features, 'extended_l2'),
      },
      nocow: !!firstChild(target, 'nocow'),
      clusterSize: scaled(firstChild(target, 'clusterSize')),
      encryption: enc && {
        format: attrValue(enc, 'format'),
        secrets: childElements(enc, 'secret').map((s) => ({
          type: attrValue(s, 'type'),
          uuid: attrValue(s, 'uuid'),
          usage: attrValue(s, 'usage'),
        })),
        cipher: cipher && {
          name: attrValue(cipher, 'name'),
          size: attrValue(cipher, 'size'),
          mode: attrValue(cipher, 'mode'),
          hash: attrValue(cipher, 'hash'),
        },
        ivgen: ivgen && { name: attrValue(ivgen, 'name'), hash: attrValue(ivgen, 'hash') },
      },
    },
    backingStore: backingPath
      ? { path: backingPath, format: attrValue(firstChild(backing, 'format'), 'type') ?? 'raw' }
      : undefined,
  };
}

/**
 * qemu's cipher-alg from <cipher name size>: virQEMUBuildLuksOpts joins them with '-' whatever
 * the name, even empty (so `sm4`/`des` cannot be expressed); undefined unless both are present.
 */
export function cipherAlg(c: { name?: string; size?: string } | undefined): string | undefined {
  return c?.name !== undefined && c.size !== undefined ? `${c.name}-${c.size}` : undefined;
}

/** libvirt's compat default for qcow2 targets: 0.10 before 10.2.0, 1.1 since. */
export function defaultCompat(libvirtVersion: string): string {
  return compareVersions(libvirtVersion, '10.2.0') < 0 ? '0.10' : '1.1';
}

/**
 * qcow2 with `<encryption format='qcow'|'default'>`: legacy qcow AES, which libvirt created
 * before 4.5.0 (`encryption=on`; since then the driver refuses it). The writer and Create
 * Volume's prompts decide from this one test.
 */
export function isLegacyAes(v: VolumeDoc): boolean {
  const e = v.target.encryption;
  return !!e && v.target.format === 'qcow2' && e.format !== 'luks';
}

/** The qemu secret object id libvirt gives a volume's passphrase (storage_util.c: "<name>_encrypt0"). */
export function secretId(v: VolumeDoc): string {
  return `${v.name || 'volume'}_encrypt0`;
}

/**
 * Target formats libvirt hands to `qemu-img create -f` unchanged (virStorageFileFormat names
 * with a qemu-img path in storageBackendCreateQemuImg); iso goes as raw (the storage driver
 * treats it as a raw file). qemu-img itself refuses some of these (bochs, cloop, dmg: no
 * creation; cow, fat: unknown), which the language service reports.
 */
const AS_RAW = new Set(['iso']);

/** Shown instead of the real secret file libvirt writes under its run directory. */
export const SECRET_FILE_PLACEHOLDER = 'SECRETFILE';

export interface VolumeCreation {
  /** `qemu-img`: libvirt runs qemu-img with `argv`; `file`: it writes a plain raw file itself. */
  tool: 'qemu-img' | 'file';
  /** qemu-img's arguments (after the program name) as libvirt passes them; empty for `file`. */
  argv: string[];
  /** One line for the user: the qemu-img command, or what libvirt does without qemu-img. */
  commandLine: string;
  /**
   * What our writer creates: the same format, options and size. The passphrase reaches it
   * through the caller's --passphrase-* / request, never a secret object, so LUKS arguments
   * carry no key-secret (legacy AES keeps libvirt's: it derives nothing at creation).
   */
  args: CreateArgs;
  /** qemu-img format libvirt uses (`luks` for an encrypted raw target, `raw` for iso). */
  format: string;
  /** The LUKS options as values (raw LUKS or LUKS in qcow2; no key-secret): the writer's input. */
  luks?: LuksOptionInput;
  /** `qemu-img`: the `-o` list as libvirt passes it (key-secret included); vol-create-from reuses it. */
  qemuOptions?: string[];
  encrypted: boolean;
  legacyAes: boolean;
  /**
   * `file` only: the file's length in bytes (the capacity, not rounded to 512 as qemu-img's raw
   * driver rounds `args.size`); the writer's plan takes this length.
   */
  length?: bigint;
  /** `file` only: bytes libvirt allocates (fallocate from offset 0; may extend past capacity). */
  allocate?: bigint;
  /** libvirt's error when the storage driver refuses the request (a flag the document cannot show). */
  refusal?: string;
  /**
   * The target's <permissions> as the storage driver applies them to the new file (storage_util.c
   * storageBackendCreateRaw / virStorageBackendCreateExecCommand: owner and group when given, then the
   * mode, VIR_STORAGE_DEFAULT_VOL_PERM_MODE 0600 when none is given — the writer's default).
   */
  permissions?: { mode?: number; owner?: number; group?: number };
  /**
   * Set for pools whose volumes are not files built by storage_util.c (logical volumes, disk
   * partitions, rbd images, …): the mapping above does not describe them and nothing is created.
   */
  notAFilePool?: string;
}

/** Image formats this project's writer creates (writer/create.ts, writer/luks/createLuks.ts). */
export const WRITER_FORMATS: readonly string[] = ['raw', 'qcow2', 'luks'];

/** Why `create` stops for a format libvirt hands to qemu-img but the writer does not make. */
export function unwritableFormat(c: VolumeCreation): string {
  return (
    `libvirt would create this ${c.format} image with qemu-img (${c.commandLine}); ` +
    `libvirt-volume writes ${WRITER_FORMATS.join(', ')} images only`
  );
}

/**
 * The storage driver's own refusals of `--prealloc-metadata` (libvirt 9.0 storage_util.c:
 * storageBackendCreateRaw, storageBackendCreateQemuImgSetBacking and the qcow2-only check).
 */
function preallocRefusal(v: VolumeDoc, plainRaw: boolean): string | undefined {
  if (plainRaw) return 'metadata preallocation is not supported for raw volumes';
  if (v.backingStore) return 'metadata preallocation conflicts with backing store';
  if (v.target.format !== 'qcow2') return 'metadata preallocation only available with qcow2';
  return undefined;
}

export interface CreationOptions {
  /** Where the image goes (libvirt: the pool's target path + name). */
  output: string;
  libvirtVersion: string;
  /** `virsh vol-create --prealloc-metadata` (VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA). */
  preallocMetadata?: boolean;
  /** The file libvirt would write the passphrase to; default SECRET_FILE_PLACEHOLDER. */
  secretFile?: string;
  /** The pool the volume is created in (default dir). */
  poolType?: PoolType;
}

const quote = (s: string) => (/^[\w./:=,+@%-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
// virQEMUBuildBufferEscapeComma: a comma inside a value is doubled.
const escComma = (s: string) => s.replace(/,/g, ',,');

/** The LUKS options libvirt builds (virQEMUBuildLuksOpts), without the key-secret, in its order. */
function luksValues(e: VolumeEncryption): LuksOptionInput {
  const o: LuksOptionInput = {};
  const alg = cipherAlg(e.cipher);
  if (alg) o['cipher-alg'] = alg;
  if (e.cipher?.mode) o['cipher-mode'] = e.cipher.mode;
  if (e.cipher?.hash) o['hash-alg'] = e.cipher.hash;
  if (e.ivgen?.name) o['ivgen-alg'] = e.ivgen.name;
  if (e.ivgen?.hash) o['ivgen-hash-alg'] = e.ivgen.hash;
  return o;
}

/** `-o` spelling of the LUKS values: prefixed, commas doubled as virQEMUBuildBufferEscapeComma does. */
function luksOptions(values: LuksOptionInput, prefix: string): string[] {
  return Object.entries(values).map(([k, v]) => `${prefix}${k}=${escComma(String(v))}`);
}

/**
 * What libvirt's storage driver (dir/fs/netfs pools) does for this volume, and the writer's
 * arguments for the same image. The document is assumed valid (the language service's errors
 * gate creation); the option order is storageBackendCreateQemuImgOpts': backing_fmt, encryption,
 * preallocation, nocow, compat, cluster_size, features.
 */
export function volumeCreation(v: VolumeDoc, opts: CreationOptions): VolumeCreation {
  return creation(v, opts, false);
}

/** `rawByQemuImg`: a plain raw target made by `qemu-img create` too (vol-create-from's first step). */
function creation(v: VolumeDoc, opts: CreationOptions, rawByQemuImg: boolean): VolumeCreation {
  const c = fileVolumeCreation(v, opts, rawByQemuImg);
  c.permissions = filePermissions(v.target.permissions);
  const pool = opts.poolType ?? 'dir';
  if (!FILE_POOL_TYPES.includes(pool)) {
    c.notAFilePool =
      `libvirt creates the volumes of a ${pool} pool with that backend's own tools, not as image files; ` +
      `libvirt-volume creates what ${FILE_POOL_TYPES.join(', ')} pools create`;
  }
  return c;
}

/** virStorageDefParsePerms: mode in octal, owner/group as numbers, -1 meaning "not given". */
function filePermissions(p: VolumePermissions | undefined): VolumeCreation['permissions'] {
  if (!p) return undefined;
  const id = (t: string | undefined) => (t && /^\d+$/.test(t) ? Number(t) : undefined);
  const mode = p.mode && /^[0-7]+$/.test(p.mode) ? parseInt(p.mode, 8) : undefined;
  return { mode, owner: id(p.owner), group: id(p.group) };
}

function fileVolumeCreation(v: VolumeDoc, opts: CreationOptions, rawByQemuImg: boolean): VolumeCreation {
  const t = v.target;
  const enc = t.encryption;
  const encrypted = !!enc;
  const legacyAes = isLegacyAes(v);
  const capacity = v.capacity ?? 0n;
  // virStorageVolDefParseXML: no <allocation> means allocation = capacity.
  const allocation = v.allocation ?? capacity;
  const base = AS_RAW.has(t.format) ? 'raw' : t.format;

  if (t.format === 'raw' && !encrypted && !rawByQemuImg) {
    // storageBackendCreateRaw: the file is truncated to the capacity in bytes and `allocation`
    // bytes from offset 0 are allocated (fallocate); no qemu-img, no KiB rounding.
    // The writer allocates all or nothing: a partial <allocation> stays sparse.
    const o: string[] = [];
    if (capacity > 0n && allocation >= capacity) o.push('preallocation=falloc');
    if (t.nocow) o.push('nocow=on');
    const args: CreateArgs = { format: 'raw', filename: opts.output, size: String(capacity) };
    if (o.length) args.options = [o.join(',')];
    const allocated = allocation >= capacity ? 'all' : `${allocation} bytes`;
    const commandLine =
      `(no qemu-img: libvirt writes the raw file itself) ${quote(opts.output)}: ${capacity} bytes, ` +
      `${allocated} allocated`;
    const refusal = opts.preallocMetadata ? preallocRefusal(v, true) : undefined;
    return {
      tool: 'file',
      argv: [],
      commandLine,
      args,
      format: 'raw',
      encrypted,
      legacyAes,
      length: capacity,
      allocate: allocation,
      refusal,
    };
  }

  const format = base === 'raw' && encrypted ? 'luks' : base;
  const o: string[] = [];
  const writerOpts: string[] = [];
  const both = (...xs: string[]) => {
    o.push(...xs);
    writerOpts.push(...xs);
  };
  let secret: string | undefined;
  const luks = enc && !legacyAes ? luksValues(enc) : undefined;
  if (format === 'luks') {
    secret = secretId(v);
    o.push(`key-secret=${secret}`);
    both(...luksOptions(luks!, ''));
  } else {
    if (v.backingStore) both(`backing_fmt=${v.backingStore.format}`);
    if (legacyAes) {
      // libvirt < 4.5.0 passed `encryption=on`; qemu-img 7.2 also wants a key secret.
      both('encryption=on', `encrypt.key-secret=${secretId(v)}`);
    } else if (encrypted) {
      secret = secretId(v);
      o.push('encrypt.format=luks', `encrypt.key-secret=${secret}`);
      writerOpts.push('encrypt.format=luks');
      both(...luksOptions(luks!, 'encrypt.'));
    }
    if (opts.preallocMetadata) both(allocation < capacity ? 'preallocation=metadata' : 'preallocation=falloc');
  }
  if (t.nocow) both('nocow=on');
  if (format === 'qcow2') {
    // A <features> element without <compat> makes libvirt's parser set compat 1.1.
    both(`compat=${t.compat ?? (t.features ? '1.1' : defaultCompat(opts.libvirtVersion))}`);
  }
  if (t.clusterSize !== undefined) both(`cluster_size=${t.clusterSize}`);
  if (format === 'qcow2' && t.features) {
    if (t.features.lazyRefcounts) both('lazy_refcounts');
    if (t.features.extendedL2) both('extended_l2=on');
  }
  // A backing store and no capacity: libvirt passes no size and qemu-img takes the backing image's.
  const size = v.capacity === undefined && v.backingStore ? undefined : `${(capacity + 1023n) / 1024n}K`;
  const argv = ['create', '-f', format];
  if (v.backingStore) argv.push('-b', v.backingStore.path);
  if (secret) argv.push('--object', `secret,id=${secret},file=${opts.secretFile ?? SECRET_FILE_PLACEHOLDER}`);
  if (o.length) argv.push('-o', o.join(','));
  argv.push(opts.output);
  if (size !== undefined) argv.push(size);
  const args: CreateArgs = { format, filename: opts.output };
  if (size !== undefined) args.size = size;
  if (v.backingStore) args.backingFile = v.backingStore.path;
  if (writerOpts.length) args.options = [writerOpts.join(',')];
  const refusal = opts.preallocMetadata ? preallocRefusal(v, false) : undefined;
  return {
    tool: 'qemu-img',
    argv,
    commandLine: ['qemu-img', ...argv].map(quote).join(' '),
    args,
    format,
    luks,
    qemuOptions: o,
    encrypted,
    legacyAes,
    refusal,
  };
}

/**
 * The input volume of vol-create-from as the storage driver knows it once the pool has probed the
 * file (virStorageFileProbe): a raw LUKS file is format raw with LUKS encryption, an encrypted qcow2
 * is qcow2 with LUKS (or legacy `qcow`) encryption.
 */
export interface InputVolume {
  path: string;
  /** The volume's name (a dir pool: the file name); its secret object id is `<name>_encrypt0`. */
  name: string;
  format: string;
  /** Guest-visible bytes (a LUKS image: its payload). */
  capacity: bigint;
  /** `luks`, or `qcow` for legacy qcow AES; absent when not encrypted. */
  encryption?: string;
}

/** What libvirt's storage driver does at `virsh vol-create-from` (dir/fs/netfs pools). */
export interface VolumeFromCreation {
  /**
   * `copy`: raw to raw, nothing encrypted — libvirt copies the bytes itself (storage_util.c
   * storageBackendCreateRaw → createRawFile → virStorageBackendCopyToFD); `qemu-img`: `runs`.
   */
  tool: 'qemu-img' | 'copy';
  /**
   * qemu-img argv (after the program name) in order: one `convert -f IN -O OUT [-o …]`; or, when
   * either side is encrypted, `create` of the output then `convert --image-opts -n
   * --target-image-opts` with a secret object per encrypted side (output's first).
   */
  runs: string[][];
  /** For the user: the qemu-img command lines (one per line), or what libvirt does without qemu-img. */
  commandLine: string;
  /** qemu format of the output (`luks` for an encrypted raw target, `raw` for iso). */
  format: string;
  /**
   * The output's size in bytes: libvirt raises the new volume's capacity to the input's
   * (storage_driver.c storageVolCreateXMLFrom). A one-step `qemu-img convert` ignores it and
   * makes the output exactly the input's size, as `convert` does.
   */
  size: bigint;
  /**
   * The output created first (two steps) or the options the one-step convert passes: the
   * vol-create mapping of the same XML without its backing store (libvirt ignores it when
   * converting) and with the raised capacity. Its `args` are the writer's creation arguments.
   */
  output: VolumeCreation;
  /** `copy` only: the raw file is allocated (fallocate) up front, zero blocks are skipped either way. */
  allocate?: bigint;
  /** The input's qemu format (`luks` for raw LUKS). */
  inputFormat: string;
  inputEncrypted: boolean;
  refusal?: string;
  notAFilePool?: string;
}

/**
 * libvirt 9.0's vol-create-from for a file volume (storage_util.c: virStorageBackendGetBuildVolFromFunction
 * picks the raw copy or qemu-img; virStorageBackendCreateQemuImgCmdFromVol with an inputvol builds the
 * convert line, storageBackendCreateQemuImgSetInput the input's format, and an encrypted side splits
 * it into create + `convert -n` with --image-opts/--target-image-opts and secret objects).
 */
export function volumeCreationFrom(v: VolumeDoc, input: InputVolume, opts: CreationOptions): VolumeFromCreation {
  const capacity = v.capacity === undefined || v.capacity < input.capacity ? input.capacity : v.capacity;
  const allocation = v.allocation ?? v.capacity ?? 0n;
  // The backing store is not used (the input's content is the image); a raised capacity is the size.
  const copy = v.target.format === 'raw' && !v.target.encryption && input.format === 'raw' && !input.encryption;
  // Unless libvirt copies the bytes itself, qemu-img makes a raw output too (its options, not the raw file's).
  const output = creation({ ...v, capacity, allocation, backingStore: undefined }, opts, !copy);
  const inputFormat = AS_RAW.has(input.format)
    ? 'raw'
    : input.format === 'raw' && input.encryption
      ? 'luks'
      : input.format;
  const inputEncrypted = !!input.encryption;
  const base = { size: capacity, output, inputFormat, inputEncrypted, notAFilePool: output.notAFilePool };
  // storageBackendCreateQemuImg: an encrypted input must be LUKS (libvirt 4.5.0+).
  let refusal =
    input.encryption && input.encryption !== 'luks' ? 'encryption format of inputvol must be LUKS' : undefined;
  if (copy) {
    refusal ??= opts.preallocMetadata ? preallocRefusal(v, true) : undefined;
    // createRawFile: truncate to the capacity; fallocate the allocation unless it is below the
    // input's capacity; copy with zero blocks skipped (lseek), then fsync.
    const allocate = allocation >= input.capacity ? allocation : undefined;
    const how = allocate !== undefined ? `${allocate} bytes allocated` : 'zero blocks left as holes';
    const commandLine =
      `(no qemu-img: libvirt copies the bytes itself) ${quote(input.path)} → ${quote(opts.output)}: ` +
      `${capacity} bytes, ${how}`;
    return { ...base, tool: 'copy', runs: [], commandLine, format: 'raw', allocate, refusal };
  }
  refusal ??= opts.preallocMetadata ? preallocRefusal(v, false) : undefined;
  const format = output.format;
  let runs: string[][];
  if (!output.encrypted && !inputEncrypted) {
    const o = output.qemuOptions ?? [];
    runs = [
      ['convert', '-f', inputFormat, '-O', format, ...(o.length ? ['-o', o.join(',')] : []), input.path, opts.output],
    ];
  } else {
    const secretFile = opts.secretFile ?? SECRET_FILE_PLACEHOLDER;
    const side = (fmt: string, path: string, secret: string | undefined) =>
      `driver=${fmt},file.filename=${escComma(path)}` +
      (secret ? `,${fmt === 'luks' ? '' : 'encrypt.'}key-secret=${secret}` : '');
    const outSecret = output.encrypted && !output.legacyAes ? secretId(v) : undefined;
    const inSecret = inputEncrypted ? `${input.name}_encrypt0` : undefined;
    const objects = [outSecret, inSecret].flatMap((id) =>
      id ? ['--object', `secret,id=${id},file=${secretFile}`] : [],
    );
    runs = [
      output.argv,
      [
        'convert',
        '--image-opts',
        '-n',
        '--target-image-opts',
        ...objects,
        side(inputFormat, input.path, inSecret),
        side(format, opts.output, outSecret),
      ],
    ];
  }
  const commandLine = runs.map((r) => ['qemu-img', ...r].map(quote).join(' ')).join('\n');
  return { ...base, tool: 'qemu-img', runs, commandLine, format, refusal };
}

/**
 * An image file as vol-create-from's input, from its header facts (writer/probe.ts), as a dir
 * pool's refresh sees it: a LUKS file is raw with LUKS encryption, an AES qcow2 has `qcow`.
 */
export function inputVolume(path: string, facts: ImageFacts): InputVolume {
  const luksFile = facts.format === 'luks';
  const encryption =
    luksFile || facts.encryptFormat === 'luks' ? 'luks' : facts.encryptFormat === 'aes' ? 'qcow' : undefined;
  return {
    path,
    name: path.slice(path.lastIndexOf('/') + 1),
    format: luksFile ? 'raw' : facts.format,
    capacity: BigInt(facts.virtualSize ?? facts.fileSize ?? 0),
    encryption,
  };
}
