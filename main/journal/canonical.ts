// Canonical JSON for journal records: RFC 8785 (JSON Canonicalization Scheme), so the same record always hashes to
// the same bytes on any machine and any later implementation can rebuild them from a parsed record.
//
// RFC 8785 in short: no whitespace; object members sorted by their names compared as UTF-16 code units; strings
// escaped as ECMAScript's JSON.stringify does; numbers as ECMAScript's Number#toString (so -0 is 0); only finite
// numbers. That is exactly JSON.stringify over an object whose keys were inserted in sorted order, except that V8
// lists integer-like keys ("1", "42") first in numeric order whatever the insertion order: such objects take a
// slower path that writes members one by one.
import { JournalError } from './errors.ts';

/** The RFC 8785 text of a JSON value. Throws `invalid_record` for what JSON cannot carry (NaN, functions, cycles). */
export function canonicalJson(value: unknown): string {
  const state = { integerKeys: false, depth: 0 };
  let sorted: unknown;
  try {
    sorted = sortedCopy(value, state);
  } catch (err) {
    // Walk again, slowly, only to say where the problem is.
    if (err instanceof JournalError) findInvalid(value, '$', 0);
    throw err;
  }
  return state.integerKeys ? writeSlow(value) : JSON.stringify(sorted);
}

function findInvalid(v: unknown, path: string, depth: number): void {
  if (depth > MAX_DEPTH) throw invalid(`${path} is nested deeper than ${MAX_DEPTH} levels`);
  if (typeof v === 'number' && !Number.isFinite(v)) throw invalid(`${path} is ${v}, which JSON cannot carry`);
  if (typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') throw invalid(`${path} holds a ${typeof v}, which JSON cannot carry`);
  if (v === null || typeof v !== 'object') return;
  if (Array.isArray(v)) {
    v.forEach((x, i) => findInvalid(x, `${path}[${i}]`, depth + 1));
    return;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) throw invalid(`${path} is a ${proto?.constructor?.name ?? 'non-plain object'}, not a JSON object`);
  for (const k of Object.keys(v)) findInvalid((v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1);
}

const MAX_DEPTH = 64;

function sortedCopy(v: unknown, state: { integerKeys: boolean; depth: number }): unknown {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      if (!Number.isFinite(v)) throw invalid('a number is not finite');
      return v;
    case 'object': {
      if (v === null) return null;
      if (++state.depth > MAX_DEPTH) throw invalid('it is nested too deep');
      // A subtree already in canonical order is used as it is (JSON.stringify keeps own-key order): records the
      // journal builds itself, and many small objects of an event, cost a check instead of a copy.
      let out: unknown;
      if (Array.isArray(v)) {
        let arr: unknown[] | undefined;
        for (let i = 0; i < v.length; i++) {
          const x: unknown = v[i];
          const y = x === undefined ? null : sortedCopy(x, state);
          if (arr === undefined && y !== x) arr = v.slice(0, i);
          if (arr !== undefined) arr.push(y);
        }
        out = arr ?? v;
      } else {
        const proto = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) throw invalid('an object is not a plain JSON object');
        const keys = Object.keys(v);
        let inOrder = true;
        for (let i = 0; i < keys.length; i++) {
          const c = keys[i]!.charCodeAt(0);
          if (c >= 48 && c <= 57) state.integerKeys = true;
          if (i > 0 && keys[i - 1]! > keys[i]!) inOrder = false;
        }
        const src = v as Record<string, unknown>;
        if (inOrder) {
          let copy: Record<string, unknown> | undefined;
          for (let i = 0; i < keys.length; i++) {
            const k = keys[i]!;
            const x = src[k];
            const y = x === undefined ? undefined : sortedCopy(x, state);
            if (copy === undefined && y !== x) {
              copy = {};
              for (let j = 0; j < i; j++) put(copy, keys[j]!, src[keys[j]!]);
            }
            if (copy !== undefined && y !== undefined) put(copy, k, y);
          }
          out = copy ?? v;
        } else {
          keys.sort();
          const obj: Record<string, unknown> = {};
          for (const k of keys) {
            const x = src[k];
            if (x !== undefined) put(obj, k, sortedCopy(x, state));
          }
          out = obj;
        }
      }
      state.depth--;
      return out;
    }
    default:
      throw invalid(`a value is a ${typeof v}`);
  }
}

/**
 * Sets a member of a copy. A member named "__proto__" (JSON.parse makes it an own member; an agent or a guest log
 * can send one) would otherwise set the copy's prototype and vanish from the record.
 */
function put(obj: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
  else obj[k] = v;
}

/** Member by member, for objects with integer-like keys (validated already by sortedCopy). */
function writeSlow(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : writeSlow(x))).join(',')}]`;
  const keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${writeSlow((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

function invalid(what: string): JournalError {
  return new JournalError('invalid_record', `The record cannot be journaled: ${what}.`);
}
