// Verifies a seizure package the way a court's expert would, with nothing but the package and Node: every evidence
// file hashed again (SHA-256 and SHA-1, one read each) and compared with the manifest; no file missing, none added;
// the three detached signatures checked against signer.pem; the chain of custody checked entry by entry; and every
// key that signed compared with the keys the caller trusts (the fingerprint printed on the paper affidavit).
import { verify as edVerify, createPublicKey, type KeyObject } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyFingerprint, rawPublicKey } from '../main/journal/keys.ts';
import { checkChain, parseCustody, readEntries, type CustodyDocument } from './custody.ts';
import { hashFileDual } from './dual-hash.ts';
import { EVIDENCE_DIR, PACKAGE_FORMAT, PACKAGE_ROOT_FILES, SIGNED_FILES, type CustodyEntry, type Manifest, type ManifestFile } from './format.ts';
import { sha256Hex } from './package.ts';
import { shown } from './shown.ts';

export type FindingCode =
  | 'not_a_package' | 'bad_manifest' | 'missing_file' | 'added_file' | 'altered_file' | 'bad_signature'
  | 'custody_chain' | 'unexpected_key' | 'unreadable';

export interface Finding {
  code: FindingCode;
  message: string;
  /** The file concerned, relative to the package. */
  path?: string;
  /** The custody entry concerned. */
  sequence?: number;
}

export interface FileCheck {
  path: string;
  size: number;
  sha256: string;
  sha1: string;
  ok: boolean;
}

export interface VerifyReport {
  dir: string;
  /** Everything holds, and every signer is a key the caller trusts. */
  ok: boolean;
  /** Everything holds, but no trusted key was given: the signer was not checked against anyone. */
  unpinned: boolean;
  manifest?: Manifest;
  custody: CustodyEntry[];
  files: FileCheck[];
  /** Fingerprints of every key that signed something in the package, in order of first use. */
  signers: string[];
  findings: Finding[];
  bytes: number;
  ms: number;
}

export interface VerifyOptions {
  /** "SHA256:…" fingerprints the caller trusts; empty or absent: the report says the signer is unpinned. */
  trustedKeys?: readonly string[];
  onFile?: (path: string, index: number, count: number) => void;
  signal?: AbortSignal;
}

/** A path from the manifest that stays inside evidence/: no absolute path, no `..`, no backslash, no NUL. */
function safeEvidencePath(path: string): boolean {
  if (typeof path !== 'string' || path.length === 0 || path.length > 1024) return false;
  if (path.includes('\\') || path.includes('\0') || path.startsWith('/')) return false;
  const parts = path.split('/');
  return parts[0] === EVIDENCE_DIR && parts.length >= 2 && parts.every((p) => p !== '' && p !== '.' && p !== '..');
}

/** A manifest entry with the fields verification reads, of the right types. */
function isFileRecord(f: unknown): f is ManifestFile {
  if (f === null || typeof f !== 'object' || Array.isArray(f)) return false;
  const r = f as Record<string, unknown>;
  return typeof r.path === 'string' && Number.isSafeInteger(r.size) && typeof r.sha256 === 'string' && typeof r.sha1 === 'string';
}

function listFiles(dir: string, rel: string, out: string[], findings: Finding[]): void {
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const path = `${rel}/${e.name}`;
    if (e.isDirectory()) listFiles(dir, path, out, findings);
    else if (e.isFile()) out.push(path);
    else findings.push({ code: 'added_file', path, message: `${shown(path, 64)} is not a regular file (a link or device): a package holds files only.` });
  }
}

