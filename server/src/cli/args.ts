// Option parsing shared by the qemu-img-style subcommands (compare, create -f luks).
import { SecretError } from '../writer/luks/secrets';

/** The argument of option `name`, argv[i]; qemu-img's wording when the command line ends first. */
export function optionArgument(argv: readonly string[], i: number, name: string): string {
  const v = argv[i];
  if (v === undefined) throw new SecretError(`option '${name}' requires an argument`);
  return v;
}
