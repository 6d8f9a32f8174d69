// `npm run policy -- keygen|sign|verify|check|cklb`: the policy signer's tool. Makes the Ed25519 key pair the agents
// are told to trust (--policy-key), signs a policy only if the agent would accept it, verifies a signed file as the
// agent does, and judges a policy against STIG SV-95141r1 for an agent (the cockpit's compliance view, on the command
// line) or exports that verdict as a STIG Viewer checklist (.cklb). The signing and verifying are the agent's own
// (agent/policy/signing.ts); the verdict is protocol/compliance.ts's.
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AgentError } from '../agent/errors.ts';
import { keyFingerprint, loadTrustedKeys, signPolicy, verifyPolicy } from '../agent/policy/signing.ts';
import { cklbFileName, toCklb, visible } from '../protocol/cklb.ts';
import { describeScope, stigCompliance, SV_95141R1, type StigVerdict } from '../protocol/compliance.ts';
import { checkSignedPolicy, MAX_TEXT_FRAME_BYTES, type Policy, type SignedPolicy } from '../protocol/index.ts';
import { checkPolicy } from '../protocol/policy.ts';

const USAGE = `Usage:
  npm run policy -- keygen DIR [--name NAME]
  npm run policy -- sign POLICY.json --key PRIVATE.pem [--out FILE]
  npm run policy -- verify SIGNED.json --trust PUBLIC.pem [--trust PUBLIC.pem]...
  npm run policy -- check POLICY.json [--agent ID] [--host-group G]... [--trust PUBLIC.pem]... [--at TIME] [--json]
  npm run policy -- cklb POLICY.json --agent ID [--host-group G]... [--trust PUBLIC.pem]... [--at TIME]
                   [--host NAME] [--ip ADDR] [--fqdn NAME] [--out FILE]

keygen  writes an Ed25519 key pair to DIR: NAME.pem (private, mode 0600) and NAME.pub.pem (give it to each agent
        as --policy-key); NAME is policy-signer unless given. Prints the key's fingerprint. Never overwrites a key.
sign    signs a policy (a plain one, or the "policy" of a signed file) if the agent would accept it; a policy the
        agent would refuse is not signed. Writes the signed JSON to FILE, or to stdout; warnings go to stderr.
verify  checks a signed policy as an agent that trusts the given keys does: shape, signer, signature, rules.
check   says whether the policy satisfies STIG SV-95141r1 on agent ID (in host groups G): not a finding, or open
        with why, and the forensic exceptions that apply. A signed file's signature is verified with --trust,
        otherwise only read. Without --agent: an agent that no scope of the policy names.
cklb    writes that verdict as a DISA STIG Viewer 3 checklist (.cklb JSON) to FILE, or to stdout.

POLICY.json is a policy or a signed policy (JSON). TIME is an RFC 3339 time to judge at (default: now), e.g. to see
what an exception's expiry changes.
Exit status: 0 done (verified; not a finding); 1 refused (a policy the agent would refuse, a failed verification, an
open finding, also when its checklist was written); 2 could not run (usage, unreadable or malformed input).`;

