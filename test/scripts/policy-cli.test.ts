// `npm run policy`, run as the policy signer would (a real process): a key pair whose private half only its owner
// reads, a policy signed and verified as the agent verifies it, a tampered file refused, a policy the agent would
// refuse left unsigned, the SV-95141r1 verdict and its .cklb, and exit statuses a script can trust.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { keyFingerprint } from '../../agent/policy/signing.ts';
import type { Cklb } from '../../protocol/cklb.ts';
import type { StigVerdict } from '../../protocol/compliance.ts';
import type { Policy, SignedPolicy } from '../../protocol/index.ts';
import { ROOT, tempDir } from '../helpers/processes.ts';

const dir = tempDir('policy-cli');
const keys = join(dir.path, 'keys');
const file = (name: string) => join(dir.path, name);
const AT = '2026-11-23T10:00:00Z';

const COMPLIANT: Policy = {
  id: 'soc-stig', version: 3, issuedAt: '2026-11-23T09:00:00Z',
  rules: [{ id: 'kill-malicious', match: { verdicts: ['malicious'] }, response: 'terminate' }],
  exceptions: [{ id: 'ex-lab', justification: { kind: 'test-system', text: 'Malware lab' }, approver: 'ISSM j.doe', scope: { vmTags: ['lab'] }, expiresAt: '2026-12-01T00:00:00Z' }],
  deltas: [{ id: 'lab', scope: { vmTags: ['lab'] }, rules: [{ id: 'hold-lab', match: { verdicts: ['malicious'] }, response: 'forensic-hold', exception: 'ex-lab' }] }],
};

