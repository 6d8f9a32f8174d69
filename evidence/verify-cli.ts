// `cordon-verify PACKAGE` (or `cordon-verify package PACKAGE`): verifies a seizure package and prints a report a
// court's expert can file. Exit status: 0 everything holds and every signer is a key you trust; 1 a check failed;
// 2 the command could not run; 3 intact, but no trusted key was given, so the signer was not checked against anyone.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { verifyPackage, type VerifyReport } from './verify.ts';

export const PACKAGE_USAGE = `cordon-verify PACKAGE [--key FINGERPRINT]... [--key-file FILE] [--json]
cordon-verify package PACKAGE ...

Verifies a Cordon seizure package folder without Cordon: every evidence file's size, SHA-256 and SHA-1 against
manifest.json; no file missing and none added; the Ed25519 signatures of manifest.json, custody.jsonld and
affidavit.pdf against signer.pem; the chain of custody entry by entry (order, links, each entry's signature);
and that every key that signed is one you trust.

  --key FINGERPRINT    trust this signer ("SHA256:...", as printed on the affidavit); repeatable
  --key-file FILE      one fingerprint a line (# comments allowed)
  --json               print the report as JSON

Exit status: 0 verified; 1 a check failed; 2 could not run; 3 intact but the signer is not pinned (give --key).`;

export async function runPackageVerify(args: readonly string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  let values: { key?: string[]; 'key-file'?: string[]; json?: boolean; help?: boolean };
  let positionals: string[];
  let keys: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...args], allowPositionals: true, strict: true,
      options: { key: { type: 'string', multiple: true }, 'key-file': { type: 'string', multiple: true }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }));
    if (values.help) {
      out(`${PACKAGE_USAGE}\n`);
      return 0;
    }
    if (positionals.length > 1) throw new Error(`One PACKAGE only (got "${positionals[0]}" and "${positionals[1]}").`);
    keys = [
      ...(values.key ?? []),
      ...(values['key-file'] ?? []).flatMap((f) => readFileSync(f, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith('#'))),
    ].map(checkFingerprint);
  } catch (err) {
    out(`cordon-verify: ${err instanceof Error ? err.message : String(err)}\n\n${PACKAGE_USAGE}\n`);
    return 2;
  }
  const path = positionals[0];
  const json = values.json === true;
  if (!path) {
    out(`${PACKAGE_USAGE}\n`);
    return 2;
  }
  let report: VerifyReport;
  try {
    report = await verifyPackage(path, { trustedKeys: keys });
  } catch (err) {
    out(`cordon-verify: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  out(json ? `${JSON.stringify(report, null, 2)}\n` : formatPackageReport(report));
  if (report.findings.some((f) => f.code === 'not_a_package')) return 2;
  return report.ok ? 0 : report.unpinned ? 3 : 1;
}

function checkFingerprint(v: string): string {
  if (!/^SHA256:[A-Za-z0-9+/]{43}$/.test(v)) throw new Error(`"${v}" is not a key fingerprint: it looks like SHA256: followed by 43 base64 characters.`);
  return v;
}

const n = (x: number) => x.toLocaleString('en-US');

export function formatPackageReport(r: VerifyReport): string {
  const lines: string[] = ['Cordon seizure package verification', `  package:      ${r.dir}`];
  const m = r.manifest;
  if (m) {
    lines.push(`  case:         ${m.case.caseNumber} (${m.case.agency})${m.case.exhibit ? `, exhibit ${m.case.exhibit}` : ''}`);
    lines.push(`  item:         VM ${m.item.vm.name} (${m.item.vm.id}) on host ${m.item.host}, agent ${m.item.agentId}${m.item.simulated ? ' — SIMULATED, synthetic content' : ''}`);
    lines.push(`  captured:     ${m.capture.startedAt} to ${m.capture.finishedAt} by ${m.capture.seizedBy.name} (${m.capture.seizedBy.role})`);
  }
  const bad = new Set(r.findings.map((f) => f.path));
  lines.push(`  files:        ${r.files.filter((f) => f.ok).length} of ${m?.files.length ?? 0} match the manifest (${n(r.bytes)} bytes hashed, SHA-256 and SHA-1)`);
  for (const f of r.files) lines.push(`    ${f.ok && !bad.has(f.path) ? 'ok ' : 'BAD'} ${f.path}  ${n(f.size)} bytes  sha256 ${f.sha256}`);
  lines.push(`  custody:      ${r.custody.length} entr${r.custody.length === 1 ? 'y' : 'ies'}`);
  for (const e of r.custody) {
    lines.push(`    ${e.sequence}. ${e.kind} ${e.at} (${e.timeZone}) ${e.from ? `${e.from.name} (${e.from.role}) → ` : ''}${e.to.name} (${e.to.role}) at ${e.location}; kept at ${e.storageLocation}`);
    lines.push(`       reason: ${e.reason}; signed by ${e.signerFingerprint}`);
  }
  for (const s of r.signers) lines.push(`  signer:       ${s}`);
  for (const f of r.findings) lines.push(`  PROBLEM:      ${f.message}`);
  lines.push(`  took:         ${Math.round(r.ms)} ms`, '');
  if (r.ok) lines.push('RESULT: VERIFIED. Every file is as the manifest says, the signatures hold, the chain of custody is unbroken, and every signer is a key you trust.');
  else if (r.unpinned) lines.push('RESULT: INTACT, SIGNER NOT PINNED. Everything holds, but no --key was given: compare the signer fingerprint above with the one printed on the signed paper affidavit, then run again with --key.');
  else lines.push(`RESULT: FAILED. ${r.findings[0]?.message ?? 'See above.'}`);
  return `${lines.join('\n')}\n`;
}
