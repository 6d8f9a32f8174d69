// `npm run bench:console`: a console through the whole path — Debian's Chromium (the real renderer, driven over a bare
// DevTools pipe) → the browser shell → main → the agent → the VM's console — on a real QEMU micro-VM (TCG, its 16550
// serial console; root: builds the lab image when missing) and on the sim shell of the built-in lab, for comparison.
// Prints, for each:
//   - keystroke echo latency, idle and while the guest floods the same console with `yes`: from the keydown event
//     to the first frame at which the terminal has parsed the echoed byte (test/e2e/console-tap.ts);
//   - output drawn per second, sustained, during a `yes` flood, with the renderer's longest main-thread task (wall
//     time by the long-task observer, and thread time from a trace);
//   - the renderer's memory (JS heaps after a GC, the renderer process's RSS) before and after a long flood;
//   - QEMU only: the serial line alone, with no Cordon in the way (throughput and echo straight off the chardev
//     socket), which says what the 16550 emulation under TCG can carry at all;
//   - where the CPU went, and how busy the machine was besides.
// Figures only: nothing is asserted on timings.
//
//   npm run bench:console [-- --quick] [--samples N] [--driver sim|qemu|both] [--seconds N] [--flood-mb N] [--qemu-flood-mb N]
import { connect, type Socket } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { CONSOLE_TAP } from '../test/e2e/console-tap.ts';
import { startQemuCockpit, type QemuCockpit } from '../test/e2e/qemu-cockpit.ts';
import { startNodeProcess, tempDir, type RunningProcess } from '../test/helpers/processes.ts';
import { ensureLabImage } from '../test/qemu/helpers.ts';
import { Cdp, CdpPage } from './cdp.ts';
import { cpuBetween, sampleCpu } from './cpu.ts';
import { buildRenderer, percentile } from './lib.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    samples: { type: 'string' },
    driver: { type: 'string', default: 'both' },
    seconds: { type: 'string' },
    'flood-mb': { type: 'string' },
    'qemu-flood-mb': { type: 'string' },
    renderer: { type: 'string', default: 'auto' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (values.help) {
  console.log(`Usage: npm run bench:console -- [options]
  --quick            fewer samples, shorter floods (about a minute and a half)
  --samples N        echo samples per case (default 200; --quick 40)
  --driver D         sim, qemu or both (default both; qemu needs root)
  --seconds N        throughput window (default 10; --quick 4)
  --flood-mb N       the long flood on the sim, in MB drawn (default 100; --quick 20)
  --qemu-flood-mb N  the long flood on QEMU (default 16; --quick 4): the 16550 carries a few hundred KB/s
  --renderer R       auto (the console's own choice: WebGL where it can), dom (?console-renderer=dom), or both`);
  process.exit(0);
}
const QUICK = values.quick;
const SAMPLES = Number(values.samples ?? (QUICK ? 40 : 200));
const SECONDS = Number(values.seconds ?? (QUICK ? 4 : 10));
const FLOOD_MB = { sim: Number(values['flood-mb'] ?? (QUICK ? 20 : 100)), qemu: Number(values['qemu-flood-mb'] ?? (QUICK ? 4 : 16)) };
const DRIVERS = values.driver === 'both' ? ['sim', 'qemu'] as const : [values.driver as 'sim' | 'qemu'];
if (!DRIVERS.every((d) => d === 'sim' || d === 'qemu')) throw new Error(`--driver ${values.driver}: choose sim, qemu or both.`);
const RENDERERS = values.renderer === 'both' ? ['auto', 'dom'] as const : [values.renderer as 'auto' | 'dom'];
if (!RENDERERS.every((r) => r === 'auto' || r === 'dom')) throw new Error(`--renderer ${values.renderer}: choose auto, dom or both.`);
if (!Number.isInteger(SAMPLES) || SAMPLES < 5) throw new Error('--samples takes a whole number, 5 or more.');

/** Characters typed for the echo samples: none is in the flood's line, a prompt, or an escape sequence's final byte. */
const MARKS = 'qzjvxkw';
/** The flood's line (72 bytes with CR LF): made of characters that are not marks. */
const FLOOD_LINE = 'cordon-flood-0123456789-0123456789-0123456789-0123456789-0123456789';
const MB = 1_000_000;
const log = (s: string) => console.error(`bench:console: ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Latency { samples: number[]; lost: number }
interface Figures {
  label: string;
  setupNote: string;
  echoIdle: Latency;
  echoFlood: Latency;
  throughput: { bytesPerS: number; slowestSecond: number; seconds: number; longTaskMs: number; longTasks: number; longestThreadMs: number; wallOfThatMs: number };
  memory: { floodMB: number; floodSeconds: number; heapBefore: number; heapAfter: number; rssBefore: number; rssAfter: number; peakHeld: number; dropped: number };
  cpu: [string, number][];
  machine: { busyCores: number; oursCores: number };
  raw?: { bytesPerS: number; qemuCores: number; echoIdle: Latency; echoFlood: Latency };
}

const results: Figures[] = [];
const load = { start: loadavg()[0]!, end: 0 };
buildRenderer();
for (const driver of DRIVERS) {
  for (const renderer of RENDERERS) {
    try {
      results.push(await runOn(driver, renderer));
    } catch (err) {
      console.error(`bench:console: the ${driver} run (${renderer} renderer) failed:`, err);
      process.exitCode = 1;
    }
  }
}
load.end = loadavg()[0]!;
print(results);
process.exit(process.exitCode ?? 0);

// ── one run: a target, a browser, a console ───────────────────────────────────────────────────────────────────────

async function runOn(driver: 'sim' | 'qemu', renderer: 'auto' | 'dom'): Promise<Figures> {
  let lab: QemuCockpit | undefined;
  let shell: RunningProcess | undefined;
  const dir = tempDir('bench-console');
  let browser: Cdp | undefined;
  try {
    let loginUrl: string;
    let vmId: string | undefined;
    let cpuRoots: { label: string; pid: number; chromium?: boolean; alone?: boolean }[];
    let setupNote: string;
    let drawnBy = '';
    if (driver === 'qemu') {
      if (process.getuid?.() !== 0) throw new Error('the qemu run needs root (it builds the lab image and boots QEMU); run with --driver sim, or as root.');
      ensureLabImage();
      log('booting one QEMU micro-VM (TCG) under a qemu agent, and the browser shell configured with it');
      lab = await startQemuCockpit({ hostname: 'lab-bench', agentId: 'qemu-bench', memoryMiB: 256 });
      loginUrl = lab.loginUrl;
      vmId = lab.vmId;
      cpuRoots = [
        { label: 'QEMU (TCG, one vCPU)', pid: lab.qemuPid() ?? -1, alone: true },
        { label: 'agent (qemu driver)', pid: lab.agent.child.pid ?? -1, alone: true },
        { label: 'browser shell + main', pid: lab.shell.child.pid ?? -1, alone: true },
      ];
      setupNote = `one lab guest, 256 MiB, TCG; booted in ${(lab.bootMs / 1000).toFixed(1)} s; serial console = QEMU's 16550 on a socket chardev with a logfile`;
    } else {
      log('starting the browser shell on the built-in lab (sim agent, 2 VMs, no events)');
      shell = await startNodeProcess('main/browser-shell/cli.ts', ['--json', '--data-dir', dir.path, '--lab', '--lab-vms', '2', '--lab-rate', '0', '--responder', 'bench']);
      loginUrl = String(shell.ready.loginUrl);
      const labAgent = childrenOf(shell.child.pid ?? -1).find((pid) => cmdline(pid).includes('agent/cli.ts'));
      cpuRoots = [
        { label: 'browser shell + main', pid: shell.child.pid ?? -1, alone: true },
        { label: 'sim agent', pid: labAgent ?? -1, alone: true },
      ];
      setupNote = 'the built-in lab\'s sim agent, its simulated shell (flow-controlled `yes`)';
    }

    browser = Cdp.launch();
    cpuRoots.push({ label: 'chromium', pid: browser.pid, chromium: true });
    const page = await CdpPage.open(browser, { width: 1600, height: 1000 });
    await page.send('Page.addScriptToEvaluateOnNewDocument', { source: CONSOLE_TAP });
    await page.send('Emulation.setFocusEmulationEnabled', { enabled: true });
    await page.goto(loginUrl);
    // Logged in (the token became a cookie): the page again, asking for the DOM renderer.
    if (renderer === 'dom') await page.goto(`${new URL(loginUrl).origin}/?console-renderer=dom`);
    await page.waitFor(`document.querySelector('[data-testid="fleet-vm"]${vmId ? `[data-vm="${vmId}"]` : ''}') !== null`, 60_000);
    const c = await openConsole(page, vmId);
    drawnBy = await page.evaluate<string>(`document.querySelector('[data-testid="console-pane"][data-key="${c.key}"]').getAttribute('data-renderer')`);
    const software = descendants(browser.pid).some((pid) => /--type=gpu-process/.test(cmdline(pid)) && /swiftshader/i.test(cmdline(pid)));
    setupNote += `; the terminal drawn by ${drawnBy === 'webgl' ? `xterm's WebGL addon${software ? ' (on SwiftShader, software GL: no GPU here)' : ''}` : 'xterm\'s DOM renderer'}`;
    log(`console open on ${c.vmId} (${c.kind}, ${drawnBy}); measuring`);

    // 1. Echo, idle: one key at a time at the shell's prompt; every 20 keys Ctrl-C gives a fresh line.
    const echoIdle: Latency = { samples: [], lost: 0 };
    for (let i = 0; i < SAMPLES; i++) {
      if (i > 0 && i % 20 === 0) await interrupt(page, c);
      await echoSample(page, c, MARKS[i % MARKS.length]!, echoIdle);
      await sleep(20 + Math.random() * 40);
    }
    await interrupt(page, c);
    log(`echo idle: p50 ${percentile(sorted(echoIdle.samples), 50).toFixed(1)} ms, p99 ${percentile(sorted(echoIdle.samples), 99).toFixed(1)} ms`);

    // 2. Echo during a flood on the same console: the guest's tty echoes each key in between `yes` lines.
    await typeLine(page, `yes ${FLOOD_LINE}`);
    await waitDrawn(page, c, driver === 'qemu' ? 0.5 * MB : 20 * MB, 60_000);
    const echoFlood: Latency = { samples: [], lost: 0 };
    for (let i = 0; i < SAMPLES; i++) {
      await echoSample(page, c, MARKS[i % MARKS.length]!, echoFlood);
      await sleep(20 + Math.random() * 40);
    }
    await interrupt(page, c);
    log(`echo during the flood: p50 ${percentile(sorted(echoFlood.samples), 50).toFixed(1)} ms, p99 ${percentile(sorted(echoFlood.samples), 99).toFixed(1)} ms`);

    // 3. Throughput and the renderer's longest task, then 4. memory after a long flood (the same flood, carried on).
    await typeLine(page, 'clear');
    await waitPrompt(page, c);
    await sleep(500);
    const heapBefore = await heap(page);
    const rssBefore = rendererRss(browser.pid);
    const drawnAtStart = (await flowStats(page, c)).drawn;
    const floodStart = performance.now();
    await typeLine(page, `yes ${FLOOD_LINE}`);
    await sleep(2000);
    const traced: TraceEvent[] = [];
    const offTrace = browser.on('Tracing.dataCollected', (d) => { traced.push(...(d.value as TraceEvent[])); });
    await browser.send('Tracing.start', { categories: 'toplevel', transferMode: 'ReportEvents' });
    await page.evaluate('window.__consoleTap.resetLongTasks()');
    const cpuBefore = sampleCpu(cpuRoots);
    const machineBefore = machineCpu();
    const t0 = performance.now();
    let last = { t: t0, drawn: (await flowStats(page, c)).drawn };
    const first = last.drawn;
    const perSecond: number[] = [];
    while (performance.now() - t0 < SECONDS * 1000) {
      await sleep(1000);
      const now = { t: performance.now(), drawn: (await flowStats(page, c)).drawn };
      perSecond.push(((now.drawn - last.drawn) * 1000) / (now.t - last.t));
      last = now;
    }
    const seconds = (last.t - t0) / 1000;
    const cpu = cpuBetween(cpuBefore, sampleCpu(cpuRoots), seconds);
    const machine = machineCpu();
    const busyCores = (machine.busy - machineBefore.busy) / (machine.total - machineBefore.total) * availableParallelism();
    const longTasks = await page.evaluate<{ count: number; maxMs: number }>('window.__consoleTap.longTasks');
    const complete = new Promise((r) => { const off = browser!.on('Tracing.tracingComplete', () => { off(); r(undefined); }); });
    await browser.send('Tracing.end');
    await complete;
    offTrace();
    const longest = longestMainTask(traced);
    const throughput = {
      bytesPerS: ((last.drawn - first) * 1000) / (last.t - t0), slowestSecond: Math.min(...perSecond), seconds,
      longTaskMs: longTasks.maxMs, longTasks: longTasks.count, longestThreadMs: longest.threadMs, wallOfThatMs: longest.wallMs,
    };
    log(`throughput: ${(throughput.bytesPerS / MB).toFixed(2)} MB/s drawn; longest task ${longTasks.maxMs.toFixed(0)} ms`);
    const floodBytes = FLOOD_MB[driver] * MB;
    const floodTimeout = driver === 'qemu' ? Math.max(120_000, (floodBytes / 100_000) * 1000) : 300_000;
    await waitDrawn(page, c, floodBytes - ((await flowStats(page, c)).drawn - drawnAtStart), floodTimeout);
    await interrupt(page, c, 120_000);
    const floodSeconds = (performance.now() - floodStart) / 1000;
    const afterFlood = await flowStats(page, c);
    await sleep(1000);
    const memory = {
      floodMB: (afterFlood.drawn - drawnAtStart) / MB, floodSeconds, heapBefore, heapAfter: await heap(page), rssBefore, rssAfter: rendererRss(browser.pid),
      peakHeld: afterFlood.peakHeld, dropped: afterFlood.dropped,
    };
    log(`after a ${memory.floodMB.toFixed(0)} MB flood: heap ${(memory.heapBefore / 1048576).toFixed(1)} → ${(memory.heapAfter / 1048576).toFixed(1)} MiB`);

    // 5. QEMU: the serial line alone, with the console closed in the cockpit (the agent lets the chardev go).
    let raw: Figures['raw'];
    if (lab && renderer === RENDERERS[0]) {
      await page.evaluate(`document.querySelector('[data-testid="console-pane"][data-key="${c.key}"] [data-testid="console-close"]').click()`);
      raw = await rawSerial(lab, Math.max(20, Math.round(SAMPLES / 2)), SECONDS);
      log(`the serial line alone: ${(raw.bytesPerS / MB).toFixed(3)} MB/s, QEMU at ${raw.qemuCores.toFixed(2)} cores`);
    }
    const ours = cpu.reduce((n, [, v]) => n + v, 0);
    return {
      label: `${driver === 'qemu' ? 'QEMU serial (TCG)' : 'sim shell'}, ${drawnBy === 'webgl' ? 'WebGL' : 'DOM'}`, setupNote, echoIdle, echoFlood, throughput, memory, cpu,
      machine: { busyCores, oursCores: ours }, ...(raw ? { raw } : {}),
    };
  } finally {
    await browser?.close();
    await shell?.kill();
    await lab?.stop();
    dir.remove();
  }
}

// ── the page ──────────────────────────────────────────────────────────────────────────────────────────────────────

interface OpenConsole { key: string; sessionId: string; vmId: string; kind: string }
interface Flow { received: number; drawn: number; dropped: number; peakHeld: number }

async function openConsole(page: CdpPage, vmId: string | undefined): Promise<OpenConsole> {
  // A running VM (the sim's first; the QEMU one by id): its pane, then its Console button.
  const vm = vmId ?? await page.evaluate<string>(`[...document.querySelectorAll('[data-testid="fleet-vm-item"][data-state="running"]')][0]?.getAttribute('data-vm') ?? ''`);
  if (!vm) throw new Error('no running VM in the fleet');
  await page.evaluate(`document.querySelector('[data-testid="fleet-vm"][data-vm="${vm}"]').click()`);
  await page.waitFor(`document.querySelector('[data-testid="vm-detail"][data-vm="${vm}"] [data-testid="vm-console"]') !== null`, 30_000);
  await page.evaluate(`document.querySelector('[data-testid="vm-detail"][data-vm="${vm}"] [data-testid="vm-console"]').click()`);
  await page.waitFor(`(window.__cordonConsoles?.tabs() ?? []).some((t) => t.kind === 'live' && t.vmId === '${vm}' && t.phase !== 'opening')`, 60_000);
  const tab = await page.evaluate<{ key: string; phase: string; sessionId: string; kind: string; error: string | null }>(
    `(() => { const t = window.__cordonConsoles.tabs().find((t) => t.kind === 'live' && t.vmId === '${vm}'); return { key: t.key, phase: t.phase, sessionId: t.session?.sessionId ?? '', kind: t.session?.kind ?? '', error: t.error }; })()`);
  if (tab.phase !== 'open') throw new Error(`the console did not open: ${tab.error}`);
  const c = { key: tab.key, sessionId: tab.sessionId, vmId: vm, kind: tab.kind };
  await page.waitFor(`document.querySelector('[data-testid="console-pane"][data-key="${c.key}"] .xterm-helper-textarea') !== null`, 30_000);
  await page.evaluate(`document.querySelector('[data-testid="console-pane"][data-key="${c.key}"] .xterm-helper-textarea').focus()`);
  await press(page, { key: 'Enter', code: 'Enter', vk: 13, text: '\r' });
  await waitPrompt(page, c);
  return c;
}

/** One echo sample: arm the tap, type the key, wait for the frame that draws its echo. */
async function echoSample(page: CdpPage, c: OpenConsole, char: string, into: Latency): Promise<void> {
  await page.evaluate(`window.__consoleTap.arm(${JSON.stringify(c.sessionId)}, ${JSON.stringify(c.key)}, ${JSON.stringify(char)})`);
  await typeChar(page, char);
  const ms = await page.evaluate<number | null>('window.__consoleTap.result(10000)');
  if (ms === null) into.lost += 1;
  else into.samples.push(ms);
}

async function press(page: CdpPage, k: { key: string; code: string; vk: number; text?: string; modifiers?: number }): Promise<void> {
  const base = { key: k.key, code: k.code, windowsVirtualKeyCode: k.vk, nativeVirtualKeyCode: k.vk, modifiers: k.modifiers ?? 0 };
  await page.send('Input.dispatchKeyEvent', k.text !== undefined ? { type: 'keyDown', ...base, text: k.text, unmodifiedText: k.text } : { type: 'rawKeyDown', ...base });
  await page.send('Input.dispatchKeyEvent', { type: 'keyUp', ...base });
}

async function typeChar(page: CdpPage, ch: string): Promise<void> {
  const upper = ch.toUpperCase();
  const letter = upper >= 'A' && upper <= 'Z';
  const digit = ch >= '0' && ch <= '9';
  await press(page, { key: ch, code: letter ? `Key${upper}` : digit ? `Digit${ch}` : '', vk: letter || digit ? upper.charCodeAt(0) : 0, text: ch });
}

async function typeLine(page: CdpPage, line: string): Promise<void> {
  for (const ch of line) await typeChar(page, ch);
  await press(page, { key: 'Enter', code: 'Enter', vk: 13, text: '\r' });
}

/** Ctrl-C, then the prompt again (after whatever the flood still had on its way). */
async function interrupt(page: CdpPage, c: OpenConsole, timeoutMs = 60_000): Promise<void> {
  await press(page, { key: 'Control', code: 'ControlLeft', vk: 17, modifiers: 2 });
  await press(page, { key: 'c', code: 'KeyC', vk: 67, modifiers: 2 });
  await waitPrompt(page, c, timeoutMs);
}

/** The screen's last line is a shell prompt (ash's `HOST:DIR# `, the sim's `root@HOST:DIR# `), quiet for 300 ms. */
async function waitPrompt(page: CdpPage, c: OpenConsole, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let seenAt = -1;
  for (;;) {
    const text = await page.evaluate<string>(`window.__cordonConsoles.serialize(${JSON.stringify(c.key)}).then((s) => (s ?? '').slice(-400))`);
    // eslint-disable-next-line no-control-regex
    const plain = text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').trimEnd();
    const drawn = (await flowStats(page, c)).drawn;
    if (/[a-z0-9-]+:[^\s]*#$/.test(plain)) {
      if (seenAt === drawn) return;
      seenAt = drawn;
    } else {
      seenAt = -1;
    }
    if (Date.now() > end) throw new Error(`no prompt within ${timeoutMs} ms; the screen ends ${JSON.stringify(plain.slice(-200))}`);
    await sleep(300);
  }
}

