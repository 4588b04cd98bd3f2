// Environments whose imageFacts reads headers with the project's own reader (writer/probe.ts)
// through the Node I/O, as the language server and the CLI do. Allocation comes from stat
// (st_blocks), which the header cannot say.
import { statSync } from 'node:fs';
import { nodeProbeIO } from '../../server/src/writer/nodeIO';
import { tryProbeImage } from '../../server/src/writer/probe';
import type { ServiceEnvironment } from '../../server/src/service/types';

export function probeEnv(): ServiceEnvironment {
  const io = nodeProbeIO();
  return {
    imageFacts(path) {
      const f = tryProbeImage(io, path);
      if (f) {
        try { f.actualSize = statSync(path).blocks * 512; } catch { /* allocation unknown */ }
      }
      return f;
    },
  };
}

export function imageEnvs(): Array<readonly [string, () => ServiceEnvironment]> {
  return [['probeImage (writer/probe.ts)', probeEnv] as const];
}
