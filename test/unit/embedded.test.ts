// Embedded libvirt XML (issue 12): Ansible xml: blocks, Jinja templates and Terraform heredocs.
// Every position is checked against the host file's own text, so a wrong mapping shows as a wrong word.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { CodeAction, Diagnostic, Range, TextEdit } from 'vscode-languageserver-types';
import {
  blankJinja, embeddedSecrets, extractRegions, hostKindOf, templateCandidates, templateLookups, toHost, toHostText,
  toRegion,
} from '../../server/src/service/embedded';
import type { ServiceEnvironment } from '../../server/src/service/types';
import { snippetToText } from '../../server/src/service/snippets';
import { service } from '../helpers/cursor';

const FIX = join(__dirname, '..', 'fixtures', 'embedded');
const read = (name: string) => readFileSync(join(FIX, name), 'utf8');

function textAt(text: string, r: Range): string {
  const d = TextDocument.create('file:///x', 'x', 1, text);
  return text.slice(d.offsetAt(r.start), d.offsetAt(r.end));
}
function diagnose(uri: string, text: string, env: ServiceEnvironment = {}, languageId = ''): Diagnostic[] {
  return service({}, env).doValidation(TextDocument.create(uri, languageId, 1, text));
}
/** "line:col code 'text under the range'" (1-based, like the CLI prints). */
const show = (text: string, ds: Diagnostic[]) =>
  ds.map((d) => `${d.range.start.line + 1}:${d.range.start.character + 1} ${d.code} '${textAt(text, d.range)}'`);

test('host kinds from the extension first, then the language id', () => {
  assert.equal(hostKindOf('file:///p/site.yml'), 'ansible');
  assert.equal(hostKindOf('file:///p/x', 'ansible'), 'ansible');
  assert.equal(hostKindOf('file:///p/templates/vm.xml.j2', 'xml'), 'jinja');
  assert.equal(hostKindOf('file:///p/main.tf'), 'terraform');
  assert.equal(hostKindOf('file:///p/x', 'hcl'), 'terraform');
  assert.equal(hostKindOf('file:///p/vol.xml', 'xml'), undefined);
  // Case, a query or a fragment, and names shorter than any extension.
  assert.equal(hostKindOf('file:///P/SITE.YAML'), 'ansible');
  assert.equal(hostKindOf('file:///p/vm.JINJA2'), 'jinja');
  assert.equal(hostKindOf('file:///p/main.tf?x=1#y'), 'terraform');
  assert.equal(hostKindOf('file:///p/vol.xml#main.tf'), undefined);
  assert.equal(hostKindOf('untitled:Untitled-1?site.yml', 'xml'), undefined);
  assert.equal(hostKindOf('.tf'), 'terraform');
  assert.equal(hostKindOf('f'), undefined);
});

test('playbook: libvirt messages at the YAML line and column; Jinja values and other modules not judged', () => {
  const text = read('playbook.yml');
  const ds = diagnose('file:///p/playbook.yml', text);
  assert.deepEqual(show(text, ds), ["27:29 volume-format-unknown 'qcow3'"]);
  assert.match(String(ds[0].message), /unknown volume format type qcow3/);
  // Regions: the pool and the volume (not `some.other.module`, not the lookup line).
  const regions = extractRegions('ansible', text);
  assert.equal(regions.length, 2);
  assert.match(regions[0].text, /^<pool type="dir">\n {2}<name>default<\/name>/);
  assert.deepEqual(templateLookups(text).map((l) => [l.path, text.slice(l.span.start, l.span.end)]),
    [['vm.xml.j2', 'vm.xml.j2']]);
});

test('the same playbook with CRLF line breaks reports at the same places', () => {
  const text = read('playbook.yml').replace(/\n/g, '\r\n');
  assert.deepEqual(show(text, diagnose('file:///p/playbook.yml', text)), ["27:29 volume-format-unknown 'qcow3'"]);
});

test('Jinja template: statements, expressions and comments skipped; the cdrom bus judged', () => {
  const text = read('templates/vm.xml.j2');
  assert.deepEqual(show(text, diagnose('file:///p/templates/vm.xml.j2', text)),
    ["17:30 disk-target-bus-invalid 'floppy'"]);
  const [blank, holes] = blankJinja('a{{ "}}" }}b{% raw %}{{ x }}{% endraw %}c{# n\n #}d');
  assert.equal(blank, 'a          b         {{ x }}            c    \n   d');
  assert.equal(holes.length, 4);
});

