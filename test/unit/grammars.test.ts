// syntaxes/ (issue 12): the TextMate injection grammars, loaded as package.json contributes them,
// run by vscode-textmate + vscode-oniguruma over the real host grammars (YAML, XML, HCL, Terraform
// from tm-grammars) on fixture files with expected scopes (test/fixtures/syntaxes/expected-scopes.json).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as oniguruma from 'vscode-oniguruma';
import { INITIAL, parseRawGrammar, Registry, type IGrammar } from 'vscode-textmate';

const ROOT = join(__dirname, '..', '..');
const FIX = join(ROOT, 'test', 'fixtures', 'syntaxes');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  contributes: { grammars: { scopeName: string; path: string; injectTo?: string[] }[] };
};
const contributed = pkg.contributes.grammars;
const hostDir = join(ROOT, 'node_modules', 'tm-grammars', 'grammars');
const HOSTS: Record<string, string> = {
  'source.yaml': join(hostDir, 'yaml.json'), 'text.xml': join(hostDir, 'xml.json'),
  'source.hcl': join(hostDir, 'hcl.json'), 'source.hcl.terraform': join(hostDir, 'terraform.json'),
};
const ROOT_SCOPE: Record<string, string> = { 'playbook.yml': 'source.yaml', 'main.tf': 'source.hcl.terraform',
  'secret.xml': 'text.xml' };
type Expectation = [number, string, ...string[]];
const expected = JSON.parse(readFileSync(join(FIX, 'expected-scopes.json'), 'utf8')) as Record<string, Expectation[]>;

let registry: Registry;
before(async () => {
  const wasm = readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer);
  registry = new Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources: string[]) => new oniguruma.OnigScanner(sources),
      createOnigString: (s: string) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scope) => {
      const own = contributed.find((g) => g.scopeName === scope);
      const path = own ? join(ROOT, own.path) : HOSTS[scope];
      return path ? parseRawGrammar(readFileSync(path, 'utf8'), path) : null;
    },
    getInjections: (scope) => contributed.filter((g) => g.injectTo?.includes(scope)).map((g) => g.scopeName),
  });
});

/** Scopes of every token of every line. */
function tokenize(grammar: IGrammar, text: string): { line: string; tokens: { start: number; end: number; scopes: string[] }[] }[] {
  let stack = INITIAL;
  return text.split('\n').map((line) => {
    const r = grammar.tokenizeLine(line, stack);
    stack = r.ruleStack;
    return { line, tokens: r.tokens.map((t) => ({ start: t.startIndex, end: t.endIndex, scopes: t.scopes })) };
  });
}

for (const [file, expectations] of Object.entries(expected)) {
  if (file.startsWith('$')) continue;
  test(`scopes in ${file}`, async () => {
    const grammar = await registry.loadGrammar(ROOT_SCOPE[file]);
    assert.ok(grammar, ROOT_SCOPE[file]);
    const lines = tokenize(grammar, readFileSync(join(FIX, file), 'utf8'));
    for (const [n, text, ...scopes] of expectations) {
      const { line, tokens } = lines[n - 1];
      const col = line.indexOf(text);
      assert.ok(col >= 0, `${file}:${n}: '${text}' not on the line '${line}'`);
      const covering = tokens.filter((t) => t.start < col + text.length && t.end > col);
      for (const t of covering) {
        const what = `${file}:${n}: '${line.slice(t.start, t.end)}' has ${t.scopes.join(' ')}`;
        for (const s of scopes) {
          if (s.startsWith('!')) assert.ok(!t.scopes.includes(s.slice(1)), `${what}; must not have ${s.slice(1)}`);
          else assert.ok(t.scopes.includes(s), `${what}; expected ${s}`);
        }
      }
    }
  });
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
  for (const g of contributed) walk(JSON.parse(readFileSync(join(ROOT, g.path), 'utf8')).repository);
  const own = [...names].filter((s) => /\.(libvirt|jinja)$/.test(s) || s.includes('libvirt-xml'));
  const covered = new Set(Object.values(expected).flat().flatMap((e) => (Array.isArray(e) ? e.slice(2) : [])));
  assert.deepEqual(own.filter((s) => !covered.has(s)), []);
  assert.ok(own.length >= 6, own.join(' '));
});
