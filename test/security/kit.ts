// Shared pieces of the bad-input campaign's tests (issue 8): the fixed seed, the hostile arbitraries, the checks every
// decoder's answer must pass (a clear, bounded error that does not repeat a long hostile value; Object.prototype
// untouched) and a counter of what was tried. Holds no test itself.
import assert from 'node:assert/strict';
import fc from 'fast-check';

/** One seed for the whole campaign: a failure is reproduced by running the same file again. */
export const SEED = 20261123;

export const params = (numRuns: number) => ({ seed: SEED, numRuns, endOnFailure: true });

/** Counts inputs tried and refused inside fast-check properties, for the ledger (never a hard-coded number). */
export class Tally {
  tried = 0;
  refused = 0;
  crashes = 0;
  /** Counts one input; `refused` says whether the decoder refused it (true) or accepted it (false). */
  count(refused: boolean): void {
    this.tried++;
    if (refused) this.refused++;
  }
}

const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
const arrayPrototypeBefore = Object.getOwnPropertyNames(Array.prototype).sort();
const functionPrototypeBefore = Object.getOwnPropertyNames(Function.prototype).sort();

/** Object.prototype, Array.prototype and Function.prototype have exactly the properties they had when this file loaded. */
export function assertPrototypesClean(): void {
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeBefore, 'Object.prototype unchanged');
  assert.deepEqual(Object.getOwnPropertyNames(Array.prototype).sort(), arrayPrototypeBefore, 'Array.prototype unchanged');
  assert.deepEqual(Object.getOwnPropertyNames(Function.prototype).sort(), functionPrototypeBefore, 'Function.prototype unchanged');
  const probe = {} as Record<string, unknown>;
  for (const k of ['polluted', 'isAdmin', 'rule', 'priority', 'event_type', 'alert', 'format', 'files', 't']) assert.equal(probe[k], undefined, `({}).${k} is undefined`);
}

/** Longest run of a hostile value an error may repeat. */
export const MAX_ECHO = 64;

/** Fails when `message` repeats more than MAX_ECHO characters in a row of `hostile`. */
export function assertNoLongEcho(message: string, hostile: string): void {
  if (hostile.length <= MAX_ECHO) return;
  const s = hostile.slice(0, 4096);
  for (let i = 0; i + MAX_ECHO + 1 <= s.length; i += 7) {
    const window = s.slice(i, i + MAX_ECHO + 1);
    if (/^(.)\1*$/s.test(window)) continue; // a run of one character is no echo worth the name (and would match padding)
    if (message.includes(window)) assert.fail(`the error echoes ${MAX_ECHO + 1}+ characters of the input: ${JSON.stringify(window)}`);
  }
}

/** An error meant for a person: a non-empty sentence of bounded length. */
export function assertClearError(message: unknown, max = 2048): asserts message is string {
  assert.equal(typeof message, 'string', 'the error is a string');
  const m = message as string;
  assert.ok(m.length > 0 && m.length <= max, `a non-empty sentence of at most ${max} characters (${m.length}): ${m.slice(0, 300)}`);
}

/** A C0 or C1 control character, DEL, or a lone surrogate: what must never reach a terminal or a report raw. */
// eslint-disable-next-line no-control-regex
export const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

// --- arbitraries -----------------------------------------------------------------------------------------------------

/** Any UTF-16 code unit, lone surrogates included. */
export const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

export const anyString = fc.oneof(
  fc.string({ unit: codeUnit, maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  fc.string({ unit: 'binary', maxLength: 100 }),
);

/** Byte strings that are not valid UTF-8: stray continuation bytes, overlong forms, surrogates, cut sequences, 0xFE/0xFF. */
export const INVALID_UTF8: readonly Buffer[] = [
  [0x80], [0xbf], [0xc0, 0xaf], [0xc1, 0xbf], [0xe0, 0x80, 0xaf], [0xf0, 0x80, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xfe], [0xff], [0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc3, 0x28], [0x00],
].map((b) => Buffer.from(b));

/** Text with invalid UTF-8 bytes spliced into it at random places. */
export function invalidUtf8In(base: Buffer): fc.Arbitrary<Buffer> {
  return fc.array(fc.record({ at: fc.nat(), bad: fc.constantFrom(...INVALID_UTF8) }), { minLength: 1, maxLength: 4 }).map((cuts) => {
    let b = base;
    for (const { at, bad } of cuts) {
      const i = at % (b.length + 1);
      b = Buffer.concat([b.subarray(0, i), bad, b.subarray(i)]);
    }
    return b;
  });
}

export const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'toJSON', 'then', 'length'];

/** Values that break careless code: wrong types, objects whose toString is not a function, huge and odd numbers, markup. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom<unknown>(0, -1, 1.5, -0, 2 ** 53, 2 ** 64, 1e308, -1e308, '', null, true, false, [], {}, [null], 'x'.repeat(5000), '\ud800',
    { toString: 1 }, { valueOf: 1, toString: 1 }, { length: -1 }, { __proto__: null }, '<img src=x onerror=alert(1)>', '\x1b]52;c;aGk=\x07',
    '../../../../etc/passwd', '/etc/shadow', 'a\0b', '2026-13-45T25:61:61Z', '+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00Z',
    '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'),
  fc.string({ unit: codeUnit, minLength: 65, maxLength: 400 }),
);

/** Sets an own property even for '__proto__', as JSON.parse would create it. */
export function defineOwn(target: object, key: string | number, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Every path inside a value (the root is []). */
export function pathsOf(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (out.length > 2000) return out;
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...prefix, i], out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) pathsOf(v, [...prefix, k], out);
  return out;
}

