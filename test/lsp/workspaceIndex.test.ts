// The workspace index on a real folder: scan, skip rules, open documents winning over disk,
// watched-file events and the debounced change notification.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FileChange, WorkspaceIndex } from '../../server/src/lsp/workspaceIndex';

const secret = (uuid: string, vol: string) => `<secret>\n  <uuid>${uuid}</uuid>\n  <usage type='volume'><volume>${vol}</volume></usage>\n</secret>\n`;
const A = '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f';
const B = '3e3fce45-4f53-4fa7-bb32-11f34168b82b';

test('scans *.xml for secrets and uses; open text wins; watched files update; changes are notified', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lv-index-'));
  try {
    mkdirSync(join(dir, 'secrets'));
    mkdirSync(join(dir, 'node_modules'));
    writeFileSync(join(dir, 'secrets', 'a.xml'), secret(A, '/pool/a.img'));
    writeFileSync(join(dir, 'node_modules', 'skip.xml'), secret(B, '/pool/skip.img'));
    writeFileSync(join(dir, 'vol.xml'), `<volume><target><encryption format='luks'><secret type='passphrase' uuid='${A}'/></encryption></target></volume>`);
    writeFileSync(join(dir, 'notes.txt'), secret(B, '/pool/txt.img'));
    let changes = 0;
    const index = new WorkspaceIndex({ log: () => {}, onChange: () => { changes++; } });
    await index.setFolders([pathToFileURL(dir).href]);
    assert.deepEqual(index.secrets().map((s) => [s.uuid, s.usageVolume]), [[A, '/pool/a.img']]);
    assert.deepEqual(index.secretUses().map((u) => [u.uri.endsWith('/vol.xml'), u.uuid]), [[true, A]]);

    // An open, edited copy replaces the file on disk until it is closed.
    const aUri = pathToFileURL(join(dir, 'secrets', 'a.xml')).href;
    index.setOpen(aUri, secret(A, '/pool/edited.img'));
    assert.deepEqual(index.secrets().map((s) => s.usageVolume), ['/pool/edited.img']);
    index.closeOpen(aUri);
    assert.deepEqual(index.secrets().map((s) => s.usageVolume), ['/pool/a.img']);

    // A new file, then a deleted one, through workspace/didChangeWatchedFiles.
    const bFile = join(dir, 'secrets', 'b.xml');
    writeFileSync(bFile, secret(B, '/pool/b.img'));
    await index.onWatchedFiles([{ uri: pathToFileURL(bFile).href, type: FileChange.Created }]);
    assert.deepEqual(index.secrets().map((s) => s.uuid).sort(), [A, B].sort());
    unlinkSync(bFile);
    await index.onWatchedFiles([{ uri: pathToFileURL(join(dir, 'secrets')).href, type: FileChange.Deleted }]);
    assert.deepEqual(index.secrets(), []);

    await new Promise((r) => setTimeout(r, 250));
    assert.ok(changes >= 1, 'onChange fired (debounced)');
    index.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a scan stops at maxFiles and says so', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lv-index-'));
  try {
    for (let i = 0; i < 5; i++) writeFileSync(join(dir, `s${i}.xml`), secret(A.slice(0, -1) + i, `/p/${i}`));
    const logs: string[] = [];
    const index = new WorkspaceIndex({ log: (m) => logs.push(m), onChange: () => {}, maxFiles: 3 });
    await index.setFolders([pathToFileURL(dir).href]);
    assert.equal(index.secrets().length, 3);
    assert.deepEqual(logs, ['workspace index: stopped after 3 XML files']);
    index.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a <secret> file libvirt cannot read (UTF-16, not UTF-8) defines no secret', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lv-index-'));
  try {
    writeFileSync(join(dir, 'utf16.xml'), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(secret(A, '/pool/a.img'), 'utf16le')]));
    const latin = Buffer.from(secret(B, '/pool/bX'));
    latin[latin.indexOf('X')] = 0xe9; // Latin-1 'é' in a file without an encoding declaration
    writeFileSync(join(dir, 'latin.xml'), latin);
    const index = new WorkspaceIndex({ log: () => {}, onChange: () => {} });
    await index.setFolders([pathToFileURL(dir).href]);
    assert.deepEqual(index.secrets(), []);
    writeFileSync(join(dir, 'ok.xml'), secret(B, '/pool/b.img'));
    await index.onWatchedFiles([{ uri: pathToFileURL(join(dir, 'ok.xml')).href, type: FileChange.Created }]);
    assert.deepEqual(index.secrets().map((s) => s.uuid), [B]);
    index.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a playbook's virt_secret blocks are secrets of the index, each at its YAML line; open text wins", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lv-index-hosts-'));
  const task = (uuid: string, vol: string) => ['    - community.libvirt.virt_secret:', '        command: define',
    '        xml: |', ...secret(uuid, vol).trimEnd().split('\n').map((l) => `          ${l}`)];
  const playbook = (...tasks: string[][]) => ['- hosts: kvm', '  tasks:', ...tasks.flat(), ''].join('\n');
  try {
    writeFileSync(join(dir, 'site.yml'), playbook(task(A, '/pool/a.img'), task(B, '/pool/b.img')));
    const index = new WorkspaceIndex({ log: () => {}, onChange: () => {} });
    await index.setFolders([pathToFileURL(dir).href]);
    const uri = pathToFileURL(join(dir, 'site.yml')).href;
    assert.deepEqual(index.secrets().map((s) => [s.uri, s.uuid, s.usageVolume, s.uuidRange?.start.line]),
      [[uri, A, '/pool/a.img', 6], [uri, B, '/pool/b.img', 13]]);
    // The open playbook (one task left) replaces the file on disk, not adds to it.
    index.setOpen(uri, playbook(task(B, '/pool/b.img')));
    assert.deepEqual(index.secrets().map((s) => [s.uuid, s.uuidRange?.start.line]), [[B, 6]]);
    index.closeOpen(uri);
    assert.equal(index.secrets().length, 2);
    index.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
