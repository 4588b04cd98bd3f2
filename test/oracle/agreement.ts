// Judges generated volume documents by libvirt 9.0 (test-driver parser for all; the real storage
// driver of a session libvirtd for those that parse) and by our service, and tallies agreement
// per layer. Used by test/oracle/generator.test.ts (fixed seeds, small) and by
// scripts/oracle-agreement.mjs (bigger set, prints the table, writes .tmp/disagreements.txt).
import { cleanupScratch, formatDiagnostics, isEncryptedVolume, judgeDomain, judgeVolume, Limiter, parseVolume, serviceVerdict, SessionLibvirt, type LibvirtJudgement } from './libvirt';
import { domainMutant, mutants, type DomainScope, type Mutant } from './generator';

export type Layer = 'parser' | 'creation';
export interface Judged {
  mutant: Mutant;
  text: string;
  libvirt: LibvirtJudgement;
  /** Parsed fine, but the creation run was skipped to stay inside the encrypted-creation budget. */
  skipped?: boolean;
  /** The layer that decides libvirt's verdict: the parser when it rejects (in both drivers), else creation. */
  layer: Layer;
  libvirtRejects: boolean;
  ours: ReturnType<typeof serviceVerdict>;
  agree: boolean;
}

export interface AgreementOptions {
  seeds: number[];
  perSeed: number;
  concurrency?: number;
  /** At most this many encrypted volumes reach the storage driver (each costs 2–7 s of PBKDF). */
  maxEncryptedCreations?: number;
  session?: SessionLibvirt;
  onProgress?: (done: number, total: number) => void;
}

export async function judgeMutants(opts: AgreementOptions): Promise<Judged[]> {
  const session = opts.session ?? await SessionLibvirt.start();
  const lim = new Limiter(opts.concurrency ?? 2);
  const all = opts.seeds.flatMap((s) => mutants(s, opts.perSeed));
  let encryptedLeft = opts.maxEncryptedCreations ?? Infinity;
  let done = 0;
  const out: Judged[] = [];
  try {
    await Promise.all(all.map((m) => lim.run(async () => {
      const text = session.localize(m.text);
      // Parsed encrypted documents are what costs (PBKDF in qemu-img): those count against the budget.
      let skipped = false;
      if (isEncryptedVolume(text) && (await parseVolume(text)).ok) {
        if (encryptedLeft <= 0) skipped = true; else encryptedLeft--;
      }
      const libvirt = await judgeVolume(session, text, { create: !skipped });
      const ours = serviceVerdict(text, `file:///generated/${m.id}.xml`);
      out.push({ mutant: m, text, libvirt, skipped, layer: libvirt.layer, libvirtRejects: libvirt.rejects, ours, agree: ours.error === libvirt.rejects });
      opts.onProgress?.(++done, all.length);
    })));
  } finally {
    if (!opts.session) { await session.stop(); cleanupScratch(); }
  }
  const order = new Map(all.map((m, i) => [m.id, i]));
  return out.sort((a, b) => order.get(a.mutant.id)! - order.get(b.mutant.id)!);
}

/**
 * libvirt refusals that depend on the machine, not on the document: the pool's file system
 * (nocow needs btrfs for libvirt's own raw writer), the pool's free space, the daemon's uid.
 * Counted apart.
 */
export const ENVIRONMENTAL = [/unable to control COW flag .*not btrfs/, /Not enough free space in pool/,
  // The session daemon is not root: a volume created with mode 0 or 0200 cannot be reopened by
  // it, and it may not give a volume to another owner.
  /cannot open volume .*Permission denied/, /cannot chown .*Operation not permitted/];
export const isEnvironmental = (r: Judged) => r.libvirtRejects && ENVIRONMENTAL.some((re) => re.test(r.libvirt.message));

/** libvirt refusals decided by the backing file itself (exists? in the declared format?). */
export const BACKING_FILE_DEPENDENT = /inaccessible backing store volume|Could not open backing image/;

