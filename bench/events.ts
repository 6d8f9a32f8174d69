// `npm run bench:events`: sim agents (separate processes) → the fleet hub → the browser shell → the real renderer
// in headless Debian Chromium. Prints sustained events/s with loss accounting, end-to-end latency (agent emit →
// renderer store), the renderer's longest main-thread task, and its heap after the run.
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CockpitService } from '../main/cockpit-service.ts';
import { FleetHub } from '../main/fleet/hub.ts';
import { journalRecorder } from '../main/cockpit.ts';
import { JournalHost } from '../main/journal/host.ts';
import { generateKeyPairSync } from 'node:crypto';
import { startBrowserShell } from '../main/browser-shell/server.ts';
import { startAgentProcess, tempDir, writeToken, type RunningProcess } from '../test/helpers/processes.ts';
import { Cdp, CdpPage } from './cdp.ts';
import { cpuBetween, sampleCpu } from './cpu.ts';
import { buildRenderer, percentile, ROOT } from './lib.ts';

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '10' },
    rate: { type: 'string', default: '5000' },
    events: { type: 'string', default: '1000000' },
    'max-seconds': { type: 'string', default: '120' },
    warmup: { type: 'string', default: '5' },
    window: { type: 'string', default: '20000' },
    profile: { type: 'boolean', default: false },
    // Record every event in the cockpit's journal too (its own thread, as the cockpit runs it).
    journal: { type: 'boolean', default: false },
  },
});
const AGENTS = Number(values.agents);
const RATE = Number(values.rate);
const TARGET = Number(values.events);
const MAX_SECONDS = Number(values['max-seconds']);

const log = (s: string) => console.error(`bench:events: ${s}`);

// Profiling wants the functions' own names: the renderer is then built unminified.
buildRenderer(values.profile ? ['--minify', 'false'] : []);
const dir = tempDir('bench-events');
const agents: (RunningProcess & { url: string; id: string })[] = [];
const journal = values.journal
  ? await JournalHost.open({ dir: join(dir.path, 'journal'), key: generateKeyPairSync('ed25519').privateKey, note: (l) => log(l) })
  : undefined;
