// Embedded libvirt XML in a real VS Code (issue 12): code-server 4.100.3 + Debian chromium opens an
// Ansible playbook (language yaml, VS Code's built-in grammar), libvirt's message shows in the
// Problems panel at the YAML line/column, the block is highlighted as XML through the injection
// grammar, and a screenshot of the panel is written (E2E_SCREENSHOTS=docs/screenshots refreshes
// docs/screenshots/playbook-problems.png).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser, prepare, ROOT, startSession, type Browser, type Page, type Session } from './harness';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'embedded');
const SHOTS = join(ROOT, process.env.E2E_SCREENSHOTS ?? join('.tmp', 'e2e'));

let vsix = '';
before(() => { vsix = prepare().vsix; });

test('DOM: a playbook\'s libvirt error in the Problems panel at its YAML position, the block highlighted as XML',
  { timeout: 240_000 }, async () => {
    mkdirSync(SHOTS, { recursive: true });
    let session: Session | undefined;
    let browser: Browser | undefined;
    let page: Page | undefined;
    try {
      session = await startSession({ vsix, fixtures: FIXTURES, settings: { 'workbench.colorTheme': 'Default Light Modern' } });
      browser = await launchBrowser();
      page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(session.url);
      await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
      const row = page.locator('.explorer-folders-view .monaco-list-row[aria-label^="playbook.yml"]').first();
      await row.waitFor({ timeout: 30_000 });
      await row.click();
      await page.waitForSelector('.squiggly-error', { timeout: 60_000 });
      await page.keyboard.press('Control+Shift+M');
      await page.waitForSelector('.markers-panel .monaco-list-row', { timeout: 15_000 });
      const problems = await page.locator('.markers-panel .monaco-list-row').allInnerTexts();
      // VS Code shows "[Ln 27, Col 29]" with the message: libvirt's words at the YAML position.
      assert.ok(problems.some((t) => t.includes('unknown volume format type qcow3') && /Ln 27, Col 29/.test(t)),
        JSON.stringify(problems));
      assert.equal(problems.filter((t) => /qcow3|XB/.test(t)).length, 1, 'the task of another module is not judged');

      // Highlighting: without the injection grammar the block is one YAML string token per line; with
      // it an attribute name is a token of its own, coloured unlike a YAML string.
      type Evaluable = { evaluate(fn: (el: unknown) => string): Promise<string> };
      const colour = (text: string) => (page!.locator(`.monaco-editor .view-lines span:text-is("${text}")`).first() as
        unknown as Evaluable).evaluate((el) =>
        (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(el).color);
      const tag = await colour('type'); // <pool type="dir">, line 13
      const yamlString = await colour('Storage for the web VM');
      assert.notEqual(tag, yamlString, 'XML attribute names inside xml: | are not coloured like a YAML string');
      // Clicking the problem reveals it in the playbook: the picture shows the squiggle and the panel.
      await page.locator('.markers-panel .monaco-list-row:has-text("qcow3")').first().click();
      await page.waitForSelector('.squiggly-error', { timeout: 15_000 });
      await page.waitForTimeout(500);
      await page.screenshot({ path: join(SHOTS, 'playbook-problems.png') });
    } catch (err) {
      await page?.screenshot({ path: join(SHOTS, 'playbook-failure.png') }).catch(() => undefined);
      throw err;
    } finally {
      await browser?.close();
      await session?.stop();
    }
  });
