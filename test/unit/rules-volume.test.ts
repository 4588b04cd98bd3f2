// <volume> rules (rules/volume.ts): parser and creation per pool type. Verdicts and
// messages measured with libvirt 9.0: `virsh -c test:///default vol-create` for the parser, the
// session libvirtd's dir pool for creation (68 + 38 documents, all agreeing).
import { test } from 'node:test';
import { checkRules, E, W, H, SECRET, vol } from '../helpers/libvirtRules';
import assert from 'node:assert/strict';
import { diagnose } from '../helpers/check';
import { FILE_FORMATS, VOLUME_TYPES } from '../../schemas/vocabulary';

const luks = `<encryption format='luks'>${SECRET}</encryption>`;

test('name: required (empty = missing); "/" refused at creation in dir-like pools, off-schema elsewhere', () => {
  checkRules(`<volume><[[name]]></name><capacity>1</capacity><target/></volume>`, [E('volume-name-required', 'XML error: missing volume name element')]);
  checkRules(`<[[volume]]><capacity>1</capacity><target/></volume>`, [E('volume-name-required', 'XML error: missing volume name element')]);
  checkRules(`<volume><name>[[a/b.img]]</name><capacity>1</capacity><target/></volume>`, [E('volume-name-slash', "Requested operation is not valid: volume name 'a/b.img' cannot contain '/'")]);
  checkRules(`<volume><name>[[a/b]]</name><capacity>1</capacity><target/></volume>`, [W('volume-name-off-schema', "The schema refuses the volume name 'a/b' (it may not contain '/' nor be '.' or '..').")], { poolType: 'logical' });
  checkRules(`<volume><name> </name><capacity>1</capacity><target/></volume>`, []);
});

test('type: enum (output only; empty = absent)', () => {
  checkRules(`<volume type='[[filex]]'><name>a</name><capacity>1</capacity><target/></volume>`, [E('volume-type-unknown', "unsupported configuration: unknown volume type 'filex'")]);
  checkRules(`<volume type=''><name>a</name><capacity>1</capacity><target/></volume>`, []);
  checkRules(`<volume [[type]]='ploop'><name>a</name><capacity>1</capacity><target/></volume>`, [H('volume-type-output-only', "The volume type is output only: libvirt sets it when it creates the volume (and the schema does not list 'ploop').")]);
  checkRules(`<volume [[type]]='file'><name>a</name><capacity>1</capacity><target/></volume>`, [H('volume-type-output-only', 'The volume type is output only: libvirt sets it when it creates the volume.')]);
});

test('capacity: required unless a backing store path is given', () => {
  checkRules(`<[[volume]]><name>a</name><target/></volume>`, [E('volume-capacity-required', 'XML error: missing capacity element')]);
  checkRules(`<volume><name>a</name><[[capacity]]></capacity><target/></volume>`, [E('volume-capacity-required', 'XML error: missing capacity element')]);
  checkRules(`<volume><name>a</name><backingStore><path>/b.qcow2</path><format type='qcow2'/></backingStore><target><format type='qcow2'/><compat>1.1</compat></target></volume>`, []);
});

test('capacity/allocation syntax, units and overflow (virStorageSize, virScaleInteger)', () => {
  const cap = (c: string, unit = '') => `<volume><name>a</name><capacity${unit}>${c}</capacity><target/></volume>`;
  checkRules(cap('[[5 ]]'), [E('volume-size-malformed', 'XML error: malformed capacity element')]);
  checkRules(cap('[[-5]]'), [E('volume-size-malformed', 'XML error: malformed capacity element')]);
  checkRules(cap('[[18446744073709551616]]'), [E('volume-size-malformed', 'XML error: malformed capacity element')]);
  checkRules(cap('[[9223372036854775808]]'), [E('volume-size-overflow', 'numerical overflow: value too large: 9223372036854775808')]);
  checkRules(cap('[[8]]', " unit='EiB'"), [E('volume-size-overflow', 'numerical overflow: value too large: 8EiB')]);
  checkRules(cap('7', " unit='EiB'"), []);
  checkRules(cap('9', " unit='[[kbytes]]'"), [E('volume-unit-unknown', "invalid argument: unknown suffix 'kbytes'")]);
  // A value is put in the message as written: no placeholder or replacement pattern inside it is read.
  checkRules(cap('9', " unit='[[{unit}$$$`$1]]'"), [E('volume-unit-unknown', "invalid argument: unknown suffix '{unit}$$$`$1'")]);
  checkRules(cap('[[8]]', " unit='EiB'"), [E('volume-size-overflow', 'numerical overflow: value too large: 8EiB')]);
  checkRules(cap('9', " unit='kb'"), []);
  checkRules(cap('[[+5]]'), [W('volume-size-off-schema', "The schema allows only digits in <capacity>; libvirt's parser reads '+5' as 5.")]);
  checkRules(`<volume><name>a</name><capacity>1</capacity><allocation>[[abc]]</allocation><target/></volume>`, [E('volume-size-malformed', 'XML error: malformed capacity element')]);
  checkRules(`<volume><name>a</name><capacity>1</capacity><allocation unit='[[Q]]'>1</allocation><target/></volume>`, [E('volume-unit-unknown', "invalid argument: unknown suffix 'Q'")]);
});