const hub = new FleetHub({ windowSize: Number(values.window), link: { backfill: 0 }, ...(journal ? { recorder: journalRecorder(journal) } : {}) });
let exitCode = 0;
let browser: Cdp | undefined;
try {
  log(`starting ${AGENTS} sim agents at ${RATE} events/s each (${AGENTS * RATE}/s in all)`);
  const tokenFile = writeToken(dir.path, 'bench-token');
  for (let i = 0; i < AGENTS; i++) {
    const id = `bench-${String(i).padStart(2, '0')}`;
    const a = await startAgentProcess({ tokenFile, dataDir: join(dir.path, id), agentId: id, rate: RATE, vms: 20, seed: i + 1 });
    agents.push({ ...a, id });
  }
  for (const a of agents) hub.addAgent({ agentId: a.id, label: a.id, url: a.url, token: 'bench-token' });
  const shell = await startBrowserShell({ service: new CockpitService(hub), rendererDir: join(ROOT, 'dist', 'renderer') });
  // Driven over a bare DevTools pipe, not playwright: playwright's network instrumentation would copy every
  // WebSocket frame into the browser's DevTools traffic (see cdp.ts).
  browser = Cdp.launch();
  const page = await CdpPage.open(browser, { width: 1600, height: 1000 });
  await page.goto(shell.loginUrl);
  await page.waitFor(`Object.keys(window.__cordonProbe?.lastSeq ?? {}).length >= ${AGENTS}`, 60_000);

  type Poll = { received: number; latencyCount: number; samples: number[]; longMax: number; longCount: number };
  const poll = (since: number) => page.evaluate<Poll>(`(() => {
    const p = window.__cordonProbe;
    const ring = p.latency.samples;
    const n = Math.min(p.latency.count - ${since}, ring.length);
    const samples = [];
    for (let i = p.latency.count - n; i < p.latency.count; i++) samples.push(ring[i % ring.length]);
    return { received: p.received, latencyCount: p.latency.count, samples, longMax: p.longTasks.maxMs, longCount: p.longTasks.count };
  })()`);

  // Warm-up: let the JIT and the first layouts settle, and the backlog of the start drain, before measuring. The
  // agents emit from their start, while Chromium starts on the same cores: the pipeline begins behind, and is
  // measured once it has caught up (a second whose p99 is under 500 ms), or after 60 s whatever it is.
  await new Promise((r) => setTimeout(r, Number(values.warmup) * 1000));
  {
    const settleStart = performance.now();
    let seen = (await poll(Number.MAX_SAFE_INTEGER)).latencyCount;
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      const p = await poll(seen);
      seen = p.latencyCount;
      const p99 = percentile([...p.samples].sort((a, b) => a - b), 99);
      if (p99 < 500 || performance.now() - settleStart > 60_000) {
        log(`caught up after the start in ${((performance.now() - settleStart) / 1000 + Number(values.warmup)).toFixed(0)} s (last second's p99 ${p99} ms)`);
        break;
      }
    }
  }
  if (values.profile) {
    // Where the renderer's main thread goes: a 5 s CPU profile, functions by self time.
    await page.send('Profiler.enable');
    await page.send('Profiler.start');
    await page.toWorkers('Profiler.enable');
    await page.toWorkers('Profiler.start');
    const hubCpu = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 5000));
    const used = process.cpuUsage(hubCpu);
    const { profile } = await page.send<{ profile: CpuProfile }>('Profiler.stop');
    console.error(`renderer main thread CPU profile (5 s), self time:\n${topSelfTime(profile)}`);
    for (const { profile: p } of await page.toWorkers<{ profile: CpuProfile }>('Profiler.stop')) {
      console.error(`renderer ingest worker CPU profile (5 s), self time:\n${topSelfTime(p)}`);
    }
    console.error(`hub + shell process CPU over those 5 s: ${((used.user + used.system) / 50_000).toFixed(0)}%`);
    // And by trace event (style, layout, paint, parse...) on the renderer's main thread, 3 s.
    const events: { name: string; ph: string; dur?: number; tid: number; pid: number; args?: { data?: { frame?: string }; name?: string } }[] = [];
    const offData = browser.on('Tracing.dataCollected', (d) => { events.push(...(d.value as typeof events)); });
    const done = new Promise((r) => { const off = browser!.on('Tracing.tracingComplete', () => { off(); r(undefined); }); });
    await browser.send('Tracing.start', { categories: 'toplevel,devtools.timeline,disabled-by-default-devtools.timeline', transferMode: 'ReportEvents' });
    await new Promise((r) => setTimeout(r, 3000));
    await browser.send('Tracing.end');
    await done;
    offData();
    // Threads by name (CrRendererMain, DedicatedWorker thread, Compositor, VizCompositorThread...), not by number.
    const threadName = new Map<string, string>();
    for (const e of events) {
      const name = (e.args as { name?: string } | undefined)?.name;
      if (e.ph === 'M' && e.name === 'thread_name' && name !== undefined) threadName.set(`${e.pid}:${e.tid}`, name);
    }
    const byEvent = new Map<string, { us: number; n: number }>();
    for (const e of events) {
      if (e.ph !== 'X' || !e.dur) continue;
      const key = `${e.name} (${threadName.get(`${e.pid}:${e.tid}`) ?? 'tid'} ${e.tid})`;
      const t = byEvent.get(key) ?? { us: 0, n: 0 };
      t.us += e.dur;
      t.n += 1;
      byEvent.set(key, t);
    }
    console.error(`trace (3 s), total duration by event (and how many):\n${[...byEvent].sort((a, b) => b[1].us - a[1].us).slice(0, 30).map(([k, t]) => `  ${(t.us / 1000).toFixed(0).padStart(6)} ms ${String(t.n).padStart(6)}×  ${k}`).join('\n')}`);
  }
  const cpuRoots = [
    ...agents.map((a) => ({ label: 'sim agents', pid: a.child.pid ?? -1 })),
    { label: journal ? 'hub + shell + journal thread (+ bench)' : 'hub + shell (+ bench)', pid: process.pid, alone: true },
    { label: 'chromium', pid: browser.pid, chromium: true },
  ];
  // The main thread's time by kind (script, style, layout, all tasks), as Chromium accounts it.
  await page.send('Performance.enable', { timeDomain: 'threadTicks' });
  const mainThread = async () => new Map((await page.send<{ metrics: { name: string; value: number }[] }>('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  let last = await poll(Number.MAX_SAFE_INTEGER);
  // Long tasks while measuring only (the probe's own count starts at page load, and loading a page is one).
  await page.evaluate(`(() => {
    const w = window; w.__benchLong = { count: 0, maxMs: 0 };
    new PerformanceObserver((list) => { for (const e of list.getEntries()) { w.__benchLong.count++; w.__benchLong.maxMs = Math.max(w.__benchLong.maxMs, e.duration); } }).observe({ type: 'longtask' });
  })()`);
  // A trace of the whole measurement, top-level tasks only: each task's wall time and its thread (CPU) time. On a
  // machine with fewer cores than the bench has busy processes, a task's wall time includes the time its thread was
  // descheduled; the thread time is the renderer's own work.
  type TraceEvent = { name: string; ph: string; dur?: number; tdur?: number; tid: number; pid: number; args?: { name?: string } };
  const traced: TraceEvent[] = [];
  const offTrace = browser.on('Tracing.dataCollected', (d) => { traced.push(...(d.value as TraceEvent[])); });
  if (!values.profile) await browser.send('Tracing.start', { categories: 'toplevel', transferMode: 'ReportEvents' });
  const mainBefore = await mainThread();
  const cpuBefore = sampleCpu(cpuRoots);
  const start = { t: performance.now(), received: last.received, longMax: last.longMax };
  const latencies: number[] = [];
  const perSecond: number[] = [];
  /** p99 latency of each second, to tell a steady state from a backlog draining. */
  const p99PerSecond: number[] = [];
  log(`measuring until the renderer has applied ${TARGET.toLocaleString('en')} events (at most ${MAX_SECONDS} s)`);
  while (last.received - start.received < TARGET && performance.now() - start.t < MAX_SECONDS * 1000) {
    const t = performance.now();
    await new Promise((r) => setTimeout(r, 1000));
    const now = await poll(last.latencyCount);
    perSecond.push(((now.received - last.received) * 1000) / (performance.now() - t));
    for (const s of now.samples) latencies.push(s);
    p99PerSecond.push(percentile([...now.samples].sort((a, b) => a - b), 99));
    last = now;
  }
  const seconds = (performance.now() - start.t) / 1000;
  const applied = last.received - start.received;
  const cpu = cpuBetween(cpuBefore, sampleCpu(cpuRoots), seconds);
  const streamingLong = await page.evaluate<{ count: number; maxMs: number }>('window.__benchLong');
  let mainTaskCpu = { maxMs: NaN, over50: NaN, wallOfLongestMs: NaN };
  if (!values.profile) {
    const complete = new Promise((r) => { const off = browser!.on('Tracing.tracingComplete', () => { off(); r(undefined); }); });
    await browser.send('Tracing.end');
    await complete;
    const names = new Map<string, string>();
    for (const e of traced) if (e.ph === 'M' && e.name === 'thread_name' && e.args?.name) names.set(`${e.pid}:${e.tid}`, e.args.name);
    // Every renderer process's main thread (the page's, and any other the browser keeps): the longest of them all.
    const tasks = traced.filter((e) => e.ph === 'X' && e.name === 'ThreadControllerImpl::RunTask' && names.get(`${e.pid}:${e.tid}`) === 'CrRendererMain' && e.tdur !== undefined);
    const longest = tasks.reduce<TraceEvent | undefined>((m, e) => (m === undefined || e.tdur! > m.tdur! ? e : m), undefined);
    mainTaskCpu = { maxMs: (longest?.tdur ?? 0) / 1000, over50: tasks.filter((e) => e.tdur! > 50_000).length, wallOfLongestMs: (longest?.dur ?? 0) / 1000 };
  }
  offTrace();
  const mainAfter = await mainThread();
  const mainMs = (name: string) => Math.round((((mainAfter.get(name) ?? 0) - (mainBefore.get(name) ?? 0)) * 1000) / seconds);
  const main = { taskMsPerS: mainMs('TaskDuration'), scriptMsPerS: mainMs('ScriptDuration'), styleMsPerS: mainMs('RecalcStyleDuration'), layoutMsPerS: mainMs('LayoutDuration'),
    frames: Math.round((((mainAfter.get('LayoutCount') ?? 0) - (mainBefore.get('LayoutCount') ?? 0))) / seconds) };

  // Stop the sources, let what is in flight land, then account for every seq.
  for (const a of agents) await a.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1500));
  // The ingest worker holds the event window and does most of the work: its heap counts with the page's.
  await page.send('HeapProfiler.collectGarbage');
  const pageHeap = await page.send<{ usedSize: number }>('Runtime.getHeapUsage');
  await page.toWorkers('HeapProfiler.collectGarbage');
  const workerHeap = (await page.toWorkers<{ usedSize: number }>('Runtime.getHeapUsage')).reduce((n, h) => n + h.usedSize, 0);
  const heap = { usedSize: pageHeap.usedSize + workerHeap };
  type Probe = { received: number; missing: number; skipped: number; invalid: number; windowLength: number; lastSeq: Record<string, number> };
  const probe = await page.evaluate<Probe>('({ ...window.__cordonProbe, latency: undefined })');
  const hubStatus = hub.agentStatuses();
  const hubGaps = hubStatus.reduce((n, s) => n + s.gaps.length, 0);
  const hubDupes = hubStatus.reduce((n, s) => n + s.duplicatesDropped, 0);
  const behind = hubStatus.filter((s) => probe.lastSeq[s.agentId] !== s.lastSeq).map((s) => `${s.agentId}: hub ${s.lastSeq}, renderer ${probe.lastSeq[s.agentId]}`);
  const lost = probe.missing + probe.skipped + probe.invalid + hubGaps + behind.length;

  latencies.sort((a, b) => a - b);
  const sortedRates = [...perSecond].sort((a, b) => a - b);
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  const results = {
    agents: AGENTS,
    offeredRate: AGENTS * RATE,
    eventsApplied: applied,
    seconds: Number(seconds.toFixed(1)),
    sustainedPerSecond: Math.round(applied / seconds),
    slowestSecond: Math.round(sortedRates[0] ?? 0),
    latencyMs: { samples: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? NaN },
    longestTaskMs: Math.round(streamingLong.maxMs),
    longTasksOver50ms: streamingLong.count,
    longestTaskSincePageLoadMs: Math.round(last.longMax),
    longestTaskThreadTimeMs: Number(mainTaskCpu.maxMs.toFixed(1)),
    tasksOver50msThreadTime: mainTaskCpu.over50,
    latencyP99PerSecondMs: p99PerSecond,
    rendererHeapAfterRun: mb(heap.usedSize),
    rendererEventsTotal: probe.received,
    windowLength: probe.windowLength,
    loss: { lost, rendererMissing: probe.missing, skippedByShell: probe.skipped, invalid: probe.invalid, hubGaps, hubDuplicatesDropped: hubDupes, rendererBehindHub: behind },
  };
  console.log(`
Cordon bench:events — ${AGENTS} sim agents → hub → browser shell → renderer (headless Chromium)
  offered                     ${results.offeredRate.toLocaleString('en')} events/s
  sustained (applied/elapsed) ${results.sustainedPerSecond.toLocaleString('en')} events/s over ${results.seconds} s (${applied.toLocaleString('en')} events; slowest second ${results.slowestSecond.toLocaleString('en')}/s)
  events lost                 ${lost}  (renderer missing ${probe.missing}, skipped ${probe.skipped}, invalid ${probe.invalid}, hub gaps ${hubGaps}, renderer behind hub ${behind.length})
  latency emit → store        p50 ${results.latencyMs.p50} ms, p99 ${results.latencyMs.p99} ms, max ${results.latencyMs.max} ms (${latencies.length.toLocaleString('en')} samples)
  latency p99, second by second ${p99PerSecond.join(' ')} ms
  longest renderer task       ${results.longestTaskMs} ms while measuring (${streamingLong.count} tasks over 50 ms); since the page loaded ${last.longMax.toFixed(0)} ms (${last.longCount} over 50 ms)
  longest task by thread time ${mainTaskCpu.maxMs.toFixed(1)} ms of the main thread's own CPU (${mainTaskCpu.over50} over 50 ms; that task took ${mainTaskCpu.wallOfLongestMs.toFixed(1)} ms of wall time)
  renderer heap after run     ${results.rendererHeapAfterRun} (page ${mb(pageHeap.usedSize)}, ${page.workers.length} worker${page.workers.length === 1 ? '' : 's'} ${mb(workerHeap)}) after ${probe.received.toLocaleString('en')} events (window ${probe.windowLength.toLocaleString('en')})
`);
  console.log(`renderer main thread, per second: ${main.taskMsPerS} ms in tasks (script ${main.scriptMsPerS} ms, style ${main.styleMsPerS} ms, layout ${main.layoutMsPerS} ms in ${main.frames} layouts; the rest paint and the like)
CPU while measuring, in cores (this machine has ${availableParallelism()}; ${cpu.reduce((n, [, c]) => n + c, 0).toFixed(2)} used by the bench, the rest of the load was not ours: load average ${loadavg()[0]!.toFixed(1)}):
${cpu.map(([k, c]) => `  ${c.toFixed(2).padStart(5)}  ${k}  (${((c * 1e6) / (applied / seconds)).toFixed(1)} µs per event)`).join('\n')}
`);
  if (journal) {
    const js = await journal.status();
    console.log(`journal: ${js.size.toLocaleString('en')} records, ${js.durableSize.toLocaleString('en')} on disk, ${js.inFlight.toLocaleString('en')} still in flight${js.failure ? `; FAILED: ${js.failure.message}` : ''}\n`);
  }
  console.log(JSON.stringify({ ...results, mainThread: main, cpuCores: Object.fromEntries(cpu.map(([k, c]) => [k, Number(c.toFixed(3))])) }));
  if (lost > 0) exitCode = 1;
  await shell.close();
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await browser?.close();
  hub.close();
  await journal?.close().catch(() => undefined);
  for (const a of agents) await a.kill('SIGKILL');
  dir.remove();
}
process.exit(exitCode);

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/** A CPU profile's 25 costliest functions by self time, one a line. */
function topSelfTime(profile: CpuProfile): string {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byName = new Map<string, number>();
  for (const n of profile.nodes) {
    const key = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`;
    byName.set(key, (byName.get(key) ?? 0) + (self.get(n.id) ?? 0));
  }
  return [...byName].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, us]) => `  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`).join('\n');
}
