// The agent's access file parser (agent/access.ts) under fast-check: whatever the file holds, the agent gets a
// policy or an AgentError access_invalid with a bounded sentence; never another exception, never a polluted
// prototype, never a principal named by a credential it was not given.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseAccess } from '../../agent/access.ts';
import { AgentError } from '../../agent/errors.ts';
import { record } from './campaign.ts';

const SEED = 20261123;
const sha = (t: string) => createHash('sha256').update(t).digest('hex');
const VALID = { principals: [{ name: 'lena', role: 'lead', tokenSha256: sha('lena-token') }, { name: 'rui', role: 'responder', tokenSha256: sha('rui-token') }] };

function judge(text: string): 'accepted' | 'refused' {
  try {
    parseAccess(text, 'access.json');
    return 'accepted';
  } catch (err) {
    assert.ok(err instanceof AgentError, `an AgentError, not ${String(err)}`);
    assert.equal(err.code, 'access_invalid');
    assert.ok(err.message.length <= 400, `a bounded sentence (${err.message.length})`);
    return 'refused';
  }
}

test('random JSON, mutated valid files and hostile keys: a policy or access_invalid, nothing else', () => {
  const counts = { tried: 0, refused: 0 };
  const keys = fc.constantFrom('principals', 'twoPerson', 'requireClientCert', '__proto__', 'constructor', 'prototype', 'name', 'role', 'tokenSha256', 'certFingerprint');
  const hostile = fc.dictionary(keys, fc.jsonValue(), { maxKeys: 6 });
  const mutated = fc.record({ i: fc.nat(1), key: keys, value: fc.jsonValue() }).map(({ i, key, value }) => {
    const doc = structuredClone(VALID) as { principals: Record<string, unknown>[] } & Record<string, unknown>;
    if (key === 'principals' || key === 'twoPerson' || key === 'requireClientCert') (doc as Record<string, unknown>)[key] = value;
    else doc.principals[i]![key] = value;
    return JSON.stringify(doc);
  });
  fc.assert(fc.property(fc.oneof(fc.string(), fc.json(), hostile.map((d) => JSON.stringify(d)), mutated, fc.constantFrom('{"__proto__":{"polluted":1},"principals":[]}', '[', 'null', '{}', '"x"')), (text) => {
    counts.tried++;
    if (judge(text) === 'refused') counts.refused++;
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(({} as Record<string, unknown>).role, undefined);
  }), { seed: SEED, numRuns: 2000 });
  record({ campaign: 'bad-input', target: 'agent access file (--access)', kind: 'random JSON, mutated valid files, __proto__/constructor keys', tried: counts.tried, refused: counts.refused, crashes: 0, outcome: 'Each was a policy or an access_invalid sentence naming what to fix; no other exception, no prototype touched.' });
});

test('a principal is named only by the credentials it lists, and a control character in a name is refused', () => {
  const policy = parseAccess(JSON.stringify(VALID));
  assert.deepEqual(policy.identify('lena-token', undefined), { name: 'lena', role: 'lead' });
  assert.equal(policy.identify(undefined, undefined), undefined);
  assert.equal(policy.identify('', undefined), undefined);
  assert.equal(policy.identify('lena-token ', undefined), undefined);
  fc.assert(fc.property(fc.string({ maxLength: 64 }), (token) => {
    const who = policy.identify(token, undefined);
    assert.ok(who === undefined || token === 'lena-token' || token === 'rui-token');
  }), { seed: SEED, numRuns: 500 });
  assert.throws(() => parseAccess(JSON.stringify({ principals: [{ name: 'a\nb', role: 'lead', tokenSha256: sha('x') }] })), /printable/);
  assert.throws(() => parseAccess(JSON.stringify({ principals: [{ name: 'a', role: 'root', tokenSha256: sha('x') }] })), /viewer, responder or lead/);
  assert.throws(() => parseAccess(JSON.stringify({ requireClientCert: true, principals: [{ name: 'a', role: 'lead', tokenSha256: sha('x') }] })), /could never connect/);
});
