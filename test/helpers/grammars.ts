// Runs the project's TextMate grammars (as package.json contributes them) with vscode-textmate +
// vscode-oniguruma over given host grammars, and checks test/fixtures/syntaxes/expected-scopes.json.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as oniguruma from 'vscode-oniguruma';
import { INITIAL, parseRawGrammar, Registry, type IGrammar } from 'vscode-textmate';

export const ROOT = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
export const FIXTURES = join(ROOT, 'test', 'fixtures', 'syntaxes');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  contributes: { grammars: { scopeName: string; path: string; injectTo?: string[] }[] };
};
export const CONTRIBUTED = pkg.contributes.grammars;
export type Expectation = [number, string, ...string[]];
export const EXPECTED = JSON.parse(readFileSync(join(FIXTURES, 'expected-scopes.json'), 'utf8')) as
  Record<string, Expectation[]>;
/** The root scope each fixture is tokenized with. */
export const ROOT_SCOPE: Record<string, string> = { 'playbook.yml': 'source.yaml', 'main.tf': 'source.hcl.terraform',
  'secret.xml': 'text.xml' };

let onig: Promise<void> | undefined;

/** A registry of the contributed grammars over host grammars given by scope → file. */
export async function registry(hosts: Record<string, string>): Promise<Registry> {
  onig ??= (async () => {
    const wasm = readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
    await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer);
  })();
  await onig;
  return new Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources: string[]) => new oniguruma.OnigScanner(sources),
      createOnigString: (s: string) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scope) => {
      const own = CONTRIBUTED.find((g) => g.scopeName === scope);
      const path = own ? join(ROOT, own.path) : hosts[scope];
      return path ? parseRawGrammar(readFileSync(path, 'utf8'), path) : null;
    },
    getInjections: (scope) => CONTRIBUTED.filter((g) => g.injectTo?.includes(scope)).map((g) => g.scopeName),
  });
}

/** Scopes of every token of every line. */
export function tokenize(grammar: IGrammar, text: string) {
  let stack = INITIAL;
  return text.split('\n').map((line) => {
    const r = grammar.tokenizeLine(line, stack);
    stack = r.ruleStack;
    return { line, tokens: r.tokens.map((t) => ({ start: t.startIndex, end: t.endIndex, scopes: t.scopes })) };
  });
}

/** Asserts a fixture's expected scopes: every token under the expected text has (or lacks) each scope. */
export async function checkFixture(reg: Registry, file: string): Promise<void> {
  const grammar = await reg.loadGrammar(ROOT_SCOPE[file]);
  assert.ok(grammar, ROOT_SCOPE[file]);
  const lines = tokenize(grammar, readFileSync(join(FIXTURES, file), 'utf8'));
  for (const [n, text, ...scopes] of EXPECTED[file]) {
    const { line, tokens } = lines[n - 1];
    const col = line.indexOf(text);
    assert.ok(col >= 0, `${file}:${n}: '${text}' not on the line '${line}'`);
    for (const t of tokens.filter((x) => x.start < col + text.length && x.end > col)) {
      const what = `${file}:${n}: '${line.slice(t.start, t.end)}' has ${t.scopes.join(' ')}`;
      for (const s of scopes) {
        if (s.startsWith('!')) assert.ok(!t.scopes.includes(s.slice(1)), `${what}; must not have ${s.slice(1)}`);
        else assert.ok(t.scopes.includes(s), `${what}; expected ${s}`);
      }
    }
  }
}
