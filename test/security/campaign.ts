// The security campaign's ledger (issue 8): every bad-input and fault test records what it tried and what happened,
// one JSON line per case, after its assertions passed. A full `npm test` run starts the ledger empty and, at the end,
// turns it into docs/SECURITY.md (scripts/security-report.ts). A filtered run appends to the same ledger and writes
// no report.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const LEDGER = process.env.CORDON_CAMPAIGN_LEDGER ?? join(import.meta.dirname, '..', '..', 'test-results', 'campaign.jsonl');

export interface BadInputCase {
  campaign: 'bad-input';
  /** The decoder or entry point attacked, e.g. "protocol: client message (agent side)". */
  target: string;
  /** The kind of input, e.g. "random JSON values", "invalid UTF-8", "__proto__ keys". */
  kind: string;
  /** How many inputs were tried. */
  tried: number;
  /** How many of them were refused with a clear error (the rest were valid and accepted). */
  refused: number;
  /** Times the process under test crashed or threw where it should have answered (the target is 0). */
  crashes: number;
  /** One sentence: what happened. */
  outcome: string;
}

export interface FaultCase {
  campaign: 'fault';
  /** The fault, e.g. "agent killed mid-stream", "network cut (netns link down)", "disk full during export". */
  kind: string;
  /** How many times the fault was injected. */
  injected: number;
  /** Events lost or doubled, actions run twice, crashes: each target is 0. */
  eventsLost: number;
  eventsDoubled: number;
  actionsDuplicated: number;
  crashes: number;
  /** One sentence: what happened and what the responder was told. */
  outcome: string;
}

export type CampaignCase = BadInputCase | FaultCase;

/** Appends one case to the ledger (with the test file's name and the time). */
export function record(entry: CampaignCase): void {
  mkdirSync(dirname(LEDGER), { recursive: true });
  const file = process.argv.find((a) => a.endsWith('.test.ts')) ?? '';
  appendFileSync(LEDGER, `${JSON.stringify({ ...entry, at: new Date().toISOString(), file: file.replace(/^.*?\btest\//, 'test/') })}\n`);
}