test('a template value written wholly by Jinja is not judged (blanked, same offsets)', () => {
  const text = '<volume>\n  <name>v</name>\n  <capacity unit="{{ u }}">{{ size }}</capacity>\n' +
    '  <target><format type="{{ fmt }}"/></target>\n</volume>\n';
  assert.deepEqual(diagnose('file:///p/v.xml.j2', text), []);
  // …while a literal mistake next to it still is.
  const bad = text.replace('<target>', '<allocation unit="XB">1</allocation><target>');
  assert.deepEqual(show(bad, diagnose('file:///p/v.xml.j2', bad)).map((s) => s.split(' ')[1]), ['volume-unit-unknown']);
});

test('Terraform: <<-EOF heredoc indented with tabs, ${} interpolation blanked, XSLT heredoc left alone', () => {
  const text = read('main.tf');
  assert.deepEqual(show(text, diagnose('file:///p/main.tf', text)),
    ["15:40 encryption-secret-uuid-invalid 'not-a-uuid'"]);
  assert.equal(extractRegions('terraform', text).length, 1);
});

test('region ⇄ host offsets: every region character is the host character it maps to', () => {
  const hosts: [Parameters<typeof extractRegions>[0], string][] = [
    ['ansible', read('playbook.yml')], ['ansible', read('playbook.yml').replace(/\n/g, '\r\n')],
    ['terraform', read('main.tf')], ['jinja', read('templates/vm.xml.j2')],
  ];
  for (const [kind, text] of hosts) {
    for (const r of extractRegions(kind, text)) {
      for (let i = 0; i < r.text.length; i++) {
        const h = toHost(r, i);
        if (r.text[i] !== ' ') assert.equal(text[h], r.text[i], `${kind} region offset ${i}`);
        assert.equal(toRegion(r, h), i, `${kind} round trip at ${i}`);
      }
    }
  }
});

test('YAML block details: indentation indicator, keep/strip chomping, comments, list-item modules', () => {
  const text = [
    '- community.libvirt.virt_volume:', '    pool: default', '    # the volume', '    xml: |2-',
    '        <volume>', '', '          <capacity unit="QB">1</capacity>', '        </volume>', '    state: present',
    '- virt_secret:', '    xml: >+', '      <secret ephemeral="maybe"/>', '',
  ].join('\n');
  const regions = extractRegions('ansible', text);
  assert.equal(regions.length, 2);
  // `|2-`: indentation is the key's column + 2; the extra spaces belong to the XML.
  assert.equal(regions[0].text, '  <volume>\n\n    <capacity unit="QB">1</capacity>\n  </volume>');
  assert.deepEqual(show(text, diagnose('file:///p/x.yaml', text)).map((s) => s.split(' ').slice(0, 2).join(' ')),
    ['5:10 volume-name-required', '7:27 volume-unit-unknown', '5:10 volume-target-missing',
      '12:26 secret-ephemeral-invalid']);
});

test('quick fixes edit the host file: YAML indentation added after each inserted line break', () => {
  const text = read('playbook.yml');
  const ls = service();
  const doc = TextDocument.create('file:///p/playbook.yml', 'yaml', 1, text);
  const d = ls.doValidation(doc)[0];
  const actions: CodeAction[] = ls.doCodeActions(doc, d.range, { diagnostics: [d] });
  const fix = actions.find((a) => /qcow2/.test(a.title));
  assert.ok(fix, `no qcow2 fix; have ${actions.map((a) => a.title).join(' | ')}`);
  const edits = fix.edit!.changes!['file:///p/playbook.yml'];
  const after = TextDocument.applyEdits(doc, edits);
  assert.equal(after, text.replace('"qcow3"', '"qcow2"'));
  assert.deepEqual(ls.doValidation(TextDocument.create(doc.uri, 'yaml', 2, after)), []);

  // A multi-line insertion: a LUKS <encryption> without its secret gets one, indented for YAML.
  const luks = ['- community.libvirt.virt_volume:', '    xml: |', '      <volume>', '        <name>v.raw</name>',
    '        <capacity unit="M">16</capacity>', '        <target>', '          <format type="raw"/>',
    '          <encryption format="luks"/>', '        </target>', '      </volume>', ''].join('\n');
  const ldoc = TextDocument.create('file:///p/luks.yml', 'yaml', 1, luks);
  const ld = ls.doValidation(ldoc);
  assert.ok(ld.length, 'expected a finding on <encryption format="luks"/> without a secret');
  const all = ld.flatMap((x) => ls.doCodeActions(ldoc, x.range, { diagnostics: [x] }));
  const multi = all.find((a) => (a.edit?.changes?.[ldoc.uri] ?? []).some((e: TextEdit) => e.newText.includes('\n')));
  assert.ok(multi, `no multi-line fix; have ${all.map((a) => a.title).join(' | ')}`);
  const fixed = TextDocument.applyEdits(ldoc, multi.edit!.changes![ldoc.uri]);
  // Every line of the block stays inside it (indented at least as deep as the block).
  const block = fixed.split('\n').slice(2, fixed.split('\n').findIndex((l, i) => i > 2 && l.trim() === '</volume>') + 1);
  for (const l of block) assert.match(l, /^ {6}/, `line left the block:\n${fixed}`);
  assert.equal(extractRegions('ansible', fixed).length, 1);
});

