// Makes attacker-controlled text safe to look at, not just safe to render. React already renders every string as
// text (never markup); this also makes invisible characters visible, because a guest chooses its process names,
// command lines and paths: an ESC sequence, a newline that hides a second command, a right-to-left override
// that turns "gpj.exe" into "exe.jpg", a zero-width space in a domain, "ASCII smuggling" in Unicode tags.
//
// C0 controls become their Control Pictures (ESC → ␛, LF → ␊, TAB → ␉), DEL becomes ␡, and every other
// control, format or separator character, and any lone surrogate, becomes ⟨U+XXXX⟩. `visible` gives that as one
// string (for attributes and <option>s); `visibleParts` splits it so the UI can draw each such character as a
// labelled chip ("ESC", "U+202E"), legible whatever fonts the machine has: few ship the Control Pictures.

const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
const INVISIBLE_ALL = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu;

const C0_NAMES = ['NUL', 'SOH', 'STX', 'ETX', 'EOT', 'ENQ', 'ACK', 'BEL', 'BS', 'HT', 'LF', 'VT', 'FF', 'CR', 'SO', 'SI',
  'DLE', 'DC1', 'DC2', 'DC3', 'DC4', 'NAK', 'SYN', 'ETB', 'CAN', 'EM', 'SUB', 'ESC', 'FS', 'GS', 'RS', 'US'];

/** A run of ordinary text, or one character made visible: `picture` is what it reads as (␛, ⟨U+202E⟩), `name` a
 *  short label (ESC, U+202E). */
export type VisiblePart = string | { picture: string; name: string };

/** The short label of an invisible character. */
export function controlName(ch: string): string {
  const code = ch.codePointAt(0)!;
  if (code < 0x20) return C0_NAMES[code]!;
  if (code === 0x7f) return 'DEL';
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** The text split into ordinary runs and made-visible characters; [text] itself when there is none. */
export function visibleParts(text: string): VisiblePart[] {
  if (!INVISIBLE.test(text)) return [text];
  const parts: VisiblePart[] = [];
  let last = 0;
  for (const m of text.matchAll(INVISIBLE_ALL)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push({ picture: picture(m[0]), name: controlName(m[0]) });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

function picture(ch: string): string {
  const code = ch.codePointAt(0)!;
  if (code < 0x20) return String.fromCharCode(0x2400 + code);
  if (code === 0x7f) return '\u2421';
  return `⟨U+${code.toString(16).toUpperCase().padStart(4, '0')}⟩`;
}

/** The text with every invisible or control character shown. Returns the same string when there is none. */
export function visible(text: string): string {
  if (!INVISIBLE.test(text)) return text;
  return text.replace(INVISIBLE_ALL, picture);
}

/** Whether the text carries characters `visible` would reveal (the detail pane says so). */
export function hasInvisible(text: string): boolean {
  return INVISIBLE.test(text);
}

/** At most `max` UTF-16 units of the text, with an ellipsis when cut, never splitting a surrogate pair. The full
 *  value is in the detail pane. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

/** For a table cell: clipped, then made visible. */
export function cellText(text: string | undefined, max = 240): string {
  if (text === undefined || text === '') return '';
  return visible(clip(text, max));
}
