// Bad-input campaign (issue 8): the seizure package as cordon-verify reads it (evidence/verify.ts, verify-cli.ts) —
// manifest.json and custody.jsonld as a forger, a damaged medium or a careless copy leaves them — and the export's
// path check (evidence/export.ts checkPaths). Whatever the files hold: verification answers with findings (each a
// bounded sentence, no raw control character, no long echo of the hostile value), never throws, never reads a file
// outside the package's evidence/ folder, and the printed report is plain text a terminal cannot be steered by; the
// untouched package still verifies afterwards.
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { checkPaths } from '../../evidence/export.ts';
import { PACKAGE_FORMAT, type Manifest } from '../../evidence/format.ts';
import { EvidenceIoError } from '../../evidence/io-errors.ts';
import { fingerprintOf, manifestBytes } from '../../evidence/package.ts';
import { formatPackageReport, runPackageVerify } from '../../evidence/verify-cli.ts';
import { verifyPackage, type VerifyReport } from '../../evidence/verify.ts';
import { makePackage } from '../evidence/fixture.ts';
import { record } from './campaign.ts';
import {
  anyString, assertClearError, assertNoLongEcho, assertPrototypesClean, deepJson, hostileValue, INVALID_UTF8, invalidUtf8In, mutatedJson, params,
  pollutingVariants, RAW_CONTROL, Tally,
} from './kit.ts';

const key = generateKeyPairSync('ed25519').privateKey;
const forger = generateKeyPairSync('ed25519').privateKey;
const FINGERPRINT = fingerprintOf(key);
const TARGET = 'evidence package manifest and custody record (cordon-verify)';

/** Checks one report: no throw happened, every finding is a clear sentence, the printed report is inert text. */
function checkReport(r: VerifyReport, hostile: readonly string[]): void {
  for (const f of r.findings) {
    assertClearError(f.message, 4096);
    for (const h of hostile) assertNoLongEcho(f.message, h);
    assert.ok(!RAW_CONTROL.test(f.message), `a finding carries a raw control character: ${JSON.stringify(f.message.slice(0, 200))}`);
  }
  let text: string;
  try {
    text = formatPackageReport(r);
  } catch (err) {
    assert.fail(`the report could not be printed: ${(err as Error).stack ?? String(err)}`);
  }
  const bad = RAW_CONTROL.exec(text.replaceAll('\n', ''));
  assert.equal(bad, null, `the printed report carries a raw control character ${JSON.stringify(bad?.[0])}: ${JSON.stringify(text.slice(Math.max(0, (bad?.index ?? 0) - 80), (bad?.index ?? 0) + 80))}`);
  for (const line of text.split('\n')) assert.ok(line.length <= 5000, `every printed line is bounded (${line.length})`);
  // Nothing outside evidence/ was hashed.
  for (const f of r.files) assert.ok(/^evidence\/[^\0\\]+$/.test(f.path) && !f.path.split('/').includes('..'), `hashed only inside evidence/: ${f.path}`);
}