test('target format per pool type; the removed "luks" format', () => {
  checkRules(vol(`<format type='[[none]]'/>`), [E('volume-format-unknown', 'unsupported configuration: unknown volume format type none')]);
  checkRules(vol(`<format type='[[luks]]'/>`), [E('volume-format-luks', 'unsupported configuration: unknown volume format type luks')]);
  checkRules(vol(`<format type='none'/>`), [], { poolType: 'disk' });
  checkRules(vol(`<format type='[[qcow2]]'/>`), [E('volume-format-unknown', 'unsupported configuration: unknown volume format type qcow2')], { poolType: 'disk' });
  checkRules(vol(`<[[format]] type='qcow2'/>`), [W('volume-format-ignored', "A logical pool ignores the volume's <format>.")], { poolType: 'logical' });
  checkRules(vol(`<format type=''/>`), []);
});

test('permissions: octal mode with permission bits only, owner/group ids', () => {
  checkRules(vol(`<permissions><mode>[[1777]]</mode></permissions>`), [E('volume-perm-mode-invalid', 'XML error: malformed octal mode')]);
  checkRules(vol(`<permissions><mode>[[0800]]</mode></permissions>`), [E('volume-perm-mode-invalid', 'XML error: malformed octal mode')]);
  checkRules(vol(`<permissions><mode>-0</mode><owner>-1</owner><group>+5</group></permissions>`), []);
  checkRules(vol(`<permissions><owner>[[-2]]</owner><group>[[4294967296]]</group></permissions>`), [
    E('volume-perm-owner-invalid', 'XML error: malformed owner element'),
    E('volume-perm-group-invalid', 'XML error: malformed group element'),
  ]);
});

test('backingStore: counts only with a path; format assumed raw when absent', () => {
  checkRules(vol(`<format type='qcow2'/><compat>1.1</compat>`, `<[[backingStore]]><format type='bogus'/></backingStore>`), [W('volume-backing-no-path', 'A <backingStore> without a <path> is ignored by libvirt (and refused by the schema).')]);
  checkRules(vol(`<format type='qcow2'/><compat>1.1</compat>`, `<backingStore><path>/b</path><format type='[[bogus]]'/></backingStore>`), [E('volume-format-unknown', 'unsupported configuration: unknown volume format type bogus')]);
  checkRules(vol(`<format type='qcow2'/><compat>1.1</compat>`, `<[[backingStore]]><path>/b</path></backingStore>`), [W('volume-backing-format-missing', 'No backing store <format>: libvirt passes backing_fmt=raw to qemu-img, so a qcow2 backing file would be read as raw data.')]);
  checkRules(vol(`<format type='qcow2'/><compat>1.1</compat>`, `<backingStore><path>[[b.qcow2]]</path><format type='qcow2'/></backingStore>`), [W('volume-backing-path-relative', "The schema requires an absolute backing store path; libvirt's storage driver checks and passes a relative one as is, so it is looked up in the daemon's working directory (usually /), not in the pool.")]);
});

