// Assembles the cockpit's core from its settings: the fleet hub, the agents (or the built-in lab when none are
// configured), and the service the shells expose. The same for Electron and the browser shell.
import { createPublicKey, type KeyObject } from 'node:crypto';
import pkg from '../package.json' with { type: 'json' };
import { EvidenceDesk } from './evidence/desk.ts';
import { join } from 'node:path';
import { CockpitService } from './cockpit-service.ts';
import { FleetHub, type FleetHubOptions, type HubRecorder } from './fleet/hub.ts';
import type { ActionRecord, Actor, FeedEvent } from '../protocol/index.ts';
import type { AgentEndpoint } from './fleet/agent-link.ts';
import type { JournalQuery } from './journal/query.ts';
import { actionEntry, changeEntry, consoleEntry, custodyEntry, eventEntry, loadOrCreateKeyFile } from './journal/index.ts';
import { ConsoleHub } from './console/console-hub.ts';
import { canonicalJson } from './journal/canonical.ts';
import { JournalHost } from './journal/host.ts';
import { SyslogExporter } from './export/syslog-export.ts';
import { startLab, type AgentSpawner, type Lab } from './lab.ts';
import { cockpitDeviceName, endpointsFrom, type CockpitSettings, type SecretSource } from './settings.ts';

export interface CockpitOptions {
  settings: CockpitSettings;
  secrets: SecretSource;
  spawnAgent: AgentSpawner;
  dataDir: string;
  hub?: Partial<FleetHubOptions>;
  /** Start the lab even when agents are configured (e.g. `npm run serve -- --lab`). */
  forceLab?: boolean;
  /** The lab agent's extra arguments and name (`npm run lab -- --driver qemu`); see LabOptions. */
  labAgent?: { args?: string[]; label?: string };
  log?: (line: string) => void;
  /** Keeps a pin the responder set or removed (the settings store); without it a pin lasts this run only. */
  savePin?: (agentId: string, fingerprint: string | undefined) => void;
  /**
   * The journal (`dataDir/journal`): the responder's signing key, and the worker script when bundled. Default: a key
   * file `dataDir/journal-key.pem` (mode 0600); the desktop shell passes the key it keeps in safeStorage.
   */
  journal?: { key?: () => KeyObject | Promise<KeyObject>; workerPath?: string; checkpointMs?: number; keyProtection?: { protection: 'os-keychain' | 'key-file'; warning?: string } };
}

export interface Cockpit {
  hub: FleetHub;
  service: CockpitService;
  lab: Lab | undefined;
  journal: JournalHost;
  /** Sends threat events on to the SOC's collector, when settings name one. */
  exporter: SyslogExporter | undefined;
  /** The consoles open in the views, each recorded (asciicast) and journaled. */
  consoles: ConsoleHub;
  /** Seizure packages: pulled, sealed, handed over, verified, exported, sanitised. */
  evidence: EvidenceDesk;
  /** Stops the agents' links and the lab, then writes and signs the journal's last records. */
  close(): Promise<void>;
}

/**
 * The hub's recorder over the journal: events in the hub's batches, action steps as they come, asks durable. A
 * seizure's result also opens the evidence's chain of custody: what was captured, with its hashes, by whom, for
 * which case.
 */
