// Real VS Code for tests: code-server 4.100.3 (VS Code 1.100.3 workbench + Node extension host),
// Debian's chromium driven by playwright-core (installed by scripts/e2e-host.mjs). The extension under test is the packaged .vsix, installed
// with --install-extension into a fresh --extensions-dir, exactly what a user installs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
const HOST = join(ROOT, 'e2e', 'host', 'node_modules');
export const CODE_SERVER = join(HOST, 'code-server', 'out', 'node', 'entry.js');
export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/** Installs e2e/host if needed (scripts/e2e-host.mjs) and packages the .vsix; returns its path. */
export function prepare(): { vsix: string; packMs: number; vsixBytes: number } {
  const host = spawnSync(process.execPath, [join(ROOT, 'scripts', 'e2e-host.mjs')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (host.status !== 0) throw new Error('e2e host (code-server) could not be installed: see scripts/e2e-host.mjs output above');
  const t0 = Date.now();
  // A .vsix of its own: another test file may be packaging (or installing) the default one meanwhile.
  const out = join(mkdtempSync(join(tmpdir(), 'lv-vsix-')), 'libvirt-volume.vsix');
  const pack = spawnSync(process.execPath, [join(ROOT, 'scripts', 'package.mjs'), '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (pack.status !== 0) throw new Error(`npm run package failed:\n${pack.stdout}`);
  const m = /^(\S+\.vsix): .* \((\d+) bytes\)$/m.exec(pack.stdout);
  if (!m) throw new Error(`no .vsix reported:\n${pack.stdout}`);
  return { vsix: m[1], packMs: Date.now() - t0, vsixBytes: Number(m[2]) };
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); });
  });
}

export interface Session {
  port: number;
  url: string;
  tmp: string;
  workspace: string;
  proc: ChildProcess;
  log: string[];
  stop(): Promise<void>;
}

export interface SessionOptions {
  vsix: string;
  /** Folder copied into a scratch workspace. */
  fixtures: string;
  /** Extra environment for code-server (reaches the extension host and the LSP server). */
  env?: Record<string, string>;
  /** Link the mocha companion extension. */
  runner?: boolean;
  /** VS Code user settings. */
  settings?: Record<string, unknown>;
}

