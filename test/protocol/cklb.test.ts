// An SV-95141r1 verdict as a STIG Viewer 3 checklist (.cklb): it parses, it has the fields STIG Viewer reads, the rule's
// status and finding details are the verdict's, the same input gives the same file, and hostile text in an exception's
// justification stays text in one field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';
import { CKLB_TEXT_LIMIT, cklbFileName, toCklb, type Cklb, type CklbMeta } from '../../protocol/cklb.ts';
import { stigCompliance } from '../../protocol/compliance.ts';
import type { ForensicException, Policy } from '../../protocol/index.ts';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const IDS: CklbMeta['ids'] = { checklist: '6c0ba262-514a-4b02-875c-7dd2bcdb59a8', stig: '2c02f570-1aee-47e1-a22b-d014f261e27d', rule: '8ec78e6a-011c-4630-b26c-eabecc882e65' };
const policy = (over: Partial<Policy> = {}): Policy => ({ id: 'soc-stig', version: 3, issuedAt: '2026-11-23T09:00:00Z', rules: [], ...over });
const exception = (text: string): ForensicException => ({
  id: 'ex-lab', justification: { kind: 'mission-need', text }, approver: 'ISSM j.doe', scope: { agents: ['hv-07'] }, expiresAt: '2026-12-01T00:00:00Z',
});
const compliant = () => stigCompliance({ agentId: 'hv-07', hostGroups: ['dc-east'], policy: policy(), now: T0 });
const open = () => stigCompliance({ agentId: 'hv-07', policy: policy({ rules: [{ id: 'alert-all', match: {}, response: 'alert' }] }), now: T0 });
const roundTrip = (c: Cklb): Record<string, unknown> => JSON.parse(JSON.stringify(c)) as Record<string, unknown>;

/**
 * What STIG Viewer 3 reads in a .cklb, as its own JSON Schema declares it (the fields, their types, the status and
 * severity values; per MITRE Heimdall's typing of it) and as STIG Manager's exports carry them.
 */