async function flowStats(page: CdpPage, c: OpenConsole): Promise<Flow> {
  return page.evaluate<Flow>(`window.__cordonConsoles.flowStats(${JSON.stringify(c.key)})`);
}

async function waitDrawn(page: CdpPage, c: OpenConsole, bytes: number, timeoutMs: number): Promise<void> {
  const start = (await flowStats(page, c)).drawn;
  const end = Date.now() + timeoutMs;
  while ((await flowStats(page, c)).drawn - start < bytes) {
    if (Date.now() > end) {
      log(`stopped waiting for ${(bytes / MB).toFixed(1)} MB after ${timeoutMs / 1000} s (${(((await flowStats(page, c)).drawn - start) / MB).toFixed(1)} MB drawn)`);
      return;
    }
    await sleep(250);
  }
}

/** The page's and its workers' JS heaps after a GC, the page's with its array buffers (xterm's lines). */
async function heap(page: CdpPage): Promise<number> {
  await page.send('HeapProfiler.collectGarbage');
  const h = await page.send<{ usedSize: number; embedderHeapUsedSize: number; backingStorageSize: number }>('Runtime.getHeapUsage');
  await page.toWorkers('HeapProfiler.collectGarbage');
  const workers = (await page.toWorkers<{ usedSize: number }>('Runtime.getHeapUsage')).reduce((n, w) => n + w.usedSize, 0);
  return h.usedSize + h.embedderHeapUsedSize + h.backingStorageSize + workers;
}

