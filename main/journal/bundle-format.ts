// The journal bundle: one file that carries a journal (or a slice of it) to another machine, readable by any JSON-
// lines tool and verifiable on its own. UTF-8, one JSON value a line:
//
//   {"t":"cordon.journal.bundle","v":1,"scope":"full"|"slice","device":…,"origin":…,"createdAt":…,
//    "records":N,"keys":[{name,verifierKey,fingerprint,record}],"filter"?:{…}}
//   {"t":"checkpoint","size":…,"time":…,"note":"<C2SP signed note>"}          full: every checkpoint; slice: the one
//                                                                            the proofs lead to, last
//   {"h":"<chain hash, 64 hex>","r":<canonical record>}                     full: records 0…N-1, in order
//   {"i":<index>,"p":["<base64 sibling hash>",…],"r":<canonical record>}    slice: ascending index, with the
//                                                                            RFC 6962 inclusion proof
//   {"t":"end","records":N}
//
// "r" is always the last member and holds the record's canonical bytes verbatim (they are JSON), so a verifier
// hashes exactly the bytes that were signed, without re-encoding anything.
import { closeSync, openSync, readSync } from 'node:fs';
import type { EmbeddedKey } from './data-dir.ts';
import { JournalError } from './errors.ts';
import type { JournalQuery } from './query.ts';

export const BUNDLE_TYPE = 'cordon.journal.bundle';

export interface BundleHeader {
  t: typeof BUNDLE_TYPE;
  v: 1;
  scope: 'full' | 'slice';
  device: string;
  origin: string;
  createdAt: string;
  records: number;
  keys: EmbeddedKey[];
  filter?: Omit<JournalQuery, 'limit' | 'before'>;
}

export type BundleItem =
  | { type: 'checkpoint'; line: number; size: number; time: number; note: string }
  | { type: 'record'; line: number; hash: Buffer; bytes: Buffer }
  | { type: 'proved'; line: number; index: number; proof: Buffer[]; bytes: Buffer }
  | { type: 'end'; line: number; records: number };

const FULL_PREFIX = Buffer.from('{"h":"');
const FULL_R = Buffer.from('","r":');
const SLICE_R = Buffer.from(',"r":');

export function fullRecordLine(hash: Uint8Array, bytes: Uint8Array): Buffer {
  return Buffer.concat([FULL_PREFIX, Buffer.from(Buffer.from(hash).toString('hex')), FULL_R, bytes, Buffer.from('}\n')]);
}

export function slicedRecordLine(index: number, proof: readonly Uint8Array[], bytes: Uint8Array): Buffer {
  const head = `{"i":${index},"p":${JSON.stringify(proof.map((p) => Buffer.from(p).toString('base64')))}`;
  return Buffer.concat([Buffer.from(head), SLICE_R, bytes, Buffer.from('}\n')]);
}

function bad(line: number, why: string): JournalError {
  return new JournalError('bad_bundle', `Line ${line} of the bundle ${why}.`);
}

