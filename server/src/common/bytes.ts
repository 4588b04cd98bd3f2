// Byte counts as text: the one formatter for messages and progress, and qemu-img's own size text
// for `info`-style output; and the big-endian integers of on-disk headers (qcow2, LUKS1). Pure, no
// imports: every layer (schemas/ too) may use it.

const IEC = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** Binary size with the largest whole IEC unit (messages, progress): `3 TiB`, `1.50 KiB`, `12.5 MiB`. */
export function formatBytes(n: number | bigint): string {
  let v = typeof n === 'bigint' ? n : BigInt(Math.trunc(n));
  let i = 0;
  const whole = v;
  while (i < IEC.length - 1 && v >= 1024n) {
    v /= 1024n;
    i++;
  }
  if (i === 0) return `${whole} B`;
  const exact = whole === v * 1024n ** BigInt(i);
  const f = Number(whole) / 1024 ** i;
  return `${exact ? v.toString() : f.toFixed(f < 10 ? 2 : 1)} ${IEC[i]}`;
}

/**
 * qemu-img info's size text (qemu util/cutils.c size_to_str): the unit steps up once the value
 * reaches 1000 of the current one, and the number has three significant digits (`%0.3g`):
 * `999 B`, `0.977 KiB`, `1.5 GiB`.
 */
export function qemuSizeText(n: number | bigint): string {
  const val = Number(n);
  // frexp(val / (1000 / 1024)) exponent e, then (e - 1) / 10: the binary unit index.
  const scaled = val / (1000 / 1024);
  const e = scaled > 0 ? Math.floor(Math.log2(scaled)) + 1 : 0;
  const i = Math.min(Math.max(Math.trunc((e - 1) / 10), 0), IEC.length - 1);
  return `${threeDigits(val / 2 ** (i * 10))} ${IEC[i]}`;
}

/**
 * printf's `%0.3g` for the values size_to_str prints: three significant digits, trailing zeros
 * dropped, an exact tie rounded to even as glibc does (976.5 → 976; toPrecision would say 977).
 * x is a byte count over a power of two, so x × 10^k below is exact and a tie shows as .5.
 */
function threeDigits(x: number): string {
  if (x === 0) return '0';
  const scale = 10 ** (2 - Math.floor(Math.log10(x)));
  const y = x * scale;
  const f = Math.floor(y);
  const r = y - f > 0.5 || (y - f === 0.5 && f % 2 === 1) ? f + 1 : f;
  return String(r / scale);
}

/** Big-endian u32 at `o` (qcow2 and LUKS1 headers are big-endian). */
export function be32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3];
}

/** Big-endian u64 at `o` as a number: exact below 2^53 (Number.isSafeInteger tells). */
export function be64(b: Uint8Array, o: number): number {
  return be32(b, o) * 2 ** 32 + be32(b, o + 4);
}
