// Domain disk encryption (rules/domain.ts). Verdicts measured with libvirt 9.0: parser and
// domain validation with `virsh -c test:///default define`, the qemu driver's validation with a
// session libvirtd (`qemu:///session define`), 26 disks agreeing.
import { test } from 'node:test';
import { checkRules, E, W, H, SECRET, UUID } from '../helpers/libvirtRules';
import { domainWithDevices as dom } from '../helpers/documents';

const disk = (inner: string, attrs = "type='file' device='disk'") => `<disk ${attrs}>${inner}<target dev='vdb' bus='virtio'/></disk>`;
const src = (enc: string, driver = 'qcow2') => disk(`<driver name='qemu' type='${driver}'/><source file='/i/a.img'>${enc}</source>`);

test('a correct LUKS disk, source or disk level', () => {
  checkRules(dom(src(`<encryption format='luks'>${SECRET}</encryption>`)), []);
  checkRules(dom(disk(`<driver name='qemu' type='raw'/><source file='/i/a.img'/><[[encryption]] format='luks'>${SECRET}</encryption>`)), [H('disk-encryption-legacy-location', 'The <encryption> of a disk belongs in its <source> since libvirt 3.9.0; the <disk>-level place is the legacy one.')]);
  // A missing driver type is raw after the qemu driver's post-parse.
  checkRules(dom(disk(`<source file='/i/a.img'><encryption format='luks'>${SECRET}</encryption></source>`)), []);
});

test('both a disk-level and a source-level <encryption>', () => {
  checkRules(dom(disk(`<source file='/i/a.img'><[[encryption]] format='luks'>${SECRET}</encryption></source><encryption format='luks'>${SECRET}</encryption>`)), [E('disk-encryption-both', 'unsupported configuration: an <encryption> definition already found for disk source')]);
});

test('a <cipher> in any layer of the chain', () => {
  checkRules(dom(src(`<encryption format='luks'>${SECRET}<[[cipher]] name='aes' size='256'/><ivgen name='plain64'/></encryption>`)), [E('disk-encryption-cipher', 'unsupported configuration: supplying <cipher> for domain disk definition is unnecessary')]);
  checkRules(dom(disk(`<driver name='qemu' type='qcow2'/><source file='/i/a'/><backingStore type='file'><format type='raw'/><source file='/i/b'><encryption format='luks'>${SECRET}<[[cipher]] name='aes' size='256'/><ivgen name='plain64'/></encryption></source></backingStore>`)), [E('disk-encryption-cipher', 'unsupported configuration: supplying <cipher> for domain disk definition is unnecessary')]);
});

test('lun and vhostuser disks', () => {
  checkRules(dom(`<disk type='block' device='lun'><source dev='/dev/sdz'><[[encryption]] format='luks'>${SECRET}</encryption></source><target dev='sda' bus='scsi'/></disk>`), [E('disk-encryption-lun', "unsupported configuration: disk device 'lun' doesn't support encryption")]);
  // 'default' slips through the lun check but the qemu driver refuses it.
  checkRules(dom(`<disk type='block' device='lun'><source dev='/dev/sdz'><encryption format='[[default]]'>${SECRET}</encryption></source><target dev='sda' bus='scsi'/></disk>`), [E('disk-encryption-old-qcow', 'unsupported configuration: old qcow/qcow2 encryption is not supported')]);
  checkRules(dom(`<disk type='vhostuser' device='disk'><driver name='qemu' type='raw'/><source type='unix' path='/s'/><[[encryption]] format='luks'>${SECRET}</encryption><target dev='vdb' bus='virtio'/></disk>`), [E('disk-encryption-vhostuser', 'unsupported configuration: encryption is not supported with vhostuser disk')]);
});

