// Bad-input campaign (issue 8): Suricata EVE and Falco JSON lines. Whatever a sensor (or whoever can write to its
// log file, or send to the syslog listener) puts on a line, the detector returns undefined or a threat event that is
// valid cordon.v1; it never throws, never pollutes a prototype, and the documented lines still give their events
// afterwards. Then for real: an agent following the two files through a stream of hostile lines keeps running and
// still serves the good alert that follows them.
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { checkThreatEvent, type AgentMessage, type ThreatEvent, type Vm } from '../../protocol/index.ts';
import { falcoEvent } from '../../agent/detectors/falco.ts';
import { suricataEvent } from '../../agent/detectors/suricata.ts';
import { vmMatcher } from '../../agent/logs/vm-match.ts';
import { BOUNDED, detectorAgent } from '../agent/helpers.ts';
import { record } from './campaign.ts';
import {
  anyString, assertPrototypesClean, damaged, deepJson, hostileValue, invalidUtf8In, mutatedJson, params, pollutingVariants, Tally,
} from './kit.ts';

const FIXTURES = join(import.meta.dirname, '..', 'agent', 'fixtures');
const lines = (file: string) => readFileSync(join(FIXTURES, file), 'utf8').split('\n').filter((l) => l.length > 0);
const EVE = lines('suricata-eve.jsonl');
const FALCO = lines('falco.jsonl');
const VMS: Vm[] = [
  { id: 'vm-web-01', name: 'web-01', state: 'running', networks: [{ name: 'eth0', ip: '10.20.10.11' }] },
  { id: 'vm-desk-01', name: 'desk-01', state: 'running', networks: [{ name: 'eth0', ip: '10.20.40.11' }] },
];
const ctx = { agentId: 'hv-lab-01', vms: vmMatcher(() => VMS), hostName: 'hv-lab-01', now: () => Date.UTC(2026, 10, 23) };

type Detector = (line: string, c: typeof ctx) => ThreatEvent | undefined;
/** The documented lines that are alerts (the fixtures also hold flows, stats and garbage). */
const alerts = (all: string[], decode: Detector) => all.filter((l) => decode(l, ctx) !== undefined);
const DETECTORS: Record<'Suricata EVE line' | 'Falco JSON line', { decode: Detector; valid: string[] }> = {
  'Suricata EVE line': { decode: suricataEvent, valid: alerts(EVE, suricataEvent) },
  'Falco JSON line': { decode: falcoEvent, valid: alerts(FALCO, falcoEvent) },
};

/** One line through a detector: no throw; undefined (refused) or a valid threat event. Returns whether it was refused. */
function judge(decode: Detector, line: string): boolean {
  let e: ThreatEvent | undefined;
  try {
    e = decode(line, ctx);
  } catch (err) {
    assert.fail(`the detector threw on ${JSON.stringify(line.slice(0, 300))}: ${(err as Error).stack ?? String(err)}`);
  }
  if (e === undefined) return true;
  const r = checkThreatEvent(e);
  assert.ok(r.ok, `the event is not valid cordon.v1 (${r.ok ? '' : r.error.message}) for ${JSON.stringify(line.slice(0, 300))}`);
  return false;
}

/** The events of the documented lines, as they were before any hostile line. */
const reference = Object.fromEntries(Object.entries(DETECTORS).map(([name, d]) => [name, d.valid.map((l) => JSON.stringify(d.decode(l, ctx)))]));

function assertStillWorking(name: keyof typeof DETECTORS): void {
  const d = DETECTORS[name];
  assert.deepEqual(d.valid.map((l) => JSON.stringify(d.decode(l, ctx))), reference[name], 'the documented lines give the same events as before');
  assertPrototypesClean();
}

/** Alert-shaped objects with hostile values in every field the detectors read. */
const eveLike = fc.record({
  event_type: fc.oneof(fc.constant('alert'), hostileValue),
  timestamp: hostileValue, src_ip: hostileValue, dest_ip: hostileValue, src_port: hostileValue, dest_port: hostileValue, proto: hostileValue, app_proto: hostileValue,
  alert: fc.oneof(hostileValue, fc.record({
    action: hostileValue, gid: hostileValue, signature_id: hostileValue, rev: hostileValue, signature: hostileValue, category: hostileValue, severity: hostileValue,
    metadata: fc.oneof(hostileValue, fc.dictionary(fc.constantFrom('signature_severity', 'mitre_technique_id', 'mitre_technique_name', 'mitre_tactic_name', '__proto__', 'constructor'), hostileValue)),
  }, { requiredKeys: [] })),
}, { requiredKeys: ['event_type'] }).map((v) => JSON.stringify(v));

