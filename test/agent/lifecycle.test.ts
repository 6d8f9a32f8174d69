// The VM lifecycle every driver shares: which action runs from which state, what a refusal says, and where each
// action leaves the VM. Pure functions, checked exhaustively over every kind and state, with and without isolation.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ActionKind, VmIsolation, VmState } from '../../protocol/index.ts';
import { ACTION_KINDS, cloneCondition, during, isRenewal, refuse, settle, type VmCondition } from '../../protocol/lifecycle.ts';

const STATES: VmState[] = ['running', 'frozen', 'isolated', 'terminated', 'seizing', 'seized'];
const CUT: VmIsolation = { mode: 'cut', since: '2026-11-23T10:00:00.000Z' };
const AT = '2026-11-23T10:05:00.000Z';

/**
 * The table protocol/README.md documents, written out: ✓ runs, ✗ is refused with wrong_state. Columns in the order
 * terminate, freeze, resume, clone, isolate, release, seize; "+iso" rows carry an isolation (cut, so an isolate with
 * no params, cut by default, is a renewal there).
 */
const TABLE: Record<string, string> = {
  'running':        '✓ ✓ ✗ ✓ ✓ ✗ ✓',
  'isolated+iso':   '✓ ✓ ✗ ✓ ✓ ✓ ✓',
  'frozen':         '✓ ✗ ✓ ✓ ✓ ✗ ✓',
  'frozen+iso':     '✓ ✗ ✓ ✓ ✓ ✓ ✓',
  'seizing':        '✓ ✗ ✓ ✗ ✗ ✗ ✓',
  'seizing+iso':    '✓ ✗ ✓ ✗ ✗ ✗ ✓',
  'seized':         '✓ ✗ ✓ ✓ ✓ ✗ ✗',
  'seized+iso':     '✓ ✗ ✓ ✓ ✓ ✓ ✗',
  'terminated':     '✗ ✗ ✗ ✗ ✗ ✗ ✗',
};

test('every kind from every state: allowed exactly where the table says, otherwise wrong_state with a sentence naming the VM', () => {
  assert.deepEqual(ACTION_KINDS, ['terminate', 'freeze', 'resume', 'clone', 'isolate', 'release', 'seize']);
  for (const [row, cells] of Object.entries(TABLE)) {
    const [state, iso] = row.split('+') as [VmState, string | undefined];
    const vm: VmCondition = { id: 'vm-1', name: 'web-01', state, ...(iso ? { isolation: CUT } : {}) };
    const marks = cells.split(' ');
    for (const [i, kind] of ACTION_KINDS.entries()) {
      const r = refuse(vm, kind, {});
      assert.equal(r ? '✗' : '✓', marks[i], `${kind} from ${row}: ${r?.message ?? 'allowed'}`);
      if (r) {
        assert.equal(r.code, 'wrong_state');
        assert.match(r.message, /^web-01 .+\.$/, `"${r.message}" is a sentence about web-01`);
      }
    }
  }
  assert.deepEqual(Object.keys(TABLE).map((r) => r.split('+')[0]).filter((v, i, a) => a.indexOf(v) === i).sort(), [...STATES].sort());
});

test('the sentences a responder reads for the common refusals', () => {
  const vm = (state: VmState, isolation?: VmIsolation): VmCondition => ({ id: 'v', name: 'web-01', state, ...(isolation ? { isolation } : {}) });
  assert.equal(refuse(vm('terminated'), 'freeze', {})?.message, 'web-01 is terminated: nothing more can run in it.');
  assert.equal(refuse(vm('frozen'), 'freeze', {})?.message, 'web-01 is frozen: its vCPUs are paused already.');
  assert.equal(refuse(vm('running'), 'release', {})?.message, 'web-01 is not isolated: there is nothing to release.');
  assert.equal(refuse(vm('running'), 'resume', {})?.message, 'web-01 is running, not frozen: there is nothing to resume.');
  assert.match(refuse(vm('isolated', CUT), 'isolate', { mode: 'honeypot' })!.message, /already isolated \(cut since .*\): release it first/);
  assert.match(refuse(vm('seized'), 'seize', {})!.message, /already seized/);
  assert.match(refuse(vm('terminated'), 'seize', {})!.message, /memory is gone/);
});

