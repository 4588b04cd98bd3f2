// qemu-img's verdicts on what libvirt passes (rules/qemu.ts): LUKS cipher values
// (checked by schemas/luksOptions.ts), qcow2 compat/cluster/size (schemas/qcow2Options.ts), qed
// limits. Each refusal was measured with qemu-img 7.2 through libvirt 9.0's storage driver.
import { test } from 'node:test';
import { checkRules, E, SECRET, vol } from '../helpers/libvirtRules';

const raw = (cipher: string, ivgen = `<ivgen name='plain64'/>`) => vol(`<format type='raw'/><encryption format='luks'>${SECRET}${cipher}${ivgen}</encryption>`);

test('cipher-alg is NAME-SIZE: qemu enum and LUKS families', () => {
  checkRules(raw(`<cipher name='[[des]]' size='56'/>`), [E('cipher-algorithm-invalid', "qemu-img: Parameter 'cipher-alg' does not accept value 'des-56'")]);
  checkRules(raw(`<cipher name='aes' size='[[0]]'/>`), [E('cipher-algorithm-invalid', "qemu-img: Parameter 'cipher-alg' does not accept value 'aes-0'")]);
  checkRules(raw(`<cipher name='[[]]' size='256'/>`), [E('cipher-algorithm-invalid', "qemu-img: Parameter 'cipher-alg' does not accept value '-256'")]);
  checkRules(raw(`<cipher name='aes' size='128'/>`), []);
  checkRules(raw(`<cipher name='twofish' size='192'/>`), []);
});

test('mode, hash, ivgen and ivgen hash are lower-case QAPI enums', () => {
  checkRules(raw(`<cipher name='aes' size='256' mode='[[XTS]]' hash='sha256'/>`), [E('cipher-mode-invalid', "qemu-img: Parameter 'cipher-mode' does not accept value 'XTS'")]);
  checkRules(raw(`<cipher name='aes' size='256' mode='xts' hash='[[SHA256]]'/>`), [E('cipher-hash-invalid', "qemu-img: Parameter 'hash-alg' does not accept value 'SHA256'")]);
  checkRules(raw(`<cipher name='aes' size='256'/>`, `<ivgen name='[[plain32]]'/>`), [E('ivgen-name-invalid', "qemu-img: Parameter 'ivgen-alg' does not accept value 'plain32'")]);
  checkRules(raw(`<cipher name='aes' size='256'/>`, `<ivgen name='plain64' hash='[[sha3]]'/>`), [E('ivgen-hash-invalid', "qemu-img: Parameter 'ivgen-hash-alg' does not accept value 'sha3'")]);
  // Stored but unused with plain/plain64: accepted.
  checkRules(raw(`<cipher name='aes' size='256' mode='xts' hash='sha256'/>`, `<ivgen name='plain' hash='md5'/>`), []);
});

test('an accepted set is remembered by its values as written: a neighbour that differs is judged again', () => {
  for (let round = 0; round < 2; round++) {
    checkRules(raw(`<cipher name='aes' size='256'/>`), []);
    // Present but empty is not absent: qemu-img gets cipher-mode= and hash-alg=.
    checkRules(raw(`<cipher name='aes' size='256' mode='[[]]' hash='[[]]'/>`), [
      E('cipher-mode-invalid', "qemu-img: Parameter 'cipher-mode' does not accept value ''"),
      E('cipher-hash-invalid', "qemu-img: Parameter 'hash-alg' does not accept value ''"),
    ]);
    checkRules(raw(`<cipher name='aes' size='256' mode='xts' hash='sha256'/>`), []);
    checkRules(raw(`<cipher name='aes' size='256' mode='xts' hash='sha256'/>`, `<ivgen name='essiv' hash='[[sha1]]'/>`), [E('ivgen-essiv-incompatible', 'qemu-img: No AES cipher with key size 20 available')]);
    checkRules(raw(`<cipher name='aes' size='256' mode='xts' hash='sha256'/>`, `<ivgen name='plain64' hash='sha256'/>`), []);
  }
});

