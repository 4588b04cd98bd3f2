// <encryption> as libvirt's virStorageEncryptionParseNode reads it (storage_encryption_conf.c).
// Parse order: format → engine → secrets → cipher → ivgen.
import { ENCRYPTION_FORMATS, availableIn } from '../../../../schemas/vocabulary';
import { attr, type XmlElement } from '../xmlModel';
import type { ValidationContext } from './context';

/** Where the <encryption> element sits; some rules differ per consumer. */
export type EncryptionSite = 'volume' | 'disk' | 'snippet';

export function validateEncryption(ctx: ValidationContext, enc: XmlElement, _site: EncryptionSite): void {
  const format = attr(enc, 'format');
  // virXPathString: an empty attribute counts as missing.
  if (!format || !format.value) {
    ctx.report('encryption-format-required', format ? format.valueSpan : enc.nameSpan);
  } else if (!ENCRYPTION_FORMATS.some((f) => f.value === format.value && availableIn(f, ctx.version))) {
    ctx.report('encryption-format-unknown', format.valueSpan, { format: format.value });
  }
}
