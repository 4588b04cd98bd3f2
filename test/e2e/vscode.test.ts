// The extension in a real VS Code: code-server 4.100.3 + Debian chromium (test/e2e/harness.ts).
// 1. The inner mocha suite (test/e2e/suite/extension.spec.js) runs in the extension host against
//    the installed .vsix: diagnostics, completion, hover, a quick fix, Create Volume + qemu-io.
// 2. A DOM smoke test: the workbench shows the squiggle and the Problems panel, then Create Volume
//    runs from the command palette through its real prompts; screenshots land in .tmp/e2e/
//    (E2E_SCREENSHOTS=docs/screenshots refreshes the README's pictures).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acceptSaveDialog, launchBrowser, palette, prepare, quickInput, ROOT, startSession, waitForJson, waitToasts, type Browser, type Page, type Session } from './harness';
import { qemuImgInfo } from '../helpers/oracle';

const FIXTURES = join(ROOT, 'test', 'e2e', 'workspace');
const SHOTS = join(ROOT, process.env.E2E_SCREENSHOTS ?? join('.tmp', 'e2e'));
// LUKS in the writer (issue 5) decides whether Create Volume is asserted on an encrypted image.
const LUKS = process.env.E2E_LUKS ?? '1';

let vsix = '';
before(() => {
  const p = prepare();
  vsix = p.vsix;
  console.log(`# packaged ${p.vsix} (${(p.vsixBytes / 1024).toFixed(0)} KiB) in ${p.packMs} ms`);
});

interface InnerResult { failures: number; ms: number; tests: { title: string; state: string; ms?: number; error?: string }[] }

test('inner mocha suite in the extension host of code-server passes', { timeout: 240_000 }, async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'lv-e2e-result-'));
  const resultFile = join(scratch, 'result.json');
  let session: Session | undefined;
  let browser: Browser | undefined;
  const t0 = Date.now();
  try {
    session = await startSession({
      vsix, fixtures: FIXTURES, runner: true,
      env: { E2E_SPEC: join(ROOT, 'test', 'e2e', 'suite', 'extension.spec.js'), E2E_RESULT: resultFile, E2E_MOCHA: join(ROOT, 'e2e', 'host', 'node_modules', 'mocha'), E2E_LUKS: LUKS },
    });
    browser = await launchBrowser();
    // The page only makes code-server start an extension host; the suite drives the API.
    const page = await browser.newPage();
    await page.goto(session.url);
    const s = session;
    const r = await waitForJson<InnerResult>(resultFile, 180_000, () => s.proc.exitCode === null, () => s.log.join('').slice(-4000));
    for (const t of r.tests) console.log(`# ${t.state === 'passed' ? 'ok' : 'FAILED'} ${t.title}${t.ms !== undefined ? ` (${t.ms} ms)` : ''}${t.error ? `\n${t.error}` : ''}`);
    console.log(`# inner suite: ${r.tests.length} tests in ${r.ms} ms; whole session ${Date.now() - t0} ms`);
    assert.equal(r.failures, 0, r.tests.filter((t) => t.state !== 'passed').map((t) => `${t.title}: ${t.error}`).join('\n'));
    assert.equal(r.tests.length, 7, 'every inner test ran');
  } finally {
    await browser?.close();
    await session?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
});

/** UI steps that depend on focus and timing get three tries (the assertions stay strict). */
async function retry<T>(step: () => Promise<T>, tries = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await step();
    } catch (err) {
      if (i >= tries) throw err;
    }
  }
}

