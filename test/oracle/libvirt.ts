// libvirt as an oracle:
//  * parser layer: `virsh -c test:///default vol-create default-pool F` / `define F` — the test
//    driver runs libvirt's real XML parsers (and generic domain validation) in-process, ~20 ms a call;
//  * creation layer: a session libvirtd running the real storage driver (qemu-img, fallocate) and
//    the qemu driver's define-time validation, as uid 65534 with its own XDG dirs (§5.4), so
//    nothing touches the system daemon or /etc.
// And the other side: our language service's verdict on the same text, in-process.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Diagnostic } from 'vscode-languageserver-types';
import { getLanguageService } from '../../server/src/service/languageService';
import type { ImageFacts, ServiceEnvironment } from '../../server/src/service/types';
import { FLAKE_MESSAGE, installQemuImgWrapper, qemuImgOk } from '../helpers/oracle';

export const ORACLE_SECRET_UUID = '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f';
export const ORACLE_SECRET_USAGE = '/var/lib/libvirt/images/lvoracle.img';
/** Fixtures name backing files under this folder; the harness points it at real files. */
export const FIXTURE_BACKING_DIR = '/var/tmp/lvoracle';
export const LIBVIRT_VERSION = '9.0.0';

export interface OracleVerdict {
  ok: boolean;
  /** libvirt's message (virsh's `error:` lines minus the "Failed to …" headline). */
  message: string;
}

interface RunResult { code: number; stdout: string; stderr: string }

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: opts.env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** virsh's error text without the generic first line ("error: Failed to create vol from F"). */
export function virshMessage(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trimEnd()).filter(Boolean);
  const rest = lines.filter((l) => !/^error: Failed to (create vol|define domain|set attributes) from /.test(l));
  return rest.map((l) => l.replace(/^error: /, '')).join(' | ');
}

