// Consoles end to end in Debian's Chromium: `npm run serve`'s shell on the built-in lab, the real renderer, the
// simulated VMs' shells behind real agents. A console opens from the VM pane, `ps` lists the VM's processes (the
// lab's hostile process name reads as text), a `yes` flood is flow-controlled with the heap bounded and Ctrl-C still
// reaches the guest, two consoles on two agents run at once, and the recording replays to the screen the live
// session showed.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { heapUsed as measureHeap } from '../helpers/heap.ts';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { buildRenderer, launchChromium } from '../../bench/lib.ts';
import type { FlowStats } from '../../renderer/src/ui/console/flow.ts';
import type { ConsoleTab } from '../../renderer/src/ui/console/sessions.ts';
import { startNodeProcess, tempDir, type RunningProcess, waitFor } from '../helpers/processes.ts';

/** The consoles' test hook (ui/console/ConsoleProvider.tsx), as the page has it. */
interface ConsolesHook {
  serialize(key: string): Promise<string | null>;
  flowStats(key: string): FlowStats | null;
  tabs(): ConsoleTab[];
}
declare function hook(): ConsolesHook;

/** The text without the CSI sequences (colours, cursor moves) the serialized screen carries. */
const CSI = new RegExp(`${String.fromCharCode(0x1b)}\\[[0-9;?]*[A-Za-z]`, 'g');
const withoutCsi = (text: string) => text.replace(CSI, '');

