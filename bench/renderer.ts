// `npm run bench:renderer`: the renderer alone, in headless Debian Chromium, fed by a scripted browser shell
// (test/renderer/scripted-shell.ts) that streams synthetic events at a set rate: no agents, no hub. It tells what
// the renderer can take apart from what the rest of the pipeline costs on the same CPUs (bench:events runs
// them all on one machine). Prints the same figures as bench:events.
import { availableParallelism, loadavg } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startScriptedShell } from '../test/renderer/scripted-shell.ts';
import { snapshot } from '../test/renderer/fixtures.ts';
import { Cdp, CdpPage } from './cdp.ts';
import { cpuBetween, sampleCpu } from './cpu.ts';
import { buildRenderer, percentile } from './lib.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '50000' },
    seconds: { type: 'string', default: '20' },
    agents: { type: 'string', default: '10' },
    window: { type: 'string', default: '20000' },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const AGENTS = Number(values.agents);

const outDir = mkdtempSync(join(tmpdir(), 'cordon-bench-renderer-'));
buildRenderer(['--outDir', outDir, '--emptyOutDir']);
const shell = await startScriptedShell(outDir, snapshot({ agents: [], inventories: [], events: [], windowSize: Number(values.window) }));
const browser = Cdp.launch();
let exitCode = 0;
try {
  const page = await CdpPage.open(browser, { width: 1600, height: 1000 });
  await page.goto(shell.url);
  await page.waitFor('window.__cordonProbe?.snapshots >= 1', 30_000);
  // Warm-up, then measure.
  const warmUp = await shell.stream({ rate: RATE, seconds: 3, agents: AGENTS });
  await new Promise((r) => setTimeout(r, 1000));
  await page.send('Performance.enable', { timeDomain: 'threadTicks' });
  const metrics = async () => new Map((await page.send<{ metrics: { name: string; value: number }[] }>('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  type Poll = { received: number; latencyCount: number; samples: number[]; longMax: number; longCount: number };
  const poll = (since: number) => page.evaluate<Poll>(`(() => {
    const p = window.__cordonProbe;
    const ring = p.latency.samples;
    const n = Math.min(p.latency.count - ${since}, ring.length);
    const samples = [];
    for (let i = p.latency.count - n; i < p.latency.count; i++) samples.push(ring[i % ring.length]);
    return { received: p.received, latencyCount: p.latency.count, samples, longMax: p.longTasks.maxMs, longCount: p.longTasks.count };
  })()`);
  const roots = [{ label: 'scripted shell (+ bench)', pid: process.pid, alone: true }, { label: 'chromium', pid: browser.pid, chromium: true }];
  // The page's probe keeps the longest task since load (start-up included): watch the measured window alone too.
  await page.evaluate(`(() => {
    window.__benchLongTasks = { max: 0, count: 0 };
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) { window.__benchLongTasks.count += 1; window.__benchLongTasks.max = Math.max(window.__benchLongTasks.max, e.duration); }
    }).observe({ type: 'longtask' });
  })()`);
  let last = await poll(Number.MAX_SAFE_INTEGER);
  const mainBefore = await metrics();
  const cpuBefore = sampleCpu(roots);
  const t0 = performance.now();
  const latencies: number[] = [];
  const streaming = shell.stream({ rate: RATE, seconds: SECONDS, agents: AGENTS });
  let done = false;
  void streaming.then(() => { done = true; });
  const start = last.received;
  while (!done) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await poll(last.latencyCount);
    for (const s of now.samples) latencies.push(s);
    last = now;
  }
  const sent = await streaming;
  const seconds = (performance.now() - t0) / 1000;
  const longWhile = await page.evaluate<{ max: number; count: number }>('({ ...window.__benchLongTasks })');
  const cpu = cpuBetween(cpuBefore, sampleCpu(roots), seconds);
  const mainAfter = await metrics();
  await new Promise((r) => setTimeout(r, 1000));
  last = await poll(last.latencyCount);
  for (const s of last.samples) latencies.push(s);
  const applied = last.received - start;
  type Probe = { received: number; missing: number; skipped: number; invalid: number; duplicates: number };
  const probe = await page.evaluate<Probe>('({ ...window.__cordonProbe, latency: undefined })');
  await page.send('HeapProfiler.collectGarbage');
  const pageHeap = (await page.send<{ usedSize: number }>('Runtime.getHeapUsage')).usedSize;
  await page.toWorkers('HeapProfiler.collectGarbage');
  const workerHeap = (await page.toWorkers<{ usedSize: number }>('Runtime.getHeapUsage')).reduce((n, h) => n + h.usedSize, 0);
  latencies.sort((a, b) => a - b);
  const ms = (name: string) => Math.round((((mainAfter.get(name) ?? 0) - (mainBefore.get(name) ?? 0)) * 1000) / seconds);
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  // Every seq sent, warm-up included, applied once: the probe counts from the page's load.
  const notApplied = warmUp + sent - probe.received;
  const lost = notApplied + probe.missing + probe.skipped + probe.invalid;
  console.log(`
Cordon bench:renderer — scripted shell → renderer (headless Chromium), ${AGENTS} synthetic agents, no hub
  offered                     ${RATE.toLocaleString('en')} events/s for ${SECONDS} s (${sent.toLocaleString('en')} sent)
  sustained (applied/elapsed) ${Math.round(applied / seconds).toLocaleString('en')} events/s (${applied.toLocaleString('en')} applied)
  events lost                 ${lost}  (not applied ${notApplied}, missing ${probe.missing}, skipped ${probe.skipped}, invalid ${probe.invalid}; duplicates ${probe.duplicates})
  latency send → store        p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, max ${latencies.at(-1)} ms (${latencies.length.toLocaleString('en')} samples)
  longest renderer task       ${longWhile.max.toFixed(0)} ms while streaming (${longWhile.count} tasks over 50 ms); ${last.longMax.toFixed(0)} ms since the page loaded
  renderer heap after run     ${mb(pageHeap + workerHeap)} (page ${mb(pageHeap)}, ${page.workers.length} worker ${mb(workerHeap)})
  renderer main thread        ${ms('TaskDuration')} ms/s in tasks (script ${ms('ScriptDuration')}, style ${ms('RecalcStyleDuration')}, layout ${ms('LayoutDuration')})
CPU while streaming, in cores (this machine has ${availableParallelism()}; load average ${loadavg()[0]!.toFixed(1)}):
${cpu.map(([k, c]) => `  ${c.toFixed(2).padStart(5)}  ${k}  (${((c * 1e6) / (applied / seconds)).toFixed(1)} µs per event)`).join('\n')}
`);
  if (lost > 0) exitCode = 1;
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await browser.close();
  await shell.close();
  rmSync(outDir, { recursive: true, force: true });
}
process.exit(exitCode);
