// Benign background activity of the simulated VMs: cron, package updates, admins' ssh logins, DNS, role-specific
// chatter, and the internet's constant scanning of exposed VMs. Pre-built per VM so that emitting one at 50,000
// events per second costs an object copy, not a story.
import type { ThreatEvent } from '../../protocol/index.ts';
import type { Rng, SimVm } from './sim-fleet.ts';

/** A threat event before the sim stamps it with an id and the time it was emitted. */
export type EventDraft = Omit<ThreatEvent, 'id' | 'time'>;

/** How many variants each VM gets: enough that the feed does not visibly repeat, few enough to stay in cache. */
export const VARIANTS_PER_VM = 48;

const ADMINS = ['ops-alice', 'ops-bogdan', 'ops-chen', 'ops-dana'] as const;
const ADMIN_WORKSTATIONS = ['10.20.5.21', '10.20.5.34', '10.20.5.47'] as const;
// Documentation and well-known scanner ranges: plausible, and nobody's real address gets blamed in a demo.
const SCANNERS = ['198.51.100.23', '203.0.113.77', '192.0.2.140', '198.51.100.201'] as const;
const LOOKUPS = ['deb.debian.org', 'security.debian.org', 'ntp.ubuntu.com', 'api.github.com', 'registry.npmjs.org', 'ocsp.digicert.com', 'db-01.prod.internal', 'ldap.corp.internal'] as const;

type Kind = (vm: SimVm, rng: Rng, agentId: string) => EventDraft;

function base(vm: SimVm, agentId: string, sensorId: string, kind: EventDraft['sensor']['kind']): Pick<EventDraft, 'agentId' | 'vmId' | 'vmName' | 'sensor' | 'scenario'> {
  return { agentId, vmId: vm.vm.id, vmName: vm.vm.name, sensor: { id: sensorId, kind }, scenario: 'background' };
}

const cron: Kind = (vm, rng, agentId) => {
  const job = rng.pick(['run-parts /etc/cron.hourly', 'test -x /usr/sbin/anacron || run-parts --report /etc/cron.daily', '/usr/lib/php/sessionclean', 'debian-sa1 1 1']);
  return {
    ...base(vm, agentId, 'auditd', 'guest'),
    severity: 'info', verdict: 'benign', category: 'process',
    title: 'Scheduled job ran (cron)',
    process: { pid: rng.int(2000, 60000), ppid: rng.int(500, 900), name: 'sh', commandLine: `/bin/sh -c ${job}`, executable: '/usr/bin/dash', user: 'root', parentName: 'cron' },
  };
};

const dns: Kind = (vm, rng, agentId) => {
  const name = rng.pick(LOOKUPS);
  return {
    ...base(vm, agentId, 'dns-tap', 'network'),
    severity: 'info', verdict: 'benign', category: 'network',
    title: `DNS lookup ${name}`,
    connection: { protocol: 'udp', direction: 'outbound', localAddress: vm.ip, localPort: rng.int(32768, 60999), remoteAddress: '10.20.20.53', remotePort: 53, bytesOut: rng.int(40, 90), bytesIn: rng.int(60, 400) },
  };
};

const sshAdmin: Kind = (vm, rng, agentId) => {
  const user = rng.pick(ADMINS);
  const from = rng.pick(ADMIN_WORKSTATIONS);
  return {
    ...base(vm, agentId, 'sshd-log', 'log'),
    severity: 'low', verdict: 'benign', category: 'auth',
    title: `SSH login by ${user}`,
    description: `Accepted publickey for ${user} from ${from}: a known administrator key from an administration workstation.`,
    process: { pid: rng.int(2000, 60000), ppid: rng.int(400, 900), name: 'sshd', commandLine: `sshd: ${user} [priv]`, executable: '/usr/sbin/sshd', user: 'root' },
    connection: { protocol: 'tcp', direction: 'inbound', localAddress: vm.ip, localPort: 22, remoteAddress: from, remotePort: rng.int(40000, 65000), state: 'ESTABLISHED' },
  };
};

const packageUpdate: Kind = (vm, rng, agentId) => {
  const cmd = rng.pick(['/usr/bin/apt-get -qq update', '/usr/bin/unattended-upgrade', '/usr/bin/apt-get -qq -y install --only-upgrade openssl libssl3']);
  return {
    ...base(vm, agentId, 'auditd', 'guest'),
    severity: 'info', verdict: 'benign', category: 'process',
    title: 'Package update check',
    process: { pid: rng.int(2000, 60000), ppid: 1, name: cmd.split(' ')[0]!.split('/').pop()!, commandLine: cmd, executable: cmd.split(' ')[0]!, user: 'root', parentName: 'systemd' },
    connection: { protocol: 'tcp', direction: 'outbound', localAddress: vm.ip, localPort: rng.int(32768, 60999), remoteAddress: '151.101.2.132', remotePort: 443, state: 'ESTABLISHED', bytesOut: rng.int(900, 4000), bytesIn: rng.int(20000, 900000) },
  };
};