const FALCO_FIELDS = ['container.name', 'container.id', 'k8s.pod.name', 'evt.type', 'fd.name', 'fd.l4proto', 'fd.lip', 'fd.rip', 'fd.lport', 'fd.rport', 'fd.type',
  'evt.arg.filename', 'evt.arg.flags', 'fs.path.name', 'proc.pid', 'proc.ppid', 'proc.name', 'proc.cmdline', 'proc.exepath', 'proc.exe', 'user.name', 'proc.pname', '__proto__', 'constructor'];
const falcoLike = fc.record({
  rule: fc.oneof(fc.string(), hostileValue),
  priority: fc.oneof(fc.constantFrom('Emergency', 'Error', 'Notice', 'Debug', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'), hostileValue),
  time: hostileValue, output: hostileValue, hostname: hostileValue,
  tags: fc.oneof(hostileValue, fc.array(fc.oneof(fc.constantFrom('T1611', 'T1059.004', 'mitre_execution', 'network', 'filesystem', 'users', 'mitre___proto__'), hostileValue), { maxLength: 6 })),
  output_fields: fc.oneof(hostileValue, fc.dictionary(fc.constantFrom(...FALCO_FIELDS), hostileValue)),
}, { requiredKeys: ['rule', 'priority'] }).map((v) => JSON.stringify(v));

const SHAPED = { 'Suricata EVE line': eveLike, 'Falco JSON line': falcoLike };

for (const name of Object.keys(DETECTORS) as (keyof typeof DETECTORS)[]) {
  const { decode, valid } = DETECTORS[name];
  describe(`bad input: ${name}`, () => {
    after(() => assertStillWorking(name));

    const property = (kind: string, arb: fc.Arbitrary<string>, runs: number, outcome: string) => test(kind, () => {
      const t = new Tally();
      fc.assert(fc.property(arb, (line) => { t.count(judge(decode, line)); }), params(runs));
      assertStillWorking(name);
      record({ campaign: 'bad-input', target: name, kind, tried: t.tried, refused: t.refused, crashes: 0, outcome });
    });

    property('random strings (lone surrogates included)', anyString, 400, 'Each line was left alone (not an alert) or made a valid event; no throw.');
    property('random JSON values', fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)), 400, 'Each value was left alone or made a valid event; no throw.');
    property('valid alerts with fields removed, retyped or added', mutatedJson(valid.map((l) => JSON.parse(l) as unknown)), 800,
      'Each mutated alert gave undefined or a schema-valid event; wrong types (objects, numbers, odd dates) never threw.');
    property('alert-shaped objects with hostile values in every field', SHAPED[name], 800,
      'Every field read from the line accepts any JSON type: the event is valid cordon.v1 or the line is left alone.');
    property('valid alerts cut short or with a character spliced in', damaged(valid), 300, 'Broken JSON is left alone; the rest gives a valid event.');
    property('invalid UTF-8 bytes (decoded as the follower decodes them)', fc.constantFrom(...valid).chain((l) => invalidUtf8In(Buffer.from(l))).map((b) => b.toString('utf8')), 300,
      'Replacement characters in a line never break an event.');

    test('deeply nested JSON (100,000 levels) in every field', () => {
      const t = new Tally();
      const base = JSON.parse(valid[2]!) as Record<string, unknown>;
      const texts = [deepJson(100_000, 'array'), deepJson(100_000, 'object')];
      for (const k of [...Object.keys(base), 'alert', 'metadata', 'output_fields', 'tags']) {
        for (const kind of ['array', 'object'] as const) texts.push(JSON.stringify({ ...base, [k]: 0 }).replace(`"${k}":0`, `"${k}":${deepJson(100_000, kind)}`));
      }
      for (const line of texts) t.count(judge(decode, line));
      assertStillWorking(name);
      record({ campaign: 'bad-input', target: name, kind: 'deeply nested JSON (100,000 levels)', tried: t.tried, refused: t.refused, crashes: 0,
        outcome: 'Parsed without recursion; a deep value where a string is expected is ignored.' });
    });

    test('__proto__, constructor and prototype keys and values', () => {
      const t = new Tally();
      for (const l of valid) {
        const base = JSON.parse(l) as Record<string, unknown>;
        for (const text of pollutingVariants(base, ['alert', 'metadata', 'output_fields'])) {
          t.count(judge(decode, text));
          assertPrototypesClean();
        }
      }
      // Names of Object.prototype's members where the detectors look a value up by name.
      for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf']) {
        const lines2 = name === 'Falco JSON line'
          ? [JSON.stringify({ rule: 'r', priority: key }), JSON.stringify({ rule: 'r', priority: 'Error', hostname: key, output_fields: { 'container.name': key, 'proc.name': key } })]
          : [JSON.stringify({ event_type: 'alert', proto: key, src_ip: key, alert: { signature: key, category: key, metadata: { signature_severity: key, mitre_technique_id: key } } })];
        for (const line of lines2) {
          t.count(judge(decode, line));
          assertPrototypesClean();
        }
      }
      const falcoProto = name === 'Falco JSON line' ? falcoEvent(JSON.stringify({ rule: 'r', priority: '__proto__' }), ctx) : undefined;
      if (falcoProto) assert.equal(falcoProto.severity, 'medium', 'a priority named like a member of Object.prototype is an unknown priority');
      record({ campaign: 'bad-input', target: name, kind: '__proto__, constructor and prototype keys and values', tried: t.tried, refused: t.refused, crashes: 0,
        outcome: 'Kept as data; Object.prototype unchanged; a priority "__proto__" is an unknown priority (medium), not Object.prototype.' });
    });

    test('oversized lines (8 MiB fields)', () => {
      const t = new Tally();
      const big = 'A'.repeat(8 * 1024 * 1024);
      const base = JSON.parse(valid[2]!) as Record<string, unknown>;
      const texts = [big, `{"x":"${big}"}`];
      for (const k of Object.keys(base)) texts.push(JSON.stringify({ ...base, [k]: big }));
      if (name === 'Falco JSON line') texts.push(JSON.stringify({ ...base, output_fields: { 'proc.name': big, 'proc.cmdline': big, 'fd.name': `${big}:1->1.2.3.4:5`, 'user.name': big } }));
      else texts.push(JSON.stringify({ ...base, alert: { signature: big, category: big, metadata: { mitre_technique_name: [big], mitre_tactic_name: big } } }));
      for (const line of texts) {
        t.count(judge(decode, line));
        const e = decode(line, ctx);
        if (e) assert.ok(JSON.stringify(e).length < 64 * 1024, 'every field of the event is clipped to its bound');
      }
      record({ campaign: 'bad-input', target: name, kind: 'oversized lines (8 MiB fields)', tried: t.tried, refused: t.refused, crashes: 0,
        outcome: 'Every field is clipped to the schema\'s bound; the event stays under 64 KiB.' });
    });
  });
}

