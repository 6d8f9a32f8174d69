// Each VM's action history as the cockpit shows it: the hub's ActionRecords (one per request id, replaced whole on
// every change), grouped by VM, oldest first, at most ACTIONS_PER_VM each. The engine keeps them in an ActionBook
// and sends only the records that changed; the store folds those into immutable lists with mergeActions, so that a
// VM whose history did not change keeps the same list and its row is not drawn again.
import type { ActionRecord } from '../../../protocol/index.ts';

/** Records kept per VM: enough to read what was done to it today; the journal keeps every one. */
export const ACTIONS_PER_VM = 50;

/** The key of a VM across agents. Agent and VM ids are [A-Za-z0-9._:-], so a slash cannot be part of either. */
export function vmKey(agentId: string, vmId: string): string {
  return `${agentId}/${vmId}`;
}

/** Asked and not ended yet: the agent has not acknowledged it, or it runs. */
export function isUnderway(rec: ActionRecord): boolean {
  return rec.phase === 'sending' || rec.phase === 'accepted';
}

/** What changed since the last frame: `reset` when the records replace all held before (a snapshot). */
export interface ActionChanges {
  reset: boolean;
  records: ActionRecord[];
}

/** The engine's copy: mutable, O(1) per record (plus the VM's short list). */
export class ActionBook {
  private readonly byVm = new Map<string, ActionRecord[]>();
  private changed = new Map<string, ActionRecord>();
  private reset = false;

  constructor(private readonly perVm = ACTIONS_PER_VM) {}

  /** A snapshot's records (oldest first) replace everything held. */
  replaceAll(records: readonly ActionRecord[]): void {
    this.byVm.clear();
    this.changed.clear();
    this.reset = true;
    for (const rec of records) this.put(rec);
    // A reset sends every record kept, not only the last ones put.
    this.changed.clear();
    for (const list of this.byVm.values()) for (const rec of list) this.changed.set(rec.requestId, rec);
  }

  /** One record, new or replacing the one with its request id. */
  apply(rec: ActionRecord): void {
    if (this.put(rec)) this.changed.set(rec.requestId, rec);
  }

  ofVm(agentId: string, vmId: string): readonly ActionRecord[] {
    return this.byVm.get(vmKey(agentId, vmId)) ?? [];
  }

  get hasChanges(): boolean {
    return this.reset || this.changed.size > 0;
  }

  /** The records that changed since the last call (oldest first within a VM), or null. */
  takeChanges(): ActionChanges | null {
    if (!this.hasChanges) return null;
    const out: ActionChanges = { reset: this.reset, records: [...this.changed.values()] };
    this.reset = false;
    this.changed = new Map();
    return out;
  }

  /** Returns whether the record is kept (a record older than the VM's last ACTIONS_PER_VM ended ones is not). */
  private put(rec: ActionRecord): boolean {
    const key = vmKey(rec.agentId, rec.vmId);
    const list = this.byVm.get(key);
    if (list === undefined) {
      this.byVm.set(key, [rec]);
      return true;
    }
    const next = upsert(list, rec, this.perVm);
    list.length = 0;
    list.push(...next);
    return next.includes(rec);
  }
}

/** Folds changed records into per-VM lists: a new map, sharing every list that did not change. */
export function mergeActions(
  held: ReadonlyMap<string, readonly ActionRecord[]>,
  changes: ActionChanges,
  perVm = ACTIONS_PER_VM,
): Map<string, readonly ActionRecord[]> {
  const out = changes.reset ? new Map<string, readonly ActionRecord[]>() : new Map(held);
  for (const rec of changes.records) {
    const key = vmKey(rec.agentId, rec.vmId);
    out.set(key, upsert(out.get(key) ?? [], rec, perVm));
  }
  return out;
}

/** The list with `rec` in place of the record with its request id (or added last), trimmed to `max`: the oldest
 *  ended records go first, so an action still under way never drops out of sight. */
function upsert(list: readonly ActionRecord[], rec: ActionRecord, max: number): ActionRecord[] {
  const at = list.findIndex((r) => r.requestId === rec.requestId);
  const next = at < 0 ? [...list, rec] : list.map((r, i) => (i === at ? rec : r));
  let excess = next.length - max;
  if (excess <= 0) return next;
  const kept: ActionRecord[] = [];
  for (const r of next) {
    if (excess > 0 && !isUnderway(r)) {
      excess -= 1;
      continue;
    }
    kept.push(r);
  }
  // All under way (cannot happen with one action at a time per VM, but stay bounded): drop the oldest.
  return kept.length > max ? kept.slice(kept.length - max) : kept;
}