const sudoAdmin: Kind = (vm, rng, agentId) => {
  const user = rng.pick(ADMINS);
  const cmd = rng.pick(['systemctl restart nginx', 'journalctl -u ssh --since today', 'apt-get upgrade', 'ss -tlnp']);
  return {
    ...base(vm, agentId, 'sudo-log', 'log'),
    severity: 'low', verdict: 'benign', category: 'auth',
    title: `sudo by ${user}`,
    process: { pid: rng.int(2000, 60000), ppid: rng.int(2000, 60000), name: 'sudo', commandLine: `sudo ${cmd}`, executable: '/usr/bin/sudo', user, parentName: 'bash' },
  };
};

const logrotate: Kind = (vm, rng, agentId) => ({
  ...base(vm, agentId, 'fim', 'guest'),
  severity: 'info', verdict: 'benign', category: 'file',
  title: 'Log rotated',
  process: { pid: rng.int(2000, 60000), ppid: 1, name: 'logrotate', commandLine: '/usr/sbin/logrotate /etc/logrotate.conf', executable: '/usr/sbin/logrotate', user: 'root', parentName: 'systemd' },
  file: { path: rng.pick(['/var/log/syslog.1', '/var/log/auth.log.1', '/var/log/nginx/access.log.1', '/var/log/postgresql/postgresql-15-main.log.1']), operation: 'rename', size: rng.int(10000, 50_000_000) },
});

const timeSync: Kind = (vm, rng, agentId) => ({
  ...base(vm, agentId, 'flow', 'network'),
  severity: 'info', verdict: 'benign', category: 'network',
  title: 'NTP time sync',
  process: { pid: rng.int(300, 900), ppid: 1, name: 'systemd-timesyncd', executable: '/lib/systemd/systemd-timesyncd', user: 'systemd-timesync' },
  connection: { protocol: 'udp', direction: 'outbound', localAddress: vm.ip, localPort: 123, remoteAddress: '10.20.20.5', remotePort: 123, bytesOut: 48, bytesIn: 48 },
});

// The internet never stops knocking: plausible low/suspicious noise a responder learns to filter.
const scannerNoise: Kind = (vm, rng, agentId) => {
  const from = rng.pick(SCANNERS);
  const user = rng.pick(['admin', 'ubuntu', 'test', 'oracle', 'pi', 'git']);
  return {
    ...base(vm, agentId, 'sshd-log', 'log'),
    severity: 'low', verdict: 'suspicious', category: 'auth',
    title: `Failed SSH password for invalid user ${user}`,
    description: `Internet scanner ${from} tried password logins; password authentication is disabled on this VM.`,
    connection: { protocol: 'tcp', direction: 'inbound', localAddress: vm.ip, localPort: 22, remoteAddress: from, remotePort: rng.int(30000, 65000), state: 'CLOSED' },
    mitre: { techniqueId: 'T1110.001', technique: 'Brute Force: Password Guessing', tactic: 'credential-access' },
  };
};

