// The cockpit's side of a log query (AgentLink.queryLogs), against a real agent process over a real WebSocket: a
// page of records, paging back, the agent's bad_query as a rejection with its code, a bad filter refused before it
// leaves; and against a stand-in agent that never answers: a timeout, a dropped link, an invalid answer refused.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { AgentLink, LogQueryError } from '../../../main/fleet/agent-link.ts';
import { agentArgs, BOUNDED, spawnAgent, tempDir, TOKEN } from '../helpers.ts';

async function linkTo(t: { after(fn: () => unknown): void }, url: string, agentId = 'test-agent'): Promise<AgentLink> {
  const link = new AgentLink({ agentId, label: agentId, url, token: TOKEN }, { backfill: 0, backoff: { baseMs: 50, maxMs: 200 } });
  t.after(() => link.stop());
  link.start();
  await once(link, 'ready');
  return link;
}

async function rejection(p: Promise<unknown>): Promise<LogQueryError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof LogQueryError, String(err));
    return err;
  }
  assert.fail('the query was answered');
}

test('queryLogs against a real agent: pages of records, bad_query, a bad filter refused locally, an agent without logs', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const agent = await spawnAgent(t, agentArgs(dir, ['--rate', '2']));
  const link = await linkTo(t, agent.ready.url);
  // The sim logs each VM's boot on its serial console.
  let page = await link.queryLogs({ sources: ['serial'], limit: 3 });
  for (let i = 0; i < 50 && page.records.length < 3; i++) {
    await new Promise((r) => setTimeout(r, 100));
    page = await link.queryLogs({ sources: ['serial'], limit: 3 });
  }
  assert.equal(page.type, 'logs.result');
  assert.equal(page.records.length, 3);
  assert.ok(page.truncated && page.next, 'more pages');
  const vmId = page.records[0]!.vmId!;
  const older = await link.queryLogs({ sources: ['serial'], limit: 3, before: page.next! });
  assert.ok(older.records.every((r) => r.seq < page.records[2]!.seq), 'the next page is older');
  const one = await link.queryLogs({ vmId, text: 'login' });
  assert.ok(one.records.length > 0 && one.records.every((r) => r.vmId === vmId && /login/i.test(r.message)));

  const bad = await rejection(link.queryLogs({ from: '2026-11-23T10:15:00Z', to: '2026-11-23T10:14:00Z' }));
  assert.equal(bad.code, 'bad_query');
  assert.match(bad.message, /'from' must not be after 'to'/);
  const local = await rejection(link.queryLogs({ limit: 5000 }));
  assert.equal(local.code, 'bad_message');
  assert.match(local.message, /'\/limit'/);
  assert.equal(link.snapshotStatus().lastError, undefined, 'a query\'s error is not the link\'s');

  const quiet = await spawnAgent(t, agentArgs(tempDir(t), ['--rate', '0', '--no-logs', '--agent-id', 'quiet-agent']));
  const quietLink = await linkTo(t, quiet.ready.url, 'quiet-agent');
  assert.equal((await rejection(quietLink.queryLogs({}))).code, 'unsupported');
});

test('queryLogs against an agent that does not answer: a timeout, a dropped link, an invalid answer refused', BOUNDED, async (t) => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'cordon.v1' });
  t.after(() => new Promise<void>((r) => wss.close(() => r())));
  await once(wss, 'listening');
  const sockets: WebSocket[] = [];
  const queries: Array<{ id: string }> = [];
  wss.on('connection', (ws) => {
    sockets.push(ws);
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { type: string; id: string };
      if (m.type === 'logs.query') queries.push(m);
    });
    ws.send(JSON.stringify({ type: 'hello', protocol: 'cordon.v1', agent: { id: 'stub', host: 'stub', version: '0' }, hypervisor: { kind: 'sim', version: '0' }, capabilities: ['events', 'inventory', 'logs'], actions: [], latestSeq: 0, oldestSeq: 0, time: new Date().toISOString() }));
  });
  const link = await linkTo(t, `ws://127.0.0.1:${(wss.address() as { port: number }).port}`, 'stub');

  assert.equal((await rejection(link.queryLogs({}, { timeoutMs: 200 }))).code, 'timed_out');

  const invalid = link.queryLogs({}, { timeoutMs: 500 });
  while (queries.length < 2) await new Promise((r) => setTimeout(r, 10));
  // An answer that is not cordon.v1 (a record without its message) is refused on entry and never resolves the query.
  sockets[0]!.send(JSON.stringify({ type: 'logs.result', ref: queries[1]!.id, truncated: false, records: [{ seq: 1, time: '2026-11-23T10:00:00Z', source: 'agent', agentId: 'stub' }] }));
  assert.equal((await rejection(invalid)).code, 'timed_out');
  assert.match(link.snapshotStatus().lastError ?? '', /bad message/);

  const dropped = link.queryLogs({});
  while (queries.length < 3) await new Promise((r) => setTimeout(r, 10));
  sockets[0]!.terminate();
  assert.equal((await rejection(dropped)).code, 'link_lost');
  assert.equal((await rejection(link.queryLogs({}))).code, 'unavailable', 'no link, no query');
});
