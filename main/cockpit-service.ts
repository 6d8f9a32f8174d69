// The cockpit API's implementation in main: both shells (Electron IPC, the browser shell's WebSocket) hand
// every call here, already checked for sender, and forward the pushes. Plain Node, no electron.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { checkCockpitAgentRef, checkCockpitAgentTrust, checkCockpitApprovalDecide, checkCockpitEvidenceExport, checkCockpitEvidenceHandover, checkCockpitEvidencePackageRef, checkCockpitEvidencePull, checkCockpitEvidenceSanitise, checkCockpitEvidenceSeal, checkActRequest, checkCockpitConsoleAck, checkCockpitConsoleClose, checkCockpitConsoleInput, checkCockpitConsoleOpen, checkCockpitConsoleRecordingQuery, checkCockpitConsoleRecordingsQuery, checkCockpitConsoleResize, checkCockpitInspectRequest, checkCockpitLogsQuery, checkCockpitPolicyPush, checkJournalQuery, type Actor, type CockpitPolicyPush, type CockpitPolicyPushResult, type CockpitPolicyStatus, type CockpitPush, type ErrorMessage, type JournalHealth, type JournalPage } from '../protocol/index.ts';
import { checkPolicy } from '../protocol/policy.ts';
import { keyFingerprint, signPolicy } from '../agent/policy/signing.ts';
import { changeEntry } from './journal/entries.ts';
import { ConsoleError, type ConsoleHub } from './console/console-hub.ts';
import { isCockpitMethod, type CockpitCalls, type CockpitMethod } from '../protocol/cockpit-api.ts';
import { LogQueryError } from './fleet/agent-link.ts';
import { HubError, type FleetHub } from './fleet/hub.ts';
import type { JournalHost } from './journal/host.ts';
import { JournalError } from './journal/errors.ts';
import { EvidenceError, type EvidenceDesk } from './evidence/desk.ts';
import { TransferError } from './evidence/transfer.ts';
import { PackageError } from '../evidence/package.ts';

export class CockpitCallError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }

  toMessage(): ErrorMessage {
    return { type: 'error', code: this.code, message: this.message.slice(0, 2048) };
  }
}

type Handlers = { [M in CockpitMethod]: (params: CockpitCalls[M]['params'], client?: object) => Promise<CockpitCalls[M]['result']> | CockpitCalls[M]['result'] };

/** What is wrong with a call's parameters (they come from a renderer we do not trust), or undefined. */
const paramProblems: { [M in CockpitMethod]: (params: unknown) => string | undefined } = {
  snapshot: noParams,
  'journal.status': noParams,
  'journal.verify': noParams,
  'policy.status': noParams,
  'policy.push': (p) => {
    const checked = checkCockpitPolicyPush(p);
    return checked.ok ? undefined : checked.error.message;
  },
  'console.open': by(checkCockpitConsoleOpen),
  'console.input': by(checkCockpitConsoleInput),
  'console.resize': by(checkCockpitConsoleResize),
  'console.ack': by(checkCockpitConsoleAck),
  'console.close': by(checkCockpitConsoleClose),
  'console.recordings': by(checkCockpitConsoleRecordingsQuery),
  'console.recording': by(checkCockpitConsoleRecordingQuery),
  'vm.inspect': by(checkCockpitInspectRequest),
  'evidence.status': noParams,
  'evidence.pull': by(checkCockpitEvidencePull),
  'evidence.seal': by(checkCockpitEvidenceSeal),
  'evidence.handover': by(checkCockpitEvidenceHandover),
  'evidence.verify': by(checkCockpitEvidencePackageRef),
  'evidence.export': by(checkCockpitEvidenceExport),
  'evidence.sanitise': by(checkCockpitEvidenceSanitise),
  'evidence.chooseFolder': noParams,
  'agent.trust': by(checkCockpitAgentTrust),
  'agent.forgetPin': by(checkCockpitAgentRef),
  'approval.decide': by(checkCockpitApprovalDecide),
  'logs.query': (p) => {
    const checked = checkCockpitLogsQuery(p);
    return checked.ok ? undefined : checked.error.message;
  },
  'journal.query': (p) => {
    const checked = checkJournalQuery(p);
    return checked.ok ? undefined : checked.error.message;
  },
  act: (p) => {
    const checked = checkActRequest(p);
    return checked.ok ? undefined : checked.error.message;
  },
};

