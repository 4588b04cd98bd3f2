// Whole-block snippets: LUKS <encryption> with a fresh secret uuid, complete raw / qcow2 /
// encrypted volumes and a volume-usage <secret>. Bodies leave out the leading `<` (completion adds
// it when the user has not typed it). Every body is accepted by `virsh vol-create` / `define` /
// `secret-define` as written (test/oracle/quickFixes.test.ts).
import type { XmlElement } from './xmlModel';

export interface Snippet {
  label: string;
  /** Text the client filters against (without `<`). */
  filter: string;
  detail: string;
  /** LSP snippet syntax, without the leading `<`. */
  body: string;
  /** Plain preview for the documentation pane, without the leading `<`. */
  preview: string;
  /** Offered only when the parent has no child of this name yet. */
  single?: string;
}

export interface SnippetOptions {
  /** False inside a domain disk: `<cipher>` is refused there (domain_validate.c). */
  cipherAllowed: boolean;
  /** Target path of the volume, for the secret's usage. */
  targetPath?: string;
}

/** Replaces `${n:default}` / `${n|a,b|}` / `$0` placeholders by their first value (for previews). */
export function snippetToText(body: string): string {
  return body
    .replace(/\$\{\d+\|([^,|]*)[^}]*\|\}/g, '$1')
    .replace(/\$\{\d+:([^}]*)\}/g, '$1')
    .replace(/\$\{\d+\}|\$\d+/g, '')
    .replace(/\\([$}\\])/g, '$1');
}

function mk(label: string, filter: string, detail: string, body: string, single?: string): Snippet {
  return { label, filter, detail, body, preview: snippetToText(body), single };
}

function luks(uuid: string, withCipher: boolean, tab = 1): string {
  const lines = [`encryption format='luks'>`, `\t<secret type='passphrase' uuid='\${${tab}:${uuid}}'/>`];
  if (withCipher) {
    lines.push(
      `\t<cipher name='\${${tab + 1}|aes,serpent,twofish|}' size='\${${tab + 2}|256,192,128|}' ` +
        `mode='xts' hash='sha256'/>`,
    );
    lines.push(`\t<ivgen name='plain64'/>`);
  }
  lines.push('</encryption>');
  return lines.join('\n');
}

function volume(name: string, format: 'raw' | 'qcow2', encUuid: string | undefined): string {
  const ext = format === 'raw' ? 'img' : 'qcow2';
  const lines = [
    'volume>',
    `\t<name>\${1:${name}.${ext}}</name>`,
    `\t<capacity unit='\${2|GiB,MiB,TiB|}'>\${3:10}</capacity>`,
  ];
  // Sparse: without <allocation> libvirt writes a raw volume fully allocated.
  if (!encUuid || format === 'qcow2') lines.push(`\t<allocation>0</allocation>`);
  lines.push('\t<target>', `\t\t<format type='${format}'/>`);
  if (format === 'qcow2') lines.push('\t\t<compat>1.1</compat>');
  lines.push('\t\t<permissions>', '\t\t\t<mode>0600</mode>', '\t\t</permissions>');
  if (encUuid) {
    lines.push(
      `\t\t<encryption format='luks'>`,
      `\t\t\t<secret type='passphrase' uuid='\${4:${encUuid}}'/>`,
      '\t\t</encryption>',
    );
  }
  lines.push('\t</target>', '</volume>');
  return lines.join('\n');
}

function secretDoc(uuid: string, path: string): string {
  return [
    `secret ephemeral='no' private='yes'>`,
    `\t<uuid>\${1:${uuid}}</uuid>`,
    `\t<description>\${2:passphrase of ${path.replace(/[$}\\]/g, '')}}</description>`,
    `\t<usage type='volume'>`,
    `\t\t<volume>\${3:${path.replace(/[$}\\]/g, (c) => `\\${c}`)}}</volume>`,
    '\t</usage>',
    '</secret>',
  ].join('\n');
}

/** The snippets that fit as children of `parent` (top level when undefined). */
export function snippetsFor(parent: XmlElement | undefined, uuid: () => string, o: SnippetOptions): Snippet[] {
  if (!parent) {
    return [
      mk('volume (qcow2)', 'volume-qcow2', 'qcow2 volume, compat 1.1, sparse', volume('disk', 'qcow2', undefined)),
      mk('volume (raw)', 'volume-raw', 'raw volume', volume('disk', 'raw', undefined)),
      mk(
        'volume (encrypted qcow2)',
        'volume-encrypted-qcow2',
        'qcow2 volume with LUKS encryption and a fresh secret uuid',
        volume('disk', 'qcow2', uuid()),
      ),
      mk(
        'volume (encrypted raw, LUKS)',
        'volume-encrypted-raw',
        'raw LUKS container with a fresh secret uuid',
        volume('disk', 'raw', uuid()),
      ),
      mk(
        'secret (volume passphrase)',
        'secret-volume',
        'libvirt secret for a volume passphrase',
        secretDoc(uuid(), '/var/lib/libvirt/images/disk.qcow2'),
      ),
      mk('encryption (LUKS)', 'encryption-luks', 'LUKS encryption with a fresh secret uuid', luks(uuid(), false)),
    ];
  }
  const encParent =
    (parent.name === 'target' && parent.parent?.name === 'volume') ||
    (parent.name === 'source' && (parent.parent?.name === 'disk' || parent.parent?.name === 'backingStore'));
  if (!encParent) return [];
  const out = [
    mk(
      'encryption (LUKS)',
      'encryption-luks',
      'LUKS encryption with a fresh secret uuid (qemu defaults aes-256-xts-plain64, sha256)',
      luks(uuid(), false),
      'encryption',
    ),
  ];
  if (o.cipherAllowed)
    out.push(
      mk(
        'encryption (LUKS, explicit cipher)',
        'encryption-luks-cipher',
        'LUKS encryption with cipher and ivgen spelled out',
        luks(uuid(), true),
        'encryption',
      ),
    );
  return out;
}
