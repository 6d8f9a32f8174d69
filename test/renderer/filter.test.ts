import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter, isFilterEmpty, NO_FILTER, sameFilter, type FeedFilter } from '../../renderer/src/store/filter.ts';
import { feedEvent } from './fixtures.ts';

const f = (over: Partial<FeedFilter>): FeedFilter => ({ ...NO_FILTER, ...over });

test('no filter compiles to no predicate, so the feed needs no index', () => {
  assert.equal(compileFilter(NO_FILTER), null);
  assert.equal(compileFilter(f({ text: '   ' })), null);
  assert.ok(isFilterEmpty(f({ text: ' ' })));
});

test('minimum severity lets through that severity and worse', () => {
  const p = compileFilter(f({ minSeverity: 'high' }))!;
  assert.equal(p(feedEvent(1, { severity: 'critical' })), true);
  assert.equal(p(feedEvent(1, { severity: 'high' })), true);
  assert.equal(p(feedEvent(1, { severity: 'medium' })), false);
  assert.equal(p(feedEvent(1, { severity: 'info' })), false);
});

test('verdict matches exactly, and "not benign" means suspicious or malicious', () => {
  const mal = compileFilter(f({ verdict: 'malicious' }))!;
  assert.equal(mal(feedEvent(1, { verdict: 'malicious' })), true);
  assert.equal(mal(feedEvent(1, { verdict: 'suspicious' })), false);
  const notBenign = compileFilter(f({ verdict: 'not-benign' }))!;
  assert.equal(notBenign(feedEvent(1, { verdict: 'suspicious' })), true);
  assert.equal(notBenign(feedEvent(1, { verdict: 'malicious' })), true);
  assert.equal(notBenign(feedEvent(1, { verdict: 'benign' })), false);
});

test('agent and VM filters use the hub\'s agent id, and a VM id only counts on its own agent', () => {
  const byAgent = compileFilter(f({ agentId: 'hv-02' }))!;
  assert.equal(byAgent(feedEvent(1, {}, 'hv-02')), true);
  assert.equal(byAgent(feedEvent(1, {}, 'hv-01')), false);
  const byVm = compileFilter(f({ vm: { agentId: 'hv-01', vmId: 'vm-db-1' } }))!;
  assert.equal(byVm(feedEvent(1, { vmId: 'vm-db-1' }, 'hv-01')), true);
  assert.equal(byVm(feedEvent(1, { vmId: 'vm-db-1' }, 'hv-02')), false, 'same VM id on another host is another VM');
  assert.equal(byVm(feedEvent(1, { vmId: 'vm-web-1' }, 'hv-01')), false);
});

test('free text searches title, process name, command line, executable, addresses and file path, any case', () => {
  const match = (text: string, over: Parameters<typeof feedEvent>[1]) => compileFilter(f({ text }))!(feedEvent(1, over));
  assert.equal(match('LOGROTATE', {}), true, 'process name, case-insensitive');
  assert.equal(match('Word document', { title: 'Word document spawned a shell' }), true, 'title, every word');
  assert.equal(match('beacon 203.0.113', {
    title: 'beacon',
    connection: { protocol: 'tcp', direction: 'outbound', remoteAddress: '203.0.113.66', remotePort: 443 },
  }), true, 'words may match different fields');
  assert.equal(match('10.0.0.4', { connection: { protocol: 'tcp', direction: 'listen', localAddress: '10.0.0.4', localPort: 4444 } }), true);
  assert.equal(match('/tmp/.x', { file: { path: '/tmp/.x/payload' } }), true);
  assert.equal(match('nc -lvp', { process: { pid: 1, name: 'nc', commandLine: 'nc -lvp 4444 -e /bin/sh' } }), true);
  assert.equal(match('/usr/bin/python3', { process: { pid: 1, name: 'python3', executable: '/usr/bin/python3' } }), true);
  assert.equal(match('mimikatz', {}), false);
});

test('free text is literal: regex metacharacters in what the responder types are not a pattern', () => {
  const p = compileFilter(f({ text: '.*' }))!;
  assert.equal(p(feedEvent(1, { title: 'anything' })), false);
  assert.equal(p(feedEvent(1, { title: 'glob .* here' })), true);
  const q = compileFilter(f({ text: '(a+)+$ [' }))!;
  assert.equal(q(feedEvent(1, { title: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!' })), false);
});

test('all criteria apply together', () => {
  const p = compileFilter(f({ minSeverity: 'medium', verdict: 'malicious', agentId: 'hv-01', text: 'shell' }))!;
  assert.equal(p(feedEvent(1, { severity: 'high', verdict: 'malicious', title: 'reverse shell' })), true);
  assert.equal(p(feedEvent(1, { severity: 'low', verdict: 'malicious', title: 'reverse shell' })), false);
  assert.equal(p(feedEvent(1, { severity: 'high', verdict: 'benign', title: 'reverse shell' })), false);
});

test('filters that differ only in surrounding spaces are the same filter', () => {
  assert.ok(sameFilter(f({ text: 'nc ' }), f({ text: ' nc' })));
  assert.ok(!sameFilter(f({ vm: { agentId: 'a', vmId: 'b' } }), f({ vm: { agentId: 'a', vmId: 'c' } })));
});
