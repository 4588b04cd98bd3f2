// Hover on image paths (issue 7): a short `qemu-img info`-like summary of the file a path names
// (format, virtual size, allocation, cluster size, compat, encryption, backing chain), read
// through env.imageFacts. The formatter is pure; imageHover() finds the path under the cursor.
import type { Hover } from 'vscode-languageserver-types';
import { weakChoices } from '../../../schemas/weakCrypto';
import { qemuSizeText } from '../common/bytes';
import { imageRefAt, ImageReader, resolveImagePath, type Chain } from './imageRefs';
import type { ImageFacts, LanguageSettings, ServiceEnvironment } from './types';
import type { LineIndex, XmlDocument } from './xmlModel';

/** LUKS parameters, wherever the reader put them (top level or under `encrypt`/`luks`). */
export interface LuksFacts {
  cipherAlg?: string;
  cipherMode?: string;
  ivgenAlg?: string;
  ivgenHashAlg?: string;
  hashAlg?: string;
  /** Active key slots and the total (LUKS1 has 8). */
  activeSlots?: number;
  totalSlots?: number;
  payloadOffset?: number;
}

/** The LUKS parameters of an image and its key-slot counts, from the reader's `luks` facts. */
export function luksFacts(f: ImageFacts): LuksFacts | undefined {
  const l = f.luks;
  if (!l) return undefined;
  const { cipherAlg, cipherMode, ivgenAlg, ivgenHashAlg, hashAlg, payloadOffset, slots } = l;
  const out: LuksFacts = { cipherAlg, cipherMode, ivgenAlg, ivgenHashAlg, hashAlg, payloadOffset };
  if (slots) {
    out.totalSlots = slots.length;
    out.activeSlots = slots.filter((s) => s.active).length;
  }
  return Object.values(out).some((v) => v !== undefined) ? out : undefined;
}

function sizeText(n: number): string {
  return n < 1024 ? `${n} B` : `${qemuSizeText(n)} (${n} bytes)`;
}

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1) || p;
}

/** The `qemu-img info`-like lines for one image. */
export function imageInfoLines(path: string, f: ImageFacts): string[] {
  const lines = [`image: ${path}`, `file format: ${f.format}`];
  if (f.virtualSize !== undefined) lines.push(`virtual size: ${sizeText(f.virtualSize)}`);
  if (f.actualSize !== undefined) lines.push(`disk size: ${qemuSizeText(f.actualSize)}`);
  if (f.clusterSize !== undefined) lines.push(`cluster_size: ${f.clusterSize}`);
  if (f.backingFile) lines.push(`backing file: ${f.backingFile}`);
  if (f.backingFormat) lines.push(`backing file format: ${f.backingFormat}`);
  const encrypted = f.format === 'luks' || f.encrypted === true || !!f.encryptFormat;
  if (encrypted) lines.push('encrypted: yes');
  const specific: string[] = [];
  if (f.compat) specific.push(`compat: ${f.compat}`);
  for (const k of ['lazyRefcounts', 'refcountBits', 'compressionType', 'dataFile', 'extendedL2'] as const) {
    const v = f[k];
    if (v === undefined || v === false) continue;
    specific.push(`${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}: ${String(v)}`);
  }
  if (encrypted) {
    const fmt = f.format === 'luks' ? 'luks' : (f.encryptFormat ?? 'luks');
    const l = luksFacts(f);
    const enc = [`format: ${fmt}`];
    if (l?.cipherAlg) enc.push(`cipher alg: ${l.cipherAlg}`);
    if (l?.cipherMode) enc.push(`cipher mode: ${l.cipherMode}`);
    if (l?.ivgenAlg) enc.push(`ivgen alg: ${l.ivgenAlg}`);
    if (l?.ivgenHashAlg) enc.push(`ivgen hash alg: ${l.ivgenHashAlg}`);
    if (l?.hashAlg) enc.push(`hash alg: ${l.hashAlg}`);
    if (l?.activeSlots !== undefined)
      enc.push(`key slots: ${l.activeSlots} active${l.totalSlots ? ` of ${l.totalSlots}` : ''}`);
    if (f.format === 'luks') specific.push(...enc.slice(1));
    else specific.push('encrypt:', ...enc.map((e) => `    ${e}`));
  }
  if (specific.length) lines.push('Format specific information:', ...specific.map((s) => `    ${s}`));
  return lines;
}

/** Weak choices the image itself carries (its LUKS header, or legacy AES). */
export function imageWeaknesses(f: ImageFacts): string[] {
  if (f.encryptFormat === 'aes') return weakChoices({ legacyAes: true }).map((w) => w.summary);
  if (!(f.format === 'luks' || f.encrypted)) return [];
  const l = luksFacts(f);
  if (!l) return [];
  return weakChoices({ ...l, sizeBytes: f.virtualSize }).map((w) => w.summary);
}

/** Markdown for a path hover: the first image's info, its weaknesses and the backing chain. */
export function formatImageSummary(chain: Chain): string {
  const top = chain.links[0];
  if (!top) return '';
  const out = ['```text', ...imageInfoLines(top.path, top.facts), '```'];
  const weak = imageWeaknesses(top.facts);
  if (weak.length) out.push('', ...weak.map((w) => `⚠ weak encryption: ${w}`));
  if (chain.links.length > 1 || chain.loopsTo || top.facts.backingFile) {
    const names = chain.links.map((l) => `\`${baseName(l.path)}\` (${l.facts.format})`);
    const last = chain.links[chain.links.length - 1];
    let tail = '';
    if (chain.loopsTo) tail = ` → \`${baseName(chain.loopsTo)}\` ⚠ loop`;
    else if (last.facts.backingFile && !last.backing) tail = ` → \`${last.facts.backingFile}\` (not a local file)`;
    else if (last.backing) tail = ` → \`${baseName(last.backing)}\` (missing or unreadable)`;
    out.push('', `Backing chain: ${names.join(' → ')}${tail}`);
  }
  return out.join('\n');
}

/** Hover for the image path under `offset`, or null when there is none or it is not readable. */
export function imageHover(
  doc: XmlDocument,
  lines: LineIndex,
  offset: number,
  uri: string,
  env: ServiceEnvironment,
  settings: LanguageSettings,
): Hover | null {
  if (settings.imageChecks === false || typeof env.imageFacts !== 'function') return null;
  const ref = imageRefAt(doc, offset, settings.poolType ?? 'dir');
  if (!ref) return null;
  const abs = resolveImagePath(ref.path, uri);
  if (!abs) return null;
  const chain = new ImageReader(env, uri).chain(abs);
  if (!chain.links.length) return null;
  return {
    contents: { kind: 'markdown', value: formatImageSummary(chain) },
    range: { start: lines.positionAt(ref.span.start), end: lines.positionAt(ref.span.end) },
  };
}
