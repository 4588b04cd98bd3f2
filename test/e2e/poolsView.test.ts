// The Explorer's "Libvirt" view in a real VS Code (issue 11): code-server 4.100.3 + Debian chromium
// (test/e2e/harness.ts) and a session libvirtd started here (test/oracle/libvirt.ts: dir pools p,
// p2, inactive off). Without a connection the view shows its welcome button, which sets
// libvirtVolume.connection to the daemon's URI; then the view lists the pools with their type and
// sizes and the volumes of p as libvirt reports them (vol-info --bytes); the inactive pool's
// refusal is an error item in the tree; a volume's XML opens read-only, virsh's own vol-dumpxml;
// Create Volume Here goes through the real prompts (a LUKS qcow2) and the new volume then shows in
// the view and in `virsh vol-list`; a volume made outside shows after Refresh; a host that refuses
// the connection (set through the title bar) is an error item. A screenshot of the view goes to .tmp/e2e
// (E2E_SCREENSHOTS=docs/screenshots refreshes docs/pools-view.png).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { domTest, prepare, quickInput, ROOT, waitToasts, type Page } from './harness';
import { ORACLE_SECRET_UUID, SessionLibvirt } from '../oracle/libvirt';
import { formatBytes } from '../../server/src/common/bytes';

const FIXTURES = join(ROOT, 'test', 'e2e', 'workspace');
const SHOTS = join(ROOT, process.env.E2E_SCREENSHOTS ?? join('.tmp', 'e2e'));
const VIEW_SHOT = process.env.E2E_SCREENSHOTS ? join(ROOT, 'docs', 'pools-view.png') : join(SHOTS, 'pools-view.png');
const PASS = `view-${process.pid}-pass`;
/** Volumes the daemon makes in p before the editor starts: plain qcow2, raw, LUKS raw. */
const SEEDED: [string, string, boolean][] = [['disk1.qcow2', 'qcow2', false], ['data.img', 'raw', false], ['secure.img', 'raw', true]];

