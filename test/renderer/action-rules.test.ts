// Which action button is available and, if not, what it says: the shared lifecycle (the agent's own rules), the
// agent's driver, and what already runs on the VM. Also the contained list and how an isolation is renewed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ActionKind, Vm } from '../../protocol/index.ts';
import { ACTION_KINDS } from '../../protocol/lifecycle.ts';
import { newPlan } from '../../renderer/src/store/action-plans.ts';
import { containedVms, reasonsFor, renewalStep, whyNot, whyNotRenew, type ActTarget } from '../../renderer/src/store/action-rules.ts';
import { actionRecord, T0, vm } from './fixtures.ts';

const SINCE = '2026-11-23T09:00:00.000Z';

function target(v: Vm | undefined, over: Partial<ActTarget> = {}): ActTarget {
  return { agentId: 'hv-01', vmId: v?.id ?? 'vm-gone', vm: v, agent: { label: 'Rack 4', hypervisor: 'qemu', actions: [...ACTION_KINDS] }, history: [], plan: undefined, ...over };
}

const allowed = (t: ActTarget) => (Object.entries(reasonsFor(t)) as [ActionKind, string | undefined][]).filter(([, r]) => r === undefined).map(([k]) => k).sort();

test('a running VM: everything but resume and release; each refusal is the lifecycle\'s own sentence', () => {
  const t = target(vm('vm-web-1'));
  assert.deepEqual(allowed(t), ['clone', 'freeze', 'isolate', 'seize', 'terminate']);
  assert.equal(whyNot('resume', t), 'web-1 is running, not frozen: there is nothing to resume.');
  assert.equal(whyNot('release', t), 'web-1 is not isolated: there is nothing to release.');
});

