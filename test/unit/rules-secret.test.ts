// <secret> documents (secret_conf.c). Messages measured with `virsh -c qemu:///session
// secret-define` on libvirt 9.0.
import { test } from 'node:test';
import { checkRules, E, W } from '../helpers/libvirtRules';

test('a correct volume secret', () => {
  checkRules(`<secret ephemeral='no' private='yes'><uuid>f52a81b2-424e-490c-823d-6bd4235bc572</uuid><description>d</description><usage type='volume'><volume>/var/lib/libvirt/images/a.img</volume></usage></secret>`, []);
  checkRules(`<secret/>`, []);
  checkRules(`<secret ephemeral=''><uuid></uuid></secret>`, []);
});

test('ephemeral/private: exactly yes or no', () => {
  checkRules(`<secret ephemeral='[[maybe]]'/>`, [E('secret-ephemeral-invalid', "XML error: invalid value of 'ephemeral'")]);
  checkRules(`<secret private='[[YES]]'/>`, [E('secret-private-invalid', "XML error: invalid value of 'private'")]);
});

test('uuid: virUUIDParse, schema form', () => {
  checkRules(`<secret><uuid>[[abc]]</uuid></secret>`, [E('secret-uuid-invalid', 'internal error: malformed uuid element')]);
  checkRules(`<secret><uuid>[[0a81f5b2-8403-7b23-c8d6-21ccc2f80d6]]</uuid></secret>`, [E('secret-uuid-invalid', 'internal error: malformed uuid element')]);
  checkRules(`<secret><uuid>[[1b2c3d4e aaaa bbbb cccc 123456789abc]]</uuid></secret>`, [W('secret-uuid-noncanonical', "The schema allows only 32 hex digits or the 8-4-4-4-12 form; libvirt's parser reads '1b2c3d4e aaaa bbbb cccc 123456789abc' as 1b2c3d4e-aaaa-bbbb-cccc-123456789abc.")]);
});

test('usage: type required and known; its id element non-empty', () => {
  checkRules(`<secret><[[usage]]/></secret>`, [E('secret-usage-type-required', 'XML error: unknown secret usage type')]);
  checkRules(`<secret><usage type='[[bogus]]'/></secret>`, [E('secret-usage-type-unknown', 'unsupported configuration: unknown secret usage type bogus')]);
  checkRules(`<secret><usage type='[[vtpm]]'><name>x</name></usage></secret>`, [E('secret-usage-type-unknown', 'unsupported configuration: unknown secret usage type vtpm')], { libvirtVersion: '4.5.0' });
  checkRules(`<secret><usage type='[[none]]'/></secret>`, [W('secret-usage-type-none', "Usage type 'none' is accepted by libvirt's parser but not by the schema; leave <usage> out instead.")]);
  checkRules(`<secret><usage type='[[volume]]'/></secret>`, [E('secret-usage-id-missing', 'internal error: volume usage specified, but volume path is missing')]);
  checkRules(`<secret><usage type='ceph'><[[name]]></name></usage></secret>`, [E('secret-usage-id-missing', 'internal error: Ceph usage specified, but name is missing')]);
  checkRules(`<secret><usage type='[[iscsi]]'/></secret>`, [E('secret-usage-id-missing', 'internal error: iSCSI usage specified, but target is missing')]);
  checkRules(`<secret><usage type='[[tls]]'/></secret>`, [E('secret-usage-id-missing', 'internal error: TLS usage specified, but name is missing')]);
  checkRules(`<secret><usage type='iscsi'><target>libvirtiscsi</target></usage></secret>`, []);
  checkRules(`<secret><usage type='volume'><volume>[[rel/path]]</volume></usage></secret>`, [W('secret-usage-volume-relative', 'The schema requires an absolute path in <volume>; volume lookups by usage compare it with the volume path.')]);
});

test('structure', () => {
  checkRules(`<secret [[foo]]='1'><[[bar]]/></secret>`, [
    { code: 'unknown-attribute', severity: 'warning', message: "Unknown attribute 'foo' on <secret>: libvirt ignores it and the schema rejects it." },
    { code: 'unknown-element', severity: 'warning', message: 'Unknown element <bar> in <secret>: libvirt ignores it and the schema rejects it.' },
  ]);
});
