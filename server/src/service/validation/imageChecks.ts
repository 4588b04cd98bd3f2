// Image-aware checks (issue 7): compare what a document declares with what the image files it
// names say in their headers (env.imageFacts, bounded reads by the writer's probe). Missing or
// unreadable files give no diagnostic: the XML may describe another host. `imageChecks: false`
// turns all of this off.
import { weakChoices } from '../../../../schemas/weakCrypto';
import { formatBytes } from '../../common/bytes';
import { findImageRefs, ImageReader, resolveImagePath, sameFormat, type Chain, type ImageRef } from '../imageRefs';
import type { ImageFacts } from '../types';
import { attr, firstChild, textSpan } from '../xmlModel';
import type { ValidationContext } from './context';
import { luksFacts } from '../imageSummary';
import { capacityBytes } from './security';

/** How the file is encrypted, from its header: undefined = not encrypted. */
export function imageEncryption(f: ImageFacts): 'luks' | 'aes' | undefined {
  if (f.format === 'luks') return 'luks';
  if (!f.encrypted && !f.encryptFormat) return undefined;
  return f.encryptFormat === 'aes' ? 'aes' : 'luks';
}

const KIND_TEXT = { luks: 'LUKS', aes: 'legacy qcow AES' } as const;

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1) || p;
}

export function validateImages(ctx: ValidationContext): void {
  if (ctx.settings.imageChecks === false) return;
  const reader = new ImageReader(ctx.env, ctx.uri);
  if (!reader.available) return;
  // Most documents name files that are not on this host: nothing is built for them (findImageRefs'
  // `wanted`), and nothing for the chains until one is there.
  let chainsDone: Set<string> | undefined;
  const refs = findImageRefs(ctx.doc, ctx.pool, (p) => {
    const abs = resolveImagePath(p, ctx.uri);
    return abs !== undefined && reader.facts(abs) !== undefined;
  });
  for (let i = 0; i < refs.length; i++) {
    const ref = refs[i];
    const abs = resolveImagePath(ref.path, ctx.uri);
    if (!abs) continue;
    const facts = reader.facts(abs);
    if (!facts) continue;
    chainsDone ??= new Set<string>();
    if (ref.kind === 'volume-target' || ref.kind === 'disk-source') checkTop(ctx, ref, abs, facts);
    else checkDeclaredBacking(ctx, ref, abs, facts);
    if (!chainsDone.has(abs)) checkChain(ctx, ref, reader.chain(abs), chainsDone);
  }
}

/** Target of a volume or source of a disk: format, encryption, capacity. */
function checkTop(ctx: ValidationContext, ref: ImageRef, abs: string, facts: ImageFacts): void {
  const file = baseName(abs);
  const actualEnc = imageEncryption(facts);
  const encFormat = attr(ref.encryption, 'format')?.value;
  const declaresLegacy = encFormat === 'qcow' || encFormat === 'default';

  // Encryption.
  if (actualEnc && !ref.encryption) {
    const detail =
      facts.format === 'luks'
        ? ': qemu would hand the guest the LUKS container itself (header and ciphertext); declare ' +
          "<encryption format='luks'> with the passphrase secret"
        : ': qemu cannot open it without the passphrase secret';
    ctx.report('image-encryption-undeclared', ref.span, { file, kind: KIND_TEXT[actualEnc], detail });
  } else if (!actualEnc && ref.encryption && encFormat && ['luks', 'qcow', 'default'].includes(encFormat)) {
    // luks2/luks-any belong to RBD network disks (librbd); nothing to compare on a local file.
    const detail =
      ref.kind === 'volume-target' ? '' : ': qemu would look for a LUKS header that is not there and refuse to open it';
    ctx.report('image-encryption-unexpected', attr(ref.encryption, 'format')?.valueSpan ?? ref.encryption.nameSpan, {
      format: encFormat,
      file,
      detail,
    });
  } else if (
    actualEnc &&
    ref.encryption &&
    encFormat &&
    (encFormat === 'luks') !== (actualEnc === 'luks') &&
    ['luks', 'qcow', 'default'].includes(encFormat)
  ) {
    ctx.report('image-encryption-kind-mismatch', attr(ref.encryption, 'format')?.valueSpan ?? ref.encryption.nameSpan, {
      format: encFormat,
      file,
      kind: KIND_TEXT[actualEnc],
    });
  }
  // Legacy AES in the file itself (the XML's own qcow/default already gets the same verdict).
  if (actualEnc === 'aes' && !declaresLegacy) {
    for (const w of weakChoices({ legacyAes: true }))
      ctx.report(w.id, ref.span, w.args, { data: { reason: w.reason, inImage: abs } });
  }

  // The header's own cipher choices, unless the document states them (then the lint on
  // <cipher> already speaks): a LUKS image someone else made, opened by a domain disk.
  if (actualEnc === 'luks' && !firstChild(ref.encryption, 'cipher')) {
    const l = luksFacts(facts);
    if (l) {
      for (const w of weakChoices({ ...l, sizeBytes: facts.virtualSize })) {
        ctx.report(
          'image-weak-encryption',
          ref.span,
          { file, message: w.message },
          { severity: w.severity, data: { weakRule: w.id, doc: w.doc } },
        );
      }
    }
  }

  // Format.
  const fmt = ref.format;
  if (fmt) {
    const actual = facts.format;
    if (actual === 'luks') {
      // libvirt describes a LUKS container as raw + <encryption format='luks'>; raw without
      // <encryption> is reported above.
      if (!sameFormat(fmt.value, 'raw') && fmt.value !== 'luks') {
        reportFormat(
          ctx,
          ref,
          fmt.value,
          actual,
          file,
          ": a LUKS container is declared as format 'raw' with <encryption format='luks'>",
        );
      }
    } else if (!sameFormat(fmt.value, actual)) {
      let detail = '';
      if (sameFormat(fmt.value, 'raw')) {
        detail =
          `: used as raw, the guest would see the ${actual} metadata as its disk, and a ${actual} ` +
          `header inside a raw disk is the classic format-probing hazard (a guest can write one ` +
          `pointing at host files); declare '${actual}' if the file really is one`;
      } else if (actual === 'raw') {
        detail = `: it has no ${fmt.value} header, so qemu would refuse to open it as ${fmt.value}`;
      }
      reportFormat(ctx, ref, fmt.value, actual, file, detail);
    }
  }

  // Capacity (volumes only): smaller than what the file already holds.
  if (ref.kind === 'volume-target' && typeof facts.virtualSize === 'number') {
    const cap = capacityBytes(ref.owner);
    if (cap !== undefined && cap < BigInt(Math.trunc(facts.virtualSize))) {
      const capEl = firstChild(ref.owner, 'capacity')!;
      ctx.report('image-capacity-smaller', textSpan(capEl), {
        capacity: formatBytes(cap),
        file,
        virtual: formatBytes(facts.virtualSize),
      });
    }
  }
}

