// Every fixture under test/fixtures/{volume,domain,secret} judged twice: by libvirt 9.0 and by our
// language service (libvirtVersion 9.0.0, dir pool). Error-severity diagnostic ⇔ libvirt rejects.
//  volume: test driver parser (`vol-create` on test:///default), then — if it parses — the real
//          storage driver in a session libvirtd (dir pool; qemu-img really runs).
//  domain: test driver `define` (parser + generic validation), then the qemu driver's `define`
//          in the session daemon (QEMU-VAL rules; needs qemu-system-x86 for its capabilities).
//  secret: `secret-define` in the session daemon (the test driver has no secret driver).
// The session daemon is started once for this file and stopped at the end.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanupScratch, formatDiagnostics, judgeDomain, judgeSecret, judgeVolume, Limiter, serviceVerdict, SessionLibvirt, type LibvirtJudgement } from './libvirt';

const FIXTURES = join(__dirname, '..', 'fixtures');

/**
 * Fixtures kept out of the assertion, each with the reason. Nothing here may stand for an
 * unfixed rule bug without saying so.
 */
const NOT_ASSERTED: Record<string, string> = {
  // By design (issue 2): "any other root gets no diagnostics" — a <pool> document is not a
  // volume document for the service, while `vol-create` naturally refuses it.
  'volume/wrong_root.xml': 'root <pool> is not judged by the service (design)',
  // Host facts, by design: the storage driver checks that the backing file is accessible on the
  // host ("inaccessible backing store volume …"); the project's rule is that referenced files are
  // assumed to exist on the host (the XML may describe another machine), so a missing file is no
  // error. The oracle host here lacks these files. (A relative path is looked up in the daemon's
  // working directory: the service warns, volume-backing-path-relative.)
  'volume/backing_missing_file.xml': 'host fact: backing file absent on the oracle host (files are assumed to exist)',
  'volume/qcow2_features.xml': 'host fact: backing file absent on the oracle host (files are assumed to exist)',
  'volume/backing_relative_path.xml': 'host fact: relative backing path absent from the daemon cwd (warned, files are assumed to exist)',
};

type Kind = 'volume' | 'domain' | 'secret';
interface Row { kind: Kind; file: string; text: string; libvirt: LibvirtJudgement }

let session: SessionLibvirt;
const rows: Row[] = [];

function fixtures(kind: Kind): string[] {
  return readdirSync(join(FIXTURES, kind)).filter((f) => f.endsWith('.xml')).sort();
}

before(async () => {
  session = await SessionLibvirt.start();
  const lim = new Limiter(2);
  const jobs: Array<Promise<void>> = [];
  for (const kind of ['volume', 'domain', 'secret'] as const) {
    for (const file of fixtures(kind)) {
      jobs.push(lim.run(async () => {
        const text = session.localize(readFileSync(join(FIXTURES, kind, file), 'utf8'));
        const libvirt = kind === 'volume' ? await judgeVolume(session, text) : kind === 'domain' ? await judgeDomain(session, text) : await judgeSecret(session, text);
        rows.push({ kind, file, text, libvirt });
      }));
    }
  }
  await Promise.all(jobs);
  rows.sort((a, b) => (a.kind + a.file).localeCompare(b.kind + b.file));
}, { timeout: 900_000 });

after(async () => {
  await session?.stop();
  cleanupScratch();
});

for (const kind of ['volume', 'domain', 'secret'] as const) {
  describe(`${kind} fixtures agree with libvirt 9.0`, () => {
    test('the corpus is there', () => {
      assert.ok(fixtures(kind).length >= (kind === 'volume' ? 100 : 10), `too few ${kind} fixtures`);
    });
    for (const file of fixtures(kind)) {
      const key = `${kind}/${file}`;
      // A TODO test still runs and reports, but does not fail the suite.
      const todo = NOT_ASSERTED[key];
      test(key, todo ? { todo } : {}, () => {
        const row = rows.find((r) => r.kind === kind && r.file === file);
        assert.ok(row, `no oracle result for ${key}`);
        const rejected = row.libvirt.rejects;
        const driver = kind === 'domain' ? 'qemu driver' : kind === 'volume' ? 'storage driver' : 'secret driver';
        const libvirt = !rejected ? 'libvirt accepts' : row.libvirt.layer === 'parser' ? `parser rejects: ${row.libvirt.message}` : `${driver} rejects: ${row.libvirt.message}`;
        const ours = serviceVerdict(row.text, `file:///fixtures/${key}`);
        assert.deepEqual(ours.logs, [], `a validator threw on ${key}`);
        assert.equal(ours.error, rejected,
          `${key}: libvirt ${rejected ? 'REJECTS' : 'ACCEPTS'}, service ${ours.error ? 'reports an error' : 'reports no error'}\n` +
          `  libvirt: ${libvirt}\n  ours:    ${formatDiagnostics(ours.diagnostics)}`);
      });
    }
  });
}
