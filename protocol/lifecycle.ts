// The VM lifecycle every driver shares and every cockpit shows: which action may run from which state, the sentence
// a responder reads when it may not, and the state (and isolation) a VM is in after each action. Pure: no I/O, no
// clock of its own, so the agent, every driver, the cockpit's buttons and the tests agree on one state machine, and
// a new hypervisor cannot drift from it. In protocol/ because both sides read it: it imports types only.
//
// States (VmState): running · frozen · isolated · terminated · seizing · seized. Isolation is kept beside the state,
// not instead of it: `isolated` is a running VM with an isolation; a frozen, seizing or seized VM may carry one too
// (freeze an isolated VM, and resume brings it back to `isolated`, still cut off). running and terminated never do.
//
// Renewal: `isolate` on a VM that already carries an isolation *in the same mode* renews it in place: a new
// `expiresAt` (or none), `since` kept, the proof checked again, and nothing done to its network: a release and a new
// isolation would put the VM back on its network for a moment, and could be left half-done.
import type { ActionKind, ActionParams, ActionRejectedMessage, IsolationProof, Vm, VmIsolation, VmState } from './index.ts';

export const ACTION_KINDS: readonly ActionKind[] = ['terminate', 'freeze', 'resume', 'clone', 'isolate', 'release', 'seize'];

/** Why an action will not run: a code from action.rejected and a sentence a responder can act on. */
export interface Refusal {
  code: ActionRejectedMessage['code'];
  message: string;
}

/** The part of a VM the state machine reads. */
export type VmCondition = Pick<Vm, 'id' | 'name' | 'state' | 'isolation' | 'cloneOf'>;

/** What each kind reads from `params`; anything else is a bad_params (a cockpit bug, said early). */
export const PARAMS_READ: Readonly<Record<ActionKind, readonly (keyof ActionParams)[]>> = {
  terminate: [],
  freeze: [],
  resume: [],
  clone: ['network'],
  isolate: ['mode', 'expiresAt'],
  release: [],
  seize: ['caseId'],
};

/**
 * The states each action may start from. `isolate` from a VM that carries an isolation is a renewal, allowed only in
 * the same mode; `release` needs it isolated (see refuse()). `seizing` outside a running seize means one was
 * interrupted (the agent restarted): the VM may then be seized again, resumed or terminated.
 */
export const ALLOWED_FROM: Readonly<Record<ActionKind, readonly VmState[]>> = {
  terminate: ['running', 'isolated', 'frozen', 'seizing', 'seized'],
  freeze: ['running', 'isolated'],
  resume: ['frozen', 'seizing', 'seized'],
  clone: ['running', 'isolated', 'frozen', 'seized'],
  isolate: ['running', 'isolated', 'frozen', 'seized'],
  release: ['isolated', 'frozen', 'seized'],
  seize: ['running', 'isolated', 'frozen', 'seizing'],
};

/** The isolation mode an isolate or a clone asks for; `cut` unless the params say honeypot. */
export function isolationMode(kind: 'isolate' | 'clone', params: ActionParams): 'cut' | 'honeypot' {
  if (kind === 'clone') return params.network === 'honeypot' ? 'honeypot' : 'cut';
  return params.mode ?? 'cut';
}

/**
 * Whether an `isolate` with `params` renews the VM's isolation: it carries one already, in the mode asked for. A
 * renewal sets the new `expiresAt` — or removes the expiry when none is given: the params say what the isolation is to
 * be, whatever it was, so a retry or a second cockpit asking the same gets the same isolation — keeps `since`, and
 * re-runs the proof. It never touches the VM's link, tap or bridge.
 */
export function isRenewal(vm: Pick<VmCondition, 'isolation'>, params: ActionParams): boolean {
  return vm.isolation !== undefined && vm.isolation.mode === isolationMode('isolate', params);
}

export interface RefuseOptions {
  /** Now, for checks against `expiresAt` (ms since the epoch). */
  now?: number;
  /** For a clone's release: the VM it was cloned from, if still on the host. */
  origin?: VmCondition;
}

/**
 * Whether `kind` may run on `vm` with `params`, by the shared state machine. Undefined: it may. Busy and unknown VMs
 * are the agent's to say (it knows what runs); a driver adds its own refusals (a mode it cannot do) after this one.
 */
export function refuse(vm: VmCondition, kind: ActionKind, params: ActionParams, options: RefuseOptions = {}): Refusal | undefined {
  const name = vm.name;
  for (const key of Object.keys(params) as (keyof ActionParams)[]) {
    if (!PARAMS_READ[kind].includes(key)) {
      const owners = ACTION_KINDS.filter((k) => PARAMS_READ[k].includes(key));
      return { code: 'bad_params', message: `A ${kind} takes no "${key}" parameter${owners.length > 0 ? ` (it is for ${owners.join(', ')})` : ''}: remove it and ask again.` };
    }
  }
  if (kind === 'isolate' && params.expiresAt !== undefined) {
    const at = Date.parse(params.expiresAt);
    if (Number.isFinite(at) && at <= (options.now ?? Date.now())) {
      return { code: 'bad_params', message: `The isolation's expiry ${params.expiresAt} is already past: give a time in the future, or none.` };
    }
  }
  if (vm.state === 'terminated') return { code: 'wrong_state', message: terminatedSentence(name, kind) };
  if (kind === 'isolate' && vm.isolation && !isRenewal(vm, params)) {
    return { code: 'wrong_state', message: `${name} is already isolated (${vm.isolation.mode} since ${vm.isolation.since}): release it first to change how.` };
  }
  if (kind === 'release' && !vm.isolation) return { code: 'wrong_state', message: `${name} is not isolated: there is nothing to release.` };
  if (!ALLOWED_FROM[kind].includes(vm.state)) return { code: 'wrong_state', message: stateSentence(vm, kind) };
  if (kind === 'release' && vm.cloneOf && options.origin) {
    const origin = options.origin;
    if (origin.state !== 'terminated' && !origin.isolation) {
      return { code: 'wrong_state', message: `${name} is a clone of ${origin.name}, which is still on its network with the same MAC and IP address: isolate or terminate ${origin.name} first, then release the clone to take over its service.` };
    }
  }
  return undefined;
}