/** Limits how many oracle calls run at once (2 cores). */
export class Limiter {
  private active = 0;
  private queue: Array<() => void> = [];
  constructor(private readonly max: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try { return await fn(); } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

/** Serialises work per key (volume/domain name) so concurrent creations never collide. */
class KeyLock {
  private tails = new Map<string, Promise<unknown>>();
  async with<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try { return await fn(); } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

// ---------------------------------------------------------------- test driver (parser layer)

let scratch: string | undefined;
let seq = 0;
function scratchFile(text: string): string {
  scratch ??= mkdtempSync(join(tmpdir(), 'lv-oracle-parse-'));
  const f = join(scratch, `doc${++seq}.xml`);
  writeFileSync(f, text);
  return f;
}
export function cleanupScratch(): void {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
}

/** libvirt's volume parser: rc 0 ⇔ virStorageVolDefParse accepts the text. */
export async function parseVolume(text: string): Promise<OracleVerdict> {
  const f = scratchFile(text);
  const r = await run('virsh', ['-q', '-c', 'test:///default', 'vol-create', 'default-pool', f]);
  rmSync(f, { force: true });
  return { ok: r.code === 0, message: r.code === 0 ? '' : virshMessage(r.stderr) };
}

/** libvirt's domain parser plus generic validation (DEF-VAL) in the test driver. */
export async function parseDomain(text: string): Promise<OracleVerdict> {
  const f = scratchFile(text);
  const r = await run('virsh', ['-q', '-c', 'test:///default', 'define', f]);
  rmSync(f, { force: true });
  return { ok: r.code === 0, message: r.code === 0 ? '' : virshMessage(r.stderr) };
}

// ---------------------------------------------------------------- session libvirtd (creation layer)

/**
 * A libvirtd in session mode, as uid 65534 when we are root (setpriv), with its own runtime,
 * config and cache dirs under one temp folder; a dir pool `p`; the oracle secret defined with a
 * value (uuid ORACLE_SECRET_UUID, usage ORACLE_SECRET_USAGE) and backing files base.qcow2/base.raw.
 * Start once per test file, stop at the end (kills the daemon, removes the folder).
 */
const QEMU_IMG_WRAPPER = `#!/bin/bash
args=(); prev=
for a in "$@"; do
  if [ "$prev" = "-o" ]; then
    case "$a" in
      *encrypt.key-secret=*) a="$a,encrypt.iter-time=10" ;;
      *key-secret=*) a="$a,iter-time=10" ;;
    esac
  fi
  args+=("$a"); prev="$a"
done
exec "$(dirname "$0")/qemu-img-retry" "\${args[@]}"
`;

/**
 * A recorder first on the daemon's PATH: each qemu-img run leaves its argv (NUL-separated) in
 * its own file under `argvDir`, then the next qemu-img on PATH runs with the same arguments (the
 * iter-time wrapper below, or /usr/bin/qemu-img), so what is recorded is exactly what libvirt's
 * storage driver passed, whatever wrappers follow.
 */
const QEMU_IMG_RECORDER = (argvDir: string) => `#!/bin/bash
f=$(mktemp ${argvDir}/run.XXXXXXXX) && printf '%s\\0' "$@" > "$f"
# failHostQemuImg(): the host's qemu-img fails as qemu's PBKDF benchmark does on a loaded machine.
if [ -e ${argvDir}/../qemu-img-fails ]; then
  echo "qemu-img: ${FLAKE_MESSAGE}" >&2; exit 1
fi
# slowHostQemuImg(): the host's qemu-img first waits, as a long allocation would (cancel tests).
if [ -s ${argvDir}/../qemu-img-slow ]; then
  : > ${argvDir}/../qemu-img-started; sleep "$(cat ${argvDir}/../qemu-img-slow)"
fi
self=$(dirname "$0")
IFS=: read -ra dirs <<< "$PATH"
for d in "\${dirs[@]}"; do
  [ "$d" = "$self" ] && continue
  [ -x "$d/qemu-img" ] && exec "$d/qemu-img" "$@"
done
echo "qemu-img: not found after the argv recorder" >&2; exit 127
`;

/** One qemu-img run recorded on the daemon's PATH. */
export interface RecordedQemuImg { argv: string[]; mtimeMs: number }

export class SessionLibvirt {
  readonly dir: string;
  readonly pool: string;
  readonly backingDir: string;
  /** A second dir pool `p2`, and `off`: a dir pool defined but not started. */
  readonly pool2: string;
  private readonly docs: string;
  private readonly argvDir: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly prefix: string[];
  private readonly locks = new KeyLock();
  private n = 0;

  private constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'lv-oracle-sess-'));
    this.pool = join(this.dir, 'pool');
    this.backingDir = join(this.dir, 'backing');
    this.pool2 = join(this.dir, 'pool2');
    this.docs = join(this.dir, 'docs');
    const home = join(this.dir, 'home');
    for (const d of [home, join(this.dir, 'run'), this.pool, this.pool2, this.backingDir, this.docs]) mkdirSync(d, { recursive: true, mode: 0o700 });
    // libvirt finds qemu-img through PATH. Unless LV_ORACLE_DEFAULT_ITER_TIME=1, a wrapper
    // first in PATH adds `iter-time=10` to encrypted creations: libvirt passes no iter-time, so
    // each LUKS header would cost qemu's default 2 s of PBKDF2 on top of its ~1 s benchmark. The
    // option never changes qemu-img's verdict (valid for luks and qcow2 encrypt.format=luks), only
    // the time; every other argument reaches the real /usr/bin/qemu-img unchanged. Either way the
    // real qemu-img runs through the tests' retry core (test/helpers/oracle.ts): qemu's PBKDF
    // benchmark flake is retried, not reported by libvirt as the volume's verdict.
    const bin = join(this.dir, 'bin');
    mkdirSync(bin, { recursive: true, mode: 0o755 });
    const recorder = join(this.dir, 'bin-record');
    this.argvDir = join(this.dir, 'argv');
    mkdirSync(recorder, { recursive: true, mode: 0o755 });
    mkdirSync(this.argvDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(recorder, 'qemu-img'), QEMU_IMG_RECORDER(this.argvDir), { mode: 0o755 });
    if (process.env.LV_ORACLE_DEFAULT_ITER_TIME !== '1') {
      installQemuImgWrapper(bin, '/usr/bin/qemu-img', 'qemu-img-retry');
      writeFileSync(join(bin, 'qemu-img'), QEMU_IMG_WRAPPER, { mode: 0o755 });
    } else installQemuImgWrapper(bin);
    this.env = {
      PATH: `${recorder}:${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: home, XDG_RUNTIME_DIR: join(this.dir, 'run'),
      XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache'), LC_ALL: 'C',
    };
    const root = process.getuid?.() === 0;
    this.prefix = root ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'env', '-i', ...Object.entries(this.env).map(([k, v]) => `${k}=${v}`)] : ['env', ...Object.entries(this.env).map(([k, v]) => `${k}=${v}`)];
    if (root) execFileSync('chown', ['-R', '65534:65534', this.dir]);
  }

  private as(args: string[], timeoutMs?: number): Promise<RunResult> {
    return run(this.prefix[0], [...this.prefix.slice(1), ...args], { timeoutMs });
  }
  private virsh(args: string[], timeoutMs?: number): Promise<RunResult> {
    // No -q: it would also hide "Vol X created" / "Domain 'X' defined", which name what to remove.
    return this.as(['virsh', '-c', 'qemu:///session', ...args], timeoutMs);
  }
  private writeDoc(text: string): string {
    const f = join(this.docs, `d${++this.n}.xml`);
    writeFileSync(f, text);
    if (process.getuid?.() === 0) chownSync(f, 65534, 65534);
    return f;
  }

  static async start(): Promise<SessionLibvirt> {
    const s = new SessionLibvirt();
    try {
      // --timeout: the daemon also goes away by itself if this process dies before stop().
      const d = await s.as(['libvirtd', '--daemon', '--timeout', '900', '--pid-file', join(s.dir, 'libvirtd.pid')]);
      if (d.code !== 0) throw new Error(`libvirtd did not start: ${d.stderr}`);
      const secretXml = s.writeDoc(`<secret ephemeral='no' private='yes'><uuid>${ORACLE_SECRET_UUID}</uuid><usage type='volume'><volume>${ORACLE_SECRET_USAGE}</volume></usage></secret>`);
      const pw = s.writeDoc('pw');
      for (const args of [['secret-define', secretXml], ['secret-set-value', ORACLE_SECRET_UUID, '--file', pw, '--plain'], ['pool-create-as', 'p', 'dir', '--target', s.pool],
        ['pool-create-as', 'p2', 'dir', '--target', s.pool2], ['pool-define-as', 'off', 'dir', '--target', join(s.dir, 'off')]]) {
        let r = await s.virsh(args);
        // The daemon may need a moment to create its socket after --daemon returns.
        for (let i = 0; r.code !== 0 && i < 20 && /connect|socket|No such file/i.test(r.stderr); i++) {
          await new Promise((res) => setTimeout(res, 100));
          r = await s.virsh(args);
        }
        if (r.code !== 0) throw new Error(`virsh ${args[0]} failed: ${r.stderr}`);
      }
      for (const [f, fmt] of [['base.qcow2', 'qcow2'], ['base.raw', 'raw']]) {
        qemuImgOk(['create', '-q', '-f', fmt, join(s.backingDir, f), '16M']);
      }
      if (process.getuid?.() === 0) execFileSync('chown', ['-R', '65534:65534', s.backingDir]);
      return s;
    } catch (e) {
      await s.stop();
      throw e;
    }
  }

  /**
   * The daemon's URI for a client running as this process (root included: qemu:///session would
   * mean root's own session socket, so the socket is named).
   */
  get uri(): string {
    return `qemu+unix:///session?socket=${join(this.dir, 'run', 'libvirt', 'libvirt-sock')}`;
  }

  /** virsh ARGS against the daemon, as its user (for assertions). */
  virshRun(args: string[], timeoutMs?: number): Promise<RunResult> {
    return this.virsh(args, timeoutMs);
  }

  /** From now on (until undone) every qemu-img the daemon runs fails with qemu's benchmark message. */
  failHostQemuImg(on: boolean): void {
    const f = join(this.dir, 'qemu-img-fails');
    if (on) writeFileSync(f, '');
    else rmSync(f, { force: true });
  }

  /** From now on every qemu-img the daemon runs first sleeps `seconds` (0: no longer). */
  slowHostQemuImg(seconds: number): void {
    const f = join(this.dir, 'qemu-img-slow');
    if (seconds > 0) writeFileSync(f, String(seconds));
    else rmSync(f, { force: true });
  }

  /** Whether a slowed qemu-img (slowHostQemuImg) has started since the last call that said so. */
  hostQemuImgStarted(): boolean {
    const f = join(this.dir, 'qemu-img-started');
    if (!existsSync(f)) return false;
    rmSync(f, { force: true });
    return true;
  }

  /** Fixture text with the backing-file folder pointed at this session's real files. */
  localize(text: string): string {
    return text.split(FIXTURE_BACKING_DIR).join(this.backingDir);
  }

  /** vol-create in the dir pool (real storage driver: qemu-img / fallocate); the volume is deleted again. */
  async createVolume(text: string): Promise<OracleVerdict> {
    const { ok, message } = await this.createVolumeRecorded(text);
    return { ok, message };
  }

  /**
   * vol-create as createVolume (with virsh flags such as --prealloc-metadata), returning the argv
   * of every qemu-img run the storage driver made for this volume, in order (empty when libvirt
   * wrote the file itself, e.g. plain raw); `inspect` sees the created file before its deletion.
   */
  async createVolumeRecorded(
    text: string, flags: string[] = [], inspect?: (path: string) => void,
  ): Promise<OracleVerdict & { runs: string[][] }> {
    const name = /<name>([^<]*)<\/name>/.exec(text)?.[1] ?? '';
    return this.locks.with('vol:' + name, async () => {
      const doc = this.writeDoc(text);
      const r = await this.virsh(['vol-create', 'p', doc, ...flags], 300_000);
      rmSync(doc, { force: true });
      // Runs for this volume name its path (other creations may run meanwhile); taken and removed.
      const target = join(this.pool, name);
      const runs = readdirSync(this.argvDir).map((f) => {
        const p = join(this.argvDir, f);
        return { p, argv: readFileSync(p, 'utf8').split('\0').slice(0, -1), mtimeMs: statSync(p).mtimeMs };
      }).filter((x) => x.argv.includes(target)).sort((a, b) => a.mtimeMs - b.mtimeMs).map((x) => {
        rmSync(x.p, { force: true });
        return x.argv;
      });
      if (r.code === 0) {
        const created = /Vol ([\s\S]*?) created from /.exec(r.stdout)?.[1];
        if (created === undefined) throw new Error(`vol-create succeeded but named no volume: ${r.stdout}`);
        // The volume is deleted whatever inspect found; a failed delete is reported only when
        // inspect itself passed (its own failure is the more useful one).
        let inspectError: unknown;
        try { inspect?.(join(this.pool, created)); } catch (e) { inspectError = e; }
        const del = await this.virsh(['vol-delete', '--pool', 'p', created]);
        if (inspectError !== undefined) throw inspectError;
        if (del.code !== 0) throw new Error(`could not delete volume ${created}: ${del.stderr}`);
        return { ok: true, message: '', runs };
      }
      // The wrapper retried qemu's benchmark flake; if it still came through, it is no verdict.
      if (r.stderr.includes(FLAKE_MESSAGE)) throw new Error(`vol-create: qemu-img's "${FLAKE_MESSAGE}" persisted: not a verdict`);
      return { ok: false, message: virshMessage(r.stderr).split(this.pool).join('POOL'), runs };
    });
  }

  /**
   * vol-create-from in the dir pool: the input volume is made first (vol-create of `inputXml`,
   * then `fill` writes its content as root would, keeping the daemon user's ownership), then
   * `virsh vol-create-from p OUT.xml INPUT`. Returns every qemu-img run of the vol-create-from (argv in
   * order: a convert names the output inside --target-image-opts, so runs are matched by substring);
   * `inspect` sees the input and the output before both are deleted.
   */
  async createVolumeFromRecorded(
    inputXml: string, outputXml: string, opts: { flags?: string[]; fill?: (path: string) => void;
      inspect?: (output: string, input: string) => void | Promise<void> } = {},
  ): Promise<OracleVerdict & { runs: string[][] }> {
    const inName = /<name>([^<]*)<\/name>/.exec(inputXml)?.[1] ?? '';
    const outName = /<name>([^<]*)<\/name>/.exec(outputXml)?.[1] ?? '';
    return this.locks.with('vol:' + inName, () => this.locks.with('vol:' + outName, async () => {
      const inDoc = this.writeDoc(inputXml);
      const made = await this.virsh(['vol-create', 'p', inDoc], 300_000);
      rmSync(inDoc, { force: true });
      if (made.code !== 0) throw new Error(`vol-create of the input ${inName} failed: ${made.stderr}`);
      const input = join(this.pool, inName);
      const output = join(this.pool, outName);
      try {
        opts.fill?.(input);
        for (const f of readdirSync(this.argvDir)) rmSync(join(this.argvDir, f), { force: true });
        const doc = this.writeDoc(outputXml);
        const r = await this.virsh(['vol-create-from', 'p', doc, '--inputpool', 'p', inName, ...(opts.flags ?? [])],
          300_000);
        rmSync(doc, { force: true });
        const runs = readdirSync(this.argvDir).map((f) => {
          const p = join(this.argvDir, f);
          return { p, argv: readFileSync(p, 'utf8').split('\0').slice(0, -1), mtimeMs: statSync(p).mtimeMs };
        }).filter((x) => x.argv.some((a) => a.includes(output))).sort((a, b) => a.mtimeMs - b.mtimeMs).map((x) => {
          rmSync(x.p, { force: true });
          return x.argv;
        });
        if (r.code === 0) {
          let inspectError: unknown;
          try { await opts.inspect?.(output, input); } catch (e) { inspectError = e; }
          const del = await this.virsh(['vol-delete', '--pool', 'p', outName]);
          if (inspectError !== undefined) throw inspectError;
          if (del.code !== 0) throw new Error(`could not delete volume ${outName}: ${del.stderr}`);
          return { ok: true, message: '', runs };
        }
        if (r.stderr.includes(FLAKE_MESSAGE)) throw new Error(`vol-create-from: qemu-img's "${FLAKE_MESSAGE}" persisted: not a verdict`);
        return { ok: false, message: virshMessage(r.stderr).split(this.pool).join('POOL'), runs };
      } finally {
        await this.virsh(['vol-delete', '--pool', 'p', inName]);
      }
    }));
  }

  /** define with the qemu driver (parser + DEF-VAL + QEMU-VAL); the domain is undefined again. */
  defineDomain(text: string): Promise<OracleVerdict> {
    const name = /<name>([^<]*)<\/name>/.exec(text)?.[1] ?? '';
    return this.locks.with('dom:' + name, async () => {
      const f = this.writeDoc(text);
      const r = await this.virsh(['define', f], 120_000);
      rmSync(f, { force: true });
      if (r.code === 0) {
        const defined = /Domain '?([\s\S]*?)'? defined from /.exec(r.stdout)?.[1];
        if (defined === undefined) throw new Error(`define succeeded but named no domain: ${r.stdout}`);
        await this.virsh(['undefine', defined]);
        return { ok: true, message: '' };
      }
      return { ok: false, message: virshMessage(r.stderr) };
    });
  }

  /** secret-define (the secret driver's parser); the secret is undefined again. */
  defineSecret(text: string): Promise<OracleVerdict> {
    return this.locks.with('secret', async () => {
      const f = this.writeDoc(text);
      const r = await this.virsh(['secret-define', f]);
      rmSync(f, { force: true });
      if (r.code === 0) {
        const uuid = /Secret (\S+) created/.exec(r.stdout)?.[1];
        if (uuid === undefined) throw new Error(`secret-define succeeded but named no secret: ${r.stdout}`);
        await this.virsh(['secret-undefine', uuid]);
        return { ok: true, message: '' };
      }
      return { ok: false, message: virshMessage(r.stderr) };
    });
  }

  /** secret-define, then secret-dumpxml (libvirt's own formatting); the secret is undefined again. */
  dumpSecret(text: string): Promise<OracleVerdict & { xml?: string }> {
    return this.locks.with('secret', async () => {
      const f = this.writeDoc(text);
      const r = await this.virsh(['secret-define', f]);
      rmSync(f, { force: true });
      if (r.code !== 0) return { ok: false, message: virshMessage(r.stderr) };
      const uuid = /Secret (\S+) created/.exec(r.stdout)?.[1];
      if (uuid === undefined) throw new Error(`secret-define succeeded but named no secret: ${r.stdout}`);
      const d = await this.virsh(['secret-dumpxml', uuid]);
      await this.virsh(['secret-undefine', uuid]);
      if (d.code !== 0) throw new Error(`secret-dumpxml ${uuid} failed: ${d.stderr}`);
      return { ok: true, message: '', xml: d.stdout };
    });
  }

  /** vol-create in the dir pool, then vol-dumpxml (libvirt's own formatting); the volume is deleted again. */
  dumpVolume(text: string): Promise<OracleVerdict & { xml?: string }> {
    const name = /<name>([^<]*)<\/name>/.exec(text)?.[1] ?? '';
    return this.locks.with('vol:' + name, async () => {
      const f = this.writeDoc(text);
      const r = await this.virsh(['vol-create', 'p', f], 300_000);
      rmSync(f, { force: true });
      if (r.code !== 0) return { ok: false, message: virshMessage(r.stderr).split(this.pool).join('POOL') };
      const created = /Vol ([\s\S]*?) created from /.exec(r.stdout)?.[1];
      if (created === undefined) throw new Error(`vol-create succeeded but named no volume: ${r.stdout}`);
      const d = await this.virsh(['vol-dumpxml', '--pool', 'p', created]);
      const del = await this.virsh(['vol-delete', '--pool', 'p', created]);
      if (d.code !== 0) throw new Error(`vol-dumpxml ${created} failed: ${d.stderr}`);
      if (del.code !== 0) throw new Error(`could not delete volume ${created}: ${del.stderr}`);
      return { ok: true, message: '', xml: d.stdout };
    });
  }

  async stop(): Promise<void> {
    const pidFile = join(this.dir, 'libvirtd.pid');
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (pid > 0) {
        try { process.kill(pid, 'SIGTERM'); } catch { /* already gone */ }
        for (let i = 0; i < 50; i++) {
          try { process.kill(pid, 0); } catch { break; }
          await new Promise((r) => setTimeout(r, 100));
        }
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- our service

/** Header facts for backing files, from the real file system (what the LSP/CLI env provides). */
export function fsImageFacts(path: string): ImageFacts | undefined {
  if (!path.startsWith('/') || !existsSync(path)) return undefined;
  const b = Buffer.alloc(8);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    readSync(fd, b, 0, 8, 0);
  } catch { return undefined; } finally { if (fd !== undefined) closeSync(fd); }
  if (b.subarray(0, 4).toString('latin1') === 'QFI\xfb') return { format: 'qcow2' };
  if (b.subarray(0, 6).toString('latin1') === 'LUKS\xba\xbe') return { format: 'luks', encrypted: true };
  return { format: 'raw' };
}

export interface ServiceVerdict {
  error: boolean;
  diagnostics: Diagnostic[];
  /** Exceptions inside validators (logged by the service instead of crashing). */
  logs: string[];
}

const logs: string[] = [];
const env: ServiceEnvironment = { imageFacts: (p) => fsImageFacts(p), log: (m) => { logs.push(m); } };
const service = getLanguageService(env);
service.configure({ libvirtVersion: LIBVIRT_VERSION, poolType: 'dir' });
let docSeq = 0;

/** Our verdict: an error-severity diagnostic ⇔ libvirt (or the qemu-img it drives) rejects. */
export function serviceVerdict(text: string, uri = 'file:///oracle/doc.xml'): ServiceVerdict {
  logs.length = 0;
  const diagnostics = service.doValidation(TextDocument.create(uri, 'xml', ++docSeq, text));
  return { error: diagnostics.some((d) => d.severity === 1), diagnostics, logs: [...logs] };
}

export function formatDiagnostics(ds: Diagnostic[]): string {
  if (!ds.length) return '(no diagnostics)';
  const sev = ['', 'error', 'warning', 'info', 'hint'];
  return ds.map((d) => `${sev[d.severity ?? 1]} ${d.code} @${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.message}`).join('\n      ');
}

/** True when a volume document, as libvirt would create it, reaches an encrypted qemu-img run (slow). */
export function isEncryptedVolume(text: string): boolean {
  return /<encryption\b/.test(text);
}

export interface LibvirtJudgement {
  /** The test driver's parser (fast; also used to tell the layer). */
  parse: OracleVerdict;
  /** The session daemon (real storage driver / qemu driver / secret driver); undefined when skipped. */
  real?: OracleVerdict;
  /** libvirt's verdict: the real driver's when it ran, else the parser's. */
  rejects: boolean;
  /** Which layer decided: the parser (the test driver refuses it too) or creation/define. */
  layer: 'parser' | 'creation';
  message: string;
}

function judgement(parse: OracleVerdict, real: OracleVerdict | undefined): LibvirtJudgement {
  const rejects = real ? !real.ok : !parse.ok;
  // The test driver is stricter in two places (it always wants <capacity>, and its pool is
  // small); the real driver is the authority, the test driver only tells the layer apart.
  const layer = !parse.ok && rejects && (!real || real.message === parse.message) ? 'parser' : 'creation';
  const message = !rejects ? '' : real && !real.ok ? real.message : parse.message;
  return { parse, real, rejects, layer, message };
}

/** A volume document as libvirt 9.0 judges it; `create: false` skips the storage driver (budget). */
export async function judgeVolume(session: SessionLibvirt, text: string, opts: { create?: boolean } = {}): Promise<LibvirtJudgement> {
  const parse = await parseVolume(text);
  const real = opts.create === false ? undefined : await session.createVolume(text);
  return judgement(parse, real);
}

export async function judgeDomain(session: SessionLibvirt, text: string): Promise<LibvirtJudgement> {
  const parse = await parseDomain(text);
  return judgement(parse, await session.defineDomain(text));
}

export async function judgeSecret(session: SessionLibvirt, text: string): Promise<LibvirtJudgement> {
  const real = await session.defineSecret(text);
  return judgement(real, real);
}
