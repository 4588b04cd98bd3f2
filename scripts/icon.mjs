// Draws media/icon.png (128×128 RGBA, the marketplace icon): a storage volume (a disk cylinder)
// with a padlock for LUKS, on the extension's blue. Shapes are signed-distance tests sampled 4×4 per
// pixel (anti-aliased); the PNG is encoded here (IHDR, one IDAT, IEND; RFC 2083) so the icon can be
// redrawn on any machine with Node alone: `node scripts/icon.mjs`.
import { writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const SIZE = 128;
const hex = (h) => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
const BG = hex('#1d4f7c'), DISK = hex('#e6edf5'), TOP = hex('#ffffff'), BAND = hex('#9fb3c8'), LOCK = hex('#f2b705'),
  HOLE = hex('#5a4300');

const roundRect = (x, y, x0, y0, x1, y1, r) => {
  const qx = Math.max(x0 + r - x, 0, x - (x1 - r)), qy = Math.max(y0 + r - y, 0, y - (y1 - r));
  return Math.hypot(qx, qy) <= r;
};
const ellipse = (x, y, cx, cy, rx, ry) => ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1;

/** Colour at a sample point: later layers paint over earlier ones; undefined is transparent. */
function colour(x, y) {
  let c;
  if (roundRect(x, y, 0, 0, SIZE, SIZE, 22)) c = BG;
  // The volume: a cylinder (body + bottom ellipse), two bands, a lit top.
  const cx = 56, top = 30, bottom = 90, rx = 34, ry = 11;
  if ((x >= cx - rx && x <= cx + rx && y >= top && y <= bottom) || ellipse(x, y, cx, bottom, rx, ry)) c = DISK;
  for (const b of [50, 70]) {
    if (x >= cx - rx && x <= cx + rx && ellipse(x, y, cx, b, rx, ry) && !ellipse(x, y, cx, b - 3, rx, ry)) c = BAND;
  }
  if (ellipse(x, y, cx, top, rx, ry)) c = TOP;
  if (ellipse(x, y, cx, top, rx, ry) && !ellipse(x, y, cx, top, rx - 2.5, ry - 2.5)) c = BAND;
  // The padlock: shackle (a half ring) and body with a keyhole.
  const lx = 94, ly = 88;
  const d = Math.hypot(x - lx, y - ly);
  if (y <= ly && d >= 8 && d <= 13.5) c = LOCK;
  if (y > ly && y <= ly + 4 && ((x >= lx - 13.5 && x <= lx - 8) || (x >= lx + 8 && x <= lx + 13.5))) c = LOCK;
  if (roundRect(x, y, lx - 19, ly + 2, lx + 19, ly + 30, 5)) c = LOCK;
  if (ellipse(x, y, lx, ly + 13, 4, 4) || (x >= lx - 1.8 && x <= lx + 1.8 && y >= ly + 13 && y <= ly + 23)) c = HOLE;
  return c;
}

const rows = [];
for (let py = 0; py < SIZE; py++) {
  const row = Buffer.alloc(1 + SIZE * 4); // filter byte 0 (None)
  for (let px = 0; px < SIZE; px++) {
    let r = 0, g = 0, b = 0, a = 0;
    for (let sy = 0; sy < 4; sy++) for (let sx = 0; sx < 4; sx++) {
      const c = colour(px + (sx + 0.5) / 4, py + (sy + 0.5) / 4);
      if (c) { r += c[0]; g += c[1]; b += c[2]; a++; }
    }
    const o = 1 + px * 4;
    if (a) { row[o] = Math.round(r / a); row[o + 1] = Math.round(g / a); row[o + 2] = Math.round(b / a); }
    row[o + 3] = Math.round((a / 16) * 255);
  }
  rows.push(row);
}

const CRC = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (buf) => {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type, data) => {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
};
const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(SIZE, 0); ihdr.writeUInt32BE(SIZE, 4);
ihdr[8] = 8; ihdr[9] = 6; // 8 bits, RGBA
const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
  chunk('IDAT', deflateSync(Buffer.concat(rows), { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'media', 'icon.png');
writeFileSync(out, png);
console.log(`${out}: ${png.length} bytes`);