test('DOM smoke: squiggle, Problems panel, and Create Volume from the command palette', { timeout: 240_000 }, async () => {
  mkdirSync(SHOTS, { recursive: true });
  let session: Session | undefined;
  let browser: Browser | undefined;
  const t0 = Date.now();
  const marks: string[] = [];
  const mark = (what: string) => marks.push(`${what} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  let shotPage: Page | undefined;
  try {
    session = await startSession({ vsix, fixtures: FIXTURES, settings: { 'workbench.colorTheme': 'Default Light Modern' } });
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    shotPage = page;
    await page.goto(session.url);
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    mark('workbench');
    const row = page.locator('.explorer-folders-view .monaco-list-row[aria-label^="broken.xml"]').first();
    await row.waitFor({ timeout: 30_000 });
    await row.click();
    await page.waitForSelector('.squiggly-error', { timeout: 30_000 });
    mark('squiggle');
    await page.keyboard.press('Control+Shift+M');
    await page.waitForSelector('.markers-panel .monaco-list-row', { timeout: 15_000 });
    const problems = await page.locator('.markers-panel .monaco-list-row').allInnerTexts();
    mark('problems');
    assert.ok(problems.some((t) => t.includes('unknown volume format type qcow3')), JSON.stringify(problems));
    await page.screenshot({ path: join(SHOTS, 'diagnostics.png') });

    // Completion and hover on the bad value: click into it, Ctrl+Space; then point the mouse at it.
    const token = page.locator('.monaco-editor .view-lines span:has-text("qcow3")').last();
    await token.click();
    const suggestions = await retry(async () => {
      await page.keyboard.press('Control+Space');
      await page.waitForSelector('.suggest-widget.visible .monaco-list-row', { timeout: 5000 });
      return page.locator('.suggest-widget.visible .monaco-list-row').allInnerTexts();
    });
    mark('completion');
    assert.ok(suggestions.some((t) => t.includes('qcow2')), JSON.stringify(suggestions));
    await page.screenshot({ path: join(SHOTS, 'completion.png') });
    await page.keyboard.press('Escape');
    const hover = await retry(async () => {
      await page.mouse.move(0, 0);
      await token.hover();
      await page.waitForSelector('.monaco-hover:not(.hidden) .hover-contents', { timeout: 5000 });
      // The diagnostic part shows first; the server's hover joins it when its answer arrives.
      for (let i = 0; i < 50; i++) {
        const texts = await page.locator('.monaco-hover:not(.hidden) .hover-contents').allInnerTexts();
        if (texts.join('\n').includes('qcow2')) return texts;
        await page.waitForTimeout(100);
      }
      throw new Error('no server hover');
    });
    mark('hover');
    assert.ok(hover.join('\n').includes('qcow2'), JSON.stringify(hover));
    await page.screenshot({ path: join(SHOTS, 'hover.png') });
    await page.keyboard.press('Escape');

    // Create Volume on ui.xml through the prompts a user sees. Its target <path> is in the
    // workspace (the harness fills in @WORKSPACE@), so the save dialog proposes it: accept as is.
    const ui = page.locator('.explorer-folders-view .monaco-list-row[aria-label^="ui.xml"]').first();
    const out = join(session.workspace, 'ui.qcow2');
    const startCreate = async (secretXml: boolean) => {
      await page.keyboard.press('Escape');
      await ui.click();
      await page.waitForSelector('.monaco-editor .view-lines', { timeout: 15_000 });
      await page.waitForTimeout(500);
      await palette(page, 'Libvirt: Create Volume');
      await acceptSaveDialog(page, /Write the qcow2 image of ui\.qcow2/);
      await quickInput(page, 'passphrase');
      await page.keyboard.type('dom smoke pass');
      await page.keyboard.press('Enter');
      await quickInput(page, 'passphrase again');
      await page.keyboard.type('dom smoke pass');
      await page.keyboard.press('Enter');
      await quickInput(page, 'secret');
      if (secretXml) await page.screenshot({ path: join(SHOTS, 'create-volume-secret.png') });
      else await page.keyboard.press('ArrowDown'); // "No"
      await page.keyboard.press('Enter');
    };
    if (LUKS === '1') {
      // Cancel from the progress notification during the key derivation (qemu's default
      // iter-time, 2 s): nothing is left behind.
      await startCreate(false);
      await page.locator('.notifications-toasts .notification-toast .monaco-button:has-text("Cancel")').first().click({ timeout: 30_000 });
      await waitToasts(page, async (ts) => ts.some((t) => t.includes('Create Volume cancelled')));
      mark('cancelled');
      assert.ok(!existsSync(out), 'no image after Cancel');
      assert.deepEqual(readdirSync(session.workspace).filter((n) => n.startsWith('.')), [], 'no temporary file left');

      await startCreate(true);
      let progressShot = false;
      await waitToasts(page, async (ts) => {
        if (!progressShot && ts.some((t) => t.includes('Create Volume: deriving the LUKS key') && t.includes('Cancel'))) {
          progressShot = true;
          await page.waitForTimeout(400); // the toast slides in
          await page.screenshot({ path: join(SHOTS, 'create-volume-progress.png') });
        }
        return ts.some((t) => t.includes(`Created ${out}`));
      });
      mark('created');
      await page.screenshot({ path: join(SHOTS, 'create-volume.png') });
      const info = qemuImgInfo(out) as { format: string; encrypted?: boolean };
      assert.equal(info.format, 'qcow2');
      assert.equal(info.encrypted, true);
      assert.match(readFileSync(`${out}.secret.xml`, 'utf8'), /<uuid>7c0e6f52-1b9d-4a3e-9f21-5d8c4b7a6e13<\/uuid>/);
    }

    // No XML at hand: the wizard (name, capacity, format, encryption) writes the volume XML and the image.
    await page.keyboard.press('Escape');
    await palette(page, 'View: Close All Editors');
    await page.waitForTimeout(500);
    await palette(page, 'Libvirt: Create Volume');
    await quickInput(page, 'Create Volume');
    await page.keyboard.press('Enter'); // "New volume…"
    await quickInput(page, 'New volume (1/4)');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('wizard.img');
    await page.keyboard.press('Enter');
    await quickInput(page, 'New volume (2/4)');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('8M');
    await page.keyboard.press('Enter');
    await quickInput(page, 'New volume (3/4)');
    await page.keyboard.type('raw');
    await page.keyboard.press('Enter');
    await quickInput(page, 'New volume (4/4)');
    await page.keyboard.press('Enter'); // No encryption
    const wiz = join(session.workspace, 'wizard.img');
    await acceptSaveDialog(page, /Write the image to/);
    await waitToasts(page, async (ts) => ts.some((t) => t.includes(`Created ${wiz}`)));
    mark('wizard');
    assert.equal((qemuImgInfo(wiz) as { format: string; 'virtual-size': number })['virtual-size'], 8 * 2 ** 20);
    assert.match(readFileSync(join(session.workspace, 'wizard.xml'), 'utf8'), /<format type="raw"\/>/);

    // Legacy qcow AES, judged as libvirt 4.0 (which still created it): Create Volume asks first.
    // The workspace setting reaches the server through the client's configuration sync.
    mkdirSync(join(session.workspace, '.vscode'), { recursive: true });
    writeFileSync(join(session.workspace, '.vscode', 'settings.json'), JSON.stringify({ 'libvirtVolume.libvirtVersion': '4.0.0' }));
    const legacy = page.locator('.explorer-folders-view .monaco-list-row[aria-label^="legacy-aes.xml"]').first();
    const legacyOut = join(session.workspace, 'legacy.qcow2');
    const confirmLegacy = async (button: 'Create anyway' | 'Cancel') => {
      await page.keyboard.press('Escape');
      await legacy.click();
      await page.waitForSelector('.monaco-editor .view-lines', { timeout: 15_000 });
      // The setting reaches the server through a file watcher and the client's configuration sync,
      // which takes longer on a loaded machine: wait until the document is judged as libvirt 4.0 — its
      // diagnostics are there (the weak-legacy-qcow-aes warning) and its only error under newer
      // libvirt, the refused qcow2 encryption, is gone — instead of waiting a fixed time.
      const judged = async () => (await page.locator('.monaco-editor .squiggly-warning').count()) > 0
        && (await page.locator('.monaco-editor .squiggly-error').count()) === 0;
      for (const t0 = Date.now(); !(await judged()); await page.waitForTimeout(250)) {
        assert.ok(Date.now() - t0 < 30_000, 'legacy-aes.xml still judged as newer libvirt 30 s after settings.json');
      }
      await palette(page, 'Libvirt: Create Volume');
      const dialog = page.locator('.monaco-dialog-box');
      await dialog.waitFor({ timeout: 15_000 });
      assert.match((await dialog.allInnerTexts()).join('\n'), /legacy qcow2 AES encryption[\s\S]*insecure/);
      if (button === 'Create anyway') await page.screenshot({ path: join(SHOTS, 'create-volume-legacy-aes.png') });
      await page.locator(`.monaco-dialog-box .monaco-button:has-text("${button}")`).first().click();
    };
    await confirmLegacy('Cancel');
    await page.waitForTimeout(1000);
    assert.equal(await page.locator('.quick-input-widget:not([style*="display: none"]) .quick-input-title').count(), 0, 'no save dialog after Cancel');
    assert.ok(!existsSync(legacyOut), 'nothing written after Cancel');
    await confirmLegacy('Create anyway');
    await acceptSaveDialog(page, /Write the qcow2 image of legacy\.qcow2/);
    await waitToasts(page, async (ts) => ts.some((t) => t.includes(`Created ${legacyOut}`)));
    mark('legacy-aes');
    const legacyInfo = qemuImgInfo(legacyOut) as { 'format-specific': { data: { encrypt?: { format: string } } } };
    assert.deepEqual(legacyInfo['format-specific'].data.encrypt, { format: 'aes' });
    console.log(`# DOM smoke: ${marks.join(', ')}; screenshots in ${SHOTS}`);
  } catch (err) {
    await shotPage?.screenshot({ path: join(SHOTS, 'failure.png') }).catch(() => undefined);
    throw new Error(`${(err as Error).message}\n(steps: ${marks.join(', ')}; screenshot ${join(SHOTS, 'failure.png')})`, { cause: err });
  } finally {
    await browser?.close();
    await session?.stop();
  }
});


test('npm start -- --editor --check: serves VS Code with the extension on examples/', { timeout: 240_000 }, () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'start.mjs'), '--editor', '--check', '--port', '18080'], { cwd: ROOT, encoding: 'utf8', timeout: 230_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^examples\/volumes\/\S+:\d+:\d+: error /m);
  assert.match(r.stdout, /VS Code \(code-server\) with the libvirt-volume extension: http:\/\/127\.0\.0\.1:\d+\/\?folder=.*examples/);
});
