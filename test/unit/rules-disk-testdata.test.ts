// Issue 16 §6: the <disk> refusals found in libvirt's qemu driver test data (qemuxmlconfdata),
// with libvirt's messages and ranges. What libvirt 9.0 already does is also judged by the real
// libvirt through test/fixtures/domain/general_{auth,address,target,usb,vendor,product,shared,
// fat,iscsi,sheepdog}_*.xml; behaviour only newer libvirt has is checked here with the version
// setting (the default is the newest libvirt the project knows, 11.3.0).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkRules, E, W } from '../helpers/libvirtRules';
import { domainWithDevices as dom } from '../helpers/documents';
import { applyPreferredFix } from '../helpers/cursor';

const V9 = { libvirtVersion: '9.0.0' };
const V96 = { libvirtVersion: '9.6.0' };
const file = (dev: string, bus: string, extra = '', driver = 'raw') =>
  `<disk type='file'><driver name='qemu' type='${driver}'/><source file='/i/${dev}'/><target dev='${dev}' bus='${bus}'/>${extra}</disk>`;
const iscsi = (inner: string, diskLevel = '') =>
  `<disk type='network'>${diskLevel}<source protocol='iscsi' name='iqn.2013-07.com.example:t/1'><host name='h'/>${inner}</source><target dev='vda'/></disk>`;

test('removable: usb only up to 9.5, usb or a scsi hard disk since 9.6.0 (its own message)', () => {
  const scsi = (device: string) => dom(`<disk type='file' device='${device}'><source file='/i/a'/><target dev='sda' bus='scsi' [[removable]]='on'/></disk>`);
  checkRules(scsi('disk'), [E('disk-removable-bus', 'XML error: removable is only valid for usb disks')], V9);
  checkRules(scsi('disk').replace(/\[\[|\]\]/g, ''), [], V96);
  checkRules(scsi('disk').replace(/\[\[|\]\]/g, ''), []);
  const usbOrScsi = 'XML error: removable is only valid for usb or scsi disks';
  checkRules(scsi('cdrom'), [E('disk-removable-bus-scsi', usbOrScsi)], V96);
  checkRules(dom(`<disk type='file'><source file='/i/a'/><target dev='vda' bus='virtio' [[removable]]='off'/></disk>`), [E('disk-removable-bus-scsi', usbOrScsi)]);
});

test("a 'fat' driver type on a pool volume is left to the volume (qemuDomainValidateStorageSource)", () => {
  const vol = dom(`<disk type='volume'><driver name='qemu' type='fat'/><source pool='p' volume='v'/><target dev='vda'/><readonly/></disk>`);
  checkRules(vol, []);
  checkRules(vol, [], V9);
  // A file is still refused; a directory still needs <readonly/>.
  checkRules(dom(`<disk type='file'><driver name='qemu' type='[[fat]]'/><source file='/i/a'/><target dev='vda'/></disk>`),
    [E('disk-format-unsupported', "unsupported configuration: storage format 'fat' is supported only with 'dir' storage type")]);
});