test('compat: syntax (virStorageCheckCompat), schema, creation default before 10.2.0', () => {
  const q = (c: string) => vol(`<format type='qcow2'/><compat>${c}</compat>`);
  checkRules(q('[[1.1.1]]'), [E('volume-compat-invalid', "XML error: forbidden characters in 'compat' attribute")]);
  checkRules(q('[[1.]]'), [E('volume-compat-invalid', "XML error: forbidden characters in 'compat' attribute")]);
  checkRules(q('1.1'), []);
  checkRules(q('0.10'), []);
  checkRules(vol(`<format type='qcow2'/><compat>[[[[-1.5]]]]</compat>`), [
    E('compat-value-invalid', "qemu-img: Parameter 'version' does not accept value '-1.5'"),
    W('volume-compat-off-schema', "The schema allows only digits '.' digits in <compat>; libvirt passes '-1.5' to qemu-img as is."),
  ]);
  checkRules(vol(`<format type='qcow2'/>`), [], { libvirtVersion: '10.2.0' });
  checkRules(`<volume><name>a</name><capacity>1</capacity><[[target]]><format type='qcow2'/></target></volume>`, [W('volume-compat-default', 'No <compat>: libvirt before 10.2.0 creates qcow2 version 2 (compat 0.10), without lazy refcounts, extended L2 or zstd. Add <compat>1.1</compat>.')], { libvirtVersion: '9.0.0' });
});

test('features: known per version (data_file since 10.10.0), empty <features/> implies compat 1.1', () => {
  checkRules(vol(`<format type='qcow2'/><features><[[bogus]]/></features>`), [E('volume-feature-unknown', 'unsupported configuration: unsupported feature bogus')]);
  checkRules(vol(`<format type='qcow2'/><features><[[data_file]]/></features>`), [E('volume-feature-unknown', 'unsupported configuration: unsupported feature data_file')], { libvirtVersion: '9.0.0' });
  // Text, comments and a known feature between two unknown ones: each unknown one, in order.
  checkRules(vol(`<format type='qcow2'/><features>\n  <[[bogus]]/> x <!-- c --><lazy_refcounts/>\n  <[[other]]/>\n</features>`), [
    E('volume-feature-unknown', 'unsupported configuration: unsupported feature bogus'),
    E('volume-feature-unknown', 'unsupported configuration: unsupported feature other'),
  ]);
  checkRules(vol(`<format type='qcow2'/><features><[[data_file]]/></features>`), [W('volume-feature-ignored', "The storage driver ignores the 'data_file' feature when it creates the volume (only lazy_refcounts and extended_l2 become qemu-img options).")]);
  checkRules(vol(`<format type='qcow2'/><features><[[data_file]]/></features>`), [W('volume-feature-off-schema', "The schema does not list the feature 'data_file'; the storage driver ignores it when it creates the volume.")], { poolType: 'rbd' });
  checkRules(vol(`<format type='qcow2'/><features/>`), [], { libvirtVersion: '9.0.0' });
  checkRules(vol(`<format type='qcow2'/><features>lazy_refcounts</features>`), []);
});

test('clusterSize: scaled integer (7.4.0), unit and overflow', () => {
  checkRules(vol(`<format type='qcow2'/><compat>1.1</compat><clusterSize>[[64k]]</clusterSize>`), [E('volume-cluster-invalid', "XML error: Invalid value '64k' for element or attribute './target/clusterSize'")]);
  checkRules(vol(`<format type='qcow2'/><compat>1.1</compat><clusterSize unit='[[x]]'>5</clusterSize>`), [E('volume-unit-unknown', "invalid argument: unknown suffix 'x'")]);
  checkRules(vol(`<format type='qcow2'/><compat>1.1</compat><clusterSize unit='E'>[[16]]</clusterSize>`), [E('volume-size-overflow', 'numerical overflow: value too large: 16E')]);
  checkRules(vol(`<format type='qcow2'/><compat>1.1</compat><clusterSize unit='KiB'>64</clusterSize>`), []);
  checkRules(vol(`<format type='qcow2'/><compat>1.1</compat><clusterSize>64k</clusterSize>`), [], { libvirtVersion: '7.3.0' });
});

