// Property-based fuzzing of the decoders with fast-check: whatever arrives on a socket, a decoder returns a value
// that really is valid cordon.v1 or an error with a known code and a short sentence; it never throws, never
// echoes a long hostile value and never pollutes Object.prototype. Fixed seed, bounded runs: quick and repeatable.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_TEXT_FRAME_BYTES } from '../../protocol/index.ts';
import { anyString, codeUnit, mutate, type Mutation } from '../security/kit.ts';
import { DECODERS, EXAMPLES, ROOTS, example, freshRoot, freshValidator, type Root } from './examples.ts';
import { record } from '../security/campaign.ts';

const SEED = 20261123;
const RUNS = 150;
const KNOWN_CODES = new Set(['bad_json', 'bad_message', 'unknown_type', 'too_large']);
/** The message types each entry point knows (the snapshot has no type); any other string type is unknown_type. */
const KNOWN_TYPES: Record<Root, readonly string[] | undefined> = {
  agent: ['hello', 'subscribed', 'event', 'gap', 'inventory', 'vm', 'vm.removed', 'error', 'action.accepted', 'action.rejected',
    'action.progress', 'action.result', 'logs.result', 'policy.accepted', 'policy.current', 'console.opened', 'console.closed', 'inspect.result',
    'evidence.captures', 'evidence.sending', 'evidence.sent', 'evidence.sanitised', 'approval.pending', 'approval.decided'],
  client: ['subscribe', 'error', 'action', 'logs.query', 'policy.set', 'console.open', 'console.resize', 'console.pause', 'console.resume', 'console.close', 'inspect',
    'evidence.list', 'evidence.pull', 'evidence.ack', 'evidence.cancel', 'evidence.sanitise', 'approval.decide'],
  push: ['events', 'agents', 'vms', 'action', 'console', 'console.closed', 'evidence'],
  snapshot: undefined,
  shell: ['call', 'reply', 'push'],
};
/** Longest run of a hostile value an error message may repeat (a field name is quoted up to 64 characters). */
const MAX_ECHO = 64;

const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
const arrayPrototypeBefore = Object.getOwnPropertyNames(Array.prototype).sort();

function assertPrototypesClean(): void {
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeBefore, 'Object.prototype unchanged');
  assert.deepEqual(Object.getOwnPropertyNames(Array.prototype).sort(), arrayPrototypeBefore, 'Array.prototype unchanged');
  const probe = {} as Record<string, unknown>;
  for (const k of ['polluted', 'isAdmin', 'type', 'seq']) assert.equal(probe[k], undefined, `({}).${k} is undefined`);
}

function byteLength(text: string): number {
  return new TextEncoder().encode(text).byteLength;
}

/** Every string (values and keys) in a parsed JSON value, without recursion (values may be 10,000 levels deep). */
function stringsIn(value: unknown): string[] {
  const out: string[] = [];
  const stack: unknown[] = [value];
  while (stack.length > 0 && out.length < 10_000) {
    const v = stack.pop();
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) stack.push(...v);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        out.push(k);
        stack.push(x);
      }
    }
  }
  return out;
}

function assertNoLongEcho(message: string, hostile: string): void {
  if (hostile.length <= MAX_ECHO) return;
  const s = hostile.slice(0, 8192);
  for (let i = 0; i + MAX_ECHO + 1 <= s.length; i++) {
    const window = s.slice(i, i + MAX_ECHO + 1);
    if (message.includes(window)) assert.fail(`the error echoes ${MAX_ECHO + 1}+ characters of the input: ${JSON.stringify(window)}`);
  }
}

/**
 * Decodes `text` at one entry point and checks the contract: no throw; ok → a value a fresh ajv from the schema
 * files accepts and that is what the text says; not ok → a well-formed error that agrees with the fresh ajv.
 */
/** What the campaign's ledger records: inputs tried and refused per entry point, since the last `ledger()`. */
const tally = { tried: 0, refused: 0 };

const TARGETS: Record<Root, string> = {
  agent: 'protocol: agent message (cockpit side)',
  client: 'protocol: client message (agent side)',
  push: 'cockpit API: push (renderer side)',
  snapshot: 'cockpit API: snapshot (renderer side)',
  shell: 'cockpit API: browser-shell message',
};

