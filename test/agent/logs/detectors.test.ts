// Suricata's EVE alerts and Falco's JSON alerts, from sample lines in their documented formats, become Cordon threat
// events with the severity, verdict, category and ATT&CK technique they should have, on the VM their addresses or
// container name point to (or the host); other lines are left alone. Then for real: an agent following the two files
// numbers the alerts appended to them and sends them to a subscribed cockpit like any event.
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkThreatEvent, type ThreatEvent, type Vm } from '../../../protocol/index.ts';
import { falcoEvent } from '../../../agent/detectors/falco.ts';
import { suricataEvent } from '../../../agent/detectors/suricata.ts';
import { HOST_VM_ID, vmMatcher } from '../../../agent/logs/vm-match.ts';
import { BOUNDED, detectorAgent } from '../helpers.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const lines = (file: string) => readFileSync(join(FIXTURES, file), 'utf8').split('\n').filter((l) => l.length > 0);

const VMS: Vm[] = [
  { id: 'vm-web-01', name: 'web-01', state: 'running', networks: [{ name: 'eth0', ip: '10.20.10.11' }] },
  { id: 'vm-desk-01', name: 'desk-01', state: 'running', networks: [{ name: 'eth0', ip: '10.20.40.11' }] },
  { id: 'vm-db-01', name: 'db-01', state: 'running', networks: [{ name: 'eth0', ip: '10.20.20.11' }] },
  { id: 'vm-dns-01', name: 'dns-01', state: 'running', networks: [{ name: 'eth0', ip: '10.20.20.13' }] },
];
const ctx = { agentId: 'hv-lab-01', vms: vmMatcher(() => VMS), hostName: 'hv-lab-01' };

function valid(e: ThreatEvent | undefined): ThreatEvent {
  assert.ok(e, 'an event');
  const r = checkThreatEvent(e);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return e;
}

test('Suricata EVE: alerts become events; priority, Critical metadata, ATT&CK ids, direction and VM are mapped', BOUNDED, () => {
  const [docs2, docs1, c2, log4j, dns, flow, stats, garbage] = lines('suricata-eve.jsonl').map((l) => suricataEvent(l, ctx));
  assert.deepEqual([flow, stats, garbage], [undefined, undefined, undefined], 'flows, stats and garbage are not events');

  const d2 = valid(docs2);
  assert.deepEqual([d2.severity, d2.verdict, d2.category, d2.vmId], ['medium', 'suspicious', 'network', HOST_VM_ID]);
  assert.equal(d2.title, 'ET HUNTING GENERIC SUSPICIOUS POST to Dotted Quad with Fake Browser 1');
  assert.equal(d2.time, '2017-04-07T21:24:37.251Z', '+0100 made into UTC');
  assert.equal(d2.mitre, undefined, 'no ATT&CK metadata, no technique');
  assert.equal(valid(docs1).severity, 'high');
  assert.equal(docs1!.verdict, 'malicious');

  const beacon = valid(c2);
  assert.deepEqual([beacon.severity, beacon.verdict, beacon.vmId, beacon.vmName], ['high', 'malicious', 'vm-desk-01', 'desk-01']);
  assert.deepEqual(beacon.mitre, { techniqueId: 'T1071', technique: 'Application Layer Protocol', tactic: 'command-and-control' });
  assert.deepEqual(beacon.connection, { protocol: 'tcp', direction: 'outbound', localAddress: '10.20.40.11', localPort: 49822, remoteAddress: '203.0.113.66', remotePort: 8443 });
  assert.deepEqual(beacon.sensor, { id: 'suricata', kind: 'ids' });

  const exploit = valid(log4j);
  assert.deepEqual([exploit.severity, exploit.verdict, exploit.vmId], ['critical', 'malicious', 'vm-web-01'], 'signature_severity Critical raises it');
  assert.deepEqual(exploit.mitre, { techniqueId: 'T1190', technique: 'Exploit Public Facing Application', tactic: 'initial-access' });
  assert.equal(exploit.connection?.direction, 'inbound');
  assert.equal(exploit.connection?.localAddress, '10.20.10.11');

  const info = valid(dns);
  assert.deepEqual([info.severity, info.verdict, info.connection?.direction, info.connection?.protocol, info.vmId], ['low', 'suspicious', 'internal', 'udp', 'vm-dns-01']);
  assert.equal(suricataEvent(lines('suricata-eve.jsonl')[2]!, ctx)!.id, beacon.id, 'the same line, the same id');
});

