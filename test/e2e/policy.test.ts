// The policy view end to end in Debian's Chromium: `npm run serve`'s shell on the built-in lab (a real sim agent
// process that trusts the responder's key), the real renderer. With no policy the lab is an open finding; a policy
// that loosens the base cannot be pushed; the STIG baseline is signed and pushed and the lab turns compliant; its
// scripted malicious events are then answered by the agent on its own and the cockpit says so loudly; the .cklb
// parses; an exception's text written as markup stays text.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { openLabPage, type LabPage } from './lab-page.ts';

const HOSTILE = '<img src=x onerror=alert(1)>';

describe('the policy view in Chromium on the built-in lab', () => {
  let lab: LabPage;
  let page: Page;

  before(async () => {
    lab = await openLabPage('e2e-policy', { context: { acceptDownloads: true } });
    page = lab.page;
    await page.waitForFunction(() => (window.__cordonProbe?.received ?? 0) > 10, undefined, { timeout: 30_000 });
  });

  after(async () => {
    await lab?.close();
  });

  const labRow = '[data-testid="policy-agent"][data-agent="lab"]';

  it('opens with Alt+3: the lab enforces no policy, an open finding', async () => {
    await page.locator('body').press('Alt+3');
    await page.waitForSelector('[data-testid="policy-view"]');
    await page.waitForSelector(`${labRow}[data-status="open"]`, { timeout: 15_000 });
    const codes = await page.locator(`${labRow} [data-testid="policy-finding"]`).evaluateAll((els) => els.map((e) => e.getAttribute('data-code')));
    assert.ok(codes.includes('no_policy'), codes.join(', '));
    assert.match((await page.textContent('[data-testid="policy-signer"] summary')) ?? '', /Signs with key [0-9a-f]{16}/);
  });

  it('names what is wrong with a policy and will not push it', async () => {
    await page.fill('[data-testid="policy-text"]', '{ "id": "half');
    await page.waitForSelector('[data-testid="policy-check"][data-ok="false"] [data-testid="policy-problem"]');
    assert.match((await page.textContent('[data-testid="policy-problem"]')) ?? '', /not JSON/);
    const loose = {
      id: 'lax', version: 1, issuedAt: '2026-11-23T09:00:00Z', rules: [],
      deltas: [{ id: 'quiet-web', scope: { vmTags: ['web'] }, rules: [{ id: 'alert-only', match: { verdicts: ['malicious'] }, response: 'alert' }] }],
    };
    await page.fill('[data-testid="policy-text"]', JSON.stringify(loose, null, 2));
    await page.waitForFunction(() => /would loosen the base/.test(document.querySelector('[data-testid="policy-check"]')?.textContent ?? ''));
    await page.fill('[data-testid="policy-reason"]', 'trying');
    assert.equal(await page.isDisabled('[data-testid="policy-push"]'), true);
  });

  it('signs and pushes the STIG baseline: the lab turns compliant, then acts on its own and the cockpit says so', async () => {
    await page.click('[data-testid="policy-start-stig"]');
    await page.waitForSelector('[data-testid="policy-check"][data-ok="true"]');
    await page.fill('[data-testid="policy-reason"]', 'STIG SV-95141r1 baseline for the lab');
    await page.click('[data-testid="policy-push"]');
    await page.waitForSelector('[data-testid="policy-outcome"][data-agent="lab"][data-ok="true"]', { timeout: 15_000 });
    assert.match((await page.textContent('[data-testid="policy-outcome"][data-agent="lab"]')) ?? '', /enforces stig-baseline v1/);
    await page.waitForSelector(`${labRow}[data-status="not_a_finding"]`, { timeout: 15_000 });
    assert.match((await page.textContent(labRow)) ?? '', /stig-baseline v1/);

    // The lab's scripted attacks include malicious events: the agent terminates those VMs with nobody clicking.
    await page.waitForSelector('[data-testid="auto-alert"] [data-testid="auto-notice"]', { timeout: 60_000 });
    const notice = (await page.textContent('[data-testid="auto-notice"]')) ?? '';
    assert.match(notice, /Automatic response/);
    assert.match(notice, /Policy stig-baseline v1 \(rule terminate-malicious\) terminated .* on lab after event .*: terminate done\./);
    const vmId = await page.getAttribute('[data-testid="auto-notice"]', 'data-vm');
    await page.locator('[data-testid="auto-dismiss"]').first().click();
    await page.waitForFunction((vm) => ![...document.querySelectorAll('[data-testid="auto-notice"]')].some((n) => n.getAttribute('data-vm') === vm), vmId);
  });

  it('exports the lab\'s verdict as a .cklb checklist that parses', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(`${labRow} [data-testid="policy-cklb"]`)]);
    assert.match(download.suggestedFilename(), /\.cklb$/);
    const cklb = JSON.parse(readFileSync((await download.path())!, 'utf8')) as { stigs: { rules: { rule_id_src: string; status: string; finding_details: string }[] }[]; target_data: { host_name: string } };
    const rule = cklb.stigs[0]!.rules[0]!;
    assert.equal(rule.rule_id_src, 'SV-95141r1_rule');
    assert.equal(rule.status, 'not_a_finding');
    assert.match(rule.finding_details, /stig-baseline/);
  });

  it('shows an exception\'s justification as text, however it was written', async () => {
    const held = {
      id: 'stig-baseline', version: 2, issuedAt: new Date().toISOString(),
      rules: [{ id: 'terminate-malicious', match: { verdicts: ['malicious'] }, response: 'terminate' }],
      deltas: [{ id: 'malware-lab', scope: { vmTags: ['detonation'] }, rules: [{ id: 'hold', match: { verdicts: ['malicious'] }, response: 'forensic-hold', exception: 'ex-1' }] }],
      exceptions: [{ id: 'ex-1', justification: { kind: 'test-system', text: `Detonation lab ${HOSTILE}` }, approver: `ISSM ${HOSTILE}`, scope: { vmTags: ['detonation'] }, expiresAt: '2099-01-01T00:00:00Z' }],
    };
    await page.fill('[data-testid="policy-text"]', JSON.stringify(held, null, 2));
    await page.waitForSelector('[data-testid="policy-check"][data-ok="true"]');
    await page.fill('[data-testid="policy-reason"]', 'malware lab hold');
    await page.click('[data-testid="policy-push"]');
    await page.waitForSelector('[data-testid="policy-exception"]', { timeout: 15_000 });
    const row = (await page.textContent('[data-testid="policy-exception"]')) ?? '';
    assert.ok(row.includes(`Detonation lab ${HOSTILE}`), row);
    assert.ok(row.includes(`ISSM ${HOSTILE}`));
    assert.equal(await page.locator('[data-testid="policy-view"] img').count(), 0, 'no markup made from it');
    await page.waitForSelector(`${labRow}[data-status="not_a_finding"]`);
    assert.deepEqual(lab.dialogs, []);
    assert.deepEqual(lab.errors, []);
  });
});