test('<auth>: both places, the parser (username, <secret>, uuid/usage, auth type), protocol and secret type', () => {
  const secret = `<secret type='iscsi' usage='u'/>`;
  checkRules(dom(iscsi(`<auth username='a'>${secret}</auth>`, `<[[auth]] username='a'>${secret}</auth>`)),
    [E('disk-auth-both', 'unsupported configuration: an <auth> definition already found for disk source')]);
  checkRules(dom(iscsi(`<[[auth]]>${secret}</auth>`)), [E('disk-auth-username-required', 'XML error: missing username for auth')]);
  checkRules(dom(iscsi(`<auth type='[[kerberos]]' username='a'>${secret}</auth>`)), [E('disk-auth-type-unknown', "unsupported configuration: unknown auth type 'kerberos'")]);
  checkRules(dom(iscsi(`<[[auth]] username='a'/>`)), [E('disk-auth-secret-required', 'XML error: Missing <secret> element in auth')]);
  checkRules(dom(iscsi(`<auth username='a'><[[secret]] type='iscsi'/></auth>`)), [E('disk-auth-secret-lookup-required', 'XML error: missing secret uuid or usage attribute')]);
  checkRules(dom(iscsi(`<auth username='a'><secret type='iscsi' uuid='f52a81b2-424e-490c-823d-6bd4235bc572' [[usage]]='u'/></auth>`)),
    [E('disk-auth-secret-lookup-both', 'XML error: either secret uuid or usage expected')]);
  // The secret type: missing ('<null>', as libvirt's NULLSTR prints it), unknown, or not the protocol's.
  checkRules(dom(iscsi(`<auth username='a'><[[secret]] usage='u'/></auth>`)), [E('disk-auth-secret-type-unknown', "unsupported configuration: unknown secret type '<null>'")]);
  checkRules(dom(iscsi(`<auth username='a'><secret type='[[chap]]' usage='u'/></auth>`)), [E('disk-auth-secret-type-unknown', "unsupported configuration: unknown secret type 'chap'")]);
  checkRules(dom(iscsi(`<auth username='a'><secret type='[[ceph]]' usage='u'/></auth>`)), [E('disk-auth-secret-type-invalid', "unsupported configuration: invalid secret type 'ceph'")]);
  checkRules(dom(`<disk type='network'><source protocol='rbd' name='p/i'><host name='m'/><auth username='a'><secret type='[[iscsi]]' usage='u'/></auth></source><target dev='vda'/></disk>`),
    [E('disk-auth-secret-type-invalid', "unsupported configuration: invalid secret type 'iscsi'")]);
  checkRules(dom(`<disk type='network'><source protocol='gluster' name='v/i'><host name='g'/><[[auth]] username='a'>${secret}</auth></source><target dev='vda'/></disk>`),
    [E('disk-auth-protocol', "unsupported configuration: authentication is not supported for protocol 'gluster'")]);
  // Accepted: each protocol's own type, 'none' (a known usage type) on http, the disk-level place.
  checkRules(dom(iscsi(`<auth type='chap' username='a'>${secret}</auth>`)), []);
  checkRules(dom(iscsi('', `<auth username='a'>${secret}</auth>`)), []);
  checkRules(dom(`<disk type='network' device='cdrom'><source protocol='http' name='/a.iso'><host name='w'/><auth username='a'><secret type='none' usage='u'/></auth></source><target dev='sda' bus='sata'/></disk>`), []);
});

test('quick fixes: the protocol\'s secret type, the duplicate <auth> removed', () => {
  assert.match(applyPreferredFix(dom(iscsi(`<auth username='a'><secret usage='u'/></auth>`)), 'disk-auth-secret-type-unknown'), /<secret usage='u' type='iscsi'\/>|<secret type='iscsi' usage='u'\/>/);
  assert.match(applyPreferredFix(dom(iscsi(`<auth username='a'><secret type='ceph' usage='u'/></auth>`)), 'disk-auth-secret-type-invalid'), /<secret type='iscsi' usage='u'\/>/);
  const both = applyPreferredFix(dom(iscsi(`<auth username='a'><secret type='iscsi' usage='u'/></auth>`, `<auth username='b'><secret type='iscsi' usage='u'/></auth>`)), 'disk-auth-both');
  assert.doesNotMatch(both, /username='b'/);
  assert.match(both, /username='a'/);
});

