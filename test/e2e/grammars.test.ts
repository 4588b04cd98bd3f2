// The injection grammars over VS Code 1.100.3's own YAML and XML grammars (RedCMD's YAML grammar,
// whose begin/while rules consume indentation), taken from the code-server the e2e host installs;
// same fixtures and expected scopes as test/unit/grammars.test.ts (HCL/Terraform are not built in).
import { before, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Registry } from 'vscode-textmate';
import { checkFixture, registry, ROOT } from '../helpers/grammars';

const EXT = join(ROOT, 'e2e', 'host', 'node_modules', 'code-server', 'lib', 'vscode', 'extensions');
let reg: Registry;
before(async () => {
  const host = spawnSync(process.execPath, [join(ROOT, 'scripts', 'e2e-host.mjs')], { cwd: ROOT, stdio: 'inherit' });
  if (host.status !== 0) throw new Error('e2e host (code-server) could not be installed');
  const y = (v: string) => join(EXT, 'yaml', 'syntaxes', `yaml${v}.tmLanguage.json`);
  reg = await registry({
    'source.yaml': y(''), 'source.yaml.1.0': y('-1.0'), 'source.yaml.1.1': y('-1.1'), 'source.yaml.1.2': y('-1.2'),
    'source.yaml.1.3': y('-1.3'), 'source.yaml.embedded': y('-embedded'),
    'text.xml': join(EXT, 'xml', 'syntaxes', 'xml.tmLanguage.json'),
  });
});

for (const file of ['playbook.yml', 'secret.xml']) {
  test(`VS Code 1.100's grammars: scopes in ${file}`, () => checkFixture(reg, file));
}
