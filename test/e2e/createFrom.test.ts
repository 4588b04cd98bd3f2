// "Libvirt: Create Volume from Image…" in a real VS Code (issue 13): code-server 4.100.3 + Debian
// chromium (test/e2e/harness.ts). The volume XML open in the editor (a LUKS qcow2 without
// <capacity>: vol-create-from takes the input's) describes the output; the command runs from the
// command palette, the input image is picked in the open dialog, the passphrases are typed into
// password boxes, progress shows with Cancel. The inputs are made by qemu-img and qemu-io; each
// output is checked with qemu-img (compare identical with the input through --object secret and
// --image-opts; info: format, encryption). Then: Cancel during the copy of a 2 GiB input leaves
// nothing behind; an existing output is offered for overwrite (declined: unchanged), and one that
// appears while the passphrases are asked is refused by the server with its message shown, the
// file unchanged. Screenshots (the input's password box, the copy's progress) go to .tmp/e2e
// (E2E_SCREENSHOTS=docs/screenshots refreshes docs/screenshots/create-from-*.png).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  acceptSaveDialog, domTest, palette, pickFile, prepare, quickInput, quickInputType, ROOT, waitToasts, type Page,
} from './harness';
import { qemuImgOk, runOracle } from '../helpers/oracle';

const SHOTS = join(ROOT, process.env.E2E_SCREENSHOTS ?? join('.tmp', 'e2e'));
const IN_PASS = `from-in-${process.pid}`;
const OUT_PASS = `from-out-${process.pid}`;
const COMMAND = 'Libvirt: Create Volume from Image';

/** A LUKS qcow2 volume whose image goes to the workspace; no <capacity> (the input's is taken). */
const volumeXml = (name: string, uuid: string) => `<volume>
  <name>${name}</name>
  <target>
    <path>@WORKSPACE@/${name}</path>
    <format type='qcow2'/>
    <compat>1.1</compat>
    <encryption format='luks'>
      <secret type='passphrase' uuid='${uuid}'/>
    </encryption>
  </target>
</volume>
`;
const VOLUMES: Record<string, string> = {
  'from-plain.xml': volumeXml('fp.qcow2', '5b1f0c3e-2d4a-4e6b-9c8d-7e6f5a4b3c21'),
  'from-luks.xml': volumeXml('fl.qcow2', '5b1f0c3e-2d4a-4e6b-9c8d-7e6f5a4b3c22'),
  'from-big.xml': volumeXml('fbig.qcow2', '5b1f0c3e-2d4a-4e6b-9c8d-7e6f5a4b3c23'),
  'from-exists.xml': volumeXml('fx.qcow2', '5b1f0c3e-2d4a-4e6b-9c8d-7e6f5a4b3c24'),
};

let vsix = '';
let fixtures = '';
before(() => {
  fixtures = mkdtempSync(join(tmpdir(), 'lv-e2e-from-fixtures-'));
  for (const [f, text] of Object.entries(VOLUMES)) writeFileSync(join(fixtures, f), text);
  vsix = prepare().vsix;
});
after(() => {
  if (fixtures) rmSync(fixtures, { recursive: true, force: true });
});

/** qemu-io `write` commands on an image (plain: -f FMT; LUKS: through its secret). */
function qemuIo(open: string[], cmds: string[]): void {
  for (const cmd of cmds) {
    const r = runOracle('qemu-io', [...open, '-c', cmd]);
    assert.equal(r.status, 0, `qemu-io ${cmd}: ${r.stderr}`);
  }
}
const luksOpen = (path: string) =>
  ['--object', `secret,id=s0,data=${IN_PASS}`, '--image-opts', `driver=luks,key-secret=s0,file.filename=${path}`];