test('sheepdog and the hosts of iSCSI: refused by newer libvirt only (9.0 defines both)', () => {
  const sheep = dom(`<disk type='network'><source protocol='[[sheepdog]]' name='i'><host name='s'/></source><target dev='vda'/></disk>`);
  checkRules(sheep, [E('disk-sheepdog', "unsupported configuration: 'sheepdog' protocol is no longer supported by any hypervisor driver")]);
  checkRules(sheep.replace(/\[\[|\]\]/g, ''), [], V9);
  const msg = 'internal error: iSCSI protocol accepts only one host (when the VM starts)';
  checkRules(dom(`<disk type='network'><[[source]] protocol='iscsi' name='iqn.2013-07.com.example:t/1'/><target dev='vda'/></disk>`), [W('disk-iscsi-hosts', msg)]);
  const two = dom(`<disk type='network'><source protocol='iscsi' name='iqn.2013-07.com.example:t/1'><host name='a'/><[[host]] name='b'/></source><target dev='vda'/></disk>`);
  checkRules(two, [W('disk-iscsi-hosts', msg)]);
  checkRules(two.replace(/\[\[|\]\]/g, ''), [], V9);
});

test('the same target twice: libvirt keeps disks grouped by bus, which decides the order of the message', () => {
  checkRules(dom(file('hda', 'ide') + file('sda', 'usb') + `<disk type='file'><source file='/i/ide'/><target dev='[[sda]]' bus='ide'/></disk>`),
    [E('disk-target-duplicate', "XML error: target 'sda' duplicated for disk sources '/i/ide' and '/i/sda'")]);
  // No path (a CD-ROM without media) prints as '<null>'; the 'ioemu:' prefix is dropped first.
  checkRules(dom(file('hdc', 'ide') + `<disk type='file' device='cdrom'><target dev='[[ioemu:hdc]]' bus='ide'/></disk>`),
    [E('disk-target-duplicate', "XML error: target 'hdc' duplicated for disk sources '/i/hdc' and '<null>'")]);
});

test('drive addresses: given twice, or given equal to the one a name is assigned (ide, sata, fdc, narrow scsi)', () => {
  const drive = (unit: number, controller = 0, bus = 0) => `<address type='drive' controller='${controller}' bus='${bus}' target='0' unit='${unit}'/>`;
  const dup = (dst: string, c: number, b: number, u: number) =>
    `unsupported configuration: Found duplicate drive address for disk with target name '${dst}' controller='${c}' bus='${b}' target='0' unit='${u}'`;
  checkRules(dom(file('sda', 'sata') + file('sdb', 'sata', `<[[address]] type='drive' controller='0' bus='0' target='0' unit='0'/>`)), [E('disk-address-duplicate', dup('sda', 0, 0, 0))]);
  // hdd is ide index 3: controller 0, bus 1, unit 1.
  checkRules(dom(file('hdd', 'ide') + file('hda', 'ide', `<[[address]] type='drive' controller='0' bus='1' target='0' unit='1'/>`)), [E('disk-address-duplicate', dup('hda', 0, 1, 1))]);
  // sdh is scsi index 7: the second controller on qemu's 7-unit buses.
  checkRules(dom(file('sdh', 'scsi') + file('sda', 'scsi', `<[[address]] type='drive' controller='1' bus='0' target='0' unit='0'/>`)), [E('disk-address-duplicate', dup('sda', 1, 0, 0))]);
  checkRules(dom(file('sda', 'scsi', drive(0, 1)) + file('sdh', 'sata')), []);
  checkRules(dom(file('sdb', 'scsi', drive(5)) + file('sdc', 'scsi', `<[[address]] type='drive' unit='5'/>`)), [E('disk-address-duplicate', dup('sdb', 0, 0, 5))]);
});

