// Which action the responder may ask of a VM now, and if not, the sentence that says why: the shared lifecycle
// (protocol/lifecycle.ts, the very rules the agent enforces), what the agent's driver offers, and whether something
// already runs on the VM. Also what the contained list holds, and how an isolation is renewed (one isolate, in place).
// Pure: no React, no clock of its own.
import type { ActionKind, ActionParams, ActionRecord, AgentStatus, Principal, Role, Vm, VmState } from '../../../protocol/index.ts';
import { ACTION_KINDS, refuse } from '../../../protocol/lifecycle.ts';
import { atLeast, roleForAction } from '../../../protocol/roles.ts';
import { isPlanUnderway, type ActionPlan, type PlanStep } from './action-plans.ts';
import { isUnderway, vmKey } from './action-history.ts';
import type { CockpitState } from './cockpit.ts';

export { ACTION_KINDS };

/** Everything the rules read about one VM. */
export interface ActTarget {
  agentId: string;
  vmId: string;
  /** Undefined when the VM is not in its agent's inventory (removed, or only seen in events). */
  vm: Vm | undefined;
  /** What its agent says of itself (its driver's actions), when the hub has its status. */
  agent: (Pick<AgentStatus, 'label' | 'hypervisor' | 'actions'> & { principal?: Principal }) | undefined;
  /** Its action records, oldest first. */
  history: readonly ActionRecord[];
  /** What the responder asked of it from this page, if anything. */
  plan: ActionPlan | undefined;
  /** For a clone: the VM it was cloned from, when its agent still lists it (release checks it). */
  origin?: Vm;
}

/** The target as the store holds it now (a click or a key reads it at that moment). */
export function actTarget(s: Pick<CockpitState, 'inventories' | 'agents' | 'actionsByVm' | 'plans'>, agentId: string, vmId: string): ActTarget {
  const vms = s.inventories.get(agentId);
  const vm = vms?.find((v) => v.id === vmId);
  const origin = vm?.cloneOf === undefined ? undefined : vms?.find((v) => v.id === vm.cloneOf);
  const key = vmKey(agentId, vmId);
  const t: ActTarget = { agentId, vmId, vm, agent: s.agents.find((a) => a.agentId === agentId), history: s.actionsByVm.get(key) ?? [], plan: s.plans.get(key) };
  if (origin !== undefined) t.origin = origin;
  return t;
}

/** An agent's offer from what a component keeps of its status (its status object changes four times a second):
 *  `actions` joined by commas, or undefined when the agent has not said; `principalKey` (principalKeyOf) who this
 *  cockpit is to the agent. */
export function agentOffer(label: string, hypervisor: string | undefined, actionsKey: string | undefined, principalKey?: string): ActTarget['agent'] {
  const offer: NonNullable<ActTarget['agent']> = { label };
  if (hypervisor !== undefined) offer.hypervisor = hypervisor;
  if (actionsKey !== undefined) offer.actions = actionsKey === '' ? [] : (actionsKey.split(',') as ActionKind[]);
  if (principalKey) {
    const tab = principalKey.indexOf('\t');
    offer.principal = { role: principalKey.slice(0, tab) as Role, name: principalKey.slice(tab + 1) };
  }
  return offer;
}

/** The principal an agent's hello named, as one string a selector can compare (undefined: the agent did not say). */
export function principalKeyOf(status: Pick<AgentStatus, 'access'> | undefined): string | undefined {
  const p = status?.access?.principal;
  return p ? `${p.role}\t${p.name}` : undefined;
}



/**
 * Why `kind` cannot be asked of the VM now, in a sentence a responder can act on; undefined when it can. `params` are
 * the ones that will be sent, when known (a renewal's mode); without them it is the button's question, and the Isolate
 * button makes a new isolation: on a VM isolated already, a new expiry is the Renew button's.
 */