export function journalRecorder(journal: JournalHost): HubRecorder {
  /** The policy last recorded per agent in this run: a reconnect that changes nothing records nothing. */
  const seen = new Map<string, { said: string; id: string; version: number }>();
  return {
    policySeen: (agentId, signed) => {
      const { id, version } = signed.policy;
      const said = `${signed.signature.keyId}|${signed.signature.value}`;
      const last = seen.get(agentId);
      if (last?.said === said) return;
      seen.set(agentId, { said, id, version });
      journal.append([changeEntry('policy', { name: `key ${signed.signature.keyId.slice(0, 16)}`, role: 'policy-signer' }, {
        key: `in force ${id} v${version}`, agentId, to: structuredClone(signed),
        ...(last ? { from: { id: last.id, version: last.version } } : {}),
      })]);
    },
    approvalSeen: (agentId, m) => {
      journal.append([changeEntry('settings', m.type === 'approval.pending' ? { name: m.approval.requestedBy.name, role: m.approval.requestedBy.role } : { name: m.by?.name ?? 'agent', role: m.by?.role ?? 'expiry' }, {
        key: m.type === 'approval.pending' ? `approval pending ${m.approval.approvalId}` : `approval ${m.outcome} ${m.approvalId}`,
        agentId, to: structuredClone(m.type === 'approval.pending' ? m.approval : m) as never,
      })]);
    },
    approvalDecided: async (agentId, d) => {
      await journal.appendDurable(changeEntry('settings', d.actor, { key: `approval ${d.approve ? 'approve' : 'refuse'} ${d.approvalId}`, agentId, reason: d.reason, to: { approve: d.approve } }));
    },
    pinChanged: (agentId, change, actor) => {
      journal.append([changeEntry('settings', actor, { key: `agent ${agentId} certificate pin`, agentId, ...(change.from ? { from: change.from } : {}), ...(change.to ? { to: change.to } : {}) })]);
    },
    events: (batch) => journal.append(batch.map(eventEntry)),
    actionAsked: async (rec) => { await journal.appendDurable(actionEntry('asked', rec)); },
    actionStep: (step, rec) => {
      const entries = [actionEntry(step, rec)];
      if (step === 'result' && rec.kind === 'seize' && rec.ok) {
        entries.push(custodyEntry(rec.actor, {
          agentId: rec.agentId, vmId: rec.vmId, step: 'seized', ...(rec.params.caseId ? { caseId: rec.params.caseId } : {}),
          details: { requestId: rec.requestId, reason: rec.reason, ...(rec.finishedAt ? { at: rec.finishedAt } : {}), files: structuredClone(rec.details?.files ?? []) },
        }));
      }
      journal.append(entries);
    },
  };
}

/**
 * Records the settings in effect when they differ from the last ones recorded (a change made between two runs, in
 * the settings file or by an administrator, is in the journal too). Tokens are never part of them.
 */
export async function recordSettings(journal: JournalHost, settings: CockpitSettings, actor: Actor): Promise<boolean> {
  const effective = {
    responder: settings.responder,
    agents: settings.agents.map((a) => ({ agentId: a.agentId, label: a.label, url: a.url, ...(a.tokenFile ? { tokenFile: a.tokenFile } : {}), ...(a.fingerprint ? { fingerprint: a.fingerprint } : {}) })),
    lab: settings.lab,
    windowSize: settings.windowSize,
    ...(settings.syslogExport ? { syslogExport: settings.syslogExport } : {}),
  };
  const last = (await journal.query({ kind: ['settings'], text: 'effective', limit: 20 })).records
    .map((r) => r.record.body as { key?: string; to?: unknown })
    .find((b) => b.key === 'effective');
  // Compared in canonical form: the journal keeps members sorted (RFC 8785).
  if (last && canonicalJson(last.to) === canonicalJson(effective)) return false;
  await journal.appendDurable(changeEntry('settings', actor, { key: 'effective', ...(last ? { from: last.to } : {}), to: effective }));
  return true;
}

