// Trust on the agent's side (issue 8), against a real agent process over real TLS sockets: the identity it makes and
// keeps, given certificates, mutual TLS, roles per principal, and the two-person rule for seize and sanitise.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect } from 'node:tls';
import { makeSelfSigned } from '../../agent/tls.ts';
import type { ActionAcceptedMessage, ActionResultMessage, Approval } from '../../protocol/index.ts';
import { BOUNDED, runAgentCli, spawnAgent, tempDir, TestCockpit, tokenFile } from './helpers.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const TOKENS = { lead: 'lead-token-0123456789abcdef0123', lead2: 'lead2-token-0123456789abcdef012', responder: 'resp-token-0123456789abcdef0123', viewer: 'view-token-0123456789abcdef0123' };

/** The SHA-256 fingerprint of the certificate a TLS server presents, read without sending anything. */
function presented(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port), rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

function accessFile(dir: string, doc: object): string {
  const file = join(dir, 'access.json');
  writeFileSync(file, JSON.stringify(doc), { mode: 0o600 });
  return file;
}

const ACTOR = { name: 'tester', cockpit: 'test' };

test('off loopback the agent serves TLS with a certificate it makes once and keeps: the ready line, stderr and the socket agree on its fingerprint', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const args = ['--driver', 'sim', '--listen', '0.0.0.0:0', '--token-file', tokenFile(dir), '--data-dir', join(dir, 'data'), '--agent-id', 'tls-agent', '--seed', '1', '--no-logs'];
  const first = await spawnAgent(t, args);
  assert.match(first.ready.url, /^wss:\/\/0\.0\.0\.0:\d+$/);
  assert.match(first.ready.fingerprint ?? '', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  const url = first.ready.url.replace('0.0.0.0', '127.0.0.1');
  assert.equal(await presented(url), first.ready.fingerprint);
  assert.ok(first.stderr().includes(`SHA-256 fingerprint: ${first.ready.fingerprint}`), first.stderr());
  assert.equal(statSync(join(dir, 'data', 'tls', 'key.pem')).mode & 0o777, 0o600, 'the key is readable by the agent\'s user only');
  assert.equal(new X509Certificate(readFileSync(join(dir, 'data', 'tls', 'cert.pem'))).fingerprint256, first.ready.fingerprint);

  // The token still decides, over TLS: a wrong one gets nothing.
  await assert.rejects(TestCockpit.open(t, url, { token: 'wrong-token-0123456789' }), /401/);
  const cockpit = await TestCockpit.open(t, url);
  const hello = await cockpit.nextOfType('hello');
  assert.deepEqual(hello.access, { principal: { name: 'token holder', role: 'lead' }, twoPerson: [], distinct: false });
  cockpit.close();

  first.child.kill('SIGTERM');
  await first.exited;
  const second = await spawnAgent(t, args);
  assert.equal(second.ready.fingerprint, first.ready.fingerprint, 'a restart keeps the identity cockpits pinned');
  assert.ok(second.stderr().includes('kept in'), second.stderr());
});

test('a given certificate and key are served as they are; a key that is not the certificate\'s is refused in a sentence', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const a = await makeSelfSigned('given', ['127.0.0.1']);
  const b = await makeSelfSigned('other', ['127.0.0.1']);
  writeFileSync(join(dir, 'cert.pem'), a.cert);
  writeFileSync(join(dir, 'key.pem'), a.key, { mode: 0o600 });
  writeFileSync(join(dir, 'other-key.pem'), b.key, { mode: 0o600 });
  const base = ['--driver', 'sim', '--listen', '127.0.0.1:0', '--token-file', tokenFile(dir), '--data-dir', join(dir, 'data'), '--no-logs', '--tls-cert', join(dir, 'cert.pem')];
  const agent = await spawnAgent(t, [...base, '--tls-key', join(dir, 'key.pem')]);
  assert.equal(agent.ready.fingerprint, new X509Certificate(a.cert).fingerprint256);
  assert.equal(await presented(agent.ready.url), agent.ready.fingerprint);
  agent.child.kill('SIGTERM');
  await agent.exited;

  const wrong = await runAgentCli([...base, '--tls-key', join(dir, 'other-key.pem')]);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /does not belong to the certificate.*\[tls_key_mismatch\]/);
});