function reportFormat(
  ctx: ValidationContext,
  ref: ImageRef,
  declaredFmt: string,
  actual: string,
  file: string,
  detail: string,
): void {
  const implicit = ref.format?.implicit
    ? ref.kind === 'disk-source'
      ? ' (the default without <driver type>)'
      : ' (the default without <format>)'
    : '';
  ctx.report(
    'image-format-mismatch',
    ref.format?.span ?? ref.span,
    { declared: declaredFmt + implicit, file, actual, detail },
    { data: { realFormat: actual } },
  );
}

/** A backing store the XML declares: its format against the file's. */
function checkDeclaredBacking(ctx: ValidationContext, ref: ImageRef, abs: string, facts: ImageFacts): void {
  const fmt = ref.format;
  if (!fmt || sameFormat(fmt.value, facts.format)) return;
  const where = fmt.implicit ? ' (the default without <format>)' : '';
  // A volume's backing store goes to `qemu-img create -b PATH -o backing_fmt=FMT` (storage_util.c),
  // and qemu-img opens the backing file with that driver: any format but raw refuses a file that
  // is not in it ("Image is not in qcow2 format / Could not open backing image"). The file is
  // here to read, so the document's host is this one: libvirt's creation would fail. (Domain
  // backing layers fail only when the VM starts, and raw opens anything: warnings.)
  const refused = ref.kind === 'volume-backing' && fmt.value !== 'raw';
  ctx.report(
    'image-backing-format-mismatch',
    fmt.span ?? ref.span,
    { declared: fmt.value, where, file: baseName(abs), actual: facts.format },
    { data: { realFormat: facts.format }, ...(refused ? { severity: 'error' as const } : {}) },
  );
}

/** What the headers along the backing chain say about each other. */
function checkChain(ctx: ValidationContext, ref: ImageRef, chain: Chain, done: Set<string>): void {
  const { links } = chain;
  for (let i = 0; i < links.length; i++) {
    const link = links[i];
    if (done.has(link.path)) return; // already judged from an earlier reference
    done.add(link.path);
    const f = link.facts;
    if (!f.backingFile) continue;
    const next = links[i + 1];
    if (!f.backingFormat) {
      // Probed like libvirt does; nothing to say when the backing file cannot be read.
      if (next) {
        ctx.report(next.facts.backingFile ? 'image-backing-format-missing' : 'image-backing-format-probed', ref.span, {
          backing: f.backingFile,
          file: baseName(link.path),
          actual: next.facts.format,
        });
      }
      continue;
    }
    if (next && !sameFormat(f.backingFormat, next.facts.format)) {
      ctx.report(
        'image-backing-format-mismatch',
        ref.span,
        {
          declared: f.backingFormat,
          where: ` in the header of ${baseName(link.path)}`,
          file: baseName(next.path),
          actual: next.facts.format,
        },
        { data: { realFormat: next.facts.format, image: link.path } },
      );
    }
  }
  if (chain.loopsTo) {
    const names = links.map((l) => baseName(l.path));
    ctx.report('image-backing-loop', ref.span, { chain: [...names, baseName(chain.loopsTo)].join(' → ') });
  }
}
