// Entry of scripts/oracle-agreement.mjs: judge a bigger generated set, print the agreement
// table, write every disagreement to .tmp/disagreements.txt.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeDisagreement, isEnvironmental, judgeDomainMutants, judgeMutants, tableMarkdown } from './agreement';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const num = (flag: string, dflt: number) => { const i = args.indexOf(flag); return i >= 0 ? Number(args[i + 1]) : dflt; };
  const seeds = Array.from({ length: num('--seeds', 5) }, (_, i) => num('--first-seed', 101) + i);
  const perSeed = num('--per-seed', 100);
  const maxEnc = num('--max-encrypted', 60);
  const t0 = Date.now();
  let last = 0;
  const rows = await judgeMutants({
    seeds, perSeed, concurrency: num('--concurrency', 2), maxEncryptedCreations: maxEnc,
    onProgress: (d, n) => { if (Date.now() - last > 5000) { last = Date.now(); process.stderr.write(`  ${d}/${n}\n`); } },
  });
  const secs = ((Date.now() - t0) / 1000).toFixed(0);
  console.log(`\nOracle agreement: ${rows.length} generated volume documents (seeds ${seeds.join(',')}, ${perSeed} each), libvirt 9.0, dir pool, ${secs} s\n`);
  console.log(tableMarkdown(rows));
  const domainsPerSeed = num('--domains-per-seed', 100);
  const drows: typeof rows = [];
  if (domainsPerSeed > 0) {
    for (const scope of ['encryption', 'disk'] as const) {
      const t1 = Date.now();
      const d = await judgeDomainMutants({ seeds, perSeed: domainsPerSeed, scope, concurrency: num('--concurrency', 2) });
      console.log(`\nOracle agreement: ${d.length} generated domain documents (${scope === 'disk' ? 'mutations anywhere in a <disk>' : 'mutations of <encryption>, the image format and the engine'}), define on test:///default and qemu:///session, ${((Date.now() - t1) / 1000).toFixed(0)} s\n`);
      console.log(tableMarkdown(d, 'domain'));
      drows.push(...d);
    }
  }
  const bad = [...rows, ...drows].filter((r) => !r.skipped && !r.agree && !isEnvironmental(r));
  const root = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
  mkdirSync(join(root, '.tmp'), { recursive: true });
  const file = join(root, '.tmp', 'disagreements.txt');
  writeFileSync(file, `${bad.length} disagreements of ${rows.length + drows.length} documents (seeds ${seeds.join(',')})\n\n` + bad.map(describeDisagreement).join('\n\n') + '\n');
  // Group by cause: libvirt's message without paths, names and numbers.
  const causes = new Map<string, number>();
  for (const r of bad) {
    const sig = (r.libvirtRejects ? r.libvirt.message.replace(/^.*unexpected exit status \d+: /, 'qemu-img: ') : 'libvirt accepts; service: ' + r.ours.diagnostics.filter((d) => d.severity === 1).map((d) => d.code).join(','))
      .replace(/\/[^\s:'"]+/g, 'PATH').replace(/'[^']*'/g, "'…'").replace(/\d+/g, 'N').slice(0, 160);
    causes.set(sig, (causes.get(sig) ?? 0) + 1);
  }
  console.log(`\n${bad.length} disagreements written to ${file}`);
  if (causes.size) {
    console.log('\n| disagreements | cause (libvirt message, normalised) |\n|---|---|');
    for (const [sig, n] of [...causes].sort((a, b) => b[1] - a[1])) console.log(`| ${n} | ${sig.replace(/\|/g, '\\|')} |`);
  }
}
main().catch((e) => { console.error(e); process.exit(2); });
