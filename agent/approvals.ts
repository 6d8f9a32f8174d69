// The two-person rule (issue 8): a seize or a sanitise asked by one principal waits here until a second, different
// principal approves it from their own cockpit; only then does the agent act, and both names go with the action into
// the journal and to every cockpit. A refusal or an expiry ends it without acting. Every cockpit hears of each waiting
// request (approval.pending) and of its end (approval.decided); one that connects while a request waits is told too.
//
// Waiting requests live in memory: an agent restart drops them, and the requesting cockpit's retry (the same request
// id) makes a new one. Nothing runs that was not approved.
import { randomBytes } from 'node:crypto';
import type {
  ActionMessage,
  AgentMessage,
  Approval,
  ApprovalDecideMessage,
  EvidenceSanitiseMessage,
  Principal,
} from '../protocol/index.ts';
import { atLeast } from '../protocol/roles.ts';
import type { TwoPersonOperation } from './access.ts';

export const APPROVAL_TTL_MS = 30 * 60_000;
const MAX_WAITING = 256;

/** The session a request came from: where its answers go while it is open. */
export interface Requester {
  readonly open: boolean;
  readonly principal: Principal;
  send(message: AgentMessage): void;
}

export type Approved =
  | { operation: 'seize'; message: ActionMessage; requester: Requester; approval: { approvedBy: Principal; actor: ApprovalDecideMessage['actor']; reason: string; at: string } }
  | { operation: 'sanitise'; message: EvidenceSanitiseMessage; requester: Requester; approval: { approvedBy: Principal; actor: ApprovalDecideMessage['actor']; reason: string; at: string } };

export interface ApprovalDeskOptions {
  twoPerson: readonly TwoPersonOperation[];
  /** Tells every connected cockpit. */
  broadcast(message: AgentMessage): void;
  /** Runs an approved request, as if it had just arrived from its requester. */
  run(approved: Approved): void;
  note(line: string): void;
  ttlMs?: number;
  now?: () => number;
}

interface Waiting {
  approval: Approval;
  message: ActionMessage | EvidenceSanitiseMessage;
  requester: Requester;
  timer: NodeJS.Timeout;
}

export class ApprovalDesk {
  private readonly waiting = new Map<string, Waiting>();
  /** Request ids (seize) and message ids (sanitise) already waiting, so a retry finds its approval. */
  private readonly byRequest = new Map<string, string>();

  constructor(private readonly options: ApprovalDeskOptions) {}

  /** Whether this operation waits for a second person. */
  applies(operation: TwoPersonOperation): boolean {
    return this.options.twoPerson.includes(operation);
  }

  /** The requests waiting now, for a cockpit that just connected. */
  pending(): Approval[] {
    return [...this.waiting.values()].map((w) => w.approval);
  }