// ── the serial line alone ─────────────────────────────────────────────────────────────────────────────────────────

async function rawSerial(lab: QemuCockpit, samples: number, seconds: number): Promise<NonNullable<Figures['raw']>> {
  // The agent lets the chardev go once the cockpit's stream is closed; QEMU then takes the next client.
  let sock: Socket | undefined;
  let tail = '';
  let total = 0;
  let watch: { code: number; done(): void } | null = null;
  for (let attempt = 0; attempt < 20 && sock === undefined; attempt++) {
    await sleep(500);
    const s = connect({ path: lab.serialSocket });
    const ok = await new Promise<boolean>((resolve) => {
      tail = '';
      s.on('data', (d: Buffer) => {
        total += d.length;
        tail = (tail + d.toString('latin1')).slice(-200);
        if (watch !== null && d.includes(watch.code)) watch.done();
      });
      s.once('error', () => resolve(false));
      s.once('connect', () => {
        s.write('\r');
        const timer = setTimeout(() => { clearInterval(check); resolve(false); }, 3000);
        // eslint-disable-next-line no-control-regex
        const check = setInterval(() => { if (/# (\u001b\[6n)?$/.test(tail)) { clearTimeout(timer); clearInterval(check); resolve(true); } }, 50);
      });
    });
    if (ok) sock = s;
    else s.destroy();
  }
  if (sock === undefined) throw new Error(`could not attach to ${lab.serialSocket} after the cockpit closed its console`);
  const echo = async (into: Latency, ch: string) => {
    const t = performance.now();
    const came = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => { watch = null; resolve(false); }, 10_000);
      watch = { code: ch.charCodeAt(0), done: () => { watch = null; clearTimeout(timer); resolve(true); } };
      sock!.write(ch);
    });
    if (came) into.samples.push(performance.now() - t);
    else into.lost += 1;
  };
  const echoIdle: Latency = { samples: [], lost: 0 };
  for (let i = 0; i < samples; i++) {
    if (i > 0 && i % 20 === 0) { sock.write('\x03'); await sleep(300); }
    await echo(echoIdle, MARKS[i % MARKS.length]!);
    await sleep(20 + Math.random() * 40);
  }
  sock.write(`\x03yes ${FLOOD_LINE}\r`);
  await sleep(2000);
  const echoFlood: Latency = { samples: [], lost: 0 };
  for (let i = 0; i < samples; i++) {
    await echo(echoFlood, MARKS[i % MARKS.length]!);
    await sleep(20 + Math.random() * 40);
  }
  const pid = lab.qemuPid() ?? -1;
  const cpu0 = procCpuSeconds(pid);
  const b0 = total;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const s = (performance.now() - t0) / 1000;
  const bytesPerS = (total - b0) / s;
  const qemuCores = (procCpuSeconds(pid) - cpu0) / s;
  sock.write('\x03');
  await sleep(500);
  sock.destroy();
  return { bytesPerS, qemuCores, echoIdle, echoFlood };
}

