// Shared types of the language service. Diagnostics, positions and edits are LSP types
// (vscode-languageserver-types has no runtime dependencies on an editor or a connection).
import type { PoolType } from '../../../schemas/vocabulary';

export type Severity = 'error' | 'warning' | 'information' | 'hint';

/**
 * Where libvirt enforces a rule (the stage of libvirt or qemu whose refusal the rule reports), plus
 * this project's own layers. docs/rules.md prints these descriptions.
 */
export const LAYERS = {
  SYNTAX: 'XML well-formedness (libxml2)',
  PARSE: "libvirt's XML parser",
  RNG: "libvirt's RelaxNG schema only (virt-xml-validate, --validate)",
  CREATE: 'storage driver at vol-create',
  'DEF-VAL': 'generic domain validation at define',
  'QEMU-VAL': 'qemu driver validation at define/start',
  'QEMU-IMG': 'qemu-img refusing the values libvirt passes on',
  RUNTIME: 'secret lookup, VM start',
  LINT: 'libvirt accepts; a trap, a deprecation or a weak choice',
  IMAGE: 'what the image file on disk says',
  WORKSPACE: 'cross-file facts (secrets in the workspace)',
  HOST: 'the libvirt host of libvirtVolume.connection (its secrets, pools and volumes)',
} as const;

export type Layer = keyof typeof LAYERS;

export interface RuleDef {
  /** Stable id, kebab-case; used as Diagnostic.code and in severity overrides. */
  id: string;
  severity: Severity;
  /**
   * Message template; `{name}` placeholders are filled from the report's arguments. libvirt's wording
   * where it has one.
   */
  message: string;
  layer: Layer;
  /** libvirt version range in which the rule applies. */
  since?: string;
  until?: string;
  /** Documentation link (Diagnostic.codeDescription.href). */
  doc: string;
  /** Tag of the libvirt or qemu check this rule implements (rules implementing one check share it). */
  ref?: string;
}

export interface LanguageSettings {
  /** libvirt version to judge against; default NEWEST_LIBVIRT. */
  libvirtVersion?: string;
  /** Pool type a <volume> document is created in; default 'dir'. */
  poolType?: PoolType;
  /** Per-rule severity overrides. */
  severity?: Record<string, Severity | 'ignore'>;
  /** Read headers of local images (issue 7). */
  imageChecks?: boolean;
  /**
   * Pool of the host a <volume> is meant for (`libvirtVolume.pool`); a document's
   * `<!-- libvirt-volume: pool=NAME -->` wins. Used only when host facts are known.
   */
  pool?: string;
}

/** A `<secret>` document known in the workspace. */
export interface SecretInfo {
  uri: string;
  uuid: string | undefined;
  usageType: string | undefined;
  /** `<usage><volume>` path for usage type volume. */
  usageVolume: string | undefined;
  /** Offsets of the uuid text in the secret document. */
  uuidRange?: { start: { line: number; character: number }; end: { line: number; character: number } };
}

/** An `<encryption><secret uuid=…>` reference found in a workspace document (for find references). */
export interface SecretUse {
  uri: string;
  /** The uuid as written (compare with normaliseUuid from secrets.ts). */
  uuid: string;
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
}

/** What an image file's header says: the writer's reader owns the contract (writer/probe.ts). */
export type { ImageFacts, LuksParams } from '../writer/probe';
import type { ImageFacts } from '../writer/probe';

/** A secret of the libvirt host (secret-dumpxml): never its value. */
export interface HostSecret {
  /** Canonical 8-4-4-4-12 form, as libvirt prints it. */
  uuid: string;
  /** `<usage type>`: volume, ceph, iscsi, tls, vtpm; undefined without <usage>. */
  usageType?: string;
  /** `<usage>`'s <volume>, <name> or <target> (virSecretDefFormatUsage). */
  usageId?: string;
  ephemeral: boolean;
  private: boolean;
}

/** A volume of a host pool (vol-list + vol-dumpxml). */
export interface HostVolume {
  name: string;
  path: string;
  /** Bytes; undefined when vol-dumpxml was not read (pools with very many volumes). */
  capacity?: number;
  format?: string;
}

/** A storage pool of the host (pool-list --all + pool-dumpxml). */
export interface HostPool {
  name: string;
  type: string;
  active: boolean;
  /** `<target><path>`: the folder (dir pools) or device prefix the volumes live under. */
  path?: string;
  /** Bytes (pool-dumpxml's <capacity>/<available>, 0 for an inactive pool). */
  capacity?: number;
  available?: number;
  volumes: HostVolume[];
}

/**
 * What the libvirt host of the connection holds, as one snapshot: gathered by server/src/host/facts.ts
 * in the background, injected into the pure service (which never calls virsh).
 */
export interface HostFacts {
  /** The connection URI these facts came from (messages name it). */
  uri: string;
  /** secret-list failed or is not supported by the driver (test:///): no secret rule may fire. */
  secretsKnown: boolean;
  secrets: HostSecret[];
  pools: HostPool[];
  /**
   * Whether a path names a file on the host: true/false on a local connection (a stat by the
   * environment, answered from its cache), undefined when unknown (remote hosts, or not read yet).
   */
  fileExists?(path: string): boolean | undefined;
}

/**
 * Injected I/O: the service never touches the file system itself (ARCHITECTURE.md).
 * The LSP layer and the CLI provide implementations.
 */
export interface ServiceEnvironment {
  /** Secrets indexed in the workspace (empty when unknown). */
  secrets?(): SecretInfo[];
  /** Encryption secret uuid references in the workspace's XML files (empty when unknown). */
  secretUses?(): SecretUse[];
  /** A fresh random UUID (default: globalThis.crypto.randomUUID). Injected so tests are deterministic. */
  randomUUID?(): string;
  /** Header facts of a local file, or undefined if missing/unreadable. Must be bounded in time. */
  imageFacts?(path: string, baseUri: string): ImageFacts | undefined;
  /** True when a regular file exists at this absolute path (one stat; for template lookups of playbooks). */
  isFile?(path: string): boolean;
  /**
   * The last snapshot of the connection's host, or undefined (offline, or not gathered yet). Must
   * answer at once: a refresh runs in the background and re-validates when its facts arrive.
   */
  hostFacts?(): HostFacts | undefined;
  /** Logs an internal problem (an exception inside one rule). */
  log?(message: string): void;
}
