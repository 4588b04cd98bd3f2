// A document against the libvirt host of the connection (rules/host.ts): the snapshot the
// environment injects (ctx.host), never a call to the host. No snapshot (offline, or the first
// one not gathered yet): nothing is reported.
import { formatBytes } from '../../common/bytes';
import { hostHasVolumeUsage, hostSecretByUuid, hostVolumeAt } from '../hostFacts';
import { normaliseUuid } from '../secrets';
import { readVolume } from '../volumeCreate';
import { attr, childElements, firstChild, textContent, textSpan, type XmlElement } from '../xmlModel';
import type { ValidationContext } from './context';

/** A disk's (or backing store's) <encryption> elements: at its level, in <source>, down the backing chain. */
function diskEncryptions(disk: XmlElement, fn: (enc: XmlElement) => void, depth = 0): void {
  for (const c of disk.children) {
    if (c.kind !== 'element') continue;
    if (c.name === 'encryption') fn(c);
    else if (c.name === 'source') {
      for (const e of c.children) if (e.kind === 'element' && e.name === 'encryption') fn(e);
    } else if (c.name === 'backingStore' && depth < 64) diskEncryptions(c, fn, depth + 1);
  }
}

/**
 * The <encryption> elements whose secrets libvirt looks up: a volume's target, a domain's disks
 * (domain_conf.c reads them at the disk and the source level), a bare <disk> or <encryption>.
 * Only those places are visited, without building lists: this runs on every keystroke, and a
 * 1 MB domain holds thousands of disks (bench/validation.bench.ts).
 */
function eachEncryption(text: string, root: XmlElement, fn: (enc: XmlElement) => void): void {
  if (root.name === 'encryption') fn(root);
  else if (root.name === 'volume') childElements(firstChild(root, 'target'), 'encryption').forEach(fn);
  else if (root.name === 'disk') diskEncryptions(root, fn);
  else if (root.name === 'domain') {
    const devices = firstChild(root, 'devices');
    // Disks in document order; one forward scan of the text for `<encryption` skips every disk
    // without one (linear in all: the next occurrence is searched from the end of the disk that had it).
    let next = text.indexOf('<encryption', devices?.start ?? 0);
    for (const d of devices?.children ?? []) {
      if (d.kind !== 'element' || d.name !== 'disk') continue;
      // An occurrence outside the disks (a comment, another device): search again from this disk.
      if (next >= 0 && next < d.start) next = text.indexOf('<encryption', d.start);
      if (next < 0) return;
      if (next > d.end) continue;
      diskEncryptions(d, fn);
      next = text.indexOf('<encryption', d.end);
    }
  }
}

/** `<encryption><secret uuid|usage>` of volumes and disks: looked up as libvirt looks them up. */
function checkSecrets(ctx: ValidationContext): void {
  const facts = ctx.host!.facts;
  if (!facts.secretsKnown || !ctx.doc.root) return;
  const host = facts.uri;
  eachEncryption(ctx.doc.text, ctx.doc.root, (enc) => {
    for (const sec of enc.children) {
      if (sec.kind !== 'element' || sec.name !== 'secret') continue;
      const uuid = attr(sec, 'uuid');
      const usage = attr(sec, 'usage');
      if (uuid && usage) continue; // SEC-REF-BOTH: a parse error reported elsewhere
      if (uuid?.value !== undefined) {
        const s = hostSecretByUuid(facts, uuid.value);
        const canonical = s?.uuid ?? normaliseUuid(uuid.value);
        if (!canonical) continue; // unparsable: the parse rule reports it
        if (!s) ctx.report('host-secret-uuid-unknown', uuid.valueSpan, { uuid: canonical, host });
        else if (s.usageType !== 'volume')
          ctx.report('host-secret-usage-type', uuid.valueSpan, { uuid: canonical, type: s.usageType ?? 'none', host });
      } else if (usage?.value !== undefined && usage.value !== '') {
        // secretLookupByUsage with VIR_SECRET_USAGE_TYPE_VOLUME: <usage type='volume'><volume>PATH.
        if (!hostHasVolumeUsage(facts, usage.value))
          ctx.report('host-secret-usage-unknown', usage.valueSpan, { usage: usage.value, host });
      }
    }
  });
}

/** A <volume> against the pool it is meant for and the host's pools and files. */
function checkVolume(ctx: ValidationContext, root: XmlElement): void {
  const { facts, pool: chosen } = ctx.host!;
  const host = facts.uri;
  const v = readVolume(root);
  const pool = chosen?.pool;
  if (chosen && !pool) {
    const from = chosen.from === 'hint' ? 'the document' : 'libvirtVolume.pool';
    ctx.report('host-pool-unknown', chosen.span ?? root.nameSpan, { pool: chosen.name, host, from });
  } else if (chosen && pool && !pool.active) {
    ctx.report('host-pool-inactive', chosen.span ?? root.nameSpan, { pool: pool.name, host });
  }
  if (pool?.active) {
    const nameEl = firstChild(root, 'name');
    // virStorageVolObjFindByName: the name as the parser stores it (trimmed, virXPathString).
    const existing = v.name === undefined ? undefined : pool.volumes.find((x) => x.name === v.name);
    // vol-dumpxml of that very volume (the Libvirt view opens it read-only) carries its <key>, the
    // path: a description of the volume, not a request to create it again.
    const key = firstChild(root, 'key');
    const itself = existing && key && textContent(key).trim() === existing.path;
    if (nameEl && existing && !itself)
      ctx.report('host-volume-exists', textSpan(nameEl), { name: v.name, pool: pool.name, host });
    const capEl = firstChild(root, 'capacity');
    if (capEl && v.capacity !== undefined && pool.available !== undefined && v.capacity > BigInt(pool.available)) {
      ctx.report('host-capacity-over-available', textSpan(capEl), {
        capacity: formatBytes(v.capacity),
        available: formatBytes(pool.available),
        pool: pool.name,
        host,
      });
    }
  }
  const pathEl = firstChild(firstChild(root, 'backingStore'), 'path');
  const bp = v.backingStore?.path;
  if (pathEl && bp && bp.startsWith('/') && !hostVolumeAt(facts, bp)) {
    // Local host: the file itself (stat through the environment). Remote host: only what the
    // pools prove, a path inside an active pool's folder that is no volume of it (after the
    // pool's refresh every file there is one); a path elsewhere cannot be judged from here.
    const exists = facts.fileExists?.(bp);
    const under = facts.pools.find((p) => p.active && p.path && bp.startsWith(p.path.replace(/\/*$/, '/')));
    if (exists === false) ctx.report('host-backing-missing', textSpan(pathEl), { path: bp, host, how: '' });
    else if (exists === undefined && !facts.fileExists && under)
      ctx.report('host-backing-missing', textSpan(pathEl), {
        path: bp,
        host,
        how: `: no volume of pool '${under.name}'`,
      });
  }
}

export function validateHost(ctx: ValidationContext): void {
  if (!ctx.host) return;
  checkSecrets(ctx);
  if (ctx.doc.root?.name === 'volume') checkVolume(ctx, ctx.doc.root);
}