// ── /proc ─────────────────────────────────────────────────────────────────────────────────────────────────────────

function procCpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

function cmdline(pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '); } catch { return ''; }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    const p = Number(e);
    if (!Number.isInteger(p)) continue;
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (Number(f.slice(f.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(p);
    } catch { /* gone */ }
  }
  return out;
}

function descendants(pid: number): number[] {
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...childrenOf(tree[i]!));
  return tree;
}

/** The largest resident set among the browser's renderer processes (the page's). */
function rendererRss(browserPid: number): number {
  let max = 0;
  for (const pid of descendants(browserPid)) {
    if (!cmdline(pid).includes('--type=renderer')) continue;
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      max = Math.max(max, kb * 1024);
    } catch { /* gone */ }
  }
  return max;
}

/** The whole machine's CPU ticks (/proc/stat), busy and in all. */
function machineCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = f[3]! + f[4]!;
  return { busy: total - idle, total };
}

// ── the trace ─────────────────────────────────────────────────────────────────────────────────────────────────────

type TraceEvent = { name: string; ph: string; dur?: number; tdur?: number; tid: number; pid: number; args?: { name?: string } };

/** The longest task of a renderer's main thread by its own CPU time (and that task's wall time). */
function longestMainTask(events: TraceEvent[]): { threadMs: number; wallMs: number } {
  const names = new Map<string, string>();
  for (const e of events) if (e.ph === 'M' && e.name === 'thread_name' && e.args?.name) names.set(`${e.pid}:${e.tid}`, e.args.name);
  let best: TraceEvent | undefined;
  for (const e of events) {
    if (e.ph !== 'X' || e.name !== 'ThreadControllerImpl::RunTask' || e.tdur === undefined || names.get(`${e.pid}:${e.tid}`) !== 'CrRendererMain') continue;
    if (best === undefined || e.tdur > best.tdur!) best = e;
  }
  return { threadMs: (best?.tdur ?? 0) / 1000, wallMs: (best?.dur ?? 0) / 1000 };
}