export async function startSession(opts: SessionOptions): Promise<Session> {
  const tmp = mkdtempSync(join(tmpdir(), 'lv-e2e-'));
  const workspace = join(tmp, 'ws');
  cpSync(opts.fixtures, workspace, { recursive: true });
  // Fixtures may name paths inside the workspace: @WORKSPACE@ becomes its absolute path.
  for (const f of readdirSync(workspace)) {
    if (!f.endsWith('.xml')) continue;
    const text = readFileSync(join(workspace, f), 'utf8');
    if (text.includes('@WORKSPACE@')) writeFileSync(join(workspace, f), text.split('@WORKSPACE@').join(workspace));
  }
  const ext = join(tmp, 'ext');
  const user = join(tmp, 'user');
  mkdirSync(join(user, 'User'), { recursive: true });
  const settings = {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'update.mode': 'none',
    'workbench.colorTheme': 'Default Dark Modern',
    ...opts.settings,
  };
  writeFileSync(join(user, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
  const inst = spawnSync(process.execPath, [CODE_SERVER, '--config', '/dev/null', '--user-data-dir', user, '--extensions-dir', ext, '--install-extension', opts.vsix], {
    encoding: 'utf8', env: { ...process.env, EXTENSIONS_GALLERY: '{}' },
  });
  if (inst.status !== 0) throw new Error(`--install-extension failed: ${inst.stdout}${inst.stderr}`);
  // A folder named publisher.name-version inside --extensions-dir is picked up as installed.
  // VS Code 1.100 treats extensions.json as the list of installed extensions (a folder missing
  // from it is "marked as removed"), so the runner gets an entry next to the .vsix's.
  if (opts.runner) {
    const rel = 'libvirt-volume-test.e2e-runner-0.0.1';
    symlinkSync(join(ROOT, 'test', 'e2e', 'runner'), join(ext, rel));
    const listFile = join(ext, 'extensions.json');
    const list = JSON.parse(readFileSync(listFile, 'utf8')) as unknown[];
    const loc = join(ext, rel);
    list.push({ identifier: { id: 'libvirt-volume-test.e2e-runner' }, version: '0.0.1', location: { $mid: 1, fsPath: loc, external: `file://${loc}`, path: loc, scheme: 'file' }, relativeLocation: rel, metadata: { installedTimestamp: Date.now(), source: 'vsix' } });
    writeFileSync(listFile, JSON.stringify(list));
  }
  const port = await freePort();
  const log: string[] = [];
  const proc = spawn(process.execPath, [CODE_SERVER, '--config', '/dev/null', '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`,
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
    '--user-data-dir', user, '--extensions-dir', ext, workspace], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, EXTENSIONS_GALLERY: '{}', ...opts.env },
  });
  proc.stdout!.on('data', (b) => log.push(String(b)));
  proc.stderr!.on('data', (b) => log.push(String(b)));
  const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`;
  const end = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > end || proc.exitCode !== null) throw new Error(`code-server did not come up:\n${log.join('')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    port, url, tmp, workspace, proc, log,
    async stop() {
      // Extension hosts outlive the page (reconnection grace): kill the whole process group.
      try { process.kill(-proc.pid!, 'SIGTERM'); } catch { /* gone */ }
      await new Promise((r) => setTimeout(r, 300));
      try { process.kill(-proc.pid!, 'SIGKILL'); } catch { /* gone */ }
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** The part of playwright-core's API the tests use (it lives in e2e/host, without types here). */
export interface Locator {
  click(o?: { timeout?: number; button?: 'left' | 'right' }): Promise<void>;
  locator(selector: string): Locator;
  nth(index: number): Locator;
  getAttribute(name: string): Promise<string | null>;
  evaluateAll<R>(fn: (els: never[]) => R): Promise<R>;
  hover(o?: { timeout?: number }): Promise<void>;
  first(): Locator;
  last(): Locator;
  count(): Promise<number>;
  allInnerTexts(): Promise<string[]>;
  waitFor(o?: { state?: 'attached' | 'visible'; timeout?: number }): Promise<void>;
}
export interface Page {
  goto(url: string): Promise<unknown>;
  locator(selector: string): Locator;
  waitForSelector(selector: string, o?: { timeout?: number }): Promise<unknown>;
  keyboard: { press(key: string): Promise<void>; type(text: string, o?: { delay?: number }): Promise<void> };
  mouse: { move(x: number, y: number, o?: { steps?: number }): Promise<void>; down(): Promise<void>; up(): Promise<void> };
  screenshot(o: { path: string; fullPage?: boolean }): Promise<unknown>;
  waitForTimeout(ms: number): Promise<void>;
  on(event: 'console', fn: (m: { type(): string; text(): string }) => void): void;
}
export interface Browser {
  newPage(o?: { viewport?: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}

/** Debian's chromium through playwright-core from e2e/host (not a dependency of the extension). */
export async function launchBrowser(): Promise<Browser> {
  const pw = createRequire(join(HOST, 'x.js'))('playwright-core') as { chromium: { launch(o: object): Promise<Browser> } };
  return pw.chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
}

/** Waits for a file to appear and returns its JSON. */
export async function waitForJson<T>(file: string, ms: number, alive: () => boolean, context: () => string): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (existsSync(file)) {
      try { return JSON.parse(readFileSync(file, 'utf8')) as T; } catch { /* being written */ }
    }
    if (!alive()) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no ${file} after ${ms} ms:\n${context()}`);
}

/** Waits for the quick input to show `title` and returns once its box is ready for typing. */
export async function quickInput(page: Page, title: RegExp | string): Promise<void> {
  const end = Date.now() + 15_000;
  for (;;) {
    const texts = await page.locator('.quick-input-widget:not([style*="display: none"]) .quick-input-title, .quick-input-widget:not([style*="display: none"]) .quick-input-message').allInnerTexts().catch(() => []);
    if (texts.some((t) => (typeof title === 'string' ? t.includes(title) : title.test(t)))) return;
    if (Date.now() > end) throw new Error(`quick input '${title}' did not show (saw ${JSON.stringify(texts)})`);
    await page.waitForTimeout(150);
  }
}

/** Waits until the notification toasts satisfy `done`; returns their texts. */
export async function waitToasts(page: Page, done: (texts: string[]) => Promise<boolean>, ms = 60_000): Promise<string[]> {
  const end = Date.now() + ms;
  for (;;) {
    const ts = await page.locator('.notifications-toasts .notification-toast').allInnerTexts().catch(() => [] as string[]);
    if (await done(ts)) return ts;
    if (Date.now() > end) throw new Error(`notification not seen; toasts: ${JSON.stringify(ts)}`);
    await page.waitForTimeout(100);
  }
}

/** Runs a command from the command palette (F1, its title, Enter). */
export async function palette(page: Page, command: string): Promise<void> {
  await page.keyboard.press('F1');
  await page.waitForSelector('.quick-input-widget:not([style*="display: none"]) input', { timeout: 10_000 });
  await page.keyboard.type(command);
  await page.waitForTimeout(400);
  await page.keyboard.press('Enter');
}

const QUICK_TITLE = '.quick-input-widget:not([style*="display: none"]) .quick-input-title';

/** Whether the quick input (a simple file dialog included) with a title matching `titleRe` is open. */
async function dialogOpen(page: Page, titleRe: RegExp): Promise<boolean> {
  const texts = await page.locator(QUICK_TITLE).allInnerTexts().catch(() => [] as string[]);
  return texts.some((t) => titleRe.test(t));
}

/** Accepts what code-server's simple save dialog proposes. An Enter that comes while it is still
 *  filling its list can be swallowed: press again while the dialog is still open. */
export async function acceptSaveDialog(page: Page, titleRe: RegExp): Promise<void> {
  await quickInput(page, titleRe);
  await page.waitForTimeout(500);
  for (let i = 0; i < 4; i++) {
    await page.keyboard.press('Enter');
    await page.waitForTimeout(1000);
    if (!(await dialogOpen(page, titleRe))) return;
  }
  throw new Error('the save dialog did not accept the proposed path');
}

/**
 * Picks `path` in code-server's simple open dialog: its box replaced by the path, typed; Enter
 * once the box holds exactly that path (the dialog completes names as one types, and an Enter
 * while it is still listing a folder can be swallowed: pressed again while the dialog is open).
 */
export async function pickFile(page: Page, titleRe: RegExp, path: string): Promise<void> {
  await quickInput(page, titleRe);
  const box = page.locator('.quick-input-widget:not([style*="display: none"]) .quick-input-box input');
  const value = async () => (await box.evaluateAll((els: { value: string }[]) => els.map((e) => e.value)))[0];
  for (let i = 0; i < 4; i++) {
    if ((await value()) !== path) {
      await page.keyboard.press('Control+A');
      await page.keyboard.type(path);
      for (const end = Date.now() + 5000; (await value()) !== path && Date.now() < end;) await page.waitForTimeout(100);
    }
    await page.keyboard.press('Enter');
    for (const end = Date.now() + 3000; (await dialogOpen(page, titleRe)) && Date.now() < end;) await page.waitForTimeout(100);
    if (!(await dialogOpen(page, titleRe))) return;
  }
  throw new Error(`the open dialog did not accept ${path} (its box: ${JSON.stringify(await value())})`);
}

/** The `type` of the quick input's box (a password box says `password`). */
export async function quickInputType(page: Page): Promise<string | null> {
  return page.locator('.quick-input-widget:not([style*="display: none"]) .quick-input-box input').first().getAttribute('type');
}

/**
 * One DOM test's frame: code-server with the .vsix on `opts.fixtures`, chromium at 1280×800 on
 * the workbench, `body` with a `mark(step)` that times its steps; on failure a screenshot
 * `failureShot` and the steps reached join the error; session and browser are always stopped.
 */
export async function domTest(
  opts: SessionOptions & { failureShot: string },
  body: (page: Page, session: Session, mark: (what: string) => void) => Promise<void>,
): Promise<string[]> {
  let session: Session | undefined;
  let browser: Browser | undefined;
  let page: Page | undefined;
  const t0 = Date.now();
  const marks: string[] = [];
  const mark = (what: string) => marks.push(`${what} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  try {
    session = await startSession(opts);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(session.url);
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    mark('workbench');
    await body(page, session, mark);
    return marks;
  } catch (err) {
    await page?.screenshot({ path: opts.failureShot }).catch(() => undefined);
    throw new Error(`${(err as Error).message}\n(steps: ${marks.join(', ')}; screenshot ${opts.failureShot})`, { cause: err });
  } finally {
    await browser?.close();
    await session?.stop();
  }
}
