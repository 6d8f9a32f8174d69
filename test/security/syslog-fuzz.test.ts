// Bad-input campaign (issue 8): syslog messages and log-file lines (agent/logs/syslog-parse.ts), then the log store
// that keeps them and the listener that takes them off the network. Whatever a sender writes: the parser answers a
// message or a reason (a short sentence that does not repeat the input), never throws, never gives a time that is not
// one; what the store keeps comes back as valid cordon.v1 log records; a real listener fed garbage over UDP and TCP
// keeps listening and still takes the next good message.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkLogRecord } from '../../protocol/index.ts';
import { LogStore, type LogEntry } from '../../agent/logs/store.ts';
import { parseSyslog, parseSyslogFileLine, syslogEntry, type ParsedSyslog, type SyslogParse } from '../../agent/logs/syslog-parse.ts';
import { SyslogListener } from '../../agent/logs/syslog-listener.ts';
import { BOUNDED, tempDir } from '../agent/helpers.ts';
import { record } from './campaign.ts';
import { anyString, assertClearError, assertNoLongEcho, assertPrototypesClean, damaged, INVALID_UTF8, invalidUtf8In, params, Tally } from './kit.ts';

const NOW = Date.UTC(2026, 10, 23, 12);
const VALID = [
  '<34>1 2026-11-23T10:14:15.003Z mymachine.example.com su - ID47 - \ufeff\'su root\' failed for lonvick on /dev/pts/8',
  '<165>1 2026-11-23T10:14:15.000003-07:00 192.0.2.1 myproc 8710 - [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event',
  '<13>Nov 23 10:14:03 web-01 sshd[812]: Accepted password for root from 203.0.113.66 port 4444 ssh2',
  '<86>2026-11-23T10:14:03.112+01:00 web-01 sudo: pam_unix(sudo:session): session opened for user root',
];
const FILE_LINES = [
  'Nov 23 10:14:03 hv-lab-01 qemu-system-x86_64[4242]: terminating on signal 15 from pid 1',
  '2026-11-23T10:14:03.112233+01:00 hv-lab-01 kernel: [ 12.345] br0: port 1(tap0) entered forwarding state',
];

/** A parse answer that keeps the contract; returns whether the text was refused. */
function checkParse(r: SyslogParse, text: string): boolean {
  if (!r.ok) {
    assertClearError(r.reason, 300);
    assertNoLongEcho(r.reason, text);
    return true;
  }
  checkParsed(r.value);
  return false;
}

function checkParsed(p: ParsedSyslog): void {
  assert.equal(typeof p.message, 'string');
  if (p.time !== undefined) assert.ok(Number.isFinite(p.time), `a time is a time, not ${p.time}`);
  if (p.severity !== undefined) assert.ok(Number.isInteger(p.severity) && p.severity >= 0 && p.severity <= 7);
  if (p.facility !== undefined) assert.ok(Number.isInteger(p.facility) && p.facility >= 0 && p.facility <= 23);
  for (const k of ['host', 'app', 'procid', 'msgid', 'structuredData'] as const) if (p[k] !== undefined) assert.equal(typeof p[k], 'string');
}

/** Parses `text` as the listener and as the file follower do; returns whether the listener refused it. */
function judge(text: string): boolean {
  let refused = false;
  try {
    refused = checkParse(parseSyslog(text, NOW), text);
    checkParsed(parseSyslogFileLine(text, NOW));
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    assert.fail(`the parser threw on ${JSON.stringify(text.slice(0, 200))}: ${(err as Error).stack ?? String(err)}`);
  }
  return refused;
}

function assertStillParses(): void {
  for (const v of VALID) assert.ok(parseSyslog(v, NOW).ok, v);
  assert.equal(parseSyslogFileLine(FILE_LINES[0]!, NOW).app, 'qemu-system-x86_64');
  assertPrototypesClean();
}

