// The XML this project writes, against libvirt's own formatting (session libvirtd): defined or
// created as written, then dumped back (secret-dumpxml / vol-dumpxml, i.e. virSecretDefFormat and
// virStorageVolDefFormat); the dump is read with the strict tool parser. Our elements come in
// libvirt's order and carry the values we wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Element } from '@xmldom/xmldom';
import { childElements, parseToolXml } from '../../server/src/service/xmlDom';
import { volumeSecretXml } from '../../server/src/service/secrets';
import { newVolumeXml } from '../../server/src/lsp/createVolume';
import { ORACLE_SECRET_UUID, SessionLibvirt } from './libvirt';

/** Element names in document order with their text (leaves) and attributes, as `a/b[k=v]=text`. */
function outline(el: Element, prefix = ''): string[] {
  const attrs = Array.from(el.attributes).map((a) => `${a.name}=${a.value}`).sort().join(',');
  const me = `${prefix}${el.nodeName}${attrs ? `[${attrs}]` : ''}`;
  const kids = childElements(el);
  if (!kids.length) return [`${me}=${el.textContent ?? ''}`];
  return [me, ...kids.flatMap((k) => outline(k, `${me.replace(/\[.*\]$/, '')}/`))];
}

test('<secret> and the wizard <volume> as libvirt writes them back', { timeout: 300_000 }, async () => {
  const lv = await SessionLibvirt.start();
  try {
    const secret = volumeSecretXml('6f1c0c55-1d2b-4c3a-9e8f-3a2b1c0d9e8f', "/pool/a&b <c> 'd'.img", 'a&b <c>');
    const s = await lv.dumpSecret(secret);
    assert.ok(s.ok, s.message);
    // libvirt writes back exactly the elements we wrote, in the same order.
    assert.deepEqual(outline(parseToolXml(s.xml!).documentElement!), outline(parseToolXml(secret).documentElement!));

    const volume = newVolumeXml({ name: 'h6wizard', capacity: '1 MiB', format: 'qcow2', encrypted: true }, '/ignored/h6wizard', ORACLE_SECRET_UUID);
    const v = await lv.dumpVolume(volume);
    assert.ok(v.ok, v.message);
    // libvirt adds elements (key, allocation, permissions, …); ours are a subsequence in its order.
    const names = (el: Element): string[] => childElements(el).map((e) => e.nodeName);
    const theirs = parseToolXml(v.xml!).documentElement!;
    const ours = parseToolXml(volume).documentElement!;
    const subsequence = (a: string[], b: string[]) => b.filter((n) => a.includes(n));
    assert.deepEqual(subsequence(names(ours), names(theirs)), names(ours));
    const target = (el: Element) => childElements(el, 'target')[0];
    assert.deepEqual(subsequence(names(target(ours)), names(target(theirs))), names(target(ours)));
    const enc = childElements(target(theirs), 'encryption')[0];
    assert.equal(childElements(enc, 'secret')[0].getAttribute('uuid'), ORACLE_SECRET_UUID);
  } finally {
    await lv.stop();
  }
});