test('creation: one passphrase secret', () => {
  checkRules(vol(`<format type='raw'/><[[encryption]] format='luks'/>`), [E('volume-secret-count', "invalid argument: A single <secret type='passphrase'...> element is expected in encryption description")]);
  checkRules(vol(`<format type='raw'/><encryption format='luks'>${SECRET}<[[secret]] type='passphrase' usage='x'/></encryption>`), [E('volume-secret-count', "invalid argument: A single <secret type='passphrase'...> element is expected in encryption description")]);
  checkRules(vol(`<format type='raw'/>${luks}`), []);
});

test('creation: which encryption formats each image format takes', () => {
  checkRules(vol(`<format type='raw'/><encryption format='[[qcow]]'>${SECRET}</encryption>`), [E('volume-raw-encryption', 'internal error: Only luks encryption is supported for raw files')]);
  checkRules(vol(`<format type='raw'/><encryption format='[[luks2]]'>${SECRET}</encryption>`), [E('volume-raw-encryption', 'internal error: Only luks encryption is supported for raw files')]);
  checkRules(vol(`<format type='qcow2'/><compat>1.1</compat><encryption format='[[qcow]]'>${SECRET}</encryption>`), [E('volume-encryption-qcow-create', 'unsupported configuration: creation of qcow2 encrypted image is not supported')]);
  checkRules(vol(`<format type='qcow'/><encryption format='[[default]]'>${SECRET}</encryption>`), [E('volume-encryption-qcow-create', 'unsupported configuration: creation of qcow2 encrypted image is not supported')]);
  checkRules(vol(`<format type='qcow2'/><compat>1.1</compat><encryption format='[[luks2]]'>${SECRET}</encryption>`), [E('volume-encryption-format-unsupported', 'unsupported configuration: unsupported volume encryption format 3')]);
  checkRules(vol(`<format type='[[vmdk]]'/>${luks}`), [E('volume-encryption-image-format', 'unsupported configuration: volume encryption unsupported with format vmdk')]);
  checkRules(vol(`<format type='[[qcow]]'/>${luks}`), [E('volume-encryption-image-format', 'unsupported configuration: volume encryption unsupported with format qcow')]);
  checkRules(vol(`<format type='qcow2'/><compat>1.1</compat>${luks}`), []);
  checkRules(vol(`<format type='[[qcow2]]'/><compat>1.1</compat>${luks}`), [E('volume-encryption-image-format', 'unsupported configuration: volume encryption unsupported with format qcow2')], { libvirtVersion: '6.9.0' });
  checkRules(vol(`<format type='iso'/>${luks}`), []);
  checkRules(vol(`<format type='dir'/><[[encryption]] format='luks'>${SECRET}</encryption>`), [W('volume-encryption-ignored', "libvirt silently ignores <encryption> on a 'dir' volume: nothing is encrypted.")]);
});

test('creation: compat and features only with qcow2 (an empty <features/> implies compat)', () => {
  checkRules(vol(`<format type='raw'/><[[compat]]>1.1</compat>${luks}`), [E('volume-compat-format', 'unsupported configuration: compatibility option only available with qcow2')]);
  checkRules(vol(`<format type='raw'/><[[[[features]]]]/>${luks}`), [
    E('volume-compat-format', 'unsupported configuration: compatibility option only available with qcow2'),
    E('volume-features-format', 'unsupported configuration: format features only available with qcow2'),
  ]);
  // Plain raw files are written by libvirt itself: compat is not looked at.
  checkRules(vol(`<format type='raw'/><compat>1.1</compat>`), []);
  checkRules(vol(`<format type='iso'/><[[compat]]>1.1</compat>`), [E('volume-compat-format', 'unsupported configuration: compatibility option only available with qcow2')]);
});

test('creation: lazy_refcounts / extended_l2 need compat other than 0.10', () => {
  checkRules(vol(`<format type='qcow2'/><compat>0.10</compat><features><[[lazy_refcounts]]/></features>`), [E('volume-lazy-refcounts-compat', 'unsupported configuration: lazy_refcounts not supported with compat level 0.10')]);
  checkRules(vol(`<format type='qcow2'/><compat>0.10</compat><features><[[extended_l2]]/></features>`), [E('volume-extended-l2-compat', "unsupported configuration: 'extended_l2' not supported with compat level 0.10")]);
  checkRules(vol(`<format type='qcow2'/><features><lazy_refcounts/></features>`), []);
});