test('roles: a viewer sees but cannot act, a responder acts but cannot seize or set the policy, each refusal naming the role it needs', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const access = accessFile(dir, { principals: [
    { name: 'vera', role: 'viewer', tokenSha256: sha256(TOKENS.viewer) },
    { name: 'rui', role: 'responder', tokenSha256: sha256(TOKENS.responder) },
  ] });
  const agent = await spawnAgent(t, ['--driver', 'sim', '--listen', '127.0.0.1:0', '--access', access, '--data-dir', join(dir, 'data'), '--seed', '7', '--no-logs', '--vms', '3']);
  const viewer = await TestCockpit.open(t, agent.ready.url, { token: TOKENS.viewer });
  const vHello = await viewer.nextOfType('hello');
  assert.deepEqual(vHello.access?.principal, { name: 'vera', role: 'viewer' });
  const vm = (await viewer.nextOfType('inventory')).vms.find((v) => v.state === 'running')!;
  viewer.send({ type: 'subscribe', since: 0 });
  await viewer.nextOfType('subscribed');
  viewer.send({ type: 'action', requestId: 'req-viewer-freeze-1', vmId: vm.id, kind: 'freeze', params: {}, actor: ACTOR, reason: 'test' });
  const refused = await viewer.nextOfType('action.rejected');
  assert.equal(refused.code, 'forbidden');
  assert.match(refused.message, /You need the responder role to freeze a VM.*you are vera \(viewer\)/);
  viewer.send({ type: 'console.open', id: 'c1', vmId: vm.id, stream: 1, cols: 80, rows: 24 });
  const noConsole = await viewer.next((m) => m.type === 'error' && m.ref === 'c1');
  assert.match(noConsole.type === 'error' ? noConsole.message : '', /responder role to open a console/);
  viewer.send({ type: 'evidence.list', id: 'l1' });
  assert.equal((await viewer.next((m) => m.type === 'evidence.captures' || (m.type === 'error' && m.ref === 'l1'))).type, 'evidence.captures', 'a viewer sees the evidence list');

  const responder = await TestCockpit.open(t, agent.ready.url, { token: TOKENS.responder });
  assert.deepEqual((await responder.nextOfType('hello')).access?.principal, { name: 'rui', role: 'responder' });
  responder.send({ type: 'action', requestId: 'req-resp-seize-1', vmId: vm.id, kind: 'seize', params: {}, actor: ACTOR, reason: 'test' });
  const noSeize = await responder.nextOfType('action.rejected');
  assert.equal(noSeize.code, 'forbidden');
  assert.match(noSeize.message, /lead role to seize a VM/);
  const policySet = { ...(JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'protocol', 'examples', 'wire', 'policy-set.json'), 'utf8')) as object), id: 'p1' };
  responder.send(policySet);
  const noPolicy = await responder.next((m) => m.type === 'error' && m.ref === 'p1');
  assert.equal(noPolicy.type === 'error' && noPolicy.code, 'forbidden');
  assert.match(noPolicy.type === 'error' ? noPolicy.message : '', /lead role to set the auto-response policy/);
  responder.send({ type: 'action', requestId: 'req-resp-freeze-1', vmId: vm.id, kind: 'freeze', params: {}, actor: ACTOR, reason: 'test' });
  const accepted = await responder.nextOfType('action.accepted');
  assert.deepEqual(accepted.requestedBy, { name: 'rui', role: 'responder' });
  assert.equal((await responder.nextOfType('action.result')).ok, true);
  // Refusals cost nothing: the viewer's connection still streams.
  assert.equal(viewer.closed, false);
  const journal = readFileSync(join(dir, 'data', 'action-journal.jsonl'), 'utf8');
  assert.match(journal, /"requestId":"req-resp-freeze-1".*"requestedBy":\{"name":"rui","role":"responder"\}/);
  assert.doesNotMatch(journal, /req-viewer-freeze-1|req-resp-seize-1/, 'a forbidden request never reaches the action journal');
});

