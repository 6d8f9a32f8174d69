// Syslog messages as they arrive from the network or sit in a host's log files, made into log entries: RFC 5424
// first, then the BSD format of RFC 3164 (what most appliances and older daemons still send), then the plain lines of
// /var/log/syslog (traditional or RFC 3339 timestamps, no PRI). Anything else is refused with a reason, never thrown.
import type { LogEntry } from './store.ts';

export interface ParsedSyslog {
  /** RFC 5424 severity (0–7) and facility (0–23), from PRI. */
  severity?: number;
  facility?: number;
  /** The sender's timestamp as it wrote it, made into milliseconds; undefined if absent or not a time. */
  time?: number;
  host?: string;
  app?: string;
  procid?: string;
  msgid?: string;
  structuredData?: string;
  message: string;
  format: 'rfc5424' | 'rfc3164' | 'file';
}

export type SyslogParse = { ok: true; value: ParsedSyslog } | { ok: false; reason: string };

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const RFC3164_TIME = /^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) (\d\d):(\d\d):(\d\d) /;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/;
const TAG = /^([^\s:[\]]{1,48})(?:\[([^\]\s]{1,128})\])?:\s?/;

/** One syslog message from the network (a UDP datagram, or a TCP frame). `now` dates an RFC 3164 time without a year. */
export function parseSyslog(text: string, now = Date.now()): SyslogParse {
  const pri = /^<(\d{1,3})>/.exec(text);
  if (!pri) return { ok: false, reason: 'it does not start with a <PRI> (RFC 5424 §6.2.1, RFC 3164 §4.1.1)' };
  const value = Number(pri[1]);
  if (value > 191 || (pri[1]!.length > 1 && pri[1]!.startsWith('0'))) return { ok: false, reason: `its PRI <${pri[1]}> is not one (0–191, no leading zero)` };
  const facility = value >> 3;
  const severity = value & 7;
  const rest = text.slice(pri[0].length);
  if (/^1 /.test(rest)) {
    const parsed = parse5424(rest.slice(2));
    if (!parsed.ok) return parsed;
    return { ok: true, value: { ...parsed.value, severity, facility } };
  }
  return { ok: true, value: { ...parse3164(rest, now), severity, facility } };
}

/** HEADER after "1 ": TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]. */
function parse5424(s: string): SyslogParse {
  const fields: string[] = [];
  let pos = 0;
  for (let i = 0; i < 5; i++) {
    const sp = s.indexOf(' ', pos);
    if (sp < 0) return { ok: false, reason: 'its RFC 5424 header ends before MSGID' };
    fields.push(s.slice(pos, sp));
    pos = sp + 1;
  }
  const [timestamp, host, app, procid, msgid] = fields as [string, string, string, string, string];
  if ([host, app, procid, msgid].some((f) => f.length === 0 || /[^\x21-\x7e]/.test(f))) {
    return { ok: false, reason: 'an RFC 5424 header field is empty or not printable US-ASCII' };
  }
  if (host.length > 255 || app.length > 48 || procid.length > 128 || msgid.length > 32) return { ok: false, reason: 'an RFC 5424 header field is over its length' };
  let time: number | undefined;
  if (timestamp !== '-') {
    time = RFC3339.test(timestamp) ? Date.parse(timestamp) : NaN;
    // The pattern alone lets through a 13th month or a 61st minute, which Date.parse makes NaN.
    if (!Number.isFinite(time)) return { ok: false, reason: 'its RFC 5424 TIMESTAMP is not RFC 3339' };
  }
  const sd = structuredData(s, pos);
  if (sd === undefined) return { ok: false, reason: 'its RFC 5424 STRUCTURED-DATA is malformed' };
  let message = s.slice(sd.end);
  if (message.startsWith(' ')) message = message.slice(1);
  else if (message.length > 0) return { ok: false, reason: 'no space between STRUCTURED-DATA and MSG' };
  if (message.startsWith('\ufeff')) message = message.slice(1); // the BOM RFC 5424 puts before a UTF-8 MSG
  const out: ParsedSyslog = { message: trimEnd(message), format: 'rfc5424' };
  if (time !== undefined) out.time = time;
  if (host !== '-') out.host = host;
  if (app !== '-') out.app = app;
  if (procid !== '-') out.procid = procid;
  if (msgid !== '-') out.msgid = msgid;
  if (sd.text !== '-') out.structuredData = sd.text;
  return { ok: true, value: out };
}

