// Acting on VMs end to end in Debian's Chromium: `npm run serve`'s shell on the built-in sim lab, the real renderer,
// hub and agent. A responder freezes and resumes a VM, isolates one and reads the agent's proof, lets it go from the
// contained list, terminates with a reason (the dialog's focus already in the field) and finds it in the history,
// and seizes before terminating; a button that cannot run says why. Everything is read from the DOM.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { buildRenderer, launchChromium } from '../../bench/lib.ts';
import { startNodeProcess, tempDir, type RunningProcess } from '../helpers/processes.ts';

const RESPONDER = 'e2e-responder';
/** Generous: the lab runs beside other tests on two cores. Never an assertion about speed. */
const WAIT = { timeout: 30_000 };

describe('acting on VMs in Chromium on the built-in lab', () => {
  const dir = tempDir('e2e-actions');
  let serve: RunningProcess;
  let browser: Browser;
  let page: Page;
  let origin = '';
  const requests: string[] = [];
  const dialogs: string[] = [];
  const errors: string[] = [];
  /** Three VMs the sim never recycles (only its build runners come and go). */
  let a = '';
  let b = '';
  let c = '';

  const row = (vmId: string) => `[data-testid="fleet-vm-item"][data-vm="${vmId}"]`;
  const contained = (vmId: string) => `[data-testid="contained-vm"][data-vm="${vmId}"]`;
  const pane = (vmId: string) => `[data-testid="vm-detail"][data-vm="${vmId}"]`;
  const activeTestId = () => page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null);
  /** Shows the VM in the detail pane (clicking it in the fleet also filters the feed to it). */
  const pick = async (vmId: string) => {
    await page.click(`${row(vmId)} [data-testid="fleet-vm"]`);
    await page.waitForSelector(pane(vmId), WAIT);
  };

  before(async () => {
    buildRenderer();
    serve = await startNodeProcess('main/browser-shell/cli.ts', ['--json', '--data-dir', dir.path, '--lab-rate', '40', '--lab-vms', '8', '--responder', RESPONDER]);
    origin = new URL(String(serve.ready.url)).origin;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on('request', (r) => requests.push(r.url()));
    page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(String(serve.ready.loginUrl));
    await page.waitForSelector('[data-testid="fleet-vm-item"][data-state="running"] [data-testid="act-freeze"]', WAIT);
    // Wait until the agent has said which actions its driver offers (the buttons read it).
    await page.waitForSelector('[data-testid="feed-row"]', WAIT);
    const ids = await page.$$eval('[data-testid="fleet-vm-item"][data-state="running"]', (items) => items
      .filter((i) => !(i.querySelector('.vm-name')?.textContent ?? '').startsWith('build'))
      .map((i) => i.getAttribute('data-vm')!));
    assert.ok(ids.length >= 3, `three steady VMs in the lab: ${ids.join(' ')}`);
    [a, b, c] = ids as [string, string, string];
  });

  after(async () => {
    await browser?.close();
    await serve?.kill();
    dir.remove();
  });

  it('a button the VM\'s state does not allow is unavailable, and says why', async () => {
    const resume = page.locator(`${row(a)} [data-testid="act-resume"]`);
    assert.equal(await resume.getAttribute('aria-disabled'), 'true');
    assert.match(await resume.getAttribute('title') ?? '', /not frozen: there is nothing to resume/);
    const why = await resume.getAttribute('aria-describedby');
    assert.ok(why !== null, 'a screen reader is told why');
    assert.match(await page.locator(`[id="${why}"]`).textContent() ?? '', /is running, not frozen: there is nothing to resume/);
    // Playwright, like a screen reader, treats aria-disabled as disabled: force the click a mouse would make.
    await resume.click({ force: true });
    assert.equal(await page.locator('[data-testid="action-dialog"]').count(), 0);
    assert.equal(await page.getAttribute(row(a), 'data-state'), 'running', 'a click on it does nothing');
    assert.match(await page.locator(`${row(a)} [data-testid="act-freeze"]`).getAttribute('title') ?? '', /Shift\+F/, 'an available one names its key');
  });

  it('one click freezes a VM: its badge turns frozen, and the contained list shows it with a one-click resume', async () => {
    await page.click(`${row(a)} [data-testid="act-freeze"]`);
    await page.waitForSelector(`${row(a)}[data-state="frozen"] [data-testid="vm-state"][data-state="frozen"]`, WAIT);
    await page.waitForSelector(`${row(a)} [data-testid="vm-activity"][data-activity="done"][data-kind="freeze"]`, WAIT);
    await page.waitForSelector(`${contained(a)}[data-state="frozen"]`, WAIT);
    assert.equal(await page.locator(`${contained(a)} [data-testid="act-release"]`).count(), 0, 'not isolated: nothing to release');
    await page.click(`${contained(a)} [data-testid="act-resume"]`);
    await page.waitForSelector(`${row(a)}[data-state="running"]`, WAIT);
    await page.waitForSelector(contained(a), { state: 'detached', ...WAIT });
  });

  it('isolating shows the agent\'s proof, check by check; the contained list counts down its expiry and releases it in one click', async () => {
    await pick(b);
    await page.click(`${pane(b)} [data-testid="act-isolate"]`);
    await page.waitForSelector('[data-testid="action-dialog"][data-kind="isolate"]', WAIT);
    assert.equal(await activeTestId(), 'mode-cut', 'focus starts on the choice of how');
    await page.selectOption('[data-testid="action-expiry"]', '15');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid="action-dialog"]', { state: 'detached', ...WAIT });
    await page.waitForSelector(`${pane(b)}[data-state="isolated"]`, WAIT);
    await page.waitForSelector(`${pane(b)} [data-testid="isolation-proof"] [data-testid="proof-check"]`, WAIT);
    const checks = await page.$$eval(`${pane(b)} [data-testid="isolation-proof"] [data-testid="proof-check"]`, (els) => els.map((e) => ({ ok: e.getAttribute('data-ok'), text: e.textContent ?? '' })));
    assert.ok(checks.length >= 3, `link state, bridge membership, a probe from outside: ${JSON.stringify(checks)}`);
    assert.ok(checks.every((ch) => ch.ok === 'true'));
    assert.ok(checks.some((ch) => /link-state:eth0/.test(ch.text)) && checks.some((ch) => /probe-from-outside/.test(ch.text)));
    assert.ok(checks.every((ch) => /Simulated:/.test(ch.text)), 'the sim says its checks were modelled');
    assert.equal(await page.getAttribute(`${pane(b)} [data-testid="isolation-proof"]`, 'data-ok'), 'true');

    await page.waitForSelector(`${contained(b)}[data-state="isolated"] [data-testid="isolation-chip"][data-mode="cut"] [data-testid="expiry"][data-expired="false"]`, WAIT);
    assert.match(await page.textContent(`${contained(b)} [data-testid="expiry"]`) ?? '', /renew in 1[45] min/);
    assert.equal(await page.getAttribute(`${contained(b)} [data-testid="act-renew"]`, 'aria-disabled'), null, 'it can be renewed');

    // Renewed in place: one isolate in the same mode with the new expiry, never a release; isolated since the same time.
    const since = await page.getAttribute(`${pane(b)} [data-testid="isolation-chip"]`, 'title');
    await page.click(`${contained(b)} [data-testid="act-renew"]`);
    await page.waitForSelector('[data-testid="action-dialog"][data-kind="renew"]', WAIT);
    await page.selectOption('[data-testid="action-expiry"]', '240');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid="action-dialog"]', { state: 'detached', ...WAIT });
    await page.waitForFunction((sel) => /renew in [34] h/.test(document.querySelector(sel)?.textContent ?? ''), `${contained(b)} [data-testid="expiry"]`, WAIT);
    assert.equal(await page.getAttribute(`${pane(b)}`, 'data-state'), 'isolated');
    assert.equal(await page.getAttribute(`${pane(b)} [data-testid="isolation-chip"]`, 'title'), since, 'isolated since the first isolate');
    await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 2, `${pane(b)} [data-testid="history-entry"]`, WAIT);
    const renewed = await page.$$eval(`${pane(b)} [data-testid="history-entry"]`, (els) => els.map((e) => `${e.getAttribute('data-kind')}:${e.getAttribute('data-phase')}`));
    assert.deepEqual(renewed, ['isolate:done', 'isolate:done'], 'the renewal is one isolate: no freeze, release or resume');

    await page.click(`${contained(b)} [data-testid="act-release"]`);
    await page.waitForSelector(`${pane(b)}[data-state="running"]`, WAIT);
    await page.waitForSelector(contained(b), { state: 'detached', ...WAIT });
    const entries = await page.$$eval(`${pane(b)} [data-testid="history-entry"]`, (els) => els.map((e) => `${e.getAttribute('data-kind')}:${e.getAttribute('data-phase')}`));
    assert.deepEqual(entries, ['release:done', 'isolate:done', 'isolate:done'], 'newest first');
  });

  it('Esc closes a dialog without acting, and focus goes back where it was', async () => {
    await page.focus(`${pane(b)} [data-testid="act-seize"]`);
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid="action-dialog"][data-kind="seize"]', WAIT);
    assert.equal(await page.getAttribute('[data-testid="action-dialog"]', 'role'), 'dialog');
    assert.equal(await page.getAttribute('[data-testid="action-dialog"]', 'aria-modal'), 'true');
    assert.equal(await activeTestId(), 'action-reason', 'focus is in the reason field');
    await page.keyboard.press('Escape');
    await page.waitForSelector('[data-testid="action-dialog"]', { state: 'detached', ...WAIT });
    assert.equal(await activeTestId(), 'act-seize', 'back on the button that opened it');
    assert.equal(await page.getAttribute(pane(b), 'data-state'), 'running', 'nothing was seized');
  });

  it('terminate asks once for a reason, focus already there; the VM ends terminated, with the actor and reason in its history', async () => {
    await pick(a);
    // The action keys act on the VM in the detail pane, from wherever the focus is (here, the fleet's VM button).
    await page.keyboard.press('Shift+T');
    await page.waitForSelector('[data-testid="action-dialog"][data-kind="terminate"]', WAIT);
    assert.equal(await activeTestId(), 'action-reason', 'focus is in the reason field');
    // The order of volatility: what is lost, and how far back what the cockpit saw reaches.
    assert.match(await page.textContent('[data-testid="lost-memory"]') ?? '', /Memory: [\d,]+ MiB/);
    await page.waitForSelector('[data-testid="lost-window"]', WAIT);
    assert.match(await page.textContent('[data-testid="lost-window"]') ?? '', /Seen in the last .* of events this cockpit holds/);
    assert.match(await page.textContent('[data-testid="what-is-lost"]') ?? '', /Processes: (\d+ seen|none seen)/);

    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid="action-error"]', WAIT);
    assert.match(await page.textContent('[data-testid="action-error"]') ?? '', /Give a reason/);
    assert.equal(await page.getAttribute(row(a), 'data-state'), 'running', 'no reason, no terminate');

    await page.keyboard.type('Cryptominer beaconing to <b>203.0.113.7</b>');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid="action-dialog"]', { state: 'detached', ...WAIT });
    assert.equal(await activeTestId(), 'fleet-vm', 'focus is back where it was');
    await page.waitForSelector(`${row(a)}[data-state="terminated"]`, WAIT);
    const entry = page.locator(`${pane(a)} [data-testid="history-entry"][data-kind="terminate"][data-phase="done"]`);
    await entry.waitFor(WAIT);
    assert.equal(await entry.locator('[data-testid="history-actor"]').textContent(), RESPONDER);
    assert.equal(await entry.locator('[data-testid="history-reason"]').textContent(), 'Cryptominer beaconing to <b>203.0.113.7</b>', 'the reason, as text');
    assert.equal(await page.locator(`${pane(a)} b`).count(), 0, 'never as markup');

    const freeze = page.locator(`${pane(a)} [data-testid="act-freeze"]`);
    assert.equal(await freeze.getAttribute('aria-disabled'), 'true');
    assert.match(await page.locator(`[id="${await freeze.getAttribute('aria-describedby')}"]`).textContent() ?? '', /is terminated: nothing more can run in it/);
  });

  it('"freeze and seize first" keeps the evidence: the seize runs, then the terminate, and the seized files carry their SHA-256', async () => {
    await pick(c);
    await page.click(`${pane(c)} [data-testid="act-terminate"]`);
    await page.waitForSelector('[data-testid="action-dialog"][data-kind="terminate"]', WAIT);
    await page.keyboard.type('Keep the memory of the dropper for the case');
    await page.keyboard.press('Shift+Enter');
    await page.waitForSelector('[data-testid="action-dialog"]', { state: 'detached', ...WAIT });
    await page.waitForSelector(`${pane(c)}[data-state="terminated"]`, { timeout: 60_000 });
    await page.waitForSelector(`${pane(c)} [data-testid="history-entry"][data-kind="terminate"][data-phase="done"]`, WAIT);
    const kinds = await page.$$eval(`${pane(c)} [data-testid="history-entry"]`, (els) => els.map((e) => `${e.getAttribute('data-kind')}:${e.getAttribute('data-phase')}`));
    assert.deepEqual(kinds, ['terminate:done', 'seize:done'], 'seized first, then terminated');
    const seize = page.locator(`${pane(c)} [data-testid="history-entry"][data-kind="seize"]`);
    assert.equal(await seize.locator('[data-testid="history-reason"]').textContent(), 'Keep the memory of the dropper for the case', 'the same reason');
    await seize.locator('summary').click();
    const files = await seize.locator('[data-testid="seized-file"]').allTextContents();
    assert.ok(files.length >= 2, `memory, disk, … : ${files.join(' | ')}`);
    assert.ok(files.every((f) => /[0-9a-f]{64}/.test(f)), 'each with its SHA-256');
  });

  it('makes no request outside its own origin, and no page error', () => {
    assert.deepEqual(requests.filter((u) => !u.startsWith(origin + '/') && !u.startsWith('data:')), []);
    assert.deepEqual(errors.filter((e) => /Content Security Policy|Refused to|Error/i.test(e)), []);
    assert.deepEqual(dialogs, [], 'no browser dialog');
  });
});