export async function startCockpit(opts: CockpitOptions): Promise<Cockpit> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const key = opts.journal?.key ? await opts.journal.key() : loadOrCreateKeyFile(join(opts.dataDir, 'journal-key.pem'));
  const journal = await JournalHost.open({
    dir: join(opts.dataDir, 'journal'), key, note: log,
    ...(opts.journal?.workerPath ? { workerPath: opts.journal.workerPath } : {}),
    ...(opts.journal?.checkpointMs !== undefined ? { checkpointMs: opts.journal.checkpointMs } : {}),
  });
  const actor: Actor = { ...opts.settings.responder, cockpit: cockpitDeviceName() };
  try {
    await recordSettings(journal, opts.settings, actor);
  } catch (err) {
    await journal.close();
    throw err;
  }
  const exporter = opts.settings.syslogExport ? startExporter(opts.settings.syslogExport, log) : undefined;
  const recorder = journalRecorder(journal);
  const hub = new FleetHub({
    windowSize: opts.settings.windowSize, ...opts.hub, ...(opts.savePin ? { savePin: opts.savePin } : {}),
    recorder: exporter ? { ...recorder, events: (batch) => { recorder.events(batch); exporter.sendAll(batch); } } : recorder,
  });
  const { endpoints, problems } = endpointsFrom(opts.settings, opts.secrets);
  for (const p of problems) log(`cordon: ${p}`);
  let lab: Lab | undefined;
  if (endpoints.length === 0 || opts.forceLab) {
    log(opts.labAgent?.label ? `cordon: starting the lab agent (${opts.labAgent.label}) on 127.0.0.1.` : 'cordon: no agents configured; starting the built-in lab (a simulated host on 127.0.0.1).');
    try {
      lab = await startLab({
        spawn: opts.spawnAgent, dataDir: opts.dataDir, ...opts.settings.lab,
        policyKeyPem: String(createPublicKey(key).export({ type: 'spki', format: 'pem' })),
        ...(opts.labAgent?.args ? { agentArgs: opts.labAgent.args } : {}), ...(opts.labAgent?.label ? { label: opts.labAgent.label } : {}),
      });
    } catch (err) {
      hub.close();
      await exporter?.exporter.close(0);
      await journal.close();
      throw err;
    }
    await resume(hub, journal, [lab.endpoint], actor, log);
  }
  await resume(hub, journal, endpoints, actor, log);
  const consoles = new ConsoleHub(hub, join(opts.dataDir, 'recordings'), {
    opened: (session, who) => journal.append([consoleEntry('opened', { sessionId: session.sessionId, agentId: session.agentId, vmId: session.vmId, actor: who, ...(session.readOnly ? { reason: `read-only: ${session.reason ?? 'asked'}` } : {}) })]),
    closed: (session, who, rec, reason) => journal.append([consoleEntry('closed', {
      sessionId: session.sessionId, agentId: session.agentId, vmId: session.vmId, actor: who, reason,
      recording: { sha256: rec.sha256 ?? '', bytes: rec.bytes, path: `recordings/${rec.recordingId}.cast` },
    })]),
  });
  const evidence = new EvidenceDesk({
    dataDir: opts.dataDir, hub, journal, key, actor, recordingsDir: join(opts.dataDir, 'recordings'), version: String(pkg.version), note: log,
    keyProtection: opts.journal?.keyProtection ?? {
      protection: 'key-file',
      warning: `The responder's key is a plain file (${join(opts.dataDir, 'journal-key.pem')}, mode 0600), not sealed by an OS keychain: anyone who can read this account's files can sign as you.`,
    },
  });
  return {
    hub,
    service: new CockpitService(hub, actor, journal, key, consoles, evidence),
    consoles,
    evidence,
    lab,
    journal,
    exporter: exporter?.exporter,
    async close() {
      consoles.closeAll('The cockpit is stopping.');
      evidence.close();
      hub.close();
      lab?.stop();
      await Promise.all([journal.close(), exporter?.exporter.close()]);
    },
  };
}

/**
 * Connects to each agent where the journal left off: its stream resumes after the newest event seq this journal holds
 * for it (a restart neither records an event twice nor skips one), and the actions this cockpit asked but never saw
 * end are asked again under their request ids (the agent answers with what it has; it never runs one twice).
 */