/** Syslog-shaped text: a PRI (good or not), a version, header fields and a message, each possibly hostile. */
const field = fc.oneof(fc.constantFrom('-', 'web-01', 'sshd', '812', 'ID47', '', ' ', '\x1b]0;x\x07', '<img src=x onerror=alert(1)>', '__proto__'), fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 30 }));
const syslogLike = fc.record({
  pri: fc.oneof(fc.integer({ min: 0, max: 191 }).map(String), fc.constantFrom('', '192', '999', '0000', '007', '-1', '1e3', 'x'), fc.string({ maxLength: 5 })),
  version: fc.constantFrom('1 ', '', '2 ', '1', '01 '),
  time: fc.oneof(fc.constantFrom('-', '2026-11-23T10:14:15Z', '2026-13-45T25:61:61Z', '2026-02-30T24:00:00Z', '9999-99-99T99:99:99.999999999+99:99', '0000-00-00T00:00:00Z',
    'Nov 23 10:14:03', 'Feb 30 25:61:61', 'Dec 99 99:99:99', 'Jan  0 00:00:00', '2026-11-23T10:14:15'), fc.string({ maxLength: 40 })),
  host: field, app: field, procid: field, msgid: field,
  sd: fc.oneof(fc.constantFrom('-', '[a b="c"]', '[a b="c\\"]', '[a', '[', '[x="]"][y]', '[a b="\\', ''), fc.string({ maxLength: 60 })),
  msg: fc.oneof(anyString, fc.constantFrom('\ufeffhello', '\x1b]52;c;aGk=\x07', '<script>alert(1)</script>', 'a\0b\r\n')),
}).map((r) => `<${r.pri}>${r.version}${r.time} ${r.host} ${r.app} ${r.procid} ${r.msgid} ${r.sd} ${r.msg}`);

const cases: { kind: string; arb: fc.Arbitrary<string>; runs: number; outcome: string }[] = [
  { kind: 'random strings (lone surrogates included)', arb: anyString, runs: 1000, outcome: 'Refused with a reason (no <PRI>, bad PRI, malformed header) or parsed; no throw.' },
  { kind: 'syslog-shaped messages with hostile PRI, times, header fields and structured data', arb: syslogLike, runs: 2000,
    outcome: 'Each was parsed or refused with a reason under 300 characters; an impossible time (2026-13-45T25:61:61Z) is no time, never NaN.' },
  { kind: 'valid messages cut short or with a character spliced in', arb: damaged([...VALID, ...FILE_LINES]), runs: 600, outcome: 'Parsed leniently (RFC 3164) or refused with a reason.' },
  { kind: 'invalid UTF-8 bytes (decoded as the listener decodes them)', arb: fc.constantFrom(...VALID).chain((v) => invalidUtf8In(Buffer.from(v))).map((b) => b.toString('utf8')), runs: 400,
    outcome: 'Replacement characters are kept as text; no throw.' },
];

for (const c of cases) {
  test(`syslog parser: ${c.kind}`, () => {
    const t = new Tally();
    fc.assert(fc.property(c.arb, (text) => { t.count(judge(text)); }), params(c.runs));
    assertStillParses();
    record({ campaign: 'bad-input', target: 'syslog message and log-file line', kind: c.kind, tried: t.tried, refused: t.refused, crashes: 0, outcome: c.outcome });
  });
}

test('syslog parser: oversized messages and pathological structured data', () => {
  const t = new Tally();
  const big = 'A'.repeat(4 * 1024 * 1024);
  const texts = [
    `<13>1 - - - - - ${big}`, `<13>1 - ${big} - - - - x`, `<13>1 - - - - - [${'a b="c" '.repeat(200_000)}] x`, `<13>1 - - - - - [a b="${'\\'.repeat(1_000_000)}`,
    `<13>1 - - - - - ${'['.repeat(1_000_000)}`, `<13>${'Nov 23 10:14:03 '.repeat(100_000)}`, `<13>${'x:'.repeat(1_000_000)}`, `<${'1'.repeat(1_000_000)}>`,
    `<13>${' '.repeat(2_000_000)}`, big, `${'2026-11-23T10:14:03Z '.repeat(100_000)}`,
  ];
  for (const text of texts) t.count(judge(text));
  assertStillParses();
  record({ campaign: 'bad-input', target: 'syslog message and log-file line', kind: 'oversized messages (up to 4 MiB) and pathological structured data', tried: t.tried, refused: t.refused, crashes: 0,
    outcome: 'Linear-time parsing: each answered without a throw; the reasons name no part of the input.' });
});