test('address types that do not fit the bus; a usb disk on a pci address (qemu driver)', () => {
  const pci = (t = 'pci') => `<address type='${t}' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>`;
  for (const [dev, bus] of [['hda', 'ide'], ['sda', 'sata'], ['sda', 'scsi']]) {
    checkRules(dom(file(dev, bus, pci('[[pci]]'))), [E('disk-address-bus', `unsupported configuration: Invalid address type 'pci' for the disk '${dev}' with the bus type '${bus}'`)]);
  }
  checkRules(dom(`<disk type='file' device='floppy'><source file='/i/f'/><target dev='fda' bus='fdc'/>${pci('[[pci]]')}</disk>`),
    [E('disk-address-bus', "unsupported configuration: Invalid address type 'pci' for the disk 'fda' with the bus type 'fdc'")]);
  checkRules(dom(file('sda', 'usb', pci('[[pci]]'))), [E('disk-usb-address', 'internal error: unexpected address type for usb disk')]);
  checkRules(dom(file('vda', 'virtio', pci()) + file('sda', 'usb', `<address type='usb' bus='0' port='1'/>`)), []);
});

test('vendor and product: 9.0 takes both on scsi only; newer libvirt a product on ide and sata too (40 bytes)', () => {
  checkRules(dom(file('vda', 'virtio', '<[[vendor]]>SEAGATE</vendor>')), [E('disk-vendor-product-bus', 'unsupported configuration: Only scsi disk supports vendor and product')], V9);
  checkRules(dom(file('sda', 'sata', '<[[product]]>ST3567807GD</product>')), [E('disk-vendor-product-bus', 'unsupported configuration: Only scsi disk supports vendor and product')], V9);
  checkRules(dom(file('vda', 'virtio', '<[[vendor]]>SEAGATE</vendor><product>P</product>')), [E('disk-vendor-bus', "unsupported configuration: Only scsi disk supports 'vendor'")]);
  checkRules(dom(file('vda', 'virtio', '<[[product]]>P</product>')), [E('disk-product-bus', "unsupported configuration: Only ide, sata and scsi disk supports 'product'")]);
  checkRules(dom(file('sda', 'sata', '<product>ST3567807GD-1234567</product>')), []);
  const p41 = 'P'.repeat(41);
  checkRules(dom(file('sda', 'sata', `<product>[[${p41}]]</product>`)), [E('disk-product-length', 'unsupported configuration: disk product is more than 40 characters')]);
  checkRules(dom(file('sda', 'scsi', '<product>[[ST3567807GD-12345]]</product>')), [E('disk-product-length', 'unsupported configuration: disk product is more than 16 characters')]);
  checkRules(dom(file('sda', 'scsi', '<vendor>[[SEAGATE-X]]</vendor>')), [E('disk-vendor-length', 'unsupported configuration: disk vendor is more than 8 characters')], V9);
  // strlen counts bytes: 8 characters of 2 bytes each are 16 bytes.
  checkRules(dom(file('sda', 'scsi', '<vendor>[[éééééééé]]</vendor>')), [E('disk-vendor-length', 'unsupported configuration: disk vendor is more than 8 characters')]);
});

test('shared read-write access needs a raw image; a volume\'s format is only known once resolved', () => {
  checkRules(dom(file('vda', 'virtio', '<shareable/>', '[[qcow2]]')), [E('disk-shared-format', "unsupported configuration: shared access for disk 'vda' requires use of supported storage format")]);
  checkRules(dom(file('vda', 'virtio', '<readonly/><shareable/>', 'qcow2')), []);
  checkRules(dom(`<disk type='file'><source file='/i/a'/><target dev='vda'/><shareable/></disk>`), []);
  checkRules(dom(`<disk type='volume'><source pool='p' volume='v'/><target dev='vda'/><shareable/></disk>`), []);
});

test('target names past the last index: newer libvirt refuses an index over INT_MAX, 9.0 wraps', () => {
  const long = dom(file('hdaxxxxxxxxxx', 'virtio').replace("dev='hdaxxxxxxxxxx'", "dev='[[hdaxxxxxxxxxx]]'"));
  checkRules(long, [E('disk-target-dev-unknown', "XML error: Unknown disk name 'hdaxxxxxxxxxx' and no address specified")]);
  checkRules(long.replace(/\[\[|\]\]/g, ''), [], V9);
  // The largest index still parses in both.
  checkRules(dom(file('vdfxshrxx', 'virtio')), []);
});

