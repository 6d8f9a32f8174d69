// Writes a seizure package's own files around its evidence: manifest.json, the custody record, the affidavit, the
// signer's public key and the three detached signatures; and appends a handover to a package's custody record.
// Every file is replaced durably (written, synced, renamed), and the signatures are written last, so a crash leaves a
// package whose signatures do not match rather than one that claims more than it holds: cordon-verify says which.
import { createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir, writeFileDurably } from '../main/journal/data-dir.ts';
import { keyFingerprint, rawPublicKey } from '../main/journal/keys.ts';
import { renderAffidavit } from './affidavit.ts';
import { appendEntry, checkChain, custodyBytes, newCustodyDocument, parseCustody, readEntries, type CustodyDocument, type NewCustodyEntry } from './custody.ts';
import { PACKAGE_FORMAT, SIGNED_FILES, type CustodyEntry, type Handler, type Manifest } from './format.ts';

/** A refusal about a package, with a code and a sentence a responder can act on. */
export class PackageError extends Error {
  constructor(readonly code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PackageError';
  }
}

/** Who makes the affidavit, where and when (the responder at the cockpit). */
export interface AffidavitContext {
  responder: Handler;
  place: string;
  madeAt: string;
  timeZone: string;
}

/** manifest.json's bytes: two-space JSON and a final newline (what manifest.json.sig covers). */
export function manifestBytes(manifest: Manifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The "SHA256:…" fingerprint of a key (private or public). */
export function fingerprintOf(key: KeyObject): string {
  return keyFingerprint(rawPublicKey(createPublicKey(key)));
}

/**
 * Seals a new package in `dir`, whose evidence/ folder already holds the files the manifest lists (hashed as they
 * were written): writes the manifest, a custody record whose first entry is the seizure, the affidavit, and signs.
 */
export async function sealPackage(dir: string, manifest: Manifest, seizure: Omit<NewCustodyEntry, 'kind' | 'from'>, key: KeyObject, affidavit: AffidavitContext): Promise<CustodyEntry[]> {
  if (manifest.format !== PACKAGE_FORMAT) throw new PackageError('bad_manifest', `A package manifest has format ${PACKAGE_FORMAT}, not ${String(manifest.format)}.`);
  const mBytes = manifestBytes(manifest);
  const doc = newCustodyDocument(manifest);
  appendEntry(doc, { ...seizure, kind: 'seizure' }, { manifestSha256: sha256Hex(mBytes), key });
  writeFileDurably(join(dir, 'manifest.json'), mBytes);
  return writeCustodyAndSign(dir, manifest, mBytes, doc, key, affidavit);
}

/** The manifest and custody record of the package in `dir`, as they are on disk. */
export function readPackage(dir: string): { manifest: Manifest; manifestBytes: Buffer; custody: CustodyDocument; entries: CustodyEntry[] } {
  let mBytes: Buffer;
  let cBytes: Buffer;
  try {
    mBytes = readFileSync(join(dir, 'manifest.json'));
    cBytes = readFileSync(join(dir, 'custody.jsonld'));
  } catch (err) {
    throw new PackageError('not_a_package', `${dir} is not a seizure package: ${(err as Error).message}`, { cause: err });
  }
  let manifest: Manifest;
  let custody: CustodyDocument;
  try {
    manifest = JSON.parse(mBytes.toString('utf8')) as Manifest;
    custody = parseCustody(cBytes);
  } catch (err) {
    throw new PackageError('bad_package', `${dir}: ${(err as Error).message}`, { cause: err });
  }
  if (manifest.format !== PACKAGE_FORMAT) throw new PackageError('bad_package', `${dir}/manifest.json is not a ${PACKAGE_FORMAT} manifest.`);
  return { manifest, manifestBytes: mBytes, custody, entries: readEntries(custody) };
}

/**
 * Appends a handover to the custody record of the package in `dir` and signs the package again. Refuses when the
 * record on disk does not hold: a handover must not extend a chain that is already broken.
 */
export async function appendHandover(dir: string, handover: Omit<NewCustodyEntry, 'kind'> & { from: Handler }, key: KeyObject, affidavit: AffidavitContext): Promise<CustodyEntry[]> {
  const p = readPackage(dir);
  const findings = checkChain(p.custody, sha256Hex(p.manifestBytes));
  if (findings.length > 0) {
    throw new PackageError('custody_broken', `The custody record of ${dir} does not hold, so no handover is added to it: ${findings.map((f) => f.message).join(' ')}`);
  }
  appendEntry(p.custody, { ...handover, kind: 'transfer' }, { manifestSha256: sha256Hex(p.manifestBytes), key });
  return writeCustodyAndSign(dir, p.manifest, p.manifestBytes, p.custody, key, affidavit);
}

async function writeCustodyAndSign(dir: string, manifest: Manifest, mBytes: Buffer, doc: CustodyDocument, key: KeyObject, affidavit: AffidavitContext): Promise<CustodyEntry[]> {
  const entries = readEntries(doc);
  const cBytes = custodyBytes(doc);
  const pdf = await renderAffidavit({ manifest, custody: entries, signerFingerprint: fingerprintOf(key), ...affidavit });
  writeFileDurably(join(dir, 'custody.jsonld'), cBytes);
  writeFileDurably(join(dir, 'affidavit.pdf'), pdf);
  writeFileDurably(join(dir, 'signer.pem'), String(createPublicKey(key).export({ type: 'spki', format: 'pem' })));
  const signed: Record<(typeof SIGNED_FILES)[number], Uint8Array> = { 'manifest.json': mBytes, 'custody.jsonld': cBytes, 'affidavit.pdf': pdf };
  for (const name of SIGNED_FILES) writeFileDurably(join(dir, `${name}.sig`), sign(null, signed[name], key));
  fsyncDir(dir);
  return entries;
}
