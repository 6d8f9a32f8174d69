// The evaluation view's logic: sorting (numbers as numbers, missing last, stable), filtering by words, marking what
// the selected event names, splitting listeners from connections, and comparing two inspections.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { InspectedProcess, InspectedSocket, ThreatEvent, VmInspection } from '../../protocol/index.ts';
import { diffInspections, endpointText, filterRows, processMatches, socketMatches, sortRows, splitSockets } from '../../renderer/src/ui/inspect/inspect-model.ts';

const P = (pid: number, command: string, o: Partial<InspectedProcess> = {}): InspectedProcess => ({ pid, ppid: 1, user: 'root', command, name: command.split(' ')[0]!.split('/').pop()!, ...o });
const S = (localPort: number, state: string, o: Partial<InspectedSocket> = {}): InspectedSocket => ({ protocol: 'tcp', localAddress: '0.0.0.0', localPort, state, ...o });
const I = (processes: InspectedProcess[], sockets: InspectedSocket[]): VmInspection => ({ vmId: 'vm-1', at: '2026-11-23T10:00:00Z', source: 'sim-model', processes, sockets, services: [], resources: { processCount: processes.length } });

test('sorts numbers as numbers, keeps ties in order, puts missing values last', () => {
  const rows = [P(10, 'b', { rssKiB: 5 }), P(9, 'a'), P(100, 'c', { rssKiB: 40 }), P(2, 'd', { rssKiB: 5 })];
  assert.deepEqual(sortRows(rows, { key: 'pid', dir: 'asc' }).map((p) => p.pid), [2, 9, 10, 100]);
  assert.deepEqual(sortRows(rows, { key: 'rssKiB', dir: 'desc' }).map((p) => p.pid), [100, 10, 2, 9]);
  assert.deepEqual(sortRows(rows, { key: 'rssKiB', dir: 'asc' }).map((p) => p.pid), [10, 2, 100, 9]);
});

test('filters by every word, in any field, ignoring case', () => {
  const rows = [P(1, '/sbin/init'), P(57, 'nc -l -p 4444 -e /bin/sh', { user: 'www' }), P(58, 'httpd -p 80', { user: 'www' })];
  assert.deepEqual(filterRows(rows, 'WWW 4444').map((p) => p.pid), [57]);
  assert.deepEqual(filterRows(rows, '  ').map((p) => p.pid), [1, 57, 58]);
  assert.deepEqual(filterRows(rows, 'nothing'), []);
});

test('marks what the selected event names: its process by pid or name, its connection by address or port', () => {
  const e = { process: { pid: 3177, name: 'nc' }, connection: { protocol: 'tcp', direction: 'outbound', remoteAddress: '203.0.113.66', remotePort: 8443 } } as unknown as ThreatEvent;
  assert.ok(processMatches(P(3177, 'whatever'), e));
  assert.ok(processMatches(P(4000, '/usr/bin/nc -l'), e), 'the pid was reused, the name is the same');
  assert.ok(!processMatches(P(4001, 'sshd'), e));
  assert.ok(!processMatches(P(3177, 'x'), null));
  assert.ok(socketMatches(S(51512, 'ESTABLISHED', { remoteAddress: '203.0.113.66', remotePort: 8443 }), e));
  assert.ok(socketMatches(S(22, 'LISTEN', { pid: 3177 }), e));
  assert.ok(!socketMatches(S(22, 'LISTEN', { pid: 1 }), e));
  const listener = { connection: { protocol: 'tcp', direction: 'listen', localPort: 4444 } } as unknown as ThreatEvent;
  assert.ok(socketMatches(S(4444, 'LISTEN'), listener));
  assert.ok(!socketMatches(S(4444, 'UNCONN', { protocol: 'udp' }), listener), 'the same port on another protocol is another socket');
});

test('listeners apart from connections; two inspections compared', () => {
  const a = I([P(1, 'init'), P(57, 'nc -l -p 4444')], [S(4444, 'LISTEN', { pid: 57 }), S(68, 'UNCONN', { protocol: 'udp' })]);
  const b = I([P(1, 'init'), P(60, 'sh -i')], [S(68, 'UNCONN', { protocol: 'udp' }), S(40000, 'ESTABLISHED', { remoteAddress: '198.51.100.9', remotePort: 4444 })]);
  const split = splitSockets(b.sockets);
  assert.deepEqual(split.listening.map((s) => s.localPort), [68]);
  assert.deepEqual(split.connections.map((s) => s.localPort), [40000]);
  const d = diffInspections(a, b);
  assert.deepEqual(d.processes.appeared.map((p) => p.pid), [60]);
  assert.deepEqual(d.processes.vanished.map((p) => p.pid), [57]);
  assert.deepEqual(d.sockets.appeared.map((s) => s.localPort), [40000]);
  assert.deepEqual(d.sockets.vanished.map((s) => s.localPort), [4444]);
  assert.deepEqual(diffInspections(a, a), { processes: { appeared: [], vanished: [] }, sockets: { appeared: [], vanished: [] } });
  assert.equal(endpointText('::1', 22), '[::1]:22');
  assert.equal(endpointText('10.0.0.1', undefined), '10.0.0.1:*');
});
