// Image-aware checks (issue 7): what the image file a document points to says, read from its
// header through ServiceEnvironment.imageFacts. The XML may describe another host, so missing or
// unreadable files give no diagnostic, and everything here is a warning (libvirt accepts the
// document; the trouble comes when qemu opens the file).
import type { RuleDef } from '../types';
import { DOC } from '../../../../schemas/vocabulary';

const BACKING_KB = 'https://libvirt.org/kbase/backing_chains.html';
const PROBING =
  'https://libvirt.org/kbase/backing_chains.html#vm-refuses-to-start-due-to-misconfigured-backing-store-format';

export const IMAGE_RULES = [
  // qemu opens the file with the declared driver (block.c bdrv_open with an explicit format);
  // declared raw over a formatted file is the format-probing hazard (qemu docs, "raw" images).
  {
    id: 'image-format-mismatch',
    severity: 'warning',
    layer: 'IMAGE',
    message: "declared format '{declared}', but {file} is a {actual} image{detail}",
    doc: PROBING,
  },
  {
    id: 'image-encryption-undeclared',
    severity: 'warning',
    layer: 'IMAGE',
    message: '{file} is encrypted ({kind}), but no <encryption> is declared{detail}',
    doc: DOC.storageEncryption,
  },
  {
    id: 'image-encryption-unexpected',
    severity: 'warning',
    layer: 'IMAGE',
    message: "<encryption format='{format}'> is declared, but {file} is not encrypted{detail}",
    doc: DOC.storageEncryption,
  },
  {
    id: 'image-encryption-kind-mismatch',
    severity: 'warning',
    layer: 'IMAGE',
    message: "<encryption format='{format}'> is declared, but {file} uses {kind} encryption",
    doc: DOC.storageEncryption,
  },
  // storage_util.c never shrinks; qemu-img resize refuses to shrink without --shrink.
  {
    id: 'image-capacity-smaller',
    severity: 'warning',
    layer: 'IMAGE',
    message: 'capacity {capacity} is smaller than the virtual size of {file} ({virtual})',
    doc: DOC.storageVol,
  },
  {
    id: 'image-backing-format-mismatch',
    severity: 'warning',
    layer: 'IMAGE',
    message: "backing format '{declared}'{where}, but the backing file {file} is a {actual} image",
    doc: BACKING_KB,
  },
  // virStorageSourceGetMetadataRecurse (storage_source.c): a backing file without a recorded
  // format is probed, and refused when the probed file has a backing file of its own (a guest
  // could have written that header). Measured with libvirt 9.0 (session qemu driver, virsh create):
  // refused with exactly this message; a probed file without a backing file starts.
  {
    id: 'image-backing-format-missing',
    severity: 'warning',
    layer: 'IMAGE',
    message:
      "format of backing image '{backing}' of image '{file}' was not specified in the image " +
      'metadata: libvirt refuses to start a VM on it (record it: qemu-img rebase -u -F {actual} ' +
      '-b {backing} {file})',
    doc: BACKING_KB,
  },
  {
    id: 'image-backing-format-probed',
    severity: 'hint',
    layer: 'IMAGE',
    message:
      "format of backing image '{backing}' of image '{file}' is not recorded; libvirt and qemu " +
      'probe it ({actual}). Record it: qemu-img rebase -u -F {actual} -b {backing} {file}',
    doc: BACKING_KB,
  },
  // The image's own LUKS header, judged like <cipher>/<ivgen> (schemas/weakCrypto.ts); reported on
  // paths whose document cannot or does not say the cipher (domain disks, volumes without <cipher>).
  {
    id: 'image-weak-encryption',
    severity: 'warning',
    layer: 'IMAGE',
    message: '{file} is encrypted with a weak choice: {message}',
    doc: 'https://gitlab.com/cryptsetup/cryptsetup/-/wikis/FrequentlyAskedQuestions',
  },
  // libvirt 9.0 at start: "internal error: backing store for PATH is self-referential or too
  // deeply nested" (measured); qemu-img info --backing-chain refuses it too.
  {
    id: 'image-backing-loop',
    severity: 'warning',
    layer: 'IMAGE',
    message: 'backing chain loops: {chain}; libvirt refuses to start a VM on it (backing store is self-referential)',
    doc: BACKING_KB,
  },
] as const satisfies readonly RuleDef[];