describe('consoles in Chromium on the built-in lab', () => {
  const dir = tempDir('e2e-console');
  let serve: RunningProcess;
  let browser: Browser;
  let page: Page;
  let cdp: CDPSession;
  const consoleErrors: string[] = [];
  const dialogs: string[] = [];

  const tabs = () => page.evaluate(() => hook().tabs().map((t) => ({ key: t.key, kind: t.kind, phase: t.phase, agentId: t.agentId, vmId: t.vmId, session: t.session?.sessionId ?? null, renderer: t.renderer })));
  const screenOf = (key: string) => page.evaluate((k) => hook().serialize(k), key).then((s) => s ?? '');
  const pane = (key: string) => `[data-testid="console-pane"][data-key="${key}"]`;
  const until = async (what: string, check: () => boolean | Promise<boolean>, ms = 20_000) => { await waitFor(check, what, ms, 50); };
  const heapUsed = () => measureHeap(cdp);

  /** Opens a console on the n-th VM of the fleet (by its Console button) and waits for the shell's prompt. */
  async function openConsole(n: number): Promise<{ key: string; agentId: string; vmId: string }> {
    const vmButton = page.locator('[data-testid="fleet-vm"]').nth(n);
    const agentId = (await vmButton.getAttribute('data-agent'))!;
    const vmId = (await vmButton.getAttribute('data-vm'))!;
    await vmButton.click();
    await page.waitForSelector(`[data-testid="vm-detail"][data-vm="${vmId}"]`);
    // A VM with a malicious event offers a clone and asks first (evidence-safe inspection, test/e2e/evaluate.test.ts).
    const asks = await page.locator(`[data-testid="vm-detail"][data-vm="${vmId}"] [data-testid="safe-inspect"]`).isVisible();
    await page.click('[data-testid="vm-console"]');
    if (asks) await page.click(`[data-testid="vm-detail"][data-vm="${vmId}"] [data-testid="safe-anyway"]`);
    let key = '';
    await until(`a console on ${agentId}/${vmId}`, async () => {
      const t = (await tabs()).find((x) => x.agentId === agentId && x.vmId === vmId && x.kind === 'live' && x.phase !== 'opening');
      key = t?.key ?? '';
      return t !== undefined;
    });
    const t = (await tabs()).find((x) => x.key === key)!;
    if (t.phase !== 'open') assert.fail(`the console did not open: ${await page.textContent(`${pane(key)} [data-testid="console-banner"]`)}`);
    // A new line brings a prompt (the shell's backlog may end mid-line).
    await typeInto(key, '\r');
    await until('the prompt', async () => /[#$] $/m.test(withoutCsi(await screenOf(key)).trimEnd() + ' '));
    return { key, agentId, vmId };
  }

  async function typeInto(key: string, text: string): Promise<void> {
    if (await page.getAttribute(pane(key), 'hidden') !== null) await page.click(`[data-testid="console-tab"][data-key="${key}"] .console-tab-open`);
    await page.click(`${pane(key)} [data-testid="console-screen"]`);
    await page.keyboard.type(text);
  }

  before(async () => {
    buildRenderer();
    serve = await startNodeProcess('main/browser-shell/cli.ts', ['--json', '--data-dir', dir.path, '--lab-rate', '20', '--lab-vms', '6', '--responder', 'Dana Scully']);
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    page = await context.newPage();
    cdp = await context.newCDPSession(page);
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
    // `hook()` in the page: the consoles' test hook.
    await page.addInitScript({ content: 'window.hook = () => window.__cordonConsoles;' });
    await page.goto(String(serve.ready.loginUrl));
    await page.waitForSelector('[data-testid="fleet-vm"]', { timeout: 30_000 });
  });

  after(async () => {
    await browser?.close();
    await serve?.kill();
    dir.remove();
  });

  let first: { key: string; agentId: string; vmId: string };

  it('opens a console from the VM pane; `ps` shows the VM\'s processes, as text', async () => {
    first = await openConsole(0);
    const renderer = await page.getAttribute(pane(first.key), 'data-renderer');
    assert.ok(renderer === 'webgl' || renderer === 'dom');
    await typeInto(first.key, 'ps\r');
    await until('the process list', async () => /PID/.test(await screenOf(first.key)));
    const screen = await screenOf(first.key);
    assert.match(screen, /PID/);
    assert.equal(await page.locator('img').count(), 0, 'whatever the guest printed, no element was made of it');
    assert.deepEqual(dialogs, []);
  });

  it('a `yes` flood is flow-controlled: the heap stays bounded and Ctrl-C still stops it', async () => {
    const before = await heapUsed();
    await typeInto(first.key, 'yes cordon-flood-line\r');
    await until('the flood', async () => ((await page.evaluate((k) => hook().flowStats(k)?.drawn ?? 0, first.key)) > 8 * 1024 * 1024), 60_000);
    const stats = (await page.evaluate((k) => hook().flowStats(k), first.key))!;
    await page.keyboard.press('Control+C');
    // Main pauses the agent above 1 MiB unacknowledged; what was already on its way still comes.
    assert.ok(stats.peakHeld <= 8 * 1024 * 1024, `the renderer held at most its bound: ${stats.peakHeld}`);
    assert.equal(stats.dropped, 0, 'main kept to about its window: nothing had to be dropped');
    await typeInto(first.key, 'echo after-the-flood\r');
    await until('the shell answers again', async () => (await screenOf(first.key)).includes('after-the-flood\r\n') || /after-the-flood[\s\S]*after-the-flood/.test(await screenOf(first.key)), 60_000);
    const after = await heapUsed();
    console.log(`# yes flood: ${(stats.drawn / 1048576).toFixed(1)} MiB drawn, ${(stats.received / 1048576).toFixed(1)} MiB received; heap ${(before / 1048576).toFixed(1)} → ${(after / 1048576).toFixed(1)} MiB; peak held ${(stats.peakHeld / 1024).toFixed(0)} KiB`);
    assert.ok(after - before < 40 * 1024 * 1024, `the heap grew by ${((after - before) / 1048576).toFixed(1)} MiB`);
  });

  it('two consoles at once, each with its own output (several agents: test/renderer/console-page.test.ts)', async () => {
    const second = await openConsole(1);
    assert.notEqual(second.vmId, first.vmId);
    await typeInto(second.key, 'hostname\r');
    await typeInto(first.key, 'echo on-the-first\r');
    await until('both answered', async () => (await screenOf(first.key)).includes('on-the-first') && /hostname\r?\n/.test(await screenOf(second.key)));
    assert.equal((await screenOf(second.key)).includes('on-the-first'), false);
    assert.equal((await tabs()).filter((t) => t.kind === 'live' && t.phase === 'open').length, 2);
  });

  it('the recording replays to the same screen as the live session', async () => {
    await typeInto(first.key, 'clear\r');
    await typeInto(first.key, 'id\r');
    await until('id', async () => /uid=/.test(await screenOf(first.key)));
    const live = await screenOf(first.key);
    await page.click(`[data-testid="console-tab"][data-key="${first.key}"] [data-testid="console-tab-close"]`);
    await page.click(`[data-testid="fleet-vm"][data-vm="${first.vmId}"][data-agent="${first.agentId}"]`);
    await page.click('[data-testid="vm-recordings"]');
    await page.waitForSelector('[data-testid="recordings-pane"] [data-testid="recording"]', { timeout: 20_000 });
    await page.locator('[data-testid="recordings-pane"] [data-testid="recording-replay"]').first().click();
    let key = '';
    await until('the replay', async () => { key = (await tabs()).find((t) => t.kind === 'replay' && t.phase === 'ready')?.key ?? ''; return key !== ''; });
    await page.click(`${pane(key)} [data-testid="replay-end"]`);
    await page.waitForSelector(`${pane(key)} [data-testid="replay-controls"][data-phase="ended"]`, { timeout: 60_000 });
    const replayed = await screenOf(key);
    // The serialized screen ends where the cursor is; the recording has every byte the live screen drew.
    assert.equal(replayed, live);
    assert.deepEqual(consoleErrors, []);
  });
});
