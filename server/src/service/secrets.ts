// Facts about libvirt <secret> documents and uuids, shared by the workspace index, completion,
// definition/references and the workspace rules. Pure: text in, data out.
import type { SecretInfo, SecretUse } from './types';
import { LineIndex, attr, parseXml, path, textContent, textSpan, walkElements, type XmlDocument } from './xmlModel';
import { renderXml } from './xmlDom';

/**
 * The `<secret>` document that holds a volume's passphrase (`virsh secret-define F`, then
 * `secret-set-value`): persistent, private, usage volume = the volume's path so that lookups by
 * usage find it (virsecret.c). Elements in the order libvirt's virSecretDefFormat (secret_conf.c)
 * writes them: uuid, description, usage.
 */
export function volumeSecretXml(uuid: string, volumePath: string, volumeName: string): string {
  return renderXml({
    name: 'secret',
    attrs: { ephemeral: 'no', private: 'yes' },
    children: [
      { name: 'uuid', text: uuid },
      { name: 'description', text: `passphrase of volume ${volumeName}` },
      { name: 'usage', attrs: { type: 'volume' }, children: [{ name: 'volume', text: volumePath }] },
    ],
  });
}

/**
 * The canonical 8-4-4-4-12 lower-case form of a uuid as libvirt's liberal parser reads it
 * (src/util/viruuid.c virUUIDParse: surrounding whitespace, and '-' or ' ' between hex digit
 * pairs are skipped; exactly 32 hex digits), or undefined when libvirt would refuse it.
 */
export function normaliseUuid(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const ws = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';
  let i = 0;
  while (ws(raw[i])) i++;
  let hex = '';
  while (hex.length < 32) {
    if (i >= raw.length) return undefined;
    if (raw[i] === '-' || raw[i] === ' ') {
      i++;
      continue;
    }
    const pair = raw.slice(i, i + 2);
    if (!/^[0-9a-fA-F]{2}$/.test(pair)) return undefined;
    hex += pair;
    i += 2;
  }
  for (; i < raw.length; i++) if (!ws(raw[i])) return undefined;
  hex = hex.toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A fresh random v4 uuid: the injected generator, else Web Crypto, else Math.random (tests only). */
export function newUuid(gen?: () => string): string {
  if (gen) return gen();
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  const h = Array.from({ length: 32 }, () => Math.floor(Math.random() * 16).toString(16));
  h[12] = '4';
  h[16] = '89ab'[Math.floor(Math.random() * 4)];
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** Reads a `<secret>` document; undefined when the root is not `<secret>`. */
export function secretInfoOf(uri: string, doc: XmlDocument, lines?: LineIndex): SecretInfo | undefined {
  const root = doc.root;
  if (!root || root.name !== 'secret') return undefined;
  const uuidEl = path(root, 'uuid');
  const usage = path(root, 'usage');
  const usageType = attr(usage, 'type')?.value;
  const vol = path(usage, 'volume');
  const info: SecretInfo = {
    uri,
    uuid: uuidEl ? textContent(uuidEl).trim() || undefined : undefined,
    usageType,
    usageVolume: vol ? textContent(vol).trim() || undefined : undefined,
  };
  if (uuidEl && lines) {
    const span = textSpan(uuidEl);
    info.uuidRange = { start: lines.positionAt(span.start), end: lines.positionAt(span.end) };
  }
  return info;
}

/** Parses text and reads it as a `<secret>` document (for the workspace index). */
export function extractSecretInfo(uri: string, text: string): SecretInfo | undefined {
  // Cheap pre-check: most XML files of a workspace are not secrets.
  if (!/<secret[\s>/]/.test(text)) return undefined;
  const doc = parseXml(text);
  return secretInfoOf(uri, doc, new LineIndex(text));
}

/** Every `<encryption><secret uuid=…>` of a document (volume, disk, domain or snippet). */
export function secretUsesOf(uri: string, doc: XmlDocument, lines: LineIndex): SecretUse[] {
  const out: SecretUse[] = [];
  for (const root of doc.topLevel) {
    for (const el of walkElements(root)) {
      if (el.name !== 'secret' || el.parent?.name !== 'encryption') continue;
      const u = attr(el, 'uuid');
      if (!u || u.value === undefined) continue;
      out.push({
        uri,
        uuid: u.value,
        range: { start: lines.positionAt(u.valueSpan.start), end: lines.positionAt(u.valueSpan.end) },
      });
    }
  }
  return out;
}

/** Secret uses of a text (cheap pre-check first). */
export function extractSecretUses(uri: string, text: string): SecretUse[] {
  if (!/<encryption[\s>/]/.test(text)) return [];
  return secretUsesOf(uri, parseXml(text), new LineIndex(text));
}

/** Workspace secrets whose uuid equals the given one (after libvirt's normalisation). */
export function secretsByUuid(secrets: SecretInfo[], uuid: string | undefined): SecretInfo[] {
  const want = normaliseUuid(uuid);
  if (!want) return [];
  return secrets.filter((s) => normaliseUuid(s.uuid) === want);
}
