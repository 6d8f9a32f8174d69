// The journal's public surface for the hub, the shells and the verifier: open and write a journal, query it,
// export and import bundles, verify a journal or a bundle. See docs/journal.md.
export { Journal, type AppendResult, type JournalOptions, type RecoveryNotice } from './journal.ts';
export { actionEntry, changeEntry, consoleEntry, custodyEntry, eventEntry, logEntry, type ActionStep, type ConsoleSession } from './entries.ts';
export { exportBundle, importBundle, verifyBundle, type BundleSummary, type ImportReport, type SliceFilter } from './bundle.ts';
export { verifyJournal, type VerifyReport, type VerifyProblem } from './verify.ts';
export { describeKey, keyFingerprint, keySigner, loadOrCreateKeyFile, loadOrCreateSealedKey, rawPublicKey, type Sealer } from './keys.ts';
export { JournalError, type JournalErrorCode } from './errors.ts';
export type { JournalQuery, QueryCursor, QueryPage } from './query.ts';
export type { JournalEntry, JournalKind, JournalRecord, StoredRecord } from './record.ts';
export type { StoredCheckpoint } from './checkpoints.ts';
export type { NoteSigner } from './note.ts';