async function resume(hub: FleetHub, journal: JournalHost, endpoints: readonly AgentEndpoint[], actor: Actor, log: (line: string) => void): Promise<void> {
  // Each agent's journal reads run side by side (a fleet of hundreds starts in one round), then the links start in order.
  const points = await Promise.all(endpoints.map(async (endpoint) => {
    try {
      const [resumeAfter, unfinished] = await Promise.all([newestEventSeq(journal, endpoint.agentId), unfinishedActions(journal, endpoint.agentId, actor.cockpit)]);
      return { resumeAfter, unfinished };
    } catch (err) {
      log(`cordon: the journal could not say where ${endpoint.agentId}'s stream stopped (${(err as Error).message}); loading its recent events instead, some may be recorded twice.`);
      return { resumeAfter: undefined, unfinished: [] };
    }
  }));
  endpoints.forEach((endpoint, i) => {
    const { resumeAfter, unfinished } = points[i]!;
    for (const rec of unfinished) hub.adopt(rec);
    if (unfinished.length > 0) log(`cordon: ${unfinished.length} action(s) asked of ${endpoint.agentId} before the cockpit stopped had no result yet; asking the agent for it.`);
    hub.addAgent(endpoint, resumeAfter !== undefined ? { resumeAfter } : {});
  });
}

/** Pages of the journal, newest first, until `take` says stop or `maxPages` were read. */
async function scanNewestFirst(journal: JournalHost, query: JournalQuery, take: (body: Record<string, unknown>) => boolean, maxPages: number): Promise<void> {
  let before: JournalQuery['before'];
  for (let page = 0; page < maxPages; page++) {
    const p = await journal.query({ ...query, ...(before ? { before } : {}) });
    for (const r of p.records) if (!take(r.record.body as Record<string, unknown>)) return;
    if (!p.next) return;
    before = p.next;
  }
}

async function newestEventSeq(journal: JournalHost, agentId: string): Promise<number | undefined> {
  let seq: number | undefined;
  await scanNewestFirst(journal, { kind: ['event'], agentId: [agentId], limit: 1 }, (body) => {
    if (typeof body.seq === 'number' && Number.isSafeInteger(body.seq)) seq = body.seq;
    return seq === undefined;
  }, 100);
  return seq;
}

/** This cockpit's actions on the agent whose newest journaled step is not an end (result or rejection). */
async function unfinishedActions(journal: JournalHost, agentId: string, cockpit: string | undefined): Promise<ActionRecord[]> {
  const ended = new Set<string>();
  const open = new Map<string, ActionRecord>();
  await scanNewestFirst(journal, { kind: ['action'], agentId: [agentId], limit: 1000 }, (body) => {
    const rec = body.action as ActionRecord | undefined;
    const id = typeof body.requestId === 'string' ? body.requestId : undefined;
    if (!id || !rec || ended.has(id) || open.has(id)) return true;
    if (body.step === 'result' || body.step === 'rejected') ended.add(id);
    else if (rec.actor?.cockpit === cockpit && rec.actor.role !== 'automatic') open.set(id, rec);
    return true;
  }, 20);
  return [...open.values()].reverse();
}

const SEVERITY_RANK = { info: 0, low: 1, medium: 2, high: 3, critical: 4 } as const;

/** The syslog exporter for the settings' collector; what it cannot send is counted and said, never blocks the hub. */
function startExporter(o: NonNullable<CockpitSettings['syslogExport']>, log: (line: string) => void): { exporter: SyslogExporter; sendAll(batch: readonly FeedEvent[]): void } {
  let lastSaid = '';
  const exporter = new SyslogExporter({
    host: o.host, port: o.port, transport: o.transport, format: o.format,
    onStatus: (st) => {
      // Said when the link changes or an error is new, not once per event.
      const said = `${st.connected}|${st.lastError ?? ''}`;
      if (said === lastSaid) return;
      lastSaid = said;
      log(st.connected ? `cordon: exporting threat events to ${o.transport}://${o.host}:${o.port} (${o.format}).` : `cordon: the syslog collector ${o.transport}://${o.host}:${o.port} is unreachable${st.lastError ? ` (${st.lastError})` : ''}; events wait in a bounded queue (${st.dropped} dropped so far).`);
    },
  });
  const floor = o.minSeverity ? SEVERITY_RANK[o.minSeverity] : 0;
  return {
    exporter,
    sendAll(batch) {
      for (const fe of batch) if (SEVERITY_RANK[fe.event.severity] >= floor) exporter.send(fe);
    },
  };
}