/** Streams a bundle file: the header, then each item. Throws `bad_bundle` naming the line that cannot be read. */
export function* readBundle(path: string): Generator<BundleHeader | BundleItem> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new JournalError('bad_bundle', `Cannot open the bundle ${path} (${err instanceof Error ? err.message : String(err)}).`, { cause: err });
  }
  try {
    let line = 0;
    let header: BundleHeader | undefined;
    for (const raw of lines(fd)) {
      line++;
      if (!header) {
        const h = parse(raw, line) as Partial<BundleHeader> | null;
        if (!isObject(h) || h.t !== BUNDLE_TYPE || h.v !== 1) throw bad(line, `is not a ${BUNDLE_TYPE} header (version 1)`);
        if ((h.scope !== 'full' && h.scope !== 'slice') || typeof h.device !== 'string' || typeof h.origin !== 'string' || !Number.isSafeInteger(h.records) || !Array.isArray(h.keys)) {
          throw bad(line, 'is a header without scope, device, origin, records and keys');
        }
        // The header is not signed: what the import keeps of it (the device, the slice's filter) must be small and flat.
        if (h.device.length === 0 || h.device.length > 256 || h.origin.length > 1024 || h.records! < 0 || !h.keys.every(isObject)) {
          throw bad(line, 'is a header whose device, origin, record count or keys are out of bounds');
        }
        if (h.filter !== undefined && !isFlatFilter(h.filter)) throw bad(line, 'is a header whose slice filter is not a flat set of fields');
        header = h as BundleHeader;
        yield header;
        continue;
      }
      if (raw.subarray(0, FULL_PREFIX.length).equals(FULL_PREFIX)) {
        const at = FULL_PREFIX.length + 64;
        // Hex decoding stops at the first character that is not hex: 32 bytes means 64 hex digits.
        const hash = Buffer.from(raw.subarray(FULL_PREFIX.length, at).toString('latin1'), 'hex');
        if (hash.length !== 32 || !raw.subarray(at, at + FULL_R.length).equals(FULL_R) || raw[raw.length - 1] !== 0x7d) throw bad(line, 'is not a record line');
        yield { type: 'record', line, hash, bytes: raw.subarray(at + FULL_R.length, raw.length - 1) };
      } else if (raw.subarray(0, 5).toString('latin1') === '{"i":') {
        // Base64 has no ':' so the first `,"r":` ends the proof; the record follows verbatim.
        const at = raw.indexOf(SLICE_R);
        if (at < 0 || raw[raw.length - 1] !== 0x7d) throw bad(line, 'is not a proved record line');
        const head = parse(Buffer.concat([raw.subarray(0, at), Buffer.from('}')]), line) as { i?: unknown; p?: unknown };
        if (!Number.isSafeInteger(head.i) || !Array.isArray(head.p) || head.p.some((x) => typeof x !== 'string')) throw bad(line, 'has no index and proof');
        const proof = (head.p as string[]).map((b) => Buffer.from(b, 'base64'));
        if (proof.some((p) => p.length !== 32)) throw bad(line, 'has a proof hash that is not 32 bytes');
        yield { type: 'proved', line, index: head.i as number, proof, bytes: raw.subarray(at + SLICE_R.length, raw.length - 1) };
      } else {
        const v = parse(raw, line) as { t?: string; size?: unknown; time?: unknown; note?: unknown; records?: unknown } | null;
        if (!isObject(v)) throw bad(line, 'is neither a checkpoint, a record nor the end');
        if (v.t === 'checkpoint' && Number.isSafeInteger(v.size) && typeof v.time === 'number' && typeof v.note === 'string') {
          yield { type: 'checkpoint', line, size: v.size as number, time: v.time, note: v.note };
        } else if (v.t === 'end' && Number.isSafeInteger(v.records)) {
          yield { type: 'end', line, records: v.records as number };
        } else throw bad(line, 'is neither a checkpoint, a record nor the end');
      }
    }
    if (!header) throw new JournalError('bad_bundle', `${path} is empty: it is not a journal bundle.`);
  } finally {
    closeSync(fd);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A slice filter as exportBundle writes one: fields whose values are strings, numbers or short lists of them. */
function isFlatFilter(v: unknown): boolean {
  if (!isObject(v)) return false;
  const scalar = (x: unknown) => (typeof x === 'string' && x.length <= 1024) || (typeof x === 'number' && Number.isFinite(x));
  const entries = Object.entries(v);
  return entries.length <= 32 && entries.every(([k, x]) => k.length <= 64 && (scalar(x) || (Array.isArray(x) && x.length <= 1000 && x.every(scalar))));
}

function parse(raw: Buffer, line: number): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw bad(line, 'is not JSON');
  }
}

/** Lines of a file without their newline, read 4 MiB at a time; a last line without newline is still a line. */
function* lines(fd: number): Generator<Buffer> {
  const CHUNK = 4 * 1024 * 1024;
  let carry = Buffer.alloc(0);
  let position = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(CHUNK);
    const n = readSync(fd, chunk, 0, CHUNK, position);
    position += n;
    if (n === 0) break;
    const buf = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
    let start = 0;
    for (let nl = buf.indexOf(0x0a, start); nl >= 0; nl = buf.indexOf(0x0a, start)) {
      yield buf.subarray(start, nl);
      start = nl + 1;
    }
    carry = Buffer.from(buf.subarray(start));
  }
  if (carry.length > 0) yield carry;
}