test('creation: backing store on raw', () => {
  checkRules(vol(`<format type='raw'/>`, `<[[backingStore]]><path>/b</path><format type='qcow2'/></backingStore>`), [E('volume-backing-raw-file', 'this function is not supported by the connection driver: backing storage not supported for raw volumes')]);
  checkRules(vol(`<format type='raw'/>${luks}`, `<[[backingStore]]><path>/b</path><format type='qcow2'/></backingStore>`), [E('volume-backing-raw', 'unsupported configuration: cannot set backing store for raw volume')]);
});

test('creation: formats qemu-img cannot create, ploop', () => {
  checkRules(vol(`<format type='[[dmg]]'/>`), [E('volume-format-not-creatable', "qemu-img: Format driver 'dmg' does not support image creation")]);
  checkRules(vol(`<format type='[[vhd]]'/>`), [E('volume-format-not-creatable', "qemu-img: Unknown file format 'vhd'")]);
  checkRules(vol(`<format type='vpc'/>`), []);
  checkRules(vol(`<format type='[[ploop]]'/>`), [E('volume-ploop-tools', 'internal error: unable to find ploop, please install ploop tools')]);
  checkRules(vol(`<format type='ploop'/><[[encryption]] format='luks'>${SECRET}</encryption>`), [E('volume-encryption-ploop', 'unsupported configuration: encrypted ploop volumes are not supported with ploop init')]);
});

test('creation: the qemu secret id is "<name>_encrypt0"', () => {
  checkRules(vol(`<format type='raw'/>${luks}`, '', '[[a b.img]]'), [E('volume-name-secret-id', "qemu-img: Parameter 'id' expects an identifier (libvirt names the key secret 'a b.img_encrypt0'; a volume name for an encrypted volume must start with a letter and hold only letters, digits, '-', '.' and '_')")]);
  checkRules(vol(`<format type='raw'/>${luks}`, '', '[[1.img]]'), [E('volume-name-secret-id', "qemu-img: Parameter 'id' expects an identifier (libvirt names the key secret '1.img_encrypt0'; a volume name for an encrypted volume must start with a letter and hold only letters, digits, '-', '.' and '_')")]);
  checkRules(vol(`<format type='raw'/>`, '', 'a b.img'), []);
});

test('pool types: no creation, LUKS only, no encryption, capacity required', () => {
  checkRules(`<[[volume]]><name>a</name><capacity>1</capacity><target/></volume>`, [E('volume-pool-no-create', 'this function is not supported by the connection driver: storage pool does not support volume creation')], { poolType: 'iscsi' });
  checkRules(vol(`<[[encryption]] format='luks'>${SECRET}</encryption>`), [E('volume-encryption-pool-unsupported', 'unsupported configuration: storage pool does not support encrypted volumes')], { poolType: 'rbd' });
  checkRules(vol(`<encryption format='[[qcow]]'>${SECRET}</encryption>`), [E('volume-encryption-pool-luks-only', 'unsupported configuration: storage pool only supports LUKS encrypted volumes')], { poolType: 'logical' });
  checkRules(vol(luks), [], { poolType: 'logical' });
  checkRules(vol(`<[[encryption]] format='luks'/>`), [E('volume-secret-count', "invalid argument: A single <secret type='passphrase'...> element is expected in encryption description")], { poolType: 'disk' });
  checkRules(`<volume><name>a</name><capacity>[[0]]</capacity><target/></volume>`, [E('volume-capacity-zero-pool', 'this function is not supported by the connection driver: volume capacity required for this storage pool')], { poolType: 'logical' });
  checkRules(`<volume><name>a</name><capacity>0</capacity><target/></volume>`, []);
});

test('structure of <volume>, <target>, <permissions>', () => {
  checkRules(vol(`<format type='raw'/><[[foo]]/>`), [W('unknown-element', 'Unknown element <foo> in <target>: libvirt ignores it and the schema rejects it.')]);
  checkRules(`<volume><name>a</name><[[name]]>b</name><capacity>1</capacity><target/></volume>`, [W('duplicate-element', 'Only the first <name> is used; the schema allows one.')]);
});