function policyCli(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    // What `npm run policy --` runs (tsx scripts/policy.ts), without npm's own output around it.
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/policy.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

before(() => {
  writeFileSync(file('compliant.json'), JSON.stringify(COMPLIANT));
  writeFileSync(file('alert-only.json'), JSON.stringify({ ...COMPLIANT, id: 'lax', rules: [{ id: 'alert-all', match: {}, response: 'alert' }] }));
  writeFileSync(file('loosening.json'), JSON.stringify({ ...COMPLIANT, deltas: [{ id: 'quiet', scope: { hostGroups: ['dc-east'] }, rules: [{ id: 'alert-escape', match: { categories: ['escape'] }, response: 'alert' }] }] }));
});
after(() => dir.remove());

test('keygen writes a key pair, the private key readable by its owner only, prints its fingerprint, and never overwrites it', async () => {
  const r = await policyCli('keygen', keys);
  assert.equal(r.code, 0, r.err);
  assert.equal(statSync(join(keys, 'policy-signer.pem')).mode & 0o777, 0o600);
  const pub = createPublicKey(readFileSync(join(keys, 'policy-signer.pub.pem'), 'utf8'));
  assert.match(r.out, new RegExp(`^fingerprint ${keyFingerprint(pub)}$`, 'm'));
  const again = await policyCli('keygen', keys);
  assert.equal(again.code, 2);
  assert.match(again.err, /policy-signer\.pem exists: keygen never overwrites a key/);
  assert.equal(createPublicKey(readFileSync(join(keys, 'policy-signer.pub.pem'), 'utf8')).export({ format: 'der', type: 'spki' }).equals(pub.export({ format: 'der', type: 'spki' })), true);
});

test('sign then verify: exit 0; the same file altered after signing, or checked against another key, is refused with exit 1', async () => {
  const signed = await policyCli('sign', file('compliant.json'), '--key', join(keys, 'policy-signer.pem'), '--out', file('signed.json'));
  assert.equal(signed.code, 0, signed.err);
  const value = JSON.parse(readFileSync(file('signed.json'), 'utf8')) as SignedPolicy;
  assert.deepEqual(value.policy, COMPLIANT);

  const ok = await policyCli('verify', file('signed.json'), '--trust', join(keys, 'policy-signer.pub.pem'));
  assert.equal(ok.code, 0, ok.out + ok.err);
  assert.match(ok.out, /^policy: VERIFIED: soc-stig v3, signed by [0-9a-f]{64}/m);

  writeFileSync(file('tampered.json'), JSON.stringify({ ...value, policy: { ...value.policy, rules: [{ id: 'kill-malicious', match: { verdicts: ['malicious'] }, response: 'alert' }] } }));
  const tampered = await policyCli('verify', file('tampered.json'), '--trust', join(keys, 'policy-signer.pub.pem'));
  assert.equal(tampered.code, 1);
  assert.match(tampered.out, /REFUSED \[policy_bad_signature\]/);

  assert.equal((await policyCli('keygen', join(dir.path, 'other'))).code, 0);
  const stranger = await policyCli('verify', file('signed.json'), '--trust', join(dir.path, 'other', 'policy-signer.pub.pem'));
  assert.equal(stranger.code, 1);
  assert.match(stranger.out, /REFUSED \[policy_untrusted\]/);
});

test('a policy the agent would refuse is not signed (exit 1, the reason said); a base alert is signed with a warning', async () => {
  const refused = await policyCli('sign', file('loosening.json'), '--key', join(keys, 'policy-signer.pem'), '--out', file('loosening.signed.json'));
  assert.equal(refused.code, 1);
  assert.match(refused.err, /Delta quiet rule alert-escape would loosen the base/);
  assert.match(refused.err, /not signed: an agent would refuse policy soc-stig v3/);
  assert.equal(existsSync(file('loosening.signed.json')), false);

  const warned = await policyCli('sign', file('alert-only.json'), '--key', join(keys, 'policy-signer.pem'));
  assert.equal(warned.code, 0, warned.err);
  assert.match(warned.err, /warning: Base rule alert-all answers malicious events with an alert only: not STIG SV-95141r1 compliant/);
  assert.equal((JSON.parse(warned.out) as SignedPolicy).signature.algorithm, 'ed25519', 'the signed policy on stdout');
});

test('check: a compliant signed policy, its signature verified, is Not a Finding (exit 0); an alert-only base is open (exit 1)', async () => {
  const good = await policyCli('check', file('signed.json'), '--agent', 'hv-07', '--host-group', 'dc-east', '--trust', join(keys, 'policy-signer.pub.pem'), '--at', AT);
  assert.equal(good.code, 0, good.out + good.err);
  assert.match(good.out, /signature verified/);
  assert.match(good.out, /^status: NOT A FINDING$/m);
  assert.match(good.out, /^ {2}- ex-lab: test-system, "Malware lab", approved by ISSM j\.doe, scope VM tag lab, until 2026-12-01T00:00:00Z$/m);

  const bad = await policyCli('check', file('alert-only.json'), '--agent', 'hv-07', '--at', AT, '--json');
  assert.equal(bad.code, 1);
  const verdict = JSON.parse(bad.out) as StigVerdict;
  assert.equal(verdict.status, 'open');
  assert.equal(verdict.findings[0]?.code, 'base_alert');

  const forged = await policyCli('check', file('tampered.json'), '--agent', 'hv-07', '--trust', join(keys, 'policy-signer.pub.pem'));
  assert.equal(forged.code, 1, 'a signature that does not verify is not judged');
  assert.match(forged.out, /policy_bad_signature/);
});

test('cklb writes a STIG Viewer checklist whose rule status and details are the verdict; open exits 1 after writing', async () => {
  const out = file('hv-07.cklb');
  const r = await policyCli('cklb', file('signed.json'), '--agent', 'hv-07', '--host', 'hv-07.example', '--at', AT, '--out', out);
  assert.equal(r.code, 0, r.err);
  const cklb = JSON.parse(readFileSync(out, 'utf8')) as Cklb;
  assert.equal(cklb.cklb_version, '1.0');
  assert.equal(cklb.target_data.host_name, 'hv-07.example');
  const rule = cklb.stigs[0]!.rules[0]!;
  assert.equal(rule.rule_id_src, 'SV-95141r1_rule');
  assert.equal(rule.status, 'not_a_finding');
  assert.match(rule.finding_details, /signed by Ed25519 key [0-9a-f]{64}/);
  assert.match(rule.comments, /ex-lab: test-system, "Malware lab"; approved by ISSM j\.doe/);

  const open = await policyCli('cklb', file('alert-only.json'), '--agent', 'hv-07', '--at', AT);
  assert.equal(open.code, 1);
  assert.equal((JSON.parse(open.out) as Cklb).stigs[0]!.rules[0]!.status, 'open');
  assert.match(open.err, /SV-95141r1 on agent hv-07: OPEN/);
});

test('bad usage and bad input exit 2 with a sentence: no agent for cklb, not JSON, not a policy, an unknown command', async () => {
  writeFileSync(file('not-json.json'), '{ "id": ');
  writeFileSync(file('not-policy.json'), JSON.stringify({ ...COMPLIANT, rules: [{ id: 'r', match: {}, response: 'shrug' }] }));
  const cases: [string[], RegExp][] = [
    [['cklb', file('signed.json')], /cklb needs --agent ID/],
    [['check', file('not-json.json')], /not-json\.json is not JSON/],
    [['check', file('not-policy.json')], /The policy does not follow cordon\.v1: '\/rules\/0\/response' must be one of terminate, alert, forensic-hold/],
    [['sign', file('compliant.json'), '--key', join(keys, 'policy-signer.pub.pem')], /Cannot read the private key .*not a PEM private key/],
    [['verify', file('signed.json'), '--trust', file('compliant.json')], /Cannot read the policy key/],
    [['check', file('compliant.json'), '--at', 'tomorrow'], /--at tomorrow is not a time/],
    [['seal', file('compliant.json')], /unknown command "seal"/],
  ];
  for (const [args, message] of cases) {
    const r = await policyCli(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}${r.err}`);
    assert.match(r.err, message);
  }
});