describe('bad input: seizure package files (cordon-verify)', () => {
  const root = mkdtempSync(join(tmpdir(), 'cordon-campaign-pkg-'));
  let pristine: string;
  let work: string;
  let goodManifest: Manifest;
  let goodManifestText: string;
  let goodCustodyText: string;
  const outside = join(root, 'outside.bin');

  before(async () => {
    pristine = await makePackage(key, { dir: join(root, 'package'), small: true });
    work = join(root, 'work');
    cpSync(pristine, work, { recursive: true });
    goodManifestText = readFileSync(join(pristine, 'manifest.json'), 'utf8');
    goodManifest = JSON.parse(goodManifestText) as Manifest;
    goodCustodyText = readFileSync(join(pristine, 'custody.jsonld'), 'utf8');
    // A file beside the package with the hashes of one of its evidence files: a manifest pointing at it must not pass.
    writeFileSync(outside, 'ELF core of docview-07\n');
  });

  after(async () => {
    const r = await verifyPackage(pristine, { trustedKeys: [FINGERPRINT] });
    assert.ok(r.ok, JSON.stringify(r.findings));
    assertPrototypesClean();
    rmSync(root, { recursive: true, force: true });
  });

  /** Verifies the work copy with `manifest` (bytes or text) in place, signed by the forger when asked; returns whether it was refused. */
  async function withManifest(manifest: string | Buffer, o: { resign?: boolean; hostile?: string[] } = {}): Promise<boolean> {
    writeFileSync(join(work, 'manifest.json'), manifest);
    if (o.resign) writeFileSync(join(work, 'manifest.json.sig'), sign(null, Buffer.from(manifest), forger));
    let r: VerifyReport;
    try {
      r = await verifyPackage(work, { trustedKeys: [FINGERPRINT] });
    } catch (err) {
      assert.fail(`verifyPackage threw on ${JSON.stringify(String(manifest).slice(0, 300))}: ${(err as Error).stack ?? String(err)}`);
    } finally {
      writeFileSync(join(work, 'manifest.json'), goodManifestText);
      writeFileSync(join(work, 'manifest.json.sig'), readFileSync(join(pristine, 'manifest.json.sig')));
    }
    checkReport(r, o.hostile ?? [String(manifest)]);
    if (String(manifest) !== goodManifestText) assert.equal(r.ok, false, 'an altered manifest never verifies');
    return !r.ok;
  }

  async function withCustody(custody: string | Buffer, hostile: string[] = [String(custody)]): Promise<boolean> {
    writeFileSync(join(work, 'custody.jsonld'), custody);
    let r: VerifyReport;
    try {
      r = await verifyPackage(work, { trustedKeys: [FINGERPRINT] });
    } catch (err) {
      assert.fail(`verifyPackage threw on custody ${JSON.stringify(String(custody).slice(0, 300))}: ${(err as Error).stack ?? String(err)}`);
    } finally {
      writeFileSync(join(work, 'custody.jsonld'), goodCustodyText);
    }
    checkReport(r, hostile);
    if (String(custody) !== goodCustodyText) assert.equal(r.ok, false, 'an altered custody record never verifies');
    return !r.ok;
  }

  const asyncCase = (kind: string, arb: fc.Arbitrary<string>, runs: number, run: (text: string) => Promise<boolean>, outcome: string) => test(kind, async () => {
    const t = new Tally();
    await fc.assert(fc.asyncProperty(arb, async (text) => { t.count(await run(text)); }), params(runs));
    record({ campaign: 'bad-input', target: TARGET, kind, tried: t.tried, refused: t.refused, crashes: 0, outcome });
  });

  const manifestLike = fc.record({
    format: fc.oneof(fc.constant(PACKAGE_FORMAT), hostileValue),
    files: fc.oneof(hostileValue, fc.array(fc.oneof(hostileValue, fc.record({ path: hostileValue, size: hostileValue, sha256: hostileValue, sha1: hostileValue }, { requiredKeys: [] })), { maxLength: 5 })),
    case: fc.oneof(hostileValue, fc.record({ caseNumber: hostileValue, agency: hostileValue, exhibit: hostileValue }, { requiredKeys: [] })),
    item: hostileValue, capture: hostileValue, packageId: hostileValue,
  }, { requiredKeys: ['format', 'files'] }).map((v) => JSON.stringify(v));

  // The manifest, signed by the package's key (so only a changed byte is caught) or re-signed by a forger.
  const manifestCases: { kind: string; arb: () => fc.Arbitrary<string>; runs: number; resign: boolean; outcome: string }[] = [
    { kind: 'manifest.json: random strings', arb: () => anyString, runs: 150, resign: false, outcome: 'A finding "manifest.json cannot be read" and a failed result; no throw.' },
    { kind: 'manifest.json: random JSON values', arb: () => fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)), runs: 150, resign: false, outcome: 'Refused as not a manifest, with a finding.' },
    { kind: 'manifest.json: valid manifests with fields removed, retyped or added, re-signed by a forger', arb: () => mutatedJson([goodManifest]), runs: 200, resign: true,
      outcome: 'Every file entry of the wrong shape is a finding; the forger\'s key is named; the printed report shows hostile text escaped.' },
    { kind: 'manifest.json: manifest-shaped objects with hostile values in every field, re-signed by a forger', arb: () => manifestLike, runs: 200, resign: true,
      outcome: 'No throw on objects, arrays or numbers where text is expected; every finding is bounded and escaped.' },
  ];
  for (const c of manifestCases) {
    test(c.kind, async () => {
      const t = new Tally();
      await fc.assert(fc.asyncProperty(c.arb(), async (text) => { t.count(await withManifest(text, { resign: c.resign })); }), params(c.runs));
      record({ campaign: 'bad-input', target: TARGET, kind: c.kind, tried: t.tried, refused: t.refused, crashes: 0, outcome: c.outcome });
    });
  }

  test('manifest.json: invalid UTF-8 bytes', async () => {
    const t = new Tally();
    await fc.assert(fc.asyncProperty(invalidUtf8In(Buffer.from(goodManifestText)), async (bytes) => { t.count(await withManifest(bytes, { resign: true })); }), params(150));
    for (const b of INVALID_UTF8) t.count(await withManifest(Buffer.concat([b, Buffer.from(goodManifestText)])));
    record({ campaign: 'bad-input', target: TARGET, kind: 'manifest.json: invalid UTF-8 bytes', tried: t.tried, refused: t.refused, crashes: 0,
      outcome: 'Refused: the signature no longer holds, or the JSON does not parse; replacement characters never reach a path.' });
  });

  test('manifest.json: path traversal, absolute paths, NUL bytes, backslashes and links in file paths', async () => {
    const t = new Tally();
    const outsideFile = { ...goodManifest.files.find((f) => f.path === 'evidence/memory.elf')! };
    const paths = ['../outside.bin', '../../outside.bin', 'evidence/../../outside.bin', 'evidence/../manifest.json', resolve(outside), `/${outside}`, 'evidence/./memory.elf', 'evidence//memory.elf',
      'evidence/memory.elf\0.txt', 'evidence\\..\\..\\outside.bin', 'evidence/..', 'evidence', '', 'C:/Windows/win.ini', 'evidence/%2e%2e/outside.bin', 'manifest.json', 'signer.pem', `evidence/${'a/'.repeat(600)}x`,
      'evidence/\x1b]0;pwned\x07', 'evidence/<img src=x onerror=alert(1)>'];
    for (const path of paths) {
      const m = { ...goodManifest, files: [...goodManifest.files, { ...outsideFile, path }] };
      const text = `${JSON.stringify(m, null, 2)}\n`;
      writeFileSync(join(work, 'manifest.json'), text);
      writeFileSync(join(work, 'manifest.json.sig'), sign(null, Buffer.from(text), key));
      let r: VerifyReport;
      try {
        r = await verifyPackage(work, { trustedKeys: [FINGERPRINT] });
      } finally {
        writeFileSync(join(work, 'manifest.json'), goodManifestText);
        writeFileSync(join(work, 'manifest.json.sig'), readFileSync(join(pristine, 'manifest.json.sig')));
      }
      checkReport(r, [path]);
      assert.equal(r.ok, false, `a manifest listing ${JSON.stringify(path)} does not verify`);
      assert.ok(r.findings.some((f) => f.code === 'bad_manifest' || f.code === 'missing_file'), `${JSON.stringify(path)} is a finding: ${JSON.stringify(r.findings)}`);
      assert.ok(!r.files.some((f) => f.path === path && !path.startsWith('evidence/') ), 'never hashed');
      t.count(true);
    }
    // A link inside evidence/ that leads out of the package, and evidence/ itself a link.
    symlinkSync(outside, join(work, 'evidence', 'link.bin'));
    let r = await verifyPackage(work, { trustedKeys: [FINGERPRINT] });
    rmSync(join(work, 'evidence', 'link.bin'));
    checkReport(r, []);
    assert.ok(r.findings.some((f) => f.code === 'added_file' && /not a regular file/.test(f.message)), JSON.stringify(r.findings));
    t.count(true);
    const moved = join(root, 'real-evidence');
    cpSync(join(work, 'evidence'), moved, { recursive: true });
    rmSync(join(work, 'evidence'), { recursive: true });
    symlinkSync(moved, join(work, 'evidence'));
    try {
      r = await verifyPackage(work, { trustedKeys: [FINGERPRINT] });
    } finally {
      rmSync(join(work, 'evidence'));
      cpSync(moved, join(work, 'evidence'), { recursive: true });
    }
    checkReport(r, []);
    assert.equal(r.ok, false, 'evidence/ as a link out of the package does not verify');
    assert.ok(r.findings.some((f) => /evidence.*link|link.*evidence|not a regular|not a folder/i.test(f.message)), JSON.stringify(r.findings));
    t.count(true);
    const good = await verifyPackage(work, { trustedKeys: [FINGERPRINT] });
    assert.ok(good.ok, JSON.stringify(good.findings));
    record({ campaign: 'bad-input', target: TARGET, kind: 'path traversal, absolute paths, NUL bytes, backslashes and links in manifest paths', tried: t.tried, refused: t.refused, crashes: 0,
      outcome: 'Each listed path outside evidence/ is a "bad_manifest" finding and is never opened; links are refused as not regular files.' });
  });

  test('manifest.json and custody.jsonld: deeply nested JSON (100,000 levels) and __proto__ keys', async () => {
    const t = new Tally();
    const manifestTexts = [deepJson(100_000, 'array'), deepJson(100_000, 'object'), ...pollutingVariants(goodManifest as unknown as Record<string, unknown>, ['case', 'item'])];
    for (const k of ['files', 'case', 'item', 'capture']) for (const kind of ['array', 'object'] as const) manifestTexts.push(JSON.stringify({ ...goodManifest, [k]: 0 }).replace(`"${k}":0`, `"${k}":${deepJson(100_000, kind)}`));
    for (const text of manifestTexts) {
      t.count(await withManifest(text, { resign: true, hostile: [] }));
      assertPrototypesClean();
    }
    const custody = JSON.parse(goodCustodyText) as { '@graph': Record<string, unknown>[] };
    const custodyTexts = [deepJson(100_000, 'array'), deepJson(100_000, 'object'), ...pollutingVariants(custody as unknown as Record<string, unknown>)];
    for (const kind of ['array', 'object'] as const) {
      const graph = structuredClone(custody);
      const entry = graph['@graph'].find((n) => n['cordon:sequence'] === 1)!;
      entry['cordon:reason'] = 0;
      custodyTexts.push(JSON.stringify(graph).replace('"cordon:reason":0', `"cordon:reason":${deepJson(100_000, kind)}`));
      custodyTexts.push(JSON.stringify({ ...custody, '@graph': [...custody['@graph'], 0] }).replace(/,0\]\}$/, `,{"@type":"uco-action:Action","deep":${deepJson(100_000, kind)}}]}`));
    }
    for (const text of custodyTexts) {
      t.count(await withCustody(text, []));
      assertPrototypesClean();
    }
    record({ campaign: 'bad-input', target: TARGET, kind: 'deeply nested JSON (100,000 levels) and __proto__/constructor/prototype keys', tried: t.tried, refused: t.refused, crashes: 0,
      outcome: 'Each refused with findings (never a stack overflow); Object.prototype unchanged.' });
  });

  asyncCase('custody.jsonld: valid records with fields removed, retyped or added', fc.constant(0).chain(() => mutatedJson([JSON.parse(goodCustodyText) as unknown])), 300,
    (text) => withCustody(text), 'Every altered entry is a "custody_chain" finding with its sequence number; no throw on a wrong type.');
  asyncCase('custody.jsonld: random JSON values and strings', fc.oneof(fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)), anyString), 200,
    (text) => withCustody(text), '"custody.jsonld cannot be read" or a broken chain, as findings.');

  test('oversized manifest fields and many files', async () => {
    const t = new Tally();
    const big = 'A'.repeat(2 * 1024 * 1024);
    const many = { ...goodManifest, files: Array.from({ length: 10_000 }, (_, i) => ({ ...goodManifest.files[0]!, path: `evidence/x${i}` })) };
    const texts = [
      JSON.stringify({ ...goodManifest, files: [...goodManifest.files, { ...goodManifest.files[0]!, path: `evidence/${big}` }] }),
      JSON.stringify({ ...goodManifest, files: [...goodManifest.files, { ...goodManifest.files[0]!, path: big }] }),
      JSON.stringify({ ...goodManifest, case: { caseNumber: big, agency: big }, item: { ...goodManifest.item, vm: { ...goodManifest.item.vm, name: big } } }),
      JSON.stringify({ ...goodManifest, files: [{ ...goodManifest.files[0]!, sha256: big }] }),
      JSON.stringify(many),
    ];
    for (const text of texts) t.count(await withManifest(text, { resign: true, hostile: [big] }));
    record({ campaign: 'bad-input', target: TARGET, kind: 'oversized manifests (2 MiB fields, 10,000 listed files)', tried: t.tried, refused: t.refused, crashes: 0,
      outcome: 'Findings quote at most a bounded part of a long path; 10,000 missing files are 10,000 findings, no crash.' });
  });

  test('cordon-verify prints hostile manifest text escaped and exits 1, not with a crash', async () => {
    const t = new Tally();
    const hostile = '\x1b]52;c;aGk=\x07\x1b]0;pwned\x07\x1b[2J\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07\u202e<script>alert(1)</script>\r';
    const variants: Manifest[] = [
      { ...goodManifest, case: { caseNumber: hostile, agency: hostile, exhibit: hostile } },
      { ...goodManifest, item: { ...goodManifest.item, host: hostile, agentId: hostile, vm: { ...goodManifest.item.vm, name: hostile, id: hostile } } },
      { ...goodManifest, capture: { ...goodManifest.capture, seizedBy: { name: hostile, role: hostile }, startedAt: hostile } },
      { ...goodManifest, files: goodManifest.files.map((f) => ({ ...f, path: `evidence/${hostile}` })) },
      JSON.parse(JSON.stringify({ format: PACKAGE_FORMAT, files: [] })) as Manifest,
    ];
    for (const m of variants) {
      const bytes = manifestBytes(m);
      writeFileSync(join(work, 'manifest.json'), bytes);
      writeFileSync(join(work, 'manifest.json.sig'), sign(null, bytes, forger));
      let out = '';
      let code: number;
      try {
        code = await runPackageVerify([work, '--key', FINGERPRINT], (s) => { out += s; });
      } finally {
        writeFileSync(join(work, 'manifest.json'), goodManifestText);
        writeFileSync(join(work, 'manifest.json.sig'), readFileSync(join(pristine, 'manifest.json.sig')));
      }
      assert.equal(code, 1, `exit status 1 (a check failed): ${out.slice(0, 500)}`);
      assert.equal(RAW_CONTROL.exec(out.replaceAll('\n', '')), null, `no raw control character reaches the terminal: ${JSON.stringify(out.slice(0, 600))}`);
      assert.match(out, /RESULT: FAILED/);
      t.count(true);
    }
    record({ campaign: 'bad-input', target: TARGET, kind: 'terminal escape sequences (OSC 52, OSC 8, titles, CSI) in manifest fields printed by cordon-verify', tried: t.tried, refused: t.refused, crashes: 0,
      outcome: 'Printed with control characters escaped (\\x1b…), exit status 1; a manifest without case or item prints without a crash.' });
  });
});