test('completion and hover inside a block: positions mapped both ways, nothing offered inside Jinja', () => {
  const text = read('playbook.yml');
  const ls = service();
  const doc = TextDocument.create('file:///p/playbook.yml', 'yaml', 1, text);
  const at = text.indexOf('qcow3') + 1;
  const list = ls.doComplete(doc, doc.positionAt(at));
  const item = list.items.find((c) => c.label === 'qcow2');
  assert.ok(item, 'qcow2 offered for <format type>');
  const range = (item.textEdit as TextEdit).range;
  assert.equal(range.start.line, 26);
  assert.equal(textAt(text, range), 'qcow3');
  assert.equal(TextDocument.applyEdits(doc, [{ range, newText: snippetToText((item.textEdit as TextEdit).newText) }]),
    text.replace('qcow3', 'qcow2'));
  const h = ls.doHover(doc, doc.positionAt(text.indexOf('<capacity') + 2));
  assert.ok(h?.range && textAt(text, h.range).includes('capacity'));
  assert.equal(ls.doHover(doc, doc.positionAt(text.indexOf('name: Storage'))), null);
  const jinja = text.indexOf('{{ vm_name }}.qcow2</name>') + 4;
  assert.deepEqual(ls.doComplete(doc, doc.positionAt(jinja)).items, []);
  const symbols = ls.findDocumentSymbols(doc);
  // The pool block has no symbols (pools are not judged); the volume's are on the volume lines.
  assert.deepEqual(symbols.map((s) => textAt(text, s.selectionRange)), ['volume']);
  assert.equal(symbols[0].name, 'volume {{ vm_name }}.qcow2');
  assert.equal(symbols[0].range.start.line, 22);
  const folds = ls.getFoldingRanges(doc);
  assert.deepEqual(folds.find((f) => f.startLine === 22), { startLine: 22, endLine: 27 }, JSON.stringify(folds));
});

test('an edit in the host file revalidates only the block it changed', () => {
  const block = (p: string) => `    xml: |\n      <volume>\n        <name>v</name>\n        <capacity>1</capacity>\n` +
    `        <target><format type="qcow2"/></target>\n        <backingStore><path>${p}</path>` +
    `<format type="qcow2"/></backingStore>\n      </volume>\n`;
  const text = `- community.libvirt.virt_volume:\n${block('/img/a.qcow2')}- community.libvirt.virt_volume:\n` +
    block('/img/b.qcow2');
  const probed: string[] = [];
  const ls = service({}, { imageFacts: (p) => { probed.push(p); return undefined; } });
  ls.doValidation(TextDocument.create('file:///p/two.yml', 'yaml', 1, text));
  assert.deepEqual(probed.sort(), ['/img/a.qcow2', '/img/b.qcow2']);
  probed.length = 0;
  // Unrelated YAML edit (a new task above both blocks): nothing revalidated, positions still right.
  const moved = `- name: first\n  debug: {}\n${text}`;
  const ds = ls.doValidation(TextDocument.create('file:///p/two.yml', 'yaml', 2, moved));
  assert.deepEqual(probed, []);
  for (const d of ds) assert.notEqual(textAt(moved, d.range).trim(), '', d.code as string);
  // Editing block b: only b is validated again.
  ls.doValidation(TextDocument.create('file:///p/two.yml', 'yaml', 3, moved.replace('b.qcow2', 'c.qcow2')));
  assert.deepEqual(probed, ['/img/c.qcow2']);
  // New settings: every block again.
  ls.configure({ libvirtVersion: '9.0.0' });
  probed.length = 0;
  ls.doValidation(TextDocument.create('file:///p/two.yml', 'yaml', 3, moved.replace('b.qcow2', 'c.qcow2')));
  assert.deepEqual(probed.sort(), ['/img/a.qcow2', '/img/c.qcow2']);
});

