// What the hub's thread (host.ts) and the journal's thread (journal-worker.ts) say to each other. Both sides are
// this program's own code: the messages are typed, not validated (nothing here comes from outside the process).
import type { KeyObject } from 'node:crypto';
import type { JournalQuery, QueryPage } from './query.ts';
import type { JournalEntry } from './record.ts';
import type { VerifyReport } from './verify.ts';
import type { SliceFilter } from './bundle.ts';

export type HostRequest =
  | { type: 'open'; id: number; dir: string; key: KeyObject; fingerprint: string; checkpointMs?: number }
  | { type: 'append'; entries: JournalEntry[] }
  | { type: 'appendDurable'; id: number; entry: JournalEntry }
  | { type: 'query'; id: number; query: JournalQuery }
  | { type: 'status'; id: number }
  | { type: 'verify'; id: number }
  | { type: 'exportBundle'; id: number; file: string; slice?: SliceFilter }
  | { type: 'close'; id: number };

export type HostReply =
  | { type: 'reply'; id: number; ok: true; value: unknown }
  | { type: 'reply'; id: number; ok: false; error: { code: string; message: string } }
  /** Records appended since the last such message (sent at most every 50 ms). */
  | { type: 'appended'; count: number; size: number }
  /** A fire-and-forget append failed: the journal is no longer taking records. */
  | { type: 'error'; code: string; message: string }
  | { type: 'note'; line: string };

/** The journal as the views see it: how big, how far synced and signed, and what a crash left. */
export interface JournalStatus {
  dir: string;
  size: number;
  durableSize: number;
  keyFingerprint: string;
  /** What the last open repaired (a record cut short by a crash), said once per open. */
  recovered: { code: string; message: string }[];
  checkpoint?: { size: number; time: number; root: string };
}

export type { JournalQuery, QueryPage, VerifyReport };
