// Threat events as OCSF Detection Findings: every protocol example and every severity, checked against the OCSF
// schema's requirements (test/export/ocsf-detection-finding.schema.json, written from the OCSF sources), and each
// mapping that a SIEM relies on: class and type ids, severity, time in milliseconds, the ATT&CK technique, evidences.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';
import type { EventMessage, ThreatEvent } from '../../protocol/index.ts';
import { toOcsf } from '../../main/export/ocsf.ts';

const schema = JSON.parse(readFileSync(join(import.meta.dirname, 'ocsf-detection-finding.schema.json'), 'utf8')) as object;
const validate = new Ajv2020({ strict: false, allErrors: true }).compile(schema);
const example = (name: string) => (JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'protocol', 'examples', 'wire', name), 'utf8')) as EventMessage);
const EXAMPLES = ['event-c2-beacon.json', 'event-file-drop.json', 'event-nc-listener.json', 'event-escape-attempt.json'].map(example);

/** The finding, once the schema accepted it, as loose JSON the asserts walk (OCSF objects are open). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;
function checked(finding: object): Loose {
  assert.ok(validate(finding), JSON.stringify(validate.errors, null, 1));
  return finding as Loose;
}

test('every example event is a valid OCSF 1.x Detection Finding with its identity kept', () => {
  for (const m of EXAMPLES) {
    const f = checked(toOcsf({ agentId: m.event.agentId, seq: m.seq, event: m.event }, { productVersion: '0.1.0' }));
    assert.deepEqual([f.class_uid, f.category_uid, f.activity_id, f.type_uid], [2004, 2, 1, 200401], 'type_uid = class_uid × 100 + activity_id');
    assert.equal(f.time, Date.parse(m.event.time), 'milliseconds since the epoch');
    assert.equal(f.finding_info.uid, `hv-prod-07:${m.event.id}`);
    assert.equal(f.finding_info.title, m.event.title);
    assert.deepEqual(f.finding_info.analytic, { type_id: 1, type: 'Rule', name: m.event.sensor.id, uid: `${m.event.sensor.kind}:${m.event.sensor.id}` });
    assert.deepEqual(f.metadata.product, { name: 'Cordon', vendor_name: 'Cordon', version: '0.1.0', feature: { name: m.event.sensor.id } });
    assert.equal(f.metadata.sequence, m.seq);
    assert.equal(f.resources[0].uid, m.event.vmId);
    assert.equal(f.unmapped.cordon.verdict, m.event.verdict);
  }
});

test('severity, confidence and alert follow the event: info 1 … critical 5', () => {
  const base = EXAMPLES[0]!.event;
  const ids = (['info', 'low', 'medium', 'high', 'critical'] as const).map((severity) => checked(toOcsf({ agentId: 'a', seq: 1, event: { ...base, severity } })).severity_id);
  assert.deepEqual(ids, [1, 2, 3, 4, 5]);
  const benign = checked(toOcsf({ agentId: 'a', seq: 1, event: { ...base, verdict: 'benign' } }));
  assert.deepEqual([benign.confidence_id, benign.is_alert], [1, false]);
  const malicious = checked(toOcsf({ agentId: 'a', seq: 1, event: { ...base, verdict: 'malicious' } }));
  assert.deepEqual([malicious.confidence_id, malicious.is_alert], [3, true]);
});

test('ATT&CK: a technique, or a sub-technique under its parent, with the tactic\'s id and name', () => {
  const [beacon, , , escape] = EXAMPLES;
  const sub = checked(toOcsf({ agentId: 'a', seq: 1, event: beacon!.event }));
  assert.deepEqual(sub.finding_info.attacks, [{ technique: { uid: 'T1071' }, sub_technique: { uid: 'T1071.001', name: 'Application Layer Protocol: Web Protocols' }, tactic: { uid: 'TA0011', name: 'Command and Control' } }]);
  const named: ThreatEvent = { ...escape!.event, mitre: { techniqueId: 'T1611', technique: 'Escape to Host', tactic: 'privilege-escalation' } };
  assert.deepEqual(checked(toOcsf({ agentId: 'a', seq: 1, event: named })).finding_info.attacks, [{ technique: { uid: 'T1611', name: 'Escape to Host' }, tactic: { uid: 'TA0004', name: 'Privilege Escalation' } }]);
  const none: ThreatEvent = { ...escape!.event };
  delete none.mitre;
  assert.equal(checked(toOcsf({ agentId: 'a', seq: 1, event: none })).finding_info.attacks, undefined);
});

test('evidences: the process and its parent, the connection with source and destination, the file with its SHA-256', () => {
  const [beacon, drop, listener, escape] = EXAMPLES;
  const b = checked(toOcsf({ agentId: 'a', seq: 1, event: beacon!.event })).evidences[0];
  assert.deepEqual(b.process, {
    pid: 2305, name: 'sh', cmd_line: beacon!.event.process!.commandLine, file: { name: 'dash', path: '/usr/bin/dash', type_id: 1, type: 'Regular File' },
    user: { name: 'viewer' }, parent_process: { pid: 2290, name: 'soffice.bin' },
  });
  assert.deepEqual(b.connection_info, { direction_id: 2, direction: 'Outbound', protocol_name: 'tcp', protocol_num: 6 });
  assert.deepEqual(b.src_endpoint, { ip: '10.20.1.17', port: 49822 }, 'outbound: the VM opened it');
  assert.deepEqual(b.dst_endpoint, { ip: '203.0.113.66', port: 8443 });
  const d = checked(toOcsf({ agentId: 'a', seq: 1, event: drop!.event })).evidences[0];
  assert.deepEqual(d.file, { name: 'kworkerd', path: '/home/viewer/.cache/.fc/kworkerd', type_id: 1, type: 'Regular File', size: 884736,
    fingerprints: [{ algorithm_id: 3, algorithm: 'SHA-256', value: drop!.event.file!.sha256 }] });
  const l = checked(toOcsf({ agentId: 'a', seq: 1, event: listener!.event })).evidences[0];
  assert.equal(l.connection_info.direction_id, 1, 'a listener waits for inbound connections');
  assert.equal(checked(toOcsf({ agentId: 'a', seq: 1, event: escape!.event })).evidences, undefined, 'nothing to show, no evidence array (OCSF wants at least one artifact)');
});

test('hostile text stays data: markup and control characters pass through as strings, the JSON round-trips', () => {
  const event: ThreatEvent = { ...EXAMPLES[2]!.event, title: '<img src=x onerror=alert(1)>\u001b[2J', process: { pid: 1, name: '"]\\' } };
  const f = checked(toOcsf({ agentId: 'a', seq: 1, event }));
  assert.deepEqual(JSON.parse(JSON.stringify(f)), f);
  assert.equal(f.finding_info.title, event.title);
});