/** Records the inputs tried since the last call, as one case per entry point (each input went to every decoder). */
function ledger(kind: string, outcome: string): void {
  const perRoot = { tried: Math.round(tally.tried / ROOTS.length), refused: Math.round(tally.refused / ROOTS.length) };
  for (const root of ROOTS) record({ campaign: 'bad-input', target: TARGETS[root], kind, tried: perRoot.tried, refused: perRoot.refused, crashes: 0, outcome });
  tally.tried = 0;
  tally.refused = 0;
}

function assertDecodesSafely(root: Root, text: string, maxBytes = MAX_TEXT_FRAME_BYTES): void {
  const r = DECODERS[root](text, maxBytes);
  tally.tried++;
  if (!r.ok) tally.refused++;
  let parsed: unknown;
  let parses = true;
  try {
    parsed = JSON.parse(text);
  } catch {
    parses = false;
  }
  const tooLarge = byteLength(text) > maxBytes;
  if (r.ok) {
    assert.ok(!tooLarge && parses, 'only a JSON frame within the limit is accepted');
    assert.ok(freshRoot(root)(r.value), `accepted by ${root} but not by a fresh ajv: ${text.slice(0, 200)}`);
    return;
  }
  const e = r.error;
  assert.equal(e.type, 'error');
  assert.ok(KNOWN_CODES.has(e.code), `known code: ${e.code}`);
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 0 && e.message.length < 2048, 'a non-empty sentence under 2048 characters');
  assert.ok(freshValidator('wire/error.schema.json')(e), `the error is itself valid cordon.v1: ${JSON.stringify(e).slice(0, 300)}`);
  const expected = tooLarge ? 'too_large' : !parses ? 'bad_json' : undefined;
  if (expected) assert.equal(e.code, expected);
  else {
    assert.equal(freshRoot(root)(parsed), false, `rejected by ${root} but a fresh ajv accepts: ${text.slice(0, 200)}`);
    const type = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as { type?: unknown }).type : undefined;
    const known = KNOWN_TYPES[root];
    const unknown = known !== undefined && typeof type === 'string' && [...type].length <= 64 && !known.includes(type);
    assert.equal(e.code, unknown ? 'unknown_type' : 'bad_message', `code for a type of ${typeof type}`);
  }
  assertNoLongEcho(e.message, text);
  if (parses && !tooLarge) for (const s of stringsIn(parsed)) assertNoLongEcho(e.message, s);
}

function assertEveryDecoderSafe(text: string): void {
  for (const root of ROOTS) assertDecodesSafely(root, text);
}

const params = (runs = RUNS) => ({ seed: SEED, numRuns: runs, endOnFailure: true });

// --- arbitraries ---------------------------------------------------------------------------------------------------


const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'type', 'seq', 'id'];
const hostileKey = fc.oneof(fc.constantFrom(...HOSTILE_KEYS), fc.string({ unit: codeUnit, maxLength: 80 }));
const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(0, -1, 1.5, -0, 2 ** 53, 2 ** 53 - 1, 2 ** 64, 1e308, '', null, true, [], {}, 'x'.repeat(5000), '\ud800',
    '<img src=x onerror=alert(1)>', '2026-13-45T25:61:61Z', 'T9999.999', 'AA:BB:CC:DD:EE:FF'),
  fc.string({ unit: codeUnit, minLength: 65, maxLength: 400 }),
);

/** The type values that matter: every known one, a reserved one, and noise. */
const typeValue = fc.oneof(
  fc.constantFrom('hello', 'subscribe', 'subscribed', 'event', 'gap', 'inventory', 'vm', 'vm.removed', 'error', 'events',
    'agents', 'vms', 'call', 'reply', 'push', 'action', 'action.accepted', 'action.rejected', 'action.progress', 'action.result',
    'console.open', '__proto__', 'constructor', ''),
  fc.jsonValue({ maxDepth: 1 }),
);

const exampleValues = EXAMPLES.map((e) => example(e.file));

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('replace' as const), pick: fc.nat(), value: hostileValue }),
  fc.record({ op: fc.constant('add' as const), pick: fc.nat(), key: hostileKey, value: hostileValue }),
);

/** A valid example with a few fields removed, replaced or added, serialised as a peer would send it. */
const mutatedExample = fc.record({
  base: fc.constantFrom(...exampleValues),
  mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
}).map(({ base, mutations }) => JSON.stringify(mutate(base, mutations)));

