// The agent's logs as one part: its log store, the collector of every source, the syslog listener, the detectors that
// read Suricata's and Falco's output into threat events, and the answer to a cockpit's `logs.query`. agent/agent.ts
// starts it beside the event log; the flags that configure it are in agent/flags.ts.
import { join } from 'node:path';
import type { ErrorMessage, LogsQueryMessage, LogsResultMessage, ThreatEvent, Vm } from '../../protocol/index.ts';
import { falcoEvent } from '../detectors/falco.ts';
import { suricataEvent } from '../detectors/suricata.ts';
import { LogCollector } from './collector.ts';
import { LogStore } from './store.ts';
import { vmMatcher } from './vm-match.ts';

export interface LogsOptions {
  /** `--syslog-listen HOST:PORT`: UDP and TCP on the same port. */
  syslogListen?: { host: string; port: number };
  /** `--syslog-file PATH` (repeatable): host log files followed like tail -F. */
  syslogFiles?: string[];
  /** `--journal`: follow the systemd journal with journalctl. */
  journal?: boolean;
  /** `--syslog-vm HOST=VMID` (repeatable): a sender's host name that means a VM. */
  syslogVms?: Record<string, string>;
  /** `--suricata-eve FILE` (repeatable): Suricata's EVE JSON; its alerts become threat events. */
  suricataEve?: string[];
  /** `--falco FILE` (repeatable): Falco's JSON output; its alerts become threat events. */
  falco?: string[];
  /** Where a detector file is read from the first time: its end (default, only new alerts) or its start. */
  detectorsFrom?: 'start' | 'end';
  /** `--log-retain-mib N`, `--log-retain-days N`. */
  maxBytes?: number;
  maxAgeDays?: number;
  /** Lines per second one source may add (default 2,000). */
  ratePerSecond?: number;
}

export interface AgentLogsContext {
  dataDir: string;
  agentId: string;
  hostName: string;
  listVms(): Vm[];
  /** Threat events from the detectors: the agent's event log numbers and serves them like any other. */
  threats(events: ThreatEvent[]): void;
  /** stderr only: the agent's note function without the loop back into the store. */
  stderr(line: string): void;
}

export class AgentLogs {
  private readonly stops: Array<() => void> = [];
  private constructor(readonly store: LogStore, readonly collector: LogCollector, private readonly ctx: AgentLogsContext) {}

  static async start(options: LogsOptions, ctx: AgentLogsContext): Promise<AgentLogs> {
    const dir = join(ctx.dataDir, 'logs');
    const late: { collector?: LogCollector } = {};
    const store = LogStore.open({
      dir,
      agentId: ctx.agentId,
      // What the store says (retention dropped records, a torn line cut) goes to stderr and, a moment later (never
      // from inside an append), into the store itself as an `agent` record.
      note: (line) => {
        ctx.stderr(line);
        setImmediate(() => late.collector?.agentNote(line));
      },
      ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
      ...(options.maxAgeDays !== undefined ? { maxAgeMs: options.maxAgeDays * 86_400_000 } : {}),
    });
    const vms = vmMatcher(ctx.listVms, options.syslogVms ?? {});
    const collector: LogCollector = new LogCollector({
      store, dir, vms,
      // The collector's notes (a refused sender, dropped lines) are the agent's: to stderr and into the store.
      note: (line) => {
        ctx.stderr(line);
        collector.agentNote(line);
      },
      ...(options.ratePerSecond !== undefined ? { ratePerSecond: options.ratePerSecond } : {}),
    });
    late.collector = collector;
    const logs = new AgentLogs(store, collector, ctx);
    try {
      for (const path of options.syslogFiles ?? []) logs.stops.push(collector.follow({ path, source: 'syslog', format: 'syslog', startAt: 'end' }));
      if (options.journal) collector.followJournal();
      const detect = { agentId: ctx.agentId, vms, hostName: ctx.hostName };
      const from = options.detectorsFrom ?? 'end';
      for (const path of options.suricataEve ?? []) {
        logs.stops.push(collector.followLines(path, (lines) => logs.detected(lines.map((l) => suricataEvent(l, detect))), from));
      }
      for (const path of options.falco ?? []) {
        logs.stops.push(collector.followLines(path, (lines) => logs.detected(lines.map((l) => falcoEvent(l, detect))), from));
      }
      if (options.syslogListen) {
        await collector.listen(options.syslogListen.host, options.syslogListen.port, (m) => {
          // Falco's `syslog_output` / http-to-syslog relays send its JSON as the message of a `falco` program.
          if (m.app === 'falco' && m.message.startsWith('{')) logs.detected([falcoEvent(m.message, detect)]);
        });
      }
    } catch (err) {
      await logs.close();
      throw err;
    }
    return logs;
  }

  /** Where the syslog listener listens, when it does. */
  get syslog(): { host: string; port: number } | undefined {
    const l = this.collector.syslogListener;
    return l ? { host: l.host, port: l.port } : undefined;
  }

  /** The answer to a cockpit's `logs.query`: one page, or an error with the query's id as ref. */
  answer(m: LogsQueryMessage): LogsResultMessage | ErrorMessage {
    const from = m.from !== undefined ? Date.parse(m.from) : undefined;
    const to = m.to !== undefined ? Date.parse(m.to) : undefined;
    if (from !== undefined && to !== undefined && from > to) {
      return { type: 'error', code: 'bad_query', ref: m.id, message: `This logs.query asks for records from ${m.from} to ${m.to}: 'from' must not be after 'to'.` };
    }
    let before: number | undefined;
    if (m.before !== undefined) {
      before = /^\d{1,16}$/.test(m.before) ? Number(m.before) : NaN;
      if (!Number.isSafeInteger(before) || before < 1 || before > this.store.latestSeq + 1) {
        return { type: 'error', code: 'bad_query', ref: m.id, message: 'The cursor in \'before\' is not one this agent made: start again without it.' };
      }
    }
    const page = this.store.query({
      limit: m.limit ?? 200,
      ...(m.vmId !== undefined ? { vmId: m.vmId } : {}),
      ...(m.sources !== undefined ? { sources: m.sources } : {}),
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
      ...(m.text !== undefined ? { text: m.text } : {}),
      ...(m.severityAtMost !== undefined ? { severityAtMost: m.severityAtMost } : {}),
      ...(before !== undefined ? { before } : {}),
    });
    const result: LogsResultMessage = { type: 'logs.result', ref: m.id, records: page.records, truncated: page.truncated, scanned: page.scanned };
    if (page.next !== undefined) result.next = String(page.next);
    if (page.oldestTime) result.oldestTime = page.oldestTime;
    return result;
  }

  async close(): Promise<void> {
    for (const stop of this.stops.splice(0)) stop();
    await this.collector.close();
    this.store.close();
  }

  private detected(events: Array<ThreatEvent | undefined>): void {
    const found = events.filter((e): e is ThreatEvent => e !== undefined);
    if (found.length > 0) this.ctx.threats(found);
  }
}