test('SCSI host devices: a scsi disk assigned (by its name) or given the drive address a hostdev holds', () => {
  const hostdev = (unit: number, marked = false) =>
    `<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host2'/><address bus='0' target='0' unit='1'/></source>`
    + `<${marked ? '[[address]]' : 'address'} type='drive' controller='0' bus='0' target='0' unit='${unit}'/></hostdev>`;
  const sda = `<disk type='block'><source dev='/dev/sdz'/><target dev='[[sda]]' bus='scsi'/></disk>`;
  checkRules(dom(sda + hostdev(0)),
    [E('disk-hostdev-address-conflict', "unsupported configuration: using disk target name 'sda' conflicts with SCSI host device address controller='0' bus='0' target='0' unit='0")]);
  checkRules(dom(file('sdb', 'scsi', `<address type='drive' controller='0' bus='0' target='0' unit='4'/>`) + hostdev(4, true)),
    [E('disk-hostdev-address-used', "XML error: SCSI host address controller='0' bus='0' target='0' unit='4' in use by a SCSI disk")]);
  // A hostdev of another type, another unit, or a disk of another bus: no conflict.
  checkRules(dom(sda.replace(/\[\[|\]\]/g, '') + hostdev(1)), []);
  checkRules(dom(file('sda', 'sata') + hostdev(0)), []);
  checkRules(dom(sda.replace(/\[\[|\]\]/g, '') + hostdev(0).replace("type='scsi'", "type='usb'")), []);
});

test("an empty usb drive: refused by newer libvirt's qemu driver only", () => {
  const cd = dom(`<disk type='file' device='cdrom'><target dev='sda' bus='[[usb]]'/><readonly/></disk>`);
  checkRules(cd, [E('disk-usb-empty', "unsupported configuration: 'usb' disk must not be empty")]);
  checkRules(cd.replace(/\[\[|\]\]/g, ''), [], V9);
  checkRules(dom(`<disk type='file' device='cdrom'><source file='/i/a.iso'/><target dev='sda' bus='usb'/><readonly/></disk>`), []);
});

test('a lun on virtio: a warning with newer libvirt, as current QEMU (9.1+) has no virtio-blk SCSI passthrough', () => {
  const lun = dom(`<disk type='block' device='lun'><source dev='/dev/sdb'/><target dev='vda' bus='[[virtio]]'/></disk>`);
  checkRules(lun, [W('disk-lun-virtio-qemu', "unsupported configuration: This QEMU doesn't support SCSI emulation with 'virtio-blk' device (with QEMU 9.1 or later)")]);
  checkRules(lun.replace(/\[\[|\]\]/g, ''), [], V9);
  checkRules(dom(`<disk type='block' device='lun'><source dev='/dev/sdb'/><target dev='sda' bus='scsi'/></disk>`), []);
});

test('quick fixes: a duplicate target renamed to the next free name, a conflicting <address> removed', () => {
  // vdb is taken: the next free name after vda is vdc; past 'z' come two letters.
  assert.match(applyPreferredFix(dom(file('vda', 'virtio') + file('vdb', 'virtio') + `<disk type='file'><source file='/i/x'/><target dev='vda'/></disk>`), 'disk-target-duplicate'), /<target dev='vdc'\/>/);
  assert.match(applyPreferredFix(dom(file('vdz', 'virtio') + `<disk type='file'><source file='/i/x'/><target dev='vdz'/></disk>`), 'disk-target-duplicate'), /<target dev='vdaa'\/>/);
  const fixed = applyPreferredFix(dom(file('sda', 'sata') + file('sdb', 'sata', `<address type='drive' controller='0' bus='0' target='0' unit='0'/>`)), 'disk-address-duplicate');
  assert.doesNotMatch(fixed, /<address/);
});
