// The behaviour every driver must show, whatever hypervisor it drives: each action's effect and the shared state
// machine, refusals with a sentence, idempotence by request id (also across an agent restart), one action at a time
// per VM. Runs a real agent (startAgent) around the driver and talks to it as cockpits do, over real sockets.
//
//   describeDriverBehaviour('sim', (setup) => createSimDriver({ ... }), { ... })      test/agent/sim-behaviour.test.ts
//   describeDriverBehaviour('qemu', (setup) => ..., { testTimeoutMs: 300_000, ... })  test/qemu/ (later)
//
// Built for slow drivers too: every wait comes from the options, and no test has more than two VMs alive at once
// (clones included), so a host that can run only two micro-VMs (TCG on two cores) passes it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { ActionKind, Vm } from '../../protocol/index.ts';
import { startAgent, type RunningAgent } from '../../agent/agent.ts';
import type { Driver } from '../../agent/drivers/driver.ts';
import { ActionCockpit, actionMessage, newRequestId, type ActionAnswer } from './action-cockpit.ts';

/** What the suite asks of the driver factory. */
export interface DriverSetup {
  /** The agent id events must carry. */
  agentId: string;
  /** The agent's data dir (the same across a restart). */
  dataDir: string;
  /** Exactly this many VMs, running, when start() resolves (1 or 2). */
  vms: number;
  /** True when the factory is called again for the same data dir, as after an agent restart. */
  restart: boolean;
}

export interface DriverBehaviourOptions {
  /** Deadline of each test (default 60 s). */
  testTimeoutMs?: number;
  /** How long one action may take, answer and result (default 10 s). */
  actionTimeoutMs?: number;
  /**
   * How long to wait for the next threat event of a running VM (default 5 s). 0: the driver emits no events on its
   * own, and the checks that a VM's events stop and start again are skipped.
   */
  eventWaitMs?: number;
  /** How long without an event about a VM shows that it emits none (default 500 ms). */
  quietMs?: number;
  /** Whether the driver can isolate in honeypot mode on this host (default true). */
  honeypot?: boolean;
  /** Most VMs the host may run at once (default 2; with 1, the tests needing two are skipped). */
  maxVms?: number;
  /** Called after each test with every driver it made, once its agent is closed: free VMs, taps, files. */
  dispose?: (driver: Driver) => Promise<void> | void;
  /**
   * Starts watching a running VM's network from outside the driver (its tap, its bridge, the guest's carrier), for the
   * check that a renewal leaves it alone. Without it (the sim has no outside), only the wire is checked.
   */
  watchNetwork?: (driver: Driver, vmId: string) => Promise<NetworkWatch>;
}

/** A watch on a VM's network from outside; stop() ends it and says what changed meanwhile, in words (none: []). */
export interface NetworkWatch {
  stop(): Promise<string[]>;
}

const TOKEN = 'behaviour-token-0123456789abcdef';
const AGENT_ID = 'behaviour-agent';

/** A driver that does everything `inner` does except `hidden`: for the unsupported-kind check, on any driver. */
function withoutKind(inner: Driver, hidden: ActionKind): Driver & { calls: ActionKind[] } {
  const calls: ActionKind[] = [];
  return {
    calls,
    get kind() { return inner.kind; },
    get version() { return inner.version; },
    actions: inner.actions.filter((k) => k !== hidden),
    start: (sink) => inner.start(sink),
    stop: () => inner.stop(),
    listVms: () => inner.listVms(),
    getVm: (id) => inner.getVm(id),
    act: (vmId, kind, ctx) => {
      calls.push(kind);
      return inner.act(vmId, kind, ctx);
    },
  };
}

