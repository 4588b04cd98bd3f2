// <secret> documents as libvirt reads them (src/conf/secret_conf.c secretXMLParseNode,
// virSecretDefParseUsage); schema secret.rng for the warnings.
import { SECRET_USAGE_TYPES, availableIn } from '../../../../schemas/vocabulary';
import { attr, firstChild, textContent, textSpan, type XmlElement } from '../xmlModel';
import type { ValidationContext } from './context';
import { isAbsPath, isRngUuid, parseUuid } from './libvirtValues';
import { nearest } from '../../common/strings';
import { checkStructure } from './structure';

/** The element holding the usage id per usage type, and libvirt's message when it is empty. */
const USAGE_ID: Record<string, { child: string; missing: string }> = {
  volume: { child: 'volume', missing: 'volume usage specified, but volume path is missing' },
  ceph: { child: 'name', missing: 'Ceph usage specified, but name is missing' },
  iscsi: { child: 'target', missing: 'iSCSI usage specified, but target is missing' },
  tls: { child: 'name', missing: 'TLS usage specified, but name is missing' },
  vtpm: { child: 'name', missing: 'vTPM usage specified, but name is missing' },
};

export function validateSecret(ctx: ValidationContext): void {
  const root = ctx.doc.root;
  if (!root || root.name !== 'secret') return;
  checkStructure(ctx, root, {
    attributes: ['ephemeral', 'private'],
    children: { uuid: {}, description: {}, usage: {} },
  });
  validateYesNo(ctx, root);
  validateSecretUuid(ctx, firstChild(root, 'uuid'));
  const usage = firstChild(root, 'usage');
  if (usage) validateUsage(ctx, usage);
}

/** virStringParseYesNo: exactly "yes" or "no"; virXPathString makes '' absent. */
function validateYesNo(ctx: ValidationContext, root: XmlElement): void {
  for (const name of ['ephemeral', 'private'] as const) {
    const a = attr(root, name);
    if (!a || !a.value) continue;
    if (a.value !== 'yes' && a.value !== 'no') {
      ctx.report(
        name === 'ephemeral' ? 'secret-ephemeral-invalid' : 'secret-private-invalid',
        a.valueSpan,
        {},
        { data: { replacement: a.value.toLowerCase() === 'yes' ? 'yes' : 'no', values: ['yes', 'no'] } },
      );
    }
  }
}

/** `<uuid>`: virUUIDParse; an empty one means "generate". */
function validateSecretUuid(ctx: ValidationContext, el: XmlElement | undefined): void {
  if (!el) return;
  const v = textContent(el);
  if (!v) return;
  const canonical = parseUuid(v);
  if (!canonical) ctx.report('secret-uuid-invalid', textSpan(el));
  else if (!isRngUuid(v))
    ctx.report('secret-uuid-noncanonical', textSpan(el), { uuid: v, canonical }, { data: { replacement: canonical } });
}

function validateUsage(ctx: ValidationContext, usage: XmlElement): void {
  const t = attr(usage, 'type');
  const known = ['none', ...SECRET_USAGE_TYPES.filter((u) => availableIn(u, ctx.version)).map((u) => u.value)];
  if (!t || !t.value) {
    ctx.report(
      'secret-usage-type-required',
      t ? t.valueSpan : usage.nameSpan,
      {},
      { data: { replacement: 'volume', values: known.slice(1) } },
    );
    return;
  }
  if (!known.includes(t.value)) {
    ctx.report(
      'secret-usage-type-unknown',
      t.valueSpan,
      { type: t.value },
      { data: { replacement: nearest(t.value, known.slice(1)), values: known.slice(1) } },
    );
    return;
  }
  if (t.value === 'none') {
    ctx.report('secret-usage-type-none', t.valueSpan, {}, { data: { remove: true } });
    return;
  }
  const spec = USAGE_ID[t.value];
  checkStructure(ctx, usage, { attributes: ['type'], children: { [spec.child]: {} } });
  const idEl = firstChild(usage, spec.child);
  const id = idEl ? textContent(idEl) : '';
  if (!id) {
    ctx.report('secret-usage-id-missing', idEl ? idEl.nameSpan : t.valueSpan, { detail: spec.missing });
    return;
  }
  if (t.value === 'volume' && !isAbsPath(id)) ctx.report('secret-usage-volume-relative', textSpan(idEl!));
}
