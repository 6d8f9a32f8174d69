// The renderer alone in Debian's Chromium, against a scripted browser shell (no hub, no agent): what it draws
// from a snapshot and pushes, hostile strings, the keyboard, filters, pause, malformed frames, a dropped link,
// a refused session, and the strict CSP with no request leaving the origin. Skipped where Chromium is absent.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM_PATH, launchChromium, ROOT } from '../../bench/lib.ts';
import type { FeedEvent } from '../../protocol/index.ts';
import type { CordonProbe } from '../../renderer/src/store/probe.ts';
import { actionRecord, agentStatus, feedEvent, snapshot, vm } from './fixtures.ts';
import { startScriptedShell, type ScriptedShell } from './scripted-shell.ts';
import { record } from '../security/campaign.ts';

// The callbacks handed to page.evaluate and waitForFunction run in Chromium, but this file is type-checked as Node
// code (tsconfig.node.json has no DOM library): the little of the page they touch is declared here.
interface PageElement { getAttribute(name: string): string | null; textContent: string | null }
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
  readonly activeElement: PageElement | null;
  addEventListener(type: 'securitypolicyviolation', listener: (e: { violatedDirective: string; blockedURI: string }) => void): void;
};
declare const window: {
  __cordonProbe?: CordonProbe;
  __csp: string[];
  // A stand-in for the Electron preload's API (see the last test).
  cordon?: unknown;
  __electronPush?: (push: unknown) => void;
  __electronCalls?: number;
};

const HOSTILE = '<img src=x onerror=alert(1)>';
const present = existsSync(CHROMIUM_PATH);

function hostileEvents(): FeedEvent[] {
  return [
    feedEvent(1, { severity: 'info', verdict: 'benign', title: 'cron started logrotate' }),
    feedEvent(2, { severity: 'critical', verdict: 'malicious', vmId: 'vm-db-1', title: '<script>alert(2)</script> escape attempt',
      process: { pid: 31337, ppid: 1, name: HOSTILE, commandLine: 'sh -c "printf \x1b[2J"\nrm -rf /', user: 'www-data', executable: '/tmp/.x/sh' },
      connection: { protocol: 'tcp', direction: 'outbound', remoteAddress: '203.0.113.66', remotePort: 4444 },
      file: { path: '/home/alice/invoice\u202Efdp.exe' },
      mitre: { techniqueId: 'T1611', technique: 'Escape to Host', tactic: 'Privilege Escalation' } }),
    feedEvent(3, { severity: 'high', verdict: 'suspicious', title: 'nc listening on 4444',
      process: { pid: 812, name: 'nc', commandLine: 'nc -lvp 4444' },
      connection: { protocol: 'tcp', direction: 'listen', localAddress: '0.0.0.0', localPort: 4444 } }),
    feedEvent(1, { severity: 'medium', verdict: 'suspicious', vmId: 'vm-x', title: 'lateral SSH from web-1' }, 'hv-02'),
  ];
}

