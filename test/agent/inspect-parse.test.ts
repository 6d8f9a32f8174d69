// Reading a busybox guest's answer to the inspection script: processes with their parents and users, sockets from
// /proc/net with the process that owns each, listeners as services, memory, load and CPU; and a hostile or cut answer
// read as far as it goes, with warnings, never trusted.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { checkCockpitInspection } from '../../protocol/index.ts';
import { INSPECT_SCRIPT, MARK, parseInspection } from '../../agent/inspect/guest-shell.ts';

const AT = '2026-11-23T10:00:00.000Z';
const sample = (parts: Record<string, string[]>) => Object.entries(parts).map(([k, lines]) => [`${MARK} ${k}`, ...lines].join('\r\n')).join('\r\n');

const GUEST = sample({
  ps: [
    'PID   PPID  USER     STAT  RSS  COMMAND',
    '    1     0 root     S     1024 /bin/sh /init',
    '   57     1 root     S      892 nc -l -p 4444 -e /bin/sh',
    '   58     1 www      S      14m /usr/sbin/httpd -f -p 80',
    '   61    57 root     R      700 ps -o pid,ppid,user,stat,rss,args',
    '  junk line that is not a process',
  ],
  tcp: [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000:115C 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4321 1 0000000000000000 100 0 0 10 0',
    '   1: 1101A8C0:0050 0201A8C0:D431 01 00000000:00000000 00:00000000 00000000     0        0 4400 1 0000000000000000 20 4 30 10 -1',
    '   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4500 1 0000000000000000 100 0 0 10 0',
  ],
  udp: [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
    '  12: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4600 2 0000000000000000 0',
  ],
  fd: ['57 socket:[4321]', '58 socket:[4400]', '1 socket:[4600]', '58 pipe:[9]'],
  comm: ['1 sh', '57 nc', '58 httpd', '61 ps'],
  mem: ['MemTotal:         245600 kB', 'MemFree:          180000 kB', 'MemAvailable:     200000 kB'],
  load: ['0.42 0.10 0.03 2/40 61', '123.45 100.00'],
  stat: ['cpu  100 0 100 800 0 0 0 0 0 0', 'cpu  150 0 150 900 0 0 0 0 0 0'],
  end: [],
});

test('a busybox guest\'s answer: processes, sockets and their owners, listeners, resources', () => {
  const i = parseInspection(GUEST, 'vm-1', AT);
  assert.ok(checkCockpitInspection({ agentId: 'hv-1', inspection: i }).ok, 'valid for the cockpit');
  assert.deepEqual(i.processes.map((p) => [p.pid, p.ppid, p.user, p.name]), [[1, 0, 'root', 'sh'], [57, 1, 'root', 'nc'], [58, 1, 'www', 'httpd'], [61, 57, 'root', 'ps']]);
  assert.equal(i.processes[1]!.command, 'nc -l -p 4444 -e /bin/sh');
  assert.equal(i.processes[2]!.rssKiB, 14 * 1024, 'busybox writes 14m for 14 MiB');
  const nc = i.sockets.find((s) => s.localPort === 4444)!;
  assert.deepEqual(nc, { protocol: 'tcp', localAddress: '0.0.0.0', localPort: 4444, state: 'LISTEN', pid: 57, program: 'nc' });
  const web = i.sockets.find((s) => s.localPort === 80)!;
  assert.deepEqual(web, { protocol: 'tcp', localAddress: '192.168.1.17', localPort: 80, remoteAddress: '192.168.1.2', remotePort: 54321, state: 'ESTABLISHED', pid: 58, program: 'httpd' });
  assert.deepEqual(i.sockets.find((s) => s.localPort === 22), { protocol: 'tcp', localAddress: '::', localPort: 22, state: 'LISTEN' }, 'an IPv6 listener nobody owns (no fd seen)');
  assert.deepEqual(i.sockets.find((s) => s.protocol === 'udp'), { protocol: 'udp', localAddress: '0.0.0.0', localPort: 68, state: 'UNCONN', pid: 1, program: 'sh' });
  assert.deepEqual(i.services.map((s) => s.name).sort(), ['? tcp/22', 'nc tcp/4444', 'sh udp/68']);
  assert.deepEqual(i.resources, { processCount: 4, cpuPercent: 50, memTotalKiB: 245600, memAvailableKiB: 200000, load1: 0.42, uptimeS: 123.45 });
  assert.equal(i.warnings, undefined);
});

test('a cut or hostile answer is read as far as it goes and says so', () => {
  const cut = parseInspection(GUEST.slice(0, GUEST.indexOf(`${MARK} udp`)), 'vm-1', AT);
  assert.match(cut.warnings?.join(' ') ?? '', /ended early/);
  assert.equal(cut.processes.length, 4);
  const hostile = sample({
    ps: ['PID   PPID  USER     STAT  RSS  COMMAND', `   66     1 root     S     10 <img src=x onerror=alert(1)> \x1b]52;c;aGk=\x07 ${'A'.repeat(20_000)}`, '99999999999 1 root S 1 too-big-pid'],
    tcp: ['   0: ZZZZZZZZ:115C 00000000:0000 0A 0 0 0 0 0 4321'],
    end: [],
  });
  const h = parseInspection(hostile, 'vm-1', AT);
  assert.equal(h.processes.length, 1, 'a pid beyond 32 bits is not a process');
  assert.ok(h.processes[0]!.command.startsWith('<img src=x onerror=alert(1)> \x1b]52;c;aGk=\x07'), 'kept as data, as the guest wrote it');
  assert.equal(h.processes[0]!.command.length, 8192, 'bounded');
  assert.deepEqual(h.sockets, []);
  assert.ok(checkCockpitInspection({ agentId: 'hv-1', inspection: h }).ok);
});

test('the script prints every section the parser reads, and its end marker last', () => {
  assert.match(INSPECT_SCRIPT, new RegExp(`echo "${MARK} end"$`));
  for (const section of ['ps', 'tcp', 'udp', 'fd', 'comm', 'mem', 'load', 'stat']) assert.ok(INSPECT_SCRIPT.includes(`echo "${MARK} ${section}"`), section);
});
