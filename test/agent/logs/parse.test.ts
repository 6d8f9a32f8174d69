// The parsers behind the log sources, on the lines real senders write: RFC 5424 (NILVALUEs, escaped structured data,
// the BOM), RFC 3164 with and without a host name, a host's log file lines, QEMU's timestamped stderr, and journald's
// JSON; garbage is refused with a reason and never throws.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { journalEntry, qemuLine } from '../../../agent/logs/collector.ts';
import { parseSyslog, parseSyslogFileLine } from '../../../agent/logs/syslog-parse.ts';

const NOW = Date.parse('2026-11-23T12:00:00Z');

test('RFC 5424: every header field, NILVALUEs, structured data with escapes, the BOM before a UTF-8 MSG', () => {
  const r = parseSyslog('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] \ufeffAn application event log entry...');
  assert.ok(r.ok);
  assert.deepEqual(r.value, {
    format: 'rfc5424', facility: 20, severity: 5, time: Date.parse('2003-10-11T22:14:15.003Z'), host: 'mymachine.example.com', app: 'evntslog', msgid: 'ID47',
    structuredData: '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]', message: 'An application event log entry...',
  });
  const esc = parseSyslog('<13>1 - - - - - [x@1 a="q\\"u\\]o\\\\te"] after');
  assert.ok(esc.ok);
  assert.equal(esc.value.structuredData, '[x@1 a="q\\"u\\]o\\\\te"]');
  assert.equal(esc.value.message, 'after');
  const nil = parseSyslog('<34>1 - - - - - -');
  assert.ok(nil.ok);
  assert.deepEqual([nil.value.message, nil.value.host, nil.value.time], ['', undefined, undefined]);
});

test('RFC 3164 as appliances send it, and the lines of /var/log/syslog', () => {
  const r = parseSyslog('<34>Oct 11 22:14:15 mymachine su: \'su root\' failed for lonvick on /dev/pts/8', NOW);
  assert.ok(r.ok);
  assert.deepEqual([r.value.facility, r.value.severity, r.value.host, r.value.app, r.value.message], [4, 2, 'mymachine', 'su', '\'su root\' failed for lonvick on /dev/pts/8']);
  assert.equal(new Date(r.value.time!).toISOString(), '2026-10-11T22:14:15.000Z', 'the year that puts it nearest now');
  const noHost = parseSyslog('<13>Nov 23 10:14:03 sshd[2211]: Accepted publickey', NOW);
  assert.ok(noHost.ok);
  assert.deepEqual([noHost.value.host, noHost.value.app, noHost.value.procid], [undefined, 'sshd', '2211']);
  const bare = parseSyslog('<13>just a message');
  assert.ok(bare.ok && bare.value.message === 'just a message');
  const file = parseSyslogFileLine('2026-11-23T10:14:04.120000+00:00 hv-01 kernel: br-prod: port 2 entered blocking state');
  assert.deepEqual([file.host, file.app, file.message, file.time], ['hv-01', 'kernel', 'br-prod: port 2 entered blocking state', Date.parse('2026-11-23T10:14:04.120Z')]);
  assert.equal(parseSyslogFileLine('Dec 31 23:59:59 h cron[1]: x', NOW).time, Date.UTC(2025, 11, 31, 23, 59, 59), 'a December line read in November is last year\'s');
});

test('garbage is refused with a reason, never thrown', () => {
  for (const [text, reason] of [
    ['no pri at all', /<PRI>/], ['<192>1 - - - - - -', /not one/], ['<013>x', /leading zero/], ['<13>1 yesterday h a p m - x', /TIMESTAMP/],
    ['<13>1 - h a p', /ends before MSGID/], [`<13>1 - ${'h'.repeat(256)} a p m -`, /length/], ['<13>1 - - - - - [unterminated', /STRUCTURED-DATA/],
  ] as const) {
    const r = parseSyslog(text);
    assert.ok(!r.ok, text);
    assert.match(r.reason, reason);
  }
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
    for (const t of [s, `<13>${s}`, `<13>1 ${s}`]) {
      const r = parseSyslog(t);
      if (r.ok) assert.equal(typeof r.value.message, 'string');
    }
  }), { seed: 20261123, numRuns: 500 });
});

test('QEMU\'s stderr with -msg timestamp=on, and journald\'s JSON', () => {
  assert.deepEqual(qemuLine('2026-11-23T10:14:31.866021Z qemu-system-x86_64: terminating on signal 15 from pid 4242 (node)'), {
    time: '2026-11-23T10:14:31.866021Z', app: 'qemu-system-x86_64', message: 'terminating on signal 15 from pid 4242 (node)', severity: 6,
  });
  assert.equal(qemuLine('qemu-system-x86_64: warning: host doesn\'t support requested feature').severity, 4);
  assert.equal(qemuLine('qemu-system-x86_64: -drive file=x: Could not open \'x\': No such file').severity, 3);
  const j = journalEntry('{"__CURSOR":"s=abc;i=1","__REALTIME_TIMESTAMP":"1795428843412345","PRIORITY":"3","SYSLOG_FACILITY":"4","_HOSTNAME":"hv-01","SYSLOG_IDENTIFIER":"sshd","_PID":"2211","MESSAGE":"error: maximum authentication attempts exceeded"}');
  assert.deepEqual(j, { cursor: 's=abc;i=1', entry: { source: 'journal', message: 'error: maximum authentication attempts exceeded', time: 1795428843412, severity: 3, facility: 4, host: 'hv-01', app: 'sshd', procid: '2211', origin: 'journal' } });
  assert.equal(journalEntry('{"MESSAGE":[104,105,255]}')?.entry.message, 'hi\ufffd', 'a message journald gives as bytes');
  assert.equal(journalEntry('not json'), undefined);
});
