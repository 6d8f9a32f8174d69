// The cockpit's side of TLS pinning (issue 8), over real TLS sockets: an unpinned or changed certificate stops the
// link before a single byte (and so the token) is written, says why in a sentence, and does not retry; the pinned one
// connects to a real agent, with mutual TLS when the agent asks for it.
import { strict as assert } from 'node:assert';
import { createHash, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { AgentLink } from '../../main/fleet/agent-link.ts';
import { FleetHub } from '../../main/fleet/hub.ts';
import { makeSelfSigned } from '../../agent/tls.ts';
import { waitFor } from '../helpers/processes.ts';
import { BOUNDED, cleanup, spawnAgent, tempDir, TOKEN, tokenFile } from '../agent/helpers.ts';

/** A TLS server that records every application byte a client writes, and answers nothing. */
async function listeningTls(t: TestContext): Promise<{ url: string; fingerprint: string; received: () => Buffer; connections: () => number }> {
  const identity = await makeSelfSigned('impostor', ['127.0.0.1']);
  const chunks: Buffer[] = [];
  let connections = 0;
  const server = createServer({ cert: identity.cert, key: identity.key }, (socket: TLSSocket) => {
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => {});
  });
  server.on('connection', () => connections++);
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup(t, () => new Promise((resolve) => server.close(resolve)));
  const { port } = server.address() as AddressInfo;
  return { url: `wss://127.0.0.1:${port}`, fingerprint: new X509Certificate(identity.cert).fingerprint256, received: () => Buffer.concat(chunks), connections: () => connections };
}

test('an unpinned agent: the link reads its fingerprint, reports untrusted, writes nothing and does not retry', BOUNDED, async (t) => {
  const peer = await listeningTls(t);
  const link = new AgentLink({ agentId: 'a1', label: 'A1', url: peer.url, token: TOKEN }, { backfill: 10, backoff: { baseMs: 20, maxMs: 50 } });
  cleanup(t, () => link.stop());
  link.start();
  await waitFor(() => link.snapshotStatus().link === 'untrusted', 'the link says untrusted');
  const status = link.snapshotStatus();
  assert.equal(status.tls?.presented, peer.fingerprint);
  assert.equal(status.tls?.pinned, undefined);
  assert.match(status.lastError ?? '', /not trusted yet.*fingerprint is ([0-9A-F]{2}:){31}[0-9A-F]{2}\..*Nothing was sent/);
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(peer.received().length, 0, 'no byte of the upgrade request (nor the token) reached the server');
  assert.equal(peer.connections(), 1, 'no retry until the responder decides');

  // The same server, pinned: now the upgrade request (with the token) is written. So the silence above was the pin.
  const pinnedLink = new AgentLink({ agentId: 'a1', label: 'A1', url: peer.url, token: TOKEN, fingerprint: peer.fingerprint }, { backfill: 10 });
  cleanup(t, () => pinnedLink.stop());
  pinnedLink.start();
  await waitFor(() => peer.received().includes(`Authorization: Bearer ${TOKEN}`), 'the pinned link writes its upgrade request');
  assert.deepEqual(pinnedLink.snapshotStatus().tls, { pinned: peer.fingerprint });
});

