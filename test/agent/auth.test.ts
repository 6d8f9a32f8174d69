// An agent serves nothing to a peer without the right bearer token, and greets one with it: hello, then inventory.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { test } from 'node:test';
import { agentArgs, BOUNDED, spawnAgent, tempDir, TestCockpit, TOKEN, tryUpgrade } from './helpers.ts';

test('a peer without a token, or with a wrong one, gets HTTP 401 and no WebSocket', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const agent = await spawnAgent(t, agentArgs(dir));
  const { url } = agent.ready;

  const none = await tryUpgrade(url, {});
  assert.equal(none.status, 401);
  assert.equal(none.body, '', 'a refused peer learns nothing, not even a reason');

  const wrong = await tryUpgrade(url, { Authorization: `Bearer ${TOKEN}x` });
  assert.equal(wrong.status, 401);
  const shorter = await tryUpgrade(url, { Authorization: 'Bearer t' });
  assert.equal(shorter.status, 401);
  const basic = await tryUpgrade(url, { Authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` });
  assert.equal(basic.status, 401);
  // The right token without the subprotocol is refused too, with a reason (the peer is authenticated by then).
  const noProtocol = await tryUpgrade(url, { Authorization: `Bearer ${TOKEN}` }, null);
  assert.equal(noProtocol.status, 400);
  assert.match(noProtocol.body, /cordon\.v1/);
});

test('the 401 carries WWW-Authenticate: Bearer, and plain HTTP gets 426 or 404 with an empty body', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const agent = await spawnAgent(t, agentArgs(dir));
  const port = Number(new URL(agent.ready.url).port);
  const get = (path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
  // A raw socket, since node's http client hands a refused upgrade to neither callback reliably.
  const raw = await new Promise<string>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: cordon.v1\r\nAuthorization: Bearer nope\r\n\r\n');
    });
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString()));
    s.on('close', () => resolve(text));
    s.on('error', reject);
    s.setTimeout(5000, () => reject(new Error('the agent kept a refused socket open')));
  });
  assert.match(raw, /^HTTP\/1\.1 401 Unauthorized\r\n/);
  assert.match(raw, /\r\nWWW-Authenticate: Bearer\r\n/i);
  assert.ok(raw.endsWith('\r\n\r\n'), 'no body after the 401');

  const root = await get('/');
  assert.equal(root.status, 426);
  assert.equal(root.body, '');
  const other = await get('/metrics');
  assert.equal(other.status, 404);
  assert.equal(other.body, '');
});

test('with the right token, the agent says hello and then sends its inventory, both valid cordon.v1', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const agent = await spawnAgent(t, agentArgs(dir, ['--vms', '5']));
  const cockpit = await TestCockpit.open(t, agent.ready.url);
  assert.equal(cockpit.ws.protocol, 'cordon.v1');
  const hello = await cockpit.next();
  assert.equal(hello.type, 'hello');
  if (hello.type !== 'hello') return;
  assert.equal(hello.protocol, 'cordon.v1');
  assert.equal(hello.agent.id, 'test-agent');
  assert.equal(hello.agent.id, agent.ready.agentId);
  assert.equal(hello.hypervisor.kind, 'sim');
  assert.deepEqual(hello.capabilities, ['events', 'inventory', 'actions', 'console', 'logs', 'inspect', 'evidence']);
  assert.deepEqual(hello.actions, ['terminate', 'freeze', 'resume', 'clone', 'isolate', 'release', 'seize']);
  assert.ok(hello.latestSeq >= 0);
  const inventory = await cockpit.next();
  assert.equal(inventory.type, 'inventory');
  if (inventory.type !== 'inventory') return;
  assert.equal(inventory.vms.length, 5);
  assert.ok(inventory.vms.every((vm) => vm.state === 'running' && vm.networks?.[0]?.mac));
  assert.deepEqual(cockpit.invalid, []);
});