test('hosts never crash the service: every prefix of every fixture through every feature', () => {
  const ls = service();
  for (const [uri, full] of [['file:///p/playbook.yml', read('playbook.yml')], ['file:///p/main.tf', read('main.tf')],
    ['file:///p/vm.xml.j2', read('templates/vm.xml.j2')]]) {
    for (let n = 0; n <= full.length; n += 7) {
      const doc = TextDocument.create(uri, '', n, full.slice(0, n));
      const end = doc.positionAt(n);
      ls.doValidation(doc);
      ls.doComplete(doc, end);
      ls.doHover(doc, end);
      ls.doCodeActions(doc, { start: end, end }, { diagnostics: [] });
      ls.findDocumentSymbols(doc);
      ls.getFoldingRanges(doc);
      ls.findDefinition(doc, end);
      ls.findReferences(doc, end);
    }
  }
});

test('go to definition from a secret uuid in a playbook block reaches the workspace <secret> file', () => {
  const uuid = '0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f';
  const secretRange = { start: { line: 1, character: 8 }, end: { line: 1, character: 44 } };
  const ls = service({}, {
    secrets: () => [{ uri: 'file:///p/secret.xml', uuid, usageType: 'volume', usageVolume: '/img/enc.qcow2',
      uuidRange: secretRange }],
  });
  const text = ['- community.libvirt.virt_volume:', '    xml: |', '      <volume>', '        <name>enc.qcow2</name>',
    '        <capacity unit="G">1</capacity>', '        <target>', '          <path>/img/enc.qcow2</path>',
    '          <format type="qcow2"/>', '          <encryption format="luks">',
    `            <secret type="passphrase" uuid="${uuid}"/>`, '          </encryption>', '        </target>',
    '      </volume>', ''].join('\n');
  const doc = TextDocument.create('file:///p/site.yml', 'yaml', 1, text);
  const defs = ls.findDefinition(doc, doc.positionAt(text.indexOf(uuid) + 3));
  assert.deepEqual(defs, [{ uri: 'file:///p/secret.xml', range: secretRange }]);
  assert.deepEqual(ls.doValidation(doc).map((d) => d.code), []);
});

test('seeded random mutations of the hosts: no throw, and every region still maps back exactly', () => {
  let seed = 12;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  const pieces = ['{{', '}}', '{%', '%}', '{#', '#}', '${', '%{', '}', '<', '>', '/>', '"', "'", '\n', '\r\n', '\t', '  ',
    'xml: |', 'xml: >-', '<<EOF\n', '<<-EOF\n', 'EOF\n', '- ', ':', '<volume>', '</volume>', '|2', 'virt_volume:\n',
    "xml: '<volume>", 'xml: "<volume>', 'xml: <volume>', "''", '\\"', '\\', 'args:\n', 'args: { xml: ', ' }', ' #'];
  const bases: [string, string][] = [['file:///p/site.yml', read('playbook.yml')], ['file:///p/main.tf', read('main.tf')],
    ['file:///p/vm.xml.j2', read('templates/vm.xml.j2')]];
  const ls = service();
  for (let round = 0; round < 300; round++) {
    const [uri, base] = bases[round % bases.length];
    let text = base;
    for (let k = 0, n = 1 + rand(6); k < n; k++) {
      const at = rand(text.length + 1);
      text = rand(3) === 0 ? text.slice(0, at) + text.slice(Math.min(text.length, at + rand(40)))
        : text.slice(0, at) + pieces[rand(pieces.length)] + text.slice(at);
    }
    const kind = hostKindOf(uri)!;
    for (const r of extractRegions(kind, text)) {
      assert.equal(r.text.length, r.raw.length);
      for (let i = 0; i < r.text.length; i++) {
        assert.equal(toRegion(r, toHost(r, i)), i, `round ${round}: ${JSON.stringify(text)}`);
        // A double-quoted escape's character maps to its backslash.
        const escaped = r.quote === '"' && text[toHost(r, i)] === '\\';
        if (r.text[i] !== ' ' && !escaped) assert.equal(text[toHost(r, i)], r.text[i]);
      }
    }
    const doc = TextDocument.create(uri, '', round, text);
    const pos = doc.positionAt(rand(text.length + 1));
    for (const d of ls.doValidation(doc)) {
      assert.ok(d.range.start.line < doc.lineCount && d.range.end.line < doc.lineCount, JSON.stringify(d.range));
      ls.doCodeActions(doc, d.range, { diagnostics: [d] });
    }
    ls.doComplete(doc, pos);
    ls.doHover(doc, pos);
    ls.findDocumentSymbols(doc);
    ls.getFoldingRanges(doc);
  }
});

