// Signed checkpoints in the C2SP formats, so any tlog tool (Go's sumdb/note, Sigsum, Tessera) can read them:
// c2sp.org/signed-note (text, blank line, "— <key name> base64(key ID || signature)" lines, Ed25519 type 0x01) and
// c2sp.org/tlog-checkpoint (origin line, tree size in decimal, base64 root hash of the RFC 6962 tree).
//
// Key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4], big-endian, as the signed-note spec
// recommends for Ed25519. A verifier key is written as Go's note package writes it: "<name>+<key ID, 8 hex
// digits>+<base64(0x01 || public key)>", which is what a responder pastes after `cordon-verify --key`.
import { createPublicKey, hash, verify as edVerify, type KeyObject } from 'node:crypto';

export const ED25519_TYPE = 0x01;
const EM_DASH_PREFIX = '\u2014 ';
/** More signatures than this on one checkpoint is not something Cordon writes; refuse rather than loop. */
const MAX_SIGNATURES = 100;

/** Who signs a checkpoint: the responder's key, held in safeStorage by the shell or in a file for tests. */
export interface NoteSigner {
  /** Key name on the signature line: no spaces, no '+'. */
  readonly name: string;
  /** The raw 32-byte Ed25519 public key. */
  readonly publicKey: Buffer;
  sign(message: Buffer): Buffer | Uint8Array | Promise<Buffer | Uint8Array>;
}

export interface NoteVerifier {
  name: string;
  /** 32-bit key ID. */
  id: number;
  publicKey: Buffer;
}

export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name) && !hasControl(name, false);
}

export function keyId(name: string, publicKey: Uint8Array): number {
  const h = hash('sha256', Buffer.concat([Buffer.from(name, 'utf8'), Buffer.from([0x0a, ED25519_TYPE]), publicKey]), 'buffer');
  return h.readUInt32BE(0);
}

export function verifierKeyString(name: string, publicKey: Uint8Array): string {
  const id = keyId(name, publicKey).toString(16).padStart(8, '0');
  return `${name}+${id}+${Buffer.concat([Buffer.from([ED25519_TYPE]), publicKey]).toString('base64')}`;
}

/** Parses "<name>+<hex id>+<base64(0x01 || key)>"; undefined when malformed or when the id does not match. */
export function parseVerifierKey(text: string): NoteVerifier | undefined {
  // Names have no '+', but base64 may: split at the first two.
  const trimmed = text.trim();
  const mid = trimmed.indexOf('+');
  const last = trimmed.indexOf('+', mid + 1);
  if (mid <= 0 || last < 0) return undefined;
  const name = trimmed.slice(0, mid);
  const idHex = trimmed.slice(mid + 1, last);
  const key = Buffer.from(trimmed.slice(last + 1), 'base64');
  if (key.toString('base64') !== trimmed.slice(last + 1)) return undefined;
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(idHex) || key.length !== 33 || key[0] !== ED25519_TYPE) return undefined;
  const publicKey = key.subarray(1);
  const id = Number.parseInt(idHex, 16);
  if (keyId(name, publicKey) !== id) return undefined;
  return { name, id, publicKey };
}

export function ed25519PublicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

/** Signs a note's text (which must end with a newline) and returns the whole signed note. */
export async function signNote(text: string, signer: NoteSigner): Promise<string> {
  if (!text.endsWith('\n') || text.includes('\n\n') || hasControl(text, true)) {
    throw new RangeError('A note text ends with one newline, has no blank line and no control character.');
  }
  if (!isValidKeyName(signer.name)) throw new RangeError(`"${signer.name}" cannot be a key name: no spaces and no '+'.`);
  const sig = Buffer.from(await signer.sign(Buffer.from(text, 'utf8')));
  if (sig.length !== 64) throw new RangeError(`An Ed25519 signature is 64 bytes; the signer returned ${sig.length}.`);
  const blob = Buffer.alloc(4 + 64);
  blob.writeUInt32BE(keyId(signer.name, signer.publicKey), 0);
  sig.copy(blob, 4);
  return `${text}\n${EM_DASH_PREFIX}${signer.name} ${blob.toString('base64')}\n`;
}

export interface NoteSignature {
  name: string;
  id: number;
  signature: Buffer;
}

export type OpenedNote =
  | { ok: true; text: string; verifiedBy: NoteVerifier[]; signatures: NoteSignature[] }
  | { ok: false; code: 'malformed_note' | 'unknown_key' | 'bad_signature'; message: string; text?: string; signatures?: NoteSignature[] };

