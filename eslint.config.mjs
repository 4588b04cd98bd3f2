// The lint gate (`npm run lint`, and one test of `npm test`): ESLint's and typescript-eslint's
// recommended sets, without type information (fast, no second program build; tsc is the type
// gate). Layout is prettier's (`npm run format`, .prettierrc.json); the gate only holds the product's
// lines to 120 characters, string literals excepted (libvirt's messages stay greppable whole).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { defineConfig } from 'eslint/config';
import stylistic from '@stylistic/eslint-plugin';

export default defineConfig(
  { ignores: ['dist/**', 'out/**', '.tmp/**', '**/node_modules/**', 'test/fixtures/**', 'test-results/**'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Off: the CLI and the writer load modules lazily with require() on purpose (start-up time
      // of `create` is measured against qemu-img), and bin/ and the editor harness are CommonJS.
      '@typescript-eslint/no-require-imports': 'off',
      // `cond && f()` and `c ? f() : g()` as statements are idioms here (hot loops in the cipher
      // code); plain unused expressions are still errors.
      '@typescript-eslint/no-unused-expressions': ['error', { allowShortCircuit: true, allowTernary: true }],
      // A leading underscore marks a value that is there to be left out (destructuring rest).
      '@typescript-eslint/no-unused-vars': ['error', {
        argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_',
        caughtErrors: 'none',
      }],
    },
  },
  {
    files: ['server/**/*.ts', 'schemas/**/*.ts', 'client/**/*.ts'],
    plugins: { '@stylistic': stylistic },
    rules: {
      '@stylistic/max-len': ['error', {
        code: 120, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true,
      }],
    },
  },
  {
    // Tests read qemu-img's JSON output ad hoc, field by field.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The editor smoke suite runs under the VS Code test runner (mocha's globals).
    files: ['test/e2e/suite/**/*.js'],
    languageOptions: { globals: { ...globals.mocha } },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
);
