// XSS in every attacker-controlled field (issue 8, item 4), end to end: the real renderer in Debian's Chromium, served
// by the real browser shell (`main/browser-shell/cli.ts`), connected over real sockets to a scripted cordon.v1 agent
// (hostile-agent.ts) whose every string an attacker controls carries a payload: markup, script, a javascript: URL,
// CSS, bidi and zero-width characters, terminal escapes, strings as long as the schema allows. Nine agents, one payload
// each, every field of theirs: VM names, networks and tags, threat events, logs, inspections, action histories,
// isolation proofs, seized files, evidence captures, the policy in force, hello, approvals.
//
// Every view that shows them is opened (the feed and the event detail, the fleet and the VM pane, the logs in the
// journal view, the evaluation, the evidence view, the policy view and its editor, the approvals, the automatic-response
// alert), and after each: no payload ran (window.__xss), no element or handler of a payload is in the DOM, no CSP
// violation, no request for a payload's URL; each payload is on the page as text, with its control and invisible
// characters shown as the UI shows them (text/visible.ts). At the end: no console error, no dialog, no navigation,
// the page's title unchanged. The case then goes into the security ledger.
import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { buildRenderer, launchChromium } from '../../bench/lib.ts';
import { visible } from '../../renderer/src/text/visible.ts';
import { record } from '../security/campaign.ts';
import { startNodeProcess, tempDir, type RunningProcess } from '../helpers/processes.ts';
import { PAYLOADS, startHostileAgents, type HostileAgents, type Placement } from './hostile-agent.ts';

const WAIT = { timeout: 30_000 };
const TOKEN = `hostile-e2e-${Math.random().toString(36).slice(2)}-0123456789abcdef`;
const AGENTS = PAYLOADS.length;
/** A placement is found by this much of its start (marker and payload): shorter than the narrowest clip of any view. */
const PREFIX = 40;

/** What the page shows of a placement: its start, with control and invisible characters made visible. */
function shownAs(p: Placement): string {
  let end = Math.min(PREFIX, p.text.length);
  const last = p.text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return visible(p.text.slice(0, end));
}

/** In the page: everything a payload could have left behind, as sentences (empty when nothing). */
function traces(): string[] {
  const w = window as unknown as { __xss?: unknown; __csp?: string[] };
  const out: string[] = [];
  if (w.__xss !== undefined) out.push(`window.__xss = ${String(w.__xss)}: a payload ran`);
  for (const v of w.__csp ?? []) out.push(`CSP violation: ${v}`);
  const selectors = ['img[src="x"]', 'script:not([src])', 'iframe', 'object', 'embed', '[srcdoc]', 'a[href^="javascript:" i]', '[href^="javascript:" i]', 'b[x]', 'svg[onload]'];
  for (const sel of selectors) {
    const n = document.querySelectorAll(sel).length;
    if (n > 0) out.push(`${n} element(s) ${sel}`);
  }
  for (const s of document.querySelectorAll('style')) {
    if ((s.textContent ?? '').includes('display:none!important')) out.push('a <style> element from a payload');
  }
  // The payloads' control and invisible characters are drawn as visible symbols (text/visible.ts), never raw: a raw
  // U+202E reorders what the responder reads, a raw ESC is a terminal sequence waiting for a copy and paste. The
  // policy editor's textarea holds the policy's JSON to edit, as it is.
  // eslint-disable-next-line no-control-regex -- finding the payloads' control characters is the point
  const raw = /[\u001b\u0007\u202e\u200b\u2066\u2069\ufeff]|\u200d|\u{e0041}/u;
  // (No helper functions in here: the page gets this function's source, without tsx's __name.)
  const hits: [Element | null, string][] = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.parentElement?.closest('textarea') && raw.test(n.nodeValue ?? '')) hits.push([n.parentElement, `text ${JSON.stringify((n.nodeValue ?? '').slice(0, 60))}`]);
  }
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      if (/^on/i.test(a.name)) out.push(`<${el.tagName.toLowerCase()}> has an ${a.name} attribute`);
      else if (el.tagName !== 'TEXTAREA' && raw.test(a.value)) hits.push([el, `${a.name} attribute ${JSON.stringify(a.value.slice(0, 60))}`]);
    }
  }
  for (const [el, what] of hits) {
    const owner = el?.closest('[data-testid]');
    out.push(`raw control or invisible characters in the ${what} of <${el?.tagName.toLowerCase()} class="${el?.getAttribute('class') ?? ''}"> in [data-testid=${owner?.getAttribute('data-testid') ?? '-'}]`);
  }
  return out;
}