test('qemu engine: luks only, raw/qcow2 only, old qcow refused', () => {
  checkRules(dom(src(`<encryption format='[[qcow]]'>${SECRET}</encryption>`)), [E('disk-encryption-old-qcow', 'unsupported configuration: old qcow/qcow2 encryption is not supported')]);
  checkRules(dom(src(`<encryption format='[[luks2]]'>${SECRET}</encryption>`)), [E('disk-encryption-qemu-luks2', "unsupported configuration: 'luks2' is currently not supported by the qemu encryption engine")]);
  checkRules(dom(src(`<encryption format='[[luks2]]'>${SECRET}</encryption>`)), [E('disk-encryption-qemu-luks2', 'unsupported configuration: luks2 is currently not supported by the qemu encryption engine')], { libvirtVersion: '9.0.0' });
  checkRules(dom(src(`<encryption format='[[luks]]'>${SECRET}</encryption>`, 'vmdk')), [E('disk-encryption-image-format', "unsupported configuration: encryption is supported only with 'raw' and 'qcow2' image format")]);
  checkRules(dom(disk(`<driver name='qemu' type='qcow2'/><source file='/i/a'/><backingStore type='file'><format type='qed'/><source file='/i/b'><encryption format='[[luks]]'>${SECRET}</encryption></source></backingStore>`)), [E('disk-encryption-image-format', "unsupported configuration: encryption is supported only with 'raw' and 'qcow2' image format")]);
});

test('qemu engine: one secret (9.3.0), sd cards', () => {
  const two = `${SECRET}<secret type='passphrase' usage='/i/a.img'/>`;
  checkRules(dom(src(`<encryption format='luks'>${SECRET}<[[secret]] type='passphrase' usage='/i/a.img'/></encryption>`)), [E('disk-encryption-qemu-one-secret', 'unsupported configuration: qemu encryption engine expects only a single secret')]);
  checkRules(dom(src(`<encryption format='luks'>${two}</encryption>`)), [], { libvirtVersion: '9.0.0' });
  checkRules(dom(`<disk type='file' device='disk'><source file='/i/a'><encryption format='luks'>${SECRET}<[[[[secret]]]] type='passphrase' usage='/i/a.img'/></encryption></source><target dev='sdb' bus='sd'/></disk>`), [
    E('disk-encryption-qemu-one-secret', 'unsupported configuration: qemu encryption engine expects only a single secret'),
    E('disk-encryption-sd-secrets', "unsupported configuration: sd card 'sdb' does not support multiple encryption secrets"),
  ]);
});

test('librbd engine: RBD disks only (quirk: any network disk passes)', () => {
  checkRules(dom(src(`<encryption format='luks' engine='[[librbd]]'>${SECRET}</encryption>`)), [E('disk-encryption-rbd-only', 'unsupported configuration: librbd encryption is supported only with RBD backed disks')]);
  checkRules(dom(disk(`<source protocol='rbd' name='pool/image'><host name='mon'/><encryption format='luks2' engine='librbd'>${SECRET}</encryption></source>`, "type='network' device='disk'")), []);
  checkRules(dom(disk(`<source protocol='iscsi' name='iqn.2013-07.com.example:t/1'><host name='h'/><encryption format='luks' engine='librbd'>${SECRET}</encryption></source>`, "type='network' device='disk'")), []);
});

test('no secret: fails when the VM starts', () => {
  checkRules(dom(src(`<[[encryption]] format='luks'/>`, 'raw')), [W('disk-encryption-no-secret', "internal error: missing secret info for 'luks' driver (when the VM starts)")]);
});

test('parser errors inside disk encryption, every layer', () => {
  checkRules(dom(src(`<encryption format='luks'><secret type='[[volume]]' uuid='${UUID}'/></encryption>`)), [E('encryption-secret-type-unknown', 'unsupported configuration: unknown volume encryption secret type volume')]);
  checkRules(dom(disk(`<driver name='qemu' type='qcow2'/><source file='/i/a'/><backingStore type='file'><format type='qcow2'/><source file='/i/b'><encryption format='luks'><[[secret]] type='passphrase'/></encryption></source></backingStore>`)), [E('encryption-secret-ref-missing', 'XML error: missing secret uuid or usage attribute')]);
  // <mirror> is ignored by define.
  checkRules(dom(disk(`<driver name='qemu' type='qcow2'/><source file='/i/a'/><mirror type='file' job='copy'><format type='qcow2'/><source file='/m'><encryption format='luks'><secret type='passphrase'/></encryption></source></mirror>`)), []);
});

test('schema: no <encryption> in the <source> of nfs disks', () => {
  checkRules(dom(disk(`<driver name='qemu' type='raw'/><source protocol='nfs' name='/x/y'><host name='h'/><[[encryption]] format='luks'>${SECRET}</encryption></source>`, "type='network' device='disk'")), [W('disk-encryption-location', "The schema does not allow <encryption> in the <source> of a nfs disk; libvirt's parser reads it anyway.")]);
});