test('a parameter another kind reads, or an expiry in the past, is bad_params', () => {
  const vm: VmCondition = { id: 'v', name: 'web-01', state: 'running' };
  assert.equal(refuse(vm, 'clone', { mode: 'cut' })?.code, 'bad_params');
  assert.match(refuse(vm, 'clone', { mode: 'cut' })!.message, /A clone takes no "mode" parameter \(it is for isolate\)/);
  assert.equal(refuse(vm, 'terminate', { caseId: 'C-1' })?.code, 'bad_params');
  assert.equal(refuse(vm, 'isolate', { expiresAt: '2026-11-23T09:00:00Z' }, { now: Date.parse(AT) })?.code, 'bad_params');
  assert.equal(refuse(vm, 'isolate', { mode: 'honeypot', expiresAt: '2026-11-24T09:00:00Z' }, { now: Date.parse(AT) }), undefined);
  assert.equal(refuse(vm, 'seize', { caseId: 'C-1' }), undefined);
  assert.equal(refuse(vm, 'clone', { network: 'honeypot' }), undefined);
});

test('where each action leaves the VM; isolation survives freeze, resume and seize, and only release or terminate end it', () => {
  const run = (state: VmState, kind: ActionKind, isolation?: VmIsolation) =>
    settle({ id: 'v', name: 'web-01', state, ...(isolation ? { isolation } : {}) }, kind, { at: AT, params: kind === 'isolate' ? { mode: 'honeypot' } : {} });
  assert.deepEqual(run('running', 'freeze'), { state: 'frozen' });
  assert.deepEqual(run('isolated', 'freeze', CUT), { state: 'frozen', isolation: CUT });
  assert.deepEqual(run('frozen', 'resume', CUT), { state: 'isolated', isolation: CUT });
  assert.deepEqual(run('frozen', 'resume'), { state: 'running' });
  assert.deepEqual(run('seized', 'resume'), { state: 'running' });
  assert.deepEqual(run('running', 'isolate'), { state: 'isolated', isolation: { mode: 'honeypot', since: AT } });
  assert.deepEqual(run('frozen', 'isolate'), { state: 'frozen', isolation: { mode: 'honeypot', since: AT } });
  assert.deepEqual(run('isolated', 'release', CUT), { state: 'running' });
  assert.deepEqual(run('frozen', 'release', CUT), { state: 'frozen' });
  assert.deepEqual(run('isolated', 'seize', CUT), { state: 'seized', isolation: CUT });
  assert.deepEqual(run('isolated', 'terminate', CUT), { state: 'terminated' });
  assert.deepEqual(run('running', 'clone'), { state: 'running' }, 'the origin is unchanged');
  assert.deepEqual(during({ id: 'v', name: 'web-01', state: 'isolated', isolation: CUT }, 'seize'), { state: 'seizing', isolation: CUT });
  assert.equal(during({ id: 'v', name: 'web-01', state: 'running' }, 'freeze'), undefined);
});

test('isolate on a VM isolated in the same mode renews it, from isolated, frozen or seized; another mode is still refused', () => {
  const vm = (state: VmState, isolation?: VmIsolation): VmCondition => ({ id: 'v', name: 'web-01', state, ...(isolation ? { isolation } : {}) });
  const HONEYPOT: VmIsolation = { mode: 'honeypot', since: CUT.since, expiresAt: '2026-11-23T11:00:00.000Z' };
  const later = { expiresAt: '2026-11-23T18:00:00.000Z' };
  for (const state of ['isolated', 'frozen', 'seized'] as const) {
    assert.equal(refuse(vm(state, CUT), 'isolate', { mode: 'cut', ...later }, { now: Date.parse(AT) }), undefined, `a cut renewal from ${state}`);
    assert.equal(refuse(vm(state, HONEYPOT), 'isolate', { mode: 'honeypot', ...later }, { now: Date.parse(AT) }), undefined, `a honeypot renewal from ${state}`);
    assert.equal(refuse(vm(state, CUT), 'isolate', { mode: 'cut' }), undefined, `a renewal without an expiry, from ${state}`);
    const other = refuse(vm(state, HONEYPOT), 'isolate', { mode: 'cut', ...later }, { now: Date.parse(AT) });
    assert.equal(other?.code, 'wrong_state');
    assert.equal(other?.message, 'web-01 is already isolated (honeypot since 2026-11-23T10:00:00.000Z): release it first to change how.');
  }
  assert.equal(refuse(vm('isolated', HONEYPOT), 'isolate', {})?.code, 'wrong_state', 'no mode is cut: not the honeypot\'s renewal');
  assert.equal(refuse(vm('seizing', CUT), 'isolate', { mode: 'cut' })?.message, 'web-01 is being seized: its isolation cannot be renewed until the seizure has ended.');
  assert.match(refuse(vm('terminated'), 'isolate', { mode: 'cut' })!.message, /terminated/);
  const past = refuse(vm('isolated', CUT), 'isolate', { mode: 'cut', expiresAt: '2026-11-23T09:00:00Z' }, { now: Date.parse(AT) });
  assert.equal(past?.code, 'bad_params', 'a renewal to an expiry in the past is still a cockpit bug');
  assert.equal(isRenewal(vm('isolated', CUT), { mode: 'cut' }), true);
  assert.equal(isRenewal(vm('isolated', CUT), {}), true, 'cut is the default mode');
  assert.equal(isRenewal(vm('isolated', CUT), { mode: 'honeypot' }), false);
  assert.equal(isRenewal(vm('running'), { mode: 'cut' }), false, 'a first isolation is not a renewal');
});

