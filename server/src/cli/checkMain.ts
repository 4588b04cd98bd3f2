// Entry of dist/check.js: `libvirt-volume check` in a bundle of its own (issue 15). The check's
// start-up is timed against Node's own; this bundle holds the check's code and not the writer,
// convert or create (471 KB against dist/cli.js's 742 KB), so there is less source to read and a
// smaller code cache to load. bin/libvirt-volume.js picks it for `check`; dist/cli.js still runs
// `check` the same way (main.ts), with the same verdicts.
import { runCheck } from './check';
import { settle } from './settle';

/** `argv` as main.ts takes it: the command name first (always `check` here). */
export const main = (argv: string[]): Promise<number> => runCheck(argv.slice(1));

export function runCli(): void {
  settle(main(process.argv.slice(2)));
}