describe('the renderer in Chromium against a scripted shell', { skip: present ? false : `no Chromium at ${CHROMIUM_PATH}` }, () => {
  const outDir = mkdtempSync(join(tmpdir(), 'cordon-renderer-'));
  let shell: ScriptedShell;
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];
  const dialogs: string[] = [];
  const errors: string[] = [];

  const rowSeqs = () => page.$$eval('[data-testid="feed-row"]', (rows) => rows.map((r) => `${r.getAttribute('data-agent')}:${r.getAttribute('data-seq')}`));
  const waitRows = (pred: () => boolean) => page.waitForFunction(pred, undefined, { timeout: 10_000 });

  before(async () => {
    const built = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'renderer/vite.config.ts',
      '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
    assert.equal(built.status, 0, 'the renderer builds');
    shell = await startScriptedShell(outDir, snapshot({
      agents: [agentStatus('hv-01', { label: 'Rack 4 host' }), agentStatus('hv-02', { link: 'disconnected', gaps: [{ from: 10, to: 19, reason: 'buffer wrapped' }] })],
      inventories: [{ agentId: 'hv-01', vms: [vm('vm-web-1'), vm('vm-db-1', { name: `db ${HOSTILE}`, state: 'isolated' })] }, { agentId: 'hv-02', vms: [vm('vm-x')] }],
      events: hostileEvents(),
      windowSize: 1000,
    }));
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    page.on('request', (r) => requests.push(r.url()));
    page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.addInitScript(() => {
      window.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    await page.goto(shell.url);
    await page.waitForSelector('[data-testid="feed-row"]');
  });

  after(async () => {
    await browser?.close();
    await shell?.close();
    rmSync(outDir, { recursive: true, force: true });
  });

  it('draws the snapshot: newest first, the fleet with its gaps, the status bar', async () => {
    assert.deepEqual(await rowSeqs(), ['hv-02:1', 'hv-01:3', 'hv-01:2', 'hv-01:1']);
    const sidebar = await page.textContent('[data-testid="fleet-sidebar"]');
    assert.match(sidebar ?? '', /Rack 4 host/);
    assert.match(await page.textContent('[data-testid="gap-warning"]') ?? '', /10 events lost in 1 gap/);
    assert.equal(await page.locator('[data-testid="fleet-vm"]').count(), 3);
    const status = await page.textContent('[data-testid="status-bar"]') ?? '';
    assert.match(status, /Agents 1\/2 connected/);
    assert.match(status, /gaps on 1 agent/);
    assert.equal(await page.getAttribute('[data-testid="status-link"]', 'data-phase'), 'connected');
    assert.equal(await page.getAttribute('[data-testid="follow-toggle"]', 'aria-pressed'), 'true');
  });

  it('shows hostile strings as text, with control and bidi characters made visible', async () => {
    const row = page.locator('[data-testid="feed-row"][data-seq="2"][data-agent="hv-01"]');
    assert.ok((await row.textContent())?.includes(HOSTILE), 'the process name, literally');
    assert.ok((await row.textContent())?.includes('<script>alert(2)</script>'), 'the title, literally');
    assert.ok((await page.textContent('[data-testid="fleet-sidebar"]'))?.includes(`db ${HOSTILE}`), 'the VM name, literally');
    await row.click();
    await page.waitForSelector('[data-testid="detail-title"]:has-text("escape attempt")', { timeout: 5000 });
    const detail = await page.textContent('[data-testid="event-detail"]') ?? '';
    assert.ok(detail.includes(HOSTILE));
    assert.ok(detail.includes('printf ␛[2J"␊rm -rf /'), `ESC and the newline are shown: ${detail}`);
    assert.ok(detail.includes('invoice⟨U+202E⟩fdp.exe'), 'the right-to-left override is shown, so the name reads as it is');
    assert.match(detail, /hidden characters shown/);
    assert.match(detail, /T1611 Escape to Host/);
    assert.equal(await page.locator('img').count(), 0, 'no element was made from a string');
    assert.equal(await page.locator('script:not([src])').count(), 0);
    assert.deepEqual(dialogs, []);
    const fields = ['event title', 'process name', 'command line with ESC and a newline', 'file path with U+202E', 'VM name'];
    record({ campaign: 'bad-input', target: 'renderer: feed, event detail and fleet (Chromium)', kind: 'XSS and control characters in event and VM fields', tried: fields.length, refused: 0, crashes: 0,
      outcome: 'Shown literally as text (ESC as ␛, U+202E as ⟨U+202E⟩); no element made, no script run, no dialog.' });
  });

  it('moves with the keyboard: j/k and arrows, Home/End, Enter opens the detail, Esc clears, / searches', async () => {
    // A key acts on the model at once and is drawn on the next animation frame: wait for the drawing.
    const expectSelected = (key: string) => page.waitForFunction((k) => {
      const row = document.querySelector('.feed-row.selected');
      return row !== null && `${row.getAttribute('data-agent')}:${row.getAttribute('data-seq')}` === k;
    }, key, { timeout: 5000 });
    const active = () => page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
    await page.focus('[data-testid="feed-list"]');
    await page.keyboard.press('Home');
    await expectSelected('hv-02:1');
    await page.keyboard.press('j');
    await expectSelected('hv-01:3');
    await page.keyboard.press('ArrowDown');
    await expectSelected('hv-01:2');
    await page.keyboard.press('k');
    await expectSelected('hv-01:3');
    await page.keyboard.press('End');
    await expectSelected('hv-01:1');
    assert.equal(await page.getAttribute('[data-testid="feed-list"]', 'aria-activedescendant'), 'feed-row-3');
    assert.equal(await page.getAttribute('[data-testid="follow-toggle"]', 'aria-pressed'), 'false', 'moving the selection paused the list');
    await page.keyboard.press('Enter');
    assert.equal(await active(), 'event-detail');
    await page.keyboard.press('Escape');
    assert.equal(await active(), 'feed-list');
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => document.querySelector('.feed-row.selected') === null, undefined, { timeout: 5000 });
    assert.match(await page.textContent('[data-testid="event-detail"]') ?? '', /Select an event/);
    await page.keyboard.press('/');
    assert.equal(await active(), 'filter-text');
    await page.keyboard.press('Escape');
    assert.equal(await active(), 'feed-list');
    await page.keyboard.press('Space');
    await page.waitForSelector('[data-testid="follow-toggle"][aria-pressed="true"]', { timeout: 5000 });
  });

  it('filters by severity, verdict, agent, text and VM, and clears', async () => {
    await page.selectOption('[data-testid="filter-severity"]', 'high');
    await waitRows(() => document.querySelectorAll('[data-testid="feed-row"]').length === 2);
    assert.deepEqual(await page.$$eval('[data-testid="feed-row"]', (rs) => rs.map((r) => r.getAttribute('data-severity'))), ['high', 'critical']);
    await page.selectOption('[data-testid="filter-verdict"]', 'malicious');
    await waitRows(() => document.querySelectorAll('[data-testid="feed-row"]').length === 1);
    await page.click('[data-testid="filter-clear"]');
    await page.selectOption('[data-testid="filter-agent"]', 'hv-02');
    await waitRows(() => [...document.querySelectorAll('[data-testid="feed-row"]')].every((r) => r.getAttribute('data-agent') === 'hv-02'));
    await page.click('[data-testid="filter-clear"]');
    await page.fill('[data-testid="filter-text"]', '203.0.113.66');
    await page.press('[data-testid="filter-text"]', 'Enter');
    await waitRows(() => document.querySelectorAll('[data-testid="feed-row"]').length === 1);
    assert.deepEqual(await rowSeqs(), ['hv-01:2']);
    await page.fill('[data-testid="filter-text"]', '');
    await page.press('[data-testid="filter-text"]', 'Enter');
    await page.click('[data-testid="fleet-vm"][data-vm="vm-db-1"]');
    await waitRows(() => document.querySelectorAll('[data-testid="feed-row"]').length === 1);
    assert.equal(await page.getAttribute('[data-testid="fleet-vm"][data-vm="vm-db-1"]', 'aria-pressed'), 'true');
    assert.equal(await page.inputValue('[data-testid="filter-vm"]'), 'hv-01/vm-db-1');
    await page.click('[data-testid="fleet-vm"][data-vm="vm-db-1"]');
    await page.click('[data-testid="filter-clear"]');
    await waitRows(() => document.querySelectorAll('[data-testid="feed-row"]').length === 4);
  });

  it('paused, the list stays still and counts arrivals; following again shows them', async () => {
    await page.click('[data-testid="follow-toggle"]');
    await page.waitForSelector('[data-testid="follow-toggle"][aria-pressed="false"]', { timeout: 5000 });
    const before = await rowSeqs();
    shell.push({ type: 'events', events: [feedEvent(4, { title: 'arrived while paused' }), feedEvent(5, { title: 'this one too' })] });
    await page.waitForSelector('[data-testid="paused-count"]:has-text("+2 new")');
    assert.deepEqual(await rowSeqs(), before);
    await page.click('[data-testid="follow-toggle"]');
    await waitRows(() => document.querySelectorAll('[data-testid="feed-row"]').length === 6);
    assert.deepEqual((await rowSeqs()).slice(0, 2), ['hv-01:5', 'hv-01:4']);
  });

  it('an isolation past its expiry asks to be renewed; a VM\'s history shows hostile reasons and seized files as text', async () => {
    // Long past, whatever this machine's clock says.
    const since = '2020-01-01T00:00:00.000Z';
    shell.push({ type: 'vms', agentId: 'hv-01', full: false, removed: [],
      vms: [vm('vm-web-1', { state: 'isolated', memoryMiB: 512, isolation: { mode: 'honeypot', since, expiresAt: '2020-01-01T00:30:00.000Z' } })] });
    shell.push({ type: 'action', action: actionRecord(1, { kind: 'seize', phase: 'done', ok: true, state: 'seized', reason: `seized: ${HOSTILE}`,
      actor: { name: HOSTILE }, details: { captureId: 'req-000001', files: [
        { path: 'memory.elf', role: 'memory', size: 1024, sha256: 'a'.repeat(64), sha1: 'b'.repeat(40) },
        { path: `logs/${HOSTILE}.log`, role: 'log', size: 10, sha256: 'c'.repeat(64), sha1: 'd'.repeat(40) },
      ] } }) });
    const due = page.locator('[data-testid="contained-vm"][data-vm="vm-web-1"]');
    await due.locator('[data-testid="expiry"][data-expired="true"]').waitFor({ timeout: 5000 });
    assert.match(await page.textContent('[data-testid="contained-due"]') ?? '', /One isolation is past its expiry: renew or release it/);
    assert.match(await due.textContent() ?? '', /in the honeypot · expired/);

    await due.locator('[data-testid="act-renew"]').click();
    await page.waitForSelector('[data-testid="action-dialog"][data-kind="renew"]');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'action-expiry', 'focus on the new expiry');
    assert.match(await page.textContent('[data-testid="renewal-in-place"]') ?? '', /One action: nothing is done to its network/,
      'renewed in place by the agent: never released, never back on its network');
    await page.keyboard.press('Escape');
    await page.waitForSelector('[data-testid="action-dialog"]', { state: 'detached' });

    // An isolation without an expiry can be given one, from the same button.
    shell.push({ type: 'vms', agentId: 'hv-01', full: false, removed: [], vms: [vm('vm-db-1', { state: 'isolated', isolation: { mode: 'cut', since } })] });
    const open = page.locator('[data-testid="contained-vm"][data-vm="vm-db-1"] [data-testid="act-renew"]');
    await open.waitFor({ timeout: 5000 });
    assert.equal((await open.textContent())?.trim(), '↻ Set expiry…');

    await due.locator('.contained-name').click();
    const pane = page.locator('[data-testid="vm-detail"][data-vm="vm-web-1"]');
    await pane.waitFor({ timeout: 5000 });
    const entry = pane.locator('[data-testid="history-entry"][data-kind="seize"]');
    assert.equal(await entry.locator('[data-testid="history-actor"]').textContent(), HOSTILE);
    assert.equal(await entry.locator('[data-testid="history-reason"]').textContent(), `seized: ${HOSTILE}`);
    await entry.locator('summary').click();
    assert.deepEqual((await entry.locator('[data-testid="seized-file"]').allTextContents()).map((t) => t.includes('a'.repeat(64)) || t.includes('c'.repeat(64))), [true, true]);
    assert.ok((await entry.textContent())?.includes(`logs/${HOSTILE}.log`));
    assert.equal(await page.locator('img').count(), 0, 'no element was made from a string');
    await pane.locator('button.close').click();
  });

  it('drops a malformed frame, says so, and goes on', async () => {
    shell.sendRaw('{"type":"push","push":{"type":"events","events":[{"seq":"x"}]}}');
    shell.sendRaw('not json');
    shell.push({ type: 'events', events: [feedEvent(6)] });
    await page.waitForSelector('[data-testid="status-invalid"]:has-text("2 malformed")');
    await waitRows(() => document.querySelector('[data-testid="feed-row"]')?.getAttribute('data-seq') === '6');
  });

  it('when the shell drops the link it says so, reconnects, re-fetches the snapshot and shows each event once', async () => {
    const calls = shell.calls.length;
    shell.snapshot = { ...shell.snapshot, events: [...hostileEvents(), ...[4, 5, 6, 7].map((s) => feedEvent(s))] };
    shell.dropAll();
    await page.waitForSelector('[data-testid="link-banner"]');
    await page.waitForSelector('[data-testid="status-link"][data-phase="connected"]', { timeout: 15_000 });
    await waitRows(() => document.querySelector('[data-testid="feed-row"]')?.getAttribute('data-seq') === '7');
    assert.equal(shell.calls.length, calls + 1, 'one more snapshot');
    const seqs = await rowSeqs();
    assert.equal(new Set(seqs).size, seqs.length, `no row twice: ${seqs.join(' ')}`);
    assert.equal(await page.locator('[data-testid="link-banner"]').count(), 0);
    const probe = await page.evaluate(() => ({ ...window.__cordonProbe!, latency: window.__cordonProbe!.latency.count }));
    assert.equal(probe.duplicates, 0);
    assert.equal(probe.snapshots, 2);
    assert.equal(probe.received, 8, '4 in the first snapshot, 3 pushed, 1 new in the second snapshot');
    assert.ok(probe.overlap >= 3, 'the second snapshot overlapped what was already shown');
    assert.deepEqual(probe.lastSeq, { 'hv-01': 7, 'hv-02': 1 });
  });

  it('a shell that no longer knows the page is said so, and not hammered', async () => {
    shell.refuse = true;
    shell.dropAll();
    await page.waitForSelector('[data-testid="status-link"][data-phase="unauthorized"]', { timeout: 15_000 });
    assert.match(await page.textContent('[data-testid="link-banner"]') ?? '', /npm run serve/);
    shell.refuse = false;
  });

  it('takes its events in on a worker of its own origin', async () => {
    const workers = page.workers();
    assert.equal(workers.length, 1, 'one ingest worker');
    assert.ok(workers[0]!.url().startsWith(new URL(shell.url).origin + '/'), workers[0]!.url());
  });

  it('in Electron, relays window.cordon to the worker, which checks every push and result', async () => {
    const electron = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    const electronErrors: string[] = [];
    electron.on('pageerror', (e) => electronErrors.push(String(e)));
    const sockets = shell.connections;
    // As text: tsx would wrap the functions of an object literal in a helper the page does not have.
    const bridgeSnapshot = snapshot({ agents: [agentStatus('hv-01')], events: [feedEvent(1, { title: 'from the bridge' })], windowSize: 100 });
    await electron.addInitScript({ content: `(() => {
      const listeners = new Set();
      window.__electronCalls = 0;
      window.__electronPush = (push) => { for (const l of listeners) l(push); };
      window.cordon = {
        platform: 'electron',
        call: async () => { window.__electronCalls += 1; return ${JSON.stringify(bridgeSnapshot)}; },
        onPush: (l) => { listeners.add(l); return () => listeners.delete(l); },
      };
    })();` });
    await electron.goto(shell.url);
    await electron.waitForSelector('[data-testid="feed-row"][data-seq="1"]');
    assert.match(await electron.textContent('[data-testid="status-link"]') ?? '', /Cockpit core: connected/);
    await electron.evaluate(() => {
      window.__electronPush!({ type: 'events', events: [{ agentId: 'hv-01', seq: 'two' }] });
      window.__electronPush!({ type: 'events', events: [{ agentId: 'hv-01', seq: 2, receivedAt: 0, event: { id: 'x', time: '2026-11-23T10:00:00.002Z', agentId: 'hv-01',
        vmId: 'vm-web-1', severity: 'high', verdict: 'malicious', category: 'process', title: 'pushed over the bridge', sensor: { id: 's', kind: 'sim' } } }] });
    });
    await electron.waitForSelector('[data-testid="feed-row"][data-seq="2"]');
    await electron.waitForSelector('[data-testid="status-invalid"]:has-text("1 malformed")');
    assert.equal(await electron.evaluate(() => window.__electronCalls), 1, 'one snapshot, asked of window.cordon');
    assert.equal(shell.connections, sockets, 'no socket to the shell');
    assert.equal(electron.workers().length, 1);
    assert.deepEqual(electronErrors, []);
    await electron.close();
  });

  it('breaks no CSP rule and makes no request outside its origin', async () => {
    const origin = new URL(shell.url).origin;
    assert.ok(requests.length >= 3);
    assert.deepEqual(requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('data:')), []);
    assert.deepEqual(await page.evaluate(() => window.__csp), []);
    assert.deepEqual(errors.filter((e) => /Content Security Policy|Refused to/i.test(e)), []);
  });
});
