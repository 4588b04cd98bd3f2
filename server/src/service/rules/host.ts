// Host rules (issue 11, "Check against the host"): a document against the libvirt host of
// `libvirtVolume.connection` (ServiceEnvironment.hostFacts, gathered by server/src/host/facts.ts).
// Silent offline and until the first snapshot arrives. Errors are what libvirt answers at
// vol-create (or at the secret lookup of a VM start) on that host, in its words.
import type { RuleDef } from '../types';
import { DOC } from '../../../../schemas/vocabulary';

const E = `${DOC.storageEncryption}#secret`;

export const HOST_RULES = [
  {
    // secret_driver.c secretLookupByUUID (VIR_ERR_NO_SECRET), reached through virsecret.c
    // virSecretGetSecretString from storage_util.c storageBackendCreateQemuImgSecretPath.
    id: 'host-secret-uuid-unknown',
    severity: 'error',
    layer: 'HOST',
    ref: 'SEC-LOOKUP',
    message: "Secret not found: no secret with matching uuid '{uuid}' (on {host})",
    doc: E,
  },
  {
    // secret_driver.c secretLookupByUsage: the usage is looked up as a volume usage.
    id: 'host-secret-usage-unknown',
    severity: 'error',
    layer: 'HOST',
    ref: 'SEC-LOOKUP',
    message: "Secret not found: no secret with matching usage '{usage}' (on {host})",
    doc: E,
  },
  {
    // virsecret.c virSecretGetSecretString: the secret must be of usage type volume.
    id: 'host-secret-usage-type',
    severity: 'error',
    layer: 'HOST',
    ref: 'SEC-LOOKUP',
    message: "invalid argument: secret with uuid {uuid} is of type '{type}' not expected 'volume' type (on {host})",
    doc: E,
  },
  {
    // storage_driver.c storageVolCreateXML (VIR_ERR_STORAGE_VOL_EXIST).
    id: 'host-volume-exists',
    severity: 'error',
    layer: 'HOST',
    message: "storage volume '{name}' exists already (pool '{pool}' on {host})",
    doc: DOC.storageVol,
  },
  {
    // storage_util.c storageBackendCreateQemuImgSetBacking: access(2) of the backing path on the host.
    id: 'host-backing-missing',
    severity: 'error',
    layer: 'HOST',
    message: 'inaccessible backing store volume {path}: No such file or directory (on {host}{how})',
    doc: DOC.storageVol,
  },
  {
    // storage_driver.c storagePoolLookupByName (VIR_ERR_NO_STORAGE_POOL).
    id: 'host-pool-unknown',
    severity: 'warning',
    layer: 'HOST',
    message: "Storage pool not found: no storage pool with matching name '{pool}' (on {host}, {from})",
    doc: DOC.storage,
  },
  {
    // storage_driver.c storageVolCreateXML: virStoragePoolObjIsActive (VIR_ERR_OPERATION_INVALID).
    id: 'host-pool-inactive',
    severity: 'warning',
    layer: 'HOST',
    message: "Requested operation is not valid: storage pool '{pool}' is not active (on {host})",
    doc: DOC.storage,
  },
  {
    // No libvirt check: a dir pool's volume fails later ("cannot extend file … File too large"
    // or ENOSPC while writing); a sparse image only fails when the guest fills it.
    id: 'host-capacity-over-available',
    severity: 'warning',
    layer: 'HOST',
    message: "Capacity {capacity} is more than the {available} available in pool '{pool}' on {host}",
    doc: DOC.storageVol,
  },
] as const satisfies readonly RuleDef[];