/** Objects of protocol-like keys with arbitrary values: reaches deeper into each union member than noise does. */
const messageLike = fc.record({
  type: typeValue,
  rest: fc.dictionary(
    fc.constantFrom('id', 'seq', 'since', 'latestSeq', 'oldestSeq', 'event', 'vm', 'vms', 'vmId', 'from', 'to', 'reason',
      'code', 'message', 'ref', 'events', 'agents', 'agentId', 'full', 'removed', 'method', 'params', 'ok', 'result',
      'error', 'push', 'protocol', 'agent', 'hypervisor', 'capabilities', 'actions', 'time', 'requestId', 'kind', 'actor',
      'step', 'fraction', 'at', 'state', 'details', 'startedAt', 'finishedAt', 'replayed', 'action'),
    fc.jsonValue({ maxDepth: 3 }),
    { maxKeys: 8 },
  ),
}).map(({ type, rest }) => JSON.stringify({ type, ...rest }));

/** Valid frames cut short or with one character spliced in. */
const damagedFrame = fc.record({
  base: fc.constantFrom(...exampleValues.map((v) => JSON.stringify(v))),
  at: fc.nat(),
  insert: fc.oneof(fc.constant(''), codeUnit),
  cut: fc.boolean(),
}).map(({ base, at, insert, cut }) => {
  const i = at % (base.length + 1);
  return cut ? base.slice(0, i) : base.slice(0, i) + insert + base.slice(i);
});

// --- properties ------------------------------------------------------------------------------------------------------

describe('decoder fuzzing (fast-check)', () => {
  after(assertPrototypesClean);

  test('arbitrary strings, lone surrogates included, never crash a decoder', () => {
    fc.assert(fc.property(anyString, assertEveryDecoderSafe), params(300));
    ledger('random strings (lone surrogates included)', 'Each refused with bad_json or judged as the schema judges it; no throw, no long echo.');
  });

  test('arbitrary JSON text (fc.json) gives a schema-valid value or a clean error', () => {
    fc.assert(fc.property(fc.json({ maxDepth: 4 }), assertEveryDecoderSafe), params());
    fc.assert(fc.property(fc.json({ maxDepth: 3, stringUnit: 'binary' }), assertEveryDecoderSafe), params());
    ledger('random JSON text', 'A schema-valid value or a known code with a sentence under 2048 characters.');
  });

  test('arbitrary JSON values (fc.jsonValue), serialised, give a schema-valid value or a clean error', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => assertEveryDecoderSafe(JSON.stringify(v))), params());
    ledger('random JSON values', 'A schema-valid value or a known code with a sentence; agrees with a fresh ajv.');
  });

  test('protocol-shaped objects with arbitrary values are judged exactly as the schemas judge them', () => {
    fc.assert(fc.property(messageLike, assertEveryDecoderSafe), params(400));
    ledger('protocol-shaped objects with arbitrary values', 'Judged exactly as the schemas judge them (unknown_type or bad_message).');
  });

  test('valid examples with fields removed, replaced or added are judged exactly as the schemas judge them', () => {
    fc.assert(fc.property(mutatedExample, assertEveryDecoderSafe), params(400));
    assertPrototypesClean();
    ledger('valid examples with fields removed, replaced or added', 'Judged as the schemas judge them; hostile keys pollute nothing.');
  });

  test('valid frames cut short or with a character spliced in', () => {
    fc.assert(fc.property(damagedFrame, assertEveryDecoderSafe), params());
    ledger('valid frames cut short or with a character spliced in', 'bad_json, or judged as the schema judges them.');
  });

  test('a small size limit is enforced before parsing, whatever the text', () => {
    fc.assert(fc.property(anyString, fc.integer({ min: 0, max: 64 }), (text, max) => {
      for (const root of ROOTS) assertDecodesSafely(root, text, max);
    }), params());
    ledger('oversized frames (size limit enforced before parsing)', 'too_large before any parsing, whatever the text.');
  });
});

