// String helpers shared by validation and quick fixes. Pure, no imports.

/** Levenshtein distance (small strings: enum values, element and attribute names). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length];
}

/**
 * The candidate closest to `value`, ignoring case (so a case-only difference wins), when it is
 * close enough to be a typo: at most max(2, half the length of `value`) edits. Ties go to the
 * earlier candidate. For "did you mean" data on enum misses.
 */
export function nearest(value: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const v = value.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(v, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(value.length / 2)) ? best : undefined;
}

/**
 * A Map key for up to six optional strings, different for any two different lists (each value is
 * written with its length, a missing one as '-'): for remembering pure verdicts on a few values.
 */
export function valuesKey(a?: string, b?: string, c?: string, d?: string, e?: string, f?: string): string {
  return part(a) + part(b) + part(c) + part(d) + part(e) + part(f);
}
const part = (v: string | undefined): string => (v === undefined ? '-' : v.length + ':' + v);
