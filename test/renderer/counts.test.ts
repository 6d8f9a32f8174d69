import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ThreatCounts } from '../../renderer/src/store/counts.ts';
import { SEVERITY_RANK } from '../../renderer/src/store/filter.ts';

test('threat counts add up per VM and per agent, by verdict, with the worst severity seen', () => {
  const c = new ThreatCounts();
  c.add('hv-01', 'vm-a', 'malicious', 'critical');
  c.add('hv-01', 'vm-a', 'benign', 'info');
  c.add('hv-01', 'vm-b', 'suspicious', 'medium');
  c.add('hv-02', 'vm-a', 'benign', 'low');
  assert.deepEqual({ ...c.ofVm('hv-01', 'vm-a') }, { benign: 1, suspicious: 0, malicious: 1, worst: SEVERITY_RANK.critical });
  assert.deepEqual({ ...c.ofAgent('hv-01') }, { benign: 1, suspicious: 1, malicious: 1, worst: SEVERITY_RANK.critical });
  assert.deepEqual({ ...c.ofVm('hv-02', 'vm-a') }, { benign: 1, suspicious: 0, malicious: 0, worst: SEVERITY_RANK.low });
  assert.equal(c.ofVm('hv-03', 'vm-a'), undefined);
  assert.deepEqual(c.vmIdsOf('hv-01').sort(), ['vm-a', 'vm-b']);
});
