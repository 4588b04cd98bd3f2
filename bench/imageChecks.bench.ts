// Cost of the image-aware checks (issue 7): header reads through the writer's probe on images
// made by qemu-img, per validation and per path hover, against `qemu-img info` (what a tool would
// otherwise spawn). Prints a markdown table.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { getLanguageService } from '../server/src/service/languageService';
import { imageHover } from '../server/src/service/imageSummary';
import { LineIndex, parseXml } from '../server/src/service/xmlModel';
import { makeQemuFixtures } from '../test/image/imageFixtures';
import { probeEnv } from '../test/image/imageEnvs';

const fx = makeQemuFixtures();
try {
  const uri = pathToFileURL(join(fx.dir, 'doc.xml')).href;
  const domain = `<domain type='kvm'><name>d</name><devices>`
    + ['top2.qcow2', 'enc.qcow2', 'luks.img', 'loop-a.qcow2'].map((f, i) => `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${f}'/><target dev='vd${'abcd'[i]}'/></disk>`).join('')
    + `</devices></domain>`;
  const rows: string[][] = [];
  const time = (n: number, f: () => void): number => { f(); const t0 = performance.now(); for (let i = 0; i < n; i++) f(); return (performance.now() - t0) / n; };

  const env = probeEnv();
  const base = getLanguageService({});
  const withImages = getLanguageService(env);
  let v = 0;
  const doc = () => TextDocument.create(uri, 'xml', ++v, domain);
  const tNone = time(200, () => base.doValidation(doc()));
  const tImg = time(200, () => withImages.doValidation(doc()));
  rows.push(['validation, 4 disks (9 image files), no image checks', tNone.toFixed(3)]);
  rows.push(['validation, 4 disks, image checks via probeImage (uncached reads)', tImg.toFixed(3)]);
  const xml = parseXml(domain);
  const lines = new LineIndex(domain);
  const at = domain.indexOf('top2.qcow2');
  rows.push(['hover on a path (3-layer chain, probeImage)', time(200, () => imageHover(xml, lines, at, uri, env, {})).toFixed(3)]);
  rows.push(['`qemu-img info --output=json` of one file (spawn)', time(10, () => execFileSync('qemu-img', ['info', '--output=json', join(fx.dir, 'top2.qcow2')])).toFixed(3)]);
  console.log('| operation | ms |\n|---|---:|');
  for (const r of rows) console.log(`| ${r[0]} | ${r[1]} |`);
} finally {
  fx.cleanup();
}
