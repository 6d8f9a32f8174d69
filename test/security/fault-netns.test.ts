// Fault campaign (issue 8): the network between cockpit and agent cut. The test makes its own network: a namespace
// with a unique name and a veth pair, the agent inside the namespace on its own address (so it serves wss:// with
// the self-signed certificate it makes, pinned by the cockpit from its ready line), the cockpit's hub and link in this
// process outside it. The cut is the host end of the veth set down (a pulled cable: no FIN, no RST, nothing), then
// set up again. Mid-stream (twice, at a high rate) and mid-action (after action.accepted of a clone and of a
// seizure, whose results are then sent into the cut): every event arrives exactly once, byte for byte; each request
// id began once; the hub's retry after the reconnect gets the first result. The namespace and the veth pair are
// removed after the test, pass or fail. Needs root (CI runs as root): without it the test fails and says so.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { ActionResultMessage, CockpitPush } from '../../protocol/index.ts';
import { cleanup } from '../agent/helpers.ts';
import { freePort } from '../helpers/processes.ts';
import { record } from './campaign.ts';
import { actionsRunTwice, clonesOf, FAULT_BOUNDED, FaultAgent, settle, until, watchAgent } from './fault-kit.ts';

function ip(...args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`ip ${args.join(' ')} failed: ${e.stderr?.toString().trim() || e.message}. The network-cut case makes its own namespace and veth pair and needs root and iproute2 (CI runs as root).`);
  }
}

interface TestNet {
  ns: string;
  hostAddr: string;
  nsAddr: string;
  cut(): void;
  mend(): void;
  cuts: number;
}

/** A namespace and a veth pair with unique names, addressed 10.213.N.1 (here) and .2 (inside); removed after the test. */
function makeNet(t: TestContext): TestNet {
  const id = randomBytes(3).toString('hex');
  const ns = `cordon-fault-${id}`;
  const hostIf = `cfh${id}`;
  const nsIf = `cfn${id}`;
  const subnet = `10.213.${randomBytes(1)[0]!}`;
  const net: TestNet = {
    ns, hostAddr: `${subnet}.1`, nsAddr: `${subnet}.2`, cuts: 0,
    cut: () => { ip('link', 'set', hostIf, 'down'); net.cuts++; },
    mend: () => ip('link', 'set', hostIf, 'up'),
  };
  // Registered first, so it runs last: after every process inside has been killed.
  cleanup(t, () => {
    try { execFileSync('ip', ['link', 'del', hostIf], { stdio: 'ignore' }); } catch { /* gone with the namespace */ }
    try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }); } catch { /* never made */ }
  });
  ip('netns', 'add', ns);
  ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
  ip('link', 'set', nsIf, 'netns', ns);
  ip('addr', 'add', `${net.hostAddr}/30`, 'dev', hostIf);
  ip('link', 'set', hostIf, 'up');
  ip('-n', ns, 'addr', 'add', `${net.nsAddr}/30`, 'dev', nsIf);
  ip('-n', ns, 'link', 'set', nsIf, 'up');
  ip('-n', ns, 'link', 'set', 'lo', 'up');
  return net;
}

/** The hub's link notices a dead peer by its pings: one a second, dead after three unanswered. */
const HUB = { backoff: { baseMs: 100, maxMs: 1000 }, pingIntervalMs: 1000 };

