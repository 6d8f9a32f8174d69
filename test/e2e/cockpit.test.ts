// End to end in Debian's Chromium: `npm run serve`'s shell on the built-in lab, the real renderer. Events appear,
// filters work, hostile strings stay text, and the page makes no request outside its own origin.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { buildRenderer, launchChromium } from '../../bench/lib.ts';
import { startNodeProcess, tempDir, type RunningProcess } from '../helpers/processes.ts';

const HOSTILE = '<img src=x onerror=alert(1)>';

describe('the cockpit in Chromium on the built-in lab', () => {
  const dir = tempDir('e2e');
  let serve: RunningProcess;
  let browser: Browser;
  let page: Page;
  let origin = '';
  const requests: string[] = [];
  const sockets: string[] = [];
  const dialogs: string[] = [];
  const consoleErrors: string[] = [];

  before(async () => {
    buildRenderer();
    serve = await startNodeProcess('main/browser-shell/cli.ts', ['--json', '--data-dir', dir.path, '--lab-rate', '40', '--lab-vms', '8']);
    origin = new URL(String(serve.ready.url)).origin;
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    page = await context.newPage();
    page.on('request', (r) => requests.push(r.url()));
    page.on('websocket', (ws) => sockets.push(ws.url()));
    page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    await page.goto(String(serve.ready.loginUrl));
  });

  after(async () => {
    await browser?.close();
    await serve?.kill();
    dir.remove();
  });

  it('shows live threat events within seconds, with the lab agent connected', async () => {
    await page.waitForSelector('[data-testid="feed-row"]', { timeout: 30_000 });
    await page.waitForFunction(() => (window.__cordonProbe?.received ?? 0) > 20, undefined, { timeout: 30_000 });
    const before = await page.evaluate(() => window.__cordonProbe!.received);
    await page.waitForFunction((n) => window.__cordonProbe!.received > n, before, { timeout: 15_000 });
    const status = await page.textContent('[data-testid="status-bar"]');
    assert.match(status ?? '', /1\s*\/\s*1|connected/i, `status bar: ${status}`);
    const probe = await page.evaluate(() => ({ ...window.__cordonProbe, latency: undefined }));
    // (probe.duplicates may count pushes that overlap the snapshot on load: the store drops them by seq.)
    assert.equal(probe.missing, 0);
    assert.equal(probe.invalid, 0);
  });

  it('filters by severity, by verdict and by free text', async () => {
    await page.selectOption('[data-testid="filter-severity"]', 'critical');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('[data-testid="feed-row"]')];
      return rows.length > 0 && rows.every((r) => r.getAttribute('data-severity') === 'critical');
    }, undefined, { timeout: 30_000 });
    await page.selectOption('[data-testid="filter-severity"]', '');

    await page.selectOption('[data-testid="filter-verdict"]', 'malicious');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('[data-testid="feed-row"]')];
      return rows.length > 0 && rows.every((r) => r.getAttribute('data-verdict') === 'malicious');
    }, undefined, { timeout: 30_000 });
    await page.selectOption('[data-testid="filter-verdict"]', '');

    await page.fill('[data-testid="filter-text"]', '203.0.113.66');
    await page.press('[data-testid="filter-text"]', 'Enter');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('[data-testid="feed-row"]')];
      return rows.length > 0 && rows.every((r) => (r.textContent ?? '').length > 0);
    }, undefined, { timeout: 30_000 });
    // Every row left matches somewhere (title, process, command line, addresses, path): open one to see it.
    await page.click('[data-testid="feed-row"]');
    await page.keyboard.press('Enter');
    const detail = await page.textContent('[data-testid="event-detail"]');
    assert.match(detail ?? '', /203\.0\.113\.66/);
  });

  it('shows a hostile process name as text, never as markup', async () => {
    await page.fill('[data-testid="filter-text"]', 'onerror');
    await page.press('[data-testid="filter-text"]', 'Enter');
    await page.waitForSelector('[data-testid="feed-row"]', { timeout: 30_000 });
    const rowText = await page.textContent('[data-testid="feed-row"]');
    assert.ok(rowText?.includes(HOSTILE), `the row shows the literal string: ${rowText}`);
    await page.click('[data-testid="feed-row"]');
    await page.keyboard.press('Enter');
    const detail = await page.textContent('[data-testid="event-detail"]');
    assert.ok(detail?.includes(HOSTILE), 'the detail pane shows it as text too');
    const injected = await page.evaluate(() => [...document.querySelectorAll('img')].filter((i) => i.getAttribute('src') === 'x').length);
    assert.equal(injected, 0, 'no <img> was made from the string');
    assert.deepEqual(dialogs, [], 'no script ran');
    await page.fill('[data-testid="filter-text"]', '');
    await page.press('[data-testid="filter-text"]', 'Enter');
  });

  it('moves the selection with the keyboard', async () => {
    // The grid names its selected row in aria-activedescendant (feed-row-N, N counted from the newest).
    const active = (id: string) => page.waitForSelector(`[data-testid="feed-list"][aria-activedescendant="${id}"]`, { timeout: 10_000 });
    await page.focus('[data-testid="feed-list"]');
    // Pause, so rows stay put (selecting a row in an earlier step may have paused it already).
    if ((await page.getAttribute('[data-testid="feed-list"]', 'data-following')) === 'true') await page.keyboard.press('Space');
    await page.waitForSelector('[data-testid="feed-list"][data-following="false"]');
    await page.keyboard.press('Home');
    await active('feed-row-0');
    const newest = await page.getAttribute('#feed-row-0', 'data-seq');
    await page.keyboard.press('j');
    await active('feed-row-1');
    await page.keyboard.press('j');
    await active('feed-row-2');
    await page.keyboard.press('k');
    await active('feed-row-1');
    await page.keyboard.press('ArrowUp');
    await active('feed-row-0');
    assert.equal(await page.getAttribute('.feed-row.selected', 'data-seq'), newest, 'back on the same event');
    await page.keyboard.press('Space');
    await page.waitForSelector('[data-testid="feed-list"][data-following="true"]');
  });

  it('shows each event once', async () => {
    const keys = await page.evaluate(() => [...document.querySelectorAll('[data-testid="feed-row"]')].map((r) => `${r.getAttribute('data-agent')}#${r.getAttribute('data-seq')}`));
    assert.ok(keys.length > 5);
    assert.equal(new Set(keys).size, keys.length, 'no (agent, seq) twice on screen');
  });

  it('makes no request outside its own origin, and breaks no CSP rule', () => {
    assert.ok(requests.length > 0);
    const foreign = requests.filter((u) => !u.startsWith(origin + '/'));
    assert.deepEqual(foreign, [], 'every request stays on the shell');
    assert.ok(sockets.length > 0);
    assert.deepEqual(sockets.filter((u) => !u.startsWith(origin.replace('http', 'ws') + '/')), []);
    assert.deepEqual(consoleErrors.filter((e) => /Content Security Policy|Refused to/i.test(e)), []);
    assert.deepEqual(dialogs, []);
  });
});
