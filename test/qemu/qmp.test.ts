// The QMP client against a scripted fake QEMU: it negotiates before anything else, matches answers by id whatever
// their order, hands events to listeners even between answers and inside the same chunk, survives lines cut
// anywhere (even inside a UTF-8 character), turns QMP errors, silences and hang-ups into errors a responder can
// read, and never gives a late answer to the wrong caller.
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { describe, test } from 'node:test';
import { QmpClient, type QmpEvent } from '../../agent/qemu/qmp.ts';
import { isQemuError } from '../../agent/qemu/errors.ts';

const GREETING = '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18"}, "capabilities": ["oob"]}}\r\n';

/** The QEMU side of a socket: records what the client writes, and sends what the test scripts, byte for byte. */
class FakeQemu extends Duplex {
  readonly received: Array<{ execute: string; id: string; arguments?: unknown }> = [];
  private waiters: Array<() => void> = [];

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.received.push(JSON.parse(line));
    for (const w of this.waiters.splice(0)) w();
    done();
  }

  send(text: string | Buffer): void {
    this.push(typeof text === 'string' ? Buffer.from(text) : text);
  }

  hangUp(): void {
    this.push(null);
    this.destroy();
  }

  /** Resolves once the client has sent `count` commands in all. */
  async commands(count: number): Promise<FakeQemu['received']> {
    while (this.received.length < count) await new Promise<void>((r) => this.waiters.push(r));
    return this.received;
  }
}

/** A client past negotiation, with its fake QEMU. */
async function connected(options: { commandTimeoutMs?: number } = {}): Promise<{ qemu: FakeQemu; qmp: QmpClient; notes: string[] }> {
  const qemu = new FakeQemu();
  const notes: string[] = [];
  const pending = QmpClient.over(qemu, 'fake-qemu', { ...options, note: (l) => notes.push(l) });
  qemu.send(GREETING.slice(0, 17));
  qemu.send(GREETING.slice(17));
  const [caps] = await qemu.commands(1);
  assert.equal(caps?.execute, 'qmp_capabilities', 'capabilities are negotiated first');
  qemu.send(`{"return": {}, "id": "${caps?.id}"}\r\n`);
  return { qemu, qmp: await pending, notes };
}