function terminatedSentence(name: string, kind: ActionKind): string {
  switch (kind) {
    case 'clone':
      return `${name} is terminated: there is nothing left running to clone.`;
    case 'seize':
      return `${name} is terminated: its memory is gone and cannot be seized any more.`;
    default:
      return `${name} is terminated: nothing more can run in it.`;
  }
}

function stateSentence(vm: VmCondition, kind: ActionKind): string {
  const { name, state } = vm;
  switch (kind) {
    case 'freeze':
      return state === 'seizing' ? `${name} is being seized and is frozen already.` : `${name} is ${state}: its vCPUs are paused already.`;
    case 'resume':
      return `${name} is ${state}, not frozen: there is nothing to resume.`;
    case 'seize':
      return `${name} was already seized and has not run since: its capture stands. Resume it first to capture it again.`;
    case 'isolate':
      if (!vm.isolation) return `${name} is ${state}: it cannot be isolated now.`;
      return state === 'seizing'
        ? `${name} is being seized: its isolation cannot be renewed until the seizure has ended.`
        : `${name} is ${state}: its isolation cannot be renewed now.`;
    case 'release':
      return `${name} is ${state}: it cannot be released now.`;
    case 'clone':
      return `${name} is ${state}: wait until the seizure ends, then clone it.`;
    default:
      return `${name} is ${state}: a ${kind} cannot run from that state.`;
  }
}

/** A state and isolation, as a driver stores them on its VM after an action. */
export interface Condition {
  state: VmState;
  isolation?: VmIsolation;
}

/** The condition a VM shows while `kind` runs on it, when it shows one (a seize shows `seizing`). */
export function during(vm: VmCondition, kind: ActionKind): Condition | undefined {
  if (kind === 'seize') return withIsolation('seizing', vm.isolation);
  return undefined;
}

export interface SettleOptions {
  /** When the action took effect (ISO time): the isolation's `since` (a renewal keeps the one it had). */
  at: string;
  params: ActionParams;
  /** What the driver verified after isolating (or renewing). */
  proof?: IsolationProof;
}

/** The condition `vm` is in after `kind` succeeded on it. The origin of a clone is unchanged (see cloneCondition). */
export function settle(vm: VmCondition, kind: ActionKind, options: SettleOptions): Condition {
  const { state, isolation } = vm;
  switch (kind) {
    case 'terminate':
      return { state: 'terminated' };
    case 'freeze':
      return withIsolation('frozen', isolation);
    case 'resume':
      return isolation ? { state: 'isolated', isolation } : { state: 'running' };
    case 'clone':
      return withIsolation(state, isolation);
    case 'isolate': {
      // A renewal keeps `since` (the VM has been cut off all along) and, if no new proof came, the last one.
      const renewal = isolation !== undefined && isRenewal(vm, options.params) ? isolation : undefined;
      const next: VmIsolation = { mode: isolationMode('isolate', options.params), since: renewal?.since ?? options.at };
      if (options.params.expiresAt !== undefined) next.expiresAt = options.params.expiresAt;
      const proof = options.proof ?? renewal?.proof;
      if (proof) next.proof = proof;
      return { state: state === 'running' ? 'isolated' : state, isolation: next };
    }
    case 'release':
      return { state: state === 'isolated' ? 'running' : state };
    case 'seize':
      return withIsolation('seized', isolation);
  }
}

/** A clone starts running, isolated (its link down; cut, or on the honeypot network), linked to its origin. */
export function cloneCondition(params: ActionParams, at: string, proof?: IsolationProof): Condition {
  const isolation: VmIsolation = { mode: isolationMode('clone', params), since: at };
  if (proof) isolation.proof = proof;
  return { state: 'isolated', isolation };
}

function withIsolation(state: VmState, isolation: VmIsolation | undefined): Condition {
  return isolation ? { state, isolation } : { state };
}

/** Applies a condition to a wire VM: a new object, `since` moved when the state changed. */
export function applyCondition(vm: Vm, next: Condition, at: string): Vm {
  const out: Vm = { ...vm, state: next.state };
  if (next.isolation) out.isolation = next.isolation;
  else delete out.isolation;
  if (next.state !== vm.state) out.since = at;
  return out;
}

/** Whether the VM's vCPUs run (it can act, emit events, talk on its network if not isolated). */
export function isRunning(state: VmState): boolean {
  return state === 'running' || state === 'isolated';
}
