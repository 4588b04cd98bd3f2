// qemu's option strings (`-o a=b,c=d`, `--object secret,id=s0,...`), as QemuOpts reads and
// writes them (qemu util/qemu-option.c). Pure, no imports.

export interface QemuOpt {
  name: string;
  value: string;
}

/**
 * Splits a QemuOpts string like get_opt_name_value does: `,` separates, `,,` is a literal comma
 * (in names and values), a bare name means `on`, a trailing comma ends the list. With `firstName`
 * (e.g. `qom-type` for `--object`), a bare first part is that option's value, as qemu's implied
 * first option.
 */
export function splitQemuOptions(s: string, firstName?: string): QemuOpt[] {
  const out: QemuOpt[] = [];
  let i = 0;
  const readUntil = (stops: string): string => {
    let v = '';
    while (i < s.length) {
      const c = s[i];
      if (c === ',' && s[i + 1] === ',') {
        v += ',';
        i += 2;
        continue;
      }
      if (stops.includes(c)) break;
      v += c;
      i++;
    }
    return v;
  };
  while (i < s.length) {
    const name = readUntil('=,');
    if (s[i] === '=') {
      i++;
      out.push({ name, value: readUntil(',') });
    } else if (firstName !== undefined && !out.length) {
      out.push({ name: firstName, value: name });
    } else {
      out.push({ name, value: 'on' });
    }
    if (s[i] === ',') i++;
  }
  return out;
}

/** A value as qemu prints it into an option string (escaped_print): commas doubled. */
export function escapeQemuOptValue(v: string): string {
  return v.replace(/,/g, ',,');
}
