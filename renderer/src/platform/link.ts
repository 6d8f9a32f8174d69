// The renderer's link to the cockpit core: the typed CockpitApi plus what the contract leaves to the transport,
// namely whether the link is up and which messages were refused. Two implementations: the Electron preload's
// `window.cordon` (bridge-link.ts) and the browser shell's WebSocket (shell-link.ts).
import type { CockpitApi, CockpitCalls, CockpitMethod } from '../../../protocol/cockpit-api.ts';
import { checkActResult, checkCockpitEvidenceExportOutcome, checkCockpitEvidenceFolder, checkCockpitEvidencePackage, checkCockpitEvidenceStatus, checkCockpitEvidenceVerify, checkSanitisationReport, checkCockpitInspection, checkCockpitConsoleRecording, checkCockpitConsoleRecordings, checkCockpitConsoleSession, checkCockpitOk, checkCockpitLogsPage, checkCockpitPolicyPushResult, checkCockpitPolicyStatus, checkCockpitSnapshot, checkJournalHealth, checkJournalPage, type Decoded, type ErrorMessage } from '../../../protocol/index.ts';

export type LinkPhase =
  | 'connecting' // first attempt under way
  | 'connected'
  | 'reconnecting' // dropped; the next attempt is at retryAt
  | 'unauthorized' // the browser shell refused this page (no valid session cookie); retrying will not help
  | 'closed'; // closed on purpose

export interface LinkState {
  readonly phase: LinkPhase;
  readonly platform: 'electron' | 'browser';
  /** Failed attempts since the link was last up. */
  readonly attempt: number;
  /** When the next attempt starts (ms since the epoch), while reconnecting. */
  readonly retryAt: number | null;
  /** Why the link last dropped or failed, in a sentence. */
  readonly lastError: string | null;
  /** Since when it is up. */
  readonly since: number | null;
}

export interface CockpitLink {
  readonly api: CockpitApi;
  state(): LinkState;
  onState(listener: (state: LinkState) => void): () => void;
  /** Each message the validators refused: it was dropped, and the stream went on. */
  onInvalid(listener: (error: ErrorMessage) => void): () => void;
  close(): void;
}

/** A call that failed: refused by main, not valid, timed out, or sent while the link was down. */
export class CockpitCallError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'CockpitCallError';
  }
}

/** How each call's result is checked where it enters the renderer. A new call in the contract does not compile
 *  until it has a checker here. */
export const RESULT_CHECKS: { readonly [M in CockpitMethod]: (value: unknown) => Decoded<CockpitCalls[M]['result']> } = {
  snapshot: checkCockpitSnapshot,
  act: checkActResult,
  'journal.query': checkJournalPage,
  'journal.status': checkJournalHealth,
  'journal.verify': checkJournalHealth,
  'logs.query': checkCockpitLogsPage,
  'policy.status': checkCockpitPolicyStatus,
  'policy.push': checkCockpitPolicyPushResult,
  'console.open': checkCockpitConsoleSession,
  'console.input': checkCockpitOk,
  'console.resize': checkCockpitOk,
  'console.ack': checkCockpitOk,
  'console.close': checkCockpitOk,
  'console.recordings': checkCockpitConsoleRecordings,
  'console.recording': checkCockpitConsoleRecording,
  'vm.inspect': checkCockpitInspection,
  'evidence.status': checkCockpitEvidenceStatus,
  'evidence.pull': checkCockpitOk,
  'evidence.seal': checkCockpitEvidencePackage,
  'evidence.handover': checkCockpitEvidencePackage,
  'evidence.verify': checkCockpitEvidenceVerify,
  'evidence.export': checkCockpitEvidenceExportOutcome,
  'evidence.sanitise': checkSanitisationReport,
  'evidence.chooseFolder': checkCockpitEvidenceFolder,
  'agent.trust': checkCockpitOk,
  'agent.forgetPin': checkCockpitOk,
  'approval.decide': checkCockpitOk,
};

export function checkResult<M extends CockpitMethod>(method: M, value: unknown): Decoded<CockpitCalls[M]['result']> {
  const check = RESULT_CHECKS[method] as (value: unknown) => Decoded<CockpitCalls[M]['result']>;
  return check(value);
}

/** A small listener set. */
export class Listeners<T> {
  private readonly set = new Set<(value: T) => void>();

  add(listener: (value: T) => void): () => void {
    this.set.add(listener);
    return () => {
      this.set.delete(listener);
    };
  }

  emit(value: T): void {
    for (const l of [...this.set]) {
      try {
        l(value);
      } catch (err) {
        // One broken listener must not stop the others or the link.
        console.error('A cockpit listener failed:', err);
      }
    }
  }
}
