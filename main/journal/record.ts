// What one journal record is, and its canonical bytes: the unit that is hash-chained, put in the Merkle tree,
// exported, imported and verified.
//
// Canonical bytes = RFC 8785 (JCS) JSON of the record object, UTF-8 (see canonical.ts). Members:
//   index     journal-wide position, from 0
//   time      milliseconds since the epoch on the cockpit's clock when it was journaled (an imported record keeps
//             the time it had on its own device)
//   kind      event | action | console | settings | policy | custody | log | journal
//   agentId?, vmId?, actor? {name, role?, cockpit?}, severity?  — what queries filter on
//   body      a JSON object, by kind (see entries.ts)
//   origin?   {device, record, leaf, key?} — set when the record came from another device's journal: that device,
//             the record's index there, its RFC 6962 leaf hash there (hex) and the fingerprint of the key that
//             signed it there. ("record", not "index": the top-level index is then the last `,"index":` in the
//             bytes, which lets a verifier read it without parsing.)
//   via?      {device, record} — the device a re-imported record passed through, when that is not its origin
import type { Actor, Severity } from '../../protocol/index.ts';
import { canonicalJson } from './canonical.ts';
import { JournalError } from './errors.ts';

export const JOURNAL_KINDS = ['event', 'action', 'console', 'settings', 'policy', 'custody', 'log', 'journal'] as const;
export type JournalKind = (typeof JOURNAL_KINDS)[number];
export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const satisfies readonly Severity[];

/** Largest canonical record: a console recording is referenced by its hash, never carried in a record. */
export const MAX_RECORD_BYTES = 1024 * 1024;
const MAX_ID = 256;

export type JsonObject = { [key: string]: unknown };

export interface RecordOrigin {
  device: string;
  record: number;
  leaf: string;
  key?: string;
}

export interface JournalRecord {
  index: number;
  time: number;
  kind: JournalKind;
  agentId?: string;
  vmId?: string;
  actor?: Actor;
  severity?: Severity;
  body: JsonObject;
  origin?: RecordOrigin;
  via?: { device: string; record: number };
}

/** What a caller hands the journal; it assigns the index (and the time, unless given). */
export interface JournalEntry {
  kind: JournalKind;
  time?: number;
  agentId?: string;
  vmId?: string;
  actor?: Actor;
  severity?: Severity;
  body: JsonObject;
}

/** A record as read back: the record, its canonical bytes' chain hash (hex), and where it came from. */
export interface StoredRecord {
  record: JournalRecord;
  /** SHA-256(previous hash || canonical bytes), hex. */
  hash: string;
}

const KIND_SET = new Set<string>(JOURNAL_KINDS);
const SEVERITY_SET = new Set<string>(SEVERITIES);

export function kindCode(kind: JournalKind): number {
  return JOURNAL_KINDS.indexOf(kind);
}

/** 0 when absent, 1 (info) to 5 (critical). */
export function severityCode(severity: Severity | undefined): number {
  return severity === undefined ? 0 : SEVERITIES.indexOf(severity) + 1;
}

/** Builds the record for an entry, checking what a caller may get wrong; throws `invalid_record` with the reason. */
export function recordFromEntry(entry: JournalEntry, index: number, now: number): JournalRecord {
  const e = entry as Partial<JournalEntry> | null;
  if (!e || typeof e !== 'object') throw invalid('an entry is an object with a kind and a body');
  if (typeof e.kind !== 'string' || !KIND_SET.has(e.kind)) throw invalid(`"${String(e.kind)}" is not a journal kind (${JOURNAL_KINDS.join(', ')})`);
  const time = e.time ?? now;
  if (!Number.isSafeInteger(time) || time < 0) throw invalid(`time ${String(time)} is not milliseconds since the epoch`);
  if (!e.body || typeof e.body !== 'object' || Array.isArray(e.body)) throw invalid('the body is a JSON object');
  if (e.actor !== undefined && (!e.actor || typeof e.actor.name !== 'string' || e.actor.name.length === 0)) throw invalid('an actor has a name');
  if (e.severity !== undefined && !SEVERITY_SET.has(e.severity)) throw invalid(`"${String(e.severity)}" is not a severity (${SEVERITIES.join(', ')})`);
  // Members in canonical (name) order, so encoding checks this object instead of copying it.
  const rec = {} as JournalRecord;
  if (e.actor !== undefined) rec.actor = e.actor;
  if (e.agentId !== undefined) rec.agentId = id('agentId', e.agentId);
  rec.body = e.body;
  rec.index = index;
  rec.kind = e.kind;
  if (e.severity !== undefined) rec.severity = e.severity;
  rec.time = time;
  if (e.vmId !== undefined) rec.vmId = id('vmId', e.vmId);
  return rec;
}

