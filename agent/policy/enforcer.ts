// The auto-response policy on the agent: holds the signed policy in force (the last good one, persisted in the data
// dir), and acts on each threat event the moment it is numbered and written — so terminate-on-malicious (STIG
// SV-95141r1) works with no cockpit connected. A response runs through the ordinary action machinery (journal,
// idempotence, broadcasts to every cockpit) as actor { name: policy, role: automatic }, with request ids derived from
// the event id so that the same event never acts twice, across restarts too; and its record is itself a threat event
// (category and sensor `policy`), numbered and replayed, so a cockpit that connects later sees what was done and why.
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ActionKind, ActionParams, AutomaticStep, PolicyInForce, PolicyProvenance, SignedPolicy, ThreatEvent, Vm } from '../../protocol/index.ts';
import { evaluate, type PolicyDecision } from '../../protocol/policy.ts';
import { printable, type ActionRunner } from '../actions.ts';
import type { JournalEntry } from '../action-journal.ts';
import type { Driver } from '../drivers/driver.ts';
import { AgentError, systemCode } from '../errors.ts';
import { verifyPolicy, type TrustedKeys } from './signing.ts';

export const POLICY_FILE = 'policy.json';
const ACTOR = { name: 'policy', role: 'automatic' } as const;
/** A VM in one of these states runs nothing more: an event about it (a late one, a replay) asks for no response. */
const AT_REST = new Set<Vm['state']>(['terminated', 'seizing', 'seized']);

export interface EnforcerOptions {
  agentId: string;
  dataDir: string;
  hostGroups: readonly string[];
  trusted: TrustedKeys;
  driver: Driver;
  runner: ActionRunner;
  /** Appends threat events to the log (the record of each response). */
  record(events: ThreatEvent[]): void;
  note(line: string): void;
  /** A new policy is in force (pushed or given at start): every cockpit is told (policy.current). */
  changed?(signed: SignedPolicy): void;
  /** ms since the epoch; the tests move it to expire an exception. */
  now?(): number;
}

export class PolicyEnforcer {
  private signed: SignedPolicy | undefined;
  private force: PolicyInForce | undefined;
  /** VMs with an automatic response under way: one response per VM at a time, whatever the burst of events. */
  private readonly acting = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  private readonly now: () => number;

  constructor(private readonly options: EnforcerOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The last good policy from the data dir, then `file` (--policy) if given: a refused file stops the agent. */
  load(file?: string): void {
    const path = join(this.options.dataDir, POLICY_FILE);
    let stored: unknown;
    try {
      stored = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      if (systemCode(err) !== 'ENOENT') this.options.note(`the stored policy ${path} cannot be read (${systemCode(err)}); no policy in force until one is given.`);
    }
    if (stored !== undefined) {
      const v = verifyPolicy(stored, this.options.trusted, this.now());
      if (v.ok) this.install(v.signed, v.inForce, false);
      else this.options.note(`the stored policy is not enforced [${v.code}]: ${printable(v.message)}`);
    }
    if (file === undefined) return;
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new AgentError('policy_refused', `Cannot read the policy file ${file} (${systemCode(err)}): give a signed policy (JSON).`, { cause: err });
    }
    const answer = this.set(value);
    if (!answer.ok) throw new AgentError('policy_refused', `The policy file ${file} is refused [${answer.code}]: ${answer.message}`);
  }

  /** Which policy is enforced (for hello); undefined when none. */
  inForce(): PolicyInForce | undefined {
    return this.force;
  }

  /** The whole signed policy in force (policy.current); undefined when none. */
  current(): SignedPolicy | undefined {
    return this.signed;
  }

  /** A policy pushed by a cockpit (policy.set) or given at start: verified, then in force and persisted, or refused. */
  set(value: unknown): { ok: true; inForce: PolicyInForce } | { ok: false; code: string; message: string } {
    const v = verifyPolicy(value, this.options.trusted, this.now());
    if (!v.ok) {
      this.options.note(`policy refused [${v.code}]: ${printable(v.message)}${this.force ? ` Still enforcing ${this.force.id} v${this.force.version}.` : ''}`);
      return v;
    }
    const current = this.force;
    if (current && current.id === v.inForce.id && v.inForce.version < current.version) {
      const message = `Policy ${current.id} v${current.version} is in force; v${v.inForce.version} is older and is refused (no rollback).`;
      this.options.note(`policy refused [policy_stale]: ${printable(message)}`);
      return { ok: false, code: 'policy_stale', message };
    }
    for (const w of v.warnings) this.options.note(`policy ${v.inForce.id} v${v.inForce.version}: ${printable(w)}`);
    this.install(v.signed, v.inForce, true);
    return { ok: true, inForce: v.inForce };
  }

