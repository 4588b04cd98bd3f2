// Quick fixes per rule id (Diagnostic.code): the fixes that need the tree or more than the
// diagnostic's data (codeActions.ts falls back to the data-driven ones for other rules).
import { CIPHERS } from '../../../schemas/vocabulary';
import type { FeatureContext } from './featureContext';
import type { XmlEditor } from './xmlEdits';
import { attr, attrValue, childElements, firstChild, path, textContent, textSpan, type XmlElement } from './xmlModel';
import { attrDefOf, resolveValues } from './values';
import {
  addSecret,
  encryptionOf,
  insertData,
  removeTarget,
  replaceValue,
  secretXml,
  toLuks,
  useLuks,
  workspaceCandidates,
  type Fix,
  type FixInput,
  type Fixer,
  type Target,
} from './fixKit';
import { nearest } from '../common/strings';

// ---- rule-specific fixers ----

/** An element libvirt does not know: rename it to the nearest known name (preferred), or remove it. */
function renameOrRemove(el: XmlElement, rep: string | undefined, title: string): Fix[] {
  const fixes: Fix[] = [];
  if (rep) {
    fixes.push({
      title,
      preferred: true,
      apply: (ed) => {
        ed.replace(el.nameSpan, rep);
        if (el.endTagNameSpan) ed.replace(el.endTagNameSpan, rep);
      },
    });
  }
  fixes.push({ title: `Remove <${el.name}>`, apply: (ed) => ed.removeElement(el) });
  return fixes;
}

function cipherOf(t: Target): XmlElement | undefined {
  if (t.el.name === 'cipher') return t.el;
  const enc = encryptionOf(t);
  return firstChild(enc, 'cipher');
}

/** A value qemu accepts for a cipher/ivgen attribute in this context (values.ts). */
function bestValue(fc: FeatureContext, el: XmlElement, name: string): string | undefined {
  const def = attrDefOf(el, name);
  const values = resolveValues(def?.values, { settings: fc.settings, env: fc.env, element: el }, name);
  return (values.find((v) => v.isDefault) ?? values[0])?.value;
}

const setCompat11: Fixer = ({ t }) => {
  let root = t.el;
  while (root.parent) root = root.parent;
  const target = path(root, 'target');
  if (!target) return [];
  const compat = firstChild(target, 'compat');
  return [
    {
      title: compat ? 'Set <compat> to 1.1' : 'Add <compat>1.1</compat>',
      preferred: true,
      apply: (ed) =>
        compat
          ? ed.replace(
              childElements(compat).length || !textContent(compat).trim() ? compat.contentSpan : textSpan(compat),
              '1.1',
            )
          : ed.appendChild(target, '<compat>1.1</compat>'),
    },
  ];
};

const setVolumeFormat =
  (fmt: string): Fixer =>
  ({ t }) => {
    let root = t.el;
    while (root.parent) root = root.parent;
    const target = path(root, 'target');
    if (!target) return [];
    const f = firstChild(target, 'format');
    return [
      {
        title: `Make the volume ${fmt}`,
        apply: (ed) => (f ? ed.setAttr(f, 'type', fmt) : ed.appendChild(target, `<format type='${fmt}'/>`)),
      },
    ];
  };

