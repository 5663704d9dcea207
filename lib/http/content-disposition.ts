/**
 * The file name a Content-Disposition header gives, as a base name an application can safely join to a directory:
 * never a path, never `.` or `..`, never a thrown `URIError`.
 */
import { decodeLeniently } from './credential-url.js';

/**
 * The base name of the file a Content-Disposition header names, or undefined. `filename*=` (RFC 5987/8187:
 * `charset'lang'percent-encoded`) wins over `filename=` (quoted or a token, percent-escapes decoded as WeCom sends
 * them for non-ASCII names); a malformed escape such as `100%.png` is kept as it is.
 */
export function filenameOf(disposition: string): string | undefined {
  if (!disposition) return undefined;
  const params = parameters(`;${disposition}`);
  const extended = params.get('filename*');
  const plain = params.get('filename');
  const name = (extended !== undefined ? decodeExtended(extended) : undefined) ?? (plain !== undefined ? decodeLeniently(plain) : undefined);
  return name === undefined ? undefined : baseName(name);
}

/** The parameters of a header value (`attachment; filename="a;b.txt"; x=y`), names lower-cased, first one wins. */
function parameters(header: string): Map<string, string> {
  const params = new Map<string, string>();
  const pattern = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (let match = pattern.exec(header); match; match = pattern.exec(header)) {
    const name = match[1].toLowerCase();
    if (params.has(name)) continue;
    const value = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : match[3].trim();
    params.set(name, value);
  }
  return params;
}

/** `UTF-8''%E6%8A%A5.png` → `报.png`; ISO-8859-1 as bytes; undefined when it is not of that form. */
function decodeExtended(value: string): string | undefined {
  const match = /^([^']*)'[^']*'(.*)$/.exec(value);
  if (!match) return undefined;
  const charset = match[1].toLowerCase();
  const encoded = match[2];
  if (charset === 'iso-8859-1' || charset === 'latin1') {
    return encoded.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
  return decodeLeniently(encoded);
}

/** The last path segment, without control characters; undefined when nothing usable is left. */
function baseName(name: string): string | undefined {
  const segment = name.split(/[/\\]/).pop()!;
  // eslint-disable-next-line no-control-regex
  const last = segment.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return last === '' || last === '.' || last === '..' ? undefined : last;
}