export class CockpitService {
  private readonly handlers: Handlers;

  /**
   * actor: who this cockpit acts as (the responder from settings, on this device). journal: the cockpit's journal;
   * without one (some tests), the journal calls answer `no_journal`. signer: the responder's Ed25519 key, which signs
   * the policies this cockpit pushes (the journal's key); without one, policy.push answers `no_signer`.
   */
  constructor(
    private readonly hub: FleetHub,
    private readonly actor: Actor = { name: 'responder' },
    private readonly journal?: JournalHost,
    private readonly signer?: KeyObject,
    /** The consoles; without it (some tests), the console calls answer `no_console`. */
    private readonly consoles?: ConsoleHub,
    /** The evidence desk; without it (some tests), the evidence calls answer `no_evidence`. */
    private readonly evidence?: EvidenceDesk,
  ) {
    this.handlers = {
      snapshot: () => this.hub.snapshot(),
      act: async (req) => ({ requestId: (await this.hub.act(req, this.actor)).requestId }),
      'journal.query': async (q) => (await this.journalOf().query(q)) as JournalPage,
      'logs.query': async ({ agentId, ...query }) => {
        const { type: _type, ref: _ref, ...page } = await this.hub.queryLogs(agentId, query);
        return { agentId, ...page };
      },
      'journal.status': () => this.journalOf().status() as Promise<JournalHealth>,
      'policy.status': () => this.policyStatus(),
      'policy.push': (p) => this.pushPolicy(p),
      'console.open': (p, client) => this.consolesOf().open(p, this.actor, client),
      'console.input': (p) => { this.consolesOf().input(p.sessionId, p.data); return {}; },
      'console.resize': (p) => { this.consolesOf().resize(p.sessionId, p.cols, p.rows); return {}; },
      'console.ack': (p) => { this.consolesOf().ack(p.sessionId, p.bytes); return {}; },
      'console.close': (p) => { this.consolesOf().close(p.sessionId); return {}; },
      'console.recordings': (p) => ({
        recordings: this.consolesOf().recordings(p).map((m) => ({
          recordingId: m.recordingId, agentId: m.agentId, vmId: m.vmId, actor: m.actor, startedAt: m.startedAt, bytes: m.bytes,
          ...(m.endedAt ? { endedAt: m.endedAt } : {}), ...(m.sha256 ? { sha256: m.sha256 } : {}),
        })),
      }),
      'console.recording': (p) => ({ recordingId: p.recordingId, cast: this.consolesOf().recording(p.recordingId) }),
      'vm.inspect': async (p) => ({ agentId: p.agentId, inspection: await this.hub.inspect(p.agentId, p.vmId) }),
      'evidence.status': () => this.evidenceOf().status(),
      'evidence.pull': async (p) => { await this.evidenceOf().pull(p.agentId, p.captureId); return {}; },
      'evidence.seal': (p) => this.evidenceOf().seal(p),
      'evidence.handover': (p) => this.evidenceOf().handover(p),
      'evidence.verify': (p) => this.evidenceOf().verify(p.packageId),
      'evidence.export': (p) => this.evidenceOf().export(p.packageId, p.destination),
      'evidence.sanitise': (p) => this.evidenceOf().sanitise(p.packageId, p.reason),
      // The Electron shell answers this one itself with a folder dialog; here (the browser shell) there is none.
      'evidence.chooseFolder': () => { throw new CockpitCallError('unsupported', 'The browser shell has no folder dialog: type the path of a folder on the removable medium.'); },
      'agent.trust': (p) => { this.hub.trust(p.agentId, p.fingerprint, this.actor); return {}; },
      'agent.forgetPin': (p) => { this.hub.forgetPin(p.agentId, this.actor); return {}; },
      'approval.decide': async (p) => { await this.hub.decideApproval(p.agentId, { approvalId: p.approvalId, approve: p.approve, reason: p.reason }, this.actor); return {}; },
      'journal.verify': async () => {
        const j = this.journalOf();
        await j.verify();
        return (await j.status()) as JournalHealth;
      },
    };
  }

  private policyStatus(): CockpitPolicyStatus {
    const key = this.signerOf();
    const publicKeyPem = String(createPublicKey(key).export({ type: 'spki', format: 'pem' }));
    return { agents: this.hub.policies(), signer: { keyId: keyFingerprint(key), publicKeyPem } };
  }

