// What a query can find in a record: the exact keys (kind, severity, agent, VM, actor) and the words of its free
// text, each reduced to a 32-bit key for the segment indexes. A key may collide with another; every candidate is
// checked against the record itself before it is returned, so a collision costs a read, never a wrong answer.
//
// Free text is every string in the record (and the integers that name a process or a port: pid, ppid, *Port),
// except times and provenance: what a responder would type (a process name, an address, a hash, a technique id).
// Words are runs of letters, digits and '_', lower-cased; a query's words must all be words of the record, and a
// "quoted phrase" must also appear as written (case-insensitive).
import type { JournalRecord } from './record.ts';

export const KEY_KIND = 1;
export const KEY_SEVERITY = 2;
export const KEY_AGENT = 3;
export const KEY_VM = 4;
export const KEY_ACTOR = 5;
export const KEY_WORD = 6;

const SKIPPED = new Set(['time', 'at', 'receivedAt', 'requestedAt', 'startedAt', 'finishedAt', 'expiresAt', 'origin', 'via', 'index']);
const NUMBER_WORDS = new Set(['pid', 'ppid', 'port', 'localPort', 'remotePort', 'code']);
const WORD_SPLIT = /[^\p{L}\p{N}_]+/u;
/** Longer words (base64 blobs) are still searchable by their first characters plus the phrase check. */
const MAX_WORD = 96;

/** FNV-1a over the key type and the UTF-16 code units of the value: fast, and good enough with verification. */
export function keyHash(type: number, value: string): number {
  let h = (0x811c9dc5 ^ type) >>> 0;
  h = Math.imul(h, 0x01000193);
  for (let i = 0; i < value.length; i++) {
    h ^= value.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function words(text: string): string[] {
  const out: string[] = [];
  for (const w of text.toLowerCase().split(WORD_SPLIT)) if (w.length > 0) out.push(w.length > MAX_WORD ? w.slice(0, MAX_WORD) : w);
  return out;
}

/** The searchable strings of a record, in a stable order. */
export function searchTexts(rec: JournalRecord): string[] {
  const out: string[] = [];
  eachText(rec, (t) => out.push(t));
  return out;
}

/** Calls `onText` with each searchable string of a record: the one definition of what free text covers. */
function eachText(rec: JournalRecord, onText: (text: string) => void): void {
  onText(rec.kind);
  if (rec.severity) onText(rec.severity);
  if (rec.agentId) onText(rec.agentId);
  if (rec.vmId) onText(rec.vmId);
  if (rec.actor) collect(rec.actor, onText, '');
  collect(rec.body, onText, '');
}

function collect(v: unknown, onText: (text: string) => void, key: string): void {
  if (typeof v === 'string') onText(v);
  else if (typeof v === 'number') {
    if (NUMBER_WORDS.has(key) && Number.isInteger(v)) onText(String(v));
  } else if (Array.isArray(v)) {
    for (const x of v) collect(x, onText, key);
  } else if (v && typeof v === 'object') {
    for (const k in v) if (!SKIPPED.has(k)) collect((v as Record<string, unknown>)[k], onText, k);
  }
}

/**
 * A growable list of keys in a typed array: keys are 32-bit unsigned, which a JS array would box one by one (a heap
 * number each, ~50 a record) — garbage the append path cannot afford. Reused from record to record.
 */
export class KeyList {
  keys = new Uint32Array(1024);
  length = 0;

  push(k: number): void {
    if (this.length === this.keys.length) {
      const bigger = new Uint32Array(this.keys.length * 2);
      bigger.set(this.keys);
      this.keys = bigger;
    }
    this.keys[this.length++] = k;
  }

  toArray(): number[] {
    return Array.from(this.keys.subarray(0, this.length));
  }
}

/** Every key of a record into `out`, after what it holds (duplicates possible; the index builder drops them). */
export function recordKeys(rec: JournalRecord, out: KeyList = new KeyList()): KeyList {
  out.push(keyHash(KEY_KIND, rec.kind));
  if (rec.severity) out.push(keyHash(KEY_SEVERITY, rec.severity));
  if (rec.agentId) out.push(keyHash(KEY_AGENT, rec.agentId));
  if (rec.vmId) out.push(keyHash(KEY_VM, rec.vmId));
  if (rec.actor) out.push(keyHash(KEY_ACTOR, rec.actor.name));
  eachText(rec, (t) => {
    if (!asciiWordKeys(t, out)) for (const w of words(t)) out.push(keyHash(KEY_WORD, w));
  });
  return out;
}

const WORD_SEED = Math.imul((0x811c9dc5 ^ KEY_WORD) >>> 0, 0x01000193);

/**
 * The word keys of an ASCII string in one pass, hashing each lower-cased word as it is read, without making the
 * words: what words() + keyHash() give, at a fraction of the cost (this runs on every string of every record).
 * Returns false, having added nothing, for a string with a non-ASCII character (Unicode rules apply there).
 */
function asciiWordKeys(text: string, out: KeyList): boolean {
  const start = out.length;
  let h = WORD_SEED;
  let len = 0;
  for (let i = 0; i <= text.length; i++) {
    let c = i < text.length ? text.charCodeAt(i) : 32;
    if (c >= 128) {
      out.length = start;
      return false;
    }
    const upper = c >= 65 && c <= 90;
    if (upper || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95) {
      if (upper) c += 32;
      if (len++ < MAX_WORD) {
        h ^= c;
        h = Math.imul(h, 0x01000193);
      }
    } else if (len > 0) {
      out.push(h >>> 0);
      h = WORD_SEED;
      len = 0;
    }
  }
  return true;
}

export interface TextQuery {
  words: string[];
  phrases: string[];
}

/** `curl "203.0.113.66:443"` → words curl, 203, 0, 113, 66, 443 and the phrase 203.0.113.66:443. */
export function parseTextQuery(text: string): TextQuery {
  const phrases: string[] = [];
  const rest = text.replace(/"([^"]*)"/g, (_m, p: string) => {
    if (p.trim().length > 0) phrases.push(p.toLowerCase());
    return ` ${p} `;
  });
  return { words: [...new Set(words(rest.replace(/"/g, ' ')))], phrases };
}

export function matchesText(rec: JournalRecord, q: TextQuery): boolean {
  const texts = searchTexts(rec);
  if (q.words.length > 0) {
    const have = new Set<string>();
    for (const t of texts) for (const w of words(t)) have.add(w);
    for (const w of q.words) if (!have.has(w)) return false;
  }
  if (q.phrases.length > 0) {
    const joined = texts.join('\n').toLowerCase();
    for (const p of q.phrases) if (!joined.includes(p)) return false;
  }
  return true;
}
