// Encryption providers for the qcow2 writer's hook (server/src/writer/create.ts
// QcowEncryptionProvider): what block/qcow2.c qcow2_set_up_encryption asks of the crypto layer.
//  - encrypt.format=luks (crypt_method 2): the LUKS1 header area, payload_offset × 512 bytes
//    (2068480 for the default 512-bit key), stored in clusters after the metadata and named by
//    the crypto header extension 0x0537be77. Same bytes as a raw LUKS header (qemu runs
//    qcrypto_block_luks_create with the qcow2 init/write functions).
//  - encrypt.format=aes / encryption=on (crypt_method 1): legacy qcow AES-CBC. Nothing is
//    stored: qemu derives the AES key from the passphrase at open time (crypto/block-qcow.c), so
//    creating one is only crypt_method = 1. Refused unless the caller passes the explicit
//    --allow-insecure-aes flag (schemas/luksOptions.ts INSECURE_AES_*).
import {
  checkLuksOptions,
  INSECURE_AES_REFUSAL,
  INSECURE_AES_WARNING,
  type LuksOptionInput,
  type ResolvedLuksOptions,
} from '../../../../schemas/luksOptions';
import { buildLuksHeader, type LuksKeyDerivationReport } from './luksHeader';
import { WriterError } from '../errors';
import type { SectorCipher } from '../crypto/modes';

/** Structurally the qcow2 writer's QcowEncryptionProvider. */
export interface QcowCryptoProvider {
  cryptMethod: 1 | 2;
  headerLength: number;
  headerBytes(): Promise<Uint8Array>;
}

export interface QcowLuksProvider extends QcowCryptoProvider {
  resolved: ResolvedLuksOptions;
  /** Filled once headerBytes() has run. */
  report?: LuksKeyDerivationReport;
  uuid?: string;
  /** With ctx.keepCipher, once headerBytes() has run: the payload cipher (convert encrypts data). */
  sectorCipher?: SectorCipher;
  /** ctx.keepCipher was given: headerBytes() will set sectorCipher. */
  keepsCipher?: boolean;
}

/**
 * Checks `encrypt.*` LUKS options (qemu's messages with the `encrypt.` prefix) and returns the
 * provider; throws WriterError before anything is derived or written.
 */
export function qcowLuksEncryption(
  options: LuksOptionInput,
  passphrase: Uint8Array,
  ctx: {
    signal?: AbortSignal;
    onProgress?: (f: number) => void;
    iterations?: { masterKey: number; slot: number };
    /** Keep the payload cipher (writer/convert.ts writes encrypted data clusters). */
    keepCipher?: boolean;
  } = {},
): QcowLuksProvider {
  const checked = checkLuksOptions(options, { prefix: 'encrypt.' });
  if (!checked.ok) throw new WriterError(checked.message, 'refused', `encrypt.${checked.option}`);
  const provider: QcowLuksProvider = {
    cryptMethod: 2,
    headerLength: checked.payloadOffsetSectors * 512,
    resolved: checked,
    keepsCipher: !!ctx.keepCipher,
    async headerBytes() {
      const h = await buildLuksHeader({
        resolved: checked,
        passphrase,
        signal: ctx.signal,
        onProgress: ctx.onProgress,
        iterations: ctx.iterations,
        keepCipher: ctx.keepCipher,
      });
      provider.sectorCipher = h.cipher;
      provider.report = h.report;
      provider.uuid = h.uuid;
      return h.bytes;
    },
  };
  return provider;
}

/** Legacy qcow2 AES; `allowInsecure` must come from an explicit user decision. */
export function qcowAesEncryption(allowInsecure: boolean): QcowCryptoProvider & { warning: string } {
  if (!allowInsecure) throw new WriterError(INSECURE_AES_REFUSAL, 'refused', 'encrypt.format');
  return { cryptMethod: 1, headerLength: 0, headerBytes: async () => new Uint8Array(0), warning: INSECURE_AES_WARNING };
}
