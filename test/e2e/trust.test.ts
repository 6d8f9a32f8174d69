// Trust end to end in Debian's Chromium (issue 8): a real agent serving TLS with two principals, two cockpits (the
// browser shell, each with its own token) and their real renderers. Each responder compares the fingerprint and
// trusts it; the lead's seize waits until the responder approves it in their own cockpit; the responder's seize
// button says which role it needs; and when the agent comes back with another key, the cockpit refuses it with a
// warning and no way to connect anyway.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { buildRenderer, launchChromium } from '../../bench/lib.ts';
import { freePort, startNodeProcess, tempDir, type RunningProcess } from '../helpers/processes.ts';

const WAIT = { timeout: 30_000 };
const AGENT_ID = 'trust-agent';
const TOKENS = { lead: 'e2e-lead-token-0123456789abcdef', responder: 'e2e-responder-token-0123456789ab' };
const sha256 = (t: string) => createHash('sha256').update(t).digest('hex');

describe('TLS pinning, roles and the two-person rule in Chromium', () => {
  const dir = tempDir('e2e-trust');
  let port = 0;
  let agent: RunningProcess | undefined;
  const shells: RunningProcess[] = [];
  let browser: Browser;
  const pages: Record<'lead' | 'responder', Page> = {} as never;
  const errors: string[] = [];
  let vmId = '';

  const agentArgs = (tlsDir: string) => ['--driver', 'sim', '--listen', `127.0.0.1:${port}`, '--tls-dir', tlsDir, '--access', join(dir.path, 'access.json'),
    '--data-dir', join(dir.path, 'agent'), '--agent-id', AGENT_ID, '--seed', '21', '--vms', '4', '--rate', '10', '--no-logs'];
  const agentRow = '[data-testid="fleet-agent"]';
  const row = (id: string) => `[data-testid="fleet-vm-item"][data-vm="${id}"]`;

  before(async () => {
    buildRenderer();
    port = await freePort();
    writeFileSync(join(dir.path, 'access.json'), JSON.stringify({ principals: [
      { name: 'lena', role: 'lead', tokenSha256: sha256(TOKENS.lead) },
      { name: 'rui', role: 'responder', tokenSha256: sha256(TOKENS.responder) },
    ] }));
    agent = await startNodeProcess('agent/cli.ts', agentArgs(join(dir.path, 'tls-1')));
    assert.match(String(agent.ready.url), /^wss:/);
    browser = await launchChromium();
    for (const who of ['lead', 'responder'] as const) {
      const shellDir = join(dir.path, `shell-${who}`);
      mkdirSync(shellDir, { recursive: true, mode: 0o700 });
      const tokenFile = join(shellDir, 'token');
      writeFileSync(tokenFile, `${TOKENS[who]}\n`, { mode: 0o600 });
      writeFileSync(join(shellDir, 'settings.json'), JSON.stringify({ agents: [{ agentId: AGENT_ID, label: 'TLS host', url: String(agent.ready.url), tokenFile }] }), { mode: 0o600 });
      const shell = await startNodeProcess('main/browser-shell/cli.ts', ['--json', '--data-dir', shellDir, '--responder', who === 'lead' ? 'Lena Lead' : 'Rui Responder']);
      shells.push(shell);
      const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
      page.on('console', (m) => { if (m.type() === 'error') errors.push(`${who}: ${m.text()}`); });
      page.on('pageerror', (e) => errors.push(`${who}: ${String(e)}`));
      await page.goto(String(shell.ready.loginUrl));
      pages[who] = page;
    }
  });

  after(async () => {
    await browser?.close();
    for (const s of shells) await s.kill();
    await agent?.kill();
    dir.remove();
  });

  it('an agent never seen is not trusted: its fingerprint is shown, and trusting needs the responder to say they compared it', async () => {
    for (const who of ['lead', 'responder'] as const) {
      const page = pages[who];
      await page.waitForSelector('[data-testid="trust-new"]', WAIT);
      assert.equal(await page.getAttribute(`${agentRow} .link-state`, 'class').then((c) => c?.includes('link-bad')), true);
      assert.equal((await page.textContent('[data-testid="trust-presented"]'))?.trim(), agent!.ready.fingerprint, 'the fingerprint the agent printed');
      assert.equal(await page.isDisabled('[data-testid="trust-accept"]'), true, 'not before comparing');
      assert.equal(await page.locator('[data-testid="fleet-vm-item"]').count(), 0, 'nothing from the agent before it is trusted');
      await page.check('[data-testid="trust-compared"]');
      await page.click('[data-testid="trust-accept"]');
      await page.waitForSelector('[data-testid="fleet-vm-item"][data-state="running"]', WAIT);
      const settings = JSON.parse(readFileSync(join(dir.path, `shell-${who}`, 'settings.json'), 'utf8')) as { agents: { fingerprint?: string }[] };
      assert.equal(settings.agents[0]!.fingerprint, agent!.ready.fingerprint, 'the pin is kept in the settings');
    }
    assert.match(await pages.lead.textContent('[data-testid="agent-access"]') ?? '', /you: lena \(lead\).*two-person: seize, sanitise/);
    assert.match(await pages.responder.textContent('[data-testid="agent-access"]') ?? '', /you: rui \(responder\)/);
  });

  it('a responder\'s seize button says it needs the lead role', async () => {
    vmId = (await pages.lead.getAttribute('[data-testid="fleet-vm-item"][data-state="running"]', 'data-vm'))!;
    const seize = pages.responder.locator(`${row(vmId)} [data-testid="act-seize"]`);
    await seize.waitFor(WAIT);
    assert.equal(await seize.getAttribute('aria-disabled'), 'true');
    assert.match(await seize.getAttribute('title') ?? '', /Seize needs the lead role on TLS host; you are rui \(responder\)/);
    const freeze = pages.responder.locator(`${row(vmId)} [data-testid="act-freeze"]`);
    assert.notEqual(await freeze.getAttribute('aria-disabled'), 'true', 'a responder may freeze');
    // Setting the policy is a lead's too: the push stays disabled and says so.
    const page = pages.responder;
    await page.locator('body').press('Alt+3');
    await page.click('[data-testid="policy-start-stig"]');
    await page.waitForSelector('[data-testid="policy-check"][data-ok="true"]', WAIT);
    await page.fill('[data-testid="policy-reason"]', 'baseline');
    assert.equal(await page.isDisabled('[data-testid="policy-push"]'), true);
    assert.match(await page.textContent('[data-testid="policy-push-why-not"]') ?? '', /Setting the policy needs the lead role; on TLS host you are rui \(responder\)/);
    await page.locator('body').press('Alt+1');
  });

  it('the lead\'s seize waits for the responder, who approves it in their own cockpit; then it runs', async () => {
    const lead = pages.lead;
    await lead.click(`${row(vmId)} [data-testid="act-seize"]`);
    await lead.waitForSelector('[data-testid="action-dialog"][data-kind="seize"]', WAIT);
    await lead.keyboard.type('Escape attempt seen in the feed');
    await lead.keyboard.press('Enter');
    await lead.waitForSelector('[data-testid="action-dialog"]', { state: 'detached', ...WAIT });
    await lead.waitForSelector('[data-testid="approval"] [data-testid="approval-withdraw"]', WAIT);
    assert.match(await lead.textContent(`${row(vmId)} [data-testid="vm-activity"]`) ?? '', /waiting for a second person's approval/);
    assert.equal(await lead.getAttribute(row(vmId), 'data-state'), 'running', 'nothing runs before the approval');

    const responder = pages.responder;
    await responder.waitForSelector('[data-testid="approval"]', WAIT);
    assert.match(await responder.textContent('[data-testid="approval"]') ?? '', /Seize.*asked by lena \(lead\).*Escape attempt seen in the feed/s);
    assert.equal(await responder.isDisabled('[data-testid="approval-approve"]'), true, 'a reason first');
    await responder.fill('[data-testid="approval-reason"]', 'Confirmed: proportionate');
    await responder.click('[data-testid="approval-approve"]');
    await lead.waitForSelector(`${row(vmId)}[data-state="seized"]`, { timeout: 60_000 });
    await lead.waitForSelector('[data-testid="approvals"]', { state: 'detached', ...WAIT });
    await responder.waitForSelector('[data-testid="approvals"]', { state: 'detached', ...WAIT });
    const journal = readFileSync(join(dir.path, 'agent', 'action-journal.jsonl'), 'utf8');
    assert.match(journal, /"kind":"seize".*"requestedBy":\{"name":"lena","role":"lead"\}.*"approval":\{"approvedBy":\{"name":"rui","role":"responder"\}/);
  });

  it('an agent back with another key is refused with a warning, both fingerprints, and no way to connect but removing the pin', async () => {
    const before = agent!.ready.fingerprint;
    await agent!.kill();
    agent = await startNodeProcess('agent/cli.ts', agentArgs(join(dir.path, 'tls-2')));
    assert.notEqual(agent.ready.fingerprint, before);
    const lead = pages.lead;
    await lead.waitForSelector('[data-testid="trust-changed"]', { timeout: 60_000 });
    const text = await lead.textContent('[data-testid="trust-changed"]') ?? '';
    assert.match(text, /Certificate changed: not connecting/);
    assert.ok(text.includes(String(before)) && text.includes(String(agent.ready.fingerprint)), 'both fingerprints shown');
    assert.equal(await lead.locator('[data-testid="trust-accept"]').count(), 0, 'no button that trusts the new key from here');
    // Removing the pin (in its settings) shows the new certificate as never seen, to be compared again.
    await lead.click('[data-testid="trust-changed"] summary');
    await lead.click('[data-testid="trust-forget"]');
    await lead.waitForSelector('[data-testid="trust-new"]', WAIT);
    assert.equal((await lead.textContent('[data-testid="trust-presented"]'))?.trim(), agent.ready.fingerprint);
    assert.deepEqual(errors, [], 'no console errors');
  });
});
