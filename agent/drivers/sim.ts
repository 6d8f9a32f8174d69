// The `sim` driver: a simulated hypervisor host with N micro-VMs, benign background activity and scripted attacks
// (sim-stories.ts), at a configurable rate: about 5 events/s for a demo, tens of thousands for load tests. The
// default embedded lab of the cockpit, and the source of every event in the agent's tests.
import { randomBytes } from 'node:crypto';
import type { ThreatEvent } from '../../protocol/index.ts';
import type { Driver, DriverConfig, DriverSink } from './driver.ts';
import { backgroundFor, VARIANTS_PER_VM, type EventDraft } from './sim-background.ts';
import { Rng, SimFleet, type SimVm } from './sim-fleet.ts';
import { STORIES, type StoryStep } from './sim-stories.ts';

export const SIM_VERSION = '1.0.0';

export interface SimScriptOptions {
  agentId: string;
  vms: number;
  seed: number;
  /** Events per second the script will be played at; it spaces attack steps so they stay a minority. */
  rate: number;
  bootTime?: string;
  /** Told when an ephemeral VM is replaced, before any event about the new VM. */
  onRecycle?: (removed: SimVm, added: SimVm) => void;
}

/**
 * The deterministic part of the sim: the sequence of events, one next() at a time, independent of the clock.
 * Same options, same sequence (ids and times are stamped by the driver).
 */
export class SimScript {
  readonly fleet: SimFleet;
  private readonly background: EventDraft[][];
  private readonly bgRng: Rng;
  private readonly storyRng: Rng;
  private readonly stepEvery: number;
  private readonly idleEvents: number;
  private readonly recycleEvery: number;
  private storyIndex = 0;
  private steps: StoryStep[] | undefined;
  private stepAt = 0;
  private countdown: number;
  private emitted = 0;
  private recycles = 0;

  constructor(private readonly options: SimScriptOptions) {
    const bootTime = options.bootTime ?? new Date().toISOString();
    this.fleet = new SimFleet(options.vms, options.seed, bootTime);
    this.bgRng = new Rng(options.seed ^ 0x0bac_0001);
    this.storyRng = new Rng(options.seed ^ 0x0a77_ac00);
    this.background = this.fleet.vms.map((vm) => backgroundFor(vm, this.bgRng, options.agentId));
    // A step every ~100 ms of wall time at high rates, every few events at demo rates: attacks stay a small share
    // of a load test yet play out within seconds in a demo.
    this.stepEvery = Math.max(3, Math.round(options.rate / 10));
    this.idleEvents = this.stepEvery * 8;
    // Ephemeral CI runners are replaced about once a minute (never more than every 1,500 events), which exercises
    // the cockpit's vm / vm.removed handling without flooding it.
    this.recycleEvery = Math.max(1500, Math.round(options.rate * 60));
    this.countdown = 3;
  }

  next(): EventDraft {
    this.emitted++;
    if (this.emitted % this.recycleEvery === 0) this.recycle();
    if (--this.countdown <= 0) {
      if (!this.steps) {
        const story = STORIES[this.storyIndex % STORIES.length]!;
        this.storyIndex++;
        this.steps = story.build({ agentId: this.options.agentId, rng: this.storyRng, fleet: this.fleet });
        this.stepAt = 0;
      }
      const step = this.steps[this.stepAt++];
      if (step) {
        if (this.stepAt >= this.steps.length) {
          this.steps = undefined;
          this.countdown = this.idleEvents;
        } else {
          this.countdown = this.stepEvery * (step.wait ?? 1);
        }
        return step.draft;
      }
      this.steps = undefined;
      this.countdown = this.idleEvents;
    }
    const slot = Math.floor(this.bgRng.next() * this.background.length);
    return this.background[slot]![Math.floor(this.bgRng.next() * VARIANTS_PER_VM)]!;
  }

  private recycle(): void {
    const time = new Date().toISOString();
    const change = this.fleet.recycle(this.recycles++, time);
    if (!change) return;
    this.background[change.added.slot] = backgroundFor(change.added, this.bgRng, this.options.agentId);
    this.options.onRecycle?.(change.removed, change.added);
  }
}

/** Plays a SimScript in real time: ticks that emit rate × elapsed events as one batch each. */
class SimDriver implements Driver {
  readonly kind = 'sim';
  readonly version = SIM_VERSION;
  readonly actions = [] as const;
  private script: SimScript | undefined;
  private sink: DriverSink | undefined;
  private timer: NodeJS.Timeout | undefined;
  private interval = 10;
  private last = 0;
  private carry = 0;
  private counter = 0;
  private pending: ThreatEvent[] = [];
  // Event ids must stay unique across restarts of the same seed, so a per-run prefix is part of them.
  private readonly runId = randomBytes(4).toString('hex');
  private behindNoted = false;

  constructor(private readonly config: DriverConfig) {}

  async start(sink: DriverSink): Promise<void> {
    this.sink = sink;
    this.script = new SimScript({
      agentId: this.config.agentId,
      vms: this.config.vms,
      seed: this.config.seed,
      rate: this.config.rate,
      onRecycle: (removed, added) => {
        // Whatever this tick produced so far concerns the old fleet: deliver it before the fleet changes.
        this.flush();
        sink.vmRemoved(removed.vm.id);
        sink.vmChanged(added.vm);
      },
    });
    if (this.config.rate <= 0) return;
    // 10 ms ticks at load-test rates (batches of rate/100); at demo rates a tick per event or so.
    this.interval = Math.min(250, Math.max(10, Math.floor(1000 / this.config.rate)));
    this.last = performance.now();
    this.timer = setInterval(() => this.tick(), this.interval);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sink = undefined;
  }

  listVms() {
    return (this.script?.fleet.vms ?? []).map((v) => v.vm);
  }

  private tick(): void {
    const script = this.script;
    if (!script || !this.sink) return;
    const now = performance.now();
    let due = this.carry + ((now - this.last) * this.config.rate) / 1000;
    this.last = now;
    // A late tick (GC pause, a busy CPU) is made up over the next few ticks, at most four ticks' worth at a time:
    // one big burst would block the event loop and starve the sockets that carry the events out. A backlog of more
    // than a second (a suspended laptop, or a rate beyond what this CPU can make) is dropped, said once.
    if (due > this.config.rate) {
      if (!this.behindNoted) this.sink.note(`sim: more than a second behind the target rate of ${this.config.rate}/s; dropping the backlog rather than bursting (said once).`);
      this.behindNoted = true;
      due = this.config.rate;
    }
    const count = Math.min(Math.floor(due), Math.ceil((this.config.rate * 4 * this.interval) / 1000));
    this.carry = due - count;
    if (count === 0) return;
    // One timestamp per tick: every event of the batch is produced in this millisecond.
    const time = new Date().toISOString();
    for (let i = 0; i < count; i++) {
      const draft = script.next();
      this.pending.push({ id: `${this.runId}-${(this.counter++).toString(36)}`, time, ...draft });
    }
    this.flush();
  }

  private flush(): void {
    if (this.pending.length === 0 || !this.sink) return;
    const batch = this.pending;
    this.pending = [];
    this.sink.threats(batch);
  }
}

export function createSimDriver(config: DriverConfig): Driver {
  return new SimDriver(config);
}
