// "Create a <secret> document for this uuid": from an <encryption><secret uuid> that no workspace
// secret defines, a new volume-usage secret file next to the document (a WorkspaceEdit with a
// CreateFile; the client refuses it if the file exists). Its usage volume is the volume's target
// path or the disk's source file, so that lookups by usage find it too (virsecret.c).
import { CodeActionKind, type CodeAction } from 'vscode-languageserver-types';
import type { FeatureContext } from './featureContext';
import { cursorAt } from './cursor';
import { normaliseUuid, secretInfoOf, secretsByUuid, volumeSecretXml } from './secrets';
import { attrValue, path, type XmlElement } from './xmlModel';
import { readVolume } from './volumeCreate';

function rootOf(el: XmlElement): XmlElement {
  let r = el;
  while (r.parent) r = r.parent;
  return r;
}

/** The path the encrypted data lives at, and a name for the file. */
function volumeFacts(enc: XmlElement): { path: string; name: string } {
  const root = rootOf(enc);
  if (root.name === 'volume') {
    const v = readVolume(root);
    const name = v.name || 'volume';
    return { name, path: v.target.path || `/var/lib/libvirt/images/${name}` };
  }
  const source = enc.parent?.name === 'source' ? enc.parent : path(enc.parent, 'source');
  const file = attrValue(source, 'file') ?? attrValue(source, 'dev') ?? attrValue(source, 'name') ?? '';
  return { name: file.split('/').pop() || 'disk', path: file || '/var/lib/libvirt/images/disk' };
}

export function createSecretDocumentAction(fc: FeatureContext, offset: number): CodeAction | undefined {
  const c = cursorAt(fc.parsed.xml, offset);
  if (
    c.kind !== 'attributeValue' ||
    c.attribute.name !== 'uuid' ||
    c.element.name !== 'secret' ||
    c.element.parent?.name !== 'encryption'
  )
    return undefined;
  const uuid = normaliseUuid(c.attribute.value);
  if (!uuid) return undefined;
  if (secretsByUuid(fc.env.secrets?.() ?? [], uuid).length) return undefined;
  for (const p of fc.openDocuments()) if (normaliseUuid(secretInfoOf(p.uri, p.xml)?.uuid) === uuid) return undefined;
  const { name, path: volPath } = volumeFacts(c.element.parent);
  const dir = fc.document.uri.slice(0, fc.document.uri.lastIndexOf('/') + 1);
  const uri = `${dir}secret-${encodeURIComponent(name.replace(/[^A-Za-z0-9._-]+/g, '_'))}.xml`;
  const text = volumeSecretXml(uuid, volPath, name);
  return {
    title: `Create a <secret> document for ${uuid} (${uri.slice(dir.length)})`,
    kind: CodeActionKind.Refactor,
    edit: {
      documentChanges: [
        { kind: 'create', uri, options: { overwrite: false, ignoreIfExists: false } },
        {
          textDocument: { uri, version: null },
          edits: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: text }],
        },
      ],
    },
  };
}