/** STRUCTURED-DATA from `pos`: "-" or one or more [SD-ID *(SP PARAM="value")], values with \" \\ \] escapes. */
function structuredData(s: string, pos: number): { text: string; end: number } | undefined {
  if (s[pos] === '-') return { text: '-', end: pos + 1 };
  if (s[pos] !== '[') return undefined;
  let i = pos;
  while (s[i] === '[') {
    i++;
    let inValue = false;
    for (;;) {
      if (i >= s.length) return undefined;
      const c = s[i]!;
      if (inValue) {
        if (c === '\\') i += 2;
        else {
          if (c === '"') inValue = false;
          i++;
        }
        continue;
      }
      if (c === '"') inValue = true;
      else if (c === ']') {
        i++;
        break;
      }
      i++;
    }
  }
  return { text: s.slice(pos, i), end: i };
}

/** BSD syslog after PRI: [TIMESTAMP HOSTNAME] TAG[pid]: MSG. Lenient, as RFC 3164 §4.3 asks of a relay. */
function parse3164(s: string, now: number): ParsedSyslog {
  const out: ParsedSyslog = { message: '', format: 'rfc3164' };
  let rest = s;
  const t = RFC3164_TIME.exec(rest);
  if (t) {
    out.time = bsdTime(t, now);
    rest = rest.slice(t[0].length);
    const host = /^([^\s:[\]]+) /.exec(rest);
    // A hostname is followed by a tag; "sshd[12]: x" right after the time is a tag without a hostname.
    if (host && !/[:[]/.test(host[1]!)) {
      out.host = host[1]!.slice(0, 255);
      rest = rest.slice(host[0].length);
    }
  } else {
    const iso = /^(\d{4}-\d\d-\d\dT\S+) (\S+) /.exec(rest);
    const t = iso && RFC3339.test(iso[1]!) ? Date.parse(iso[1]!) : NaN;
    if (iso && Number.isFinite(t)) {
      out.time = t;
      out.host = iso[2]!.slice(0, 255);
      rest = rest.slice(iso[0].length);
    }
  }
  const tag = TAG.exec(rest);
  if (tag) {
    out.app = tag[1]!;
    if (tag[2]) out.procid = tag[2];
    rest = rest.slice(tag[0].length);
  }
  out.message = trimEnd(rest);
  return out;
}

/** A line of a host's log file: `Nov 23 10:14:03 host app[pid]: msg`, or with an RFC 3339 time (rsyslog's default now). */
export function parseSyslogFileLine(line: string, now = Date.now()): ParsedSyslog {
  const parsed = line.startsWith('<') ? parseSyslog(line, now) : undefined;
  if (parsed?.ok) return parsed.value;
  return { ...parse3164(line, now), format: 'file' };
}

/** Turns a parsed message into a store entry of source `syslog`. */
export function syslogEntry(p: ParsedSyslog, extra: { origin?: string; vmId?: string } = {}): LogEntry {
  const e: LogEntry = { source: 'syslog', message: p.message };
  for (const k of ['time', 'severity', 'facility', 'host', 'app', 'procid', 'msgid', 'structuredData'] as const) {
    const v = p[k];
    if (v !== undefined) (e as unknown as Record<string, unknown>)[k] = v;
  }
  if (extra.origin) e.origin = extra.origin;
  if (extra.vmId) e.vmId = extra.vmId;
  return e;
}

/** An RFC 3164 time has no year and no zone: the sender's local time is taken as UTC, in the year that puts it nearest now. */
function bsdTime(m: RegExpExecArray, now: number): number {
  const month = MONTHS.indexOf(m[1]!);
  const day = Number(m[2]!.trim());
  const year = new Date(now).getUTCFullYear();
  let t = Date.UTC(year, month, day, Number(m[3]), Number(m[4]), Number(m[5]));
  if (t > now + 31 * 86_400_000) t = Date.UTC(year - 1, month, day, Number(m[3]), Number(m[4]), Number(m[5]));
  return t;
}

function trimEnd(s: string): string {
  return s.replace(/[\r\n\0]+$/, '');
}