test('an agent following Suricata and Falco files through hostile lines keeps running and serves the good alerts after them', BOUNDED, async (t) => {
  const { eve, falco, cockpit: c, agent } = await detectorAgent(t);
  // The lines that made the detectors throw before the campaign fixed them, and other hostile ones.
  const hostileEve = [
    '{"event_type":"alert","alert":{},"proto":{"toString":1}}',
    '{"event_type":"alert","alert":{"gid":{"toString":1},"signature_id":{"valueOf":1,"toString":1}}}',
    '{"event_type":"alert","alert":{"severity":1},"src_port":{"toString":1},"timestamp":"+275760-09-13T00:00:00.000Z"}',
    deepJson(100_000, 'array'), '\udc00\ud800', Buffer.from([0xc0, 0xaf, 0xff]).toString('utf8'),
  ];
  const hostileFalco = [
    '{"rule":"r","priority":"Error","hostname":5}',
    '{"rule":"r","priority":"__proto__"}',
    '{"rule":"r","priority":"constructor","hostname":{"toString":1}}',
    '{"rule":"r","priority":"Error","time":"50000"}',
  ];
  const hostileCount = hostileEve.length + hostileFalco.length;
  appendFileSync(eve, `${hostileEve.join('\n')}\n${EVE[1]}\n`);
  appendFileSync(falco, `${hostileFalco.join('\n')}\n${FALCO[3]}\n`);
  const goodTitle = (JSON.parse(EVE[1]!) as { alert: { signature: string } }).alert.signature;
  const isGoodEve = (m: AgentMessage) => m.type === 'event' && m.event.title === goodTitle;
  const isGoodFalco = (m: AgentMessage) => m.type === 'event' && m.event.category === 'escape';
  await c.next((m) => isGoodEve(m) || isGoodFalco(m), 15_000, 'a good alert');
  await c.next((m) => isGoodEve(m) || isGoodFalco(m), 15_000, 'the other good alert');
  const got = c.received.flatMap((m) => (m.type === 'event' ? [m.event] : []));
  assert.deepEqual(c.invalid, [], 'every event the agent sent is valid cordon.v1');
  assert.ok(c.received.some(isGoodEve), 'the good EVE alert after the hostile lines arrived');
  assert.ok(c.received.some(isGoodFalco), 'the good Falco alert after the hostile lines arrived');
  assert.equal(agent.child.exitCode, null, 'the agent is still running');
  record({ campaign: 'bad-input', target: 'agent: detector file followers (real process)', kind: 'hostile EVE and Falco lines appended to followed files', tried: hostileCount,
    refused: hostileCount - got.filter((e) => e.title !== goodTitle && e.category !== 'escape').length, crashes: 0,
    outcome: 'The agent kept following both files; every event it sent was valid; the good alerts after the hostile lines arrived.' });
});
