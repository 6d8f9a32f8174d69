// `cordon-verify journal PATH`: verifies a journal folder or a bundle file and prints a plain report a responder
// can put in a case file. Exit status: 0 everything holds; 1 a check failed; 2 the command could not run (usage,
// unreadable path); 3 intact, but the newest records are not yet covered by a signed checkpoint.
import { readFileSync, statSync } from 'node:fs';
import { verifyBundle } from './bundle.ts';
import { verifyJournal, type VerifyReport } from './verify.ts';

export const JOURNAL_USAGE = `cordon-verify journal PATH [--key VERIFIER_KEY]... [--key-file FILE] [--json] [--workers N]

Verifies a Cordon journal folder, or a journal bundle or slice file exported from one: every record against its
hash chain, the RFC 6962 tree against every signed checkpoint, every checkpoint's Ed25519 signature, and for a
slice each record's inclusion proof.

  --key VERIFIER_KEY   trust this key ("name+id+base64", as printed by the cockpit); repeatable. Without a key,
                       the keys the journal itself embeds are used and their fingerprints printed: compare them
                       with the responder's.
  --key-file FILE      one verifier key a line
  --json               print the report as JSON
  --workers N          threads for hashing (default: the cores, at most 4; 0: none)

Exit status: 0 verified; 1 a check failed; 2 could not run; 3 intact but not all signed yet.`;

export async function runJournalVerify(args: readonly string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const keys: string[] = [];
  let json = false;
  let workers: number | undefined;
  let path: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${a} needs a value.`);
      return v;
    };
    try {
      if (a === '--help' || a === '-h') {
        out(`${JOURNAL_USAGE}\n`);
        return 0;
      } else if (a === '--key') keys.push(value());
      else if (a === '--key-file') keys.push(...readFileSync(value(), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith('#')));
      else if (a === '--json') json = true;
      else if (a === '--workers') workers = Number(value());
      else if (a.startsWith('-')) throw new Error(`Unknown option ${a}.`);
      else if (path === undefined) path = a;
      else throw new Error(`One PATH only (got "${path}" and "${a}").`);
    } catch (err) {
      out(`cordon-verify: ${err instanceof Error ? err.message : String(err)}\n\n${JOURNAL_USAGE}\n`);
      return 2;
    }
  }
  if (!path || (workers !== undefined && !(Number.isInteger(workers) && workers >= 0))) {
    out(`${JOURNAL_USAGE}\n`);
    return 2;
  }
  let report: VerifyReport;
  try {
    const isDir = statSync(path).isDirectory();
    report = isDir ? await verifyJournal(path, { keys, ...(workers !== undefined ? { workers } : {}) }) : await verifyBundle(path, { keys });
  } catch (err) {
    out(`cordon-verify: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  out(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.status === 'verified' ? 0 : report.status === 'unsigned_tail' ? 3 : 1;
}

const n = (x: number) => x.toLocaleString('en-US');

export function formatReport(r: VerifyReport): string {
  const lines: string[] = [];
  const title = r.what === 'journal' ? 'Cordon journal verification' : r.what === 'bundle' ? 'Cordon journal bundle verification' : 'Cordon journal slice verification';
  lines.push(title, `  path:         ${r.path}`);
  if (r.origin) lines.push(`  journal:      ${r.origin}${r.deviceId ? ` (device ${r.deviceId})` : ''}`);
  lines.push(`  records:      ${n(r.records)}`);
  const chainBroken = r.problems.some((p) => p.index !== undefined && p.code.startsWith('record'));
  if (r.what === 'slice') {
    lines.push(`  proofs:       ${r.problems.length === 0 ? `every record's inclusion proof leads to the signed root` : 'see the problems below'}`);
  } else {
    lines.push(`  chain:        ${chainBroken ? 'BROKEN (see below)' : 'intact: every record matches its hash and follows the one before'}`);
  }
  lines.push(`  checkpoints:  ${r.checkpoints.verified} of ${r.checkpoints.total} validly signed${r.checkpoints.latestSize !== undefined ? `; the latest covers ${n(r.checkpoints.latestSize)} records, root ${r.checkpoints.latestRoot}` : ''}`);
  lines.push(`  signed:       ${n(r.signedRecords)} of ${n(r.records)} records are under a verified signature`);
  for (const k of r.keys) {
    lines.push(`  key:          ${k.name} (id ${k.id})`);
    lines.push(`                fingerprint ${k.fingerprint}`);
    lines.push(`                verifier key ${k.verifierKey}`);
    lines.push(`                ${k.source === 'given' ? 'given on the command line' : 'embedded in what is verified: compare this fingerprint with the responder\'s key'}; signed ${k.signed} checkpoint(s)`);
  }
  for (const w of r.warnings) lines.push(`  note:         ${w}`);
  for (const p of r.problems) lines.push(`  PROBLEM:      ${p.message}`);
  lines.push(`  took:         ${Math.round(r.tookMs)} ms (${n(Math.round(r.records / Math.max(r.tookMs, 1) * 1000))} records/s)`);
  lines.push('');
  if (r.status === 'verified') lines.push('RESULT: VERIFIED. Every record is intact and covered by a valid signature.');
  else if (r.status === 'unsigned_tail') lines.push(`RESULT: INTACT, NOT ALL SIGNED. ${n(r.records - r.signedRecords)} newest record(s) are chained but not yet under a signed checkpoint.`);
  else lines.push(`RESULT: FAILED. ${r.problems[0]?.message ?? 'See above.'}`);
  return `${lines.join('\n')}\n`;
}