  /**
   * Signs, journals (durably, before anything is sent: a policy nobody could account for is never pushed), pushes to
   * each agent, and journals each agent's answer. A policy that breaks "tighten, never loosen" is refused here, in
   * the agent's own words, before it is signed.
   */
  private async pushPolicy(p: CockpitPolicyPush): Promise<CockpitPolicyPushResult> {
    const key = this.signerOf();
    const journal = this.journalOf();
    const problems = checkPolicy(p.policy, Date.now());
    if (problems.errors.length > 0) throw new CockpitCallError('policy_invalid', problems.errors.join(' ').slice(0, 2000));
    const signed = signPolicy(p.policy, key);
    const before = new Map(this.hub.policies().map((a) => [a.agentId, a.inForce]));
    await journal.appendDurable(changeEntry('policy', this.actor, {
      key: `push ${p.policy.id} v${p.policy.version}`, reason: p.reason,
      to: { signed: structuredClone(signed), agents: [...p.agentIds], warnings: problems.warnings },
    }));
    const outcomes = await this.hub.pushPolicy(signed, p.agentIds);
    journal.append(outcomes.map((o) => changeEntry('policy', this.actor, {
      key: `${o.ok ? 'accepted' : 'refused'} ${p.policy.id} v${p.policy.version}`, agentId: o.agentId, reason: p.reason,
      ...(before.get(o.agentId) ? { from: structuredClone(before.get(o.agentId)) } : {}),
      to: o.ok ? { inForce: o.inForce } : { code: o.code, message: o.message },
    })));
    return { signed, outcomes };
  }

  private evidenceOf(): EvidenceDesk {
    if (!this.evidence) throw new CockpitCallError('no_evidence', 'This cockpit runs without an evidence desk.');
    return this.evidence;
  }

  private consolesOf(): ConsoleHub {
    if (!this.consoles) throw new CockpitCallError('no_console', 'This cockpit runs without consoles.');
    return this.consoles;
  }

  private signerOf(): KeyObject {
    if (!this.signer) throw new CockpitCallError('no_signer', 'This cockpit has no responder key to sign policies with.');
    return this.signer;
  }

  private journalOf(): JournalHost {
    if (!this.journal) throw new CockpitCallError('no_journal', 'This cockpit runs without a journal.');
    return this.journal;
  }

  /**
   * Runs one call from a view. Throws CockpitCallError with a sentence on a bad call. `client` names the view that
   * called (any object the shell keeps per view): what it opens (consoles) is closed by clientGone(client).
   */
  async call(method: unknown, params: unknown, client?: object): Promise<unknown> {
    if (!isCockpitMethod(method)) {
      throw new CockpitCallError('unknown_method', `The cockpit has no call named "${String(method).slice(0, 64)}".`);
    }
    const problem = paramProblems[method](params);
    if (problem) throw new CockpitCallError('bad_params', `The parameters of "${method}" are not valid. ${problem}`);
    try {
      return await this.handlers[method](params as never, client);
    } catch (err) {
      if (err instanceof HubError || err instanceof JournalError || err instanceof LogQueryError || err instanceof ConsoleError || err instanceof EvidenceError || err instanceof PackageError || err instanceof TransferError) throw new CockpitCallError(err.code, err.message);
      throw err;
    }
  }

  /** A view went away (its socket closed, its page reloaded): its consoles close, recorded and journaled. */
  clientGone(client: object): void {
    this.consoles?.closeOwnedBy(client, 'The view that opened this console went away (closed or reloaded).');
  }

  onPush(listener: (push: CockpitPush) => void): () => void {
    this.hub.on('push', listener);
    this.consoles?.on('push', listener);
    this.evidence?.on('push', listener);
    return () => {
      this.hub.off('push', listener);
      this.consoles?.off('push', listener);
      this.evidence?.off('push', listener);
    };
  }
}

function by(check: (p: unknown) => { ok: true } | { ok: false; error: { message: string } }): (p: unknown) => string | undefined {
  return (p) => {
    const checked = check(p);
    return checked.ok ? undefined : checked.error.message;
  };
}

function noParams(p: unknown): string | undefined {
  return isPlainObject(p) && Object.keys(p).length === 0 ? undefined : 'It takes no parameters.';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}