describe('QMP client', () => {
  test('negotiates capabilities after the greeting, which may arrive in pieces', async () => {
    const { qmp, qemu } = await connected();
    assert.deepEqual(qmp.greeting?.version.qemu, { major: 7, minor: 2, micro: 22 });
    assert.equal(qemu.received.length, 1, 'nothing but qmp_capabilities before the caller acts');
    qmp.close();
  });

  test('matches answers by id when they come out of order, with events interleaved in the same chunk', async () => {
    const { qmp, qemu } = await connected();
    const events: QmpEvent[] = [];
    qmp.onEvent((e) => events.push(e));
    const status = qmp.execute<{ status: string }>('query-status');
    const stop = qmp.execute('stop');
    const [, a, b] = await qemu.commands(3);
    qemu.send(
      `{"timestamp": {"seconds": 1763870000, "microseconds": 250000}, "event": "STOP"}\r\n` +
      `{"return": {}, "id": "${b?.id}"}\r\n` +
      `{"timestamp": {"seconds": 1763870001, "microseconds": 0}, "event": "NIC_RX_FILTER_CHANGED", "data": {"path": "/machine/peripheral/nic0"}}\r\n` +
      `{"return": {"status": "paused", "running": false}, "id": "${a?.id}"}\r\n`);
    assert.deepEqual(await stop, {});
    assert.deepEqual(await status, { status: 'paused', running: false });
    assert.deepEqual(events.map((e) => e.event), ['STOP', 'NIC_RX_FILTER_CHANGED']);
    assert.equal(events[0]?.timestampMs, 1763870000250);
    assert.deepEqual(events[1]?.data, { path: '/machine/peripheral/nic0' });
    qmp.close();
  });

  test('reassembles a message cut at every byte, including inside a UTF-8 character', async () => {
    const { qmp, qemu } = await connected();
    const name = qmp.execute<{ name: string }>('query-name');
    const [, cmd] = await qemu.commands(2);
    const bytes = Buffer.from(`{"return": {"name": "évidence — ВМ"}, "id": "${cmd?.id}"}\r\n`);
    for (let i = 0; i < bytes.length; i++) qemu.send(bytes.subarray(i, i + 1));
    assert.deepEqual(await name, { name: 'évidence — ВМ' });
    qmp.close();
  });

  test('waitForEvent catches an event that arrives before the command answer', async () => {
    const { qmp, qemu } = await connected();
    const done = qmp.waitForEvent('DUMP_COMPLETED', { timeoutMs: 1_000 });
    const dump = qmp.execute('dump-guest-memory', { paging: false, protocol: 'file:/tmp/x', detach: true });
    const [, cmd] = await qemu.commands(2);
    assert.deepEqual(cmd?.arguments, { paging: false, protocol: 'file:/tmp/x', detach: true });
    qemu.send(`{"event": "DUMP_COMPLETED", "data": {"result": {"status": "completed", "total": 1, "completed": 1}}, "timestamp": {"seconds": 1, "microseconds": 0}}\r\n{"return": {}, "id": "${cmd?.id}"}\r\n`);
    await dump;
    assert.equal(((await done.promise).data.result as { status: string }).status, 'completed');
    qmp.close();
  });

  test('a QMP error becomes a typed error carrying the QMP class and description', async () => {
    const { qmp, qemu } = await connected();
    const link = qmp.execute('set_link', { name: 'nic9', up: false });
    const [, cmd] = await qemu.commands(2);
    qemu.send(`{"error": {"class": "DeviceNotFound", "desc": "Device 'nic9' not found"}, "id": "${cmd?.id}"}\r\n`);
    await assert.rejects(link, (err) => isQemuError(err, 'qmp_command_failed') && err.qmpClass === 'DeviceNotFound'
      && err.command === 'set_link' && /Device 'nic9' not found/.test(err.message));
    qmp.close();
  });

  test('a command QEMU does not answer times out with a clear error, and its late answer is dropped', async () => {
    const { qmp, qemu, notes } = await connected({ commandTimeoutMs: 50 });
    const slow = qmp.execute('query-migrate');
    const [, late] = await qemu.commands(2);
    await assert.rejects(slow, (err) => isQemuError(err, 'qmp_timeout') && /did not answer `query-migrate` within 50 ms/.test(err.message));
    const next = qmp.execute('query-status', undefined, { timeoutMs: 1_000 });
    const [, , cmd] = await qemu.commands(3);
    qemu.send(`{"return": {"status": "from the timed-out call"}, "id": "${late?.id}"}\r\n{"return": {"status": "running", "running": true}, "id": "${cmd?.id}"}\r\n`);
    assert.deepEqual(await next, { status: 'running', running: true }, 'the late answer never reaches the next caller');
    assert.ok(notes.some((n) => /unknown or timed-out request/.test(n)));
    qmp.close();
  });

  test('when QEMU goes away, pending commands fail with "QEMU went away", and so does anything after', async () => {
    const { qmp, qemu } = await connected();
    let closedWith = '';
    qmp.onClose((reason) => { closedWith = reason.code; });
    const waiting = qmp.execute('query-status');
    const event = qmp.waitForEvent('SHUTDOWN', { timeoutMs: 5_000 });
    await qemu.commands(2);
    qemu.send('{"return": {}, "id": "cordon-');
    qemu.hangUp();
    await assert.rejects(waiting, (err) => isQemuError(err, 'qemu_gone') && /QEMU went away/.test(err.message) && /query-status/.test(err.message));
    await assert.rejects(event.promise, (err) => isQemuError(err, 'qemu_gone'));
    await assert.rejects(qmp.execute('cont'), (err) => isQemuError(err, 'qemu_gone'));
    assert.equal(closedWith, 'qemu_gone');
    assert.equal(qmp.closed, true);
  });

  test('a peer that does not speak QMP is refused', async () => {
    const silent = new FakeQemu();
    await assert.rejects(QmpClient.over(silent, 'silent', { handshakeTimeoutMs: 50 }), (err) => isQemuError(err, 'qmp_protocol') && /No QMP greeting/.test(err.message));
    const chatty = new FakeQemu();
    const pending = QmpClient.over(chatty, 'chatty');
    chatty.send('SSH-2.0-OpenSSH_9.2\r\n');
    await assert.rejects(pending, (err) => isQemuError(err, 'qmp_protocol') && /not JSON/.test(err.message));
  });
});