describe('every attacker-controlled field, from a scripted agent, stays text in the real renderer (Chromium)', () => {
  const dir = tempDir('e2e-hostile');
  let agents: HostileAgents;
  let shell: RunningProcess;
  let browser: Browser;
  let page: Page;
  let title = '';
  let pageUrl = '';
  let origin = '';
  const errors: string[] = [];
  const dialogs: string[] = [];
  const navigations: string[] = [];
  const strangeRequests: string[] = [];
  const seen = new Set<Placement>();
  /** What a payload left in the page (it ran, became markup, tripped the CSP, or was drawn raw), by where it was seen. */
  const leftovers = new Map<string, string>();
  let checks = 0;

  /** Reads the page once: which placements it shows as text now; and that nothing of a payload ran or became markup. */
  async function look(where: string): Promise<void> {
    for (const t of await page.evaluate(traces)) if (!leftovers.has(t)) leftovers.set(t, where);
    const text = await page.evaluate(() => document.documentElement.textContent ?? '');
    for (const p of agents.placements.all) if (!seen.has(p) && text.includes(shownAs(p))) seen.add(p);
    checks++;
  }

  /** Waits until the page shows this placement as text. */
  async function waitToShow(field: string, agent: number): Promise<void> {
    const p = agents.placements.all.find((x) => x.field === field && x.agent === agent);
    assert.ok(p, `a placement ${field} of agent ${agent}`);
    const want = shownAs(p);
    await page.waitForFunction((w) => (document.documentElement.textContent ?? '').includes(w), want, WAIT)
      .catch(async (err: Error) => {
        const left = await page.evaluate(traces).catch(() => []);
        throw new Error(`${field} of agent ${agent} (${p.payload}) never showed as ${JSON.stringify(want)}: ${err.message}${left.length > 0 ? `\nTraces of payloads in the page:\n${left.join('\n')}` : ''}`);
      });
  }

  before(async () => {
    buildRenderer();
    agents = await startHostileAgents(TOKEN);
    assert.deepEqual(agents.problems, [], 'the scripted agents speak valid cordon.v1');
    const shellDir = join(dir.path, 'shell');
    mkdirSync(shellDir, { recursive: true, mode: 0o700 });
    const tokenFile = join(dir.path, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const settings = { agents: PAYLOADS.map((p, i) => ({ agentId: agents.agentId(i), label: `Scripted agent ${i} (${p.name})`, url: agents.url(i), tokenFile })) };
    writeFileSync(join(shellDir, 'settings.json'), `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
    shell = await startNodeProcess('main/browser-shell/cli.ts', ['--json', '--data-dir', shellDir, '--responder', 'Dana Scully']);

    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1600, height: 1000 } })).newPage();
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        const w = window as unknown as { __csp?: string[] };
        (w.__csp ??= []).push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`);
      });
    });
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
    const loginUrl = String(shell.ready.loginUrl);
    origin = new URL(loginUrl).origin;
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.origin !== origin || u.pathname === '/x' || u.protocol === 'javascript:') strangeRequests.push(r.url());
    });
    await page.goto(loginUrl);
    await page.waitForSelector('[data-testid="threat-feed"]', WAIT);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="feed-row"]').length >= n, AGENTS, WAIT);
    title = await page.title();
    pageUrl = page.url();
    page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations.push(f.url()); });
  });

  after(async () => {
    await browser?.close();
    await shell?.kill();
    await agents?.close();
    dir.remove();
  });

  it('the feed, the fleet, the approvals and the automatic-response alert', async () => {
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="approval"]').length >= n, AGENTS, WAIT);
    for (let i = 0; i < AGENTS; i++) {
      await waitToShow('hello.hypervisor.version', i);
      await waitToShow('vm.name', i);
    }
    await look('feed and fleet');
    // The alert shows five notices at a time: each is read, then dismissed, until none is left.
    for (let n = 0; n < AGENTS + 1 && (await page.locator('[data-testid="auto-notice"]').count()) > 0; n++) {
      await look('automatic-response alert');
      await page.locator('[data-testid="auto-dismiss"]').first().click();
    }
    assert.equal(await page.locator('[data-testid="auto-notice"]').count(), 0, 'every notice read and dismissed');
  });

  it('each event in its detail pane, its VM with its history, its logs (journal view) and its evaluation', async () => {
    for (let i = 0; i < AGENTS; i++) {
      const agentId = agents.agentId(i);
      const vmId = agents.vmId(i);
      const pane = `[data-testid="vm-detail"][data-vm="${vmId}"]`;
      await page.locator('body').press('Alt+1');
      await page.click(`[data-testid="feed-row"][data-agent="${agentId}"]`);
      await page.waitForSelector(pane, WAIT);
      await waitToShow('event.process.commandLine', i);
      await waitToShow('action.result.error.message', i);
      await look(`event and VM of ${agentId}`);

      await page.click(`${pane} [data-testid="vm-journal"]`);
      await page.waitForSelector('[data-testid="journal-view"]', WAIT);
      await waitToShow('logs.record.message', i);
      await look(`journal and logs of ${vmId}`);

      await page.click(`${pane} [data-testid="vm-evaluate"]`);
      const anyway = page.locator(`${pane} [data-testid="safe-anyway"]`);
      if (await anyway.count() > 0) await anyway.click();
      await page.waitForSelector(`[data-testid="evaluation-view"][data-vm="${vmId}"] [data-testid="inspect-process"]`, WAIT);
      await waitToShow('inspect.process.command', i);
      await look(`evaluation of ${vmId}`);
    }
    await page.locator('body').press('Alt+1');
  });

  it('the evidence view (Alt+5): every agent\'s captures', async () => {
    await page.locator('body').press('Alt+5');
    await page.waitForSelector('[data-testid="evidence-view"]', WAIT);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="evidence-capture"]').length >= n, AGENTS, WAIT);
    await look('evidence view');
  });

  it('the policy view (Alt+3): compliance, exceptions, and each agent\'s policy in the editor', async () => {
    await page.locator('body').press('Alt+3');
    await page.waitForSelector('[data-testid="policy-view"]', WAIT);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="policy-exception"]').length >= n, AGENTS, WAIT);
    await look('policy view');
    const starts = page.locator('[data-testid="policy-start-agent"]');
    assert.equal(await starts.count(), AGENTS, 'a "start from" button per agent with a policy');
    for (let i = 0; i < AGENTS; i++) {
      await starts.nth(i).click();
      await page.waitForSelector('[data-testid="policy-summary"]', WAIT);
      await look(`policy editor from agent ${i}'s policy`);
    }
    await page.locator('body').press('Alt+1');
  });

  it('each payload was shown as text, none ran, nothing navigated, and the case is in the ledger', async () => {
    await look('the end');
    assert.deepEqual([...leftovers].map(([t, where]) => `${t} (first seen in: ${where})`), [], 'no trace of a payload in any view');
    const drawn = agents.placements.all.filter((p) => p.drawn);
    const missing = drawn.filter((p) => !seen.has(p)).map((p) => `${p.field} of agent ${p.agent} (${p.payload}) as ${JSON.stringify(shownAs(p))}`);
    assert.deepEqual(missing, [], 'every drawn placement is on the page as text');
    assert.deepEqual(agents.problems, [], 'every frame either way passed the schema');
    for (const t of ['subscribe', 'logs.query', 'inspect', 'evidence.list']) assert.ok((agents.served.get(t) ?? 0) >= 1, `the cockpit asked ${t}`);
    assert.deepEqual(errors, [], 'no console error');
    assert.deepEqual(dialogs, [], 'no dialog');
    assert.deepEqual(navigations, [], 'no navigation');
    assert.deepEqual(strangeRequests, [], 'no request but to the cockpit');
    assert.equal(page.url(), pageUrl);
    assert.equal(await page.title(), title, 'the title is unchanged');
    assert.equal(title, 'Cordon');
    assert.equal(shell.child.exitCode, null, 'the browser shell still runs');

    const tried = agents.placements.all.length;
    const shownAsText = drawn.filter((p) => seen.has(p)).length;
    const undrawn = agents.placements.all.filter((p) => !p.drawn);
    const refused = shownAsText + undrawn.length;
    const fields = new Set(agents.placements.all.map((p) => p.field)).size;
    record({
      campaign: 'bad-input', target: 'renderer (every attacker-controlled field, real Chromium)', kind: 'XSS, bidi and terminal escapes',
      tried, refused, crashes: 0,
      outcome: `${tried} placements (${PAYLOADS.length} payloads × ${fields} fields of a scripted agent) over ${checks} looks at the feed, detail, fleet, VM pane and history, logs, evaluation, evidence, policy, approvals and alert: ${shownAsText} shown as text with control characters made visible, ${undrawn.length} in fields no view draws (${[...new Set(undrawn.map((p) => p.field))].join(', ')}); none ran, became markup, tripped the CSP, navigated or changed the title.`,
    });
  });
});