export async function verifyPackage(dir: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = performance.now();
  const report: VerifyReport = { dir, ok: false, unpinned: false, custody: [], files: [], signers: [], findings: [], bytes: 0, ms: 0 };
  const find = (f: Finding) => report.findings.push(f);
  const done = () => {
    report.ms = performance.now() - started;
    const trusted = options.trustedKeys ?? [];
    report.unpinned = report.findings.length === 0 && trusted.length === 0;
    report.ok = report.findings.length === 0 && trusted.length > 0;
    return report;
  };

  let root: string[];
  try {
    if (!lstatSync(dir).isDirectory()) throw new Error('not a folder');
    root = readdirSync(dir);
  } catch (err) {
    find({ code: 'not_a_package', message: `${shown(dir, 1024)} cannot be read as a package folder (${shown((err as Error).message, 300)}).` });
    return done();
  }

  // The root holds the package's own files and evidence/, nothing else.
  const allowed = new Set<string>([...PACKAGE_ROOT_FILES, EVIDENCE_DIR]);
  for (const name of root.sort()) {
    if (!allowed.has(name)) find({ code: 'added_file', path: name, message: `${shown(name, 64)} is not part of a package: it was added after the package was sealed.` });
  }
  for (const name of [...PACKAGE_ROOT_FILES.filter((n) => n !== 'VERIFY.txt'), EVIDENCE_DIR]) {
    if (!root.includes(name)) find({ code: 'missing_file', path: name, message: `${name} is missing from the package.` });
  }

  // The manifest.
  let manifestBytes: Buffer | undefined;
  let manifest: Manifest | undefined;
  try {
    manifestBytes = readFileSync(join(dir, 'manifest.json'));
    const m = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
    if (m?.format !== PACKAGE_FORMAT || !Array.isArray(m.files)) throw new Error(`it is not a ${PACKAGE_FORMAT} manifest`);
    manifest = m;
    report.manifest = m;
  } catch (err) {
    // JSON.parse's complaint quotes the file: shown, so a forged manifest cannot write to the reader's terminal.
    if (root.includes('manifest.json')) find({ code: 'bad_manifest', path: 'manifest.json', message: `manifest.json cannot be read: ${shown((err as Error).message, 300)}.` });
  }

  // Evidence files: listed ⇔ present, and each one's bytes as the manifest says.
  if (manifest) {
    const listed = new Map<string, ManifestFile>();
    for (const [i, f] of manifest.files.entries()) {
      // Whatever the manifest holds: an entry that is not a file record, or a path outside evidence/, is refused unread.
      if (!isFileRecord(f)) {
        find({ code: 'bad_manifest', path: 'manifest.json', message: `File entry ${i + 1} of the manifest is not a file record (a path, a size, a SHA-256 and a SHA-1): it is refused.` });
        continue;
      }
      if (!safeEvidencePath(f.path)) {
        find({ code: 'bad_manifest', path: shown(f.path, 1024), message: `The manifest lists "${shown(f.path, 64)}", a path outside evidence/: it is refused unread.` });
        continue;
      }
      if (listed.has(f.path)) find({ code: 'bad_manifest', path: f.path, message: `The manifest lists ${shown(f.path, 64)} twice.` });
      listed.set(f.path, f);
    }
    const present: string[] = [];
    if (root.includes(EVIDENCE_DIR)) {
      try {
        // evidence/ itself a link would have the files hashed wherever it leads: only a real folder is read.
        if (!lstatSync(join(dir, EVIDENCE_DIR)).isDirectory()) {
          find({ code: 'added_file', path: EVIDENCE_DIR, message: 'evidence/ is not a folder (a link or a file): a package holds its evidence in a folder of its own, so none of it was read.' });
        } else listFiles(dir, EVIDENCE_DIR, present, report.findings);
      } catch (err) {
        find({ code: 'unreadable', path: EVIDENCE_DIR, message: `evidence/ cannot be listed (${shown((err as Error).message, 300)}).` });
      }
    }
    const presentSet = new Set(present);
    for (const path of present.sort()) {
      if (!listed.has(path)) find({ code: 'added_file', path, message: `${shown(path, 64)} is not in the manifest: it was added after the package was sealed.` });
    }
    const toCheck = [...listed.values()];
    let index = 0;
    for (const f of toCheck) {
      options.signal?.throwIfAborted();
      options.onFile?.(f.path, index++, toCheck.length);
      if (!presentSet.has(f.path)) {
        find({ code: 'missing_file', path: f.path, message: `${shown(f.path, 64)} is listed in the manifest (SHA-256 ${shown(f.sha256, 64)}) but missing from the package.` });
        continue;
      }
      try {
        const d = await hashFileDual(join(dir, ...f.path.split('/')), options.signal ? { signal: options.signal } : {});
        report.bytes += d.size;
        const ok = d.size === f.size && d.sha256 === f.sha256 && d.sha1 === f.sha1;
        report.files.push({ path: f.path, size: d.size, sha256: d.sha256, sha1: d.sha1, ok });
        if (!ok) {
          const what = d.size !== f.size ? `its size is ${d.size} bytes, the manifest says ${shown(f.size, 32)}` : `its SHA-256 is ${d.sha256}, the manifest says ${shown(f.sha256, 64)}`;
          find({ code: 'altered_file', path: f.path, message: `${shown(f.path, 64)} was altered: ${what}.` });
        }
      } catch (err) {
        find({ code: 'unreadable', path: f.path, message: `${shown(f.path, 64)} cannot be read (${shown((err as Error).message, 300)}).` });
      }
    }
  }

  // The signatures, by the key in signer.pem.
  let signer: KeyObject | undefined;
  let signerFingerprint: string | undefined;
  try {
    signer = createPublicKey(readFileSync(join(dir, 'signer.pem')));
    if (signer.asymmetricKeyType !== 'ed25519') throw new Error(`it is a ${signer.asymmetricKeyType ?? 'non-asymmetric'} key, not Ed25519`);
    signerFingerprint = keyFingerprint(rawPublicKey(signer));
    report.signers.push(signerFingerprint);
  } catch (err) {
    signer = undefined;
    if (root.includes('signer.pem')) find({ code: 'bad_signature', path: 'signer.pem', message: `signer.pem does not hold an Ed25519 public key (${shown((err as Error).message, 300)}).` });
  }
  if (signer) {
    for (const name of SIGNED_FILES) {
      let data: Buffer;
      let sig: Buffer;
      try {
        data = readFileSync(join(dir, name));
        sig = readFileSync(join(dir, `${name}.sig`));
      } catch {
        continue; // its absence is a finding already
      }
      if (!edVerify(null, data, signer, sig)) find({ code: 'bad_signature', path: name, message: `${name}.sig does not verify ${name} with the key in signer.pem (${signerFingerprint}): ${name} was altered or re-signed by another key.` });
    }
  }

  // The chain of custody.
  let custody: CustodyDocument | undefined;
  try {
    custody = parseCustody(readFileSync(join(dir, 'custody.jsonld')));
  } catch (err) {
    if (root.includes('custody.jsonld')) find({ code: 'custody_chain', path: 'custody.jsonld', message: `custody.jsonld cannot be read: ${shown((err as Error).message, 300)}.` });
  }
  if (custody && manifestBytes) {
    try {
      for (const f of checkChain(custody, sha256Hex(manifestBytes))) find({ code: 'custody_chain', path: 'custody.jsonld', sequence: f.sequence, message: f.message });
    } catch (err) {
      // A record too deep to hash, or shaped so that no entry can be read: the chain cannot hold.
      find({ code: 'custody_chain', path: 'custody.jsonld', message: `custody.jsonld cannot be checked: ${shown((err as Error).message, 300)}.` });
    }
    try {
      report.custody = readEntries(custody);
    } catch {
      report.custody = [];
    }
    for (const e of report.custody) if (!report.signers.includes(e.signerFingerprint)) report.signers.push(e.signerFingerprint);
    const last = report.custody[report.custody.length - 1];
    if (last && signerFingerprint && last.signerFingerprint !== signerFingerprint) {
      find({ code: 'unexpected_key', path: 'signer.pem', message: `The package is signed by ${signerFingerprint}, but its latest custody entry (${last.sequence}) was signed by ${shown(last.signerFingerprint, 64)}: someone re-signed the package without recording a custody entry.` });
    }
  }

  // Every signer must be a key the caller trusts.
  const trusted = new Set(options.trustedKeys ?? []);
  if (trusted.size > 0) {
    for (const fp of report.signers) {
      if (!trusted.has(fp)) find({ code: 'unexpected_key', message: `Key ${shown(fp, 64)} signed part of this package, and it is not a key you said to trust (${[...trusted].join(', ')}).` });
    }
  }
  return done();
}