/** The inputs, made by qemu-img and qemu-io in the workspace: data at several offsets, a zeroed range, holes. */
function makeInputs(ws: string): { plain: string; luks: string; big: string } {
  const plain = join(ws, 'in-plain.qcow2');
  qemuImgOk(['create', '-q', '-f', 'qcow2', plain, '64M']);
  qemuIo(['-f', 'qcow2', plain], ['write -P 0x5a 0 64k', 'write -P 0xa5 5M 1M', 'write -z 5376k 64k', 'write -P 0x11 63M 4k']);
  const luks = join(ws, 'in-enc.luks');
  qemuImgOk(['create', '-q', '--object', `secret,id=s0,data=${IN_PASS}`, '-f', 'luks', '-o', 'key-secret=s0,iter-time=10', luks, '32M']);
  qemuIo(luksOpen(luks), ['write -P 0x3c 0 64k', 'write -P 0xc3 7M 256k', 'write -P 0x77 31M 4k']);
  // 2 GiB, 1 GiB of data in sixteen runs across it: its copy (encrypted) lasts seconds even on a
  // quiet machine, long after the Cancel click that follows its first progress report.
  const big = join(ws, 'in-big.qcow2');
  qemuImgOk(['create', '-q', '-f', 'qcow2', big, '2G']);
  qemuIo(['-f', 'qcow2', big], Array.from({ length: 16 }, (_, i) => `write -P 0x${(0x21 + i).toString(16)} ${i * 128}M 64M`));
  return { plain, luks, big };
}

/** qemu-img compare of an input with a qcow2+LUKS output, both through --image-opts. */
function compareWithInput(input: string, inputDriver: string, output: string) {
  return runOracle('qemu-img', [
    'compare', '--object', `secret,id=i,data=${IN_PASS}`, '--object', `secret,id=o,data=${OUT_PASS}`, '--image-opts',
    `driver=${inputDriver},file.filename=${input}${inputDriver === 'luks' ? ',key-secret=i' : ''}`,
    `driver=qcow2,file.filename=${output},encrypt.key-secret=o`,
  ]);
}

/** qemu-img info of a qcow2+LUKS output: format, virtual size, encryption format. */
function outputInfo(path: string): { format: string; size: number; encrypted: boolean; encryptFormat?: string } {
  const j = JSON.parse(qemuImgOk(['info', '--output=json', '--object', `secret,id=o,data=${OUT_PASS}`, '--image-opts',
    `driver=qcow2,file.filename=${path},encrypt.key-secret=o`]));
  return { format: j.format, size: j['virtual-size'], encrypted: j.encrypted, encryptFormat: j['format-specific']?.data?.encrypt?.format };
}

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
/** Leftovers of a run: the server's temporary files and private folders are dot-names. */
const hidden = (ws: string) => readdirSync(ws).filter((n) => n.startsWith('.'));

/** The toasts' texts, polled until the progress notification of Create Volume (with Cancel) shows. */
async function progressToast(page: Page, ready: (text: string) => boolean, ms = 60_000): Promise<string> {
  const seen = new Set<string>();
  const match = (x: string) => x.includes('Create Volume') && x.includes('Cancel') && ready(x);
  try {
    const ts = await waitToasts(page, async (t) => {
      t.forEach((x) => seen.add(x.replace(/\s+/g, ' ')));
      return t.some(match);
    }, ms);
    return ts.find(match)!;
  } catch (e) {
    throw new Error(`${(e as Error).message}; toasts seen meanwhile: ${JSON.stringify([...seen])}`, { cause: e });
  }
}

/** Whether a visible quick input has a title (or message) matching `re`. */
async function quickInputShows(page: Page, re: RegExp): Promise<boolean> {
  const sel = '.quick-input-widget:not([style*="display: none"])';
  const texts = await page.locator(`${sel} .quick-input-title, ${sel} .quick-input-message`).allInnerTexts().catch(() => []);
  return texts.some((t) => re.test(t));
}

/** Types a passphrase into the open quick input, which must be a password box. */
async function typePassword(page: Page, title: RegExp | string, pass: string): Promise<void> {
  await quickInput(page, title);
  assert.equal(await quickInputType(page), 'password', `the box '${title}' is a password box`);
  await page.keyboard.type(pass);
  await page.keyboard.press('Enter');
}

