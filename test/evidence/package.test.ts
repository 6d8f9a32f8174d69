// A seizure package sealed, handed over and verified, and each way of tampering with it caught by cordon-verify
// (the library and the standalone command), with the finding a court's expert would need to read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { execFile } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import jsonld from 'jsonld';
import { appendHandover, fingerprintOf, manifestBytes } from '../../evidence/package.ts';
import { affidavit, makePackage } from './fixture.ts';
import { verifyPackage } from '../../evidence/verify.ts';
import { parseCustody } from '../../evidence/custody.ts';
import type { Manifest } from '../../evidence/format.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const VERIFY = join(ROOT, 'bin', 'cordon-verify.js');

const responder = generateKeyPairSync('ed25519').privateKey;
const intruder = generateKeyPairSync('ed25519').privateKey;
let pristine: string;

/** A fresh copy of the sealed (and handed-over) package, for one tampering. */
function copy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-pkg-copy-'));
  cpSync(pristine, dir, { recursive: true });
  return dir;
}

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, [VERIFY, ...args], { cwd: ROOT });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: `${e.stdout}${e.stderr}` };
  }
}

test('a sealed package, handed over once, verifies: every file, the three signatures, the two custody entries', async () => {
  pristine = await makePackage(responder);
  await appendHandover(pristine, {
    at: '2026-11-23T15:02:00+01:00', timeZone: 'Europe/Paris', from: { name: 'A. Moreau', role: 'incident responder' },
    to: { name: 'Lt. B. Girard', role: 'judicial police officer', agency: 'Police nationale' }, location: 'Commissariat Lyon 3e',
    storageLocation: 'Evidence locker 14, Lyon 3e', reason: 'Handed to the police for the investigation',
  }, responder, { ...affidavit, madeAt: '2026-11-23T15:02:00+01:00' });
  const r = await verifyPackage(pristine, { trustedKeys: [fingerprintOf(responder)] });
  assert.deepEqual(r.findings, []);
  assert.equal(r.ok, true);
  assert.equal(r.files.length, 4);
  assert.deepEqual(r.custody.map((e) => e.kind), ['seizure', 'transfer']);
  assert.equal(r.custody[1]!.to.name, 'Lt. B. Girard');
  assert.deepEqual(r.signers, [fingerprintOf(responder)]);

  const pinned = await cli([pristine, '--key', fingerprintOf(responder)]);
  assert.equal(pinned.code, 0, pinned.out);
  assert.match(pinned.out, /RESULT: VERIFIED/);
  assert.match(pinned.out, /Lt\. B\. Girard/);
  const unpinned = await cli(['package', pristine]);
  assert.equal(unpinned.code, 3, unpinned.out);
  assert.match(unpinned.out, /SIGNER NOT PINNED/);
});

test('a flipped byte in an evidence file fails, naming the file', async () => {
  const dir = copy();
  const path = join(dir, 'evidence', 'memory.elf');
  const bytes = readFileSync(path);
  bytes[1_000_000] = bytes[1_000_000]! ^ 0x01;
  writeFileSync(path, bytes);
  const r = await cli([dir, '--key', fingerprintOf(responder)]);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /PROBLEM: +evidence\/memory\.elf was altered: its SHA-256 is [0-9a-f]{64}, the manifest says/);
  rmSync(dir, { recursive: true });
});

test('a missing file and an added file each fail, named', async () => {
  const dir = copy();
  rmSync(join(dir, 'evidence', 'disk.raw'));
  writeFileSync(join(dir, 'evidence', 'planted.bin'), 'not from the VM');
  appendFileSync(join(dir, 'NOTES.txt'), 'added later');
  const r = await verifyPackage(dir, { trustedKeys: [fingerprintOf(responder)] });
  assert.equal(r.ok, false);
  const byCode = (code: string) => r.findings.filter((f) => f.code === code).map((f) => f.path);
  assert.deepEqual(byCode('missing_file'), ['evidence/disk.raw']);
  assert.deepEqual(byCode('added_file').sort(), ['NOTES.txt', 'evidence/planted.bin']);
  const out = await cli([dir, '--key', fingerprintOf(responder)]);
  assert.equal(out.code, 1);
  assert.match(out.out, /evidence\/disk\.raw is listed in the manifest .* but missing from the package/);
  assert.match(out.out, /evidence\/planted\.bin is not in the manifest: it was added after the package was sealed/);
  rmSync(dir, { recursive: true });
});

test('an altered custody entry fails: its own signature and the file signature both say so', async () => {
  const dir = copy();
  const doc = parseCustody(readFileSync(join(dir, 'custody.jsonld')));
  const entry = doc['@graph'].find((n) => n['cordon:sequence'] === 2)!;
  entry['cordon:reason'] = 'Returned to the owner';
  writeFileSync(join(dir, 'custody.jsonld'), `${JSON.stringify(doc, null, 2)}\n`);
  const r = await verifyPackage(dir, { trustedKeys: [fingerprintOf(responder)] });
  assert.equal(r.ok, false);
  assert.ok(r.findings.some((f) => f.code === 'custody_chain' && f.sequence === 2 && /signature does not verify: the entry was altered/.test(f.message)), JSON.stringify(r.findings));
  assert.ok(r.findings.some((f) => f.code === 'bad_signature' && f.path === 'custody.jsonld'));
  rmSync(dir, { recursive: true });
});

