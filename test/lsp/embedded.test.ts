// Embedded libvirt XML over stdio against the built server (issue 12): a playbook (push, like
// neovim), a Terraform file and a Jinja template (pull, like VS Code); diagnostics at host
// positions, an incremental edit inside a block, completion and a quick fix edited into the host.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { CodeAction, CompletionList, Diagnostic, Location } from 'vscode-languageserver-types';
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

test("a playbook's virt_secret task is a workspace secret: found from another file and the same playbook", async () => {
  const uuid = '6a1f7c3e-2b9d-4e55-9c0a-5d1e2f3a4b5c';
  const encryption = (indent: string) => [`${indent}<encryption format="luks">`,
    `${indent}  <secret type="passphrase" uuid="${uuid}"/>`, `${indent}</encryption>`];
  const playbook = ['- hosts: kvm', '  tasks:', '    - name: The volume key', '      community.libvirt.virt_secret:',
    '        command: define', '        xml: |', "          <secret ephemeral='no' private='yes'>",
    `            <uuid>${uuid}</uuid>`, "            <usage type='volume'><volume>/img/enc.qcow2</volume></usage>",
    '          </secret>', '    - name: The encrypted volume', '      community.libvirt.virt_volume:', '        xml: |',
    '          <volume>', '            <name>enc.qcow2</name>', '            <capacity unit="G">1</capacity>',
    '            <target>', '              <path>/img/enc.qcow2</path>', '              <format type="qcow2"/>',
    ...encryption('              '), '            </target>', '          </volume>', ''].join('\n');
  const volume = ['<volume>', '  <name>enc.qcow2</name>', '  <capacity unit="G">1</capacity>', '  <target>',
    '    <path>/img/enc.qcow2</path>', '    <format type="qcow2"/>', ...encryption('    '), '  </target>', '</volume>',
    ''].join('\n');
  const dir = mkdtempSync(join(tmpdir(), 'lv-embedded-secrets-'));
  try {
    writeFileSync(join(dir, 'secrets.yml'), playbook);
    // Another secret on disk: without the playbook's, the workspace would know one that does not match.
    writeFileSync(join(dir, 'other.xml'), "<secret ephemeral='no' private='yes'>\n" +
      '  <uuid>11111111-2222-3333-4444-555555555555</uuid>\n  <usage type="ceph"><name>x</name></usage>\n</secret>\n');
    const client = new TestClient({ rootPath: dir });
    clients.push(client);
    await client.initialize();
    const host = pathToFileURL(join(dir, 'secrets.yml')).href;
    const vol = pathToFileURL(join(dir, 'vol.xml')).href;
    const where = (l: Location) => `${l.uri.slice(l.uri.lastIndexOf('/') + 1)}:${l.range.start.line + 1}:` +
      `${l.range.start.character + 1}`;

    // A file that is not open: the index read its virt_secret block from disk, at host positions.
    client.open(vol, volume, 'xml');
    const usePos = { line: 7, character: volume.split('\n')[7].indexOf(uuid) + 2 };
    // The first scan runs in the background: ask until it has found the secrets on disk.
    let defs: Location[] = [];
    for (const end = Date.now() + 10_000; !defs.length && Date.now() < end;) {
      defs = await client.request<Location[]>('textDocument/definition', { textDocument: { uri: vol }, position: usePos });
      if (!defs.length) await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(defs.map(where), ['secrets.yml:8:19']);
    // The revalidation that follows the index's change (debounced) finds it too: no "not in the workspace" hint.
    await new Promise((r) => setTimeout(r, 600));
    assert.deepEqual(client.diagnostics.get(vol)?.map(at), []);

    // The playbook open: its own volume task finds the secret of its virt_secret task; each place once.
    client.open(host, playbook, 'yaml');
    const ds = await client.until(() => client.diagnostics.get(host), 10_000, 'playbook diagnostics');
    assert.deepEqual(ds.map(at), []);
    const refs = await client.request<Location[]>('textDocument/references', { textDocument: { uri: host },
      position: { line: 20, character: playbook.split('\n')[20].indexOf(uuid) + 2 }, context: { includeDeclaration: true } });
    assert.deepEqual(refs.map(where).sort(), ['secrets.yml:21:49', 'secrets.yml:8:19', 'vol.xml:8:39']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
