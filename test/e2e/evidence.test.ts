// The evidence view end to end in Debian's Chromium: `npm run serve`'s shell on the built-in lab, the real renderer.
// Alt+5 opens it with the responder's key fingerprint (and the warning that it is a plain file here); a simulated VM
// seized from its pane appears as a capture held by the agent; it is pulled (progress shown), sealed from the form,
// handed over, verified and exported to a folder typed as a path; a reason written as markup stays text.
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { openLabPage, type LabPage } from './lab-page.ts';

const WAIT = { timeout: 30_000 };
const HOSTILE = 'Dropper <img src=x onerror=alert(1)> found';

describe('the evidence view in Chromium on the built-in lab', () => {
  let lab: LabPage;
  let page: Page;
  let vmId = '';

  before(async () => {
    lab = await openLabPage('e2e-evidence', { vms: 6, rate: 20 });
    page = lab.page;
    await page.waitForSelector('[data-testid="fleet-vm-item"][data-state="running"] [data-testid="act-freeze"]', WAIT);
    vmId = await page.$$eval('[data-testid="fleet-vm-item"][data-state="running"]', (items) => items
      .filter((i) => !(i.querySelector('.vm-name')?.textContent ?? '').startsWith('build'))
      .map((i) => i.getAttribute('data-vm')!)[0]!);
  });

  after(async () => {
    await lab?.close();
  });

  it('opens with Alt+5 and shows the responder\'s key fingerprint, and that it is a plain file here', async () => {
    await page.locator('body').press('Alt+5');
    await page.waitForSelector('[data-testid="evidence-view"]', WAIT);
    assert.match(await page.textContent('[data-testid="identity-fingerprint"]') ?? '', /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.match(await page.textContent('[data-testid="identity-warning"]') ?? '', /plain file/);
    await page.waitForSelector('[data-testid="evidence-no-captures"]', WAIT);
  });

  it('a VM seized from its pane is listed, pulled with progress, sealed, handed over, verified and exported', async () => {
    await page.locator('body').press('Alt+1');
    await page.click(`[data-testid="fleet-vm-item"][data-vm="${vmId}"] [data-testid="fleet-vm"]`);
    await page.click(`[data-testid="vm-detail"][data-vm="${vmId}"] [data-testid="act-seize"]`);
    await page.waitForSelector('[data-testid="action-dialog"][data-kind="seize"]', WAIT);
    await page.keyboard.type(HOSTILE);
    await page.fill('[data-testid="action-case"]', 'CASE-E2E-5');
    await page.click('[data-testid="action-confirm"]');
    await page.waitForSelector(`[data-testid="vm-detail"][data-vm="${vmId}"][data-state="seized"]`, { timeout: 60_000 });

    await page.locator('body').press('Alt+5');
    await page.click('[data-testid="evidence-refresh"]');
    const row = page.locator('[data-testid="evidence-capture"]').first();
    await row.waitFor(WAIT);
    assert.equal(await row.getAttribute('data-pulled'), 'no');
    assert.ok((await row.textContent())?.includes(HOSTILE), 'the reason is shown as the text it is');
    assert.equal(await page.locator('[data-testid="evidence-view"] img').count(), 0, 'no markup from the reason');

    await row.locator('[data-testid="evidence-pull"]').click();
    await page.waitForSelector('[data-testid="evidence-capture"][data-pulled="yes"]', WAIT);
    await page.click('[data-testid="evidence-seal-open"]');
    await page.waitForSelector('[data-testid="evidence-seal-form"]', WAIT);
    assert.equal(await page.inputValue('[data-testid="seal-case"]'), 'CASE-E2E-5', 'the case id from the seize');
    await page.fill('[data-testid="seal-agency"]', 'Training unit');
    await page.fill('[data-testid="seal-place"]', 'Lab bench 3');
    await page.click('[data-testid="seal-submit"]');
    const card = page.locator('[data-testid="evidence-package"]').first();
    await card.waitFor(WAIT);
    assert.equal(await card.locator('[data-testid="evidence-custody"] li').count(), 1);

    await card.locator('[data-testid="handover-open"]').click();
    await page.fill('[data-testid="handover-from-name"]', 'Dana Scully');
    await page.fill('[data-testid="handover-from-role"]', 'responder');
    await page.fill('[data-testid="handover-to-name"]', 'Fox Mulder');
    await page.fill('[data-testid="handover-to-role"]', 'case officer');
    await page.fill('[data-testid="handover-location"]', 'Lab bench 3');
    await page.fill('[data-testid="handover-storage"]', 'Locker 7');
    await page.fill('[data-testid="handover-reason"]', 'Analysis');
    await page.click('[data-testid="handover-submit"]');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="evidence-custody"] li').length === 2, undefined, WAIT);

    await page.locator('[data-testid="evidence-package"]').first().locator('[data-testid="package-verify"]').click();
    await page.waitForSelector('[data-testid="verify-result"][data-ok="true"]', WAIT);
    assert.match(await page.textContent('[data-testid="verify-result"]') ?? '', /match the manifest, the signatures and the chain of custody hold/);

    const usb = join(lab.dir, 'usb');
    mkdirSync(usb);
    await page.fill('[data-testid="export-destination"]', usb);
    await page.click('[data-testid="export-submit"]');
    await page.waitForSelector('[data-testid="export-result"]', WAIT);
    assert.match(await page.textContent('[data-testid="export-result"]') ?? '', /Exported to .* read back/);
    const packageId = await page.locator('[data-testid="evidence-package"]').first().getAttribute('data-package');
    assert.ok(existsSync(join(usb, packageId!, 'VERIFY.txt')));

    // Sanitisation waits for a terminated VM: the agent's refusal is shown, in its words.
    await page.fill('[data-testid="sanitise-reason"]', 'Handed over');
    await page.click('[data-testid="sanitise-submit"]');
    await page.click('[data-testid="sanitise-submit"]');
    await page.waitForSelector('[data-testid="package-error"]', WAIT);
    assert.match(await page.textContent('[data-testid="package-error"]') ?? '', /terminate it first/);
  });

  it('shows no page error and no dialog', () => {
    assert.deepEqual(lab.errors, []);
    assert.deepEqual(lab.dialogs, []);
  });
});
