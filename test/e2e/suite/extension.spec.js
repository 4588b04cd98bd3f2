// Inner suite: runs inside code-server's extension host (real `vscode` API, the installed .vsix,
// its LanguageClient and the LSP server child process). Started by test/e2e/runner, asserted on
// by test/e2e/vscode.test.ts. Plain CommonJS: the extension host loads it as is.
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const os = require('os');
const { execFileSync } = require('child_process');
// qemu-img through the tests' one retry core (qemu's PBKDF benchmark flake is not a verdict).
const { runRetrying } = require(path.join(__dirname, '..', '..', 'helpers', 'flakeRetry.cjs'));
const vscode = require('vscode');

const ws = () => vscode.workspace.workspaceFolders[0].uri;
const file = (name) => vscode.Uri.joinPath(ws(), name);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function open(name) {
  const doc = await vscode.workspace.openTextDocument(file(name));
  await vscode.window.showTextDocument(doc);
  return doc;
}

function positionOf(doc, needle, delta = 0) {
  const i = doc.getText().indexOf(needle);
  assert.ok(i >= 0, `${needle} not in ${doc.uri.path}`);
  return doc.positionAt(i + delta);
}

describe('libvirt-volume in VS Code (code-server 4.100.3)', function () {
  before(async function () {
    const ext = vscode.extensions.getExtension('libvirt-volume.libvirt-volume');
    assert.ok(ext, 'extension installed');
    await open('broken.xml');
    await until('activation', () => ext.isActive);
  });

  it('publishes libvirt diagnostics with the range of the bad value', async function () {
    const doc = await open('broken.xml');
    const d = await until('volume-format-unknown', () =>
      vscode.languages.getDiagnostics(doc.uri).find((x) => x.code && (x.code.value || x.code) === 'volume-format-unknown'));
    assert.strictEqual(d.severity, vscode.DiagnosticSeverity.Error);
    assert.strictEqual(d.source, 'libvirt');
    assert.strictEqual(d.message, 'unsupported configuration: unknown volume format type qcow3');
    assert.strictEqual(doc.getText(d.range), 'qcow3');
    assert.match(String(d.code.target), /^https:\/\/libvirt\.org\//);
  });

  it('re-validates after an edit', async function () {
    const doc = await open('plain.xml');
    await sleep(300);
    assert.deepStrictEqual(vscode.languages.getDiagnostics(doc.uri).filter((x) => x.severity === vscode.DiagnosticSeverity.Error), []);
    const range = new vscode.Range(positionOf(doc, "'qcow2'", 1), positionOf(doc, "'qcow2'", 6));
    const edit = new vscode.WorkspaceEdit();
    edit.replace(doc.uri, range, 'qcow9');
    assert.ok(await vscode.workspace.applyEdit(edit));
    await until('error after the edit', () => vscode.languages.getDiagnostics(doc.uri).some((x) => (x.code.value || x.code) === 'volume-format-unknown'));
    await vscode.commands.executeCommand('undo');
    await until('error gone after undo', () => !vscode.languages.getDiagnostics(doc.uri).some((x) => (x.code.value || x.code) === 'volume-format-unknown'));
  });

  it('completes format types inside <format type="…">', async function () {
    const doc = await open('plain.xml');
    const list = await vscode.commands.executeCommand('vscode.executeCompletionItemProvider', doc.uri, positionOf(doc, "type='qcow2'", 6));
    const labels = list.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label));
    for (const f of ['raw', 'qcow2']) assert.ok(labels.includes(f), `${f} in ${labels.join(',')}`);
  });

  it('hovers an encryption format value with its documentation', async function () {
    const doc = await open('encrypted.xml');
    const hovers = await vscode.commands.executeCommand('vscode.executeHoverProvider', doc.uri, positionOf(doc, "format='luks'", 9));
    assert.ok(hovers.length > 0, 'a hover');
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(text, /LUKS/);
    assert.match(text, /https:\/\/libvirt\.org\/formatstorageencryption\.html/);
  });

  it('offers a quick fix that removes the diagnostic', async function () {
    const doc = await open('broken.xml');
    const d = await until('diagnostic', () => vscode.languages.getDiagnostics(doc.uri).find((x) => (x.code.value || x.code) === 'volume-format-unknown'));
    const actions = await vscode.commands.executeCommand('vscode.executeCodeActionProvider', doc.uri, d.range, vscode.CodeActionKind.QuickFix.value);
    const fix = actions.find((a) => a.edit && /qcow2/.test(a.title));
    assert.ok(fix, `a quick fix among ${actions.map((a) => a.title).join(' | ')}`);
    assert.ok(await vscode.workspace.applyEdit(fix.edit));
    await until('diagnostic gone', () => !vscode.languages.getDiagnostics(doc.uri).some((x) => (x.code.value || x.code) === 'volume-format-unknown'));
    await vscode.commands.executeCommand('undo');
  });

  it('Create Volume refuses a document with errors, listing them', async function () {
    await assert.rejects(
      vscode.commands.executeCommand('libvirtVolume.createVolume', { uri: file('broken.xml').toString(), output: path.join(ws().fsPath, 'never.qcow2') }),
      /unknown volume format type qcow3/);
    assert.ok(!fs.existsSync(path.join(ws().fsPath, 'never.qcow2')));
  });

  const luks = process.env.E2E_LUKS === '1';
  it(luks ? 'Create Volume writes an encrypted qcow2 that qemu-io opens with the passphrase, plus its <secret> XML'
    : 'Create Volume writes a qcow2 that qemu-io reads and writes', async function () {
    const name = luks ? 'encrypted.xml' : 'plain.xml';
    const out = path.join(ws().fsPath, 'out', luks ? 'encrypted.qcow2' : 'plain.qcow2');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const passphrase = 'correct horse e2e';
    const r = await vscode.commands.executeCommand('libvirtVolume.createVolume', {
      uri: file(name).toString(), output: out, ...(luks ? { passphrase, writeSecretXml: true, iterTimeMs: 10 } : {}),
    });
    assert.strictEqual(r.image, out);
    assert.ok(fs.existsSync(out), 'image written');
    const q = runRetrying('qemu-img', ['info', '--output=json', out]);
    assert.strictEqual(q.status, 0, q.stderr);
    const info = JSON.parse(q.stdout);
    assert.strictEqual(info.format, 'qcow2');
    assert.strictEqual(info['virtual-size'], 64 * 1024 * 1024);
    let io;
    if (luks) {
      assert.strictEqual(info.encrypted, true);
      const pass = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-pass-')), 'p');
      fs.writeFileSync(pass, passphrase, { mode: 0o600 });
      io = execFileSync('qemu-io', ['--object', `secret,id=sec0,file=${pass}`, '--image-opts',
        `driver=qcow2,file.filename=${out},encrypt.key-secret=sec0`, '-c', 'write -P 0x5a 0 64k', '-c', 'read -P 0x5a 0 64k'], { encoding: 'utf8' });
      fs.rmSync(path.dirname(pass), { recursive: true, force: true });
      const secret = fs.readFileSync(r.secretXml, 'utf8');
      assert.match(secret, /<uuid>0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f<\/uuid>/);
      assert.match(secret, /<usage type="volume">/);
    } else {
      io = execFileSync('qemu-io', ['-f', 'qcow2', out, '-c', 'write -P 0x5a 0 64k', '-c', 'read -P 0x5a 0 64k'], { encoding: 'utf8' });
    }
    assert.match(io, /read 65536\/65536 bytes/);
    assert.doesNotMatch(io, /Pattern verification failed/);
  });
});