test('Falco JSON: priorities, tags to ATT&CK, process, file and connection, container name to VM', BOUNDED, () => {
  const [shell, shadow, c2, escape, debug, noRule] = lines('falco.jsonl').map((l) => falcoEvent(l, ctx));
  assert.equal(noRule, undefined, 'a line without a rule is not an alert');

  const s = valid(shell);
  assert.deepEqual([s.severity, s.verdict, s.category, s.vmId, s.title], ['low', 'suspicious', 'process', 'vm-web-01', 'Terminal shell in container']);
  assert.deepEqual(s.mitre, { techniqueId: 'T1059', tactic: 'execution' });
  assert.deepEqual(s.process, { pid: 2305, ppid: 2290, name: 'sh', commandLine: 'sh -i', executable: '/bin/busybox', user: 'root', parentName: 'runc' });
  assert.equal(s.time, '2026-11-23T10:14:02.117Z');
  assert.deepEqual(s.sensor, { id: 'falco', kind: 'ids' });

  const f = valid(shadow);
  assert.deepEqual([f.severity, f.verdict, f.category], ['medium', 'suspicious', 'file']);
  assert.deepEqual(f.file, { path: '/etc/shadow', operation: 'read' });
  assert.deepEqual(f.mitre, { techniqueId: 'T1555', tactic: 'credential-access' });

  const n = valid(c2);
  assert.deepEqual([n.category, n.vmId], ['network', 'vm-desk-01'], 'the connection\'s local address is the VM\'s');
  assert.deepEqual(n.connection, { protocol: 'tcp', direction: 'outbound', localAddress: '10.20.40.11', remoteAddress: '203.0.113.66', localPort: 49822, remotePort: 8443 });
  assert.equal(n.mitre, undefined, 'a tactic id alone (TA0011) is not a technique');

  const e = valid(escape);
  assert.deepEqual([e.severity, e.verdict, e.category, e.vmId], ['critical', 'malicious', 'escape', 'vm-desk-01']);
  assert.deepEqual(e.mitre, { techniqueId: 'T1611', tactic: 'privilege-escalation' });

  const d = valid(debug);
  assert.deepEqual([d.severity, d.verdict, d.vmId], ['info', 'benign', HOST_VM_ID]);
  for (const [prio, sev] of [['Emergency', 'critical'], ['Alert', 'critical'], ['Error', 'high'], ['Informational', 'info']] as const) {
    assert.equal(falcoEvent(JSON.stringify({ rule: 'r', priority: prio, time: '2026-11-23T10:00:00Z' }), ctx)?.severity, sev, prio);
  }
});

test('an agent following Suricata and Falco files numbers their new alerts and serves them as events', BOUNDED, async (t) => {
  // What is in the files before the agent starts is history: it begins at their end.
  const { eve, falco, cockpit: c } = await detectorAgent(t, `${lines('suricata-eve.jsonl')[1]}\n`);
  appendFileSync(eve, `${lines('suricata-eve.jsonl').join('\n')}\n`);
  appendFileSync(falco, `${lines('falco.jsonl').slice(0, 4).join('\n')}\n`);
  const events = await c.events(9, 15_000);
  const bySensor = (id: string) => events.filter((e) => e.event.sensor.id === id).map((e) => e.event);
  assert.equal(bySensor('suricata').length, 5, 'five alerts, and nothing of the flow, the stats and the garbage');
  assert.equal(bySensor('falco').length, 4);
  const seqs = events.map((e) => e.seq);
  assert.deepEqual(seqs, seqs.map((_, i) => seqs[0]! + i), 'numbered by the agent\'s event log like every event');
  assert.ok(bySensor('suricata').some((e) => e.title.includes('log4j') && e.severity === 'critical' && e.mitre?.techniqueId === 'T1190'));
  assert.ok(bySensor('falco').some((e) => e.category === 'escape' && e.mitre?.techniqueId === 'T1611'));
  // The sim (seed 42) has web-01 at 10.20.10.11 and desk-01 at 10.20.40.11: the alerts land on those VMs.
  const inventory = (c.received.find((m) => m.type === 'inventory') as { vms: Vm[] }).vms;
  const web = inventory.find((v) => v.name === 'web-01')!;
  assert.ok(bySensor('suricata').some((e) => e.vmId === web.id && e.vmName === 'web-01'));
  assert.ok(bySensor('falco').some((e) => e.vmId === web.id), 'container name web-01 is the VM web-01');
  assert.deepEqual(c.invalid, []);
});