let s: SessionLibvirt;
let dir: string;
let vsix = '';
before(async () => {
  s = await SessionLibvirt.start();
  dir = mkdtempSync(join(tmpdir(), 'lv-e2e-pools-'));
  for (const [i, [name, format, luks]] of SEEDED.entries()) {
    const f = join(dir, `v${i}.xml`);
    writeFileSync(f, `<volume><name>${name}</name><capacity unit='M'>${16 * (i + 1)}</capacity><target><format type='${format}'/>${
      luks ? `<encryption format='luks'><secret type='passphrase' uuid='${ORACLE_SECRET_UUID}'/></encryption>` : ''}</target></volume>`);
    // The daemon runs as uid 65534 when the tests run as root: it must read the document.
    spawnSync('chmod', ['-R', 'a+rX', dir]);
    const r = await s.virshRun(['vol-create', 'p', f], 120_000);
    assert.equal(r.code, 0, `vol-create ${name}: ${r.stderr}`);
  }
  vsix = prepare().vsix;
});
after(async () => {
  await s?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const PANE = '.pane:has(.pane-header[aria-label^="Libvirt"])';
const ROWS = `${PANE} .pane-body .monaco-list-row`;
interface El { querySelector(s: string): { textContent: string | null } | null }
/** Each row as "label description" (the two are separate spans: innerText runs them together). */
const rowTexts = (page: Page) => page.locator(ROWS).evaluateAll((els: El[]) => els.map((e) =>
  [e.querySelector('.label-name'), e.querySelector('.label-description')].map((x) => x?.textContent?.trim()).filter(Boolean).join(' ')))
  .catch(() => [] as string[]);

/** The view's rows as text (label and description), waiting until `done` holds. */
async function rows(page: Page, done: (texts: string[]) => boolean, what: string, ms = 30_000): Promise<string[]> {
  const end = Date.now() + ms;
  for (;;) {
    const texts = await rowTexts(page);
    if (done(texts)) return texts;
    if (Date.now() > end) throw new Error(`the view never showed ${what}; rows: ${JSON.stringify(texts)}`);
    await page.waitForTimeout(200);
  }
}

/** The row whose label is `label` (its text starts with it, then its description). */
async function row(page: Page, label: string) {
  const texts = await rowTexts(page);
  const i = texts.findIndex((t) => t === label || t.startsWith(`${label} `));
  assert.ok(i >= 0, `no row ${label} in ${JSON.stringify(texts)}`);
  return page.locator(ROWS).nth(i);
}

async function virshOk(args: string[]): Promise<string> {
  const r = await s.virshRun(args);
  assert.equal(r.code, 0, `virsh ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
async function volInfo(pool: string, name: string): Promise<{ capacity: number; allocation: number }> {
  const out = await virshOk(['vol-info', '--bytes', '--pool', pool, '--', name]);
  const field = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) bytes`, 'm').exec(out)?.[1]);
  return { capacity: field('Capacity'), allocation: field('Allocation') };
}

test('DOM: the Libvirt view lists pools and volumes, opens a volume\'s XML, and creates a volume in pool p', { timeout: 300_000 }, async () => {
  mkdirSync(SHOTS, { recursive: true });
  const settings = { 'workbench.colorTheme': 'Default Light Modern' };
  const failureShot = join(SHOTS, 'pools-view-failure.png');
  const marks = await domTest({ vsix, fixtures: FIXTURES, settings, failureShot }, async (pg, _session, mark) => {
    // Room for the view (its list renders only the rows in sight): the folders collapsed, a wider
    // side bar. The view starts collapsed (it activates the extension when opened): open it.
    const folders = pg.locator('.part.sidebar .pane-header').first();
    if ((await folders.getAttribute('aria-expanded')) === 'true') await folders.click();
    await pg.mouse.move(349, 400);
    await pg.mouse.down();
    await pg.mouse.move(600, 400, { steps: 8 });
    await pg.mouse.up();
    const header = pg.locator(`${PANE} .pane-header`).first();
    await header.waitFor({ timeout: 30_000 });
    if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();

    // No connection yet: the welcome content and its button, which asks for the URI (user settings).
    const welcome = pg.locator(`${PANE} .welcome-view-content`).first();
    await welcome.waitFor({ timeout: 30_000 });
    assert.match((await welcome.allInnerTexts()).join('\n'), /No libvirt connection is set/);
    await pg.locator(`${PANE} .welcome-view-content .monaco-button:has-text("Set Connection")`).first().click();
    await quickInput(pg, 'libvirt connection');
    await pg.keyboard.type(s.uri);
    await pg.keyboard.press('Enter');
    mark('connection set');

    // Connection → pools, default first then by name; sizes as pool-dumpxml says.
    let texts = await rows(pg, (t) => t.some((x) => x.startsWith('off ')), 'the pools');
    mark('pools');
    assert.equal(texts[0], s.uri, 'the connection is the root');
    const pools = texts.slice(1, 4).map((t) => t.split(' ')[0]);
    assert.deepEqual(pools, ['off', 'p', 'p2']);
    const poolXml = await virshOk(['pool-dumpxml', 'p']);
    const bytesOf = (k: string) => Number(new RegExp(`<${k} unit='bytes'>(\\d+)<`).exec(poolXml)?.[1]);
    assert.equal(texts[2], `p dir · ${formatBytes(bytesOf('capacity'))} · ${formatBytes(bytesOf('available'))} available`);
    assert.equal(texts[1], 'off dir · inactive');

    // The volumes of p, as vol-info --bytes and vol-dumpxml report them.
    await (await row(pg, 'p')).click();
    texts = await rows(pg, (t) => SEEDED.every(([n]) => t.some((x) => x.startsWith(`${n} `))), 'the volumes of p');
    mark('volumes');
    for (const [name, format, luks] of SEEDED) {
      const v = await volInfo('p', name);
      const want = [formatBytes(v.capacity), `${formatBytes(v.allocation)} allocated`, format, ...(luks ? ['encrypted'] : [])].join(' · ');
      assert.ok(texts.includes(`${name} ${want}`), `${name} ${want} in ${JSON.stringify(texts)}`);
    }
    // The inactive pool: libvirt's refusal to list it, as an item of the tree.
    await (await row(pg, 'off')).click();
    texts = await rows(pg, (t) => t.some((x) => /not active/.test(x)), "off's error");
    assert.ok(texts.some((t) => t.includes("storage pool 'off' is not active")), JSON.stringify(texts));

    // A volume's XML: virsh's vol-dumpxml, read-only, judged by the server (no error squiggle).
    await (await row(pg, 'disk1.qcow2')).click();
    const tab = pg.locator('.tabs-container .tab[aria-label^="disk1.qcow2.xml"]').first();
    await tab.waitFor({ timeout: 30_000 });
    const lines = pg.locator('.editor-instance .monaco-editor .view-lines');
    const want = `<path>${join(s.pool, 'disk1.qcow2')}</path>`;
    for (const end = Date.now() + 15_000; !(await lines.allInnerTexts()).join('\n').includes(want);) {
      assert.ok(Date.now() < end, `the editor never showed ${want}: ${(await lines.allInnerTexts()).join('\n')}`);
      await pg.waitForTimeout(200);
    }
    const dump = await virshOk(['vol-dumpxml', '--pool', 'p', 'disk1.qcow2']);
    const shown = (await lines.allInnerTexts()).join('\n').replace(/\u00a0/g, ' ');
    for (const l of dump.split('\n').filter((x) => x.trim()).slice(0, 12)) assert.ok(shown.includes(l), `${l} shown`);
    mark('xml');
    // Typing changes nothing (compared with the text before: a marker such as 'zz' can occur in
    // the daemon's random temporary folder name, which the XML shows).
    const before = (await lines.allInnerTexts()).join('\n');
    await pg.locator('.editor-instance .monaco-editor .view-lines').first().click();
    await pg.keyboard.type('zq');
    await pg.waitForTimeout(500);
    assert.equal((await lines.allInnerTexts()).join('\n'), before, 'the volume XML is read-only');
    assert.equal(await pg.locator('.editor-instance .monaco-editor .squiggly-error').count(), 0, 'libvirt\'s own XML has no error');

    // Create Volume Here on p: the inline action, then the wizard's prompts and the passphrase.
    const p = await row(pg, 'p');
    await p.hover();
    await p.locator('.action-label[aria-label="Create Volume Here"]').click({ timeout: 10_000 });
    await quickInput(pg, 'Create Volume in pool p');
    await pg.keyboard.type('New volume');
    await pg.keyboard.press('Enter');
    await quickInput(pg, 'New volume (1/4)');
    await pg.keyboard.press('Control+A');
    await pg.keyboard.type('view-new.qcow2');
    await pg.keyboard.press('Enter');
    await quickInput(pg, 'New volume (2/4)');
    await pg.keyboard.press('Control+A');
    await pg.keyboard.type('24M');
    await pg.keyboard.press('Enter');
    await quickInput(pg, 'New volume (3/4)');
    await pg.keyboard.type('qcow2');
    await pg.keyboard.press('Enter');
    await quickInput(pg, 'New volume (4/4)');
    await pg.keyboard.type('LUKS');
    await pg.keyboard.press('Enter');
    await quickInput(pg, 'passphrase');
    await pg.keyboard.type(PASS);
    await pg.keyboard.press('Enter');
    await quickInput(pg, 'passphrase again');
    await pg.keyboard.type(PASS);
    await pg.keyboard.press('Enter');
    const newPath = join(s.pool, 'view-new.qcow2');
    await waitToasts(pg, async (ts) => ts.some((t) => t.includes(`Created ${newPath} in pool p`)), 120_000);
    mark('created');
    // The view refreshed by itself; libvirt lists it too.
    const v = await volInfo('p', 'view-new.qcow2');
    assert.equal(v.capacity, 24 * 2 ** 20);
    const wantRow = `view-new.qcow2 ${formatBytes(v.capacity)} · ${formatBytes(v.allocation)} allocated · qcow2 · encrypted`;
    await rows(pg, (t) => t.includes(wantRow), wantRow);
    assert.ok((await virshOk(['vol-list', 'p'])).includes(newPath));
    assert.match(await virshOk(['vol-dumpxml', '--pool', 'p', 'view-new.qcow2']), /<encryption format='luks'>/);
    // A volume made behind the editor's back shows after the title bar's Refresh.
    assert.equal((await s.virshRun(['vol-create-as', 'p', 'outside.img', '8M'])).code, 0);
    const titleAction = async (label: string) => {
      await header.hover();
      await pg.locator(`${PANE} .pane-header .action-label[aria-label="${label}"]`).first().click({ timeout: 10_000 });
    };
    await titleAction('Refresh Pools');
    await rows(pg, (t) => t.some((x) => x.startsWith('outside.img 8 MiB')), 'outside.img after Refresh');
    mark('refresh');
    await pg.keyboard.press('Escape');
    await (await row(pg, 'view-new.qcow2')).click(); // selected (its XML opens beside the view)
    await pg.mouse.move(900, 700); // no tooltip over the view
    await pg.waitForTimeout(1500); // the toast fades
    await pg.screenshot({ path: VIEW_SHOT });

    // A host that refuses the connection: virsh's message as the connection's only child.
    await titleAction('Set Connection…');
    await quickInput(pg, 'libvirt connection');
    await pg.keyboard.press('Control+A');
    await pg.keyboard.type('qemu+tcp://127.0.0.1:1/system');
    await pg.keyboard.press('Enter');
    texts = await rows(pg, (t) => t[0] === 'qemu+tcp://127.0.0.1:1/system' && t.length === 2, 'the unreachable host');
    assert.match(texts[1], /unable to connect to server at '127\.0\.0\.1:1'/);
    mark('unreachable');
  });
  console.log(`# Libvirt view: ${marks.join(', ')}; screenshot ${VIEW_SHOT}`);
});