test('a bare <disk> snippet is judged like a domain disk', () => {
  checkRules(`<disk type='file'><source file='/i/a'><encryption format='[[qcow]]'>${SECRET}</encryption></source><target dev='vda'/></disk>`, [E('disk-encryption-old-qcow', 'unsupported configuration: old qcow/qcow2 encryption is not supported')]);
});

test('backing chain: type, format and source of each layer (parser)', () => {
  const B = (bs: string) => dom(disk(`<driver name='qemu' type='qcow2'/><source file='/i/a'/>${bs}`));
  checkRules(B(`<backingStore/>`), []);
  checkRules(B(`<backingStore><format type='qcow2'/><source file='/i/b'/></backingStore>`), []);
  checkRules(B(`<backingStore type='[[bogus]]'><format type='qcow2'/><source file='/i/b'/></backingStore>`), [E('disk-backing-type-unknown', "XML error: unknown storage source type 'bogus'")]);
  checkRules(B(`<[[backingStore]] type='file'><source file='/i/b'/></backingStore>`), [E('disk-backing-format-required', 'XML error: missing disk backing store format')]);
  checkRules(B(`<backingStore type='file'><format type='[[QCOW2]]'/><source file='/i/b'/></backingStore>`), [E('disk-backing-format-unknown', "XML error: unknown storage source format 'QCOW2'")]);
  checkRules(B(`<[[backingStore]] type='file'><format type='qcow2'/></backingStore>`), [E('disk-backing-source-required', 'XML error: missing disk backing store source')]);
});

test('image formats: driver type enum (parser), formats the qemu driver refuses', () => {
  checkRules(dom(disk(`<driver name='qemu' type='[[auto]]'/><source file='/i/a'/>`)), [E('disk-driver-format-unknown', "unsupported configuration: unknown driver format value 'auto'")]);
  checkRules(dom(disk(`<driver name='qemu' type='[[]]'/><source file='/i/a'/>`)), [E('disk-driver-format-unknown', "unsupported configuration: unknown driver format value ''")]);
  checkRules(dom(disk(`<driver name='qemu' type='[[iso]]'/><source file='/i/a'/>`)), [E('disk-format-unsupported', "unsupported configuration: storage format 'iso' is not directly supported by QEMU, use 'raw' instead")]);
  checkRules(dom(disk(`<driver name='qemu' type='[[fat]]'/><source file='/i/a'/>`)), [E('disk-format-unsupported', "unsupported configuration: storage format 'fat' is supported only with 'dir' storage type")]);
  checkRules(dom(disk(`<driver name='qemu' type='[[fat]]'/><source dir='/i'/>`, "type='dir' device='disk'")), [E('disk-format-unsupported', "unsupported configuration: virtual FAT storage can't be accessed in read-write mode")]);
  checkRules(dom(disk(`<driver name='qemu' type='fat'/><source dir='/i'/><readonly/>`, "type='dir' device='disk'")), []);
  checkRules(dom(disk(`<driver name='qemu' type='qcow2'/><source file='/i/a'/><backingStore type='file'><format type='[[cow]]'/><source file='/i/b'/></backingStore>`)), [E('disk-format-unsupported', "unsupported configuration: 'cow' storage format is not supported")]);
  checkRules(dom(disk(`<driver name='qemu' type='vmdk'/><source file='/i/a'/>`)), []);
});

test('type=volume disks: no format means none (encryption refused), librbd refused', () => {
  const V = (inner: string) => dom(disk(inner, "type='volume' device='disk'"));
  checkRules(V(`<source pool='p' volume='x'><encryption format='[[luks]]'>${SECRET}</encryption></source>`), [E('disk-encryption-image-format', "unsupported configuration: encryption is supported only with 'raw' and 'qcow2' image format")]);
  checkRules(V(`<driver name='qemu' type='raw'/><source pool='p' volume='x'><encryption format='luks'>${SECRET}</encryption></source>`), []);
  checkRules(V(`<driver name='qemu' type='raw'/><source pool='p' volume='x'><encryption format='luks' engine='[[librbd]]'>${SECRET}</encryption></source>`), [E('disk-encryption-rbd-only', 'unsupported configuration: librbd encryption is supported only with RBD backed disks')]);
});
