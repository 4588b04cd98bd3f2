// syntaxes/ (issue 12): the TextMate injection grammars, loaded as package.json contributes them,
// run by vscode-textmate + vscode-oniguruma over the YAML, XML, HCL and Terraform grammars of
// tm-grammars, on fixture files with expected scopes (test/fixtures/syntaxes/expected-scopes.json).
// test/e2e/grammars.test.ts runs the same fixtures over VS Code 1.100's own grammars.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Registry } from 'vscode-textmate';
import { checkFixture, CONTRIBUTED, EXPECTED, registry, ROOT } from '../helpers/grammars';

const hostDir = join(ROOT, 'node_modules', 'tm-grammars', 'grammars');
let reg: Registry;
before(async () => {
  reg = await registry({
    'source.yaml': join(hostDir, 'yaml.json'), 'text.xml': join(hostDir, 'xml.json'),
    'source.hcl': join(hostDir, 'hcl.json'), 'source.hcl.terraform': join(hostDir, 'terraform.json'),
  });
});

for (const file of Object.keys(EXPECTED).filter((f) => !f.startsWith('$'))) {
  test(`scopes in ${file}`, () => checkFixture(reg, file));
}

test('every scope the grammars add has a fixture expecting it', () => {
  const names = new Set<string>();
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if ((k === 'name' || k === 'contentName') && typeof x === 'string') x.split(' ').forEach((s) => names.add(s));
        else walk(x);
      }
    }
  };
  for (const g of CONTRIBUTED) walk(JSON.parse(readFileSync(join(ROOT, g.path), 'utf8')).repository);
  const own = [...names].filter((s) => /\.(libvirt|jinja)$/.test(s) || s.includes('libvirt-xml'));
  const covered = new Set(Object.values(EXPECTED).flat().flatMap((e) => (Array.isArray(e) ? e.slice(2) : [])));
  assert.deepEqual(own.filter((s) => !covered.has(s)), []);
  assert.ok(own.length >= 6, own.join(' '));
});