  /** Called with every batch of threat events right after the log wrote them. */
  onEvents(events: readonly ThreatEvent[]): void {
    const signed = this.signed;
    if (!signed) return;
    for (const event of events) {
      if (event.sensor.kind === 'policy' || this.acting.has(event.vmId)) continue;
      const vm = this.options.driver.getVm(event.vmId);
      if (!vm || AT_REST.has(vm.state)) continue; // the host itself, a VM gone, or one that runs nothing more
      const decision = this.decide(signed, event, vm);
      if (decision.response === 'none') continue;
      if (decision.response === 'alert') {
        this.options.note(`policy ${signed.policy.id} v${signed.policy.version} rule ${decision.ruleId}: alert only for event ${printable(event.id)} on ${printable(vm.name)}.`);
        continue;
      }
      this.acting.add(vm.id);
      const run = this.respond(signed, event, vm, decision)
        .catch((err: unknown) => this.options.note(`policy response to event ${printable(event.id)} failed: ${printable(err instanceof Error ? err.message : String(err))}`))
        .finally(() => {
          this.acting.delete(vm.id);
          this.pending.delete(run);
        });
      this.pending.add(run);
    }
  }

  private memo = new Map<string, PolicyDecision>();
  private memoFor: SignedPolicy | undefined;
  private memoUntil = Infinity;
  /** evaluate() depends only on these fields of the event, the VM's tags and (through exception expiry) the clock. */
  private decide(signed: SignedPolicy, event: ThreatEvent, vm: Vm): PolicyDecision {
    const now = this.now();
    if (this.memoFor !== signed || now >= this.memoUntil || this.memo.size >= 10_000) {
      this.memo.clear();
      this.memoFor = signed;
      const expiries = (signed.policy.exceptions ?? []).map((e) => Date.parse(e.expiresAt)).filter((t) => t > now);
      this.memoUntil = expiries.length ? Math.min(...expiries) : Infinity;
    }
    const key = `${event.verdict}\u0000${event.severity}\u0000${event.category}\u0000${event.sensor.id}\u0000${event.sensor.kind}\u0000${event.mitre?.techniqueId ?? ''}\u0000${(vm.tags ?? []).join('\u0001')}`;
    let d = this.memo.get(key);
    if (!d) {
      d = evaluate(signed.policy, event, { agentId: this.options.agentId, hostGroups: this.options.hostGroups, vmTags: vm.tags ?? [] }, now);
      this.memo.set(key, d);
    }
    return d;
  }

