// A guest's terminal output is hostile input: these are the rules the console holds it to, as pure functions the
// terminal (terminal.ts) calls and plain Node tests check.
//
// - Window titles (OSC 0/2) are shown as text in the tab, clipped, with every control character made visible.
// - Clipboard writes and reads (OSC 52) are refused, and the refusal is shown (xterm itself has no OSC 52; the
//   clipboard addon, which would act on it, is not used).
// - Hyperlinks (OSC 8) open only if they pass the allowlist (https, no credentials, no hidden characters), and only
//   after the responder read the whole address in a confirmation. Default deny.
// - Palette changes (OSC 4/10/11/12) are refused: a guest must not paint text in the background's colour to hide
//   it from the responder; the colour queries are still answered.
import { clip, hasInvisible, visible } from '../../text/visible.ts';

/** What a tab shows of a title: clipped, then made visible (ESC → ␛). */
export function titleText(raw: string, max = 60): string {
  return visible(clip(raw, max));
}

/** The most of a title kept at all (the pane shows up to this; the tab less). */
export const TITLE_KEEP = 512;

// ── OSC 52 ─────────────────────────────────────────────────────────────────────────────────────────────────

export interface ClipboardAttempt {
  /** 'read' asks for the responder's clipboard ("?"); 'write' sets it. */
  kind: 'read' | 'write';
  /** The selections named (c clipboard, p primary, s…), as sent, clipped. */
  targets: string;
  /** How many bytes it tried to write (estimated from the base64). */
  bytes: number;
}

/** What an OSC 52 payload ("Pc;Pd") tried to do. */
export function clipboardAttempt(data: string): ClipboardAttempt {
  const semi = data.indexOf(';');
  const targets = semi < 0 ? '' : data.slice(0, semi);
  const payload = semi < 0 ? data : data.slice(semi + 1);
  if (payload === '?') return { kind: 'read', targets: visible(clip(targets, 16)), bytes: 0 };
  const base64 = payload.replace(/[^A-Za-z0-9+/]/g, '');
  return { kind: 'write', targets: visible(clip(targets, 16)), bytes: Math.floor((base64.length * 3) / 4) };
}

export function clipboardSentence(a: ClipboardAttempt): string {
  return a.kind === 'read'
    ? 'The guest asked to read your clipboard (OSC 52): refused.'
    : `The guest tried to write ${a.bytes} byte${a.bytes === 1 ? '' : 's'} to your clipboard (OSC 52): refused.`;
}

// ── OSC 8 hyperlinks ───────────────────────────────────────────────────────────────────────────────────────

/** The only schemes a console link may have. */
export const LINK_SCHEMES: readonly string[] = ['https:'];
export const MAX_LINK_LENGTH = 2048;

export type LinkVerdict =
  | { ok: true; href: string; host: string }
  | { ok: false; why: string };

/** Whether a link from the guest may be offered at all, and as what (the parser's own form of it: the host in
 *  punycode, so a look-alike IDN reads as xn--…). */
export function linkVerdict(uri: string): LinkVerdict {
  if (uri.length > MAX_LINK_LENGTH) return { ok: false, why: `The address is longer than ${MAX_LINK_LENGTH} characters.` };
  // The URL parser drops tabs and newlines and trims spaces: refuse them rather than show one address and open another.
  if (hasInvisible(uri) || /\s/.test(uri)) return { ok: false, why: 'The address carries hidden or blank characters.' };
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return { ok: false, why: 'The address is not a URL.' };
  }
  if (!LINK_SCHEMES.includes(url.protocol)) return { ok: false, why: `Only ${LINK_SCHEMES.map((s) => s.slice(0, -1)).join(', ')} links open from a console; this one is ${visible(clip(url.protocol, 32))}.` };
  if (url.username !== '' || url.password !== '') return { ok: false, why: 'The address carries a user name or password.' };
  if (url.hostname === '') return { ok: false, why: 'The address names no host.' };
  return { ok: true, href: url.href, host: url.hostname };
}

// ── palette ───────────────────────────────────────────────────────────────────────────────────────────────

/** Whether an OSC 4/10/11/12 payload only asks for colours ("?"), which xterm may answer; anything else sets one. */
export function onlyAsksColours(ident: number, data: string): boolean {
  const parts = data.split(';');
  // OSC 4 is index;spec pairs; OSC 10-12 are specs (one each for 10, 11, 12… in turn).
  const specs = ident === 4 ? parts.filter((_, i) => i % 2 === 1) : parts;
  return specs.length > 0 && specs.every((s) => s === '?');
}