const PLACEHOLDER_SIGNATURE: SignedPolicy['signature'] = { algorithm: 'ed25519', keyId: '0'.repeat(64), value: `${'A'.repeat(86)}==` };

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      name: { type: 'string' }, key: { type: 'string' }, out: { type: 'string' }, trust: { type: 'string', multiple: true },
      agent: { type: 'string' }, 'host-group': { type: 'string', multiple: true }, at: { type: 'string' }, json: { type: 'boolean' },
      host: { type: 'string' }, ip: { type: 'string' }, fqdn: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, file, ...extra] = positionals;
  if (values.help || command === undefined) {
    console.log(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (extra.length > 0) throw new UsageError(`${command} takes one file; "${extra[0]!.slice(0, 40)}" is one too many.`);
  const now = values.at === undefined ? Date.now() : Date.parse(values.at);
  if (Number.isNaN(now)) throw new UsageError(`--at ${values.at!.slice(0, 40)} is not a time: give RFC 3339, e.g. 2026-11-23T10:00:00Z.`);
  if (!file) throw new UsageError(command === 'keygen' ? 'keygen needs the DIR to write the key pair to.' : `${command} needs the policy FILE.`);

  switch (command) {
    case 'keygen': {
      const name = values.name ?? 'policy-signer';
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw new UsageError('--name must be letters, digits, ".", "_" or "-" (a file name).');
      const dir = resolve(file);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      const privateFile = join(dir, `${name}.pem`);
      const publicFile = join(dir, `${name}.pub.pem`);
      for (const f of [privateFile, publicFile]) {
        if (existsSync(f)) throw new InputError(`${f} exists: keygen never overwrites a key; choose another DIR or --name.`);
      }
      writeNew(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
      chmodSync(privateFile, 0o600); // whatever the umask: only its owner may sign
      writeNew(publicFile, publicKey.export({ type: 'spki', format: 'pem' }).toString(), 0o644);
      console.log(`policy: wrote the private key ${privateFile} (mode 0600: keep it offline) and the public key ${publicFile} (give it to each agent as --policy-key).`);
      console.log(`fingerprint ${keyFingerprint(publicKey)}`);
      return 0;
    }
    case 'sign': {
      if (!values.key) throw new UsageError('sign needs --key PRIVATE.pem (from keygen).');
      const value = readJson(file);
      const resigned = isObject(value) && 'signature' in value && 'policy' in value;
      const policy = checkedPolicy(resigned ? value.policy : value);
      const problems = checkPolicy(policy, now);
      for (const w of problems.warnings) console.error(`policy: warning: ${visible(w)}`);
      if (problems.errors.length > 0) {
        for (const e of problems.errors) console.error(`policy: ${visible(e)}`);
        console.error(`policy: not signed: an agent would refuse policy ${visible(policy.id)} v${policy.version} (${problems.errors.length} problem${problems.errors.length === 1 ? '' : 's'} above).`);
        return 1;
      }
      const signed = signPolicy(policy, readPrivateKey(values.key));
      const text = `${JSON.stringify(signed, null, 2)}\n`;
      const said = `policy: signed ${visible(policy.id)} v${policy.version}${resigned ? ' (the policy of a signed file, signed again)' : ''} with key ${signed.signature.keyId}.`;
      if (values.out) {
        const out = resolve(values.out);
        mkdirSync(dirname(out), { recursive: true });
        writeFileSync(out, text);
        console.log(`${said} Written to ${out}.`);
      } else {
        process.stdout.write(text);
        console.error(said);
      }
      return 0;
    }
    case 'verify': {
      if (!values.trust) throw new UsageError('verify needs --trust PUBLIC.pem: the signer key the agents trust.');
      const v = verifyPolicy(readJson(file), loadTrustedKeys(values.trust), now);
      if (!v.ok) {
        console.log(`policy: REFUSED [${v.code}]: ${visible(v.message)}`);
        return 1;
      }
      for (const w of v.warnings) console.log(`policy: warning: ${visible(w)}`);
      console.log(`policy: VERIFIED: ${visible(v.inForce.id)} v${v.inForce.version}, signed by ${v.inForce.signer}: an agent that trusts this key enforces it.`);
      return 0;
    }
    case 'check':
    case 'cklb': {
      if (command === 'cklb' && !values.agent) throw new UsageError('cklb needs --agent ID: a checklist is about one agent.');
      const { policy, verified } = loadForCheck(file, values.trust, now);
      if (verified && !verified.ok) {
        console.log(`policy: REFUSED [${verified.code}]: ${visible(verified.message)}`);
        return 1;
      }
      const verdict = stigCompliance({ agentId: values.agent ?? '(an agent no scope names)', hostGroups: values['host-group'] ?? [], policy, now });
      if (command === 'check') {
        if (values.json) console.log(JSON.stringify(verdict, null, 2));
        else console.log(report(verdict, verified !== undefined));
        return verdict.status === 'open' ? 1 : 0;
      }
      const cklb = toCklb(verdict, { ...(values.host ? { hostName: values.host } : {}), ...(values.ip ? { ipAddress: values.ip } : {}), ...(values.fqdn ? { fqdn: values.fqdn } : {}) });
      const text = `${JSON.stringify(cklb, null, 2)}\n`;
      const said = `policy: SV-95141r1 on agent ${verdict.agentId}: ${STATUS[verdict.status]}.`;
      if (values.out) {
        const out = resolve(values.out);
        mkdirSync(dirname(out), { recursive: true });
        writeFileSync(out, text);
        console.log(`${said} Checklist written to ${out} (a name STIG Viewer users expect: ${cklbFileName(verdict)}).`);
      } else {
        process.stdout.write(text);
        console.error(said);
      }
      return verdict.status === 'open' ? 1 : 0;
    }
    default:
      throw new UsageError(`unknown command "${command.slice(0, 40)}".`);
  }
}

const STATUS: Record<StigVerdict['status'], string> = { not_a_finding: 'NOT A FINDING', open: 'OPEN', not_reviewed: 'NOT REVIEWED' };

/** The verdict as a responder reads it. */
function report(v: StigVerdict, verified: boolean): string {
  const policy = v.policy
    ? `policy ${v.policy.id} v${v.policy.version}${v.policy.signer ? `, signed by ${v.policy.signer.slice(0, 16)}… (${verified ? 'signature verified' : 'signature not verified: give --trust'})` : ', unsigned'}`
    : 'no policy';
  const lines = [
    `STIG ${SV_95141R1.ruleId} (${SV_95141R1.groupId}, CAT I): terminate a micro-VM when malicious activity is detected`,
    `agent ${v.agentId}${v.hostGroups.length > 0 ? ` (host groups ${v.hostGroups.join(', ')})` : ''}, ${policy}, at ${v.checkedAt}`,
    `status: ${STATUS[v.status]}`,
  ];
  const open = v.findings.filter((f) => f.kind === 'open');
  const notes = v.findings.filter((f) => f.kind === 'note');
  if (open.length > 0) lines.push('', 'findings:', ...open.map((f) => `  - ${f.text}`));
  if (notes.length > 0) lines.push('', 'notes:', ...notes.map((f) => `  - ${f.text}`));
  if (v.exceptions.length > 0) {
    lines.push('', 'exceptions:');
    for (const e of v.exceptions) {
      lines.push(`  - ${e.id}: ${e.justification.kind}, "${e.justification.text}", approved by ${e.approver}, scope ${describeScope(e.scope)}, ${e.expired ? 'EXPIRED at' : 'until'} ${e.expiresAt}`);
    }
  }
  if (v.nextChange) lines.push('', `judge again at ${v.nextChange}: an exception expires then.`);
  return visible(lines.join('\n'));
}

/** A file for check/cklb: a signed policy (verified if keys are given) or a plain one, either checked against the schema. */
function loadForCheck(file: string, trust: string[] | undefined, now: number): { policy: SignedPolicy | Policy; verified?: ReturnType<typeof verifyPolicy> } {
  const value = readJson(file);
  if (isObject(value) && 'signature' in value) {
    const checked = checkSignedPolicy(value);
    if (!checked.ok) throw new InputError(`${file} is not a valid signed policy: ${checked.error.message.replace(/^A signed policy does not follow cordon\.v1: /, '')}`);
    return trust ? { policy: checked.value, verified: verifyPolicy(value, loadTrustedKeys(trust), now) } : { policy: checked.value };
  }
  if (trust) throw new UsageError(`${file} is not signed: --trust verifies a signed policy; leave it out to judge a draft.`);
  return { policy: checkedPolicy(value) };
}

/** A plain policy, checked against the schema (the signed-policy schema, with a placeholder signature around it). */
function checkedPolicy(value: unknown): Policy {
  const checked = checkSignedPolicy({ policy: value, signature: PLACEHOLDER_SIGNATURE });
  if (checked.ok) return checked.value.policy;
  const why = checked.error.message.replace(/^A signed policy does not follow cordon\.v1: /, '').replace(/'\/policy(\/|')/g, (_, c: string) => (c === '/' ? "'/" : "'/'"));
  throw new InputError(`The policy does not follow cordon.v1: ${why}`);
}

function readJson(file: string): unknown {
  let text: string;
  try {
    if (statSync(file).size > MAX_TEXT_FRAME_BYTES) throw new InputError(`${file} is over ${MAX_TEXT_FRAME_BYTES} bytes: not a policy.`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`Cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(`${file} is not JSON (${(err as Error).message.slice(0, 200)}).`);
  }
}

function readPrivateKey(file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`Cannot read the private key ${file} (${code?.startsWith('E') && !code.startsWith('ERR_') ? code : 'not a PEM private key'}): give the NAME.pem that keygen wrote.`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new InputError(`The key ${file} is ${key.asymmetricKeyType ?? 'not asymmetric'}, not Ed25519: policies are signed with Ed25519 only.`);
  return key;
}

/** Writes a file that must not exist yet (a key is never overwritten). */
function writeNew(file: string, text: string, mode: number): void {
  try {
    writeFileSync(file, text, { mode, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new InputError(`${file} exists: keygen never overwrites a key; choose another DIR or --name.`);
    throw err;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

class UsageError extends Error {}
class InputError extends Error {}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) {
    console.error(`policy: ${err.message}\n\n${USAGE}`);
  } else if (err instanceof InputError || err instanceof AgentError) {
    console.error(`policy: ${visible(err.message)}`);
  } else if (err instanceof Error && 'code' in err && typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS')) {
    console.error(`policy: ${err.message}\n\n${USAGE}`);
  } else {
    console.error(`policy: ${err instanceof Error ? err.message : String(err)}`);
  }
  process.exitCode = 2;
}
