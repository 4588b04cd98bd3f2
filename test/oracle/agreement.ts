// Judges generated volume documents by libvirt 9.0 (test-driver parser for all; the real storage
// driver of a session libvirtd for those that parse) and by our service, and tallies agreement
// per layer. Used by test/oracle/generator.test.ts (fixed seeds, small) and by
// scripts/oracle-agreement.mjs (bigger set, prints the table, writes .tmp/disagreements.txt).
import { cleanupScratch, formatDiagnostics, isEncryptedVolume, Limiter, parseVolume, serviceVerdict, SessionLibvirt, type OracleVerdict } from './libvirt';
import { mutants, type Mutant } from './generator';

export type Layer = 'parser' | 'creation';
export interface Judged {
  mutant: Mutant;
  text: string;
  parse: OracleVerdict;
  create?: OracleVerdict;
  /** Parsed fine, but the creation run was skipped to stay inside the encrypted-creation budget. */
  skipped?: boolean;
  /** The layer that decides libvirt's verdict: the parser when it rejects, else creation. */
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
      const parse = await parseVolume(text);
      let create: OracleVerdict | undefined;
      let skipped = false;
      if (parse.ok) {
        if (isEncryptedVolume(text) && encryptedLeft <= 0) skipped = true;
        else {
          if (isEncryptedVolume(text)) encryptedLeft--;
          create = await session.createVolume(text);
        }
      }
      const ours = serviceVerdict(text, `file:///generated/${m.id}.xml`);
      const libvirtRejects = !parse.ok || create?.ok === false;
      out.push({ mutant: m, text, parse, create, skipped, layer: parse.ok ? 'creation' : 'parser', libvirtRejects, ours, agree: ours.error === libvirtRejects });
      opts.onProgress?.(++done, all.length);
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
export function tally(rows: Judged[]): { parser: Tally; creation: Tally; overall: Tally; skipped: number } {
  const t = { parser: empty(), creation: empty(), overall: empty(), skipped: 0 };
  for (const r of rows) {
    if (r.skipped) { t.skipped++; continue; }
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

export function tableMarkdown(rows: Judged[]): string {
  const t = tally(rows);
  const pct = (x: Tally) => (x.total ? ((100 * x.agree) / x.total).toFixed(1) + ' %' : '–');
  const line = (name: string, x: Tally) => `| ${name} | ${x.total} | ${x.agree} | ${x.disagree} | ${pct(x)} | ${x.libvirtRejects} | ${x.missed} | ${x.falseAlarms} |`;
  return [
    '| layer deciding libvirt\'s verdict | documents | agree | disagree | agreement | libvirt rejects | missed (libvirt rejects, no error) | false alarms (error, libvirt accepts) |',
    '|---|---|---|---|---|---|---|---|',
    line('parser (test:///default vol-create rejects)', t.parser),
    line('creation (parsed; session storage driver decides)', t.creation),
    line('overall', t.overall),
    ...(t.skipped ? [`\n${t.skipped} parsed encrypted documents skipped (encrypted-creation budget).`] : []),
  ].join('\n');
}

export function describeDisagreement(r: Judged): string {
  const lv = !r.parse.ok ? `parser rejects: ${r.parse.message}` : r.create?.ok === false ? `storage driver rejects: ${r.create.message}` : 'libvirt accepts';
  return [
    `== ${r.mutant.id} (base ${r.mutant.base}; ${r.mutant.mutations.join('; ')})`,
    `   libvirt: ${lv}`,
    `   ours:    ${r.ours.error ? 'ERROR' : 'no error'} — ${formatDiagnostics(r.ours.diagnostics)}`,
    ...r.text.trimEnd().split('\n').map((l) => '   | ' + l),
  ].join('\n');
}
