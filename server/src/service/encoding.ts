// The text of an XML file's bytes as libvirt sees it. libvirt reads a document whole into a C
// string (virFileReadAll) and hands it to libxml2 (virXMLParseHelper, src/util/virxml.c): the text
// ends at the first NUL byte, so a UTF-16 file never parses ("Start tag expected, '<' not found"
// for a little-endian one with its byte order mark, as `virsh vol-create` says), and bytes that
// are not UTF-8 stop libxml2 with "Input is not proper UTF-8, indicate encoding !" unless the XML
// declaration names another encoding. Pure: the caller reads the file.

export interface DecodedXml {
  /** The text (invalid sequences as U+FFFD) for positions and the rest of the checks. */
  text: string;
  /** libxml2's fatal error for these bytes, at an offset into `text`. */
  error?: { offset: number; message: string };
}

const hex = (b: number) => '0x' + b.toString(16).toUpperCase().padStart(2, '0');

/** Index of the first byte that does not start a valid UTF-8 sequence (RFC 3629), or -1. */
function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length;) {
    const c = b[i];
    let n: number, min: number;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      min = 0x10000;
    } else return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const x = b[i + k];
      if (x === undefined || (x & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (x & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

/** Bytes `\s` matches at the start of the latin1 head below (tab, LF, VT, FF, CR, space, NBSP). */
const isHeadSpace = (c: number) => (c >= 9 && c <= 13) || c === 32 || c === 0xa0;

/** Encoding named by a leading XML declaration, lower case, if any. */
function declaredEncoding(b: Uint8Array): string | undefined {
  // Most files have no declaration: decide that from the first bytes, without building the head.
  let k = 0;
  while (k < b.length && k < 200 && isHeadSpace(b[k])) k++;
  if (b[k] !== 0x3c || b[k + 1] !== 0x3f) return undefined; // not `<?`
  const head = String.fromCharCode(...b.subarray(0, Math.min(b.length, 200)));
  return /^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head)?.[1].toLowerCase();
}

const STRICT_UTF8 = new TextDecoder('utf-8', { ignoreBOM: true, fatal: true });
const LENIENT_UTF8 = new TextDecoder('utf-8', { ignoreBOM: true });

export function decodeXmlBytes(bytes: Uint8Array): DecodedXml {
  const utf16 =
    (bytes[0] === 0xff && bytes[1] === 0xfe) ||
    (bytes[0] === 0xfe && bytes[1] === 0xff) ||
    (bytes[0] === 0x3c && bytes[1] === 0x00) ||
    (bytes[0] === 0x00 && bytes[1] === 0x3c);
  if (utf16) {
    const le = bytes[0] === 0xff || bytes[1] === 0x00;
    const text = new TextDecoder(le ? 'utf-16le' : 'utf-16be').decode(bytes);
    // What libxml2 gets is the bytes before the first NUL: nothing for big-endian text, one
    // character for little-endian ('<' or the byte order mark's first bytes).
    const message = le ? "Start tag expected, '<' not found" : 'Document is empty';
    const why = 'UTF-16 text: libvirt reads the file up to its first NUL byte; save it as UTF-8';
    return { text, error: { offset: 0, message: `${message} (${why})` } };
  }
  const enc = declaredEncoding(bytes);
  if (enc === 'iso-8859-1' || enc === 'latin1') {
    return { text: new TextDecoder('latin1').decode(bytes) };
  }
  // The native strict decoder refuses exactly what firstInvalidUtf8 finds (WHATWG's UTF-8 decoder:
  // no overlong forms, surrogates or code points past U+10FFFF), so valid files take one native
  // pass and only invalid ones pay for the JavaScript scan that finds the offset.
  try {
    return { text: STRICT_UTF8.decode(bytes) };
  } catch {
    // not UTF-8: located below
  }
  const text = LENIENT_UTF8.decode(bytes);
  const bad = firstInvalidUtf8(bytes);
  if (bad < 0) return { text };
  const shown = Array.from(bytes.subarray(bad, bad + 4), hex).join(' ');
  return {
    text,
    error: {
      offset: LENIENT_UTF8.decode(bytes.subarray(0, bad)).length,
      message: `Input is not proper UTF-8, indicate encoding ! Bytes: ${shown}`,
    },
  };
}
