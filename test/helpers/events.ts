// Valid cordon.v1 messages for unit tests that script a peer.
import type { HelloMessage, ThreatEvent } from '../../protocol/index.ts';

export function threatEvent(agentId: string, n: number, overrides: Partial<ThreatEvent> = {}): ThreatEvent {
  return {
    id: `${agentId}-e${n}`,
    time: new Date().toISOString(),
    agentId,
    vmId: 'vm-1',
    vmName: 'web-01',
    severity: 'high',
    verdict: 'malicious',
    category: 'network',
    title: `Beacon ${n} to 203.0.113.7:443`,
    process: { pid: 4242, ppid: 1, name: 'curl', commandLine: 'curl -s https://203.0.113.7/b' },
    connection: { protocol: 'tcp', direction: 'outbound', remoteAddress: '203.0.113.7', remotePort: 443 },
    mitre: { techniqueId: 'T1071.001', technique: 'Web Protocols' },
    sensor: { id: 'test', kind: 'sim' },
    ...overrides,
  };
}

export function hello(agentId: string, latestSeq: number): HelloMessage {
  return {
    type: 'hello',
    protocol: 'cordon.v1',
    agent: { id: agentId, host: 'host-1', version: '0.0.0-test' },
    hypervisor: { kind: 'sim', version: 'test' },
    capabilities: ['events', 'inventory'],
    actions: [],
    latestSeq,
    oldestSeq: latestSeq > 0 ? 1 : 0,
    time: new Date().toISOString(),
  };
}