describe('hostile structure', () => {
  after(assertPrototypesClean);
  const DEPTH = 10_000;
  const deepArray = '['.repeat(DEPTH) + ']'.repeat(DEPTH);
  const deepObject = '{"a":'.repeat(DEPTH) + '1' + '}'.repeat(DEPTH);

  test('10,000 levels of nesting, alone or inside a message, never crash a decoder', () => {
    const texts = [deepArray, deepObject];
    for (const deep of [deepArray, deepObject]) {
      texts.push(
        `{"type":${deep}}`,
        `{"type":"event","seq":1,"event":${deep}}`,
        `{"type":"inventory","vms":[{"id":"a","name":"b","state":"running","tags":${deep}}]}`,
        `{"type":"call","id":1,"method":"snapshot","params":${deep}}`,
        `{"type":"reply","id":1,"ok":true,"result":${deep}}`,
        `{"type":"push","push":${deep}}`,
        `{"type":"events","events":${deep}}`,
      );
    }
    for (const text of texts) assertEveryDecoderSafe(text);
    ledger('deeply nested JSON (10,000 levels)', 'Answered without a stack overflow: a value or bad_message.');
  });

  test('free-form fields accept deep values, and say so: a shell call\'s params, a reply\'s result', () => {
    // The schema leaves these open; whoever reads them must not recurse without a bound (see README).
    assert.ok(DECODERS.shell(`{"type":"call","id":1,"method":"snapshot","params":${deepObject}}`).ok);
    assert.ok(DECODERS.shell(`{"type":"reply","id":1,"ok":true,"result":${deepArray}}`).ok);
  });

  test('200,000 levels of nesting are still an answer, not a stack overflow', () => {
    const n = 200_000;
    const deep = '['.repeat(n) + ']'.repeat(n);
    const tried = new Map<Root, number>();
    for (const root of ROOTS) {
      const r = DECODERS[root](deep);
      assert.ok(!r.ok && r.error.code === 'bad_message');
      tried.set(root, 1);
    }
    const hello = JSON.stringify(example('wire/hello.json')).replace('"capabilities":["events","inventory","actions","logs"]', `"capabilities":[${deep},${deep}]`);
    assert.ok(hello.length > 2 * n, 'the deep value is in');
    const r = DECODERS.agent(hello);
    assert.ok(!r.ok && r.error.code === 'bad_message');
    tried.set('agent', tried.get('agent')! + 1);
    for (const root of ROOTS) record({ campaign: 'bad-input', target: TARGETS[root], kind: 'deeply nested JSON (200,000 levels)', tried: tried.get(root)!, refused: tried.get(root)!, crashes: 0,
      outcome: 'bad_message, not a stack overflow.' });
  });

  test('__proto__, constructor and prototype keys (own keys, as JSON.parse makes them) pollute nothing', () => {
    const proto = '{"polluted":"yes","isAdmin":true,"type":"hello","seq":1}';
    const texts = [
      `{"__proto__":${proto},"type":"subscribe","since":0}`,
      `{"type":"subscribe","since":0,"constructor":{"prototype":${proto}}}`,
      `{"__proto__":{"type":"subscribe","since":0}}`,
      `{"type":"subscribe","since":0,"prototype":${proto}}`,
      `{"type":"event","seq":1,"event":{"__proto__":${proto}}}`,
      `{"type":"inventory","vms":[{"__proto__":${proto},"id":"a","name":"b","state":"running"}]}`,
      `{"type":"call","id":1,"method":"snapshot","params":{"__proto__":${proto},"constructor":{"prototype":${proto}}}}`,
      `{"type":"reply","id":1,"ok":true,"result":{"__proto__":${proto}}}`,
      `{"type":"push","push":{"type":"vms","agentId":"a","full":true,"vms":[],"removed":[],"__proto__":${proto}}}`,
      `[{"__proto__":${proto}}]`,
    ];
    for (const text of texts) {
      assertEveryDecoderSafe(text);
      assertPrototypesClean();
    }
    ledger('__proto__, constructor and prototype keys', 'Kept as own data or refused; Object.prototype unchanged; a type hidden behind __proto__ is no type.');
    const hidden = DECODERS.client(`{"__proto__":{"type":"subscribe","since":0}}`);
    assert.ok(!hidden.ok, 'a type hidden behind __proto__ is not a type');
    assert.equal(hidden.error.message, 'A cockpit message does not follow cordon.v1: the message lacks the required field "type".');

    const call = DECODERS.shell(texts[6]!);
    assert.ok(call.ok, 'a call\'s params are free-form, so the own __proto__ key is kept as data');
    const p = (call.value as { params: object }).params;
    assert.ok(Object.hasOwn(p, '__proto__'));
    assert.equal(Object.getPrototypeOf(p), Object.prototype);
    assert.equal((p as Record<string, unknown>).polluted, undefined);
  });
});
