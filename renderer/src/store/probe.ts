// The measurement probe: cheap counters the end-to-end tests and `npm run bench:events` read from the page as
// `window.__cordonProbe`. Always on, O(1) per event, bounded memory (about 0.5 MiB for the latency ring).
// The ingest engine keeps its own probe where it applies events (a Web Worker in the page); the page's is a
// mirror of it, brought up to date with every frame the engine sends (at least four times a second while events
// flow), plus what only the main thread knows: frames and longTasks.
//
// window.__cordonProbe = {
//   received:       events applied to the store since the page loaded (live pushes and snapshots, after dedupe)
//   fromSnapshots:  the part of `received` that came in snapshots (load, and each resync after a reconnect)
//   batches:        events pushes applied (one push = one batch from the hub, about one per frame)
//   frames:         store commits (at most one per animation frame)
//   snapshots:      snapshots applied
//   duplicates:     events delivered twice: dropped because their agent's seq was not above the last one applied
//                   (and not explained by a snapshot, see overlap). Should stay 0.
//   overlap:        events dropped because the last snapshot already had them: the pushes sent around a snapshot
//                   overlap it by design (expected at load and after each reconnect; not a fault)
//   seqJumps:       times an agent's seq skipped ahead (seq > last + 1); `missing` sums the skipped seqs. The
//                   first event of an agent after load sets its baseline and counts as neither.
//   missing:        see seqJumps
//   invalid:        messages dropped by the validators (malformed frame, push or snapshot)
//   skipped:        events the hub says it did not deliver to this view because the view fell behind
//                   (EventsPush.skipped); zero loss means skipped, missing and invalid all stay 0
//   windowLength:   events in the bounded window now;  windowSize: its capacity (from the snapshot)
//   lastSeq:        { [agentId]: the last seq applied for that agent }
//   latency:        { samples: Float64Array ring of (Date.now() - Date.parse(event.time)) in ms, taken when a live
//                     batch is applied to the store (the engine's window of events); count: samples written in total (the newest is at
//                     (count - 1) % samples.length; when count < samples.length only the first count are set) }
//   longTasks:      { count, maxMs, totalMs } of main-thread tasks over 50 ms (PerformanceObserver 'longtask';
//                     stays at zero where the browser does not report them)
// }
// Reading it: page.evaluate(() => { const p = window.__cordonProbe; return { ...p, latency: { count:
//   p.latency.count, samples: Array.from(p.latency.samples.subarray(0, Math.min(p.latency.count,
//   p.latency.samples.length))) } }; })
import type { FeedEvent } from '../../../protocol/index.ts';

export interface CordonProbe {
  received: number;
  fromSnapshots: number;
  batches: number;
  frames: number;
  snapshots: number;
  duplicates: number;
  overlap: number;
  seqJumps: number;
  missing: number;
  invalid: number;
  skipped: number;
  windowLength: number;
  windowSize: number;
  lastSeq: Record<string, number>;
  latency: { samples: Float64Array; count: number };
  longTasks: { count: number; maxMs: number; totalMs: number };
}

export const LATENCY_SAMPLES = 65_536;

export function createProbe(latencySamples = LATENCY_SAMPLES): CordonProbe {
  return {
    received: 0,
    fromSnapshots: 0,
    batches: 0,
    frames: 0,
    snapshots: 0,
    duplicates: 0,
    overlap: 0,
    seqJumps: 0,
    missing: 0,
    invalid: 0,
    skipped: 0,
    windowLength: 0,
    windowSize: 0,
    // No prototype: an agent id is only [A-Za-z0-9._:-], but a dictionary should not inherit keys anyway.
    lastSeq: Object.create(null) as Record<string, number>,
    latency: { samples: new Float64Array(latencySamples), count: 0 },
    longTasks: { count: 0, maxMs: 0, totalMs: 0 },
  };
}

/** Records the emit-to-store latency of one live event, `now` being when its batch is applied. */
export function sampleLatency(probe: CordonProbe, e: FeedEvent, now: number): void {
  const emitted = Date.parse(e.event.time);
  if (Number.isNaN(emitted)) return;
  const lat = probe.latency;
  lat.samples[lat.count % lat.samples.length] = now - emitted;
  lat.count += 1;
}

export function noteLongTask(probe: CordonProbe, durationMs: number): void {
  const t = probe.longTasks;
  t.count += 1;
  t.totalMs += durationMs;
  if (durationMs > t.maxMs) t.maxMs = durationMs;
}

/** p-th percentile (0..100) of the latency samples held; NaN when there are none. For tests and the bench. */
export function latencyPercentile(probe: CordonProbe, p: number): number {
  const lat = probe.latency;
  const n = Math.min(lat.count, lat.samples.length);
  if (n === 0) return Number.NaN;
  const sorted = lat.samples.slice(0, n).sort();
  return sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!;
}

/** The engine's probe as sent to the page: the counters, and the latency samples taken since the last mirror. */
export interface ProbeMirror {
  counters: Omit<CordonProbe, 'lastSeq' | 'latency' | 'longTasks' | 'frames'>;
  lastSeq: Record<string, number>;
  latency: { count: number; samples: Float64Array };
}

/** What changed in `probe` since a mirror that had seen `latencySeen` samples. */
export function probeMirror(probe: CordonProbe, latencySeen: number): ProbeMirror {
  const { lastSeq, latency, longTasks: _longTasks, frames: _frames, ...counters } = probe;
  const ring = latency.samples;
  const fresh = Math.min(latency.count - latencySeen, ring.length);
  const samples = new Float64Array(Math.max(0, fresh));
  for (let i = 0; i < samples.length; i++) samples[i] = ring[(latency.count - samples.length + i) % ring.length]!;
  return { counters, lastSeq: { ...lastSeq }, latency: { count: latency.count, samples } };
}

/** Brings the page's probe up to date with a mirror of the engine's. */
export function applyProbeMirror(probe: CordonProbe, mirror: ProbeMirror): void {
  Object.assign(probe, mirror.counters);
  Object.assign(probe.lastSeq, mirror.lastSeq);
  const lat = probe.latency;
  const { samples, count } = mirror.latency;
  const first = count - samples.length;
  for (let i = 0; i < samples.length; i++) lat.samples[(first + i) % lat.samples.length] = samples[i]!;
  lat.count = count;
}
