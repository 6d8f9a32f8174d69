// The journal view end to end in Debian's Chromium: `npm run serve`'s shell on the built-in lab, the real renderer,
// the real journal on disk. What the lab sends is found by VM and by kind, one VM's records draw on a timeline, a
// bad filter is named, "Verify now" verifies, and what a hostile agent wrote stays text.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { openLabPage, type LabPage } from './lab-page.ts';

const HOSTILE = '<img src=x onerror=alert(1)>';

describe('the journal view in Chromium on the built-in lab', () => {
  let lab: LabPage;
  let page: Page;

  before(async () => {
    lab = await openLabPage('e2e-journal', { vms: 6 });
    page = lab.page;
    await page.waitForFunction(() => (window.__cordonProbe?.received ?? 0) > 30, undefined, { timeout: 30_000 });
  });

  after(async () => {
    await lab?.close();
  });

  it('opens on the newest records, with the journal\'s size and key', async () => {
    await page.click('[data-testid="view-journal"]');
    await page.waitForSelector('[data-testid="journal-record"]', { timeout: 15_000 });
    const health = await page.textContent('[data-testid="journal-health"]');
    assert.match(health ?? '', /records/);
    assert.match(health ?? '', /key SHA256:/);
    assert.equal(await page.getAttribute('[data-testid="journal-verdict"]', 'data-status'), 'unverified');
  });

  it('finds one VM\'s events and draws them on its timeline', async () => {
    const vmId = await page.evaluate(() => document.querySelector('[data-testid="journal-record"][data-kind="event"]')?.getAttribute('data-vm') ?? '');
    assert.ok(vmId.length > 0, 'an event record names its VM');
    await page.fill('[data-testid="journal-vm"]', vmId);
    await page.check('[data-testid="journal-kind-event"]');
    await page.click('[data-testid="journal-search"]');
    await page.waitForFunction((vm) => {
      const rows = [...document.querySelectorAll('[data-testid="journal-record"]')];
      return rows.length > 0 && rows.every((r) => r.getAttribute('data-vm') === vm && r.getAttribute('data-kind') === 'event');
    }, vmId, { timeout: 15_000 });
    await page.waitForSelector('[data-testid="journal-timeline"] [data-testid="timeline-mark"]');
    // The VM's log lines, pulled from its agent, come beside the records and on the same axis.
    await page.waitForSelector('[data-testid="vm-logs"] [data-testid="vm-log"]', { timeout: 15_000 });
    const marks = await page.locator('[data-testid="timeline-mark"]').count();
    const rows = await page.locator('[data-testid="journal-record"]').count();
    const logLines = await page.locator('[data-testid="vm-log"]').count();
    assert.equal(marks, rows + logLines, 'a mark per record and per log line shown');
    // A mark opens its record, with the chain hash (the last one drawn of the events' lane is on top of the others).
    await page.locator('[data-testid="timeline-mark"][data-kind="event"]').last().click();
    await page.waitForSelector('[data-testid="journal-detail"]');
    assert.match((await page.textContent('[data-testid="journal-detail"]')) ?? '', /chain hash [0-9a-f]{64}/);
  });

  it('names a wrong filter instead of searching', async () => {
    await page.fill('[data-testid="journal-vm"]', 'vm 1; rm -rf /');
    await page.click('[data-testid="journal-search"]');
    await page.waitForSelector('[data-testid="journal-error"]');
    assert.match((await page.textContent('[data-testid="journal-error"]')) ?? '', /VM id/);
    assert.equal(await page.getAttribute('[data-testid="journal-vm"]', 'aria-invalid'), 'true');
  });

  it('verifies the journal on demand and says so', async () => {
    await page.click('[data-testid="journal-verify"]');
    await page.waitForFunction(() => ['verified', 'unsigned_tail', 'failed'].includes(document.querySelector('[data-testid="journal-verdict"]')?.getAttribute('data-status') ?? ''), undefined, { timeout: 60_000 });
    assert.notEqual(await page.getAttribute('[data-testid="journal-verdict"]', 'data-status'), 'failed', (await page.textContent('[data-testid="journal-verdict"]')) ?? '');
  });

  it('shows what a hostile scenario wrote as text, never as markup', async () => {
    // The lab's bind-shell story names its listener process `<img src=x onerror=alert(1)>`: search for it, retrying
    // until the story has run and its event is journaled.
    await page.fill('[data-testid="journal-vm"]', '');
    await page.uncheck('[data-testid="journal-kind-event"]');
    await page.fill('[data-testid="journal-text"]', 'onerror');
    const deadline = Date.now() + 60_000;
    for (;;) {
      await page.click('[data-testid="journal-search"]');
      await page.waitForFunction(() => document.querySelector('[data-testid="journal-search"]')?.textContent === 'Search');
      if ((await page.locator('[data-testid="journal-record"]').count()) > 0 || Date.now() > deadline) break;
      await page.waitForTimeout(1000);
    }
    await page.locator('[data-testid="journal-record"] button.journal-row').first().click();
    const detail = await page.textContent('[data-testid="journal-detail"]');
    assert.ok(detail?.includes(HOSTILE), `the record shows the literal string: ${detail?.slice(0, 300)}`);
    assert.equal(await page.evaluate(() => [...document.querySelectorAll('img')].filter((i) => i.getAttribute('src') === 'x').length), 0, 'no <img> was made from it');
    assert.deepEqual(lab.dialogs, [], 'no script ran');
    assert.deepEqual(lab.errors, []);
  });
});
