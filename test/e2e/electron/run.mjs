// For people with a desktop: the same inner suite (../suite/extension.spec.js) in a downloaded
// VS Code through @vscode/test-electron. Not part of `npm test` and not in devDependencies: it
// downloads VS Code, which an offline machine cannot;
// the real-editor coverage in CI is code-server (test/e2e/vscode.test.ts).
//   npm install --no-save @vscode/test-electron mocha@11 && npm run build
//   node test/e2e/electron/run.mjs            (xvfb-run -a node … on a headless Linux)
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
let runTests;
try {
  ({ runTests } = await import('@vscode/test-electron'));
} catch {
  console.error('@vscode/test-electron is not installed: npm install --no-save @vscode/test-electron mocha@11');
  process.exit(2);
}
const ws = mkdtempSync(join(tmpdir(), 'lv-electron-'));
cpSync(join(root, 'test', 'e2e', 'workspace'), ws, { recursive: true });
try {
  await runTests({
    version: process.env.VSCODE_VERSION ?? '1.100.3',
    extensionDevelopmentPath: root,
    extensionTestsPath: join(root, 'test', 'e2e', 'electron', 'index.js'),
    extensionTestsEnv: { E2E_LUKS: '1' },
    launchArgs: [ws, '--disable-extensions', '--skip-welcome', '--skip-release-notes'],
  });
} catch (err) {
  console.error(`tests failed: ${err?.message ?? err}`);
  process.exitCode = 1;
} finally {
  rmSync(ws, { recursive: true, force: true });
}
