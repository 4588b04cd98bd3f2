import { SessionLibvirt, ORACLE_SECRET_UUID } from './libvirt';
import { statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
const enc = (fmt: string, inner = '') => `<encryption format='${fmt}'><secret type='passphrase' uuid='${ORACLE_SECRET_UUID}'/>${inner}</encryption>`;
const vol = (name: string, target: string, cap = "<capacity unit='M'>20</capacity>", extra = '') => `<volume><name>${name}</name>${cap}${extra}<target>${target}</target></volume>`;
(async () => {
  const s = await SessionLibvirt.start();
  const b = s.backingDir;
  const cases: [string, string, string[]?][] = [
    ['rawnoalloc', vol('rawnoalloc', "<format type='raw'/>")],
    ['rawfull', vol('rawfull', "<format type='raw'/>", "<capacity unit='M'>20</capacity><allocation unit='M'>20</allocation>")],
    ['raw0', vol('raw0', "<format type='raw'/>", "<capacity unit='M'>20</capacity><allocation>0</allocation>")],
    ['lukspre', vol('lukspre', "<format type='raw'/>" + enc('luks'), "<capacity unit='M'>20</capacity><allocation>0</allocation>")],
    ['rawbig', vol('rawbig', "<format type='raw'/>", "<capacity unit='M'>20</capacity><allocation unit='M'>30</allocation>")],
  ];
  try {
    for (const [n, x, f] of cases) {
      let info = '';
      const r = await s.createVolumeRecorded(x, f ?? [], (p) => { const st = statSync(p); info = `size=${st.size} blocks=${st.blocks} mode=${(st.mode & 0o777).toString(8)} ` + execFileSync('qemu-img', ['info', '--output=json', '-U', p], { encoding: 'utf8' }).replace(/\s+/g, ' ').slice(0, 200); });
      console.log(`== ${n} ${r.ok ? 'OK' : 'FAIL ' + r.message} ${info}`);
      for (const a of r.runs) console.log('   ' + JSON.stringify(a).split(s.pool).join('POOL').split(b).join('BACK'));
    }
  } finally { await s.stop(); }
})();
