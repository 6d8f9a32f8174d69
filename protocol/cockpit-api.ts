// The cockpit API: the one contract between the renderer and main. The Electron preload and the browser shell
// are two implementations of it; the renderer imports only these types. Add a call here, in main's
// CockpitService, and nowhere else.
import type { CockpitAgentRef, CockpitAgentTrust, CockpitApprovalDecide, CockpitEvidenceExport, CockpitEvidenceFolder, CockpitEvidenceHandover, CockpitEvidencePackageRef, CockpitEvidencePull, CockpitEvidenceSanitise, CockpitEvidenceSeal, CockpitEvidenceStatus, EvidenceExportOutcome, EvidencePackageSummary, EvidenceVerifyOutcome, SanitisationReport, ActRequest, ActResult, CockpitConsoleAck, CockpitConsoleClose, CockpitConsoleInput, CockpitConsoleOpen, CockpitConsoleRecording, CockpitConsoleRecordingQuery, CockpitConsoleRecordings, CockpitConsoleRecordingsQuery, CockpitConsoleResize, CockpitOk, ConsoleSession, CockpitInspectRequest, CockpitInspection, CockpitLogsPage, CockpitLogsQuery, CockpitPolicyPush, CockpitPolicyPushResult, CockpitPolicyStatus, CockpitPush, CockpitSnapshot, JournalHealth, JournalPage, JournalQueryParams } from './generated/types.ts';

/** Every call the renderer may make: its parameters and its result. */
export interface CockpitCalls {
  /** Everything needed to draw from scratch; pushes follow. */
  snapshot: { params: Record<string, never>; result: CockpitSnapshot };
  /** Acts on a VM. Resolves once the action is journaled and sent; its progress and result arrive as pushes. */
  act: { params: ActRequest; result: ActResult };
  /** Records of the journal matching the filters, newest first, one page (docs/journal.md). */
  'journal.query': { params: JournalQueryParams; result: JournalPage };
  /** The journal's size, sync and signature progress, what a crash left, the last verification. */
  'journal.status': { params: Record<string, never>; result: JournalHealth };
  /** Verifies the whole journal now (chain, Merkle tree, checkpoints, signatures); answers with the status. */
  'journal.verify': { params: Record<string, never>; result: JournalHealth };
  /** One agent's log records (hypervisor, guest console, syslog, its own), newest first, one page, asked of the agent. */
  'logs.query': { params: CockpitLogsQuery; result: CockpitLogsPage };
  /** Each agent's auto-response policy (what it enforces, whole once it sent it) and this cockpit's signing key. */
  'policy.status': { params: Record<string, never>; result: CockpitPolicyStatus };
  /** Signs a policy with the responder's key, journals it durably, then pushes it to the agents named. */
  'policy.push': { params: CockpitPolicyPush; result: CockpitPolicyPushResult };
  /** Attaches a console to a VM through its agent; output arrives as `console` pushes, recorded from the first byte. */
  'console.open': { params: CockpitConsoleOpen; result: ConsoleSession };
  /** What the responder typed into a session (refused on a read-only one). */
  'console.input': { params: CockpitConsoleInput; result: CockpitOk };
  'console.resize': { params: CockpitConsoleResize; result: CockpitOk };
  /** The terminal drew this many more bytes of the session's output: flow control (main pauses the agent's stream). */
  'console.ack': { params: CockpitConsoleAck; result: CockpitOk };
  'console.close': { params: CockpitConsoleClose; result: CockpitOk };
  /** The recorded sessions (of one VM, or all), newest first. */
  'console.recordings': { params: CockpitConsoleRecordingsQuery; result: CockpitConsoleRecordings };
  /** One recording as asciicast v2 text, to replay. */
  'console.recording': { params: CockpitConsoleRecordingQuery; result: CockpitConsoleRecording };
  /** What runs in a VM now (processes, sockets, services, resources), read by its agent. */
  'vm.inspect': { params: CockpitInspectRequest; result: CockpitInspection };
  /** The responder's identity, the captures on every connected agent, the packages here and the pulls under way. */
  'evidence.status': { params: Record<string, never>; result: CockpitEvidenceStatus };
  /** Pulls a capture from its agent's evidence store (resumable); progress arrives as `evidence` pushes. */
  'evidence.pull': { params: CockpitEvidencePull; result: CockpitOk };
  /** Makes a signed seizure package of a pulled capture: manifest, custody record, affidavit, signatures. */
  'evidence.seal': { params: CockpitEvidenceSeal; result: EvidencePackageSummary };
  /** Appends a signed handover to a package's chain of custody. */
  'evidence.handover': { params: CockpitEvidenceHandover; result: EvidencePackageSummary };
  /** Verifies a package as cordon-verify would (hashes, signatures, custody chain, the signer). */
  'evidence.verify': { params: CockpitEvidencePackageRef; result: EvidenceVerifyOutcome };
  /** Copies a package to removable media, reads every file back past the cache, writes VERIFY.txt. */
  'evidence.export': { params: CockpitEvidenceExport; result: EvidenceExportOutcome };
  /** Asks the package's agent to overwrite what it holds of the VM (once verified and handed over). */
  'evidence.sanitise': { params: CockpitEvidenceSanitise; result: SanitisationReport };
  /** Pins an agent's TLS certificate: the fingerprint the responder compared with the agent's (it must be the one presented). */
  'agent.trust': { params: CockpitAgentTrust; result: CockpitOk };
  /** Removes an agent's pin: the link reconnects and reports the certificate it finds, untrusted, for the responder to judge. */
  'agent.forgetPin': { params: CockpitAgentRef; result: CockpitOk };
  /** Approves or refuses a request waiting on an agent for a second person (the two-person rule). */
  'approval.decide': { params: CockpitApprovalDecide; result: CockpitOk };
  /** A folder dialog (Electron only; the browser shell answers `unsupported`: type the path). */
  'evidence.chooseFolder': { params: Record<string, never>; result: CockpitEvidenceFolder };
}

export type CockpitMethod = keyof CockpitCalls;
export const COCKPIT_METHODS: readonly CockpitMethod[] = ['snapshot', 'act', 'journal.query', 'journal.status', 'journal.verify', 'logs.query', 'policy.status', 'policy.push',
  'console.open', 'console.input', 'console.resize', 'console.ack', 'console.close', 'console.recordings', 'console.recording', 'vm.inspect',
  'evidence.status', 'evidence.pull', 'evidence.seal', 'evidence.handover', 'evidence.verify', 'evidence.export', 'evidence.sanitise', 'evidence.chooseFolder',
  'agent.trust', 'agent.forgetPin', 'approval.decide'];

export function isCockpitMethod(name: unknown): name is CockpitMethod {
  return typeof name === 'string' && (COCKPIT_METHODS as readonly string[]).includes(name);
}

/** What the renderer sees as `window.cordon` (Electron) or builds over the browser shell's WebSocket. */
export interface CockpitApi {
  call<M extends CockpitMethod>(method: M, params: CockpitCalls[M]['params']): Promise<CockpitCalls[M]['result']>;
  /** Subscribes to pushes; returns the function that unsubscribes. */
  onPush(listener: (push: CockpitPush) => void): () => void;
  /** Where the renderer runs, for the few things that differ (e.g. a folder dialog). */
  readonly platform: 'electron' | 'browser';
}

/** IPC channel names, shared by the preload and the Electron shell. */
export const IPC = {
  call: 'cordon:call',
  push: 'cordon:push',
} as const;