test('reordered custody entries fail, even re-signed as a whole by the same key', async () => {
  const dir = copy();
  const doc = parseCustody(readFileSync(join(dir, 'custody.jsonld')));
  const graph = doc['@graph'];
  const i1 = graph.findIndex((n) => n['cordon:sequence'] === 1);
  const i2 = graph.findIndex((n) => n['cordon:sequence'] === 2);
  [graph[i1], graph[i2]] = [graph[i2]!, graph[i1]!];
  const bytes = Buffer.from(`${JSON.stringify(doc, null, 2)}\n`);
  writeFileSync(join(dir, 'custody.jsonld'), bytes);
  // The responder's key itself re-signs the file: the chain, not the file signature, must catch it.
  writeFileSync(join(dir, 'custody.jsonld.sig'), sign(null, bytes, responder));
  const r = await verifyPackage(dir, { trustedKeys: [fingerprintOf(responder)] });
  assert.equal(r.ok, false);
  assert.ok(r.findings.some((f) => f.code === 'custody_chain' && /stands at position 1: the entries were reordered/.test(f.message)), JSON.stringify(r.findings));
  assert.ok(r.findings.some((f) => f.code === 'custody_chain' && /first custody entry is a transfer/.test(f.message)));
  assert.ok(!r.findings.some((f) => f.code === 'bad_signature'));
  rmSync(dir, { recursive: true });
});

test('a package re-signed by an unexpected key fails against the affidavit\'s fingerprint, and on its own', async () => {
  const dir = copy();
  // The intruder changes the disk image, rewrites the manifest and signs everything with their own key.
  const disk = randomBytes(1024 * 1024);
  writeFileSync(join(dir, 'evidence', 'disk.raw'), disk);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const f = manifest.files.find((x) => x.path === 'evidence/disk.raw')!;
  f.sha256 = createHash('sha256').update(disk).digest('hex');
  f.sha1 = createHash('sha1').update(disk).digest('hex');
  const mBytes = manifestBytes(manifest);
  writeFileSync(join(dir, 'manifest.json'), mBytes);
  writeFileSync(join(dir, 'signer.pem'), String(createPublicKey(intruder).export({ type: 'spki', format: 'pem' })));
  for (const name of ['manifest.json', 'custody.jsonld', 'affidavit.pdf']) writeFileSync(join(dir, `${name}.sig`), sign(null, readFileSync(join(dir, name)), intruder));

  const pinned = await cli([dir, '--key', fingerprintOf(responder)]);
  assert.equal(pinned.code, 1, pinned.out);
  assert.match(pinned.out, new RegExp(`Key ${fingerprintOf(intruder).replace(/[+/]/g, '\\$&')} signed part of this package, and it is not a key you said to trust`));
  const alone = await verifyPackage(dir);
  assert.equal(alone.ok, false);
  assert.ok(alone.findings.some((x) => x.code === 'unexpected_key' && /re-signed the package without recording a custody entry/.test(x.message)), JSON.stringify(alone.findings));
  // The custody entries still name the manifest they were signed for.
  assert.ok(alone.findings.some((x) => x.code === 'custody_chain' && /signed for another manifest/.test(x.message)));
  rmSync(dir, { recursive: true });
});

test('custody.jsonld is JSON-LD that expands under the CASE/UCO context to RDF', async () => {
  const doc = JSON.parse(readFileSync(join(pristine, 'custody.jsonld'), 'utf8')) as object;
  // No network: every term is defined inline, so a loader is never needed.
  const documentLoader = async (url: string): Promise<never> => { throw new Error(`no remote context may be fetched (${url})`); };
  const nquads = await jsonld.toRDF(doc, { format: 'application/n-quads', documentLoader } as never) as unknown as string;
  assert.match(nquads, /<https:\/\/ontology\.caseontology\.org\/case\/investigation\/InvestigativeAction>/);
  assert.match(nquads, /<https:\/\/ontology\.caseontology\.org\/case\/investigation\/ProvenanceRecord>/);
  assert.match(nquads, /<https:\/\/ontology\.unifiedcyberontology\.org\/uco\/action\/performer>/);
  assert.match(nquads, /<https:\/\/ontology\.unifiedcyberontology\.org\/uco\/observable\/File>/);
  const manifest = JSON.parse(readFileSync(join(pristine, 'manifest.json'), 'utf8')) as Manifest;
  for (const f of manifest.files) assert.ok(nquads.includes(`"${f.sha256}"^^<http://www.w3.org/2001/XMLSchema#hexBinary>`), `${f.path}'s SHA-256 is a hexBinary literal`);
  const expanded = (await jsonld.expand(doc, { documentLoader } as never)) as unknown as unknown[];
  assert.ok(expanded.length > 0);
});

test('a handover is refused on a package whose custody chain is already broken', async () => {
  const dir = copy();
  const doc = parseCustody(readFileSync(join(dir, 'custody.jsonld')));
  doc['@graph'].find((n) => n['cordon:sequence'] === 1)!['cordon:storageLocation'] = 'somewhere else';
  writeFileSync(join(dir, 'custody.jsonld'), `${JSON.stringify(doc, null, 2)}\n`);
  await assert.rejects(appendHandover(dir, {
    at: '2026-11-24T09:00:00+01:00', timeZone: 'Europe/Paris', from: { name: 'Lt. B. Girard', role: 'officer' }, to: { name: 'Dr C. Lenoir', role: 'court expert' },
    location: 'Tribunal judiciaire de Lyon', storageLocation: 'Expert lab', reason: 'Expertise ordered by the judge',
  }, responder, affidavit), (err: Error & { code?: string }) => err.code === 'custody_broken' && /does not hold, so no handover is added/.test(err.message));
  rmSync(dir, { recursive: true });
});

test.after(() => {
  if (pristine) rmSync(pristine, { recursive: true, force: true });
});