test("lookup('template', …): go to definition opens the template where Ansible finds it (role layout too)", () => {
  assert.deepEqual(templateCandidates('/p/roles/kvm/tasks/main.yml', 'vm.xml.j2'),
    ['/p/roles/kvm/tasks/templates/vm.xml.j2', '/p/roles/kvm/tasks/vm.xml.j2', '/p/roles/kvm/templates/vm.xml.j2']);
  assert.deepEqual(templateCandidates('/p/site.yml', '/srv/t/vm.xml.j2'), ['/srv/t/vm.xml.j2']);
  const text = read('playbook.yml');
  const files = new Set(['/p/roles/kvm/templates/vm.xml.j2']);
  const ls = service({}, { isFile: (p) => files.has(p) });
  const doc = TextDocument.create('file:///p/roles/kvm/tasks/main.yml', 'yaml', 1, text);
  const at = doc.positionAt(text.indexOf("vm.xml.j2'") + 2);
  assert.deepEqual(ls.findDefinition(doc, at).map((l) => l.uri), ['file:///p/roles/kvm/templates/vm.xml.j2']);
  files.clear();
  assert.deepEqual(ls.findDefinition(doc, at), []);
});

test('Jinja branches: alternatives in {% if %}/{% else %} are not duplicates; outside a block they are', () => {
  const branch = '<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n  <target>\n{% if q %}\n    <format type="qcow2"/>\n' +
    '{% else %}\n    <format type="raw"/>\n{% endif %}\n  </target>\n</volume>\n';
  assert.deepEqual(diagnose('file:///p/v.xml.j2', branch).map((d) => d.code), []);
  const twice = branch.replace('{% if q %}\n', '').replace('{% else %}\n', '').replace('{% endif %}\n', '');
  assert.deepEqual(diagnose('file:///p/v.xml.j2', twice).map((d) => d.code), ['duplicate-element']);
});

test('Terraform: %{ if }/%{ else }/%{ endif } branches are not duplicates either', () => {
  const tf = 'locals {\n  v = <<-EOT\n    <volume>\n      <name>v</name>\n      <capacity>1</capacity>\n      <target>\n' +
    '      %{ if var.qcow2 }\n      <format type="qcow2"/>\n      %{ else }\n      <format type="raw"/>\n      %{ endif }\n' +
    '      </target>\n    </volume>\n    EOT\n}\n';
  assert.deepEqual(diagnose('file:///p/main.tf', tf).map((d) => d.code), []);
  assert.deepEqual(diagnose('file:///p/main.tf', tf.replace(/ *%\{[^}]*\}\n/g, '')).map((d) => d.code),
    ['duplicate-element']);
});

// ---- one-line scalars, args:, lookup('file') and secrets of virt_secret tasks ----------------------

