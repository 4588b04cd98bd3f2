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
  /** Logs an internal problem (an exception inside one rule). */
  log?(message: string): void;
}
