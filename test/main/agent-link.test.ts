// AgentLink against a scripted peer (unit level: the real agent is exercised in test/main/hub-agent.test.ts):
// exactly-once by seq, gaps recorded, malformed frames answered with an error while the stream goes on.
import { strict as assert } from 'node:assert';
import { after, describe, it } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodeClientMessage, type ClientMessage, type ThreatEvent } from '../../protocol/index.ts';
import { AgentLink } from '../../main/fleet/agent-link.ts';
import { hello, threatEvent } from '../helpers/events.ts';
import { waitFor } from '../helpers/processes.ts';

async function scriptedPeer(script: (ws: WebSocket, fromCockpit: ClientMessage[]) => void): Promise<{ url: string; received: ClientMessage[]; close(): void }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => (p.has('cordon.v1') ? 'cordon.v1' : false) });
  await new Promise((r) => wss.once('listening', r));
  const received: ClientMessage[] = [];
  wss.on('connection', (ws) => {
    ws.on('message', (d) => {
      const m = decodeClientMessage(d.toString());
      assert.ok(m.ok, 'the cockpit sends only valid cordon.v1');
      received.push(m.value);
    });
    script(ws, received);
  });
  const addr = wss.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { url: `ws://127.0.0.1:${port}`, received, close: () => { for (const c of wss.clients) c.terminate(); wss.close(); } };
}

describe('an agent link', () => {
  const cleanups: (() => void)[] = [];
  after(() => cleanups.forEach((c) => c()));

  it('shows each seq once, records a gap, and answers a malformed frame while the stream goes on', async () => {
    const peer = await scriptedPeer((ws) => {
      ws.send(JSON.stringify(hello('scripted', 7)));
      ws.on('message', (d) => {
        if (JSON.parse(d.toString()).type !== 'subscribe') return;
        const ev = (seq: number) => JSON.stringify({ type: 'event', seq, event: threatEvent('scripted', seq) });
        ws.send(ev(1));
        ws.send(ev(2));
        ws.send(JSON.stringify({ type: 'event', seq: 'three', event: {} }));
        ws.send('{"type":');
        ws.send(ev(3));
        ws.send(ev(2));
        ws.send(JSON.stringify({ type: 'gap', from: 4, to: 6, reason: 'retention' }));
        ws.send(ev(7));
      });
    });
    cleanups.push(peer.close);
    const link = new AgentLink({ agentId: 'scripted', label: 'S', url: peer.url, token: 't' }, { backfill: 1000 });
    cleanups.push(() => link.stop());
    const seen: number[] = [];
    link.on('event', (seq: number, _e: ThreatEvent) => seen.push(seq));
    link.start();
    await waitFor(() => seen.includes(7), 'event 7 arrives');
    assert.deepEqual(seen, [1, 2, 3, 7]);
    const status = link.snapshotStatus();
    assert.equal(status.link, 'connected');
    assert.equal(status.duplicatesDropped, 1);
    assert.deepEqual(status.gaps, [{ from: 4, to: 6, reason: 'retention' }]);
    assert.equal(status.lastSeq, 7);
    // The link's answers travel back to the peer on their own time: wait for them rather than race them.
    await waitFor(() => peer.received.filter((m) => m.type === 'error').length >= 2, 'the answers to both malformed frames').catch(() => {});
    const errors = peer.received.filter((m) => m.type === 'error');
    assert.equal(errors.length, 2, 'each malformed frame is answered with an error');
    assert.deepEqual(errors.map((e) => e.type === 'error' && e.code), ['bad_message', 'bad_json']);
    assert.ok(errors.every((e) => e.type === 'error' && e.message.length > 10));
    const sub = peer.received.find((m) => m.type === 'subscribe');
    assert.ok(sub?.type === 'subscribe' && sub.since === 0);
  });

  it('refuses an agent that answers with another id', async () => {
    const peer = await scriptedPeer((ws) => ws.send(JSON.stringify(hello('impostor', 0))));
    cleanups.push(peer.close);
    const link = new AgentLink({ agentId: 'expected', label: 'E', url: peer.url, token: 't' }, { backfill: 0, backoff: { baseMs: 5000, maxMs: 5000 } });
    cleanups.push(() => link.stop());
    link.start();
    const status = await waitFor(() => { const s = link.snapshotStatus(); return s.link === 'failed' && s; }, 'the link fails');
    assert.match(status.lastError ?? '', /Expected agent "expected" but "impostor" answered/);
    assert.equal(peer.received.filter((m) => m.type === 'subscribe').length, 0, 'nothing is subscribed from an impostor');
  });

  it('refuses plain ws:// to a host beyond loopback', () => {
    const link = new AgentLink({ agentId: 'far', label: 'F', url: 'ws://198.51.100.9:7443', token: 't' }, { backfill: 0 });
    assert.throws(() => link.start(), /only loopback may go unencrypted/);
    assert.equal(link.snapshotStatus().link, 'failed');
  });

  it('on its first connect loads only the most recent events, and says nothing is lost', async () => {
    const peer = await scriptedPeer((ws) => ws.send(JSON.stringify(hello('busy', 100_000))));
    cleanups.push(peer.close);
    const link = new AgentLink({ agentId: 'busy', label: 'B', url: peer.url, token: 't' }, { backfill: 500 });
    cleanups.push(() => link.stop());
    link.start();
    await waitFor(() => peer.received.some((m) => m.type === 'subscribe'), 'a subscribe');
    const sub = peer.received.find((m) => m.type === 'subscribe');
    assert.ok(sub?.type === 'subscribe' && sub.since === 99_500);
    assert.deepEqual(link.snapshotStatus().gaps, []);
  });
});
