// The syslog exporter against real UDP and TCP servers in the test: RFC 5424 messages (read back with the agent's
// own syslog parser, a second implementation), structured-data escaping of ']', '"' and '\', octet-counted TCP
// frames, the OCSF JSON as MSG; a bounded queue that drops and counts when nobody listens; and reconnection with
// backoff, the queued messages delivered in order once a collector is there.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import type { EventMessage, ThreatEvent } from '../../protocol/index.ts';
import { parseSyslog } from '../../agent/logs/syslog-parse.ts';
import { escapeSdValue, formatSyslog, structuredData, SyslogExporter } from '../../main/export/syslog-export.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const beacon = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'protocol', 'examples', 'wire', 'event-c2-beacon.json'), 'utf8')) as EventMessage;
const fe = (seq: number, event: ThreatEvent = beacon.event) => ({ agentId: 'hv-prod-07', seq, event });

/** Reads RFC 6587 octet-counted frames from a socket. */
function frames(socket: Socket, onFrame: (text: string) => void): void {
  let buf = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const sp = buf.indexOf(0x20);
      if (sp < 0) return;
      const len = Number(buf.subarray(0, sp).toString());
      if (buf.length < sp + 1 + len) return;
      onFrame(buf.subarray(sp + 1, sp + 1 + len).toString('utf8'));
      buf = buf.subarray(sp + 1 + len);
    }
  });
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

test('SD-PARAM values escape \'"\', \'\\\' and \']\' (RFC 5424 §6.3.3); names stay printable', () => {
  assert.equal(escapeSdValue('a"b\\c]d'), 'a\\"b\\\\c\\]d');
  assert.equal(structuredData('cordon@32473', { vm: 'x]"\\y', 'bad name=': 'v' }), '[cordon@32473 vm="x\\]\\"\\\\y" bad_name_="v"]');
  const hostile: ThreatEvent = { ...beacon.event, vmName: 'doc]viewer"07\\', title: 'line one\nline two\u0007 ] " \\' };
  const text = formatSyslog(fe(9, hostile));
  assert.ok(!/[\r\n]/.test(text), 'one line');
  const parsed = parseSyslog(text);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
  assert.match(parsed.value.structuredData!, /vmName="doc\\]viewer\\"07\\\\"/);
  assert.equal(parsed.value.message, 'high malicious network on doc]viewer"07\\: line one line two  ] " \\ (T1071.001)');
});

test('over UDP: one RFC 5424 message per datagram, PRI from facility and severity, the event in STRUCTURED-DATA', async (t) => {
  const server = createSocket('udp4');
  const got: string[] = [];
  server.on('message', (m) => got.push(m.toString('utf8')));
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', () => r()));
  t.after(() => server.close());
  const exporter = new SyslogExporter({ host: '127.0.0.1', port: server.address().port, transport: 'udp', facility: 10 });
  t.after(() => exporter.close(0));
  const critical: ThreatEvent = { ...beacon.event, severity: 'critical' };
  assert.ok(exporter.send(fe(1843)));
  assert.ok(exporter.send(fe(1844, critical)));
  await until(() => got.length === 2);
  const [a, b] = got.map((g) => parseSyslog(g)) as [ReturnType<typeof parseSyslog>, ReturnType<typeof parseSyslog>];
  assert.ok(a.ok && b.ok);
  assert.deepEqual([a.value.facility, a.value.severity], [10, 3], 'authpriv, high → error');
  assert.equal(b.value.severity, 2, 'critical → critical');
  assert.deepEqual([a.value.host, a.value.app, a.value.msgid], ['hv-prod-07', 'cordon', 'threat-event']);
  assert.equal(a.value.time, Date.parse(beacon.event.time));
  assert.match(a.value.structuredData!, /^\[cordon@32473 agent="hv-prod-07" seq="1843" event="01KB8Z2Q4JX7D3M9R6T5W0HC1E" vm="mvm-docview-07"/);
  assert.match(a.value.structuredData!, /technique="T1071\.001"\]$/);
  assert.equal(exporter.snapshot().sent, 2);
});

test('over TCP: octet-counted frames, OCSF JSON as MSG, in order', async (t) => {
  const got: string[] = [];
  const open: Socket[] = [];
  const server = createServer((s) => {
    open.push(s);
    frames(s, (f) => got.push(f));
  });
  const port = await listen(server);
  t.after(() => new Promise<void>((r) => { for (const x of open) x.destroy(); server.close(() => r()); }));
  const exporter = new SyslogExporter({ host: '127.0.0.1', port, transport: 'tcp', format: 'ocsf' });
  t.after(() => exporter.close(0));
  for (let i = 1; i <= 50; i++) exporter.send(fe(i));
  await until(() => got.length === 50);
  const seqs = got.map((g) => {
    const p = parseSyslog(g);
    assert.ok(p.ok);
    assert.equal(p.value.msgid, 'ocsf-2004');
    const ocsf = JSON.parse(p.value.message) as { class_uid: number; metadata: { sequence: number } };
    assert.equal(ocsf.class_uid, 2004);
    return ocsf.metadata.sequence;
  });
  assert.deepEqual(seqs, Array.from({ length: 50 }, (_, i) => i + 1));
  for (const g of got) assert.ok(Buffer.byteLength(g) <= 16 * 1024);
});

test('nobody listening: the queue stays bounded and counts drops; a collector that appears gets the queue in order; a cut connection is made again', async (t) => {
  // A port that is free now: nobody listens there until the server below starts.
  const probe = createServer();
  const port = await listen(probe);
  await new Promise<void>((r) => probe.close(() => r()));
  const exporter = new SyslogExporter({ host: '127.0.0.1', port, transport: 'tcp', queueLimit: 100, backoff: { baseMs: 20, maxMs: 100 } });
  t.after(() => exporter.close(0));
  const started = performance.now();
  let accepted = 0;
  for (let i = 1; i <= 1000; i++) if (exporter.send(fe(i))) accepted++;
  assert.ok(performance.now() - started < 500, 'send() never waits for the network');
  assert.equal(accepted, 100);
  await new Promise((r) => setTimeout(r, 100));
  const s = exporter.snapshot();
  assert.deepEqual([s.queued, s.dropped, s.connected], [100, 900, false]);
  assert.match(s.lastError ?? '', /ECONNREFUSED/);

  const got: string[] = [];
  const sockets: Socket[] = [];
  const server = createServer((sock) => {
    sockets.push(sock);
    frames(sock, (f) => got.push(f));
  });
  await listen(server, port);
  t.after(() => new Promise<void>((r) => { for (const x of sockets) x.destroy(); server.close(() => r()); }));
  await until(() => got.length === 100, 10_000);
  const seqOf = (g: string) => Number(/seq="(\d+)"/.exec(g)![1]);
  assert.deepEqual(got.map(seqOf), Array.from({ length: 100 }, (_, i) => i + 1), 'the queue, in order');
  assert.equal(exporter.snapshot().reconnects, 0, 'a first connection is not a reconnect');

  for (const x of sockets) x.destroy();
  await until(() => !exporter.snapshot().connected || exporter.snapshot().reconnects > 0);
  await until(() => exporter.snapshot().connected && exporter.snapshot().reconnects === 1, 5000);
  exporter.send(fe(2001));
  await until(() => got.length === 101);
  assert.equal(seqOf(got[100]!), 2001);
});
