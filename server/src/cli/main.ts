// `libvirt-volume` command line: a dispatcher over one module per subcommand.
// Exit codes: 0 success, 1 findings/refusal, 2 usage or I/O error.
import { settle } from './settle';

interface Command {
  usage(): string;
  run(args: string[]): Promise<number>;
}

// Each subcommand's module is loaded when it runs (require, bundled lazily by esbuild): `create -f
// luks` is timed against qemu-img and must not pay for the language service that `check` needs.
const check = (): typeof import('./check') => require('./check');
const compare = (): typeof import('./compare') => require('./compare');
const convert = (): typeof import('./convert') => require('./convert');
const create = (): typeof import('./create') => require('./create');
const info = (): typeof import('./info') => require('./info');
const COMMANDS: Record<string, Command> = {
  check: { usage: () => check().USAGE, run: (a) => check().runCheck(a) },
  compare: { usage: () => compare().USAGE, run: (a) => compare().runCompare(a) },
  convert: { usage: () => convert().USAGE, run: (a) => convert().runConvert(a) },
  create: { usage: () => create().USAGE, run: (a) => create().runCreate(a) },
  info: { usage: () => info().USAGE, run: (a) => info().runInfo(a) },
};

function usage(): string {
  return [
    'usage: libvirt-volume <command> [options]',
    '',
    ...Object.entries(COMMANDS).map(([n, c]) => `  ${c.usage().split('\n')[0] || n}`),
  ].join('\n');
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
  settle(main(process.argv.slice(2)));
}

if (require.main === module) runCli();