test('a renewal keeps the state and since, takes the new expiry (or drops it) and the new proof', () => {
  const proof = { checkedAt: AT, ok: true, checks: [{ name: 'link-state:eth0', ok: true, detail: 'checked again' }] };
  const old = { checkedAt: CUT.since, ok: true, checks: [{ name: 'link-state:eth0', ok: true, detail: 'first check' }] };
  const isolation: VmIsolation = { ...CUT, expiresAt: '2026-11-23T11:00:00.000Z', proof: old };
  const renew = (state: VmState, params: { mode?: 'cut' | 'honeypot'; expiresAt?: string }, withProof = true) =>
    settle({ id: 'v', name: 'web-01', state, isolation }, 'isolate', withProof ? { at: AT, params, proof } : { at: AT, params });
  assert.deepEqual(renew('isolated', { mode: 'cut', expiresAt: '2026-11-23T18:00:00.000Z' }),
    { state: 'isolated', isolation: { mode: 'cut', since: CUT.since, expiresAt: '2026-11-23T18:00:00.000Z', proof } });
  assert.deepEqual(renew('frozen', { mode: 'cut' }), { state: 'frozen', isolation: { mode: 'cut', since: CUT.since, proof } }, 'no expiry given: none kept');
  assert.deepEqual(renew('seized', {}), { state: 'seized', isolation: { mode: 'cut', since: CUT.since, proof } });
  assert.deepEqual(renew('isolated', { mode: 'cut' }, false).isolation?.proof, old, 'without a new proof, the last one stands');
});

test('a clone starts isolated (cut unless the honeypot is asked), and is not released onto its origin\'s network', () => {
  assert.deepEqual(cloneCondition({}, AT), { state: 'isolated', isolation: { mode: 'cut', since: AT } });
  assert.deepEqual(cloneCondition({ network: 'honeypot' }, AT), { state: 'isolated', isolation: { mode: 'honeypot', since: AT } });
  const clone: VmCondition = { id: 'c', name: 'web-01-clone-1', state: 'isolated', isolation: CUT, cloneOf: 'v' };
  const origin = (state: VmState, isolation?: VmIsolation): VmCondition => ({ id: 'v', name: 'web-01', state, ...(isolation ? { isolation } : {}) });
  assert.match(refuse(clone, 'release', {}, { origin: origin('running') })!.message, /still on its network with the same MAC and IP address: isolate or terminate web-01 first/);
  assert.equal(refuse(clone, 'release', {}, { origin: origin('frozen') })?.code, 'wrong_state');
  assert.equal(refuse(clone, 'release', {}, { origin: origin('isolated', CUT) }), undefined);
  assert.equal(refuse(clone, 'release', {}, { origin: origin('terminated') }), undefined);
  assert.equal(refuse(clone, 'release', {}), undefined, 'an origin gone from the host holds nothing');
});

test('protocol/README.md\'s state table is what the agent enforces: each ✓ runs and leaves the state it names, each ✗ is refused', () => {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'protocol', 'README.md'), 'utf8');
  const start = readme.indexOf('| from \\ action |');
  assert.ok(start > 0, 'the README has the table');
  const table = readme.slice(start, readme.indexOf('\n\n', start));
  const rows = table.split('\n').slice(2);
  assert.ok(rows.length >= 8);
  for (const row of rows) {
    const cells = row.split('|').slice(1, -1).map((c) => c.trim());
    const label = cells[0]!;
    const state = /^`([a-z]+)`/.exec(label)![1] as VmState;
    const vm: VmCondition = { id: 'v', name: 'web-01', state, ...(label.includes('+iso') ? { isolation: CUT } : {}) };
    for (const [i, kind] of ACTION_KINDS.entries()) {
      const cell = cells[i + 1]!;
      const r = refuse(vm, kind, {});
      assert.equal(r ? '✗' : '✓', cell[0], `README says ${cell} for ${kind} from ${label}; the agent says ${r?.message ?? 'yes'}`);
      const to = [...cell.matchAll(/→ (?:\*\*)?([a-z]+)(?:\*\*)?( \+iso)?/g)].pop(); // the last arrow: where it ends
      if (!r && to) {
        const after = settle(vm, kind, { at: AT, params: {} });
        assert.equal(after.state, to[1], `${kind} from ${label} leads to ${to[1]}`);
        assert.equal(after.isolation !== undefined, to[2] !== undefined || to[1] === 'isolated', `${kind} from ${label}: isolation kept as the README says`);
      }
    }
  }
});