  /**
   * Holds a seize or sanitise until approved. A retry of a request already waiting is told of it again (and its
   * answers now go to the retrying connection) instead of making a second one.
   */
  hold(operation: TwoPersonOperation, message: ActionMessage | EvidenceSanitiseMessage, requester: Requester): void {
    const key = `${operation}:${message.type === 'action' ? message.requestId : message.id}`;
    const known = this.byRequest.get(key);
    const existing = known ? this.waiting.get(known) : undefined;
    if (existing) {
      existing.requester = requester;
      requester.send({ type: 'approval.pending', approval: existing.approval });
      return;
    }
    if (this.waiting.size >= MAX_WAITING) {
      requester.send(refusal(message, 'busy', `${MAX_WAITING} requests already wait for a second person on this agent: decide some of them first.`));
      return;
    }
    const now = this.now();
    const approval: Approval = {
      approvalId: `apv-${now.toString(36)}-${randomBytes(6).toString('hex')}`,
      operation,
      vmId: message.vmId,
      ...(message.type === 'action' ? { requestId: message.requestId } : { ref: message.id }),
      requestedBy: requester.principal,
      actor: message.actor,
      reason: message.reason,
      requestedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + this.ttl()).toISOString(),
    };
    const timer = setTimeout(() => this.expire(approval.approvalId), this.ttl());
    timer.unref();
    this.waiting.set(approval.approvalId, { approval, message, requester, timer });
    this.byRequest.set(key, approval.approvalId);
    this.options.note(`${operation} of ${message.vmId} asked by ${requester.principal.name} (${requester.principal.role}) waits for a second person's approval (${approval.approvalId}).`);
    this.options.broadcast({ type: 'approval.pending', approval });
  }

  /** A second principal's decision; answered to every cockpit (approval.decided), or an error to the decider. */
  decide(message: ApprovalDecideMessage, decider: Requester): void {
    const w = this.waiting.get(message.approvalId);
    if (!w) {
      decider.send({ type: 'error', code: 'unknown_approval', message: 'No request waits under this approval id: it was decided already, expired, or the agent restarted since.', ref: message.id });
      return;
    }
    if (!atLeast(decider.principal.role, 'responder')) {
      decider.send({ type: 'error', code: 'forbidden', message: `Approving needs the responder or lead role; you are ${decider.principal.name} (${decider.principal.role}).`, ref: message.id });
      return;
    }
    if (decider.principal.name === w.approval.requestedBy.name) {
      if (!message.approve) {
        // The requester may withdraw their own request.
        this.finish(w, 'refused', decider.principal, message);
        w.requester.send(refusal(w.message, 'refused', `Withdrawn by ${decider.principal.name}, who asked for it: nothing was done.`));
        return;
      }
      decider.send({ type: 'error', code: 'same_person', message: `The two-person rule needs a second person: ${decider.principal.name} asked for this ${w.approval.operation} and cannot also approve it.`, ref: message.id });
      return;
    }
    const at = new Date(this.now()).toISOString();
    this.finish(w, message.approve ? 'approved' : 'refused', decider.principal, message, at);
    if (!message.approve) {
      w.requester.send(refusal(w.message, 'refused', `Refused by ${decider.principal.name} (${decider.principal.role}): ${message.reason.slice(0, 1500)}`));
      return;
    }
    const approval = { approvedBy: decider.principal, actor: message.actor, reason: message.reason, at };
    if (w.message.type === 'action') this.options.run({ operation: 'seize', message: w.message, requester: w.requester, approval });
    else this.options.run({ operation: 'sanitise', message: w.message, requester: w.requester, approval });
  }

  close(): void {
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    this.waiting.clear();
    this.byRequest.clear();
  }

  private expire(approvalId: string): void {
    const w = this.waiting.get(approvalId);
    if (!w) return;
    this.finish(w, 'expired');
    w.requester.send(refusal(w.message, 'expired', `No second person approved this ${w.approval.operation} within ${Math.round(this.ttl() / 60_000)} minutes: nothing was done. Ask again if it is still needed.`));
  }

  private finish(w: Waiting, outcome: 'approved' | 'refused' | 'expired', by?: Principal, message?: ApprovalDecideMessage, at = new Date(this.now()).toISOString()): void {
    clearTimeout(w.timer);
    this.waiting.delete(w.approval.approvalId);
    for (const [k, v] of this.byRequest) if (v === w.approval.approvalId) this.byRequest.delete(k);
    this.options.note(`${w.approval.operation} of ${w.approval.vmId} (${w.approval.approvalId}) ${outcome}${by ? ` by ${by.name} (${by.role})` : ''}.`);
    this.options.broadcast({
      type: 'approval.decided', approvalId: w.approval.approvalId, outcome, at,
      ...(by ? { by } : {}), ...(message ? { actor: message.actor, reason: message.reason } : {}),
    });
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private ttl(): number {
    return this.options.ttlMs ?? APPROVAL_TTL_MS;
  }
}

/** The answer that ends a request without acting: action.rejected for a seize, an error for a sanitise. */
function refusal(message: ActionMessage | EvidenceSanitiseMessage, code: 'refused' | 'expired' | 'busy', text: string): AgentMessage {
  if (message.type === 'action') {
    return { type: 'action.rejected', requestId: message.requestId, vmId: message.vmId, kind: message.kind, code, message: text, at: new Date().toISOString() };
  }
  return { type: 'error', code: code === 'busy' ? 'busy' : `approval_${code}`, message: text, ref: message.id };
}