test('network cut (veth link down, netns) mid-stream, twice at a high rate: every event arrives exactly once, over wss:// with a pinned certificate', FAULT_BOUNDED, async (t) => {
  const net = makeNet(t);
  const agent = await FaultAgent.create(t, ['--vms', '6', '--rate', '3000', '--no-logs'], 'test-agent', { host: net.nsAddr, port: await freePort(), netns: net.ns });
  await agent.start();
  assert.match(agent.url, /^wss:\/\//, 'off loopback the agent serves TLS');
  assert.match(agent.fingerprint ?? '', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/, 'its ready line carries the certificate\'s fingerprint');
  const { hub, link, received } = watchAgent(t, agent, { label: 'behind a cable', link: HUB, fingerprint: agent.fingerprint! });

  const cutAt: number[] = [];
  for (let i = 0; i < 2; i++) {
    const from = received.total;
    const reconnects = link.snapshotStatus().reconnects;
    await until(() => link.snapshotStatus().link === 'connected' && received.total >= from + 2000, `events flowing before cut ${i + 1}`);
    net.cut();
    cutAt.push(link.lastSeq);
    await until(() => link.snapshotStatus().link !== 'connected', 'the link to notice the cut (its pings go unanswered)', 30_000);
    // The agent goes on numbering events while nobody can hear it.
    const stored = agent.eventLog().size;
    await until(() => agent.eventLog().size > stored + 1000, 'the agent to store events during the cut');
    net.mend();
    await until(() => link.snapshotStatus().link === 'connected' && link.snapshotStatus().reconnects > reconnects, 'the link to come back by itself', 60_000);
  }
  const { r, status } = await settle(agent, hub, link, received);
  assert.ok(cutAt.every((s, i) => s > (cutAt[i - 1] ?? 0)), `each cut landed mid-stream (${cutAt.join(', ')} of ${status.lastSeq})`);
  assert.equal(status.tls?.pinned, agent.fingerprint, 'the link ran on the pinned certificate');
  assert.equal(agent.crashes, 0);
  record({
    campaign: 'fault', kind: 'network cut (netns, veth link down) mid-stream', injected: net.cuts,
    eventsLost: r.lost, eventsDoubled: r.doubled, actionsDuplicated: 0, crashes: agent.crashes,
    outcome: `${net.cuts} cuts of the cable between a cockpit and an agent in its own network namespace (wss://, certificate pinned), the agent streaming at --rate 3000 and storing on through each cut: ` +
      `the link found each dead connection by its pings, came back by itself and resumed from its last seq; all ${r.expected} stored events arrived once, byte for byte, no gap.`,
  });
});

test('network cut (veth link down, netns) mid-action: the results sent into the cut come back on the retry; nothing runs twice', FAULT_BOUNDED, async (t) => {
  const net = makeNet(t);
  const agent = await FaultAgent.create(t, ['--vms', '3', '--rate', '100', '--no-logs'], 'test-agent', { host: net.nsAddr, port: await freePort(), netns: net.ns });
  await agent.start();
  const { hub, link, received } = watchAgent(t, agent, { label: 'behind a cable', link: HUB, fingerprint: agent.fingerprint! });
  const results: ActionResultMessage[] = [];
  link.on('action', (u) => { if (u.type === 'action.result') results.push(u); });
  const vms = await until(() => hub.snapshot().inventories.find((i) => i.agentId === agent.agentId && i.vms.length >= 3)?.vms, 'the inventory', 60_000);
  const actor = { name: 'Fault Campaign', role: 'responder', cockpit: 'fault-test' };

  const asked: string[] = [];
  for (const [i, kind] of (['clone', 'seize'] as const).entries()) {
    let cut = false;
    const onPush = (p: CockpitPush) => {
      if (p.type === 'action' && p.action.kind === kind && p.action.phase === 'accepted' && !cut) {
        net.cut();
        cut = true;
      }
    };
    hub.on('push', onPush);
    const reconnects = link.snapshotStatus().reconnects;
    const rec = await hub.act({ agentId: agent.agentId, vmId: vms[i]!.id, kind, params: kind === 'seize' ? { caseId: 'FAULT-5' } : {}, reason: `fault campaign: cut the network mid-${kind}` }, actor);
    asked.push(rec.requestId);
    await until(() => cut, `action.accepted of the ${kind}`);
    hub.off('push', onPush);
    // The action finishes on the agent while the cable is out: its result goes into the cut.
    await until(() => /"t":"end"/.test(actionLines(agent, rec.requestId)), `the ${kind} to finish on the agent`, 60_000);
    assert.equal(results.filter((m) => m.requestId === rec.requestId).length, 0, 'no result crossed the cut');
    await until(() => link.snapshotStatus().link !== 'connected', 'the link to notice the cut', 30_000);
    net.mend();
    await until(() => link.snapshotStatus().link === 'connected' && link.snapshotStatus().reconnects > reconnects, 'the link to come back', 60_000);
    const done = await until(() => hub.actionRecords().find((r) => r.requestId === rec.requestId && (r.phase === 'done' || r.phase === 'failed')), `the ${kind}'s result after the reconnect`);
    const first = results.find((m) => m.requestId === rec.requestId)!;
    assert.equal(first.replayed, true, 'the result came from the agent\'s journal, on the retry');
    assert.equal(done.ok, true, `the ${kind} succeeded on the agent and that is what the cockpit was told: ${JSON.stringify(done.error)}`);
  }
  const clones = clonesOf(hub, agent, vms[0]!.id);
  const { r } = await settle(agent, hub, link, received);
  const duplicated = actionsRunTwice(agent, asked, clones);
  assert.equal(clones, 1, 'exactly one clone exists');
  assert.equal(agent.crashes, 0);
  record({
    campaign: 'fault', kind: 'network cut (netns, veth link down) mid-action', injected: net.cuts,
    eventsLost: r.lost, eventsDoubled: r.doubled, actionsDuplicated: duplicated, crashes: agent.crashes,
    outcome: `The cable was pulled right after action.accepted of a clone and of a seizure; both finished on the agent and their results went into the cut; ` +
      `after the reconnect the hub re-sent each request id and got the first result from the agent's journal (ok, replayed); each began once, one clone exists; ${r.expected} events arrived once each.`,
  });
});

/** The agent's action journal lines about one request id (begin, end), as on its disk now. */
function actionLines(agent: FaultAgent, requestId: string): string {
  const file = join(agent.dataDir, 'action-journal.jsonl');
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.includes(`"requestId":"${requestId}"`)).join('\n');
}
