// Who may do what on this agent (issue 8): principals, each known by a bearer token, a client certificate, or both,
// with a role; and the two-person rule. Tokens are kept as SHA-256 hashes and compared in constant time against
// every principal, so neither a token nor which principal it belongs to leaks through timing.
//
// Roles, each including the one before:
//   viewer     sees: events, inventory, logs, inspections, the evidence list
//   responder  acts: every action but seize, consoles, evidence pulls
//   lead       also seizes, sanitises evidence, and sets the policy (which grants exceptions)
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AgentError, systemCode } from './errors.ts';
import { LEAD, roleForAction, ROLES } from '../protocol/roles.ts';
import type { ClientMessage, Role } from '../protocol/index.ts';

export type { Role } from '../protocol/index.ts';

/** What needs a second person's approval; the two operations that destroy or take away. */
export type TwoPersonOperation = 'seize' | 'sanitise';
export const TWO_PERSON_DEFAULT: readonly TwoPersonOperation[] = ['seize', 'sanitise'];


export interface Principal {
  name: string;
  role: Role;
}

interface Entry extends Principal {
  tokenHash?: Buffer;
  certFingerprint?: string;
}

export interface AccessPolicy {
  /** The principal these credentials name, or undefined: every credential the entry lists must match. */
  identify(bearer: string | undefined, clientCert: string | undefined): Principal | undefined;
  /** Operations that wait for a second principal's approval. */
  readonly twoPerson: readonly TwoPersonOperation[];
  /** Whether a connection without an accepted client certificate is refused at the TLS layer's check. */
  readonly requireClientCert: boolean;
  /** Whether the principals are told apart (false: one shared token, so a second person cannot be recognised). */
  readonly distinct: boolean;
  readonly principals: readonly Principal[];
}

/**
 * The role a client message needs, or undefined when any authenticated peer may send it. An action's kind decides
 * for actions: seize is a lead's, the rest a responder's.
 */
export function roleNeeded(message: ClientMessage): Role | undefined {
  switch (message.type) {
    case 'action':
      return roleForAction(message.kind);
    case 'policy.set':
    case 'evidence.sanitise':
      return LEAD;
    case 'console.open':
    case 'evidence.pull':
    case 'approval.decide':
      return 'responder';
    default:
      return undefined;
  }
}

/** What a role-refused message was, in words: "seize", "a console", "a policy". */
export function describeOperation(message: ClientMessage): string {
  switch (message.type) {
    case 'action': return `to ${message.kind} a VM`;
    case 'policy.set': return 'to set the auto-response policy';
    case 'evidence.sanitise': return 'to sanitise evidence';
    case 'console.open': return 'to open a console';
    case 'evidence.pull': return 'to pull evidence';
    case 'approval.decide': return 'to approve or refuse a request';
    default: return `to send ${message.type}`;
  }
}

export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** One shared token, as with --token-file alone: its holder is a lead, and the agent cannot tell two people apart. */
export function sharedTokenAccess(token: string): AccessPolicy {
  return build([{ name: 'token holder', role: 'lead', tokenHash: tokenHash(token) }], [], false, false);
}

/**
 * Reads an access file (--access):
 *   { "principals": [ { "name": "alice", "role": "lead", "tokenSha256": "<64 hex>" },
 *                     { "name": "bob", "role": "responder", "certFingerprint": "AB:CD:…" } ],
 *     "twoPerson": ["seize", "sanitise"],          (the default; [] turns the rule off)
 *     "requireClientCert": false }
 * A token is named by its SHA-256 (`printf %s TOKEN | sha256sum`), so the file holds no secret.
 */
export function loadAccessFile(file: string): AccessPolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AgentError('access_unreadable', `Cannot read the access file ${file} (${systemCode(err)}): check the path and its permissions.`, { cause: err });
  }
  return parseAccess(text, file);
}

