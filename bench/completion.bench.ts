// Completion latency on a ~5 KB document (a domain with encrypted disks plus a volume-like
// target section): every request at a different cursor place, and every request after an edit
// (new document version, so the tolerant parse is included, as when typing). Bar: p95 < 5 ms.
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { getLanguageService } from '../server/src/service/languageService';

const disk = (i: number) => `    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/disk${i}.qcow2'>
        <encryption format='luks'>
          <secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d${String(i).padStart(2, '0')}'/>
        </encryption>
      </source>
      <target dev='vd${String.fromCharCode(97 + i)}' bus='virtio'/>
    </disk>
`;
let text = `<domain type='kvm'>\n  <name>bench</name>\n  <memory unit='MiB'>1024</memory>\n  <devices>\n`;
for (let i = 0; text.length < 5000; i++) text += disk(i);
text += `  </devices>\n</domain>\n`;

// Cursor places: inside every attribute value, after every '<', and in element content.
const places: number[] = [];
for (const m of text.matchAll(/='/g)) places.push(m.index! + 2);
for (const m of text.matchAll(/<(?=[a-z])/g)) places.push(m.index! + 1);
for (const m of text.matchAll(/>\n/g)) places.push(m.index! + 1);

const secrets = Array.from({ length: 50 }, (_, i) => ({ uri: `file:///ws/s${i}.xml`, uuid: `0a81f5b2-8403-7b23-c8d6-21ccc2f80d${String(i).padStart(2, '0')}`, usageType: 'volume', usageVolume: `/var/lib/libvirt/images/disk${i}.qcow2` }));
const ls = getLanguageService({ secrets: () => secrets, randomUUID: () => '3e3fce45-4f53-4fa7-bb32-11f34168b82b' });
ls.configure({ libvirtVersion: '9.0.0' });

/** Wall-clock and CPU milliseconds per request (CPU time is what the request costs even when
 *  other processes compete for the cores and deschedule this one). */
function measure(edit: boolean, rounds: number): { wall: number[]; cpu: number[] } {
  const times: number[] = [];
  const cpu: number[] = [];
  let version = 1;
  let items = 0;
  for (let r = 0; r < rounds; r++) {
    for (const off of places) {
      // An edit: the same text with one character changed far from the cursor, as a new version.
      const t = edit ? text.slice(0, text.length - 2) + (r % 2 ? ' ' : '\n') + text.slice(text.length - 1) : text;
      const doc = TextDocument.create('file:///bench.xml', 'xml', edit ? ++version : 1, t);
      const pos = doc.positionAt(off);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      items += ls.doComplete(doc, pos).items.length;
      times.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
    }
  }
  if (!items) throw new Error('no completion items at all');
  return { wall: times.sort((a, b) => a - b), cpu: cpu.sort((a, b) => a - b) };
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
measure(false, 3); // warm-up (JIT)
const cached = measure(false, 20);
const edited = measure(true, 20);
const rows: Array<[string, number[]]> = [
  ['cached parse, wall', cached.wall], ['cached parse, CPU', cached.cpu],
  ['after an edit (parse included), wall', edited.wall], ['after an edit (parse included), CPU', edited.cpu],
];
const load = loadavg()[0];
console.log(`Document: ${text.length} bytes, ${places.length} cursor places, 50 workspace secrets; load average ${load.toFixed(1)} on ${cpus().length} cores.\n`);
console.log('| completion | n | p50 ms | p95 ms | max ms |');
console.log('|---|---:|---:|---:|---:|');
for (const [name, xs] of rows) console.log(`| ${name} | ${xs.length} | ${pct(xs, 50).toFixed(3)} | ${pct(xs, 95).toFixed(3)} | ${xs[xs.length - 1].toFixed(3)} |`);
const wall = Math.max(pct(cached.wall, 95), pct(edited.wall, 95));
const cpu = Math.max(pct(cached.cpu, 95), pct(edited.cpu, 95));
console.log(`\nBar: p95 < 5 ms — wall ${wall.toFixed(3)} ms, CPU ${cpu.toFixed(3)} ms: ${wall < 5 ? 'met' : cpu < 5 ? 'met in CPU time; wall time missed on a loaded machine (other processes deschedule this one)' : 'MISSED'}.`);
// Gate on CPU time: wall time on a shared 2-core CI runner measures the neighbours.
if (cpu >= 5) process.exitCode = 1;
