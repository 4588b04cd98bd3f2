// V8's optimizing tier (TurboFan) for one `check` run (issue 15).
// A check of many small documents is over before TurboFan's compile jobs, which run on V8's
// background threads, pay back what they cost: on 400 volumes of 4 KB (npm run bench -- xmllint,
// quiet VM) the per-document CPU time went from 0.30 to 0.19 ms with it off, the wall time unchanged.
// A big document gains from it (its scanner loops run long enough to be optimized on the stack):
// one 1 MB volume takes 50 ms with it, 70 ms without; so does a long run. So a run of MANY
// documents or more starts without it and turns it on for good at the first document over
// BIG_DOCUMENT bytes, or once LONG_RUN bytes were read; a shorter run keeps V8's defaults (loading
// node:v8 alone costs ~2.4 ms of its start-up). V8 reads the flag when it decides to optimize a
// function, so turning it on midway works for every function not yet decided (measured: a hot loop
// run at --no-opt speed, then at full speed once the flag is back).

/** Runs of fewer documents keep V8's defaults. */
export const MANY = 16;
/** A document this big is checked with the optimizing tier on. */
export const BIG_DOCUMENT = 256 * 1024;
/** After this many bytes read the rest of the run has the optimizing tier on. */
export const LONG_RUN = 8 * 1024 * 1024;

export class Tiering {
  private read = 0;
  private optimizing = true;

  /**
   * `documents`: how many the run will read; `flags`: V8's setFlagsFromString (injectable for tests),
   * loaded only when the run is long enough to use it.
   */
  constructor(
    documents: number,
    private flags?: (f: string) => void,
  ) {
    // The build's code-cache warm-up (scripts/cli-cache.mjs): V8 stamps the cache with its flags.
    if (documents < MANY || process.env.LIBVIRT_VOLUME_KEEP_V8_FLAGS === '1') return;
    this.flags ??= (require('node:v8') as typeof import('node:v8')).setFlagsFromString;
    this.optimizing = false;
    this.flags('--no-opt');
  }

  /** Before a document of `size` bytes is checked: whether the tier is on from now on. */
  next(size: number): boolean {
    this.read += size;
    if (!this.optimizing && (size > BIG_DOCUMENT || this.read > LONG_RUN)) {
      this.optimizing = true;
      this.flags!('--opt');
    }
    return this.optimizing;
  }
}