const roleChatter: Record<SimVm['role'], Kind> = {
  web: (vm, rng, agentId) => ({
    ...base(vm, agentId, 'flow', 'network'),
    severity: 'info', verdict: 'benign', category: 'network',
    title: 'HTTPS request served',
    process: { pid: rng.int(1000, 3000), ppid: rng.int(500, 999), name: 'nginx', commandLine: 'nginx: worker process', executable: '/usr/sbin/nginx', user: 'www-data', parentName: 'nginx' },
    connection: { protocol: 'tcp', direction: 'inbound', localAddress: vm.ip, localPort: 443, remoteAddress: `${rng.int(11, 223)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`, remotePort: rng.int(30000, 65000), state: 'ESTABLISHED', bytesIn: rng.int(300, 2000), bytesOut: rng.int(2000, 90000) },
  }),
  db: (vm, rng, agentId) => ({
    ...base(vm, agentId, 'auditd', 'guest'),
    severity: 'info', verdict: 'benign', category: 'process',
    title: 'PostgreSQL autovacuum',
    process: { pid: rng.int(1000, 30000), ppid: rng.int(600, 999), name: 'postgres', commandLine: `postgres: autovacuum worker ${rng.pick(['orders', 'customers', 'sessions'])}`, executable: '/usr/lib/postgresql/15/bin/postgres', user: 'postgres', parentName: 'postgres' },
  }),
  build: (vm, rng, agentId) => {
    const cmd = rng.pick(['npm ci --ignore-scripts', 'git fetch --depth 1 origin main', 'make -j2 all', 'cargo build --release']);
    return {
      ...base(vm, agentId, 'auditd', 'guest'),
      severity: 'info', verdict: 'benign', category: 'process',
      title: `CI job step: ${cmd.split(' ')[0]}`,
      process: { pid: rng.int(2000, 60000), ppid: rng.int(1000, 2000), name: cmd.split(' ')[0]!, commandLine: cmd, user: 'runner', parentName: 'runner-agent' },
    };
  },
  api: (vm, rng, agentId) => ({
    ...base(vm, agentId, 'flow', 'network'),
    severity: 'info', verdict: 'benign', category: 'network',
    title: 'API service connected to the database',
    process: { pid: rng.int(300, 2000), ppid: 1, name: 'node', commandLine: 'node /srv/api/dist/server.js', executable: '/usr/bin/node', user: 'api' },
    connection: { protocol: 'tcp', direction: 'internal', localAddress: vm.ip, localPort: rng.int(32768, 60999), remoteAddress: '10.20.20.11', remotePort: 5432, state: 'ESTABLISHED' },
  }),
  desk: (vm, rng, agentId) => {
    const doc = rng.pick(['Q3-budget.ods', 'meeting-notes.odt', 'travel-policy.pdf', 'org-chart.pdf']);
    const viewer = doc.endsWith('.pdf') ? 'evince' : 'soffice.bin';
    return {
      ...base(vm, agentId, 'auditd', 'guest'),
      severity: 'info', verdict: 'benign', category: 'file',
      title: `Document opened: ${doc}`,
      process: { pid: rng.int(2000, 60000), ppid: rng.int(1000, 2000), name: viewer, commandLine: `${viewer} /home/jdoe/Documents/${doc}`, user: 'jdoe', parentName: 'nautilus' },
      file: { path: `/home/jdoe/Documents/${doc}`, operation: 'read', size: rng.int(20000, 4_000_000) },
    };
  },
  mail: (vm, rng, agentId) => ({
    ...base(vm, agentId, 'flow', 'network'),
    severity: 'info', verdict: 'benign', category: 'network',
    title: 'SMTP message accepted',
    process: { pid: rng.int(2000, 60000), ppid: rng.int(600, 999), name: 'smtpd', commandLine: 'smtpd -n smtp -t inet -u -c', executable: '/usr/lib/postfix/sbin/smtpd', user: 'postfix', parentName: 'master' },
    connection: { protocol: 'tcp', direction: 'inbound', localAddress: vm.ip, localPort: 25, remoteAddress: `${rng.int(11, 223)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`, remotePort: rng.int(30000, 65000), state: 'ESTABLISHED', bytesIn: rng.int(2000, 2_000_000) },
  }),
  dns: (vm, rng, agentId) => ({
    ...base(vm, agentId, 'flow', 'network'),
    severity: 'info', verdict: 'benign', category: 'network',
    title: 'Resolver forwarded a query upstream',
    process: { pid: rng.int(300, 900), ppid: 1, name: 'unbound', commandLine: '/usr/sbin/unbound -d -p', executable: '/usr/sbin/unbound', user: 'unbound' },
    connection: { protocol: 'udp', direction: 'outbound', localAddress: vm.ip, localPort: rng.int(32768, 60999), remoteAddress: rng.pick(['9.9.9.9', '1.1.1.1']), remotePort: 53, bytesOut: rng.int(40, 90), bytesIn: rng.int(60, 500) },
  }),
  cache: (vm, rng, agentId) => ({
    ...base(vm, agentId, 'fim', 'guest'),
    severity: 'info', verdict: 'benign', category: 'file',
    title: 'Redis snapshot written',
    process: { pid: rng.int(300, 2000), ppid: 1, name: 'redis-server', commandLine: '/usr/bin/redis-server 10.20.20.0:6379', executable: '/usr/bin/redis-server', user: 'redis' },
    file: { path: '/var/lib/redis/dump.rdb', operation: 'write', size: rng.int(1_000_000, 400_000_000) },
  }),
  files: (vm, rng, agentId) => ({
    ...base(vm, agentId, 'smb-audit', 'log'),
    severity: 'info', verdict: 'benign', category: 'file',
    title: 'File share access',
    process: { pid: rng.int(2000, 60000), ppid: rng.int(600, 999), name: 'smbd', commandLine: '/usr/sbin/smbd --foreground --no-process-group', user: rng.pick(['jdoe', 'asmith', 'mkovac']) },
    file: { path: `/srv/share/${rng.pick(['finance', 'hr', 'projects'])}/${rng.pick(['report.xlsx', 'plan.docx', 'scan-0042.pdf'])}`, operation: rng.pick(['read', 'write'] as const), size: rng.int(20000, 20_000_000) },
  }),
};

// Weights: what a quiet production host's sensor feed looks like (mostly role chatter and DNS).
const COMMON: readonly [Kind, number][] = [[dns, 5], [cron, 3], [packageUpdate, 1], [sshAdmin, 1], [sudoAdmin, 1], [logrotate, 1], [timeSync, 1]];

/** Builds the pre-made background events of one VM, deterministic in `rng`. */
export function backgroundFor(vm: SimVm, rng: Rng, agentId: string): EventDraft[] {
  const kinds: Kind[] = [];
  for (const [kind, weight] of COMMON) for (let i = 0; i < weight; i++) kinds.push(kind);
  for (let i = 0; i < 6; i++) kinds.push(roleChatter[vm.role]);
  if (vm.vm.tags?.includes('internet-facing')) kinds.push(scannerNoise, scannerNoise);
  const out: EventDraft[] = [];
  for (let i = 0; i < VARIANTS_PER_VM; i++) out.push(rng.pick(kinds)(vm, rng, agentId));
  return out;
}