test('mutual TLS: with requireClientCert, only a pinned client certificate connects, and it names its principal', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const client = await makeSelfSigned('cockpit-ada', []);
  const stranger = await makeSelfSigned('stranger', []);
  const access = accessFile(dir, { requireClientCert: true, principals: [
    { name: 'ada', role: 'lead', certFingerprint: new X509Certificate(client.cert).fingerprint256 },
  ] });
  const agent = await spawnAgent(t, ['--driver', 'sim', '--listen', '127.0.0.1:0', '--tls', '--access', access, '--data-dir', join(dir, 'data'), '--seed', '3', '--no-logs']);
  assert.match(agent.ready.url, /^wss:/);
  await assert.rejects(TestCockpit.open(t, agent.ready.url, { token: null }), /401/, 'no client certificate');
  await assert.rejects(TestCockpit.open(t, agent.ready.url, { token: null, clientCert: stranger }), /401/, 'a certificate nobody pinned');
  const cockpit = await TestCockpit.open(t, agent.ready.url, { token: null, clientCert: client });
  assert.deepEqual((await cockpit.nextOfType('hello')).access, { principal: { name: 'ada', role: 'lead' }, twoPerson: ['seize', 'sanitise'], distinct: true });
});

test('two-person rule: a lead\'s seize waits; the lead cannot approve it; a responder\'s approval runs it once, and both names are recorded', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const access = accessFile(dir, { principals: [
    { name: 'lena', role: 'lead', tokenSha256: sha256(TOKENS.lead) },
    { name: 'rui', role: 'responder', tokenSha256: sha256(TOKENS.responder) },
    { name: 'vera', role: 'viewer', tokenSha256: sha256(TOKENS.viewer) },
  ] });
  const agent = await spawnAgent(t, ['--driver', 'sim', '--listen', '127.0.0.1:0', '--access', access, '--data-dir', join(dir, 'data'), '--seed', '11', '--no-logs', '--vms', '4']);
  const lead = await TestCockpit.open(t, agent.ready.url, { token: TOKENS.lead });
  assert.deepEqual((await lead.nextOfType('hello')).access?.twoPerson, ['seize', 'sanitise']);
  const vms = (await lead.nextOfType('inventory')).vms.filter((v) => v.state === 'running');
  const responder = await TestCockpit.open(t, agent.ready.url, { token: TOKENS.responder });
  await responder.nextOfType('inventory');

  const seize = { type: 'action', requestId: 'req-two-person-seize-1', vmId: vms[0]!.id, kind: 'seize', params: { caseId: 'IR-1' }, actor: { name: 'lena', cockpit: 'desk-1' }, reason: 'escape attempt' };
  lead.send(seize);
  const pending = (await lead.nextOfType('approval.pending')).approval;
  assert.equal(pending.operation, 'seize');
  assert.equal(pending.requestId, seize.requestId);
  assert.deepEqual(pending.requestedBy, { name: 'lena', role: 'lead' });
  assert.deepEqual((await responder.nextOfType('approval.pending')).approval, pending, 'every cockpit is told');
  assert.equal(lead.received.some((m) => m.type === 'action.accepted'), false, 'nothing runs before the approval');

  // A retry of the same request finds the same approval rather than making a second one.
  lead.send(seize);
  assert.equal((await lead.nextOfType('approval.pending')).approval.approvalId, pending.approvalId);
  // A cockpit that connects while it waits hears of it.
  const late = await TestCockpit.open(t, agent.ready.url, { token: TOKENS.viewer });
  assert.equal((await late.nextOfType('approval.pending')).approval.approvalId, pending.approvalId);
  // The viewer cannot decide, the requester cannot approve their own.
  late.send({ type: 'approval.decide', id: 'd0', approvalId: pending.approvalId, approve: true, actor: { name: 'vera' }, reason: 'ok' });
  assert.match((await late.next((m) => m.type === 'error' && m.ref === 'd0')).type === 'error' ? 'forbidden' : '', /forbidden/);
  lead.send({ type: 'approval.decide', id: 'd1', approvalId: pending.approvalId, approve: true, actor: { name: 'lena' }, reason: 'me too' });
  const self = await lead.next((m) => m.type === 'error' && m.ref === 'd1');
  assert.equal(self.type === 'error' && self.code, 'same_person');
  assert.match(self.type === 'error' ? self.message : '', /needs a second person: lena asked/);

  responder.send({ type: 'approval.decide', id: 'd2', approvalId: pending.approvalId, approve: true, actor: { name: 'rui', cockpit: 'desk-2' }, reason: 'confirmed in the feed' });
  const decided = await lead.nextOfType('approval.decided');
  assert.equal(decided.outcome, 'approved');
  assert.deepEqual(decided.by, { name: 'rui', role: 'responder' });
  const accepted = await lead.next<ActionAcceptedMessage>((m) => m.type === 'action.accepted' && m.requestId === seize.requestId, 20_000);
  assert.deepEqual(accepted.requestedBy, { name: 'lena', role: 'lead' });
  assert.equal(accepted.approval?.approvedBy.name, 'rui');
  const result = await lead.next<ActionResultMessage>((m) => m.type === 'action.result' && m.requestId === seize.requestId, 60_000);
  assert.equal(result.ok, true, JSON.stringify(result));
  // A late second approval finds nothing to approve: the seize ran once.
  responder.send({ type: 'approval.decide', id: 'd3', approvalId: pending.approvalId, approve: true, actor: { name: 'rui' }, reason: 'again' });
  const again = await responder.next((m) => m.type === 'error' && m.ref === 'd3');
  assert.equal(again.type === 'error' && again.code, 'unknown_approval');
  const lines = readFileSync(join(dir, 'data', 'action-journal.jsonl'), 'utf8').split('\n').filter((l) => l.includes(seize.requestId) && l.includes('"t":"begin"'));
  assert.equal(lines.length, 1, 'begun once');
  const begun = JSON.parse(lines[0]!) as { requestedBy: object; approval: { approvedBy: object; reason: string } };
  assert.deepEqual(begun.requestedBy, { name: 'lena', role: 'lead' });
  assert.deepEqual(begun.approval.approvedBy, { name: 'rui', role: 'responder' });
  assert.equal(begun.approval.reason, 'confirmed in the feed');

  // A refusal ends a request without acting.
  const second = { ...seize, requestId: 'req-two-person-seize-2', vmId: vms[1]!.id };
  lead.send(second);
  const p2: Approval = (await responder.nextOfType('approval.pending')).approval;
  responder.send({ type: 'approval.decide', id: 'd4', approvalId: p2.approvalId, approve: false, actor: { name: 'rui' }, reason: 'not proportionate' });
  const rejected = await lead.next((m) => m.type === 'action.rejected' && m.requestId === second.requestId);
  assert.equal(rejected.type === 'action.rejected' && rejected.code, 'refused');
  assert.match(rejected.type === 'action.rejected' ? rejected.message : '', /Refused by rui \(responder\): not proportionate/);
  assert.doesNotMatch(readFileSync(join(dir, 'data', 'action-journal.jsonl'), 'utf8'), /req-two-person-seize-2/);

  // A sanitise waits the same way; the report names both.
  responder.send({ type: 'action', requestId: 'req-two-person-term-1', vmId: vms[2]!.id, kind: 'terminate', params: {}, actor: { name: 'rui' }, reason: 'done with it' });
  assert.equal((await responder.next<ActionResultMessage>((m) => m.type === 'action.result' && m.requestId === 'req-two-person-term-1', 20_000)).ok, true);
  lead.send({ type: 'evidence.sanitise', id: 'san-1', vmId: vms[2]!.id, actor: { name: 'lena' }, reason: 'case closed' });
  const pending3 = await responder.next((m) => m.type === 'approval.pending' && m.approval.operation === 'sanitise');
  const p3 = pending3.type === 'approval.pending' ? pending3.approval : undefined;
  assert.equal(p3?.ref, 'san-1');
  assert.equal(lead.received.some((m) => m.type === 'evidence.sanitised'), false, 'nothing overwritten before the approval');
  responder.send({ type: 'approval.decide', id: 'd5', approvalId: p3!.approvalId, approve: true, actor: { name: 'rui' }, reason: 'package verified and handed over' });
  const sanitised = await lead.next((m) => (m.type === 'evidence.sanitised' || m.type === 'error') && m.ref === 'san-1', 30_000);
  assert.equal(sanitised.type, 'evidence.sanitised', JSON.stringify(sanitised));
  const report = sanitised.type === 'evidence.sanitised' ? sanitised.report : undefined;
  assert.deepEqual(report?.requestedBy, { name: 'lena', role: 'lead' });
  assert.deepEqual(report?.approval?.approvedBy, { name: 'rui', role: 'responder' });
});