// ── the table ─────────────────────────────────────────────────────────────────────────────────────────────────────

function sorted(xs: number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

function lat(l: Latency): string {
  if (l.samples.length === 0) return `no samples (${l.lost} lost)`;
  const s = sorted(l.samples);
  return `${percentile(s, 50).toFixed(1)} / ${percentile(s, 99).toFixed(1)} / ${s.at(-1)!.toFixed(0)} ms (${s.length}${l.lost ? `, ${l.lost} lost` : ''})`;
}

function print(rs: Figures[]): void {
  if (rs.length === 0) return;
  const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  const col = rs.length > 2 ? 36 : 44;
  const row = (name: string, cells: string[], target = '') => `  ${name.padEnd(39)}${cells.map((c) => c.padEnd(col)).join('')}${target}`;
  const lines = [
    '',
    `Cordon bench:console — Chromium renderer → browser shell → main → agent → console (${SAMPLES} echo samples per case${QUICK ? ', --quick' : ''})`,
    row('', rs.map((r) => r.label), 'target'),
    row('echo idle p50 / p99 / max', rs.map((r) => lat(r.echoIdle)), 'p99 ≤ 50 ms'),
    row('echo during a yes flood p50/p99/max', rs.map((r) => lat(r.echoFlood)), 'p99 ≤ 150 ms'),
    row('output drawn, sustained', rs.map((r) => `${(r.throughput.bytesPerS / MB).toFixed(2)} MB/s (slowest second ${(r.throughput.slowestSecond / MB).toFixed(2)})`), '≥ 5 MB/s'),
    row('longest renderer task (wall)', rs.map((r) => `${r.throughput.longTaskMs.toFixed(0)} ms (${r.throughput.longTasks} over 50 ms in ${r.throughput.seconds.toFixed(0)} s)`), '< 50 ms'),
    row('longest main-thread task (CPU)', rs.map((r) => `${r.throughput.longestThreadMs.toFixed(1)} ms (that task: ${r.throughput.wallOfThatMs.toFixed(1)} ms wall)`)),
    row('long flood', rs.map((r) => `${r.memory.floodMB.toFixed(0)} MB drawn in ${r.memory.floodSeconds.toFixed(0)} s`)),
    row('renderer JS heaps, before → after', rs.map((r) => `${mib(r.memory.heapBefore)} → ${mib(r.memory.heapAfter)}`)),
    row('renderer process RSS, before → after', rs.map((r) => `${mib(r.memory.rssBefore)} → ${mib(r.memory.rssAfter)}`)),
    row('console flow: peak held, dropped', rs.map((r) => `${(r.memory.peakHeld / 1024).toFixed(0)} KiB, ${r.memory.dropped} B dropped`)),
  ];
  const raw = rs.find((r) => r.raw)?.raw;
  if (raw) {
    lines.push('', '  QEMU\'s serial line alone (the chardev socket read directly, no Cordon):');
    lines.push(`    yes flood                    ${(raw.bytesPerS / MB).toFixed(3)} MB/s, QEMU at ${raw.qemuCores.toFixed(2)} cores`);
    lines.push(`    echo idle p50 / p99 / max    ${lat(raw.echoIdle)}`);
    lines.push(`    echo during the flood        ${lat(raw.echoFlood)}`);
  }
  for (const r of rs) {
    lines.push('', `  ${r.label}: ${r.setupNote}`);
    lines.push(`  CPU during the throughput window, in cores (this machine has ${availableParallelism()}; it was ${r.machine.busyCores.toFixed(2)} busy in all, ${Math.max(0, r.machine.busyCores - r.machine.oursCores).toFixed(2)} of it not the bench's):`);
    for (const [k, v] of r.cpu) lines.push(`    ${v.toFixed(2).padStart(5)}  ${k}`);
  }
  lines.push('', `  load average (1 min): ${load.start.toFixed(1)} at the start, ${load.end.toFixed(1)} at the end`, '');
  console.log(lines.join('\n'));
  console.log(JSON.stringify(rs.map((r) => ({
    ...r,
    echoIdle: summary(r.echoIdle), echoFlood: summary(r.echoFlood),
    ...(r.raw ? { raw: { ...r.raw, echoIdle: summary(r.raw.echoIdle), echoFlood: summary(r.raw.echoFlood) } } : {}),
  }))));
}

function summary(l: Latency) {
  const s = sorted(l.samples);
  return { n: s.length, lost: l.lost, p50: percentile(s, 50), p99: percentile(s, 99), max: s.at(-1) ?? NaN };
}
