// Cross-file rules: an <encryption><secret> against the <secret> documents of the workspace
// (ServiceEnvironment.secrets()). libvirt itself only finds out when it looks the secret up
// (virsecret.c virSecretGetSecretString); in the editor these are
// hints and warnings because the workspace need not hold every secret of the host.
import type { RuleDef } from '../types';
import { DOC } from '../../../../schemas/vocabulary';

const E = `${DOC.storageEncryption}#secret`;

export const WORKSPACE_RULES = [
  {
    id: 'workspace-secret-uuid-unknown',
    severity: 'hint',
    layer: 'WORKSPACE',
    ref: 'SEC-LOOKUP',
    message:
      "No <secret> document in the workspace has uuid '{uuid}' (libvirt will look for it on the " +
      "host: Secret not found: no secret with matching uuid '{uuid}')",
    doc: E,
  },
  {
    id: 'workspace-secret-usage-unknown',
    severity: 'hint',
    layer: 'WORKSPACE',
    ref: 'SEC-LOOKUP',
    message: "No <secret> document in the workspace has usage volume '{usage}'",
    doc: E,
  },
  {
    id: 'workspace-secret-usage-type',
    severity: 'warning',
    layer: 'WORKSPACE',
    ref: 'SEC-LOOKUP',
    message: "invalid argument: secret with uuid {uuid} is of type '{type}' not expected 'volume' type ({where})",
    doc: E,
  },
  {
    id: 'workspace-secret-path-mismatch',
    severity: 'warning',
    layer: 'WORKSPACE',
    message: "The secret {uuid} ({where}) is for volume '{secretPath}', but this volume's path is '{path}'",
    doc: E,
  },
] as const satisfies readonly RuleDef[];
