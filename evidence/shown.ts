// Text from a package (a manifest's paths and names, a custody entry's fields, a parser's complaint about them) as it
// may be shown to a person: in a finding, on a terminal, in a report. A package is evidence of an attack and may be
// forged, so whatever it says is data: control characters (ESC and the terminal sequences it starts, CR, BEL, NUL),
// lone surrogates and the invisible bidirectional controls are written as escapes, a value that is not a string is
// named by its type, and a long value is cut. The result is inert on any terminal and reads as what the file holds.

/** C0 and C1 controls, DEL, bidi embeddings/overrides/isolates, zero-width marks, lone surrogates. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escape(c: string): string {
  const code = c.charCodeAt(0);
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `value` as inert text of at most `max` characters (plus an ellipsis when cut); never throws. */
export function shown(value: unknown, max = 200): string {
  let s: string;
  if (typeof value === 'string') s = value;
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') s = String(value);
  else if (value === null) s = 'null';
  else if (value === undefined) s = '(none)';
  else s = Array.isArray(value) ? '(a list)' : '(an object)';
  // Cut first (a few times over, escapes lengthen), then escape, then cut again to the bound.
  const cut = s.length > max * 4 ? s.slice(0, max * 4) : s;
  const out = cut.replace(UNSAFE, escape);
  if (out.length <= max && cut.length === s.length) return out;
  return `${out.slice(0, max).replace(/[\ud800-\udbff]$/, '')}…`;
}
