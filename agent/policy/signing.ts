// Policy signatures: Ed25519 (Node's crypto) over the RFC 8785 canonical JSON of the policy, by a key the agent was
// told to trust (--policy-key). A policy that is unsigned, signed by another key, tampered with, or that breaks
// "tighten, never loosen" (protocol/policy.ts) is refused with a code and a sentence; nothing else is ever enforced.
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { canonicalJson } from '../../protocol/canonical.ts';
import { checkSignedPolicy, type Policy, type PolicyInForce, type SignedPolicy } from '../../protocol/index.ts';
import { checkPolicy } from '../../protocol/policy.ts';
import { AgentError, systemCode } from '../errors.ts';

/** The keys whose signatures the agent accepts, by fingerprint. */
export type TrustedKeys = ReadonlyMap<string, KeyObject>;

export type Verified = { ok: true; signed: SignedPolicy; inForce: PolicyInForce; warnings: string[] } | { ok: false; code: string; message: string };

/** SHA-256 of the public key's SPKI DER, lowercase hex: the signer's name in a signature and in hello. */
export function keyFingerprint(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** Reads each --policy-key file (an Ed25519 public key, PEM). */
export function loadTrustedKeys(files: readonly string[]): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  for (const file of files) {
    let key: KeyObject;
    try {
      key = createPublicKey(readFileSync(file, 'utf8'));
    } catch (err) {
      const code = systemCode(err);
      const why = code.startsWith('E') && !code.startsWith('ERR_') ? code : 'not a PEM public key';
      throw new AgentError('policy_key_unreadable', `Cannot read the policy key ${file} (${why}): give the signer's Ed25519 public key in PEM.`, { cause: err });
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new AgentError('policy_key_unreadable', `The policy key ${file} is ${key.asymmetricKeyType ?? 'not an asymmetric key'}, not Ed25519: policies are signed with Ed25519 only.`);
    }
    keys.set(keyFingerprint(key), key);
  }
  return keys;
}

/** Signs a policy (the signer's tool and the tests; the agent only verifies). */
export function signPolicy(policy: Policy, privateKey: KeyObject): SignedPolicy {
  const value = sign(null, Buffer.from(canonicalJson(policy), 'utf8'), privateKey).toString('base64');
  return { policy, signature: { algorithm: 'ed25519', keyId: keyFingerprint(privateKey), value } };
}

/** Checks a signed policy's shape, signer, signature and rules; `now` (ms) only for the warnings. */
export function verifyPolicy(value: unknown, trusted: TrustedKeys, now: number): Verified {
  const checked = checkSignedPolicy(value);
  if (!checked.ok) {
    const unsigned = value !== null && typeof value === 'object' && !('signature' in value);
    return unsigned
      ? { ok: false, code: 'policy_unsigned', message: 'The policy is not signed: the agent enforces only a policy signed (Ed25519) by a key it trusts.' }
      : { ok: false, code: 'policy_invalid', message: checked.error.message };
  }
  const signed = checked.value;
  const key = trusted.get(signed.signature.keyId);
  if (!key) {
    return trusted.size === 0
      ? { ok: false, code: 'policy_untrusted', message: 'This agent trusts no policy key: start it with --policy-key FILE (the signer\'s public key) to accept signed policies.' }
      : { ok: false, code: 'policy_untrusted', message: `The policy is signed by key ${signed.signature.keyId.slice(0, 16)}…, which this agent does not trust (--policy-key): it keeps the policy in force.` };
  }
  const good = verify(null, Buffer.from(canonicalJson(signed.policy), 'utf8'), key, Buffer.from(signed.signature.value, 'base64'));
  if (!good) return { ok: false, code: 'policy_bad_signature', message: 'The policy\'s signature does not match its content (altered after signing, or signed by another key): it is refused.' };
  const problems = checkPolicy(signed.policy, now);
  if (problems.errors.length > 0) return { ok: false, code: 'policy_invalid', message: problems.errors.join(' ').slice(0, 2000) };
  return { ok: true, signed, inForce: { id: signed.policy.id, version: signed.policy.version, signer: signed.signature.keyId }, warnings: problems.warnings };
}
