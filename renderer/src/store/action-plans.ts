// What the responder asked of a VM, from the click until the agent's answer: a plan of one action, or of a few run
// one after the other, each only once the one before is done ("seize first, then terminate"). Renewing an isolation
// is one action (an isolate in the same mode, which the agent renews in place), never a plan.
// Pure: the store (cockpit.ts) makes the calls and feeds each changed action record to planAfter.
//
// A plan lives in the page: reload it and the steps not asked yet are not asked. A step that fails or is refused
// stops the plan there, and the plan says which steps did not run: a half-done plan must never look done.
import type { ActionKind, ActionParams, ActionRecord } from '../../../protocol/index.ts';

export interface PlanStep {
  kind: ActionKind;
  params: ActionParams;
  reason: string;
}

export type PlanStatus =
  /** The act call for the current step is on its way to the cockpit core. */
  | 'asking'
  /** Asked; waiting for the agent to end it. */
  | 'waiting'
  | 'done'
  /** A step failed, was refused or could not be asked: the steps after it did not run. */
  | 'stopped';

export interface ActionPlan {
  /** Distinguishes plans on the same VM (a late answer to an old one is ignored). */
  id: number;
  agentId: string;
  vmId: string;
  /** What the responder asked, in their words: "Freeze", "Seize first, then terminate". */
  label: string;
  steps: readonly PlanStep[];
  /** The step asked now (or the one that stopped the plan). */
  at: number;
  status: PlanStatus;
  /** The current step's request id, once the cockpit core answered the call. */
  requestId: string | null;
  /** Why it stopped. */
  message: string | null;
}

export function newPlan(id: number, agentId: string, vmId: string, label: string, steps: readonly PlanStep[]): ActionPlan {
  if (steps.length === 0) throw new Error('A plan needs at least one step.');
  return { id, agentId, vmId, label, steps, at: 0, status: 'asking', requestId: null, message: null };
}

export function isPlanUnderway(plan: ActionPlan | undefined): boolean {
  return plan !== undefined && (plan.status === 'asking' || plan.status === 'waiting');
}

/** The plan once the cockpit core answered the current step's call with its request id. */
export function planAsked(plan: ActionPlan, requestId: string): ActionPlan {
  return { ...plan, status: 'waiting', requestId };
}

/** The plan once the current step's call failed (the link is down, the core refused it). */
export function planNotAsked(plan: ActionPlan, message: string): ActionPlan {
  return { ...plan, status: 'stopped', message: `Could not ask for ${plan.steps[plan.at]!.kind}: ${message}${notRun(plan, plan.at)}` };
}

/** The plan after a record of its current step changed: unchanged, the next step to ask, done, or stopped. */
export function planAfter(plan: ActionPlan, rec: ActionRecord): ActionPlan {
  if (plan.status !== 'waiting' || rec.requestId !== plan.requestId) return plan;
  const step = plan.steps[plan.at]!;
  switch (rec.phase) {
    case 'sending':
    case 'accepted':
      return plan;
    case 'done':
      return plan.at + 1 < plan.steps.length
        ? { ...plan, at: plan.at + 1, status: 'asking', requestId: null }
        : { ...plan, status: 'done' };
    case 'rejected':
      return { ...plan, status: 'stopped', message: `The agent refused the ${step.kind}: ${rec.rejection?.message ?? 'no reason given.'}${notRun(plan, plan.at)}` };
    case 'failed':
      return { ...plan, status: 'stopped', message: `The ${step.kind} failed: ${rec.error?.message ?? 'no reason given.'}${notRun(plan, plan.at)}` };
  }
}

/** " Not run: terminate." for the steps after `at`, or nothing. */
function notRun(plan: ActionPlan, at: number): string {
  const rest = plan.steps.slice(at + 1).map((s) => s.kind);
  return rest.length === 0 ? '' : ` Not run: ${rest.join(', ')}.`;
}

/** The step a plan asks now, in words: "step 2 of 2: terminate". */
export function planProgress(plan: ActionPlan): string {
  const step = plan.steps[Math.min(plan.at, plan.steps.length - 1)]!;
  return plan.steps.length === 1 ? step.kind : `step ${plan.at + 1} of ${plan.steps.length}: ${step.kind}`;
}