test('a changed certificate: a warning in a sentence, nothing written, no retry', BOUNDED, async (t) => {
  const peer = await listeningTls(t);
  const pinned = createHash('sha256').update('some other certificate').digest('hex').toUpperCase().match(/../g)!.join(':');
  const link = new AgentLink({ agentId: 'a1', label: 'A1', url: peer.url, token: TOKEN, fingerprint: pinned }, { backfill: 10, backoff: { baseMs: 20, maxMs: 50 } });
  cleanup(t, () => link.stop());
  link.start();
  await waitFor(() => link.snapshotStatus().link === 'untrusted', 'the link says untrusted');
  const status = link.snapshotStatus();
  assert.deepEqual(status.tls, { pinned, presented: peer.fingerprint });
  assert.match(status.lastError ?? '', /^WARNING: the agent at wss:\/\/127\.0\.0\.1:\d+ presented a different certificate.*will not connect and sent nothing.*remove this agent's pin in Settings/);
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(peer.received().length, 0);
  assert.equal(peer.connections(), 1);
});

test('the pinned fingerprint connects to a real agent over TLS and streams its events; mutual TLS names the principal', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const client = await makeSelfSigned('cockpit', []);
  const access = join(dir, 'access.json');
  writeFileSync(access, JSON.stringify({ principals: [
    { name: 'desk-7', role: 'responder', certFingerprint: new X509Certificate(client.cert).fingerprint256, tokenSha256: createHash('sha256').update(TOKEN).digest('hex') },
  ] }));
  tokenFile(dir);
  const agent = await spawnAgent(t, ['--driver', 'sim', '--listen', '127.0.0.1:0', '--tls', '--access', access, '--data-dir', join(dir, 'data'), '--agent-id', 'tls-agent', '--seed', '5', '--rate', '50', '--no-logs']);
  const link = new AgentLink({ agentId: 'tls-agent', label: 'TLS', url: agent.ready.url, token: TOKEN, fingerprint: agent.ready.fingerprint!, clientCert: client }, { backfill: 100 });
  cleanup(t, () => link.stop());
  let events = 0;
  link.on('event', () => events++);
  link.start();
  await waitFor(() => link.snapshotStatus().link === 'connected', 'the link connects');
  await waitFor(() => events >= 5, 'events arrive over TLS');
  const status = link.snapshotStatus();
  assert.deepEqual(status.tls, { pinned: agent.ready.fingerprint });
  assert.deepEqual(status.access?.principal, { name: 'desk-7', role: 'responder' });
  assert.equal(status.lastError, undefined);
});

test('the hub never replaces a pin in one step: a changed certificate is trusted only after its old pin is removed, and each step is saved', BOUNDED, async (t) => {
  const peer = await listeningTls(t);
  const old = createHash('sha256').update('the certificate pinned before').digest('hex').toUpperCase().match(/../g)!.join(':');
  const saved: (string | undefined)[] = [];
  const hub = new FleetHub({ savePin: (_id, fp) => saved.push(fp), link: { backfill: 10, backoff: { baseMs: 20, maxMs: 50 } } });
  cleanup(t, () => hub.close());
  const link = hub.addAgent({ agentId: 'a1', label: 'A1', url: peer.url, token: TOKEN, fingerprint: old });
  await waitFor(() => link.snapshotStatus().link === 'untrusted', 'the changed certificate is refused');
  const actor = { name: 'tester' };
  assert.throws(() => hub.trust('a1', peer.fingerprint, actor), (err: Error & { code?: string }) => err.code === 'pinned_changed' && /remove it first/.test(err.message));
  assert.deepEqual(saved, [], 'nothing saved');
  hub.forgetPin('a1', actor);
  await waitFor(() => link.snapshotStatus().tls?.presented === peer.fingerprint && link.snapshotStatus().tls?.pinned === undefined, 'shown as never seen');
  assert.throws(() => hub.trust('a1', old, actor), (err: Error & { code?: string }) => err.code === 'fingerprint_changed');
  hub.trust('a1', peer.fingerprint, actor);
  assert.deepEqual(saved, [undefined, peer.fingerprint]);
  await waitFor(() => peer.received().includes(`Authorization: Bearer ${TOKEN}`), 'the newly pinned link writes its request');
});

test('plain ws:// to another host is refused before connecting', BOUNDED, () => {
  const link = new AgentLink({ agentId: 'a1', label: 'A1', url: 'ws://192.0.2.7:7300', token: TOKEN }, { backfill: 10 });
  assert.throws(() => link.start(), /Refusing plain ws:\/\/ to 192\.0\.2\.7/);
  assert.equal(link.snapshotStatus().link, 'failed');
});
