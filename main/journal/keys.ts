// The responder's signing key: a signer over an Ed25519 KeyObject (the Electron shell keeps the key sealed by
// safeStorage), a file-backed key for tests and the browser shell, and the fingerprint a responder compares.
import { createPrivateKey, createPublicKey, generateKeyPairSync, hash, randomBytes, sign as edSign, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { JournalError, systemCode } from './errors.ts';
import { isValidKeyName, verifierKeyString, type NoteSigner } from './note.ts';

/** The raw 32-byte Ed25519 public key of a public or private KeyObject. */
export function rawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'ed25519') throw new JournalError('bad_key', `The journal signs with Ed25519; this key is ${pub.asymmetricKeyType ?? 'not asymmetric'}.`);
  const jwk = pub.export({ format: 'jwk' });
  return Buffer.from(jwk.x ?? '', 'base64url');
}

/** "SHA256:<base64 without padding>" of the raw public key, the form responders know from SSH. */
export function keyFingerprint(publicKey: Uint8Array): string {
  return `SHA256:${hash('sha256', publicKey, 'base64').replace(/=+$/, '')}`;
}

/** A checkpoint signer over a private key held in this process. */
export function keySigner(privateKey: KeyObject, name: string): NoteSigner {
  if (privateKey.type !== 'private') throw new JournalError('bad_key', 'Checkpoints are signed with a private key; a public key was given.');
  if (!isValidKeyName(name)) throw new JournalError('bad_key', `"${name}" cannot name a signing key: no spaces and no '+'.`);
  const publicKey = rawPublicKey(privateKey);
  return { name, publicKey, sign: (message) => edSign(null, message, privateKey) };
}

/** A private key from a 32-byte Ed25519 seed (RFC 8032), e.g. a test vector. */
export function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new JournalError('bad_key', `An Ed25519 seed is 32 bytes, not ${seed.length}.`);
  // PKCS#8 for Ed25519 is a fixed 16-byte prefix followed by the seed (RFC 8410).
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

/**
 * Loads the Ed25519 private key in PEM (PKCS#8) at `path`, or creates one there readable by its owner only. For tests
 * and the browser shell; the desktop shell keeps its key in safeStorage instead.
 */
export function loadOrCreateKeyFile(path: string): KeyObject {
  let pem: string | undefined;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    if (systemCode(err) !== 'ENOENT') throw new JournalError('bad_key', `Cannot read the signing key ${path} (${systemCode(err)}).`, { cause: err });
  }
  if (pem !== undefined) {
    try {
      const key = createPrivateKey(pem);
      rawPublicKey(key);
      return key;
    } catch (err) {
      throw new JournalError('bad_key', `${path} does not hold an Ed25519 private key in PEM: restore it from a backup, or move it away to make a new one.`, { cause: err });
    }
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
  } catch (err) {
    throw new JournalError('bad_key', `Cannot write a new signing key to ${path} (${systemCode(err)}).`, { cause: err });
  }
  return privateKey;
}

/** What a responder or a verifier needs to know about a key: its note name, verifier string and fingerprint. */
export interface KeyDescription {
  name: string;
  verifierKey: string;
  fingerprint: string;
}

export function describeKey(name: string, publicKey: Uint8Array): KeyDescription {
  return { name, verifierKey: verifierKeyString(name, publicKey), fingerprint: keyFingerprint(publicKey) };
}

/**
 * An OS keychain's sealing (Electron's asynchronous safeStorage, as the desktop shell hands it over). `unseal` says
 * when the keychain wants the value sealed again (its key was rotated, say): the caller writes the new seal back.
 */
export interface Sealer {
  available(): Promise<boolean>;
  seal(plain: string): Promise<Buffer>;
  unseal(sealed: Buffer): Promise<{ plain: string; reseal: boolean }>;
}

/**
 * The responder's key kept sealed by the OS keychain: `read`/`write` hold the sealed seed (base64) in the settings
 * store. A key is made on first use. Without a keychain (Linux with only the plain-text backend), the key file at
 * `fallbackPath` (mode 0600) is used instead, and `warn` says so: a signing key is never stored as plain settings.
 */
export async function loadOrCreateSealedKey(o: { sealer: Sealer; read(): string | undefined; write(sealed: string): void; fallbackPath: string; warn(line: string): void }): Promise<KeyObject> {
  if (!(await o.sealer.available())) {
    o.warn(`cordon: no OS keychain is available: the journal's signing key is kept in ${o.fallbackPath} (mode 0600) instead.`);
    return loadOrCreateKeyFile(o.fallbackPath);
  }
  const sealed = o.read();
  if (sealed !== undefined) {
    let seedHex: string;
    let reseal: boolean;
    try {
      ({ plain: seedHex, reseal } = await o.sealer.unseal(Buffer.from(sealed, 'base64')));
    } catch (err) {
      throw new JournalError('bad_key', 'The OS keychain could not unseal the journal\'s signing key: unlock the keychain, or restore the key from a backup.', { cause: err });
    }
    // The keychain asks for a fresh seal (a rotated key): the same seed, sealed anew, so the old seal can go.
    if (reseal) o.write((await o.sealer.seal(seedHex)).toString('base64'));
    return privateKeyFromSeed(Buffer.from(seedHex, 'hex'));
  }
  const seed = randomBytes(32);
  const key = privateKeyFromSeed(seed);
  o.write((await o.sealer.seal(seed.toString('hex'))).toString('base64'));
  return key;
}
