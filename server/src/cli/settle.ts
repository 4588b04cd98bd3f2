// How a CLI bundle's entry ends (dist/cli.js for every command, dist/check.js for `check` alone):
// the command's promise sets the exit code; a crash is one line on stderr and exit status 2.
export function settle(run: Promise<number>): void {
  run.then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`libvirt-volume: ${(err as Error)?.message ?? err}\n`);
      process.exitCode = 2;
    },
  );
}