  /** Waits for the responses under way (they end when the runner closes). */
  async close(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  private install(signed: SignedPolicy, inForce: PolicyInForce, persist: boolean): void {
    if (persist) writeDurably(join(this.options.dataDir, POLICY_FILE), `${JSON.stringify(signed)}\n`);
    this.signed = signed;
    this.force = inForce;
    this.options.changed?.(signed);
    this.options.note(`policy ${inForce.id} v${inForce.version} in force (signed by ${inForce.signer.slice(0, 16)}…).`);
  }

  private async respond(signed: SignedPolicy, event: ThreatEvent, vm: Vm, decision: PolicyDecision): Promise<void> {
    const { policy } = signed;
    const technique = event.mitre ? `, ${event.mitre.techniqueId}` : '';
    const why = `Policy ${policy.id} v${policy.version}, rule ${decision.ruleId}${decision.layer === 'base' ? '' : ` (delta ${decision.layer})`}: ${event.verdict} ${event.severity} ${event.category} event ${event.id} (sensor ${event.sensor.id}${technique})`;
    const steps: [ActionKind, ActionParams][] = decision.response === 'forensic-hold'
      ? [['freeze', {}], ['isolate', { mode: 'honeypot' }], ['seize', { caseId: `policy-${event.id}`.slice(0, 128) }]]
      : [['terminate', {}]];
    const reason = decision.response === 'forensic-hold'
      ? `${why}; forensic hold under exception ${decision.exception!.id} (${decision.exception!.justification.kind}, approved by ${decision.exception!.approver}, until ${decision.exception!.expiresAt}).`
      : `${why}; terminate${decision.fallback ? ` (${decision.fallback})` : ''}.`;
    const provenance: PolicyProvenance = {
      policyId: policy.id, version: policy.version, ruleId: decision.ruleId, layer: decision.layer.slice(0, 64),
      response: decision.response === 'forensic-hold' ? 'forensic-hold' : 'terminate', eventId: event.id,
      ...(decision.exception ? { exception: decision.exception.id } : {}),
      ...(decision.fallback ? { fallback: decision.fallback.slice(0, 512) } : {}),
    };
    const done: string[] = [];
    const actions: AutomaticStep[] = [];
    for (const [kind, params] of steps) {
      const requestId = policyRequestId(event.id, kind);
      const entry = await this.options.runner.automatic({ requestId, vmId: vm.id, kind, params, actor: { ...ACTOR }, reason: reason.slice(0, 2048), policy: provenance });
      const outcome = describeOutcome(entry);
      done.push(`${kind} ${requestId}: ${outcome.text}`);
      actions.push(stepOf(requestId, kind, params, entry));
      // A hold goes on to the seizure even if the honeypot was refused: the VM is frozen, and its evidence matters.
      if (!outcome.ok && kind !== 'isolate') break;
    }
    const record: ThreatEvent = {
      id: `${policyRequestId(event.id, 'record')}`,
      time: new Date(this.now()).toISOString(),
      agentId: this.options.agentId,
      vmId: vm.id,
      vmName: vm.name,
      severity: event.severity,
      verdict: event.verdict,
      category: 'policy',
      title: `Policy ${decision.response === 'forensic-hold' ? 'forensic hold' : 'terminate'} of ${vm.name}: rule ${decision.ruleId} of ${policy.id} v${policy.version}`.slice(0, 512),
      description: `${reason} ${done.join('; ')}.`.slice(0, 4096),
      sensor: { id: 'cordon-policy', kind: 'policy' },
      response: { provenance, actions },
      ...(event.mitre ? { mitre: event.mitre } : {}),
    };
    this.options.record([record]);
  }
}

/** The request id of a policy response: derived from the event id alone, so one event never acts twice. */
export function policyRequestId(eventId: string, kind: string): string {
  return `policy-${createHash('sha256').update(eventId).digest('hex').slice(0, 32)}-${kind}`;
}

/** One step of the response as the record carries it: what the action journal holds of it. */
function stepOf(requestId: string, kind: ActionKind, params: ActionParams, entry: JournalEntry | undefined): AutomaticStep {
  const step: AutomaticStep = { requestId, kind, params, ok: entry?.result?.ok === true };
  if (entry?.acceptedAt) step.acceptedAt = entry.acceptedAt;
  if (entry?.rejection) {
    step.rejection = { code: entry.rejection.code, message: entry.rejection.message.slice(0, 2048) };
    if (entry.rejection.state) step.state = entry.rejection.state;
  }
  const result = entry?.result;
  if (result) {
    step.startedAt = result.startedAt;
    step.finishedAt = result.finishedAt;
    if (result.state) step.state = result.state;
    if (result.error) step.error = result.error;
    if (result.details) step.details = result.details;
  }
  return step;
}

function describeOutcome(entry: JournalEntry | undefined): { ok: boolean; text: string } {
  if (!entry) return { ok: false, text: 'not run (it could not be recorded)' };
  if (entry.rejection) return { ok: false, text: `refused [${entry.rejection.code}] ${entry.rejection.message}` };
  if (entry.result?.ok) return { ok: true, text: `done, the VM is ${entry.result.state ?? 'gone'}` };
  if (entry.result?.error) return { ok: false, text: `failed [${entry.result.error.code}] ${entry.result.error.message}` };
  return { ok: false, text: 'interrupted' };
}

/** Temporary file, fsync, rename, fsync of the folder: the last good policy survives a crash mid-write. */
function writeDurably(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  // The rename itself is durable only once the folder is.
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