test('DOM: Create Volume from Image… — plain and LUKS inputs, Cancel, an existing output', { timeout: 600_000 }, async () => {
  mkdirSync(SHOTS, { recursive: true });
  const settings = { 'workbench.colorTheme': 'Default Light Modern' };
  const failureShot = join(SHOTS, 'create-from-failure.png');
  const marks = await domTest({ vsix, fixtures, settings, failureShot }, async (pg, session, mark) => {
    const ws = session.workspace;
    const inputs = makeInputs(ws);
    mark('inputs');

    /** Opens a volume XML of the workspace in the editor, then runs the command from the palette. */
    const start = async (xml: string) => {
      await pg.keyboard.press('Escape');
      const row = pg.locator(`.explorer-folders-view .monaco-list-row[aria-label^="${xml}"]`).first();
      const tab = pg.locator(`.tabs-container .tab.active[aria-label^="${xml}"]`).first();
      // The Explorer re-sorts its rows when the workspace's files change (an image made or removed
      // just before): a click can land on the row that moved under it. Clicked again until the tab
      // of this document is the active one.
      for (let i = 0; ; i++) {
        await row.waitFor({ timeout: 30_000 });
        await row.click();
        try {
          await tab.waitFor({ timeout: 5000 });
          break;
        } catch (e) {
          if (i >= 3) throw new Error(`${xml} did not open from the Explorer`, { cause: e });
        }
      }
      await pg.waitForSelector('.monaco-editor .view-lines', { timeout: 15_000 });
      await palette(pg, COMMAND);
    };
    /** The output's passphrase twice, then "No" to the <secret> XML. */
    const outputPassphrase = async () => {
      await typePassword(pg, /^Create Volume: passphrase$/, OUT_PASS);
      await typePassword(pg, /^Create Volume: passphrase again$/, OUT_PASS);
      await quickInput(pg, 'Also write the libvirt <secret> XML?');
      await pg.keyboard.press('ArrowDown'); // "No"
      await pg.keyboard.press('Enter');
    };

    // 1. A plain qcow2 input: no input passphrase is asked; the output's in password boxes.
    const fp = join(ws, 'fp.qcow2');
    await start('from-plain.xml');
    await pickFile(pg, /Create Volume from Image: the input image/, inputs.plain);
    await acceptSaveDialog(pg, /Write the qcow2 image of fp\.qcow2 made from in-plain\.qcow2 to/);
    await outputPassphrase();
    // Progress in the notification (the server reports on the editor's token): the key derivation.
    const progress = await progressToast(pg, (t) => t.includes('Create Volume: deriving the LUKS key'));
    await waitToasts(pg, async (ts) => ts.some((t) => t.includes(`Created ${fp}`)), 120_000);
    mark('plain');
    let cmp = compareWithInput(inputs.plain, 'qcow2', fp);
    assert.equal(cmp.status, 0, `qemu-img compare: ${cmp.stdout}${cmp.stderr}`);
    assert.deepEqual(outputInfo(fp), { format: 'qcow2', size: 64 * 2 ** 20, encrypted: true, encryptFormat: 'luks' });

    // 2. A LUKS input: its passphrase in a password box first, then the output's.
    const fl = join(ws, 'fl.qcow2');
    await start('from-luks.xml');
    await pickFile(pg, /Create Volume from Image: the input image/, inputs.luks);
    await acceptSaveDialog(pg, /Write the qcow2 image of fl\.qcow2 made from in-enc\.luks to/);
    await quickInput(pg, 'passphrase of the input image');
    assert.equal(await quickInputType(pg), 'password', 'the input\'s passphrase box is a password box');
    await pg.keyboard.type(IN_PASS);
    await pg.waitForTimeout(300); // the dots drawn
    await pg.screenshot({ path: join(SHOTS, 'create-from-passphrase.png') });
    await pg.keyboard.press('Enter');
    await outputPassphrase();
    await waitToasts(pg, async (ts) => ts.some((t) => t.includes(`Created ${fl}`)), 120_000);
    mark('luks');
    cmp = compareWithInput(inputs.luks, 'luks', fl);
    assert.equal(cmp.status, 0, `qemu-img compare: ${cmp.stdout}${cmp.stderr}`);
    assert.deepEqual(outputInfo(fl), { format: 'qcow2', size: 32 * 2 ** 20, encrypted: true, encryptFormat: 'luks' });
    assert.deepEqual(hidden(ws), [], 'no temporary file left');

    // 3. Cancel from the progress notification while the 2 GiB input's data is being copied (its
    // message counts bytes: "fbig.qcow2: N MiB of 2 GiB"): nothing is left behind.
    const fbig = join(ws, 'fbig.qcow2');
    await start('from-big.xml');
    await pickFile(pg, /Create Volume from Image: the input image/, inputs.big);
    await acceptSaveDialog(pg, /Write the qcow2 image of fbig\.qcow2 made from in-big\.qcow2 to/);
    await outputPassphrase();
    const copying = await progressToast(pg, (t) => /Create Volume: fbig\.qcow2: [\d.]+ \w+ of 2 GiB/.test(t), 120_000);
    await pg.screenshot({ path: join(SHOTS, 'create-from-progress.png') });
    await pg.locator('.notifications-toasts .notification-toast .monaco-button:has-text("Cancel")').first().click({ timeout: 10_000 });
    await waitToasts(pg, async (ts) => ts.some((t) => t.includes('Create Volume from Image cancelled; nothing was written.')));
    mark('cancelled');
    assert.ok(!readdirSync(ws).includes('fbig.qcow2'), `no image after Cancel (${fbig})`);
    assert.deepEqual(hidden(ws), [], 'no temporary file left after Cancel');

    // 4a. The output exists: the save dialog asks before choosing it (the editor asks no second
    // time); declined, nothing changes and no passphrase is asked.
    const fx = join(ws, 'fx.qcow2');
    qemuImgOk(['create', '-q', '-f', 'qcow2', fx, '1M']);
    qemuIo(['-f', 'qcow2', fx], ['write -P 0x99 0 4k']);
    const before = { sha: sha(fx), mtime: statSync(fx).mtimeMs };
    await start('from-exists.xml');
    await pickFile(pg, /Create Volume from Image: the input image/, inputs.plain);
    const saveTitle = /Write the qcow2 image of fx\.qcow2 made from in-plain\.qcow2 to/;
    const replace = /fx\.qcow2 already exists\. Are you sure you want to overwrite it\?/;
    await quickInput(pg, saveTitle);
    await pg.waitForTimeout(500);
    // An Enter while the dialog still lists its folder can be swallowed: again until it asks.
    for (let i = 0; !(await quickInputShows(pg, replace)); i++) {
      assert.ok(i < 4, 'the save dialog asked whether to replace fx.qcow2');
      await pg.keyboard.press('Enter');
      await pg.waitForTimeout(1000);
    }
    await pg.locator('.quick-input-widget:not([style*="display: none"]) .monaco-button:has-text("Cancel")').first().click();
    // Back in the dialog (or closed): Escape closes it.
    for (const end = Date.now() + 10_000; await quickInputShows(pg, /./);) {
      assert.ok(Date.now() < end, 'the save dialog closed');
      await pg.keyboard.press('Escape');
      await pg.waitForTimeout(300);
    }
    await pg.waitForTimeout(1000);
    assert.ok(!(await quickInputShows(pg, /./)), 'no passphrase box after the replacement was declined');
    assert.deepEqual({ sha: sha(fx), mtime: statSync(fx).mtimeMs }, before, 'the existing output is unchanged');

    // 4b. It appears while the passphrases are asked (another program made it): the server
    // refuses to replace it, the editor shows the server's message, the file stays as it was.
    rmSync(fx);
    await start('from-exists.xml');
    await pickFile(pg, /Create Volume from Image: the input image/, inputs.plain);
    await acceptSaveDialog(pg, /Write the qcow2 image of fx\.qcow2 made from in-plain\.qcow2 to/);
    await quickInput(pg, /^Create Volume: passphrase$/);
    qemuImgOk(['create', '-q', '-f', 'qcow2', fx, '1M']);
    qemuIo(['-f', 'qcow2', fx], ['write -P 0x98 0 4k']);
    const appeared = { sha: sha(fx), mtime: statSync(fx).mtimeMs };
    await typePassword(pg, /^Create Volume: passphrase$/, OUT_PASS);
    await typePassword(pg, /^Create Volume: passphrase again$/, OUT_PASS);
    await quickInput(pg, 'Also write the libvirt <secret> XML?');
    await pg.keyboard.press('ArrowDown');
    await pg.keyboard.press('Enter');
    const refused = `Create Volume from Image: ${fx} exists (pass force to replace it)`;
    await waitToasts(pg, async (ts) => ts.some((t) => t.includes(refused)), 60_000);
    mark('exists');
    assert.deepEqual({ sha: sha(fx), mtime: statSync(fx).mtimeMs }, appeared, 'the file that appeared is unchanged');
    assert.deepEqual(hidden(ws), [], 'no temporary file left after the refusal');
    console.log(`# progress toast '${progress.replace(/\s+/g, ' ')}'; cancelled at '${copying.replace(/\s+/g, ' ')}'`);
  });
  console.log(`# Create Volume from Image: ${marks.join(', ')}`);
});