function get(value: unknown, path: (string | number)[]): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], value);
}

export type Mutation =
  | { op: 'remove'; pick: number }
  | { op: 'replace'; pick: number; value: unknown }
  | { op: 'add'; pick: number; key: string; value: unknown };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('replace' as const), pick: fc.nat(), value: hostileValue }),
  fc.record({ op: fc.constant('add' as const), pick: fc.nat(), key: fc.oneof(fc.constantFrom(...HOSTILE_KEYS), fc.string({ maxLength: 20 })), value: hostileValue }),
);

/** `base` (a JSON value) with the mutations applied in place on a copy: fields removed, replaced by hostile values, or added. */
export function mutate<T>(base: T, mutations: readonly Mutation[]): T {
  const m = structuredClone(base) as unknown;
  for (const mu of mutations) {
    const paths = pathsOf(m);
    const path = paths[mu.pick % paths.length]!;
    if (mu.op === 'add') {
      const containers = paths.filter((p) => { const v = get(m, p); return v !== null && typeof v === 'object' && !Array.isArray(v); });
      if (containers.length === 0) continue;
      defineOwn(get(m, containers[mu.pick % containers.length]!) as object, mu.key, mu.value);
    } else if (path.length > 0) {
      const parent = get(m, path.slice(0, -1)) as Record<string | number, unknown> | unknown[];
      const key = path[path.length - 1]!;
      if (mu.op === 'remove') {
        if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else delete (parent as Record<string | number, unknown>)[key];
      } else defineOwn(parent, key, mu.value);
    }
  }
  return m as T;
}

/** A mutated copy of one of `bases`, serialised (objects whose toString is 1 serialise as {"toString":1}). */
export function mutatedJson(bases: readonly unknown[]): fc.Arbitrary<string> {
  return fc.record({ base: fc.constantFrom(...bases), mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }) })
    .map(({ base, mutations }) => JSON.stringify(mutate(base, mutations)));
}

/** Valid text cut short or with one character spliced in. */
export function damaged(bases: readonly string[]): fc.Arbitrary<string> {
  return fc.record({ base: fc.constantFrom(...bases), at: fc.nat(), insert: fc.oneof(fc.constant(''), codeUnit), cut: fc.boolean() }).map(({ base, at, insert, cut }) => {
    const i = at % (base.length + 1);
    return cut ? base.slice(0, i) : base.slice(0, i) + insert + base.slice(i);
  });
}

/** `levels` of nesting around `inner`: arrays or objects (JSON text, built without recursion). */
export function deepJson(levels: number, kind: 'array' | 'object', inner = '1'): string {
  return kind === 'array' ? '['.repeat(levels) + inner + ']'.repeat(levels) : '{"a":'.repeat(levels) + inner + '}'.repeat(levels);
}

/** JSON text with `__proto__`, `constructor` and `prototype` members at the top and inside `at` (a member of the top). */
export function pollutingVariants(base: Record<string, unknown>, inside: readonly string[] = []): string[] {
  const proto = '{"polluted":"yes","isAdmin":true,"rule":"x","priority":"Emergency","event_type":"alert","format":"cordon-package/1","t":"end"}';
  const text = JSON.stringify(base).slice(1, -1);
  const out = [
    `{"__proto__":${proto},${text}}`,
    `{${text},"constructor":{"prototype":${proto}}}`,
    `{${text},"prototype":${proto}}`,
    `{"__proto__":${JSON.stringify(base)}}`,
  ];
  for (const key of inside) {
    const v = base[key];
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const innerText = JSON.stringify(v).slice(1, -1);
      out.push(JSON.stringify({ ...base, [key]: 0 }).replace(`"${key}":0`, `"${key}":{"__proto__":${proto},"constructor":{"prototype":${proto}}${innerText ? `,${innerText}` : ''}}`));
    }
  }
  return out;
}
