// Embedded libvirt XML over stdio against the built server (issue 12): a playbook (push, like
// neovim), a Terraform file and a Jinja template (pull, like VS Code); diagnostics at host
// positions, an incremental edit inside a block, completion and a quick fix edited into the host.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { CodeAction, CompletionList, Diagnostic } from 'vscode-languageserver-types';
import { ROOT, TestClient } from '../helpers/lspClient';

const FIX = join(ROOT, 'test', 'fixtures', 'embedded');
const PLAYBOOK = readFileSync(join(FIX, 'playbook.yml'), 'utf8');
const clients: TestClient[] = [];
after(async () => { for (const c of clients) await c.dispose(); });

async function start(pull: boolean): Promise<{ client: TestClient; init: unknown }> {
  const client = new TestClient({ pull });
  clients.push(client);
  const init = await client.initialize();
  return { client, init };
}
const at = (d: Diagnostic) => `${d.range.start.line + 1}:${d.range.start.character + 1} ${d.code}`;

test('push: a playbook block reports at its YAML position; an edit inside the block clears it', async () => {
  const { client } = await start(false);
  const uri = 'file:///ws/site.yml';
  client.open(uri, PLAYBOOK, 'yaml');
  const ds = await client.until(() => client.diagnostics.get(uri)?.length ? client.diagnostics.get(uri) : undefined,
    10_000, 'playbook diagnostics');
  assert.deepEqual(ds.map(at), ['27:29 volume-format-unknown']);
  assert.equal(ds[0].message, 'unsupported configuration: unknown volume format type qcow3');

  const list = await client.request<CompletionList>('textDocument/completion',
    { textDocument: { uri }, position: ds[0].range.start });
  assert.ok(list.items.some((i) => i.label === 'qcow2'), list.items.map((i) => i.label).join(','));

  const actions = await client.request<CodeAction[]>('textDocument/codeAction',
    { textDocument: { uri }, range: ds[0].range, context: { diagnostics: ds } });
  const fix = actions.find((a) => /qcow2/.test(a.title));
  assert.ok(fix?.edit?.changes?.[uri], JSON.stringify(actions.map((a) => a.title)));
  const fixed = TextDocument.applyEdits(TextDocument.create(uri, 'yaml', 1, PLAYBOOK), fix.edit.changes[uri]);
  assert.equal(fixed, PLAYBOOK.replace('"qcow3"', '"qcow2"'));

  client.change(uri, ds[0].range, 'qcow2');
  await client.until(() => client.diagnostics.get(uri)?.length === 0, 10_000, 'diagnostics cleared');
});

test('pull: the capabilities name the host files; Terraform and Jinja documents are judged', async () => {
  const { client, init } = await start(true);
  const selector = (init as { capabilities: { diagnosticProvider: { documentSelector: unknown[] } } })
    .capabilities.diagnosticProvider.documentSelector;
  for (const f of [{ language: 'xml' }, { language: 'yaml' }, { language: 'ansible' }, { language: 'terraform' },
    { language: 'jinja' }]) assert.ok(selector.some((s) => JSON.stringify(s) === JSON.stringify(f)), JSON.stringify(f));

  const tf = 'file:///ws/main.tf';
  client.open(tf, readFileSync(join(FIX, 'main.tf'), 'utf8'), 'terraform');
  const r = await client.request<{ items: Diagnostic[] }>('textDocument/diagnostic', { textDocument: { uri: tf } });
  assert.deepEqual(r.items.map(at), ['15:40 encryption-secret-uuid-invalid']);

  const j2 = 'file:///ws/templates/vm.xml.j2';
  client.open(j2, readFileSync(join(FIX, 'templates', 'vm.xml.j2'), 'utf8'), 'jinja');
  const j = await client.request<{ items: Diagnostic[] }>('textDocument/diagnostic', { textDocument: { uri: j2 } });
  assert.deepEqual(j.items.map(at), ['17:30 disk-target-bus-invalid']);
});