test('schema: a <target> is required; <nocow/> is not written back', () => {
  checkRules(`<[[volume]]><name>a</name><capacity>1</capacity></volume>`, [W('volume-target-missing', 'The schema requires a <target> (libvirt creates the volume with the pool defaults without one).')]);
  checkRules(vol(`<format type='qcow2'/><compat>1.1</compat><[[nocow]]/>`), [H('volume-nocow-ignored', 'libvirt does not write <nocow/> back into the volume XML.')]);
});

test('raw volumes ignore the cluster size', () => {
  checkRules(vol(`<format type='raw'/><[[clusterSize]]>1000</clusterSize>`), [W('cluster-size-ignored', 'libvirt writes plain raw volumes itself, without qemu-img: the cluster size is ignored.')]);
});

test('creation: things only the host decides, measured on ext4 (nocow on raw, "." names)', () => {
  checkRules(vol(`<format type='raw'/><[[nocow]]/>`), [E('volume-nocow-raw', "unable to control COW flag on '<pool>/v.img', not btrfs: Function not implemented (libvirt sets the no-COW flag itself on plain raw files, which only works on btrfs)")]);
  checkRules(`<volume><name>[[[[..]]]]</name><capacity>1</capacity><target/></volume>`, [
    E('volume-name-exists', "Requested operation is not valid: volume target path '<pool>/..' already exists"),
    W('volume-name-off-schema', "The schema refuses the volume name '..' (it may not contain '/' nor be '.' or '..')."),
  ].sort((a, b) => a.code.localeCompare(b.code)));
});

test('creation: backing files qemu-img refuses', () => {
  const b = (fmt: string, bfmt: string) => vol(`<format type='${fmt}'/>`, `<backingStore><path>/b</path>${bfmt}</backingStore>`);
  checkRules(b('vdi', `<format type='qcow2'/>`).replace('<backingStore>', '<[[backingStore]]>'), [E('volume-backing-format-unsupported', "qemu-img: Invalid parameter 'backing_fmt'")]);
  checkRules(b('vmdk', `<[[format]] type='qcow2'/>`), [E('volume-backing-format-unsupported', 'qemu-img: backing_file must be a vmdk image')]);
  checkRules(b('vmdk', `<format type='vmdk'/>`), []);
  checkRules(b('qcow2', `<format type='[[dir]]'/>`).replace('<target>', '<target><compat>1.1</compat>'), [E('volume-backing-format-unsupported', "qemu-img: Unknown driver 'dir' (Could not open backing image.)")]);
  checkRules(b('dir', `<format type='qcow2'/>`).replace('<backingStore>', '<[[backingStore]]>'), [E('volume-backing-dir', 'this function is not supported by the connection driver: backing storage not supported for directories volumes')]);
  checkRules(b('qed', `<format type='qcow2'/>`), []);
});

test('a document that is not well-formed is an error (libxml2 refuses it), and the rest is still judged', () => {
  checkRules(`<volume><name>a[[&foo;]]</name><capacity>[[x]]</capacity><target/></volume>`, [
    { code: 'xml-not-well-formed', severity: 'error', message: "Entity 'foo' not defined" },
    E('volume-size-malformed', 'XML error: malformed capacity element'),
  ]);
});

test('quick-fix data: the whole list of values, a list of its own for each diagnostic', () => {
  const data = (text: string, code: string) => diagnose(text).filter((d) => d.code === code).map((d) => d.data as { replacement?: string; values: string[] });
  const types = data(`<volume type='fiel'><name>a</name><capacity>1</capacity><target/></volume>`, 'volume-type-unknown');
  assert.deepEqual(types, [{ ruleId: 'volume-type-unknown', replacement: 'file', values: VOLUME_TYPES.map((v) => v.value) }]);
  const formats = [...data(vol(`<format type='qcow3'/>`), 'volume-format-unknown'), ...data(vol(`<format type='qcow3'/>`), 'volume-format-unknown')];
  assert.equal(formats.length, 2);
  for (const f of formats) assert.deepEqual(f, { ruleId: 'volume-format-unknown', replacement: 'qcow2', values: FILE_FORMATS.map((x) => x.value) });
  formats[0].values.push('changed');
  assert.deepEqual(data(vol(`<format type='qcow3'/>`), 'volume-format-unknown')[0].values, FILE_FORMATS.map((x) => x.value));
});
