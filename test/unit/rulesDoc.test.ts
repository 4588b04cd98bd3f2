// docs/rules.md is generated from the rule tables: it must list every rule of the catalogue and
// be exactly what scripts/rules-doc.ts renders now (else: run `npm run rules-doc` and commit).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderRulesDoc, RULES_DOC_PATH } from '../../scripts/rules-doc';
import { RULES, RULE_TABLES } from '../../server/src/service/rules';

test('docs/rules.md is current (npm run rules-doc)', () => {
  assert.equal(readFileSync(RULES_DOC_PATH, 'utf8'), renderRulesDoc(), 'docs/rules.md is stale: run `npm run rules-doc`');
});

test('the catalogue lists every rule once, with its layer, severity and link', () => {
  const doc = readFileSync(RULES_DOC_PATH, 'utf8');
  const rows = doc.split('\n').filter((l) => /^\| [a-z][a-z0-9-]* \| [A-Z][A-Z-]* \|/.test(l));
  assert.equal(rows.length, RULES.size);
  assert.equal(RULE_TABLES.reduce((n, t) => n + t.rules.length, 0), RULES.size, 'no id is in two tables');
  for (const r of RULES.values()) {
    const row = rows.find((l) => l.startsWith(`| ${r.id} |`));
    assert.ok(row, `${r.id} is listed`);
    assert.ok(row.includes(`| ${r.layer} | ${r.severity} |`), `${r.id}: layer and severity`);
    assert.ok(row.includes(`](${r.doc})`), `${r.id}: doc link`);
  }
});