export function parseAccess(text: string, file = 'the access file'): AccessPolicy {
  const bad = (what: string) => new AgentError('access_invalid', `${file}: ${what}`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw bad(`not JSON (${(err as Error).message.slice(0, 120)}).`);
  }
  if (!isRecord(doc)) throw bad('the top level must be an object with "principals".');
  for (const key of Object.keys(doc)) {
    if (!['principals', 'twoPerson', 'requireClientCert'].includes(key)) throw bad(`unknown key "${key.slice(0, 64)}"; the keys are principals, twoPerson, requireClientCert.`);
  }
  const list = doc.principals;
  if (!Array.isArray(list) || list.length === 0 || list.length > 1000) throw bad('"principals" must list 1 to 1000 principals.');
  const names = new Set<string>();
  const entries: Entry[] = list.map((p: unknown, i) => {
    const where = `principal ${i + 1}`;
    if (!isRecord(p)) throw bad(`${where} is not an object.`);
    for (const key of Object.keys(p)) {
      if (!['name', 'role', 'tokenSha256', 'certFingerprint'].includes(key)) throw bad(`${where} has an unknown key "${key.slice(0, 64)}"; the keys are name, role, tokenSha256, certFingerprint.`);
    }
    if (typeof p.name !== 'string' || p.name.length === 0 || p.name.length > 128 || [...p.name].some((c) => c < ' ' || c === '\u007f')) throw bad(`${where} needs a "name" of 1 to 128 printable characters.`);
    if (names.has(p.name)) throw bad(`the name "${p.name}" is used twice; each principal is one person or one machine.`);
    names.add(p.name);
    if (typeof p.role !== 'string' || !ROLES.includes(p.role as Role)) throw bad(`${where} ("${p.name}") needs a "role": viewer, responder or lead.`);
    const entry: Entry = { name: p.name, role: p.role as Role };
    if (p.tokenSha256 !== undefined) {
      if (typeof p.tokenSha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(p.tokenSha256)) throw bad(`${where} ("${p.name}"): "tokenSha256" must be 64 hex digits (printf %s TOKEN | sha256sum).`);
      entry.tokenHash = Buffer.from(p.tokenSha256, 'hex');
    }
    if (p.certFingerprint !== undefined) {
      const fp = typeof p.certFingerprint === 'string' ? normaliseFingerprint(p.certFingerprint) : undefined;
      if (!fp) throw bad(`${where} ("${p.name}"): "certFingerprint" must be a SHA-256 fingerprint (32 hex pairs, colons optional).`);
      entry.certFingerprint = fp;
    }
    if (!entry.tokenHash && !entry.certFingerprint) throw bad(`${where} ("${p.name}") names no credential: give "tokenSha256", "certFingerprint", or both.`);
    return entry;
  });
  let twoPerson: TwoPersonOperation[] = [...TWO_PERSON_DEFAULT];
  if (doc.twoPerson !== undefined) {
    if (!Array.isArray(doc.twoPerson) || !doc.twoPerson.every((o) => o === 'seize' || o === 'sanitise')) throw bad('"twoPerson" lists operations needing a second approval: "seize", "sanitise", or neither ([]).');
    twoPerson = [...new Set(doc.twoPerson as TwoPersonOperation[])];
  }
  if (doc.requireClientCert !== undefined && typeof doc.requireClientCert !== 'boolean') throw bad('"requireClientCert" is true or false.');
  const requireClientCert = doc.requireClientCert === true;
  if (requireClientCert) {
    const without = entries.find((e) => !e.certFingerprint);
    if (without) throw bad(`"requireClientCert" is on, but "${without.name}" has no "certFingerprint": that principal could never connect.`);
  }
  return build(entries, twoPerson, requireClientCert, true);
}

function build(entries: Entry[], twoPerson: TwoPersonOperation[], requireClientCert: boolean, distinct: boolean): AccessPolicy {
  const principals = entries.map(({ name, role }) => ({ name, role }));
  return {
    twoPerson,
    requireClientCert,
    distinct,
    principals,
    identify(bearer, clientCert) {
      const given = tokenHash(bearer ?? '');
      let found: Principal | undefined;
      // Every entry is compared, whatever matched before: the time taken does not say which one matched.
      for (const e of entries) {
        const tokenOk = e.tokenHash ? timingSafeEqual(given, e.tokenHash) && bearer !== undefined : true;
        const certOk = e.certFingerprint ? clientCert === e.certFingerprint : true;
        if (tokenOk && certOk && found === undefined) found = { name: e.name, role: e.role };
      }
      return found;
    },
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A fingerprint as written in the access file (any case; colons, spaces or none) in its canonical form, or undefined. */
function normaliseFingerprint(text: string): string | undefined {
  const hex = text.trim().replace(/[\s:]/g, '').toUpperCase();
  return /^[0-9A-F]{64}$/.test(hex) ? hex.match(/../g)!.join(':') : undefined;
}