const VOL = (fmt: string) => `<volume><name>a.img</name><capacity>1</capacity><target><format type=${fmt}/></target></volume>`;
const ONE_LINE = [
  '- hosts: kvm',
  '  tasks:',
  '    - name: plain scalar',
  '      community.libvirt.virt_volume:',
  '        pool: default',
  `        xml: ${VOL('"qcow3"')}  # a comment`,
  '    - name: single-quoted, with doubled quotes before the fault',
  '      community.libvirt.virt_volume:',
  `        xml: '${VOL("''qcow4''").replace('a.img', "it''s.img")}'`,
  '    - name: double-quoted, with escapes before the fault',
  '      virt_volume:',
  `        xml: "${VOL('\\"qcow5\\"').replace('<name>', '\\t<name>')}"`,
  '    - name: an escape that is not mapped one to one is not judged',
  '      virt_volume:',
  `        xml: "${VOL('\\"qcow6\\"').replace('a.img', '\\u0041.img')}"`,
  '    - name: args under the task, block scalar',
  '      community.libvirt.virt_volume:',
  '        pool: default',
  '      args:',
  '        xml: |',
  '          <volume><name>b.img</name><capacity>1</capacity>',
  "            <target><format type='qcow7'/></target></volume>",
  '    - name: args as a flow mapping',
  '      args: { pool: default, xml: ' + `'${VOL("''qcow8''")}' }`,
  '      community.libvirt.virt_volume:',
  '    - name: args of another module',
  '      some.other.module:',
  '      args:',
  `        xml: '${VOL("''qcow9''")}'`,
  '    - name: a plain scalar going on over the next lines is not judged',
  '      virt_volume:',
  `        xml: ${VOL('"qcow11"')}`,
  '          <!-- more -->',
  '    - name: a quoted scalar going on past its line is not judged',
  '      virt_volume:',
  `        xml: "${VOL('\\"qcow10\\"')}`,
  '          "',
  '',
].join('\n');