test('syslog into the log store: whatever was parsed comes back as valid cordon.v1 log records', BOUNDED, (tc) => {
  const store = LogStore.open({ dir: tempDir(tc), agentId: 'hv-test', flushMs: 0, note: () => {}, now: () => NOW });
  try {
    const t = new Tally();
    const entries: LogEntry[] = [];
    fc.assert(fc.property(fc.oneof(syslogLike, anyString, damaged(VALID)), (text) => {
      const r = parseSyslog(text, NOW);
      const p = r.ok ? r.value : parseSyslogFileLine(text, NOW);
      entries.push(syslogEntry(p, { origin: 'udp://192.0.2.1:514' }));
      t.count(!r.ok);
    }), params(1500));
    store.append(entries);
    store.flush();
    let seen = 0;
    let before: number | undefined;
    for (;;) {
      const page = store.query({ limit: 500, ...(before !== undefined ? { before } : {}) });
      for (const rec of page.records) {
        const checked = checkLogRecord(rec);
        assert.ok(checked.ok, checked.ok ? '' : `${checked.error.message}: ${JSON.stringify(rec).slice(0, 300)}`);
        seen++;
      }
      if (page.next === undefined) break;
      before = page.next;
    }
    assert.equal(seen, entries.length, 'every entry was kept and read back');
    record({ campaign: 'bad-input', target: 'agent log store (syslog records)', kind: 'parsed hostile syslog messages stored and read back', tried: t.tried, refused: 0, crashes: 0,
      outcome: 'Every parsed message was stored and read back as a schema-valid log record (bad times replaced by the arrival time).' });
  } finally {
    store.close();
  }
});

test('a real syslog listener fed garbage over UDP and TCP keeps listening and takes the next good message', BOUNDED, async () => {
  const got: ParsedSyslog[] = [];
  const refusals: string[] = [];
  const listener = await SyslogListener.listen({ host: '127.0.0.1', port: 0, maxMessageBytes: 8192, onMessage: (m) => got.push(m), onRefused: (r) => refusals.push(r) });
  const udp = createSocket('udp4');
  try {
    const hostile: Buffer[] = [
      ...INVALID_UTF8, Buffer.from('no pri at all'), Buffer.from('<999>1 - - - - - x'), Buffer.from('<13>1 2026-13-45T25:61:61Z h a p m - x'), Buffer.alloc(9000, 0x41),
      Buffer.concat([Buffer.from('<13>1 - - - - - '), Buffer.from([0xff, 0xfe, 0xc0, 0xaf]), Buffer.from('\x1b]52;c;aGk=\x07<script>alert(1)</script>')]),
      Buffer.from('<13>1 - - - - [a b="\\'), Buffer.alloc(0),
    ];
    for (const h of hostile) udp.send(h, listener.port, '127.0.0.1');
    udp.send(Buffer.from('<13>1 - web-01 good - - - after the UDP garbage'), listener.port, '127.0.0.1');
    const open = async () => {
      const sock = connect(listener.port, '127.0.0.1');
      await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
      return sock;
    };
    // An octet count past the limit makes the listener skip that many bytes: alone on its connection.
    const liar = await open();
    liar.write('99999999 <13>1 - - - - - huge\n');
    // Raw garbage, invalid UTF-8, a line over the limit, odd counts, then a good line.
    const tcp = await open();
    const tcpHostile = [Buffer.from([0xff, 0x80]), Buffer.alloc(20_000, 0x42), Buffer.from('-5 <13>x'), Buffer.from('<13>1 - - - - [a b="\\'), Buffer.from('<13>1 - - - - - \x1b]0;title\x07')];
    for (const h of tcpHostile) tcp.write(Buffer.concat([h, Buffer.from('\n')]));
    tcp.write('<13>1 - web-01 good - - - after the TCP garbage\n');
    const deadline = Date.now() + 10_000;
    while (!(got.some((m) => m.message === 'after the UDP garbage') && got.some((m) => m.message === 'after the TCP garbage')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    tcp.destroy();
    liar.destroy();
    assert.ok(got.some((m) => m.message === 'after the UDP garbage'), 'the good datagram after the garbage arrived');
    assert.ok(got.some((m) => m.message === 'after the TCP garbage'), 'the good TCP line after the garbage arrived');
    for (const m of got) checkParsed(m);
    for (const r of refusals) assertClearError(r, 300);
    assert.ok(refusals.length > 0, 'garbage was refused with reasons');
    const tried = hostile.length + 1 + tcpHostile.length;
    record({ campaign: 'bad-input', target: 'syslog listener (real UDP and TCP sockets)', kind: 'invalid UTF-8, oversized datagrams and frames, lying octet counts, bad PRI', tried,
      refused: refusals.length, crashes: 0, outcome: 'Each refused with a reason or kept as text; the listener went on and took the good messages that followed.' });
  } finally {
    udp.close();
    await listener.close();
  }
});
