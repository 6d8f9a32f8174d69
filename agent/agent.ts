// Puts an agent together: the event log, a driver, the action journal and runner, the logs (store, sources,
// detectors) and the WebSocket server, wired so that every threat event is numbered and written before any cockpit
// sees it, and every action request id before it runs. `startAgent` is the programmatic entry; agent/cli.ts wraps it.
import { randomInt } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
// The version a hello reports; imported (not read at run time) so that the bundled agent carries it too.
import pkg from '../package.json' with { type: 'json' };
import { PROTOCOL, type AgentMessage, type HelloMessage, type InspectMessage, type ThreatEvent } from '../protocol/index.ts';
import { ActionJournal, DEFAULT_JOURNAL_LIMIT } from './action-journal.ts';
import { ActionRunner, printable } from './actions.ts';
import { ConsoleHub, type ConsoleStats } from './consoles.ts';
import { DRIVERS, driverNames } from './drivers/index.ts';
import type { Driver, DriverConfig } from './drivers/driver.ts';
import { AgentError } from './errors.ts';
import { EventLog } from './event-log.ts';
import { AgentLogs, type LogsOptions } from './logs/agent-logs.ts';
import { PolicyEnforcer } from './policy/enforcer.ts';
import { loadTrustedKeys } from './policy/signing.ts';
import { AgentServer, isLoopback } from './server.ts';
import { sharedTokenAccess, type AccessPolicy } from './access.ts';
import { ApprovalDesk } from './approvals.ts';
import { defaultNames, loadTlsIdentity, type TlsIdentity } from './tls.ts';
import { EvidenceStore } from './evidence/store.ts';

export const AGENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export interface AgentOptions {
  /** Bearer token a cockpit must present (one shared principal, a lead); or give `access`. */
  token?: string;
  /** Principals and roles (agent/access.ts), from an access file; replaces `token`. */
  access?: AccessPolicy;
  /**
   * TLS (wss://): always off loopback; on loopback only when asked. `dir` keeps the made key and certificate (default
   * <data dir>/tls); `certFile` and `keyFile` give one instead.
   */
  tls?: boolean | { dir?: string; certFile?: string; keyFile?: string };
  /** A driver name from agent/drivers/index.ts (`sim` by default), or a driver built by the caller (embedding, tests). */
  driver?: string | Driver;
  host?: string;
  /** 0: any free port. */
  port?: number;
  agentId?: string;
  /** Event log folder; by default ./.cordon-data/agent-<id>. */
  dataDir?: string;
  vms?: number;
  rate?: number;
  seed?: number;
  retain?: number;
  /** Action request ids remembered for idempotence (default 100,000). */
  actionJournalLimit?: number;
  /** An action running longer than this is aborted (default 30 minutes). */
  actionDeadlineMs?: number;
  /** Operator notes (stderr in the CLI); they are kept in the log store too, as source `agent`. */
  note?: (line: string) => void;
  /** Log collection and detectors (agent/logs/agent-logs.ts); `false` keeps no logs at all. */
  logs?: LogsOptions | false;
  /** Ed25519 public keys (PEM files) whose signed policies the agent accepts (--policy-key). */
  policyKeys?: string[];
  /** A signed policy file to enforce from the start (--policy); a refused one stops the agent. */
  policyFile?: string;
  /** The host groups this agent belongs to, for the policy's delta and exception scopes (--host-group). */
  hostGroups?: string[];
  /** The policy's clock (ms since the epoch); tests move it. */
  policyClock?: () => number;
}

export interface RunningAgent {
  url: string;
  /** The TLS certificate's SHA-256 fingerprint, which cockpits pin; absent on plain ws://. */
  fingerprint?: string;
  port: number;
  agentId: string;
  /** Where its event log lives. */
  dataDir: string;
  /** Where its syslog listener listens (UDP and TCP), when it has one. */
  syslog?: { host: string; port: number };
  /** What the console attachments hold and did (agent/consoles.ts): bounded memory, pauses, resizes. */
  consoleStats(): ConsoleStats;
  /** Stops the driver, closes every connection, flushes and releases the event log. */
  close(): Promise<void>;
}

