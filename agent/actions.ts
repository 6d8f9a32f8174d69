// Actions on the agent: every `action` a cockpit sends is checked (the VM exists, the driver can do it, nothing else
// runs on that VM, the lifecycle allows it), recorded durably under its request id, run on the driver, and answered
// — action.accepted, action.progress, action.result to every connected cockpit (another responder must see it),
// action.rejected to the one that asked. The same request id never runs twice: a retry is answered from the journal.
// Actions run concurrently across VMs and one at a time per VM. Each becomes a line on the operator's stderr too.
import { mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import type {
  ActionApproval,
  Principal,
  ActionAcceptedMessage,
  ActionError,
  ActionMessage,
  ActionProgressMessage,
  ActionRejectedMessage,
  ActionResultMessage,
  AgentMessage,
  ErrorMessage,
  PolicyProvenance,
  Vm,
} from '../protocol/index.ts';
import type { ActionJournal, ActionRequest, JournalEntry, StoredRejection, StoredResult } from './action-journal.ts';
import { ActionFailure, type ActionContext, type Driver } from './drivers/driver.ts';
import { isRenewal, refuse, type Refusal } from '../protocol/lifecycle.ts';
import { AgentError, systemCode } from './errors.ts';

/** An action that runs longer than this is aborted (its driver gets the signal); generous, for a seize of a big VM. */
export const DEFAULT_DEADLINE_MS = 30 * 60_000;
/** On shutdown, how long running actions get to end after their abort before the agent goes anyway. */
const CLOSE_GRACE_MS = 5_000;
/** Progress of one step is sent at most this often; a new step is sent at once. */
const PROGRESS_EVERY_MS = 100;

const STEP = /^[a-z][a-z0-9_.-]{0,63}$/;
const ERROR_CODE = /^[a-z][a-z0-9_.]{0,63}$/;

export interface ActionRunnerOptions {
  driver: Driver;
  journal: ActionJournal;
  /** Each action gets `<workRoot>/<requestId>/` as its work folder (a seize's capture). */
  workRoot: string;
  /** Sends to every connected cockpit. */
  broadcast(message: AgentMessage): void;
  /** A line for the operator (stderr). */
  note(line: string): void;
  deadlineMs?: number;
}

interface Running {
  request: ActionRequest;
  vmName: string;
  startedAt: string;
  started: number;
  controller: AbortController;
  lastProgress?: ActionProgressMessage;
  lastSentAt: number;
  /** The driver has been called (before that, the request is still being recorded: nothing was done to the VM). */
  acting: boolean;
  settled: Promise<void>;
}

export class ActionRunner {
  /** By VM id: what runs on each VM now. */
  private readonly running = new Map<string, Running>();
  private closing = false;

  constructor(private readonly options: ActionRunnerOptions) {}

  /** The VM as the wire shows it: the driver's view, marked `busy` with the kind that runs on it. */
  decorate = (vm: Vm): Vm => {
    const r = this.running.get(vm.id);
    if (r) return { ...vm, busy: r.request.kind };
    if (vm.busy === undefined) return vm;
    const { busy: _busy, ...rest } = vm;
    return rest;
  };

  /** Handles one `action` from a cockpit; `reply` reaches only that cockpit, `peer` names it in notes. */
  handle(message: ActionMessage, reply: (m: AgentMessage) => void, peer: string, policy?: PolicyProvenance, who?: { requestedBy?: Principal; approval?: ActionApproval }): void {
    const { journal, driver } = this.options;
    const request: ActionRequest = {
      requestId: message.requestId, vmId: message.vmId, kind: message.kind, params: message.params, actor: message.actor, reason: message.reason,
      ...(policy ? { policy } : {}),
      ...(who?.requestedBy ? { requestedBy: who.requestedBy } : {}),
      ...(who?.approval ? { approval: who.approval } : {}),
    };
    const label = `action ${request.requestId} (${request.kind} of ${request.vmId}, by ${printable(request.actor.name)} at ${peer})`;
    const known = journal.get(request.requestId);
    if (known) {
      this.replay(known, request, reply, label, message.id);
      return;
    }
    if (this.closing) {
      reply(errorMessage('unavailable', 'The agent is shutting down, so this action was not run: ask again once it is back.', message.id));
      return;
    }
    const vm = driver.getVm(request.vmId);
    const refusal = this.refusal(request, vm);
    const at = now();
    if (refusal) {
      const rejection: StoredRejection = { code: refusal.code, message: clip(refusal.message, 2048), at };
      if (vm) rejection.state = vm.state;
      // Nothing ran, so the answer need not wait for the disk; if it is lost, a retry is checked afresh.
      journal.reject(request, rejection).catch((err: unknown) => this.options.note(`${label}: ${err instanceof Error ? err.message : String(err)}`));
      this.options.note(`${label}: rejected [${refusal.code}] ${refusal.message}`);
      reply(rejectedMessage(request, rejection));
      return;
    }
    this.start(request, vm!, at, label, reply, message.id);
  }

  /**
   * An action the agent's own policy takes, with no cockpit to answer: the same checks, journal, broadcasts and notes
   * as a cockpit's. Resolves with its journal entry once it has a result or a refusal; a request id the journal knows
   * is answered from it, never run again (undefined: it could not be recorded, so it did not run).
   */
  async automatic(request: ActionRequest): Promise<JournalEntry | undefined> {
    const { policy, ...message } = request;
    this.handle({ type: 'action', ...message }, () => {}, 'policy', policy);
    const running = this.running.get(request.vmId);
    if (running?.request.requestId === request.requestId) await running.settled;
    return this.options.journal.get(request.requestId);
  }

  /** Aborts what runs, waits a little for the drivers to stop, and records each as failed by the shutdown. */
  async close(): Promise<void> {
    this.closing = true;
    const running = [...this.running.values()];
    for (const r of running) r.controller.abort(stopping(r.acting));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(running.map((r) => r.settled)), new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(timer);
  }

  private refusal(request: ActionRequest, vm: Vm | undefined): Refusal | undefined {
    const { driver } = this.options;
    if (!driver.actions.includes(request.kind)) {
      const can = driver.actions.length > 0 ? `it can ${driver.actions.join(', ')}` : 'it carries out no actions';
      return { code: 'unsupported', message: `This agent's ${driver.kind} driver cannot ${request.kind} a VM (${can}).` };
    }
    if (!vm) return { code: 'unknown_vm', message: `There is no VM "${request.vmId}" on this host: it may have been removed; check the inventory.` };
    const busy = this.running.get(vm.id);
    if (busy) {
      return { code: 'busy', message: `${vm.name} is busy: a ${busy.request.kind} (request ${busy.request.requestId}) runs on it; wait for its result, then ask again.` };
    }
    const origin = vm.cloneOf ? driver.getVm(vm.cloneOf) : undefined;
    return refuse(vm, request.kind, request.params, origin ? { origin } : {}) ?? driver.refuse?.(vm, request.kind, request.params);
  }

  private replay(known: JournalEntry, request: ActionRequest, reply: (m: AgentMessage) => void, label: string, ref?: string): void {
    const first = known.request;
    if (first.vmId !== request.vmId || first.kind !== request.kind || canonical(first.params) !== canonical(request.params)) {
      const message = `The request id ${request.requestId} was already used for a ${first.kind} of ${first.vmId}${canonical(first.params) !== '{}' ? ` with ${canonical(first.params)}` : ''}; this ${request.kind} did not run: send it with a new request id.`;
      this.options.note(`${label}: rejected [request_conflict] ${message}`);
      reply({ type: 'action.rejected', requestId: request.requestId, vmId: request.vmId, kind: request.kind, code: 'request_conflict', message: clip(message, 2048), at: now() });
      return;
    }
    this.options.note(`${label}: a retry of a known request, answered from the journal (${known.phase}); not run again.`);
    if (known.phase === 'rejected' && known.rejection) {
      reply({ ...rejectedMessage(first, known.rejection), replayed: true });
    } else if (known.phase === 'done' && known.result) {
      reply({ ...resultMessage(first, known.result), replayed: true });
    } else {
      // Still being recorded, perhaps: answer once it is durable, as the first asker is answered.
      void (known.recorded ?? Promise.resolve()).then(
        () => {
          const running = this.running.get(first.vmId);
          reply({ ...acceptedMessage(first, known.acceptedAt ?? now()), replayed: true });
          if (running?.request.requestId === first.requestId && running.lastProgress) reply(running.lastProgress);
        },
        (err: unknown) => reply(notRecorded(err, ref)),
      );
    }
  }

  private start(request: ActionRequest, vm: Vm, startedAt: string, label: string, reply: (m: AgentMessage) => void, ref: string | undefined): void {
    const { driver, broadcast, note, journal } = this.options;
    const controller = new AbortController();
    let resolveSettled!: () => void;
    const r: Running = {
      request, vmName: vm.name, startedAt, started: performance.now(), controller, lastSentAt: 0, acting: false,
      settled: new Promise<void>((resolve) => (resolveSettled = resolve)),
    };
    // The VM is held from now: another action on it is refused busy even while this one is being recorded.
    this.running.set(request.vmId, r);

    const finish = async (result: StoredResult, workDir: string, deadline: NodeJS.Timeout) => {
      clearTimeout(deadline);
      try {
        rmdirSync(workDir);
      } catch {
        // Not empty (a capture is in it) or already gone: either way it stays as the driver left it.
      }
      try {
        // Durable before anyone is told: a result a cockpit saw is the result a retry gets, even after a power cut.
        await journal.finish(request.requestId, result);
      } catch (err) {
        // The responder still gets the result now; after a restart the journal will call this one interrupted.
        note(`${label}: its result could not be recorded: ${err instanceof Error ? err.message : String(err)}`);
      }
      this.running.delete(request.vmId);
      const after = driver.getVm(request.vmId);
      if (after) broadcast({ type: 'vm', vm: this.decorate(after) });
      broadcast(resultMessage(request, result));
      const ms = Math.round(performance.now() - r.started);
      note(result.ok
        ? `${label}: done in ${ms} ms; ${printable(vm.name)} is ${result.state ?? 'gone'}`
        : `${label}: failed in ${ms} ms [${result.error?.code}] ${result.error?.message}`);
      resolveSettled();
    };

    void (async () => {
      try {
        await journal.begin(request, startedAt);
      } catch (err) {
        this.running.delete(request.vmId);
        note(`${label}: not run, the request could not be recorded: ${err instanceof Error ? err.message : String(err)}`);
        reply(notRecorded(err, ref));
        resolveSettled();
        return;
      }
      // A renewal is an isolate like any other on the wire; the operator's line says which it is.
      const renewal = request.kind === 'isolate' && isRenewal(vm, request.params)
        ? `, renewing its ${vm.isolation!.mode} isolation ${request.params.expiresAt !== undefined ? `until ${printable(request.params.expiresAt)}` : 'with no expiry'}`
        : '';
      note(`${label}: accepted on ${printable(vm.name)} (${vm.state})${renewal}; reason: "${printable(request.reason)}"`);
      broadcast(acceptedMessage(request, startedAt));
      const current = driver.getVm(request.vmId) ?? vm;
      broadcast({ type: 'vm', vm: this.decorate(current) });

      const deadlineMs = this.options.deadlineMs ?? DEFAULT_DEADLINE_MS;
      const deadline = setTimeout(() => controller.abort(new ActionFailure('timed_out', `The ${request.kind} did not end within ${Math.round(deadlineMs / 1000)} s and was aborted; check the VM's state.`)), deadlineMs);
      const workDir = this.workDir(request.requestId);
      const ctx: ActionContext = {
        requestId: request.requestId, params: request.params, actor: request.actor, reason: request.reason, workDir,
        signal: controller.signal,
        progress: (step, message, fraction) => this.progress(r, step, message, fraction),
      };
      if (this.closing) controller.abort(stopping(false));
      let result: StoredResult;
      try {
        controller.signal.throwIfAborted();
        r.acting = true;
        const outcome = await driver.act(request.vmId, request.kind, ctx);
        result = { ok: true, state: outcome.state, startedAt, finishedAt: now() };
        if (outcome.details) result.details = outcome.details;
      } catch (err) {
        result = { ok: false, error: this.actionError(err, controller.signal), startedAt, finishedAt: now() };
        const state = driver.getVm(request.vmId)?.state;
        if (state) result.state = state;
      }
      await finish(result, workDir, deadline);
    })();
  }

  private progress(r: Running, step: string, message: string, fraction?: number): void {
    if (this.running.get(r.request.vmId) !== r) return; // after the result: too late to matter
    const m: ActionProgressMessage = {
      type: 'action.progress', requestId: r.request.requestId, step: STEP.test(step) ? step : 'step', message: clip(message, 1024), at: now(),
    };
    if (fraction !== undefined && Number.isFinite(fraction)) m.fraction = Math.min(1, Math.max(0, fraction));
    const sameStep = r.lastProgress?.step === m.step;
    r.lastProgress = m;
    const t = performance.now();
    if (sameStep && t - r.lastSentAt < PROGRESS_EVERY_MS && m.fraction !== 1) return;
    r.lastSentAt = t;
    this.options.broadcast(m);
  }

  private workDir(requestId: string): string {
    const dir = join(this.options.workRoot, requestId);
    try {
      mkdirSync(this.options.workRoot, { recursive: true, mode: 0o700 });
      mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      // A folder left by an interrupted run of this id cannot be: ids never run twice. Anything else, the driver
      // finds out when it writes, and says so in its failure.
      if (systemCode(err) !== 'EEXIST') this.options.note(`cannot create the work folder ${dir} (${systemCode(err)}).`);
    }
    return dir;
  }

  private actionError(err: unknown, signal: AbortSignal): ActionError {
    // An abort surfaces as whatever the driver threw at that point; the reason we aborted for says more.
    const reason: unknown = signal.aborted ? signal.reason : undefined;
    const e = reason instanceof AgentError ? reason : err;
    if (e instanceof AgentError) {
      return { code: ERROR_CODE.test(e.code) ? e.code : 'driver_failed', message: clip(e.message || `The ${this.options.driver.kind} driver failed without saying why.`, 2048) };
    }
    const text = e instanceof Error ? e.message : String(e);
    return { code: 'driver_failed', message: clip(`The ${this.options.driver.kind} driver failed unexpectedly: ${text || 'no message'}`, 2048) };
  }
}

function resultMessage(request: ActionRequest, result: StoredResult): ActionResultMessage {
  return { type: 'action.result', requestId: request.requestId, vmId: request.vmId, kind: request.kind, ...result };
}

function rejectedMessage(request: ActionRequest, rejection: StoredRejection): ActionRejectedMessage {
  return { type: 'action.rejected', requestId: request.requestId, vmId: request.vmId, kind: request.kind, ...rejection };
}

/** Why an action was aborted by a shutdown: whether the driver had begun matters to the responder. */
function stopping(acting: boolean): ActionFailure {
  return acting
    ? new ActionFailure('agent_stopping', 'The agent shut down while this ran, so it may be partly done; check the VM\'s state before acting again.')
    : new ActionFailure('agent_stopping', 'The agent shut down before this could run; nothing was done to the VM.');
}

/** The answer to an action whose request id could not be made durable: it did not run. */
function notRecorded(err: unknown, ref: string | undefined): ErrorMessage {
  const why = err instanceof AgentError ? err.message : String(err);
  return errorMessage('internal', `The agent could not record this request durably, so it did not run it: ${why} Then ask again with the same request id.`, ref);
}

function errorMessage(code: string, message: string, ref: string | undefined): ErrorMessage {
  const e: ErrorMessage = { type: 'error', code, message: clip(message, 2048) };
  if (ref !== undefined) e.ref = ref;
  return e;
}

/** JSON with sorted keys: the same params in another key order are the same request. */
function canonical(value: object): string {
  return JSON.stringify(value, Object.keys(value).sort());
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function now(): string {
  return new Date().toISOString();
}

/** Text from a peer, made safe for a terminal: control characters shown as escapes, length bounded. */
export function printable(text: string): string {
  return JSON.stringify(text.slice(0, 300)).slice(1, -1).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** action.accepted, with who asked and why: every cockpit is told, and another responder must see who acts. */
function acceptedMessage(request: ActionRequest, at: string): ActionAcceptedMessage {
  return {
    type: 'action.accepted', requestId: request.requestId, vmId: request.vmId, kind: request.kind, at,
    actor: request.actor, reason: clip(request.reason, 2048), params: request.params, ...(request.policy ? { policy: request.policy } : {}),
    ...(request.requestedBy ? { requestedBy: request.requestedBy } : {}), ...(request.approval ? { approval: request.approval } : {}),
  };
}
