// Held-out check of the domain <disk> rules against libvirt's own qemu driver test data (not part
// of the suite: libvirt's sources are not in the repo). Point LIBVIRT_TESTDATA at an unpacked
// libvirt tree's tests/qemuxmlconfdata (11.x; qemuxmlconftest.c's naming) and run
//   LIBVIRT_TESTDATA=/path/to/libvirt/tests/qemuxmlconfdata node --import tsx test/oracle/libvirtTestData.ts
// Judged as x86_64 with the latest capabilities, as qemuxmlconftest.c's DO_TEST_CAPS_LATEST does:
//  accepted  = NAME.xml with a NAME.x86_64-latest.args (libvirt parsed, validated and built a
//              command line) → every error-severity diagnostic of ours is a false error;
//  refused   = NAME.xml with a NAME.x86_64-latest.err (DO_TEST_CAPS_LATEST_PARSE_ERROR/_FAILURE)
//              → listed with libvirt's message and whether we report an error at all (or, for
//              what libvirt refuses only when the VM starts, a RUNTIME warning).
// `--all` lists every refused domain; by default only those we miss, plus the false errors.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { getLanguageService } from '../../server/src/service/languageService';
import { NEWEST_LIBVIRT } from '../../schemas/vocabulary';
import { ruleById } from '../../server/src/service/rules';

const dir = process.env.LIBVIRT_TESTDATA;
if (!dir || !existsSync(dir)) {
  console.error('set LIBVIRT_TESTDATA to libvirt\'s tests/qemuxmlconfdata');
  process.exit(2);
}
const all = process.argv.includes('--all');
const ls = getLanguageService({ log: () => undefined });
ls.configure({ libvirtVersion: process.env.LIBVIRT_VERSION || NEWEST_LIBVIRT });

/**
 * Our errors, and with `startup` our warnings of refusals libvirt makes only when the VM starts
 * (RUNTIME rules): qemuxmlconftest.c's DO_TEST_CAPS_LATEST_FAILURE builds the command line.
 */
function errors(file: string, startup = false): string[] {
  const text = readFileSync(file, 'utf8');
  const diags = ls.doValidation(TextDocument.create(`file://${file}`, 'xml', 1, text));
  const counted = diags.filter((d) => d.severity === 1 || (startup && ruleById(String(d.code))?.layer === 'RUNTIME'));
  return counted.map((d) => `${d.code} @${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.message}`);
}

const files = readdirSync(dir);
const SUFFIX = '.x86_64-latest.';
const names = (ext: string) => files.filter((f) => f.endsWith(SUFFIX + ext)).map((f) => f.slice(0, -(SUFFIX.length + ext.length)));

let accepted = 0;
let falseErrors = 0;
for (const name of names('args')) {
  const input = join(dir, `${name}.xml`);
  if (!existsSync(input)) continue;
  accepted++;
  const errs = errors(input);
  if (errs.length) {
    falseErrors++;
    console.log(`FALSE ERROR ${name}\n  ${errs.join('\n  ')}`);
  }
}
let refused = 0;
let caught = 0;
for (const name of names('err')) {
  const input = join(dir, `${name}.xml`);
  if (!existsSync(input)) continue;
  refused++;
  const libvirt = readFileSync(join(dir, `${name}${SUFFIX}err`), 'utf8').trim().split('\n')[0];
  const errs = errors(input, true);
  if (errs.length) caught++;
  if (all || !errs.length) console.log(`${errs.length ? 'CAUGHT' : 'MISSED'} ${name}\n  libvirt: ${libvirt}${errs.length ? `\n  ours:    ${errs.join('\n           ')}` : ''}`);
}
console.log(`\naccepted: ${accepted} domains, ${falseErrors} with a false error`);
console.log(`refused:  ${refused} domains, ${caught} with an error of ours (or a start-time warning)`);