test('export: checkPaths refuses every package path that could land outside the export folder', () => {
  const t = new Tally();
  const target = resolve(tmpdir(), 'cordon-export-target');
  const pathArb = fc.oneof(
    anyString,
    fc.array(fc.oneof(fc.constantFrom('..', '.', '', 'evidence', 'a', '..\\..', 'C:', '\0', '%2e%2e', '~', 'con', 'x\\y'), fc.string({ maxLength: 8 })), { minLength: 1, maxLength: 6 }).map((p) => p.join('/')),
    fc.constantFrom('/etc/passwd', '../x', 'a/../../x', 'C:\\x', 'c:x', '\\\\server\\share', 'a\0b', 'evidence/../../../etc/cron.d/x'),
  );
  fc.assert(fc.property(fc.array(pathArb, { minLength: 1, maxLength: 4 }), (paths) => {
    try {
      checkPaths(paths);
    } catch (err) {
      assert.ok(err instanceof EvidenceIoError, `a clear error, not ${String(err)}`);
      assert.ok(['unsafe_path', 'duplicate_path'].includes(err.code), err.code);
      assertClearError(err.message, 2048);
      t.count(true);
      return;
    }
    for (const p of paths) {
      const full = resolve(target, ...p.split('/'));
      assert.ok(full.startsWith(`${target}${sep}`), `${JSON.stringify(p)} stays inside the target (${full})`);
      assert.ok(!p.includes('\0') && !p.includes('\\'));
    }
    t.count(false);
  }), params(3000));
  record({ campaign: 'bad-input', target: 'evidence export: package paths on the medium (checkPaths)', kind: 'random, traversing, absolute, NUL, backslash and drive-letter paths', tried: t.tried, refused: t.refused,
    crashes: 0, outcome: 'Every path that could land outside the export folder (.., absolute, NUL, backslash, C:) was refused with "unsafe_path" before anything was written.' });
});
