// Bad-input campaign (issue 8): the signed auto-response policy, where the agent takes it in (agent/policy/signing.ts
// verifyPolicy: shape, signer, signature, "tighten, never loosen" in protocol/policy.ts) and where it is evaluated.
// Whatever a cockpit pushes: a code and a bounded sentence, or a verified policy; never a throw, never a polluted
// prototype; a policy that verified is evaluated without a throw on any valid event; the good policy still verifies
// after all of it.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkThreatEvent, type Policy, type SignedPolicy, type ThreatEvent } from '../../protocol/index.ts';
import { checkPolicy, evaluate } from '../../protocol/policy.ts';
import { keyFingerprint, signPolicy, verifyPolicy } from '../../agent/policy/signing.ts';
import { example } from '../protocol/examples.ts';
import { record } from './campaign.ts';
import { anyString, assertClearError, assertNoLongEcho, assertPrototypesClean, deepJson, hostileValue, mutate, mutation, params, pollutingVariants, Tally } from './kit.ts';

const NOW = Date.parse('2026-11-25T12:00:00Z');
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const trusted = new Map([[keyFingerprint(publicKey), publicKey]]);
const POLICY = (example('wire/policy-set.json') as { policy: SignedPolicy }).policy.policy;
const SIGNED = signPolicy(POLICY, privateKey);
const CODES = new Set(['policy_unsigned', 'policy_invalid', 'policy_untrusted', 'policy_bad_signature']);
const TARGET = 'signed policy (agent intake: verifyPolicy)';

/** Verifies `value`; checks the answer's contract; returns whether it was refused. `hostile` is text the error must not repeat at length. */
function judge(value: unknown, hostile?: string): boolean {
  let r: ReturnType<typeof verifyPolicy>;
  try {
    r = verifyPolicy(value, trusted, NOW);
  } catch (err) {
    assert.fail(`verifyPolicy threw on ${JSON.stringify(value)?.slice(0, 300)}: ${(err as Error).stack ?? String(err)}`);
  }
  if (!r.ok) {
    assert.ok(CODES.has(r.code), `a known code: ${r.code}`);
    assertClearError(r.message, 2000);
    if (hostile !== undefined) assertNoLongEcho(r.message, hostile);
    return true;
  }
  assert.equal(r.inForce.signer, keyFingerprint(publicKey));
  assert.deepEqual(checkPolicy(r.signed.policy, NOW).errors, [], 'a verified policy has no errors');
  return false;
}

function assertStillVerifies(): void {
  const r = verifyPolicy(structuredClone(SIGNED), trusted, NOW);
  assert.ok(r.ok, r.ok ? '' : r.message);
  assertPrototypesClean();
}

const events: ThreatEvent[] = [
  example<{ event: ThreatEvent }>('wire/event-c2-beacon.json').event,
  example<{ event: ThreatEvent }>('wire/event-escape-attempt.json').event,
  example<{ event: ThreatEvent }>('wire/event-nc-listener.json').event,
];

/** A policy mutated and then signed by the trusted key: the signer's own mistakes reach the rule checks. */
const resigned = fc.array(mutation, { minLength: 1, maxLength: 4 }).map((ms) => signPolicy(mutate(POLICY, ms), privateKey));

const cases: { kind: string; arb: fc.Arbitrary<{ value: unknown; hostile?: string }>; runs: number; outcome: string }[] = [
  { kind: 'random JSON values', arb: fc.jsonValue({ maxDepth: 5 }).map((value) => ({ value, hostile: JSON.stringify(value) })), runs: 500,
    outcome: 'Refused as unsigned or invalid with a sentence; no throw.' },
  { kind: 'random strings as the whole policy', arb: anyString.map((value) => ({ value, hostile: value })), runs: 200, outcome: 'Refused with a sentence.' },
  { kind: 'signed policies altered after signing (fields removed, retyped, added)', arb: fc.array(mutation, { minLength: 1, maxLength: 4 }).map((ms) => ({ value: mutate(SIGNED, ms) })), runs: 800,
    outcome: 'Refused: bad signature, untrusted key or invalid shape; nothing altered was ever accepted.' },
  { kind: 'policies mutated then signed by the trusted key', arb: resigned.map((value) => ({ value })), runs: 800,
    outcome: 'Refused as invalid (schema, or a rule that would loosen the base) or accepted and evaluated without a throw.' },
  { kind: 'signatures with hostile keyId, algorithm and value', arb: fc.record({ algorithm: hostileValue, keyId: hostileValue, value: hostileValue }, { requiredKeys: [] })
    .map((signature) => ({ value: { policy: POLICY, signature }, hostile: JSON.stringify(signature) })), runs: 400, outcome: 'Refused with a code; the key id is quoted at most 16 characters.' },
];