test('one-line xml: scalars (plain, single- and double-quoted) and args: forms, at exact columns', () => {
  const text = ONE_LINE;
  const ds = diagnose('file:///p/one.yml', text);
  assert.deepEqual(show(text, ds), [
    "6:84 volume-format-unknown 'qcow3'",
    "9:90 volume-format-unknown 'qcow4'",
    "12:88 volume-format-unknown 'qcow5'",
    "22:35 volume-format-unknown 'qcow7'",
    "24:107 volume-format-unknown 'qcow8'",
  ]);
  assert.equal(ds[0].message, 'unsupported configuration: unknown volume format type qcow3');
  const regions = extractRegions('ansible', text);
  // The tool receives the scalar's value: quotes undone, escapes decoded.
  assert.match(regions[1].text, /<name>it's\.img<\/name>.*type='qcow4'/);
  assert.match(regions[2].text, /^<volume>\t<name>a\.img<\/name>.*type="qcow5"/);
  for (const r of regions) for (let i = 0; i < r.text.length; i++) assert.equal(toRegion(r, toHost(r, i)), i);
});

test('text inserted into a one-line scalar is written in its style', () => {
  const [plain, single, double] = extractRegions('ansible', ONE_LINE);
  assert.equal(toHostText(single, `a'b\n`), "a''b ");
  assert.equal(toHostText(double, 'a"b\\c\n'), 'a\\"b\\\\c\\n');
  assert.equal(toHostText(plain, 'a\nb'), 'a b');
  // A quick fix in a single-quoted scalar edits only the value.
  const doc = TextDocument.create('file:///p/one.yml', 'yaml', 1, ONE_LINE);
  const ls = service();
  const d = ls.doValidation(doc).find((x) => /qcow4/.test(String(x.message)))!;
  const fix = ls.doCodeActions(doc, d.range, { diagnostics: [d] }).find((a) => /qcow2/.test(a.title));
  const edits = fix?.edit?.changes?.['file:///p/one.yml'] as TextEdit[];
  assert.ok(edits, 'a qcow2 fix');
  const fixed = TextDocument.applyEdits(doc, edits);
  assert.equal(fixed, ONE_LINE.replace("''qcow4''", "''qcow2''"));
});

test("lookup('file', …) in xml: (block key, args flow mapping): files/ in Ansible's order, Go to Definition", () => {
  const text = ['- community.libvirt.virt_volume:', `    xml: "{{ lookup('file', 'vol.xml') }}"`,
    '- community.libvirt.virt_pool:', '  args: { xml: "{{ lookup(\'template\', \'pool.xml.j2\') }}" }', ''].join('\n');
  assert.deepEqual(templateLookups(text).map((l) => [l.lookup, l.path, text.slice(l.span.start, l.span.end)]),
    [['file', 'vol.xml', 'vol.xml'], ['template', 'pool.xml.j2', 'pool.xml.j2']]);
  assert.deepEqual(extractRegions('ansible', text), []);
  assert.deepEqual(templateCandidates('/p/roles/kvm/tasks/main.yml', 'vol.xml', 'file'),
    ['/p/roles/kvm/tasks/files/vol.xml', '/p/roles/kvm/tasks/vol.xml', '/p/roles/kvm/files/vol.xml']);
  const files = new Set(['/p/roles/kvm/files/vol.xml', '/p/roles/kvm/templates/pool.xml.j2']);
  const ls = service({}, { isFile: (p) => files.has(p) });
  const doc = TextDocument.create('file:///p/roles/kvm/tasks/main.yml', 'yaml', 1, text);
  assert.deepEqual(ls.findDefinition(doc, doc.positionAt(text.indexOf("vol.xml'") + 1)).map((l) => l.uri),
    ['file:///p/roles/kvm/files/vol.xml']);
  assert.deepEqual(ls.findDefinition(doc, doc.positionAt(text.indexOf("pool.xml.j2'") + 1)).map((l) => l.uri),
    ['file:///p/roles/kvm/templates/pool.xml.j2']);
});

const UUID = '6a1f7c3e-2b9d-4e55-9c0a-5d1e2f3a4b5c';
const SECRET_PLAYBOOK = [
  '- hosts: kvm',
  '  tasks:',
  '    - name: The volume key',
  '      community.libvirt.virt_secret:',
  '        command: define',
  '        xml: |',
  "          <secret ephemeral='no' private='yes'>",
  `            <uuid>${UUID}</uuid>`,
  "            <usage type='volume'><volume>/img/enc.qcow2</volume></usage>",
  '          </secret>',
  '    - name: The encrypted volume',
  '      community.libvirt.virt_volume:',
  '        xml: |',
  '          <volume>',
  '            <name>enc.qcow2</name>',
  '            <capacity unit="G">1</capacity>',
  '            <target>',
  '              <path>/img/enc.qcow2</path>',
  '              <format type="qcow2"/>',
  '              <encryption format="luks">',
  `                <secret type="passphrase" uuid="${UUID}"/>`,
  '              </encryption>',
  '            </target>',
  '          </volume>',
  '',
].join('\n');

test("a virt_secret task's <secret> is a workspace secret: at host positions, found, referenced once", () => {
  const uri = 'file:///p/site.yml';
  const { secrets, uses } = embeddedSecrets('ansible', uri, SECRET_PLAYBOOK);
  assert.deepEqual(secrets.map((s) => [s.uri, s.uuid, s.usageType, s.usageVolume, textAt(SECRET_PLAYBOOK, s.uuidRange!)]),
    [[uri, UUID, 'volume', '/img/enc.qcow2', UUID]]);
  assert.deepEqual(uses.map((u) => [u.uri, textAt(SECRET_PLAYBOOK, u.range), u.range.start.line + 1]),
    [[uri, UUID, 21]]);
  const doc = TextDocument.create(uri, 'yaml', 1, SECRET_PLAYBOOK);
  // Without this playbook's secret the volume's is unknown; with it (as the server wires it) it is known.
  const elsewhere = { uri: 'file:///p/other.xml', uuid: '11111111-2222-3333-4444-555555555555', usageType: 'ceph',
    usageVolume: undefined };
  assert.deepEqual(service({}, { secrets: () => [elsewhere] }).doValidation(doc).map((d) => d.code),
    ['workspace-secret-uuid-unknown']);
  const ls = service({}, { secrets: () => secrets, secretUses: () => uses });
  assert.deepEqual(ls.doValidation(doc).map((d) => d.code), []);
  const at = doc.positionAt(SECRET_PLAYBOOK.lastIndexOf(UUID) + 3);
  const line = (l: { uri: string; range: Range }) => `${l.uri}:${l.range.start.line + 1}:${l.range.start.character + 1}`;
  assert.deepEqual(ls.findDefinition(doc, at).map(line), [`${uri}:8:19`]);
  // The index entry of this open file and its open regions are one source: each location once.
  assert.deepEqual(ls.findReferences(doc, at).map(line).sort(), [`${uri}:21:49`, `${uri}:8:19`]);
  // Another file using it finds it through the index.
  const other = TextDocument.create('file:///p/vol.xml', 'xml', 1, SECRET_PLAYBOOK.split('\n').slice(13, 24)
    .map((l) => l.slice(10)).join('\n'));
  assert.deepEqual(ls.doValidation(other).map((d) => d.code), []);
  assert.deepEqual(ls.findDefinition(other, other.positionAt(other.getText().indexOf(UUID) + 1)).map(line),
    [`${uri}:8:19`]);
});
