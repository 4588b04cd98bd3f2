// `libvirt-volume` command line: a dispatcher over one module per subcommand.
// Exit codes: 0 success, 1 findings/refusal, 2 usage or I/O error.
import { USAGE as CHECK_USAGE, runCheck } from './check';
import { USAGE as CREATE_USAGE, runCreate } from './create';
import { USAGE as INFO_USAGE, runInfo } from './info';

interface Command { usage: string; run(args: string[]): Promise<number> }

const COMMANDS: Record<string, Command> = {
  check: { usage: CHECK_USAGE, run: runCheck },
  create: { usage: CREATE_USAGE, run: (a) => runCreate(a) },
  info: { usage: INFO_USAGE, run: (a) => runInfo(a) },
};

/** Subcommand modules register themselves here (create, info, …). */
export function registerCommand(name: string, cmd: Command): void {
  COMMANDS[name] = cmd;
}

function usage(): string {
  return ['usage: libvirt-volume <command> [options]', '', ...Object.entries(COMMANDS).map(([n, c]) => `  ${c.usage.split('\n')[0] || n}`)].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help') {
    (name ? process.stdout : process.stderr).write(usage() + '\n');
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`libvirt-volume: unknown command '${name}'\n${usage()}\n`);
    return 2;
  }
  return cmd.run(rest);
}

/** Runs the CLI with process.argv and sets the exit code (used by bin/libvirt-volume.js). */
export function runCli(): void {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err) => { process.stderr.write(`libvirt-volume: ${(err as Error)?.message ?? err}\n`); process.exitCode = 2; },
  );
}

if (require.main === module) runCli();
