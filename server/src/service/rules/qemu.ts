// qemu-img refusals of the values libvirt passes on (storage_util.c storageBackendCreateQemuImgOpts). The
// checks themselves live in schemas/ (the image writer enforces the same ones); these rules
// carry qemu's own text, prefixed with "qemu-img: " as libvirt's error shows it.
import type { RuleDef } from '../types';
import { DOC } from '../../../../schemas/vocabulary';

const Q = DOC.qemuImg;
const L = DOC.qemuLuks;

export const QEMU_RULES = [
  // qapi/crypto.json enums and crypto/block-luks.c.
  {
    id: 'cipher-algorithm-invalid',
    severity: 'error',
    layer: 'QEMU-IMG',
    ref: 'QIMG LUKS cipher-alg',
    message: 'qemu-img: {detail}',
    doc: L,
  },
  {
    id: 'cipher-mode-invalid',
    severity: 'error',
    layer: 'QEMU-IMG',
    ref: 'QIMG LUKS cipher-mode',
    message: 'qemu-img: {detail}',
    doc: L,
  },
  {
    id: 'cipher-hash-invalid',
    severity: 'error',
    layer: 'QEMU-IMG',
    ref: 'QIMG LUKS hash-alg',
    message: 'qemu-img: {detail}',
    doc: L,
  },
  {
    id: 'ivgen-name-invalid',
    severity: 'error',
    layer: 'QEMU-IMG',
    ref: 'QIMG LUKS ivgen-alg',
    message: 'qemu-img: {detail}',
    doc: L,
  },
  {
    id: 'ivgen-hash-invalid',
    severity: 'error',
    layer: 'QEMU-IMG',
    ref: 'QIMG LUKS ivgen-hash-alg',
    message: 'qemu-img: {detail}',
    doc: L,
  },
  {
    id: 'ivgen-essiv-incompatible',
    severity: 'error',
    layer: 'QEMU-IMG',
    ref: 'QIMG LUKS essiv',
    message: 'qemu-img: {detail}',
    doc: L,
  },
  {
    id: 'cipher-mode-unsupported',
    severity: 'error',
    layer: 'QEMU-IMG',
    ref: 'QIMG LUKS cast5 xts',
    message: 'qemu-img: {detail}',
    doc: L,
  },
  {
    id: 'cipher-combination-invalid',
    severity: 'error',
    layer: 'QEMU-IMG',
    ref: 'QIMG LUKS',
    message: 'qemu-img: {detail}',
    doc: L,
  },
  // Measured: qemu-img 7.2 aborts (assertion in crypto/block.c) for 192-bit keys in cbc/ecb/ctr.
  {
    id: 'cipher-qemu-abort',
    severity: 'error',
    layer: 'QEMU-IMG',
    ref: 'QIMG-LUKS-ABORT',
    message:
      'qemu-img 7.2 aborts creating LUKS with cipher {alg} in mode {mode} (assertion in crypto/block.c: ' +
      "24-byte key × 4000 stripes is not a multiple of 512), so libvirt's volume creation fails. Use xts or " +
      'a 128/256-bit key.',
    doc: L,
  },
  // block/qcow2.c.
  {
    id: 'compat-value-invalid',
    severity: 'error',
    layer: 'QEMU-IMG',
    ref: 'QIMG-COMPAT',
    message: 'qemu-img: {detail}',
    doc: Q,
  },
  {
    id: 'cluster-size-invalid',
    severity: 'error',
    layer: 'QEMU-IMG',
    ref: 'QIMG-CLUSTER',
    message: 'qemu-img: {detail}',
    doc: Q,
  },
  {
    id: 'cluster-size-unsupported',
    severity: 'error',
    layer: 'QEMU-IMG',
    ref: 'QIMG-OPT-UNKNOWN',
    message: "qemu-img: Invalid parameter 'cluster_size'",
    doc: Q,
  },
  {
    id: 'cluster-size-ignored',
    severity: 'warning',
    layer: 'LINT',
    ref: 'VOL-CLUSTER',
    message: 'libvirt writes plain raw volumes itself, without qemu-img: the cluster size is ignored.',
    doc: DOC.storageVol,
  },
  {
    id: 'extended-l2-cluster-size',
    severity: 'error',
    layer: 'QEMU-IMG',
    ref: 'QIMG-EXTL2',
    message: 'qemu-img: {detail}',
    doc: Q,
  },
  {
    id: 'qcow2-option-invalid',
    severity: 'error',
    layer: 'QEMU-IMG',
    ref: 'QIMG',
    message: 'qemu-img: {detail}',
    doc: Q,
  },
  {
    id: 'capacity-too-large',
    severity: 'error',
    layer: 'QEMU-IMG',
    ref: 'QIMG-SIZE',
    message: 'qemu-img: {detail}',
    doc: Q,
  },
  {
    id: 'volume-format-not-creatable',
    severity: 'error',
    layer: 'QEMU-IMG',
    ref: 'VOL-FORMAT-BY-POOL',
    message: 'qemu-img: {detail}',
    doc: Q,
  },
  // qemu util/id.c: libvirt names the secret object "<volume name>_encrypt0" (storage_util.c).
  {
    id: 'volume-name-secret-id',
    severity: 'error',
    layer: 'QEMU-IMG',
    ref: 'QIMG-SECRET-ID',
    message:
      "qemu-img: Parameter 'id' expects an identifier (libvirt names the key secret '{id}'; a volume name " +
      "for an encrypted volume must start with a letter and hold only letters, digits, '-', '.' and '_')",
    doc: Q,
  },
] as const satisfies readonly RuleDef[];
