// `cordon-verify PACKAGE` (or `cordon-verify package PACKAGE`): verifies a seizure package and prints a report a
// court's expert can file. Exit status: 0 everything holds and every signer is a key you trust; 1 a check failed;
// 2 the command could not run; 3 intact, but no trusted key was given, so the signer was not checked against anyone.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { shown } from './shown.ts';
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
    if (positionals.length > 1) throw new Error(`One PACKAGE only (got "${shown(positionals[0])}" and "${shown(positionals[1])}").`);
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
    out(`cordon-verify: ${shown(err instanceof Error ? err.message : String(err), 1000)}\n`);
    return 2;
  }
  out(json ? `${JSON.stringify(report, null, 2)}\n` : formatPackageReport(report));
  if (report.findings.some((f) => f.code === 'not_a_package')) return 2;
  return report.ok ? 0 : report.unpinned ? 3 : 1;
}

function checkFingerprint(v: string): string {
  if (!/^SHA256:[A-Za-z0-9+/]{43}$/.test(v)) throw new Error(`"${shown(v, 80)}" is not a key fingerprint: it looks like SHA256: followed by 43 base64 characters.`);
  return v;
}

const n = (x: number) => x.toLocaleString('en-US');

export function formatPackageReport(r: VerifyReport): string {
  // Everything but the counts comes from the package, which may be forged: each field is shown inert (control
  // characters escaped, cut when long), and a manifest without its case or item prints as such instead of throwing.
  const lines: string[] = ['Cordon seizure package verification', `  package:      ${shown(r.dir, 1024)}`];
  const m = r.manifest as unknown as Record<string, unknown> | undefined;
  const at = (v: unknown, ...path: string[]): unknown => path.reduce<unknown>((o, k) => (o !== null && typeof o === 'object' && Object.hasOwn(o, k) ? (o as Record<string, unknown>)[k] : undefined), v);
  if (m) {
    const exhibit = at(m, 'case', 'exhibit');
    lines.push(`  case:         ${shown(at(m, 'case', 'caseNumber'))} (${shown(at(m, 'case', 'agency'))})${exhibit ? `, exhibit ${shown(exhibit)}` : ''}`);
    lines.push(`  item:         VM ${shown(at(m, 'item', 'vm', 'name'))} (${shown(at(m, 'item', 'vm', 'id'))}) on host ${shown(at(m, 'item', 'host'))}, agent ${shown(at(m, 'item', 'agentId'))}${at(m, 'item', 'simulated') === true ? ' — SIMULATED, synthetic content' : ''}`);
    lines.push(`  captured:     ${shown(at(m, 'capture', 'startedAt'))} to ${shown(at(m, 'capture', 'finishedAt'))} by ${shown(at(m, 'capture', 'seizedBy', 'name'))} (${shown(at(m, 'capture', 'seizedBy', 'role'))})`);
  }
  const bad = new Set(r.findings.map((f) => f.path));
  const listed = Array.isArray(m?.files) ? m.files.length : 0;
  lines.push(`  files:        ${r.files.filter((f) => f.ok).length} of ${listed} match the manifest (${n(r.bytes)} bytes hashed, SHA-256 and SHA-1)`);
  for (const f of r.files) lines.push(`    ${f.ok && !bad.has(f.path) ? 'ok ' : 'BAD'} ${shown(f.path, 1024)}  ${n(f.size)} bytes  sha256 ${f.sha256}`);
  lines.push(`  custody:      ${r.custody.length} entr${r.custody.length === 1 ? 'y' : 'ies'}`);
  for (const e of r.custody) {
    lines.push(`    ${e.sequence}. ${e.kind} ${shown(e.at)} (${shown(e.timeZone)}) ${e.from ? `${shown(e.from.name)} (${shown(e.from.role)}) → ` : ''}${shown(e.to.name)} (${shown(e.to.role)}) at ${shown(e.location)}; kept at ${shown(e.storageLocation)}`);
    lines.push(`       reason: ${shown(e.reason, 2000)}; signed by ${shown(e.signerFingerprint, 64)}`);
  }
  for (const s of r.signers) lines.push(`  signer:       ${shown(s, 64)}`);
  for (const f of r.findings) lines.push(`  PROBLEM:      ${shown(f.message, 4096)}`);
  lines.push(`  took:         ${Math.round(r.ms)} ms`, '');
  if (r.ok) lines.push('RESULT: VERIFIED. Every file is as the manifest says, the signatures hold, the chain of custody is unbroken, and every signer is a key you trust.');
  else if (r.unpinned) lines.push('RESULT: INTACT, SIGNER NOT PINNED. Everything holds, but no --key was given: compare the signer fingerprint above with the one printed on the signed paper affidavit, then run again with --key.');
  else lines.push(`RESULT: FAILED. ${r.findings[0] ? shown(r.findings[0].message, 4096) : 'See above.'}`);
  return `${lines.join('\n')}\n`;
}
