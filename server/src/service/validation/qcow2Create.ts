// qemu-img's verdict on the qcow2 options libvirt passes for a volume (libvirt-rules.md §6.1,
// §6.4): `-o compat=…,cluster_size=…,lazy_refcounts,extended_l2=on` and the size in KiB.
// block/qcow2.c qcow2_co_create_opts / qcow2_co_create / validate_cluster_size; messages as
// measured with qemu-img 7.2 (oracles.md §2.2).
import type { XmlElement } from '../xmlModel';
import { textSpan } from '../xmlModel';
import type { ValidationContext } from './context';

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
}

/** qcow2_co_create_opts maps the legacy names; the QAPI enum BlockdevQcow2Version takes v2/v3. */
const QEMU_COMPAT = ['0.10', '1.1', 'v2', 'v3'];
const DEFAULT_CLUSTER = 65536n;
/** block/qcow2.h QCOW_MAX_L1_SIZE (32 MiB of 8-byte entries). */
const MAX_L1_ENTRIES = 0x2000000n / 8n;

export function checkQcow2Create(ctx: ValidationContext, o: Qcow2CreateInput): void {
  if (!QEMU_COMPAT.includes(o.compat)) {
    if (o.compatEl) ctx.report('compat-value-invalid', textSpan(o.compatEl), { detail: `Parameter 'version' does not accept value '${o.compat}'` }, { data: { replacement: '1.1', values: ['1.1', '0.10'] } });
    return;
  }
  const cs = o.clusterSize ?? DEFAULT_CLUSTER;
  if (cs < 512n || cs > 2n * 1024n * 1024n || (cs & (cs - 1n)) !== 0n) {
    ctx.report('cluster-size-invalid', textSpan(o.clusterEl!), { detail: 'Cluster size must be a power of two between 512 and 2048k' }, { data: { replacement: nearestPow2(cs) } });
    return;
  }
  if (o.extendedL2 && cs < 16384n) {
    ctx.report('extended-l2-cluster-size', o.clusterEl ? textSpan(o.clusterEl) : o.extendedL2.nameSpan, { detail: 'Extended L2 entries are only supported with cluster sizes of at least 16384 bytes' }, { data: { replacement: '16384' } });
    return;
  }
  if (o.capacity !== undefined && o.capacityEl) {
    // libvirt passes the size in KiB rounded up (VIR_DIV_UP(capacity, 1024)).
    const size = ((o.capacity + 1023n) / 1024n) * 1024n;
    const perL1 = cs * (cs / (o.extendedL2 ? 16n : 8n));
    const l1 = (size + perL1 - 1n) / perL1;
    if (l1 > MAX_L1_ENTRIES) {
      ctx.report('capacity-too-large', textSpan(o.capacityEl), { detail: "The image size is too large for file format 'qcow2' (try using a larger cluster size)" }, { data: { maxBytes: String(MAX_L1_ENTRIES * perL1) } });
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
