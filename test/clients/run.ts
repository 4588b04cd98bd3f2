// What the editor-client tests share (not a test): one headless run of neovim or emacs + eglot on a
// file, with the project's client script, returning the JSON the script wrote (LV_OUT); and the
// check that an encrypted qcow2 made through the client is one qemu-io opens, writes and reads.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');

/**
 * Runs `editor` headless on `file` (cwd and HOME/XDG folders `dir`) with its script: nvim
 * `nvim/SCRIPT`, emacs `emacs/lv-eglot.el`. Returns what the script wrote and the wall time.
 */
export function runClient<T>(
  editor: 'nvim' | 'emacs',
  file: string,
  dir: string,
  opts: { script?: string; env?: Record<string, string> } = {},
): { r: T; wallMs: number } {
  const out = `${file}.json`;
  const script = join(ROOT, 'test', 'clients', editor, opts.script ?? (editor === 'nvim' ? 'init.lua' : 'lv-eglot.el'));
  const [args, home] =
    editor === 'nvim'
      ? [['--headless', '-n', '-i', 'NONE', '-u', script, file], { XDG_STATE_HOME: dir, XDG_DATA_HOME: dir }]
      : [['--batch', '-q', '-l', script], { LV_FILE: file, HOME: dir }];
  const t0 = Date.now();
  const p = spawnSync(editor, args, {
    cwd: dir, timeout: 120_000, encoding: 'utf8',
    env: { ...process.env, LV_SERVER: join(ROOT, 'dist', 'server.js'), LV_OUT: out, ...home, ...opts.env },
  });
  const wallMs = Date.now() - t0;
  try {
    return { r: JSON.parse(readFileSync(out, 'utf8')) as T, wallMs };
  } catch {
    throw new Error(`${editor} wrote no result (exit ${p.status}):\n${p.stdout}\n${p.stderr}`);
  }
}

/** qemu-io opens `image` (qcow2 + LUKS) with `passphrase`, writes `pattern` and reads it back. */
export function assertQemuIoRoundTrip(image: string, passphrase: string, pattern: string, dir: string): void {
  writeFileSync(join(dir, 'pw'), passphrase);
  const io = execFileSync('qemu-io', ['--object', `secret,id=s0,file=${join(dir, 'pw')}`, '--image-opts',
    `driver=qcow2,file.filename=${image},encrypt.key-secret=s0`, '-c', `write -P ${pattern} 0 4k`,
    '-c', `read -P ${pattern} 0 4k`], { encoding: 'utf8' });
  assert.match(io, /read 4096\/4096 bytes/);
}