/** Splits a signed note into its text and signature lines, without checking any signature. */
export function parseNote(note: string): { text: string; signatures: NoteSignature[] } | { error: string } {
  if (hasControl(note, true)) return { error: 'the note holds a control character' };
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return { error: 'the note has no blank line before its signatures' };
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2);
  if (!lines.endsWith('\n')) return { error: 'the note does not end with a newline' };
  const signatures: NoteSignature[] = [];
  for (const line of lines.slice(0, -1).split('\n')) {
    if (!line.startsWith(EM_DASH_PREFIX)) return { error: `"${line.slice(0, 40)}" is not a signature line` };
    const rest = line.slice(EM_DASH_PREFIX.length);
    const space = rest.lastIndexOf(' ');
    const name = rest.slice(0, space);
    const blob = Buffer.from(rest.slice(space + 1), 'base64');
    if (space <= 0 || !isValidKeyName(name) || blob.length < 5 || blob.toString('base64') !== rest.slice(space + 1)) {
      return { error: `the signature line "${line.slice(0, 40)}" is malformed` };
    }
    signatures.push({ name, id: blob.readUInt32BE(0), signature: blob.subarray(4) });
    if (signatures.length > MAX_SIGNATURES) return { error: `the note has more than ${MAX_SIGNATURES} signatures` };
  }
  if (signatures.length === 0) return { error: 'the note has no signature' };
  return { text, signatures };
}

/**
 * Opens a signed note with the keys the caller trusts. As the spec says: signatures by unknown keys are ignored, a
 * known key whose signature fails rejects the whole note, and at least one known key must have signed.
 */
export function openNote(note: string, verifiers: readonly NoteVerifier[]): OpenedNote {
  const parsed = parseNote(note);
  if ('error' in parsed) return { ok: false, code: 'malformed_note', message: `The checkpoint is malformed: ${parsed.error}.` };
  const msg = Buffer.from(parsed.text, 'utf8');
  const verifiedBy: NoteVerifier[] = [];
  for (const sig of parsed.signatures) {
    const v = verifiers.find((k) => k.name === sig.name && k.id === sig.id);
    if (!v) continue;
    const good = sig.signature.length === 64 && edVerify(null, msg, ed25519PublicKeyObject(v.publicKey), sig.signature);
    if (!good) {
      return { ok: false, code: 'bad_signature', message: `The signature by key "${sig.name}" (id ${hex8(sig.id)}) does not verify: the checkpoint was altered or forged.`, text: parsed.text, signatures: parsed.signatures };
    }
    if (!verifiedBy.includes(v)) verifiedBy.push(v);
  }
  if (verifiedBy.length === 0) {
    const names = parsed.signatures.map((s) => `${s.name} (id ${hex8(s.id)})`).join(', ');
    return { ok: false, code: 'unknown_key', message: `The checkpoint is signed only by keys this check does not trust: ${names}.`, text: parsed.text, signatures: parsed.signatures };
  }
  return { ok: true, text: parsed.text, verifiedBy, signatures: parsed.signatures };
}

export interface CheckpointBody {
  origin: string;
  size: number;
  root: Buffer;
}

export function checkpointText(origin: string, size: number, root: Uint8Array): string {
  return `${origin}\n${size}\n${Buffer.from(root).toString('base64')}\n`;
}

export function parseCheckpointText(text: string): CheckpointBody | { error: string } {
  const lines = text.split('\n');
  if (lines.length < 4 || lines[lines.length - 1] !== '') return { error: 'a checkpoint has at least three lines' };
  const [origin, sizeText, rootText] = lines as [string, string, string];
  if (origin.length === 0) return { error: 'the origin line is empty' };
  if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeText)) return { error: `"${sizeText.slice(0, 20)}" is not a tree size` };
  const root = Buffer.from(rootText, 'base64');
  if (root.length !== 32 || root.toString('base64') !== rootText) return { error: 'the root hash is not 32 bytes of base64' };
  for (let i = 3; i < lines.length - 1; i++) if (lines[i] === '') return { error: 'an extension line is empty' };
  return { origin, size: Number(sizeText), root };
}

/** The spec forbids ASCII control characters in a note other than newline. */
function hasControl(text: string, newlineAllowed: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && !(newlineAllowed && c === 0x0a)) return true;
  }
  return false;
}

export function hex8(id: number): string {
  return id.toString(16).padStart(8, '0');
}
