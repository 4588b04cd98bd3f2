// `libvirt-volume check playbook.yml` (issue 12): the bundled CLI on the embedded-XML fixtures —
// libvirt's messages at the host file's line and column, template lookups followed, folder walks.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

const root = process.env.LIBVIRT_VOLUME_ROOT ?? join(__dirname, '..', '..');
const bin = join(root, 'bin', 'libvirt-volume.js');
let dir = '';

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, 'check', ...args], { cwd: dir, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lv-check-embedded-'));
  cpSync(join(root, 'test', 'fixtures', 'embedded'), dir, { recursive: true });
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('check playbook.yml: the block error at its YAML line/column, then the looked-up template', () => {
  const r = run('playbook.yml');
  assert.equal(r.code, 1, r.err);
  assert.equal(r.out,
    'playbook.yml:27:29: error volume-format-unknown: unsupported configuration: unknown volume format type qcow3\n' +
    "templates/vm.xml.j2:17:30: error disk-target-bus-invalid: XML error: Invalid value for attribute 'bus' in " +
    "element 'target': 'floppy'.\n");
  assert.match(r.err, /^2 files checked: 2 errors, 0 warnings$/m);
});

test('check --json on a Terraform file: LSP ranges on the heredoc value', () => {
  const r = run('--json', 'main.tf');
  assert.equal(r.code, 1, r.err);
  const [f] = JSON.parse(r.out) as { file: string; diagnostics: { code: string; range: { start: { line: number; character: number } } }[] }[];
  assert.deepEqual(f.diagnostics.map((d) => [d.code, d.range.start]),
    [['encryption-secret-uuid-invalid', { line: 14, character: 39 }]]);
});

test('a folder walk takes playbooks, templates and Terraform; YAML without libvirt tasks is skipped', () => {
  writeFileSync(join(dir, 'other.yml'), '- hosts: all\n  tasks:\n    - debug: { msg: hi }\n');
  const r = run('.');
  assert.equal(r.code, 1, r.err);
  assert.deepEqual(r.out.trim().split('\n').map((l) => l.split(':').slice(0, 3).join(':')),
    ['main.tf:15:40', 'playbook.yml:27:29', 'templates/vm.xml.j2:17:30']);
  assert.match(r.err, /3 files checked, 1 skipped: 3 errors/);
});

test('a fixed playbook passes; a missing template is named', () => {
  writeFileSync(join(dir, 'ok.yml'), [
    '- hosts: kvm', '  tasks:', '    - community.libvirt.virt_volume:', '        pool: default', '        xml: |',
    '          <volume>', '            <name>ok.raw</name>', '            <capacity unit="M">16</capacity>',
    '            <target><format type="raw"/></target>', '          </volume>',
    '    - virt:', '        command: define', '        xml: "{{ lookup(\'template\', \'gone.xml.j2\') }}"', '',
  ].join('\r\n'));
  const r = run('ok.yml');
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.err, /ok\.yml: template 'gone\.xml\.j2' not found/);
  assert.match(r.err, /1 file checked: 0 errors/);
});

test("a role's task file finds its template in the role's templates/ folder", () => {
  mkdirSync(join(dir, 'roles', 'kvm', 'tasks'), { recursive: true });
  mkdirSync(join(dir, 'roles', 'kvm', 'templates'), { recursive: true });
  writeFileSync(join(dir, 'roles', 'kvm', 'tasks', 'main.yml'),
    "- community.libvirt.virt:\n    command: define\n    xml: \"{{ lookup('template', 'disk.xml.j2') }}\"\n");
  writeFileSync(join(dir, 'roles', 'kvm', 'templates', 'disk.xml.j2'),
    '<disk type="file" device="disk">\n  <source file="/var/lib/libvirt/images/{{ name }}.qcow2"/>\n' +
    '  <target dev="vda" bus="virtio"/>\n  <driver name="qemu" type="qcow3"/>\n</disk>\n');
  const r = run('roles/kvm/tasks/main.yml');
  assert.equal(r.code, 1, r.out + r.err);
  assert.match(r.out, /^roles\/kvm\/templates\/disk\.xml\.j2:4:\d+: error /m);
  assert.match(r.err, /1 file checked, 1 skipped: 1 error/);
});

test("lookup('file', …) under args: is followed to the role's files/; a one-line quoted xml: is judged in place", () => {
  mkdirSync(join(dir, 'roles', 'store', 'tasks'), { recursive: true });
  mkdirSync(join(dir, 'roles', 'store', 'files'), { recursive: true });
  const inline = `    xml: '<volume><name>it''s.raw</name><capacity>1</capacity><target><format type=''qcow4''/></target></volume>'`;
  writeFileSync(join(dir, 'roles', 'store', 'tasks', 'main.yml'), [
    '- name: from a file', '  community.libvirt.virt_volume:', '    pool: default',
    `  args: { xml: "{{ lookup('file', 'vol.xml') }}" }`,
    '- name: inline', '  community.libvirt.virt_volume:', inline, ''].join('\n'));
  const volume = '<volume>\n  <name>v.qcow2</name>\n  <capacity>1</capacity>\n  <target><format type="qcow3"/></target>\n</volume>\n';
  writeFileSync(join(dir, 'roles', 'store', 'files', 'vol.xml'), volume);
  const r = run('roles/store/tasks/main.yml');
  assert.equal(r.code, 1, r.out + r.err);
  assert.equal(r.out,
    `roles/store/tasks/main.yml:7:${inline.indexOf('qcow4') + 1}: error volume-format-unknown: unsupported configuration: ` +
    'unknown volume format type qcow4\n' +
    `roles/store/files/vol.xml:4:${volume.split('\n')[3].indexOf('qcow3') + 1}: error volume-format-unknown: ` +
    'unsupported configuration: unknown volume format type qcow3\n');
  assert.match(r.err, /^2 files checked: 2 errors, 0 warnings$/m);
});