function id(name: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_ID) throw invalid(`${name} is a string of 1 to ${MAX_ID} characters`);
  return v;
}

/** The canonical bytes of a record. */
export function encodeRecord(rec: JournalRecord): Buffer {
  return Buffer.from(encodeRecordText(rec), 'utf8');
}

/** The canonical text of a record, for writers that encode it into their own buffer; checks the size limit. */
export function encodeRecordText(rec: JournalRecord): string {
  const text = canonicalJson(rec);
  // UTF-8 takes 1 to 3 bytes per UTF-16 unit: only a long text needs its exact length counted.
  if (text.length * 3 > MAX_RECORD_BYTES) {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > MAX_RECORD_BYTES) throw invalid(`it is ${bytes} bytes once encoded; the limit is ${MAX_RECORD_BYTES}`);
  }
  return text;
}

/** Parses and checks canonical bytes from disk or from another device; throws `invalid_record` naming the problem. */
export function decodeRecord(bytes: Uint8Array): JournalRecord {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw invalid('its bytes are not JSON');
  }
  const r = v as Partial<JournalRecord> | null;
  if (!r || typeof r !== 'object' || Array.isArray(r)) throw invalid('it is not a JSON object');
  if (!Number.isSafeInteger(r.index) || r.index! < 0) throw invalid('it has no index');
  const rec = recordFromEntry(r as JournalEntry, r.index!, 0);
  if (r.time === undefined) throw invalid('it has no time');
  const known = new Set(['index', 'time', 'kind', 'agentId', 'vmId', 'actor', 'severity', 'body', 'origin', 'via']);
  for (const k of Object.keys(r)) if (!known.has(k)) throw invalid(`it has an unknown member "${k}"`);
  if (r.origin !== undefined) {
    const o = r.origin;
    if (!o || typeof o.device !== 'string' || !Number.isSafeInteger(o.record) || typeof o.leaf !== 'string' || !/^[0-9a-f]{64}$/.test(o.leaf) || (o.key !== undefined && typeof o.key !== 'string')) {
      throw invalid('its origin is not {device, record, leaf, key?}');
    }
    rec.origin = o;
  }
  if (r.via !== undefined) {
    if (!r.via || typeof r.via.device !== 'string' || !Number.isSafeInteger(r.via.record)) throw invalid('its via is not {device, record}');
    rec.via = r.via;
  }
  return rec;
}

/**
 * The index written in canonical bytes, read without parsing: JCS puts members in name order, and every member after
 * "index" (kind, origin, severity, time, via, vmId) holds no member named "index", so the top-level one is the last
 * `,"index":` (a quote inside a string is always escaped). -1 when there is none.
 */
export function indexInBytes(bytes: Buffer): number {
  const at = bytes.lastIndexOf(INDEX_MARK);
  if (at < 0) return -1;
  let n = 0;
  let i = at + INDEX_MARK.length;
  const start = i;
  for (; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  return i === start || i - start > 16 ? -1 : n;
}

const INDEX_MARK = Buffer.from(',"index":');

function invalid(why: string): JournalError {
  return new JournalError('invalid_record', `The record cannot be journaled: ${why}.`);
}