export const DEFAULTS = { driver: 'sim', host: '127.0.0.1', port: 0, vms: 8, rate: 5, retain: 1_000_000 } as const;

export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const stderr = options.note ?? ((line: string) => process.stderr.write(`cordon-agent: ${line}\n`));
  // Every note also becomes an `agent` log record once the log store is open; the ones before it wait for it.
  let logs: AgentLogs | undefined;
  let early: string[] | undefined = [];
  const note = (line: string) => {
    stderr(line);
    if (logs) logs.collector.agentNote(line);
    else if (early && early.length < 1000) early.push(line);
  };
  if (!options.token && !options.access) throw new AgentError('token_missing', 'No bearer token and no access file given: an agent never serves without one.');
  const access = options.access ?? sharedTokenAccess(options.token!);
  const agentId = options.agentId ?? defaultAgentId();
  if (!AGENT_ID_PATTERN.test(agentId)) {
    throw new AgentError('bad_agent_id', `The agent id "${agentId.slice(0, 140)}" is not valid: use 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit.`);
  }
  const host = options.host ?? DEFAULTS.host;
  if (options.tls === false && !isLoopback(host)) {
    throw new AgentError('tls_required', `Refusing to serve plain ws:// on ${host}: tokens and events would cross the network unencrypted. Serve TLS (the default off loopback) or listen on 127.0.0.1 or ::1.`);
  }
  const retain = options.retain ?? DEFAULTS.retain;
  const dataDir = options.dataDir ?? join('.cordon-data', `agent-${agentId}`);
  let tls: TlsIdentity | undefined;
  if (options.tls || (options.tls === undefined && !isLoopback(host))) {
    const given = typeof options.tls === 'object' ? options.tls : {};
    tls = await loadTlsIdentity({
      dir: given.dir ?? join(dataDir, 'tls'), names: defaultNames(host, agentId), commonName: agentId,
      ...(given.certFile !== undefined ? { certFile: given.certFile } : {}), ...(given.keyFile !== undefined ? { keyFile: given.keyFile } : {}),
    });
  }

  const seed = options.seed ?? randomInt(2 ** 31);
  const driver = typeof options.driver === 'object'
    ? options.driver
    : buildDriver(options.driver ?? DEFAULTS.driver, { agentId, dataDir, vms: options.vms ?? DEFAULTS.vms, rate: options.rate ?? DEFAULTS.rate, seed });
  const log = EventLog.open({ dir: dataDir, retain, note });
  let journal: ActionJournal;
  try {
    journal = ActionJournal.open({ dir: dataDir, limit: options.actionJournalLimit ?? DEFAULT_JOURNAL_LIMIT, note });
  } catch (err) {
    log.close();
    throw err;
  }
  for (const e of journal.interrupted) {
    note(`action ${e.request.requestId} (${e.request.kind} of ${e.request.vmId}) was running when the agent stopped; recorded as failed, not run again.`);
  }
  const hostName = hostname().slice(0, 255) || 'localhost';
  const version = String(pkg.version).slice(0, 64);
  let server: AgentServer | undefined;
  let writeFailures = 0;
  const runner = new ActionRunner({
    driver, journal, note,
    workRoot: join(dataDir, 'actions'),
    broadcast: (m) => server?.broadcast(m),
    ...(options.actionDeadlineMs !== undefined ? { deadlineMs: options.actionDeadlineMs } : {}),
  });

  const consoles = new ConsoleHub({ driver, note });
  const evidence = new EvidenceStore({ root: join(dataDir, 'actions'), reportsDir: join(dataDir, 'sanitised'), host: hostName, driver, note });
  const approvals = access.distinct && access.twoPerson.length > 0 ? new ApprovalDesk({
    twoPerson: access.twoPerson,
    broadcast: (m) => server?.broadcast(m),
    note,
    run: (approved) => {
      const requestedBy = approved.requester.principal;
      if (approved.operation === 'seize') {
        runner.handle(approved.message, (m) => approved.requester.send(m), `approval by ${approved.approval.approvedBy.name}`, undefined, { requestedBy, approval: approved.approval });
      } else {
        void evidence.sanitise(approved.message, { requestedBy, approval: approved.approval }).then((answer) => { if (approved.requester.open) approved.requester.send(answer); });
      }
    },
  }) : undefined;

  let onThreats: (events: ThreatEvent[]) => void = () => {};
  let enforcer: PolicyEnforcer;
  try {
    enforcer = new PolicyEnforcer({
      agentId, dataDir, hostGroups: options.hostGroups ?? [], trusted: loadTrustedKeys(options.policyKeys ?? []),
      driver, runner, note, record: (events) => onThreats(events),
      changed: (policy) => server?.broadcast({ type: 'policy.current', policy }),
      ...(options.policyClock ? { now: options.policyClock } : {}),
    });
    enforcer.load(options.policyFile);
  } catch (err) {
    await journal.close();
    log.close();
    throw err;
  }

  const hello = (): HelloMessage => {
    const policy = enforcer.inForce();
    return {
    type: 'hello',
    protocol: PROTOCOL,
    agent: { id: agentId, host: hostName, version, ...(options.hostGroups?.length ? { hostGroups: [...options.hostGroups] } : {}) },
    hypervisor: { kind: driver.kind, version: driver.version },
    capabilities: ['events', 'inventory', ...(driver.actions.length > 0 ? ['actions'] : []), ...(consoles.available ? ['console'] : []), ...(logs ? ['logs'] : []), ...(policy ? ['policy'] : []), ...(driver.inspect ? ['inspect'] : []), 'evidence'],
    actions: [...driver.actions],
    latestSeq: log.latestSeq,
    oldestSeq: log.oldestSeq,
    ...(policy ? { policy } : {}),
    time: new Date().toISOString(),
    };
  };

  onThreats = (events: ThreatEvent[]) => {
    try {
      log.append(events);
    } catch (err) {
      // Events that cannot be numbered durably are never sent: a seq must not be promised that a restart could reuse.
      if (writeFailures++ % 1000 === 0) note(`${err instanceof Error ? err.message : String(err)} (${writeFailures} batch(es) lost so far)`);
      return;
    }
    server?.eventsAppended();
    // After the write: the triggering event is durable before the policy acts on it, whatever the response.
    enforcer.onEvents(events);
  };

  try {
    if (options.logs !== false) {
      logs = await AgentLogs.start(options.logs ?? {}, {
        dataDir, agentId, hostName, stderr,
        listVms: () => driver.listVms(),
        threats: onThreats,
      });
      logs.collector.add((early ?? []).map((message) => ({ source: 'agent' as const, app: 'cordon-agent', severity: 6, message })), 'agent');
    }
    early = undefined;
    const collector = logs?.collector;
    await driver.start({
      threats: onThreats,
      vmChanged: (vm) => {
        server?.broadcast({ type: 'vm', vm: runner.decorate(vm) });
        consoles.vmChanged(vm);
      },
      vmRemoved: (vmId) => {
        server?.broadcast({ type: 'vm.removed', vmId });
        consoles.vmRemoved(vmId);
      },
      note,
      ...(collector ? {
        logs: (entries) => collector.add(entries, `driver:${entries[0]?.vmId ?? ''}:${entries[0]?.source ?? ''}`),
        followLog: (spec) => collector.follow(spec),
      } : {}),
    });
    server = await AgentServer.listen({
      host,
      port: options.port ?? DEFAULTS.port,
      access,
      ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
      session: {
        log, retain, hello, note, consoles, evidence, access,
        ...(approvals ? { approvals } : {}),
        inventory: () => driver.listVms().map(runner.decorate),
        policy: () => enforcer.current(),
        act: (message, reply, peer, requestedBy) => runner.handle(message, reply, peer, undefined, { requestedBy }),
        setPolicy: (message) => {
          const answer = enforcer.set(message.policy);
          if (answer.ok) return { type: 'policy.accepted', policy: answer.inForce, ...(message.id !== undefined ? { ref: message.id } : {}) };
          return { type: 'error', code: answer.code, message: answer.message.slice(0, 2048), ...(message.id !== undefined ? { ref: message.id } : {}) };
        },
        ...(logs ? { queryLogs: logs.answer.bind(logs) } : {}),
        ...(driver.inspect ? { inspect: (message) => inspectAnswer(driver, message, note) } : {}),
      },
    });
  } catch (err) {
    consoles.close();
    await driver.stop();
    await logs?.close();
    await journal.close();
    log.close();
    throw err;
  }

  if (tls) {
    const how = { made: 'made now, kept in', kept: 'kept in', given: 'given as' }[tls.origin];
    note(`TLS certificate (${how} ${tls.certFile}) SHA-256 fingerprint: ${tls.fingerprint} — a cockpit pins it on first use: compare it with what the cockpit shows before confirming.`);
  }
  if (!access.distinct) {
    note('two-person rule: off. One shared token cannot tell two people apart; give each responder their own token or certificate with --access to have seize and sanitise approved by a second person.');
  } else if (access.twoPerson.length === 0) {
    note('two-person rule: off (the access file\'s "twoPerson" is empty).');
  }
  if (options.seed === undefined && typeof options.driver !== 'object') note(`scenario seed ${seed} (pass --seed ${seed} to replay the same scenarios)`);
  const running = server;
  let closing: Promise<void> | undefined;
  return {
    url: running.url,
    ...(tls ? { fingerprint: tls.fingerprint } : {}),
    port: running.port,
    agentId,
    dataDir,
    ...(logs?.syslog ? { syslog: logs.syslog } : {}),
    consoleStats: () => consoles.stats(),
    close: () => {
      closing ??= (async () => {
        // Running actions end first (aborted, their results recorded and sent), then the consoles (each cockpit told,
        // each attachment let go), then the driver, then the sockets.
        approvals?.close();
        await runner.close();
        await enforcer.close();
        consoles.close();
        await driver.stop();
        await running.close();
        await logs?.close();
        await journal.close();
        log.close();
      })();
      return closing;
    },
  };
}

function buildDriver(name: string, config: DriverConfig): Driver {
  const factory = DRIVERS[name];
  if (!factory) throw new AgentError('unknown_driver', `There is no driver "${name}": choose one of ${driverNames().join(', ')}.`);
  return factory(config);
}

/** The host name made into a valid agent id (AgentId in protocol/schema/defs.schema.json). */
export function defaultAgentId(): string {
  const id = hostname().toLowerCase().replace(/[^a-z0-9._:-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 128);
  return id || 'agent';
}

/** A driver's inspection as the wire answers it; one sentence when it cannot (the VM frozen, gone, its line silent). */
async function inspectAnswer(driver: Driver, message: InspectMessage, note: (line: string) => void): Promise<AgentMessage> {
  try {
    const inspection = await driver.inspect!(message.vmId);
    return { type: 'inspect.result', ref: message.id, inspection };
  } catch (err) {
    if (err instanceof AgentError) return { type: 'error', code: err.code, message: err.message.slice(0, 2048), ref: message.id };
    note(`inspection of ${printable(message.vmId)} failed: ${printable(err instanceof Error ? err.message : String(err))}`);
    return { type: 'error', code: 'internal', message: 'The agent could not inspect this VM; see its stderr.', ref: message.id };
  }
}
