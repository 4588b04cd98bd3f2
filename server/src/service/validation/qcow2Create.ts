// qemu-img's verdict on the qcow2 options libvirt passes for a volume (storage_util.c
// storageBackendCreateQemuImgOpts): `-o compat=…,cluster_size=…,lazy_refcounts,extended_l2=on` and the size in KiB.
// block/qcow2.c qcow2_co_create_opts / qcow2_co_create / validate_cluster_size; messages as
// measured with qemu-img 7.2.
import type { XmlElement } from '../xmlModel';
import { textSpan } from '../xmlModel';
import type { ValidationContext } from './context';
import { QEMU_MESSAGES, checkQcow2Rules, compatVersion, maxQcow2Size } from '../../../../schemas/qcow2Options';

export interface Qcow2CreateInput {
  /** The compat text libvirt passes (explicit, implied by <features>, or libvirt's default). */
  compat: string;
  compatEl?: XmlElement;
  clusterSize?: bigint;
  clusterEl?: XmlElement;
  extendedL2?: XmlElement;
  lazyRefcounts?: XmlElement;
  capacity?: bigint;
  capacityEl?: XmlElement;
  hasBacking?: boolean;
}

export function checkQcow2Create(ctx: ValidationContext, o: Qcow2CreateInput): void {
  // qcow2_co_create_opts: the QAPI visitor refuses an unknown version first.
  const version = compatVersion(o.compat);
  if (version === undefined) {
    if (o.compatEl)
      ctx.report(
        'compat-value-invalid',
        textSpan(o.compatEl),
        { detail: QEMU_MESSAGES.notAccept('version', o.compat) },
        { data: { replacement: '1.1', values: ['1.1', '0.10'] } },
      );
    return;
  }
  const clusterSize = Number(o.clusterSize ?? 65536n);
  // schemas/qcow2Options.ts: qcow2_co_create's rule chain, shared with the image writer. libvirt
  // passes backing_fmt whenever it passes a backing file, never preallocation (no --prealloc-metadata
  // here), refcount_bits, data_file or compression_type.
  // With compat exactly 0.10 libvirt refuses lazy_refcounts/extended_l2 itself (VCR-*-COMPAT).
  const libvirtRefused = o.compat === '0.10';
  const fail = checkQcow2Rules({
    version,
    clusterSize,
    extendedL2: !!o.extendedL2 && !libvirtRefused,
    preallocation: 'off',
    hasBackingFile: !!o.hasBacking,
    hasBackingFmt: !!o.hasBacking,
    lazyRefcounts: !!o.lazyRefcounts && !libvirtRefused,
    refcountBits: 16,
    hasDataFile: false,
    dataFileRaw: false,
    compressionType: 'zlib',
  });
  if (fail) {
    if (fail.id === 'QIMG-CLUSTER' && o.clusterEl) {
      ctx.report(
        'cluster-size-invalid',
        textSpan(o.clusterEl),
        { detail: fail.message },
        { data: { replacement: nearestPow2(BigInt(clusterSize)) } },
      );
    } else if (fail.message === QEMU_MESSAGES.extL2Cluster) {
      ctx.report(
        'extended-l2-cluster-size',
        o.clusterEl ? textSpan(o.clusterEl) : o.extendedL2!.nameSpan,
        { detail: fail.message },
        { data: { replacement: '16384' } },
      );
    } else {
      const at =
        fail.option === 'lazy_refcounts' ? o.lazyRefcounts : fail.option === 'extended_l2' ? o.extendedL2 : undefined;
      ctx.report('qcow2-option-invalid', (at ?? o.compatEl)?.nameSpan ?? o.capacityEl!.nameSpan, {
        detail: fail.message,
      });
    }
    return;
  }
  if (o.capacity !== undefined && o.capacityEl) {
    // libvirt passes the size in KiB rounded up (VIR_DIV_UP(capacity, 1024)).
    const size = ((o.capacity + 1023n) / 1024n) * 1024n;
    const max = maxQcow2Size(clusterSize, !!o.extendedL2);
    if (size > max) {
      ctx.report(
        'capacity-too-large',
        textSpan(o.capacityEl),
        { detail: QEMU_MESSAGES.tooLarge('qcow2', true) },
        { data: { maxBytes: String(max) } },
      );
    }
  }
}

function nearestPow2(v: bigint): string {
  if (v <= 512n) return '512';
  if (v >= 2097152n) return '2097152';
  let p = 512n;
  while (p * 2n <= v) p *= 2n;
  return String(v - p < p * 2n - v ? p : p * 2n);
}

/**
 * qemu-img -f qed (block/qed.c bdrv_qed_co_create): cluster size a power of two in [4 KiB, 64 MiB];
 * image size at most table_entries² × cluster size with the default table size of 4 clusters
 * (computed in 64 bits, so a 64 MiB cluster wraps to 0 and refuses every non-zero size).
 */
export function checkQedCreate(
  ctx: ValidationContext,
  o: Pick<Qcow2CreateInput, 'clusterSize' | 'clusterEl' | 'capacity' | 'capacityEl'>,
): void {
  const cs = o.clusterSize ?? 65536n;
  if (cs < 4096n || cs > 67108864n || (cs & (cs - 1n)) !== 0n) {
    if (o.clusterEl)
      ctx.report(
        'cluster-size-invalid',
        textSpan(o.clusterEl),
        { detail: 'QED cluster size must be within range [4096, 67108864] and power of 2' },
        { data: { replacement: '65536' } },
      );
    return;
  }
  if (o.capacity === undefined || !o.capacityEl) return;
  const entries = (4n * cs) / 8n;
  const max = (entries * entries * cs) & ((1n << 64n) - 1n);
  const size = ((o.capacity + 1023n) / 1024n) * 1024n;
  if (size > max) {
    ctx.report(
      'capacity-too-large',
      textSpan(o.capacityEl),
      { detail: `QED image size must be a non-zero multiple of cluster size and less than ${max} bytes` },
      { data: { maxBytes: String(max) } },
    );
  }
}

/**
 * Size limits of the other formats qemu-img creates for libvirt (measured with qemu-img 7.2):
 * vpc (block/vpc.c: VHD_MAX_SECTORS 0xff000000 × 512 = 2040 GiB) and vdi (block/vdi.c:
 * VDI_DISK_SIZE_MAX 0x1fffff8000000). libvirt passes whole KiB.
 */
export function checkOtherFormatSize(
  ctx: ValidationContext,
  format: string,
  capacity: bigint | undefined,
  capacityEl: XmlElement | undefined,
): void {
  if (capacity === undefined || !capacityEl) return;
  const size = ((capacity + 1023n) / 1024n) * 1024n;
  if (format === 'vpc' && size > 0xff000000n * 512n) {
    ctx.report(
      'capacity-too-large',
      textSpan(capacityEl),
      { detail: "The image size is too large for file format 'vpc'" },
      { data: { maxBytes: String(0xff000000n * 512n) } },
    );
  } else if (format === 'vdi' && size > 0x1fffff8000000n) {
    ctx.report(
      'capacity-too-large',
      textSpan(capacityEl),
      { detail: `Unsupported VDI image size (size is 0x${size.toString(16)}, max supported is 0x1fffff8000000)` },
      { data: { maxBytes: String(0x1fffff8000000n) } },
    );
  }
}
