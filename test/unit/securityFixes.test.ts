// Quick fixes for the weak-encryption lint and the image checks (issue 7): every offered fix
// removes its diagnostic and brings no new error (applied through the facade like an editor).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver-types';
import { getLanguageService } from '../../server/src/service/languageService';
import type { ImageFacts, ServiceEnvironment } from '../../server/src/service/types';

const URI = 'file:///vm/doc.xml';
const SECRET = `<secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/>`;
const vol = (cipher: string, cap = '1') => `<volume>\n  <name>v</name>\n  <capacity unit='T'>${cap}</capacity>\n  <target>\n    <path>/vm/v.img</path>\n    <format type='raw'/>\n    <encryption format='luks'>\n      ${SECRET}\n      ${cipher}\n    </encryption>\n  </target>\n</volume>\n`;

function service(env: ServiceEnvironment = {}) {
  const ls = getLanguageService({ log: (m) => { throw new Error(m); }, randomUUID: () => '0a81f5b2-8403-4b23-88d6-21ccc2f80d6f', ...env });
  return ls;
}
const errors = (ds: Diagnostic[]) => ds.filter((d) => d.severity === DiagnosticSeverity.Error).map((d) => `${d.code}: ${d.message}`).sort();

/** Applies every fix offered for each diagnostic with `prefix`; returns how many were checked. */
function roundTrip(text: string, prefix: RegExp, env: ServiceEnvironment = {}, wantTitles?: RegExp[]): number {
  const ls = service(env);
  const doc = TextDocument.create(URI, 'xml', 1, text);
  const before = ls.doValidation(doc);
  const mine = before.filter((d) => prefix.test(String(d.code)));
  assert.ok(mine.length > 0, `no ${prefix} diagnostic in ${text}`);
  let n = 0;
  const titles: string[] = [];
  for (const d of mine) {
    const actions = ls.doCodeActions(doc, d.range, { diagnostics: [d] });
    for (const a of actions) {
      titles.push(a.title);
      const edits = a.edit?.changes?.[URI] ?? [];
      assert.ok(edits.length, `${a.title}: no edits`);
      const fixed = TextDocument.applyEdits(doc, edits);
      const after = service(env).doValidation(TextDocument.create(URI, 'xml', 2, fixed));
      const same = after.filter((x) => x.code === d.code && x.message === d.message);
      assert.deepEqual(same.map((x) => x.message), [], `${a.title} left ${d.code} in:\n${fixed}`);
      assert.deepEqual(errors(after), errors(before), `${a.title} brought errors in:\n${fixed}`);
      n++;
    }
  }
  for (const re of wantTitles ?? []) assert.ok(titles.some((t) => re.test(t)), `no fix titled ${re}: ${titles.join(' | ')}`);
  return n;
}

test('weak-encryption fixes: the smallest change and the modern default', () => {
  let n = 0;
  n += roundTrip(vol(`<cipher name='twofish' size='256' mode='ecb' hash='sha256'/>\n      <ivgen name='essiv' hash='sha256'/>`), /^weak-/, {}, [/mode='xts'/, /modern default: cipher name='aes'/]);
  n += roundTrip(vol(`<cipher name='aes' size='256' mode='ctr' hash='sha256'/>\n      <ivgen name='plain64'/>`), /^weak-/);
  n += roundTrip(vol(`<cipher name='aes' size='256' mode='cbc'/>\n      <ivgen name='plain'/>`), /^weak-/);
  n += roundTrip(vol(`<cipher name='aes' size='256' mode='cbc' hash='sha256'/>`), /^weak-/);
  n += roundTrip(vol(`<cipher name='aes' size='256' mode='xts' hash='sha256'/>\n      <ivgen name='plain'/>`, '3'), /^weak-/, {}, [/ivgen name='plain64'/]);
  n += roundTrip(vol(`<cipher name='cast5' size='128' mode='cbc' hash='sha256'/>\n      <ivgen name='essiv' hash='md5'/>`), /^weak-/);
  n += roundTrip(vol(`<cipher name='aes' size='256' mode='xts' hash='ripemd160'/>\n      <ivgen name='plain64'/>`), /^weak-/, {}, [/cipher hash='sha256'/]);
  n += roundTrip(vol(`<cipher name='aes' size='128' mode='cbc' hash='sha256'/>\n      <ivgen name='essiv' hash='md5'/>`), /^weak-/, {}, [/ivgen hash='sha256'/]);
  n += roundTrip(vol(`<cipher name='serpent' size='128' mode='xts' hash='sha256'/>\n      <ivgen name='plain64'/>`), /^weak-/, {}, [/^Use: cipher size='256'$/]);
  n += roundTrip(`<encryption format='qcow'>\n  ${SECRET}\n</encryption>\n`, /^weak-/, {}, [/format='luks'/]);
  assert.ok(n >= 12, `${n} fixes checked`);
});

test('image checks: declare the real format', () => {
  const qcow2: ImageFacts = { format: 'qcow2', virtualSize: 1 << 20 };
  const env: ServiceEnvironment = { imageFacts: (p) => (p.endsWith('.qcow2') ? qcow2 : undefined) };
  roundTrip(`<volume>\n  <name>v</name>\n  <capacity>1048576</capacity>\n  <target>\n    <path>/vm/a.qcow2</path>\n    <format type='raw'/>\n  </target>\n</volume>\n`, /^image-format/, env, [/Declare format 'qcow2'/]);
  roundTrip(`<volume>\n  <name>v</name>\n  <capacity>1048576</capacity>\n  <target>\n    <path>/vm/a.qcow2</path>\n  </target>\n</volume>\n`, /^image-format/, env, [/Declare format 'qcow2'/]);
  roundTrip(`<disk type='file' device='disk'>\n  <source file='/vm/a.qcow2'/>\n  <target dev='vda'/>\n</disk>\n`, /^image-format/, env, [/Declare format 'qcow2'/]);
  roundTrip(`<disk type='file' device='disk'>\n  <driver name='qemu'/>\n  <source file='/vm/a.qcow2'/>\n  <target dev='vda'/>\n</disk>\n`, /^image-format/, env, [/Declare format 'qcow2'/]);
  roundTrip(`<volume>\n  <name>v</name>\n  <capacity>1048576</capacity>\n  <target>\n    <path>/vm/new.qcow2</path>\n    <format type='qcow2'/>\n  </target>\n  <backingStore>\n    <path>/vm/b.qcow2</path>\n  </backingStore>\n</volume>\n`, /^image-backing/, { imageFacts: (p) => (p === '/vm/b.qcow2' ? qcow2 : undefined) }, [/Declare format 'qcow2'/]);
  // The fix never touches the path itself.
  const ls = service(env);
  const text = `<disk type='file'><source file='/vm/a.qcow2'/><target dev='vda'/></disk>`;
  const doc = TextDocument.create(URI, 'xml', 1, text);
  const [d] = ls.doValidation(doc).filter((x) => x.code === 'image-format-mismatch');
  for (const a of ls.doCodeActions(doc, d.range, { diagnostics: [d] })) assert.match(TextDocument.applyEdits(doc, a.edit!.changes![URI]), /file='\/vm\/a\.qcow2'/);
});