test('essiv: digest length must be a key size of the family', () => {
  checkRules(raw(`<cipher name='aes' size='256' mode='cbc' hash='sha256'/>`, `<ivgen name='essiv' hash='[[sha1]]'/>`), [E('ivgen-essiv-incompatible', 'qemu-img: No AES cipher with key size 20 available')]);
  checkRules(raw(`<cipher name='aes' size='256' mode='cbc' hash='sha256'/>`, `<ivgen name='essiv' hash='[[sha512]]'/>`), [E('ivgen-essiv-incompatible', 'qemu-img: No AES cipher with key size 64 available')]);
  checkRules(raw(`<cipher name='serpent' size='128' mode='cbc' hash='sha256'/>`, `<ivgen name='essiv' hash='[[sha1]]'/>`), [E('ivgen-essiv-incompatible', 'qemu-img: No Serpent cipher with key size 20 available')]);
  checkRules(raw(`<cipher name='aes' size='128' mode='cbc' hash='sha256'/>`, `<ivgen name='essiv' hash='sha256'/>`), []);
  // essiv without a hash means sha256.
  checkRules(raw(`<cipher name='aes' size='128' mode='cbc' hash='sha256'/>`, `<ivgen name='essiv'/>`), []);
});

test('cast5 has no xts, and xts is the default mode', () => {
  checkRules(raw(`<cipher name='[[cast5]]' size='128'/>`), [E('cipher-mode-unsupported', 'qemu-img: Unsupported cipher mode xts')]);
  checkRules(raw(`<cipher name='cast5' size='128' mode='[[xts]]' hash='sha256'/>`), [E('cipher-mode-unsupported', 'qemu-img: Unsupported cipher mode xts')]);
  checkRules(raw(`<cipher name='cast5' size='128' mode='cbc' hash='sha256'/>`), []);
  // essiv and mode refusals are independent: both show.
  checkRules(raw(`<cipher name='cast5' size='128' mode='[[xts]]' hash='sha256'/>`, `<ivgen name='essiv' hash='[[sha256]]'/>`), [
    E('cipher-mode-unsupported', 'qemu-img: Unsupported cipher mode xts'),
    E('ivgen-essiv-incompatible', 'qemu-img: Cipher cast5-128 not supported with essiv'),
  ]);
});

test('qemu-img 7.2 aborts on 192-bit keys outside xts', () => {
  checkRules(raw(`<cipher name='aes' size='192' mode='[[cbc]]' hash='sha256'/>`), [E('cipher-qemu-abort', "qemu-img 7.2 aborts creating LUKS with cipher aes-192 in mode cbc (assertion in crypto/block.c: 24-byte key × 4000 stripes is not a multiple of 512), so libvirt's volume creation fails. Use xts or a 128/256-bit key.")]);
  checkRules(raw(`<cipher name='serpent' size='192' mode='xts' hash='sha256'/>`), []);
});

test('cipher values count inside qcow2 too, not where libvirt never runs qemu-img', () => {
  checkRules(vol(`<format type='qcow2'/><compat>1.1</compat><encryption format='luks'>${SECRET}<cipher name='aes' size='[[100]]'/><ivgen name='plain64'/></encryption>`), [E('cipher-algorithm-invalid', "qemu-img: Parameter 'cipher-alg' does not accept value 'aes-100'")]);
  // dir volumes ignore encryption; luks2 drops the cipher.
  checkRules(vol(`<format type='dir'/><[[encryption]] format='luks'>${SECRET}<cipher name='des' size='56'/><ivgen name='plain64'/></encryption>`), [{ code: 'volume-encryption-ignored', severity: 'warning', message: "libvirt silently ignores <encryption> on a 'dir' volume: nothing is encrypted." }]);
});

test('qcow2: compat values qemu takes', () => {
  checkRules(vol(`<format type='qcow2'/><compat>[[2.0]]</compat>`), [E('compat-value-invalid', "qemu-img: Parameter 'version' does not accept value '2.0'")]);
  checkRules(vol(`<format type='qcow2'/><compat>[[[[+1.1]]]]</compat>`), [
    E('compat-value-invalid', "qemu-img: Parameter 'version' does not accept value '+1.1'"),
    { code: 'volume-compat-off-schema', severity: 'warning', message: "The schema allows only digits '.' digits in <compat>; libvirt passes '+1.1' to qemu-img as is." },
  ]);
  checkRules(vol(`<format type='qcow2'/><compat>0.10</compat>`), []);
});

