// `npm run bench`: runs every bench/*.bench.ts (each prints its own table) one after another,
// so that timings do not compete for the two cores. `npm run bench -- writer` filters by name.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { root, ensureNpm, ensureDebian, build } from './bootstrap.mjs';

ensureNpm();
ensureDebian();
build();
const filters = process.argv.slice(2);
const files = readdirSync(join(root, 'bench')).filter((f) => f.endsWith('.bench.ts')).sort()
  .filter((f) => !filters.length || filters.some((x) => f.includes(x)));
let failed = 0;
for (const f of files) {
  console.log(`\n## ${f}\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join('bench', f)], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