export function describeDriverBehaviour(name: string, makeDriver: (setup: DriverSetup) => Driver | Promise<Driver>, options: DriverBehaviourOptions = {}): void {
  const o = {
    testTimeoutMs: options.testTimeoutMs ?? 60_000,
    actionTimeoutMs: options.actionTimeoutMs ?? 10_000,
    eventWaitMs: options.eventWaitMs ?? 5_000,
    quietMs: options.quietMs ?? 500,
    honeypot: options.honeypot ?? true,
    maxVms: options.maxVms ?? 2,
  };
  const bounded = { timeout: o.testTimeoutMs };
  const twoVms = { timeout: o.testTimeoutMs, skip: o.maxVms < 2 ? `the host runs at most ${o.maxVms} VM at once` : false } as const;

  /** One agent around a fresh driver, with cockpits; all of it closed after the test, drivers disposed. */
  class Lab {
    agent!: RunningAgent;
    driver!: Driver;
    readonly notes: string[] = [];
    readonly drivers: Driver[] = [];
    readonly cockpits: ActionCockpit[] = [];
    readonly dataDir: string;

    constructor(private readonly t: TestContext, private readonly vms: number) {
      const dir = mkdtempSync(join(tmpdir(), `cordon-behaviour-${name}-`));
      this.dataDir = join(dir, 'data');
      t.after(async () => {
        for (const c of this.cockpits) c.close();
        await this.agent?.close();
        for (const d of this.drivers) await options.dispose?.(d);
        rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
      });
    }

    async start(wrap: (d: Driver) => Driver = (d) => d, restart = false): Promise<void> {
      const driver = await makeDriver({ agentId: AGENT_ID, dataDir: this.dataDir, vms: this.vms, restart });
      this.drivers.push(driver);
      this.driver = wrap(driver);
      this.agent = await startAgent({ token: TOKEN, driver: this.driver, dataDir: this.dataDir, agentId: AGENT_ID, note: (l) => this.notes.push(l) });
    }

    async restart(): Promise<void> {
      for (const c of this.cockpits) c.close();
      await this.agent.close();
      await this.start(undefined, true);
    }

    /** A cockpit that has the hello and the inventory, subscribed to the events. */
    async cockpit(): Promise<ActionCockpit> {
      const c = await ActionCockpit.open(this.agent.url, TOKEN);
      this.cockpits.push(c);
      await c.inventory();
      c.send({ type: 'subscribe', since: 0 });
      return c;
    }

    /** The running VMs the factory made, in inventory order. */
    async running(c: ActionCockpit): Promise<Vm[]> {
      const vms = (await c.inventory()).filter((v) => v.state === 'running');
      assert.ok(vms.length >= this.vms, `the driver has ${this.vms} running VM(s); the inventory shows ${vms.length}`);
      return vms.slice(0, this.vms);
    }

    act(c: ActionCockpit, vmId: string, kind: ActionKind, extra: Parameters<ActionCockpit['act']>[2] = {}): Promise<ActionAnswer> {
      return c.act(vmId, kind, { timeoutMs: o.actionTimeoutMs, ...extra });
    }
  }

  /** Acts and insists it went well: accepted, then an ok result in the expected state. */
  async function done(lab: Lab, c: ActionCockpit, vmId: string, kind: ActionKind, state: Vm['state'], extra: Parameters<ActionCockpit['act']>[2] = {}): Promise<ActionAnswer> {
    const a = await lab.act(c, vmId, kind, extra);
    assert.ok(a.accepted, `${kind} is accepted (got ${JSON.stringify(a.first)})`);
    assert.ok(a.result?.ok, `${kind} succeeds (got ${JSON.stringify(a.result)})`);
    assert.equal(a.result.state, state, `after ${kind} the VM is ${state}`);
    assert.equal(a.result.requestId, a.requestId);
    assert.ok(Date.parse(a.result.finishedAt) >= Date.parse(a.result.startedAt), 'finishedAt is not before startedAt');
    const vm = c.vm(vmId);
    assert.equal(vm?.state, state, `the inventory shows ${state} by the time of the result`);
    assert.equal(vm?.busy, undefined, 'and the VM is no longer busy');
    return a;
  }

  async function refused(lab: Lab, c: ActionCockpit, vmId: string, kind: ActionKind, code: string, extra: Parameters<ActionCockpit['act']>[2] = {}): Promise<ActionAnswer> {
    const a = await lab.act(c, vmId, kind, extra);
    assert.ok(a.rejected, `${kind} is refused (got ${JSON.stringify(a.first)})`);
    assert.equal(a.rejected.code, code, a.rejected.message);
    assert.match(a.rejected.message, /^\S.{10,}[.!]$/s, 'the refusal is a sentence');
    return a;
  }

  /** The VM emits threat events now (skipped when the driver makes none on its own). */
  async function emits(c: ActionCockpit, vmId: string, what: string): Promise<void> {
    if (o.eventWaitMs <= 0) return;
    const from = c.mark;
    await c.waitFor((m) => m.type === 'event' && m.event.vmId === vmId, o.eventWaitMs, `an event about ${vmId} (${what})`, from);
  }

  /** The VM emits no threat event for quietMs. */
  async function silent(c: ActionCockpit, vmId: string, what: string): Promise<void> {
    if (o.eventWaitMs <= 0) return;
    const from = c.mark;
    await new Promise((r) => setTimeout(r, o.quietMs));
    const late = c.eventsOf(vmId, from);
    assert.equal(late.length, 0, `${what}: no event about the VM, yet got "${late[0]?.event.title}"`);
  }

  describe(`driver behaviour: ${name}`, () => {
    test('hello lists the driver\'s actions; the inventory shows its VMs running and not busy', bounded, async (t) => {
      const lab = new Lab(t, 1);
      await lab.start();
      const c = await lab.cockpit();
      const hello = await c.hello();
      assert.deepEqual(hello.actions, [...lab.driver.actions]);
      assert.ok(hello.capabilities.includes('actions'), 'hello offers actions');
      const [vm] = await lab.running(c);
      assert.equal(vm!.busy, undefined);
      assert.deepEqual(c.invalid, []);
    });

    test('freeze pauses the VM and its events stop; resume runs it again and they come back', bounded, async (t) => {
      const lab = new Lab(t, 1);
      await lab.start();
      const c = await lab.cockpit();
      const [vm] = await lab.running(c);
      await emits(c, vm!.id, 'running');
      await done(lab, c, vm!.id, 'freeze', 'frozen');
      await silent(c, vm!.id, 'frozen');
      await refused(lab, c, vm!.id, 'freeze', 'wrong_state');
      await done(lab, c, vm!.id, 'resume', 'running');
      await emits(c, vm!.id, 'resumed');
      await refused(lab, c, vm!.id, 'resume', 'wrong_state');
      assert.deepEqual(c.invalid, []);
    });

    test('isolate (cut) keeps the VM running, isolated, with a proof; release returns it to running', bounded, async (t) => {
      const lab = new Lab(t, 1);
      await lab.start();
      const c = await lab.cockpit();
      const [vm] = await lab.running(c);
      await refused(lab, c, vm!.id, 'release', 'wrong_state');
      const isolated = await done(lab, c, vm!.id, 'isolate', 'isolated', { params: { mode: 'cut' } });
      const proof = isolated.result!.details?.isolation;
      assert.ok(proof, 'the result carries an isolation proof');
      assert.ok(proof.ok && proof.checks.length > 0, `the proof holds: ${JSON.stringify(proof)}`);
      assert.ok(proof.checks.every((k) => k.detail.length > 0), 'each check says what it saw');
      const shown = c.vm(vm!.id)!;
      assert.equal(shown.isolation?.mode, 'cut');
      assert.ok(shown.isolation?.since, 'the VM says since when it is isolated');
      assert.ok((shown.networks ?? []).every((n) => n.link === 'down'), 'every link is down');
      // Isolating it again in the same mode would renew it (see below); in the other mode it must be released first.
      await refused(lab, c, vm!.id, 'isolate', 'wrong_state', { params: { mode: 'honeypot' } });
      await emits(c, vm!.id, 'isolated VMs keep running');

      // Frozen while isolated, it stays isolated: resume brings it back cut off, not onto its network.
      await done(lab, c, vm!.id, 'freeze', 'frozen');
      assert.equal(c.vm(vm!.id)?.isolation?.mode, 'cut');
      await done(lab, c, vm!.id, 'resume', 'isolated');
      await done(lab, c, vm!.id, 'release', 'running');
      assert.equal(c.vm(vm!.id)?.isolation, undefined);
      assert.deepEqual(c.vm(vm!.id)?.networks, vm!.networks, 'release restores the networks as they were');
      assert.deepEqual(c.invalid, []);
    });

    test('isolate (honeypot) moves the VM to the quarantine network, link up, with a proof; release brings it back', { ...bounded, skip: o.honeypot ? false : 'honeypot isolation is not available on this host' }, async (t) => {
      const lab = new Lab(t, 1);
      await lab.start();
      const c = await lab.cockpit();
      const [vm] = await lab.running(c);
      const a = await done(lab, c, vm!.id, 'isolate', 'isolated', { params: { mode: 'honeypot' } });
      assert.equal(a.result!.details?.mode, 'honeypot');
      assert.ok(a.result!.details?.isolation?.ok, 'the proof holds');
      const shown = c.vm(vm!.id)!;
      assert.equal(shown.isolation?.mode, 'honeypot');
      assert.ok((shown.networks ?? []).every((n) => n.link !== 'down'), 'the guest sees no link change');
      assert.notDeepEqual(shown.networks?.map((n) => n.bridge), vm!.networks?.map((n) => n.bridge), 'its taps are on another bridge');
      await done(lab, c, vm!.id, 'release', 'running');
      assert.deepEqual(c.vm(vm!.id)?.networks, vm!.networks);
    });

    test('renewing an isolation gives it a new expiry in place: its network never changes, since is kept, the proof is fresh', bounded, async (t) => {
      const lab = new Lab(t, 1);
      await lab.start();
      const c = await lab.cockpit();
      const [vm] = await lab.running(c);
      const at = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();
      for (const mode of o.honeypot ? ['cut', 'honeypot'] as const : ['cut'] as const) {
        const other = mode === 'cut' ? 'honeypot' : 'cut';
        await done(lab, c, vm!.id, 'isolate', 'isolated', { params: { mode, expiresAt: at(15) } });
        const before = c.vm(vm!.id)!;
        const later = at(240);
        const from = c.mark;
        const watch = await options.watchNetwork?.(lab.driver, vm!.id);
        let renewed: ActionAnswer;
        let changes: string[] = [];
        try {
          renewed = await done(lab, c, vm!.id, 'isolate', 'isolated', { params: { mode, expiresAt: later } });
        } finally {
          changes = (await watch?.stop()) ?? [];
        }
        assert.deepEqual(changes, [], `${mode}: seen from outside, its link, tap and bridge never changed`);
        assert.ok(renewed.progress.some((p) => p.step === 'renew'), `${mode}: the renewal says so (${renewed.progress.map((p) => p.step).join(', ')})`);
        const after = c.vm(vm!.id)!;
        assert.equal(after.isolation?.mode, mode);
        assert.equal(after.isolation?.since, before.isolation?.since, `${mode}: isolated since the first isolate, not since the renewal`);
        assert.equal(after.isolation?.expiresAt, later, `${mode}: the new expiry`);
        assert.equal(after.since, before.since, `${mode}: the state did not change either`);
        assert.deepEqual(after.networks, before.networks, `${mode}: the networks as they were`);
        const updates = c.received.slice(from).flatMap((m) => (m.type === 'vm' && m.vm.id === vm!.id ? [m.vm] : []));
        assert.ok(updates.some((v) => v.isolation?.expiresAt === later && v.busy === undefined), `${mode}: a vm update on the wire shows the new expiry`);
        for (const v of updates) assert.deepEqual(v.networks, before.networks, `${mode}: no vm update on the wire shows another network, even for a moment`);
        const proof = renewed.result!.details?.isolation;
        assert.ok(proof?.ok && proof.checks.length > 0, `${mode}: the renewed isolation's proof holds: ${JSON.stringify(proof)}`);
        assert.ok(Date.parse(proof.checkedAt) >= Date.parse(renewed.result!.startedAt), `${mode}: the proof was made by the renewal`);
        assert.deepEqual(after.isolation?.proof, proof, `${mode}: the VM carries the fresh proof`);
        assert.equal(renewed.result!.details?.mode, mode);
        assert.ok(lab.notes.some((l) => l.includes(renewed.requestId) && l.includes(`renewing its ${mode} isolation until ${later}`)), 'the operator\'s line says it is a renewal');

        // A retry of the renewal is answered from the journal, not run again.
        const again = await lab.act(c, vm!.id, 'isolate', { requestId: renewed.requestId, params: { mode, expiresAt: later } });
        assert.equal(again.result?.replayed, true);
        const refusal = await refused(lab, c, vm!.id, 'isolate', 'wrong_state', { params: { mode: other, expiresAt: later } });
        assert.match(refusal.rejected!.message, /already isolated .*release it first to change how\.$/);
        await done(lab, c, vm!.id, 'isolate', 'isolated', { params: { mode } });
        assert.equal(c.vm(vm!.id)?.isolation?.expiresAt, undefined, `${mode}: renewed with no expiry, it has none`);
        assert.equal(c.vm(vm!.id)?.isolation?.since, before.isolation?.since);
        // The same watch sees a release, so its silence during the renewal means something.
        const watchRelease = await options.watchNetwork?.(lab.driver, vm!.id);
        let released: string[] = [];
        try {
          await done(lab, c, vm!.id, 'release', 'running');
        } finally {
          released = (await watchRelease?.stop()) ?? [];
        }
        if (watchRelease) assert.notDeepEqual(released, [], `${mode}: the watch from outside sees the release`);
        assert.deepEqual(c.vm(vm!.id)?.networks, vm!.networks, `${mode}: release restores the networks as they were`);
      }

      // A frozen VM's isolation is renewed too, and it stays frozen; resumed, it is still isolated.
      await done(lab, c, vm!.id, 'isolate', 'isolated', { params: { mode: 'cut', expiresAt: at(15) } });
      const since = c.vm(vm!.id)!.isolation!.since;
      await done(lab, c, vm!.id, 'freeze', 'frozen');
      await done(lab, c, vm!.id, 'isolate', 'frozen', { params: { mode: 'cut', expiresAt: at(60) } });
      assert.equal(c.vm(vm!.id)?.isolation?.since, since);
      await done(lab, c, vm!.id, 'resume', 'isolated');
      assert.deepEqual(c.invalid, []);
    });

    test('clone makes a new VM linked to its origin, isolated with its link down; the origin carries on unchanged', twoVms, async (t) => {
      const lab = new Lab(t, 1);
      await lab.start();
      const c = await lab.cockpit();
      const other = await lab.cockpit();
      const [origin] = await lab.running(c);
      await emits(c, origin!.id, 'before the clone');
      const a = await done(lab, c, origin!.id, 'clone', 'running');
      const cloneId = a.result!.details?.cloneVmId;
      assert.ok(cloneId, 'the result names the clone');
      const clone = c.vm(cloneId);
      assert.ok(clone, 'the clone is in the inventory');
      assert.equal(clone.cloneOf, origin!.id);
      assert.equal(clone.state, 'isolated');
      assert.equal(clone.isolation?.mode, 'cut');
      assert.ok((clone.networks ?? []).length > 0 && clone.networks!.every((n) => n.link === 'down'), 'the clone\'s links are down');
      assert.deepEqual(clone.networks?.map((n) => n.mac), origin!.networks?.map((n) => n.mac), 'the clone keeps its NICs (same MAC)');
      const after = c.vm(origin!.id)!;
      assert.equal(after.state, 'running');
      assert.deepEqual(after.networks, origin!.networks, 'the origin keeps its network');
      await emits(c, origin!.id, 'the origin carries on');
      await other.waitFor((m) => m.type === 'vm' && m.vm.id === cloneId, o.actionTimeoutMs, 'the clone at another cockpit');
      // Released onto the origin's network while the origin is still there, the two would fight over one address.
      await refused(lab, c, cloneId, 'release', 'wrong_state');
      assert.deepEqual([...c.invalid, ...other.invalid], []);
    });

    test('seize freezes the VM, captures every file with its SHA-256 and SHA-1, and leaves it frozen and seized', bounded, async (t) => {
      const lab = new Lab(t, 1);
      await lab.start();
      const c = await lab.cockpit();
      const watcher = await lab.cockpit();
      const [vm] = await lab.running(c);
      await emits(c, vm!.id, 'before the seizure');
      const from = watcher.mark;
      const a = await done(lab, c, vm!.id, 'seize', 'seized', { params: { caseId: 'CASE-2026-0042' }, reason: 'escape attempt; keep the memory' });
      assert.ok(a.progress.length >= 2, `a seizure reports its steps (${a.progress.map((p) => p.step).join(', ')})`);
      const files = a.result!.details?.files ?? [];
      assert.ok(files.some((f) => f.role === 'memory'), 'memory is captured');
      assert.ok(files.some((f) => f.role === 'disk'), 'the disk is captured');
      assert.ok(files.some((f) => f.role === 'config'), 'the configuration is captured');
      const workDir = join(lab.dataDir, 'actions', a.requestId);
      for (const f of files) {
        const bytes = readFileSync(join(workDir, f.path));
        assert.equal(bytes.length, f.size, `${f.path}: size`);
        assert.equal(createHash('sha256').update(bytes).digest('hex'), f.sha256, `${f.path}: SHA-256`);
        assert.equal(createHash('sha1').update(bytes).digest('hex'), f.sha1, `${f.path}: SHA-1`);
      }
      const shown = c.vm(vm!.id)!;
      assert.equal(shown.state, 'seized');
      await silent(c, vm!.id, 'seized (frozen)');
      // Another responder saw it all: the seizing state, the steps, the result (which may reach it a moment later).
      await watcher.waitFor((m) => m.type === 'action.result' && m.requestId === a.requestId, o.actionTimeoutMs, 'the result at the other cockpit', from);
      const seen = watcher.received.slice(from);
      assert.ok(seen.some((m) => m.type === 'vm' && m.vm.id === vm!.id && m.vm.state === 'seizing' && m.vm.busy === 'seize'), 'seizing and busy on the wire');
      assert.ok(seen.some((m) => m.type === 'action.accepted' && m.requestId === a.requestId && m.reason === 'escape attempt; keep the memory' && m.actor !== undefined && m.params?.caseId === 'CASE-2026-0042'),
        'the other cockpit saw the acceptance, with who asked, why and for which case');
      assert.ok(seen.some((m) => m.type === 'action.progress' && m.requestId === a.requestId), 'the other cockpit saw the steps');
      assert.ok(seen.some((m) => m.type === 'action.result' && m.requestId === a.requestId && m.ok), 'the other cockpit saw the result');
      await refused(lab, c, vm!.id, 'seize', 'wrong_state');
      assert.ok(lab.notes.some((l) => l.includes(a.requestId) && l.includes('seize')), 'the action is a line in the agent\'s log');
      assert.deepEqual([...c.invalid, ...watcher.invalid], []);
    });

    test('terminate stops the VM for good: no more events, and every action after it is refused with a sentence', bounded, async (t) => {
      const lab = new Lab(t, 1);
      await lab.start();
      const c = await lab.cockpit();
      const [vm] = await lab.running(c);
      await emits(c, vm!.id, 'before terminate');
      await done(lab, c, vm!.id, 'terminate', 'terminated', { reason: 'STIG SV-95141r1: malicious activity in the micro-VM' });
      await silent(c, vm!.id, 'terminated');
      const r = await refused(lab, c, vm!.id, 'freeze', 'wrong_state');
      assert.match(r.rejected!.message, /terminated/);
      assert.equal(r.rejected!.state, 'terminated');
      for (const kind of ['resume', 'clone', 'isolate', 'seize', 'terminate'] as const) await refused(lab, c, vm!.id, kind, 'wrong_state');
    });

    test('the same request id never runs twice: a retry gets the first answer, marked replayed, on any connection', twoVms, async (t) => {
      const lab = new Lab(t, 1);
      await lab.start();
      const c = await lab.cockpit();
      const other = await lab.cockpit();
      const [vm] = await lab.running(c);
      const clones = () => [...c.vms().values()].filter((v) => v.cloneOf === vm!.id);

      const first = await done(lab, c, vm!.id, 'clone', 'running');
      const again = await lab.act(c, vm!.id, 'clone', { requestId: first.requestId });
      assert.equal(again.first.type, 'action.result', 'a finished request is answered with its result');
      assert.equal(again.result?.replayed, true);
      const { replayed: _r, ...same } = again.result!;
      assert.deepEqual(same, first.result, 'the very same result');
      const elsewhere = await lab.act(other, vm!.id, 'clone', { requestId: first.requestId });
      assert.equal(elsewhere.result?.replayed, true, 'from another cockpit too');
      assert.equal(clones().length, 1, 'one clone, not three');

      // Asked twice in a row while it runs: the second is told it is accepted (replayed), and it still runs once.
      const id = newRequestId('freeze');
      const from = c.mark;
      const ran = lab.act(c, vm!.id, 'freeze', { requestId: id });
      c.send(actionMessage(vm!.id, 'freeze', { requestId: id }));
      assert.ok((await ran).result?.ok, 'the first run succeeds');
      await c.waitFor((m) => m.type === 'action.accepted' && m.requestId === id && m.replayed === true, o.actionTimeoutMs, 'the retry told it runs', from);
      await new Promise((r) => setTimeout(r, 100));
      const about = c.about(id, from);
      assert.equal(about.filter((m) => m.type === 'action.accepted' && !m.replayed).length, 1, 'accepted once');
      assert.equal(about.filter((m) => m.type === 'action.result').length, 1, 'one result');

      // A refusal is an answer too: the same request id gets the same refusal.
      const no = await refused(lab, c, vm!.id, 'freeze', 'wrong_state');
      const noAgain = await lab.act(c, vm!.id, 'freeze', { requestId: no.requestId });
      assert.equal(noAgain.rejected?.replayed, true);
      assert.equal(noAgain.rejected?.message, no.rejected!.message);

      // The same id for something else is refused as a conflict, and nothing runs.
      const conflict = await refused(lab, c, vm!.id, 'terminate', 'request_conflict', { requestId: first.requestId });
      assert.match(conflict.rejected!.message, /new request id/);
      assert.equal(c.vm(vm!.id)?.state, 'frozen');
      assert.deepEqual([...c.invalid, ...other.invalid], []);
    });

    test('after an agent restart, a request id is answered from the journal and its action does not run again', twoVms, async (t) => {
      const lab = new Lab(t, 1);
      await lab.start();
      const c = await lab.cockpit();
      const [vm] = await lab.running(c);
      const cloned = await done(lab, c, vm!.id, 'clone', 'running');
      const refusal = await refused(lab, c, vm!.id, 'release', 'wrong_state');

      await lab.restart();
      const d = await lab.cockpit();
      const before = [...d.vms().values()].filter((v) => v.cloneOf === vm!.id).length;
      const again = await lab.act(d, vm!.id, 'clone', { requestId: cloned.requestId });
      assert.equal(again.first.type, 'action.result', 'the stored result, not a new run');
      assert.equal(again.result?.replayed, true);
      const { replayed: _r, ...same } = again.result!;
      assert.deepEqual(same, cloned.result);
      const noAgain = await lab.act(d, vm!.id, 'release', { requestId: refusal.requestId });
      assert.equal(noAgain.rejected?.replayed, true);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal([...d.vms().values()].filter((v) => v.cloneOf === vm!.id).length, before, 'no new clone after the restart');
      assert.equal(d.about(cloned.requestId).filter((m) => m.type === 'action.accepted').length, 0, 'never accepted again');
      assert.deepEqual(d.invalid, []);
    });

    test('one action at a time per VM: a second one while the first runs is refused busy; another VM is not held up', twoVms, async (t) => {
      const lab = new Lab(t, 2);
      await lab.start();
      const c = await lab.cockpit();
      const [a, b] = await lab.running(c);
      const seizing = lab.act(c, a!.id, 'seize');
      await c.waitFor((m) => m.type === 'vm' && m.vm.id === a!.id && m.vm.busy === 'seize', o.actionTimeoutMs, 'the VM shown busy with the seizure');
      const busy = await refused(lab, c, a!.id, 'freeze', 'busy');
      assert.match(busy.rejected!.message, /seize/);
      const other = await done(lab, c, b!.id, 'freeze', 'frozen');
      const seized = await seizing;
      assert.ok(seized.result?.ok, 'the seizure succeeds');
      assert.ok(Date.parse(other.result!.finishedAt) <= Date.parse(seized.result!.finishedAt), 'the other VM\'s freeze did not wait for the seizure');
      await done(lab, c, a!.id, 'resume', 'running');
      assert.deepEqual(c.invalid, []);
    });

    test('an unknown VM, a kind the driver does not carry out, a parameter the kind does not take: refused, nothing runs', bounded, async (t) => {
      const lab = new Lab(t, 1);
      let wrapped: ReturnType<typeof withoutKind> | undefined;
      await lab.start((d) => (wrapped = withoutKind(d, 'seize')));
      const c = await lab.cockpit();
      const hello = await c.hello();
      assert.ok(!hello.actions.includes('seize'), 'hello does not offer what the driver cannot do');
      const [vm] = await lab.running(c);
      await refused(lab, c, 'vm-nowhere-000', 'freeze', 'unknown_vm');
      const u = await refused(lab, c, vm!.id, 'seize', 'unsupported');
      assert.match(u.rejected!.message, /cannot seize/);
      await refused(lab, c, vm!.id, 'clone', 'bad_params', { params: { mode: 'cut' } });
      await refused(lab, c, vm!.id, 'isolate', 'bad_params', { params: { mode: 'cut', expiresAt: '2001-01-01T00:00:00Z' } });
      assert.deepEqual(wrapped!.calls, [], 'the driver was never asked');
      // A malformed action is not an action: the decoder's error, naming the field.
      c.send({ type: 'action', id: 'bad-1', requestId: 'short', vmId: vm!.id, kind: 'freeze', params: {}, actor: { name: 'x' }, reason: '' });
      const e = await c.waitFor((m) => m.type === 'error' && m.ref === 'bad-1', o.actionTimeoutMs, 'an error about the bad frame');
      assert.equal(e.message.type === 'error' && e.message.code, 'bad_message');
      assert.equal(c.vm(vm!.id)?.state, 'running');
    });
  });
}