test('qcow2: cluster size power of two in 512..2M, extended_l2 needs >= 16 KiB', () => {
  const q = (inner: string) => vol(`<format type='qcow2'/><compat>1.1</compat>${inner}`);
  checkRules(q(`<clusterSize>[[1000]]</clusterSize>`), [E('cluster-size-invalid', 'qemu-img: Cluster size must be a power of two between 512 and 2048k')]);
  checkRules(q(`<clusterSize unit='M'>[[4]]</clusterSize>`), [E('cluster-size-invalid', 'qemu-img: Cluster size must be a power of two between 512 and 2048k')]);
  checkRules(q(`<clusterSize>512</clusterSize>`), []);
  checkRules(q(`<clusterSize unit='M'>2</clusterSize>`), []);
  checkRules(q(`<clusterSize>[[8192]]</clusterSize><features><extended_l2/></features>`), [E('extended-l2-cluster-size', 'qemu-img: Extended L2 entries are only supported with cluster sizes of at least 16384 bytes')]);
  checkRules(q(`<clusterSize>16384</clusterSize><features><extended_l2/></features>`), []);
});

test('qcow2: size limit of the L1 table (libvirt passes KiB rounded up)', () => {
  checkRules(`<volume><name>a</name><capacity unit='G'>[[129]]</capacity><target><format type='qcow2'/><compat>1.1</compat><clusterSize>512</clusterSize></target></volume>`, [E('capacity-too-large', "qemu-img: The image size is too large for file format 'qcow2' (try using a larger cluster size)")]);
  checkRules(`<volume><name>a</name><capacity unit='G'>128</capacity><target><format type='qcow2'/><compat>1.1</compat><clusterSize>512</clusterSize></target></volume>`, []);
  checkRules(`<volume><name>a</name><capacity unit='P'>[[3]]</capacity><target><format type='qcow2'/><compat>1.1</compat></target></volume>`, [E('capacity-too-large', "qemu-img: The image size is too large for file format 'qcow2' (try using a larger cluster size)")]);
});

test('cluster_size is passed to every qemu-img format; only qcow2 and qed know it', () => {
  checkRules(vol(`<format type='vmdk'/><[[clusterSize]]>65536</clusterSize>`), [E('cluster-size-unsupported', "qemu-img: Invalid parameter 'cluster_size'")]);
  checkRules(vol(`<format type='raw'/><[[clusterSize]]>65536</clusterSize><encryption format='luks'>${SECRET}</encryption>`), [E('cluster-size-unsupported', "qemu-img: Invalid parameter 'cluster_size'")]);
  checkRules(vol(`<format type='qed'/><clusterSize>[[512]]</clusterSize>`), [E('cluster-size-invalid', 'qemu-img: QED cluster size must be within range [4096, 67108864] and power of 2')]);
  checkRules(vol(`<format type='qed'/><clusterSize>65536</clusterSize>`), []);
  checkRules(`<volume><name>a</name><capacity unit='P'>[[64]]</capacity><target><format type='qed'/></target></volume>`, [E('capacity-too-large', 'qemu-img: QED image size must be a non-zero multiple of cluster size and less than 70368744177664 bytes')]);
});

test('vpc and vdi size limits', () => {
  const v = (fmt: string, cap: string) => `<volume><name>a</name><capacity unit='KiB'>${cap}</capacity><target><format type='${fmt}'/></target></volume>`;
  checkRules(v('vpc', '2139095040'), []);
  checkRules(v('vpc', '[[2139095041]]'), [E('capacity-too-large', "qemu-img: The image size is too large for file format 'vpc'")]);
  checkRules(v('vdi', '549755682816'), []);
  checkRules(v('vdi', '[[549755682817]]'), [E('capacity-too-large', 'qemu-img: Unsupported VDI image size (size is 0x1fffff8000400, max supported is 0x1fffff8000000)')]);
});