for (const c of cases) {
  test(`policy intake: ${c.kind}`, () => {
    const t = new Tally();
    let altered = 0;
    fc.assert(fc.property(c.arb, ({ value, hostile }) => {
      const refused = judge(value, hostile);
      t.count(refused);
      if (!refused) {
        const p = (value as SignedPolicy).policy;
        for (const e of events) {
          assert.ok(checkThreatEvent(e).ok);
          const d = evaluate(p, e, { agentId: 'hv-1', hostGroups: ['lab-east'], vmTags: ['dmz', 'malware-lab', '__proto__'] }, NOW);
          assert.ok(['terminate', 'alert', 'forensic-hold', 'none'].includes(d.response), `a response: ${String(d.response)}`);
        }
      }
      if (c.kind.startsWith('signed policies altered') && JSON.stringify(value) !== JSON.stringify(SIGNED)) {
        altered++;
        assert.ok(refused, 'an altered signed policy is never accepted');
      }
    }), params(c.runs));
    assertStillVerifies();
    record({ campaign: 'bad-input', target: TARGET, kind: c.kind, tried: t.tried, refused: t.refused, crashes: 0,
      outcome: altered > 0 ? `${c.outcome} (${altered} of them really differed from the signed one.)` : c.outcome });
  });
}

test('policy intake: deeply nested JSON (100,000 levels) in every member', () => {
  const t = new Tally();
  const values: unknown[] = [JSON.parse(deepJson(100_000, 'array')), JSON.parse(deepJson(100_000, 'object'))];
  for (const kind of ['array', 'object'] as const) {
    const deep = deepJson(100_000, kind);
    for (const k of ['policy', 'signature']) values.push(JSON.parse(JSON.stringify({ ...SIGNED, [k]: 0 }).replace(`"${k}":0`, `"${k}":${deep}`)));
    for (const k of Object.keys(POLICY)) values.push(JSON.parse(JSON.stringify({ ...SIGNED, policy: { ...POLICY, [k]: 0 } }).replace(`"${k}":0`, `"${k}":${deep}`)));
  }
  for (const v of values) t.count(judge(v));
  assertStillVerifies();
  record({ campaign: 'bad-input', target: TARGET, kind: 'deeply nested JSON (100,000 levels)', tried: t.tried, refused: t.refused, crashes: 0,
    outcome: 'Refused by the schema check without recursion trouble; no stack overflow.' });
});

test('policy intake: __proto__, constructor and prototype keys', () => {
  const t = new Tally();
  const texts = [...pollutingVariants(SIGNED as unknown as Record<string, unknown>, ['policy', 'signature']),
    ...pollutingVariants(POLICY as unknown as Record<string, unknown>).map((p) => `{"policy":${p},"signature":${JSON.stringify(SIGNED.signature)}}`)];
  for (const text of texts) {
    t.count(judge(JSON.parse(text)));
    assertPrototypesClean();
  }
  // Ids named like Object.prototype's members, signed by the trusted key: the checks use Maps and Sets, not objects.
  const named: Policy = structuredClone(POLICY);
  named.rules[0]!.id = 'toString';
  named.deltas![0]!.id = 'constructor';
  named.exceptions![0]!.id = 'hasOwnProperty';
  named.deltas![1]!.rules[0]!.exception = 'hasOwnProperty';
  const ok = verifyPolicy(signPolicy(named, privateKey), trusted, NOW);
  assert.ok(ok.ok, ok.ok ? '' : ok.message);
  t.count(false);
  const d = evaluate(ok.signed.policy, events[0]!, { agentId: 'hv', hostGroups: ['lab-east'], vmTags: ['malware-lab'] }, NOW);
  assert.equal(d.response, 'forensic-hold', 'the exception named hasOwnProperty is found as an exception');
  assertStillVerifies();
  record({ campaign: 'bad-input', target: TARGET, kind: '__proto__, constructor and prototype keys and ids', tried: t.tried, refused: t.refused, crashes: 0,
    outcome: 'Extra keys are refused by the schema; ids named toString, constructor or hasOwnProperty work as plain ids; Object.prototype unchanged.' });
});

test('policy intake: oversized policies (100,000 rules, 4 MiB strings)', () => {
  const t = new Tally();
  const big = 'A'.repeat(4 * 1024 * 1024);
  const many: Policy = { ...structuredClone(POLICY), rules: Array.from({ length: 100_000 }, (_, i) => ({ id: `r${i}`, match: { verdicts: ['suspicious' as const] }, response: 'alert' as const })) };
  const values: { value: unknown; hostile?: string }[] = [
    { value: signPolicy(many, privateKey) },
    { value: signPolicy({ ...POLICY, description: big }, privateKey), hostile: big },
    { value: { ...SIGNED, signature: { ...SIGNED.signature, value: big } }, hostile: big },
    { value: { ...SIGNED, signature: { ...SIGNED.signature, keyId: big } }, hostile: big },
    { value: signPolicy({ ...POLICY, id: big }, privateKey), hostile: big },
  ];
  for (const { value, hostile } of values) t.count(judge(value, hostile));
  assertStillVerifies();
  record({ campaign: 'bad-input', target: TARGET, kind: 'oversized policies (100,000 rules, 4 MiB strings)', tried: t.tried, refused: t.refused, crashes: 0,
    outcome: 'Refused by the schema\'s bounds, with a sentence that does not repeat the long value.' });
});
