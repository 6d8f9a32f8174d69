// A real syslog client (util-linux `logger`) reaches a real agent process's listener over UDP and over TCP (octet
// counting and LF framing, RFC 5424 and RFC 3164), and what it sent is found with a real logs.query over a real
// WebSocket: severity, facility, app, msgid, structured data, the sender, the VM the operator mapped the sender to.
// Garbage and oversized messages are refused cleanly: the agent says so in its own log and goes on.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { SimFleet } from '../../../agent/drivers/sim-fleet.ts';
import { agentArgs, spawnAgent, tempDir, TestCockpit, type AgentProcess } from '../helpers.ts';
import { ensureLogger, logger, queryLogs, suiteScope, waitForLogs } from './helpers.ts';

const RUN = `r${process.pid}x${Date.now().toString(36)}`;

function sendUdp(port: number, payload: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.send(typeof payload === 'string' ? Buffer.from(payload) : payload, port, '127.0.0.1', (err) => {
      s.close();
      if (err) reject(err);
      else resolve();
    });
  });
}

function sendTcp(port: number, payload: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => s.end(payload));
    s.on('close', () => resolve());
    s.on('error', reject);
  });
}

describe('the syslog listener, with a real syslog client', { timeout: 120_000 }, () => {
  let agent: AgentProcess;
  let c: TestCockpit;
  let port: number;
  // The sim's VM ids follow from its seed (42, as agentArgs sets): the first one is the one the sender is mapped to.
  const vmId = new SimFleet(8, 42, new Date().toISOString()).vms[0]!.vm.id;

  const scope = suiteScope();
  after(() => scope.dispose());

  before(async () => {
    const t = scope.t;
    ensureLogger();
    const dir = tempDir(t);
    agent = await spawnAgent(t, agentArgs(dir, ['--syslog-listen', '127.0.0.1:0', '--syslog-vm', `${hostname()}=${vmId}`, '--rate', '1']));
    assert.ok(agent.ready.syslog, 'the ready line says where syslog is received');
    port = agent.ready.syslog.port;
    c = await TestCockpit.open(t, agent.ready.url);
    const hello = await c.nextOfType('hello');
    assert.ok(hello.capabilities.includes('logs'), 'hello offers logs');
  });

  test('RFC 5424 over UDP: every header field, the structured data, the sender and the mapped VM', async () => {
    logger(['-d', '-n', '127.0.0.1', '-P', String(port), '--rfc5424', '-t', 'cordon-test', '-p', 'auth.warning', '--msgid', 'TESTID',
      '--sd-id', 'zoo@32473', '--sd-param', 'tiger="hungry"', `udp rfc5424 ${RUN}`]);
    const [r] = await waitForLogs(c, { text: `udp rfc5424 ${RUN}` }, (rs) => rs.length > 0);
    assert.ok(r, 'found by its text');
    assert.equal(r.source, 'syslog');
    assert.equal(r.message, `udp rfc5424 ${RUN}`);
    assert.equal(r.severity, 4, 'warning');
    assert.equal(r.facility, 4, 'auth');
    assert.equal(r.app, 'cordon-test');
    assert.equal(r.msgid, 'TESTID');
    assert.equal(r.host, hostname());
    assert.match(r.structuredData ?? '', /\[zoo@32473 tiger="hungry"\]/);
    assert.match(r.origin ?? '', /^udp:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(r.vmId, vmId, '--syslog-vm mapped the sender to its VM');
    assert.ok(r.receivedAt, 'the sender\'s clock is its own: the arrival is kept too');
    assert.ok(Math.abs(Date.parse(r.time) - Date.now()) < 60_000);
  });

  test('RFC 5424 over TCP with octet counting, and with LF framing; RFC 3164 over UDP and TCP', async () => {
    logger(['-T', '-n', '127.0.0.1', '-P', String(port), '--rfc5424', '--octet-count', '-t', 'cordon-test', '-p', 'daemon.err', `tcp octet ${RUN}`]);
    logger(['-T', '-n', '127.0.0.1', '-P', String(port), '--rfc5424', '-t', 'cordon-test', '-p', 'local3.notice', `tcp lf ${RUN}`]);
    logger(['-d', '-n', '127.0.0.1', '-P', String(port), '--rfc3164', '-t', 'bsd-app', '-p', 'user.info', `udp rfc3164 ${RUN}`]);
    logger(['-T', '-n', '127.0.0.1', '-P', String(port), '--rfc3164', '--octet-count', '-t', 'bsd-app', '-p', 'mail.crit', `tcp rfc3164 ${RUN}`]);
    const rs = await waitForLogs(c, { text: RUN, sources: ['syslog'] }, (x) => x.length >= 5);
    const by = (text: string) => rs.find((r) => r.message === `${text} ${RUN}`);
    assert.deepEqual([by('tcp octet')?.severity, by('tcp octet')?.facility], [3, 3], 'daemon.err');
    assert.match(by('tcp octet')?.origin ?? '', /^tcp:\/\//);
    assert.deepEqual([by('tcp lf')?.severity, by('tcp lf')?.facility], [5, 19], 'local3.notice');
    assert.deepEqual([by('udp rfc3164')?.app, by('udp rfc3164')?.severity], ['bsd-app', 6]);
    assert.deepEqual([by('tcp rfc3164')?.app, by('tcp rfc3164')?.severity, by('tcp rfc3164')?.facility], ['bsd-app', 2, 2]);
  });

  test('garbage, a bad PRI and oversized messages are refused cleanly; what follows on the same connection arrives', async () => {
    await sendUdp(port, Buffer.from([0x00, 0xff, 0xfe, 0x41, 0x0a]));
    await sendUdp(port, `<999>1 - - - - - - bad pri ${RUN}`);
    await sendUdp(port, `<13>1 ${'x'.repeat(20_000)} oversized udp ${RUN}`);
    // One TCP connection: a garbage line, an octet-counted frame over the limit (skipped exactly), then good frames.
    const big = `<13>1 - - - - - - ${'y'.repeat(40_000)}`;
    const good = `<14>1 - sender app - - - after the garbage ${RUN}`;
    await sendTcp(port, `this is not syslog\n${Buffer.byteLength(big)} ${big}${Buffer.byteLength(good)} ${good}\n<14>1 - sender app - - - lf too ${RUN}\n`);
    const rs = await waitForLogs(c, { text: RUN, sources: ['syslog'] }, (x) => x.some((r) => r.message === `lf too ${RUN}`));
    assert.ok(rs.some((r) => r.message === `after the garbage ${RUN}`), 'the frame after an oversized one arrives whole');
    assert.ok(rs.some((r) => r.message === `lf too ${RUN}`));
    assert.ok(!rs.some((r) => /bad pri|oversized/.test(r.message)), 'refused messages are not stored');
    const notes = await waitForLogs(c, { sources: ['agent'], text: 'refused' }, (x) => x.length > 0);
    assert.ok(notes.length > 0, 'the agent says in its own log that it refused messages');
    assert.ok(notes.every((n) => n.source === 'agent' && n.app === 'cordon-agent'));
    assert.equal(agent.child.exitCode, null, 'the agent is still running');
    assert.match(agent.stderr(), /refused a syslog message from (udp|tcp):\/\/127\.0\.0\.1/);
  });

  test('a bad query gets an error naming it; paging goes back through everything once', async () => {
    const backwards = await queryLogs(c, { from: '2026-11-23T10:15:00Z', to: '2026-11-23T10:14:00Z' });
    assert.equal(backwards.type, 'error');
    assert.equal(backwards.type === 'error' && backwards.code, 'bad_query');
    const badCursor = await queryLogs(c, { before: 'not-a-cursor' });
    assert.equal(badCursor.type === 'error' && badCursor.code, 'bad_query');
    c.send({ type: 'logs.query', id: 'q-invalid', limit: 0 });
    const invalid = await c.next((m) => m.type === 'error' && m.ref === 'q-invalid');
    assert.equal(invalid.type === 'error' && invalid.code, 'bad_message');

    const seen: number[] = [];
    let before: string | undefined;
    for (let i = 0; i < 1000; i++) {
      const page = await queryLogs(c, { limit: 5, ...(before ? { before } : {}) });
      assert.equal(page.type, 'logs.result');
      if (page.type !== 'logs.result') return;
      seen.push(...page.records.map((r) => r.seq));
      if (!page.truncated) break;
      before = page.next;
    }
    assert.deepEqual(seen, [...new Set(seen)].sort((a, b) => b - a), 'newest first, each record once');
    assert.ok(seen.length > 20, 'the sim\'s boot lines, the agent\'s notes and the syslog messages');
  });
});