test('a frozen, isolated, seized or terminated VM offers what the state machine allows', () => {
  assert.deepEqual(allowed(target(vm('vm-a', { state: 'frozen' }))), ['clone', 'isolate', 'resume', 'seize', 'terminate']);
  assert.deepEqual(allowed(target(vm('vm-a', { state: 'isolated', isolation: { mode: 'cut', since: SINCE } }))), ['clone', 'freeze', 'release', 'seize', 'terminate']);
  assert.deepEqual(allowed(target(vm('vm-a', { state: 'seized' }))), ['clone', 'isolate', 'resume', 'terminate']);
  const dead = target(vm('vm-a', { state: 'terminated' }));
  assert.deepEqual(allowed(dead), []);
  assert.equal(whyNot('seize', dead), 'a is terminated: its memory is gone and cannot be seized any more.');
  assert.match(whyNot('isolate', target(vm('vm-a', { state: 'isolated', isolation: { mode: 'honeypot', since: SINCE } })))!, /already isolated \(honeypot since/);
});

test('what the agent\'s driver does not offer is unavailable, and says so', () => {
  const t = target(vm('vm-web-1'), { agent: { label: 'Rack 4', hypervisor: 'firecracker', actions: ['terminate', 'freeze', 'resume'] } });
  assert.deepEqual(allowed(t), ['freeze', 'terminate']);
  assert.equal(whyNot('clone', t), 'The firecracker driver of Rack 4 cannot clone (it offers: terminate, freeze, resume).');
  assert.equal(whyNot('freeze', target(vm('vm-web-1'), { agent: undefined })), undefined, 'an agent that has not said: the agent decides');
});

test('a VM that is busy, or has an action of ours under way, offers nothing until it ends', () => {
  assert.match(whyNot('terminate', target(vm('vm-web-1', { busy: 'seize' })))!, /busy: a seize runs on it now/);
  const sending = target(vm('vm-web-1'), { history: [actionRecord(1, { phase: 'done' }), actionRecord(2, { kind: 'clone', phase: 'sending' })] });
  assert.match(whyNot('freeze', sending)!, /a clone is being sent to its agent/);
  const planned = target(vm('vm-web-1'), { plan: newPlan(1, 'hv-01', 'vm-web-1', 'Seize first, then terminate', [{ kind: 'seize', params: {}, reason: 'x' }]) });
  assert.match(whyNot('freeze', planned)!, /Seize first, then terminate is under way on web-1/);
  assert.match(whyNot('freeze', target(undefined))!, /not in the inventory of hv-01/);
});

test('a clone is not released while its origin is still on the network with the same address', () => {
  const origin = vm('vm-web-1');
  const clone = vm('vm-web-1-c1', { name: 'web-1-clone-1', state: 'isolated', cloneOf: 'vm-web-1', isolation: { mode: 'cut', since: SINCE } });
  assert.match(whyNot('release', target(clone, { origin }))!, /clone of web-1, which is still on its network/);
  assert.equal(whyNot('release', target(clone, { origin: { ...origin, state: 'terminated' } })), undefined);
});

test('the contained list: frozen, isolated, seized or cloned VMs of every agent, the isolations past their expiry first', () => {
  const now = T0;
  const inventories = new Map<string, Vm[]>([
    ['hv-01', [
      vm('vm-run'),
      vm('vm-frozen', { state: 'frozen' }),
      vm('vm-later', { state: 'isolated', isolation: { mode: 'cut', since: SINCE, expiresAt: new Date(now + 3_600_000).toISOString() } }),
      vm('vm-dead', { state: 'terminated' }),
    ]],
    ['hv-02', [
      vm('vm-late', { state: 'isolated', isolation: { mode: 'honeypot', since: SINCE, expiresAt: new Date(now - 60_000).toISOString() } }),
      vm('vm-seized', { state: 'seized' }),
      vm('vm-x-c1', { state: 'isolated', cloneOf: 'vm-x', isolation: { mode: 'cut', since: SINCE } }),
    ]],
  ]);
  const list = containedVms(inventories, now);
  assert.deepEqual(list.map((c) => c.vm.id), ['vm-late', 'vm-later', 'vm-frozen', 'vm-seized', 'vm-x-c1']);
  assert.equal(list[0]!.expiresIn, -60_000);
});

test('renewing an isolation is one isolate in the same mode with the new expiry, allowed while isolated, frozen or seized', () => {
  // A new expiry an hour from now: the rules refuse one already past (a fixed date here would expire with the calendar).
  const at = new Date(Date.now() + 3_600_000).toISOString();
  const running = vm('vm-a', { state: 'isolated', isolation: { mode: 'honeypot', since: SINCE, expiresAt: '2026-11-23T10:00:00.000Z' } });
  assert.deepEqual(renewalStep(running, at, 'still watching'), { kind: 'isolate', params: { mode: 'honeypot', expiresAt: at }, reason: 'still watching' });
  assert.deepEqual(renewalStep(running, undefined, ''), { kind: 'isolate', params: { mode: 'honeypot' }, reason: '' }, 'no new expiry: none');
  assert.match(renewalStep(vm('vm-b'), at, '') as string, /not isolated: there is no isolation to renew/);
  for (const state of ['isolated', 'frozen', 'seized'] as const) {
    assert.equal(whyNotRenew(target({ ...running, state })), undefined, `renewable while ${state}`);
    assert.equal(whyNot('isolate', target({ ...running, state }), { mode: 'honeypot', expiresAt: at }), undefined, `the rules allow the same mode while ${state}`);
    assert.match(whyNot('isolate', target({ ...running, state }), { mode: 'cut', expiresAt: at })!, /already isolated \(honeypot since .*\): release it first to change how\.$/, 'not another mode');
  }
  // It needs isolate only: an agent that cannot freeze or release renews all the same.
  assert.equal(whyNotRenew(target(running, { agent: { label: 'Rack 4', actions: ['isolate'] } })), undefined);
  assert.match(whyNotRenew(target(running, { agent: { label: 'Rack 4', hypervisor: 'firecracker', actions: ['freeze', 'release'] } }))!, /cannot isolate/);
  assert.match(whyNotRenew(target({ ...running, busy: 'clone' }))!, /busy: a clone runs on it now/);
  assert.match(whyNotRenew(target({ ...running, state: 'seizing' }))!, /being seized: its isolation cannot be renewed until the seizure has ended/);
  assert.match(whyNotRenew(target(vm('vm-b')))!, /not isolated/);
  // The Isolate button makes a new isolation: on an isolated VM it points to Renew, or to release for another mode.
  assert.match(whyNot('isolate', target(running))!, /already isolated \(honeypot since .*\): renew it for a new expiry, or release it first to change how\./);
  const open = vm('vm-c', { state: 'isolated', isolation: { mode: 'cut', since: SINCE } });
  assert.match(whyNot('isolate', target(open))!, /already isolated \(cut since .*\): release it first to change how\./);
});