export function whyNot(kind: ActionKind, t: ActTarget, params?: ActionParams): string | undefined {
  const vm = t.vm;
  if (vm === undefined) return `${t.vmId} is not in the inventory of ${t.agentId}: it was removed, or has not been reported yet.`;
  const agent = t.agent;
  if (agent?.actions !== undefined && !agent.actions.includes(kind)) {
    const driver = agent.hypervisor ?? 'driver';
    const offered = agent.actions.length === 0 ? 'none' : agent.actions.join(', ');
    return `The ${driver} driver of ${agent.label} cannot ${kind} (it offers: ${offered}).`;
  }
  const me = agent?.principal;
  if (me !== undefined && !atLeast(me.role, roleForAction(kind))) {
    return `${kind[0]!.toUpperCase()}${kind.slice(1)} needs the ${roleForAction(kind)} role on ${agent!.label}; you are ${me.name} (${me.role}).`;
  }
  if (isPlanUnderway(t.plan)) return `${t.plan!.label} is under way on ${vm.name}: wait until it ends.`;
  if (vm.busy !== undefined) return `${vm.name} is busy: a ${vm.busy} runs on it now.`;
  const running = lastUnderway(t.history);
  if (running !== undefined) {
    const how = running.phase !== 'sending' ? 'runs on it now' : running.approval !== undefined ? 'waits for a second person\'s approval' : 'is being sent to its agent';
    return `${vm.name} is busy: a ${running.kind} ${how}.`;
  }
  const iso = vm.isolation;
  if (kind === 'isolate' && params === undefined && iso !== undefined && vm.state !== 'terminated') {
    const renew = iso.expiresAt !== undefined ? 'renew it for a new expiry, or ' : '';
    return `${vm.name} is already isolated (${iso.mode} since ${iso.since}): ${renew}release it first to change how.`;
  }
  return refuse(vm, kind, params ?? {}, t.origin !== undefined ? { origin: t.origin } : {})?.message;
}

/** Every kind with the reason it is refused (undefined: allowed). */
export function reasonsFor(t: ActTarget): Record<ActionKind, string | undefined> {
  const out = {} as Record<ActionKind, string | undefined>;
  for (const kind of ACTION_KINDS) out[kind] = whyNot(kind, t);
  return out;
}

/** The newest record still under way, if any. */
export function lastUnderway(history: readonly ActionRecord[]): ActionRecord | undefined {
  for (let i = history.length - 1; i >= 0; i--) if (isUnderway(history[i]!)) return history[i];
  return undefined;
}

/** The newest record that ended, if any. */
export function lastEnded(history: readonly ActionRecord[]): ActionRecord | undefined {
  for (let i = history.length - 1; i >= 0; i--) if (!isUnderway(history[i]!)) return history[i];
  return undefined;
}

// ── the contained list ─────────────────────────────────────────────────────────────────────────────────────

const HELD: readonly VmState[] = ['frozen', 'isolated', 'seizing', 'seized'];

/** A VM the responder contained: frozen, isolated, being or having been seized, or a clone. */
export function isContained(vm: Vm): boolean {
  if (vm.state === 'terminated') return false;
  return HELD.includes(vm.state) || vm.isolation !== undefined || vm.cloneOf !== undefined;
}

export interface ContainedVm {
  agentId: string;
  vm: Vm;
  /** ms until the isolation's expiry (negative once past), or null without one. */
  expiresIn: number | null;
}

/** Every contained VM across agents: isolations past their expiry first (they need the responder), then the soonest
 *  to expire, then by agent and name. */
export function containedVms(inventories: ReadonlyMap<string, readonly Vm[]>, now: number): ContainedVm[] {
  const out: ContainedVm[] = [];
  for (const [agentId, vms] of inventories) {
    for (const vm of vms) if (isContained(vm)) out.push({ agentId, vm, expiresIn: expiresIn(vm, now) });
  }
  const rank = (c: ContainedVm) => (c.expiresIn === null ? Number.POSITIVE_INFINITY : c.expiresIn);
  return out.sort((a, b) => rank(a) - rank(b) || compare(a.agentId, b.agentId) || compare(a.vm.name, b.vm.name) || compare(a.vm.id, b.vm.id));
}

/** ms until the VM's isolation expires (negative once past), or null when it has no expiry. */
export function expiresIn(vm: Vm, now: number): number | null {
  const at = vm.isolation?.expiresAt === undefined ? Number.NaN : Date.parse(vm.isolation.expiresAt);
  return Number.isFinite(at) ? at - now : null;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ── renewing an isolation ──────────────────────────────────────────────────────────────────────────────────

/** Why the VM's isolation cannot be renewed now (renewalStep), or undefined. */
export function whyNotRenew(t: ActTarget): string | undefined {
  if (t.vm === undefined) return whyNot('isolate', t);
  const step = renewalStep(t.vm, undefined, '');
  return typeof step === 'string' ? step : whyNot(step.kind, t, step.params);
}

/**
 * The one action that gives an isolated VM a new expiry: `isolate` in the mode it is isolated in, with the new
 * `expiresAt` (none: no expiry). The agent renews it in place (protocol/lifecycle.ts, isRenewal): its network is
 * never touched, `since` is kept, the proof is made again, and a frozen or seized VM stays so. Returns a sentence
 * instead when there is no isolation to renew.
 */
export function renewalStep(vm: Vm, expiresAt: string | undefined, reason: string): PlanStep | string {
  const iso = vm.isolation;
  if (iso === undefined) return `${vm.name} is not isolated: there is no isolation to renew.`;
  return { kind: 'isolate', params: expiresAt === undefined ? { mode: iso.mode } : { mode: iso.mode, expiresAt }, reason };
}