export const FIXERS: Record<string, Fixer[]> = {
  // <Volume>, <volumes> → the root libvirt expects: start and end tag renamed together.
  'root-element-near-miss': [
    ({ t, data }) => {
      const expected = typeof data.expected === 'string' ? data.expected : undefined;
      const root = t.el;
      if (!expected || root.parent) return [];
      return [
        {
          title: `Rename the root element to <${expected}>`,
          preferred: true,
          apply: (ed) => {
            ed.replace(root.nameSpan, expected);
            if (root.endTagNameSpan) ed.replace(root.endTagNameSpan, expected);
          },
        },
      ];
    },
  ],
  // Legacy qcow AES / formats qemu cannot create → LUKS with a passphrase secret.
  'encryption-format-deprecated': [useLuks],
  'volume-encryption-qcow-create': [useLuks],
  'volume-raw-encryption': [useLuks],
  'volume-encryption-format-unsupported': [useLuks],
  'volume-encryption-pool-luks-only': [useLuks],
  'disk-encryption-old-qcow': [useLuks],
  'disk-encryption-qemu-luks2': [useLuks],
  'encryption-format-required': [
    ({ t, uuid }) => {
      const enc = encryptionOf(t);
      return enc
        ? [
            {
              title: "Set format='luks'",
              preferred: true,
              apply: (ed) =>
                childElements(enc, 'secret').length ? ed.setAttr(enc, 'format', 'luks') : toLuks(enc, uuid, ed),
            },
          ]
        : [];
    },
  ],
  'encryption-format-unknown': [replaceValue],
  'encryption-engine-invalid': [
    replaceValue,
    ({ t }) =>
      t.attr
        ? [{ title: "Remove the 'engine' attribute (qemu decrypts)", apply: (ed) => ed.removeAttr(t.el, 'engine') }]
        : [],
  ],
  'encryption-engine-ignored': [removeTarget("Remove the 'engine' attribute")],
  // Secrets.
  'encryption-secret-missing': [addSecret],
  'disk-encryption-no-secret': [addSecret],
  'volume-secret-count': [
    (x) => (x.t.el.name === 'secret' ? removeTarget('Remove the extra <secret>')(x) : addSecret(x)),
  ],
  'disk-encryption-qemu-one-secret': [removeTarget('Remove the extra <secret>')],
  'encryption-secret-type-required': [
    ({ t }) => {
      const s = t.el.name === 'secret' ? t.el : undefined;
      return s
        ? [{ title: "Set type='passphrase'", preferred: true, apply: (ed) => ed.setAttr(s, 'type', 'passphrase') }]
        : [];
    },
  ],
  'encryption-secret-type-unknown': [replaceValue],
  'encryption-secret-ref-missing': [
    ({ t, uuid, fc }) => {
      const enc = t.el.parent;
      const fixes: Fix[] = [
        { title: 'Add a new secret uuid', preferred: true, apply: (ed) => ed.setAttr(t.el, 'uuid', uuid()) },
      ];
      if (enc)
        for (const s of workspaceCandidates(fc, enc))
          fixes.push({
            title: `Use the workspace secret ${s.uuid} (${s.label})`,
            apply: (ed) => ed.setAttr(t.el, 'uuid', s.uuid),
          });
      return fixes;
    },
  ],
  'encryption-secret-ref-both': [
    ({ t }) => [
      { title: "Keep the uuid (remove 'usage')", preferred: true, apply: (ed) => ed.removeAttr(t.el, 'usage') },
      { title: "Keep the usage (remove 'uuid')", apply: (ed) => ed.removeAttr(t.el, 'uuid') },
    ],
  ],
  'encryption-secret-uuid-invalid': [
    ({ t, uuid }) =>
      t.attr
        ? [
            {
              title: 'Replace with a new random uuid',
              preferred: true,
              apply: (ed) => ed.setAttr(t.el, 'uuid', uuid()),
            },
          ]
        : [],
  ],
  'encryption-secret-uuid-noncanonical': [replaceValue],
  'secret-uuid-noncanonical': [replaceValue],
  'secret-uuid-invalid': [
    ({ t, uuid }) => [
      {
        title: 'Replace with a new random uuid',
        preferred: true,
        apply: (ed) => ed.replace(textSpan(t.el) === t.el.nameSpan ? t.el.contentSpan : textSpan(t.el), uuid()),
      },
    ],
  ],
  'workspace-secret-uuid-unknown': [
    ({ t, data }) => {
      const c = Array.isArray(data.candidates)
        ? (data.candidates as Array<{ uuid?: string; usageVolume?: string }>)
        : [];
      return c
        .filter((s) => s.uuid)
        .slice(0, 5)
        .map((s, i) => ({
          title: `Use the workspace secret ${s.uuid}${s.usageVolume ? ` (${s.usageVolume})` : ''}`,
          preferred: i === 0 && c.length === 1,
          apply: (ed) => ed.setAttr(t.el, 'uuid', s.uuid!),
        }));
    },
  ],
  'workspace-secret-path-mismatch': [
    ({ t, fc, data }) => {
      const enc = t.el.parent;
      if (!enc) return [];
      return workspaceCandidates(fc, enc)
        .filter((s) => s.label === data.path)
        .map((s) => ({
          title: `Use the secret for '${s.label}' (${s.uuid})`,
          preferred: true,
          apply: (ed) => ed.setAttr(t.el, 'uuid', s.uuid),
        }));
    },
  ],
  'workspace-secret-usage-type': [
    ({ t, fc }) => {
      const enc = t.el.parent;
      if (!enc) return [];
      return workspaceCandidates(fc, enc).map((s, i) => ({
        title: `Use the volume secret ${s.uuid} (${s.label})`,
        preferred: i === 0,
        apply: (ed: XmlEditor) => ed.setAttr(t.el, 'uuid', s.uuid),
      }));
    },
  ],
  'workspace-secret-usage-unknown': [
    ({ t, fc }) => {
      if (!t.attr) return [];
      const have = t.attr.value ?? '';
      const paths = [
        ...new Set(
          (fc.env.secrets?.() ?? [])
            .filter((s) => s.usageType === 'volume' && s.usageVolume)
            .map((s) => s.usageVolume!),
        ),
      ];
      const best = nearest(have, paths);
      const ordered = best ? [best, ...paths.filter((p) => p !== best)] : paths;
      return ordered.slice(0, 5).map((p, i) => ({
        title: `Use the secret with usage volume '${p}'`,
        preferred: i === 0 && best !== undefined,
        apply: (ed: XmlEditor) => ed.setAttr(t.el, 'usage', p),
      }));
    },
  ],
  // Cipher / ivgen.
  'cipher-name-required': [
    ({ t }) => [{ title: "Add name='aes'", preferred: true, apply: (ed) => ed.setAttr(t.el, 'name', 'aes') }],
  ],
  'cipher-size-required': [
    ({ t, fc }) => {
      const size = bestValue(fc, t.el, 'size') ?? '256';
      return [{ title: `Add size='${size}'`, preferred: true, apply: (ed) => ed.setAttr(t.el, 'size', size) }];
    },
  ],
  'cipher-size-invalid': [
    ({ t, fc }) => {
      const c = t.el;
      const size = bestValue(fc, c, 'size') ?? '256';
      return [{ title: `Set size='${size}'`, preferred: true, apply: (ed) => ed.setAttr(c, 'size', size) }];
    },
  ],
  'cipher-size-off-schema': [replaceValue],
  'cipher-mode-hash-pair': [insertData],
  'cipher-needs-ivgen': [insertData],
  'ivgen-name-required': [insertData],
  'ivgen-needs-cipher': [
    ({ t }) => [
      {
        title: "Add <cipher name='aes' size='256' mode='xts' hash='sha256'/>",
        preferred: true,
        apply: (ed) => ed.insertBefore(t.el, "<cipher name='aes' size='256' mode='xts' hash='sha256'/>"),
      },
      { title: 'Remove the <ivgen>', apply: (ed) => ed.removeElement(t.el) },
    ],
  ],
  'encryption-cipher-ignored': [removeTarget('Remove it (libvirt ignores it)')],
  'encryption-cipher-without-secret': [addSecret],
  'cipher-algorithm-invalid': [
    (x) => {
      const { t, data, fc } = x;
      const rep = typeof data.replacement === 'string' ? data.replacement : undefined;
      // A new family may not have the old key size (des-56 → aes-256): fix both at once.
      if (t.el.name !== 'cipher' || t.attr?.name !== 'name' || !rep) return replaceValue(x);
      return [
        {
          title: `Replace '${t.attr.value}' with '${rep}'`,
          preferred: true,
          apply: (ed) => {
            ed.setAttr(t.el, 'name', rep);
            const fam = CIPHERS.find((c) => c.name === rep);
            const size = attrValue(t.el, 'size');
            if (fam && !fam.keySizes.map(String).includes(size ?? ''))
              ed.setAttr(t.el, 'size', String(fam.keySizes.includes(256) ? 256 : fam.keySizes[0]));
            void fc;
          },
        },
      ];
    },
  ],
  'cipher-mode-invalid': [replaceValue],
  'cipher-hash-invalid': [replaceValue],
  'ivgen-name-invalid': [replaceValue],
  'ivgen-hash-invalid': [replaceValue],
  'ivgen-essiv-incompatible': [
    ({ t, fc }) => {
      const iv = t.el.name === 'ivgen' ? t.el : firstChild(encryptionOf(t), 'ivgen');
      if (!iv) return [];
      const h = bestValue(fc, iv, 'hash');
      const fixes: Fix[] = [];
      if (h)
        fixes.push({
          title: `Set the essiv hash to '${h}'`,
          preferred: true,
          apply: (ed) => ed.setAttr(iv, 'hash', h),
        });
      fixes.push({
        title: "Use ivgen 'plain64'",
        apply: (ed) => {
          ed.setAttr(iv, 'name', 'plain64');
          ed.removeAttr(iv, 'hash');
        },
      });
      return fixes;
    },
  ],
  'cipher-mode-unsupported': [
    ({ t, fc }) => {
      const c = cipherOf(t);
      if (!c) return [];
      const mode = bestValue(fc, c, 'mode') ?? 'cbc';
      return [
        {
          title: `Set mode='${mode}'`,
          preferred: true,
          apply: (ed) => {
            ed.setAttr(c, 'mode', mode);
            if (!attr(c, 'hash')) ed.setAttr(c, 'hash', 'sha256');
          },
        },
      ];
    },
  ],
  'cipher-qemu-abort': [
    ({ t }) => {
      const c = cipherOf(t);
      if (!c) return [];
      return [
        { title: "Use mode 'xts'", preferred: true, apply: (ed) => ed.setAttr(c, 'mode', 'xts') },
        { title: "Use a 256-bit key (size='256')", apply: (ed) => ed.setAttr(c, 'size', '256') },
      ];
    },
  ],
  // Domain disks.
  'disk-encryption-cipher': [
    ({ t }) => {
      const enc = t.el.parent;
      const ivgen = firstChild(enc, 'ivgen');
      return [
        {
          title: ivgen
            ? 'Remove <cipher> and <ivgen> (the image header decides)'
            : 'Remove <cipher> (the image header decides)',
          preferred: true,
          apply: (ed) => {
            ed.removeElement(t.el);
            if (ivgen) ed.removeElement(ivgen);
          },
        },
      ];
    },
  ],
  'disk-encryption-legacy-location': [
    ({ t }) => {
      const enc = t.el;
      const disk = enc.parent;
      const source = firstChild(disk, 'source');
      if (!disk || !source || firstChild(source, 'encryption')) return [];
      return [
        {
          title: 'Move <encryption> into <source>',
          preferred: true,
          apply: (ed) => {
            const xml = ed.relativeText(enc);
            ed.removeElement(enc);
            ed.appendChild(source, xml);
          },
        },
      ];
    },
  ],
  'disk-encryption-both': [
    removeTarget('Remove the <source>-level <encryption>'),
    ({ t }) => {
      const disk = t.el.parent?.parent;
      const top = firstChild(disk, 'encryption');
      return top ? [{ title: 'Remove the <disk>-level <encryption>', apply: (ed) => ed.removeElement(top) }] : [];
    },
  ],
  'disk-encryption-rbd-only': [replaceValue],
  // Volumes.
  'volume-compat-default': [setCompat11],
  'volume-lazy-refcounts-compat': [setCompat11],
  'volume-extended-l2-compat': [setCompat11],
  'volume-compat-invalid': [replaceValue],
  'compat-value-invalid': [replaceValue],
  'volume-compat-format': [removeTarget('Remove <compat>'), setVolumeFormat('qcow2')],
  'volume-features-format': [removeTarget('Remove <features>'), setVolumeFormat('qcow2')],
  'volume-backing-raw': [setVolumeFormat('qcow2')],
  'volume-format-luks': [
    ({ t, uuid }) => {
      let root = t.el;
      while (root.parent) root = root.parent;
      const target = path(root, 'target');
      if (!target || !t.attr) return [];
      const enc = firstChild(target, 'encryption');
      return [
        {
          title: "Use format 'raw' with <encryption format='luks'>",
          preferred: true,
          apply: (ed) => {
            ed.setAttr(t.el, 'type', 'raw');
            if (enc) toLuks(enc, uuid, ed);
            else
              ed.appendChild(
                target,
                `<encryption format='luks'>\n${ed.indentUnit()}${secretXml(uuid())}\n</encryption>`,
              );
          },
        },
      ];
    },
  ],
  'volume-format-unknown': [replaceValue],
  'volume-encryption-image-format': [replaceValue],
  'volume-format-not-creatable': [replaceValue],
  'volume-type-unknown': [replaceValue],
  'volume-type-output-only': [
    ({ t }) => [
      {
        title: "Remove the 'type' attribute (output only)",
        preferred: true,
        apply: (ed) => ed.removeAttr(t.el, 'type'),
      },
    ],
  ],
  'volume-unit-unknown': [replaceValue],
  'volume-size-off-schema': [replaceValue],
  'volume-feature-unknown': [
    ({ t, data }) => {
      const rep = typeof data.replacement === 'string' ? data.replacement : undefined;
      return renameOrRemove(t.el, rep, `Replace with <${rep}/>`);
    },
  ],
  'volume-capacity-required': [insertData],
  'volume-backing-format-missing': [insertData],
  'cluster-size-invalid': [
    (x) => {
      const rep = x.data.replacement;
      if (x.t.on !== 'text' || (typeof rep !== 'string' && typeof rep !== 'number')) return [];
      // The replacement is in bytes: say so when the element has a unit.
      return [
        {
          title: `Use a cluster size of ${rep} bytes`,
          preferred: true,
          apply: (ed) => {
            ed.replace(x.t.el.contentSpan, String(rep));
            if (attr(x.t.el, 'unit')) ed.setAttr(x.t.el, 'unit', 'B');
          },
        },
      ];
    },
  ],
  'cluster-size-ignored': [removeTarget('Remove <clusterSize>')],
  'cluster-size-unsupported': [removeTarget('Remove <clusterSize>')],
  'volume-encryption-ignored': [removeTarget('Remove <encryption> (nothing is encrypted)')],
  'volume-feature-ignored': [removeTarget('Remove the feature')],
  'volume-perm-mode-invalid': [
    ({ t }) => {
      if (t.on !== 'text') return [];
      const v = textContent(t.el).trim();
      // Only the permission bits are allowed (storage_conf.c virStorageDefParsePerms: mode & ~0777).
      const n = /^[0-7]+$/.test(v) ? parseInt(v, 8) & 0o777 : 0o600;
      const rep = `0${n.toString(8).padStart(3, '0')}`;
      return [
        { title: `Replace '${v}' with '${rep}'`, preferred: true, apply: (ed) => ed.replace(t.el.contentSpan, rep) },
      ];
    },
  ],
  'volume-size-malformed': [
    ({ t }) => {
      if (t.on !== 'text') return [];
      const m = /^\s*\+?(\d+)\s*$/.exec(textContent(t.el));
      return m
        ? [{ title: `Replace with '${m[1]}'`, preferred: true, apply: (ed) => ed.replace(t.el.contentSpan, m[1]) }]
        : [];
    },
  ],
  'volume-name-slash': [
    ({ t }) => {
      const v = textContent(t.el).trim();
      const rep = v.replace(/\//g, '_');
      return t.on === 'text'
        ? [{ title: `Rename to '${rep}'`, preferred: true, apply: (ed) => ed.replace(t.el.contentSpan, rep) }]
        : [];
    },
  ],
  'volume-name-secret-id': [
    ({ t }) => {
      // libvirt names the qemu secret object NAME_encrypt0; qemu ids are letters, digits, '-', '.', '_' after a letter.
      const v = textContent(t.el).trim();
      let rep = v.replace(/[^A-Za-z0-9._-]/g, '_');
      if (!/^[A-Za-z]/.test(rep)) rep = `v${rep}`;
      return t.on === 'text' && rep !== v
        ? [{ title: `Rename to '${rep}'`, preferred: true, apply: (ed) => ed.replace(t.el.contentSpan, rep) }]
        : [];
    },
  ],
  'disk-encryption-lun': [
    ({ t }) => {
      let disk: XmlElement | undefined = t.el;
      while (disk && disk.name !== 'disk') disk = disk.parent;
      return disk
        ? [{ title: "Use device='disk'", preferred: true, apply: (ed) => ed.setAttr(disk!, 'device', 'disk') }]
        : [];
    },
  ],
  // Secrets documents.
  'secret-ephemeral-invalid': [replaceValue],
  'secret-private-invalid': [replaceValue],
  'secret-usage-type-required': [
    ({ t, data }) => {
      const usage = t.el.name === 'usage' ? t.el : undefined;
      const v = typeof data.replacement === 'string' ? data.replacement : 'volume';
      return usage ? [{ title: `Set type='${v}'`, preferred: true, apply: (ed) => ed.setAttr(usage, 'type', v) }] : [];
    },
  ],
  'secret-usage-type-unknown': [replaceValue],
  'secret-usage-type-none': [
    ({ t }) => [{ title: 'Remove <usage>', preferred: true, apply: (ed) => ed.removeElement(t.el) }],
  ],
  // Structure.
  'unknown-element': [
    ({ t, data }) => {
      const values = Array.isArray(data.values) ? (data.values as string[]) : [];
      const rep = nearest(t.el.name, values);
      return renameOrRemove(t.el, rep, `Rename to <${rep}>`);
    },
  ],
  'unknown-attribute': [
    ({ t, data }) => {
      if (!t.attr) return [];
      const values = Array.isArray(data.values) ? (data.values as string[]).filter((v) => !attr(t.el, v)) : [];
      const rep = nearest(t.attr.name, values);
      const fixes: Fix[] = [];
      if (rep)
        fixes.push({ title: `Rename to '${rep}'`, preferred: true, apply: (ed) => ed.replace(t.attr!.nameSpan, rep) });
      fixes.push({ title: `Remove '${t.attr.name}'`, apply: (ed) => ed.removeAttr(t.el, t.attr!.name) });
      return fixes;
    },
  ],
  'duplicate-element': [removeTarget('Remove the duplicate')],
  // Image-aware checks: declare what the file really is.
  'image-format-mismatch': [declareRealFormat],
  'image-backing-format-mismatch': [declareRealFormat],
};

/**
 * Image checks (validation/imageChecks.ts): declare the format the file's header says. The
 * diagnostic sits on the `type` value when one is written, else on the path (volume `<path>`
 * text, disk `<source file>`): then add `<format type>` / `<driver type>`. A mismatch found in an
 * image header (data.image) has no XML fix.
 */
function declareRealFormat({ t, data }: FixInput): Fix[] {
  const real = typeof data.realFormat === 'string' ? data.realFormat : undefined;
  if (!real || data.image) return [];
  const title = `Declare format '${real}'`;
  if (t.on === 'attrValue' && t.attr?.name === 'type')
    return [{ title, preferred: true, apply: (ed) => ed.setAttr(t.el, 'type', real) }];
  if (
    t.on === 'text' &&
    t.el.name === 'path' &&
    t.el.parent &&
    (t.el.parent.name === 'target' || t.el.parent.name === 'backingStore')
  ) {
    if (firstChild(t.el.parent, 'format')) return [];
    return [{ title, preferred: true, apply: (ed: XmlEditor) => ed.insertAfter(t.el, `<format type='${real}'/>`) }];
  }
  if (t.on === 'attrValue' && t.attr?.name === 'file' && t.el.name === 'source' && t.el.parent?.name === 'disk') {
    const driver = firstChild(t.el.parent, 'driver');
    return [
      {
        title,
        preferred: true,
        apply: (ed) =>
          driver ? ed.setAttr(driver, 'type', real) : ed.insertBefore(t.el, `<driver name='qemu' type='${real}'/>`),
      },
    ];
  }
  return [];
}