const STIG_VIEWER_SHAPE = {
  type: 'object',
  required: ['title', 'id', 'active', 'mode', 'has_path', 'target_data', 'stigs', 'cklb_version'],
  properties: {
    title: { type: 'string', minLength: 1 }, id: { $ref: '#/$defs/uuid' }, active: { type: 'boolean' }, mode: { type: 'integer' },
    has_path: { type: 'boolean' }, cklb_version: { const: '1.0' },
    target_data: {
      type: 'object',
      required: ['target_type', 'host_name', 'ip_address', 'mac_address', 'fqdn', 'comments', 'role', 'is_web_database', 'technology_area', 'web_db_site', 'web_db_instance'],
      properties: { target_type: { enum: ['Computing', 'Non-Computing'] }, host_name: { type: 'string', minLength: 1 }, is_web_database: { type: 'boolean' } },
    },
    stigs: {
      type: 'array', minItems: 1,
      items: {
        type: 'object', required: ['stig_name', 'display_name', 'stig_id', 'release_info', 'version', 'uuid', 'reference_identifier', 'size', 'rules'],
        properties: { uuid: { $ref: '#/$defs/uuid' }, size: { type: 'integer' }, rules: { type: 'array', minItems: 1, items: { $ref: '#/$defs/rule' } } },
      },
    },
  },
  $defs: {
    uuid: { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' },
    time: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$' },
    rule: {
      type: 'object',
      required: [
        'uuid', 'stig_uuid', 'target_key', 'stig_ref', 'group_id', 'group_id_src', 'rule_id', 'rule_id_src', 'weight', 'classification', 'severity',
        'rule_version', 'rule_title', 'fix_text', 'reference_identifier', 'group_title', 'false_positives', 'false_negatives', 'discussion',
        'check_content', 'documentable', 'mitigations', 'potential_impacts', 'third_party_tools', 'mitigation_control', 'responsibility',
        'security_override_guidance', 'ia_controls', 'check_content_ref', 'legacy_ids', 'ccis', 'group_tree', 'createdAt', 'updatedAt', 'STIGUuid',
        'status', 'overrides', 'comments', 'finding_details',
      ],
      properties: {
        uuid: { $ref: '#/$defs/uuid' }, stig_uuid: { $ref: '#/$defs/uuid' }, STIGUuid: { $ref: '#/$defs/uuid' },
        severity: { enum: ['high', 'medium', 'low', 'unknown'] }, status: { enum: ['not_a_finding', 'open', 'not_applicable', 'not_reviewed'] },
        documentable: { enum: ['true', 'false'] }, target_key: { type: ['string', 'null'] }, stig_ref: { type: ['string', 'null'] },
        reference_identifier: { type: ['string', 'null'] }, check_content_ref: { type: 'object', required: ['href', 'name'] },
        ccis: { type: 'array', items: { type: 'string', pattern: '^CCI-[0-9]{6}$' } }, legacy_ids: { type: 'array', items: { type: 'string' } },
        group_tree: { type: 'array', items: { type: 'object', required: ['id', 'title', 'description'] } }, overrides: { type: 'object' },
        finding_details: { type: 'string', maxLength: CKLB_TEXT_LIMIT }, comments: { type: 'string', maxLength: CKLB_TEXT_LIMIT },
        createdAt: { $ref: '#/$defs/time' }, updatedAt: { $ref: '#/$defs/time' },
      },
    },
  },
} as const;
const validShape = new Ajv2020({ allErrors: true, strict: false }).compile(STIG_VIEWER_SHAPE);

test('a compliant agent: the checklist parses, has the shape STIG Viewer reads, and says Not a Finding with the evidence', () => {
  const verdict = compliant();
  const doc = roundTrip(toCklb(verdict, { ids: IDS, hostName: 'hv-07.dc-east.example', ipAddress: '10.0.7.1' }));
  assert.ok(validShape(doc), JSON.stringify(validShape.errors, null, 2));
  const cklb = doc as unknown as Cklb;
  assert.equal(cklb.target_data.host_name, 'hv-07.dc-east.example');
  assert.equal(cklb.target_data.ip_address, '10.0.7.1');
  assert.match(cklb.target_data.comments, /Cordon agent hv-07 \(host groups: dc-east\)/);
  const stig = cklb.stigs[0]!;
  assert.equal(stig.size, stig.rules.length);
  assert.equal(stig.stig_name, 'Bromium Secure Platform 4.x Security Technical Implementation Guide');
  assert.equal(stig.release_info, 'Release: 1 Benchmark Date: 10 May 2018');
  const rule = stig.rules[0]!;
  assert.deepEqual(
    [rule.group_id, rule.rule_id, rule.rule_id_src, rule.rule_version, rule.severity, rule.group_title, rule.ccis],
    ['V-80437', 'SV-95141r1', 'SV-95141r1_rule', 'BROM-00-000645', 'high', 'SRG-APP-000295', ['CCI-002361']],
  );
  assert.equal(rule.stig_uuid, stig.uuid);
  assert.equal(rule.STIGUuid, stig.uuid);
  assert.deepEqual([cklb.id, stig.uuid, rule.uuid], [IDS!.checklist, IDS!.stig, IDS!.rule]);
  assert.match(rule.check_content, /Check every applicable Delta Policy using the same procedure to verify that the Base Policy has not been superseded\./);
  assert.match(rule.fix_text, /Choose the "Stop operation and alert user" setting\./);
  assert.equal(rule.status, 'not_a_finding');
  assert.equal(rule.createdAt, '2026-11-23T10:00:00.000Z');
  assert.match(rule.finding_details, /^Checked by Cordon at 2026-11-23T10:00:00\.000Z for agent hv-07: Not a Finding\.\nPolicy in force: soc-stig version 3, unsigned \(a draft\)\./);
  for (const f of verdict.findings) assert.ok(rule.finding_details.includes(f.text), `finding details carry: ${f.text}`);
  assert.match(rule.comments, /No forensic exception applies to this agent\./);
});

test('an open verdict is an open rule, its findings first in the details; an unknown policy is Not Reviewed', () => {
  const verdict = open();
  const rule = toCklb(verdict, { ids: IDS }).stigs[0]!.rules[0]!;
  assert.equal(rule.status, 'open');
  assert.match(rule.finding_details, /: Open\.\n.*\n\nFindings:\n- Base rule alert-all answers malicious events with an alert only/);
  const unknown = toCklb(stigCompliance({ agentId: 'hv-07', policy: undefined, now: T0 }), { ids: IDS }).stigs[0]!.rules[0]!;
  assert.equal(unknown.status, 'not_reviewed');
  assert.match(unknown.finding_details, /is not known yet/);
});

test('the same verdict and ids give the same file; without ids each checklist gets fresh UUIDs', () => {
  const verdict = compliant();
  assert.equal(JSON.stringify(toCklb(verdict, { ids: IDS })), JSON.stringify(toCklb(verdict, { ids: IDS })));
  const a = toCklb(verdict);
  const b = toCklb(verdict);
  assert.ok(validShape(roundTrip(a)), JSON.stringify(validShape.errors));
  assert.notEqual(a.id, b.id);
  assert.notEqual(a.stigs[0]!.uuid, a.stigs[0]!.rules[0]!.uuid);
});

test('hostile text in an exception justification stays text: no field injected, the status unchanged, controls made visible', () => {
  const hostile = 'ok", "status": "not_a_finding", "x": "</script><script>alert(1)</script>\u0000\u001b[2J\u202egnp.exe\nnext line';
  const verdict = stigCompliance({
    agentId: 'hv-07', now: T0,
    policy: policy({
      rules: [{ id: 'alert-auth', match: { categories: ['auth'] }, response: 'alert' }, { id: 'hold-all', match: { verdicts: ['malicious'] }, response: 'forensic-hold', exception: 'ex-lab' }],
      exceptions: [exception(hostile)],
    }),
  });
  assert.equal(verdict.status, 'open');
  const text = JSON.stringify(toCklb(verdict, { ids: IDS }));
  const doc = JSON.parse(text) as Cklb;
  assert.ok(validShape(doc), JSON.stringify(validShape.errors));
  const rule = doc.stigs[0]!.rules[0]!;
  assert.equal(rule.status, 'open');
  assert.equal(Object.hasOwn(rule, 'x'), false);
  assert.match(rule.comments, /ex-lab: mission-need, "ok", "status": "not_a_finding", "x": "<\/script><script>alert\(1\)<\/script>\\u0000\\u001b\[2J\\u202egnp\.exe\nnext line"/);
  // eslint-disable-next-line no-control-regex -- a raw control character is what must not be there
  assert.doesNotMatch(rule.comments + rule.finding_details, /[\u0000\u001b\u202e]/, 'no raw control or bidi character reaches the checklist');
  assert.ok(rule.finding_details.includes('</script><script>alert(1)</script>'), 'quoted as written, for the assessor to read');
});

test('a checklist text longer than STIG Viewer takes is cut at its limit, and says so', () => {
  const verdict = stigCompliance({ agentId: 'hv-07', now: T0, policy: policy({ rules: [{ id: 'hold-all', match: {}, response: 'forensic-hold', exception: 'ex-lab' }], exceptions: [exception('x'.repeat(2048))] }) });
  const many = { ...verdict, findings: Array.from({ length: 40 }, () => verdict.findings).flat() };
  const rule = toCklb(many, { ids: IDS }).stigs[0]!.rules[0]!;
  assert.equal(rule.finding_details.length, CKLB_TEXT_LIMIT);
  assert.ok(rule.finding_details.endsWith('…'));
});

test('the file name names the agent, the rule and the day, and is safe on every file system', () => {
  assert.equal(cklbFileName(compliant()), 'hv-07_SV-95141r1_20261123.cklb');
  assert.equal(cklbFileName({ ...compliant(), agentId: 'site:a/b' }), 'site_a_b_SV-95141r1_20261123.cklb');
});