/** Generated domain documents (disk mutations) judged by `define`: test driver, then the qemu driver. */
export async function judgeDomainMutants(opts: { seeds: number[]; perSeed: number; scope?: DomainScope; concurrency?: number; session?: SessionLibvirt }): Promise<Judged[]> {
  const session = opts.session ?? await SessionLibvirt.start();
  const lim = new Limiter(opts.concurrency ?? 2);
  const all = opts.seeds.flatMap((s) => Array.from({ length: opts.perSeed }, (_, i) => domainMutant(s, i, opts.scope)));
  const out: Judged[] = [];
  try {
    await Promise.all(all.map((m) => lim.run(async () => {
      const libvirt = await judgeDomain(session, m.text);
      const ours = serviceVerdict(m.text, `file:///generated/${m.id}.xml`);
      out.push({ mutant: m, text: m.text, libvirt, layer: libvirt.layer, libvirtRejects: libvirt.rejects, ours, agree: ours.error === libvirt.rejects });
    })));
  } finally {
    if (!opts.session) { await session.stop(); cleanupScratch(); }
  }
  const order = new Map(all.map((m, i) => [m.id, i]));
  return out.sort((a, b) => order.get(a.mutant.id)! - order.get(b.mutant.id)!);
}

export interface Tally { total: number; agree: number; disagree: number; libvirtRejects: number; serviceErrors: number; missed: number; falseAlarms: number }
const empty = (): Tally => ({ total: 0, agree: 0, disagree: 0, libvirtRejects: 0, serviceErrors: 0, missed: 0, falseAlarms: 0 });

/** Agreement per deciding layer (parser rejects; parsed and judged by the storage driver) and overall. */
export function tally(rows: Judged[]): { parser: Tally; creation: Tally; overall: Tally; skipped: number; environmental: number } {
  const t = { parser: empty(), creation: empty(), overall: empty(), skipped: 0, environmental: 0 };
  for (const r of rows) {
    if (r.skipped) { t.skipped++; continue; }
    if (isEnvironmental(r)) { t.environmental++; continue; }
    for (const x of [t[r.layer], t.overall]) {
      x.total++;
      if (r.agree) x.agree++; else x.disagree++;
      if (r.libvirtRejects) x.libvirtRejects++;
      if (r.ours.error) x.serviceErrors++;
      if (r.libvirtRejects && !r.ours.error) x.missed++;
      if (!r.libvirtRejects && r.ours.error) x.falseAlarms++;
    }
  }
  return t;
}

export function tableMarkdown(rows: Judged[], kind: 'volume' | 'domain' = 'volume'): string {
  const t = tally(rows);
  const pct = (x: Tally) => (x.total ? ((100 * x.agree) / x.total).toFixed(1) + ' %' : '–');
  const line = (name: string, x: Tally) => `| ${name} | ${x.total} | ${x.agree} | ${x.disagree} | ${pct(x)} | ${x.libvirtRejects} | ${x.missed} | ${x.falseAlarms} |`;
  return [
    '| layer deciding libvirt\'s verdict | documents | agree | disagree | agreement | libvirt rejects | missed (libvirt rejects, no error) | false alarms (error, libvirt accepts) |',
    '|---|---|---|---|---|---|---|---|',
    ...(kind === 'volume'
      ? [line('parser (test:///default vol-create rejects)', t.parser), line('creation (parsed; session storage driver decides)', t.creation)]
      : [line('parser + generic validation (test:///default define rejects)', t.parser), line('qemu driver (qemu:///session define decides)', t.creation)]),
    line('overall', t.overall),
    ...(t.skipped ? [`\n${t.skipped} parsed encrypted documents skipped (encrypted-creation budget).`] : []),
    ...(() => {
      const dep = rows.filter((r) => !r.skipped && !r.agree && !isEnvironmental(r) && BACKING_FILE_DEPENDENT.test(r.libvirt.message)).length;
      return dep ? [`Of the disagreements, ${dep} turn on the backing file on the host (missing, or not in the declared format): the service only warns there by design (IMAGE layer).`] : [];
    })(),
    ...(t.environmental ? [`${t.environmental} documents left out: libvirt refused them for a reason of this machine (${ENVIRONMENTAL.map((x) => x.source).join('; ')}).`] : []),
  ].join('\n');
}

export function describeDisagreement(r: Judged): string {
  const driver = r.mutant.id.startsWith('m') ? 'storage driver' : 'qemu driver';
  const lv = !r.libvirtRejects ? 'libvirt accepts' : `${r.layer === 'parser' ? 'parser' : driver} rejects: ${r.libvirt.message}`;
  return [
    `== ${r.mutant.id} (base ${r.mutant.base}; ${r.mutant.mutations.join('; ')})`,
    `   libvirt: ${lv}`,
    `   ours:    ${r.ours.error ? 'ERROR' : 'no error'} — ${formatDiagnostics(r.ours.diagnostics)}`,
    ...r.text.trimEnd().split('\n').map((l) => '   | ' + l),
  ].join('\n');
}
