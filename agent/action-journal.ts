// The agent's durable memory of action request ids, so the same id never runs twice: not on a retry over the same
// connection, from another cockpit, nor after the agent restarted. Each request is written and fsynced *before* the
// action runs, and its outcome (result or rejection) when it ends. A request that was running when the agent died
// is found on the next start without an outcome and recorded as failed: never run again, never silently forgotten.
//
// On disk: `action-journal.jsonl` in the agent's data dir (locked by the event log), one JSON object per line:
//   {"t":"begin","requestId",…,"vmId","kind","params","actor","reason","at"}      accepted, about to run
//   {"t":"end","requestId",…,"result":{ok,state?,error?,details?,startedAt,finishedAt}}
//   {"t":"rejected","requestId",…,"vmId","kind","params","actor","reason","rejection":{code,message,state?,at}}
// Bounded: the newest `limit` requests are remembered (100,000 by default); when the file holds about twice that,
// it is rewritten with only those (to a temporary file, fsynced, renamed). A request id older than that could run
// again; cockpits make a new id per click, so only a retry days and 100,000 actions late would.
//
// Group commit: what is appended in one tick is written with one write() and made durable with one fsync, off the
// event loop (the threadpool), so a burst of actions costs one disk flush and never stalls the event streams.
//
// Why fsync here when the event log only writes: an event can be renumbered safely by nobody, but an action that ran
// and whose id a power cut forgot would run twice on a retry — a second terminate is harmless, a second clone is not.
import { closeSync, fsync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import type { ActionApproval, ActionDetails, ActionError, ActionKind, ActionParams, ActionRejectedMessage, Actor, PolicyProvenance, Principal, VmState } from '../protocol/index.ts';
import { AgentError, systemCode } from './errors.ts';

export const JOURNAL_FILE = 'action-journal.jsonl';
const fsyncAsync = promisify(fsync);
export const DEFAULT_JOURNAL_LIMIT = 100_000;

/** What a cockpit asked: the fields of an `action` message that define it, and those that describe it. */
export interface ActionRequest {
  requestId: string;
  vmId: string;
  kind: ActionKind;
  params: ActionParams;
  actor: Actor;
  reason: string;
  /** An automatic action: the policy, version and rule that took it (never taken from a cockpit's message). */
  policy?: PolicyProvenance;
  /** The principal the agent authenticated for the request (agent/access.ts). */
  requestedBy?: Principal;
  /** Two-person rule: who approved it before it ran. */
  approval?: ActionApproval;
}

/** How an action ended, as action.result carries it (without the fields the request already holds). */
export interface StoredResult {
  ok: boolean;
  state?: VmState;
  error?: ActionError;
  details?: ActionDetails;
  startedAt: string;
  finishedAt: string;
}

export interface StoredRejection {
  code: ActionRejectedMessage['code'];
  message: string;
  state?: VmState;
  at: string;
}

export interface JournalEntry {
  request: ActionRequest;
  /** For an accepted request: settles once its begin line is durable (rejects if it could not be made so). */
  recorded?: Promise<void>;
  /** running: accepted, no outcome yet; done: it has a result; rejected: it never ran. */
  phase: 'running' | 'done' | 'rejected';
  acceptedAt?: string;
  result?: StoredResult;
  rejection?: StoredRejection;
}

export interface ActionJournalOptions {
  dir: string;
  limit?: number;
  note: (line: string) => void;
  /** The clock, for the failure recorded for an interrupted action. */
  now?: () => string;
}

/** The sentence an action interrupted by an agent restart is recorded with. */
export const INTERRUPTED: ActionError = {
  code: 'agent_restarted',
  message: 'The agent restarted while this ran, so it may be partly done; check the VM\'s state before acting again.',
};

export class ActionJournal {
  private readonly entries = new Map<string, JournalEntry>();
  private fd = -1;
  private lines = 0;
  /** Bytes of complete lines in the file: a failed append is cut back to this, so no torn line sits mid-file. */
  private bytes = 0;
  private compactFailedAt = 0;
  private queue: { line: Buffer; resolve: () => void; reject: (err: Error) => void }[] = [];
  private flushing: Promise<void> | undefined;
  private readonly path: string;
  private readonly limit: number;
  /** Requests that were running when the agent last stopped, now recorded as failed (for the operator's notes). */
  readonly interrupted: JournalEntry[] = [];

  private constructor(private readonly options: ActionJournalOptions) {
    this.path = join(options.dir, JOURNAL_FILE);
    this.limit = Math.max(1, Math.floor(options.limit ?? DEFAULT_JOURNAL_LIMIT));
  }

  /** Opens (or creates) the journal in `dir`; repairs a torn last line and closes what a crash left running. */
  static open(options: ActionJournalOptions): ActionJournal {
    const journal = new ActionJournal(options);
    try {
      mkdirSync(options.dir, { recursive: true });
      journal.load();
      journal.fd = openSync(journal.path, 'a', 0o600);
    } catch (err) {
      if (err instanceof AgentError) throw err;
      throw new AgentError('data_dir_unusable', `Cannot open the action journal ${journal.path} (${systemCode(err)}): choose another --data-dir.`, { cause: err });
    }
    const at = options.now?.() ?? new Date().toISOString();
    for (const entry of journal.entries.values()) {
      if (entry.phase !== 'running') continue;
      const result: StoredResult = { ok: false, error: INTERRUPTED, startedAt: entry.acceptedAt ?? at, finishedAt: at };
      entry.phase = 'done';
      entry.result = result;
      journal.writeNow([Buffer.from(`${JSON.stringify({ t: 'end', requestId: entry.request.requestId, result })}\n`)]);
      journal.interrupted.push(entry);
    }
    if (journal.lines > journal.compactAt()) journal.compact();
    return journal;
  }

  get size(): number {
    return this.entries.size;
  }

  get(requestId: string): JournalEntry | undefined {
    return this.entries.get(requestId);
  }

  /**
   * Records an accepted request; resolves once it is durable: run the action only then. Known at once (a retry that
   * comes meanwhile finds it); forgotten again, and an AgentError thrown, if the disk refuses.
   */
  begin(request: ActionRequest, at: string): Promise<void> {
    const entry: JournalEntry = { request, phase: 'running', acceptedAt: at };
    entry.recorded = this.append({ t: 'begin', ...request, at }).catch((err: unknown) => {
      if (this.entries.get(request.requestId) === entry) this.entries.delete(request.requestId);
      throw err;
    });
    this.remember(entry);
    return entry.recorded;
  }

  /** Records how a running request ended; resolves once that is durable. */
  finish(requestId: string, result: StoredResult): Promise<void> {
    const entry = this.entries.get(requestId);
    if (!entry) return Promise.resolve();
    entry.phase = 'done';
    entry.result = result;
    return this.append({ t: 'end', requestId, result });
  }

  /** Records a request that will not run, so a retry gets the same answer. */
  reject(request: ActionRequest, rejection: StoredRejection): Promise<void> {
    this.remember({ request, phase: 'rejected', rejection });
    return this.append({ t: 'rejected', ...request, rejection });
  }

  /** Waits for what is being written, then closes the file. */
  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.fd < 0) return;
    try {
      fsyncSync(this.fd);
    } catch {
      // Every append was fsynced already.
    }
    closeSync(this.fd);
    this.fd = -1;
  }

  private remember(entry: JournalEntry): void {
    this.entries.set(entry.request.requestId, entry);
    if (this.entries.size <= this.limit) return;
    for (const [id, old] of this.entries) {
      if (this.entries.size <= this.limit) break;
      // A running request is the newest kind there is; it stays until it ends.
      if (old.phase !== 'running') this.entries.delete(id);
    }
  }

  private append(record: object): Promise<void> {
    if (this.fd < 0) return Promise.reject(new AgentError('journal_closed', 'The action journal is closed; the agent is shutting down.'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ line: Buffer.from(`${JSON.stringify(record)}\n`), resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  /** Writes and fsyncs what is queued, batch after batch, until the queue is empty. */
  private async flush(): Promise<void> {
    // Let the rest of this tick queue its lines too: a burst of actions shares one write and one fsync.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.queue.length > 0 && this.fd >= 0) {
      const batch = this.queue;
      this.queue = [];
      const buf = Buffer.concat(batch.map((b) => b.line));
      try {
        for (let off = 0; off < buf.length;) off += writeSync(this.fd, buf, off, buf.length - off);
        await fsyncAsync(this.fd);
      } catch (err) {
        try {
          ftruncateSync(this.fd, this.bytes);
        } catch {
          // The next start cuts a torn last line anyway.
        }
        const failure = new AgentError('journal_write_failed', `Cannot write the action journal ${this.path} (${systemCode(err)}): free space on the agent's data disk or check its permissions.`, { cause: err });
        for (const b of batch) b.reject(failure);
        continue;
      }
      this.bytes += buf.length;
      this.lines += batch.length;
      for (const b of batch) b.resolve();
      // Between batches nothing is in flight on the descriptor, so it may be swapped for the compacted file.
      if (this.lines > this.compactAt()) this.compact();
    }
    this.flushing = undefined;
  }

  /** Synchronous append, only while opening (recovery), before anything else can write. */
  private writeNow(lines: Buffer[]): void {
    const buf = Buffer.concat(lines);
    for (let off = 0; off < buf.length;) off += writeSync(this.fd, buf, off, buf.length - off);
    fsyncSync(this.fd);
    this.bytes += buf.length;
    this.lines += lines.length;
  }

  private compactAt(): number {
    // After a failed compaction, wait for another `limit` lines before trying again, rather than on every append.
    return Math.max(this.limit * 2 + 16, this.compactFailedAt + this.limit);
  }

  /** Rewrites the file with only the remembered requests, atomically (temporary file, fsync, rename, fsync dir). */
  private compact(): void {
    const tmp = `${this.path}.tmp`;
    const out: string[] = [];
    for (const e of this.entries.values()) {
      if (e.phase === 'rejected') {
        out.push(JSON.stringify({ t: 'rejected', ...e.request, rejection: e.rejection }));
        continue;
      }
      out.push(JSON.stringify({ t: 'begin', ...e.request, at: e.acceptedAt }));
      if (e.result) out.push(JSON.stringify({ t: 'end', requestId: e.request.requestId, result: e.result }));
    }
    const body = Buffer.from(out.length > 0 ? `${out.join('\n')}\n` : '');
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        for (let off = 0; off < body.length;) off += writeSync(fd, body, off, body.length - off);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
      const dirFd = openSync(this.options.dir, 'r');
      try {
        fsyncSync(dirFd);
      } finally {
        closeSync(dirFd);
      }
    } catch (err) {
      // The old file is intact and still complete: compaction only saves space, so carry on and say so.
      this.compactFailedAt = this.lines;
      this.options.note(`action journal: could not compact ${this.path} (${systemCode(err)}); it keeps growing until it can.`);
      return;
    }
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = openSync(this.path, 'a', 0o600);
    }
    this.lines = out.length;
    this.bytes = body.length;
  }

  private load(): void {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if (systemCode(err) === 'ENOENT') return;
      throw err;
    }
    const end = text.lastIndexOf('\n') + 1;
    this.bytes = Buffer.byteLength(text.slice(0, end));
    if (end < text.length) {
      // A crash mid-write: the torn line's request never ran (a begin is fsynced before its action starts).
      const fd = openSync(this.path, 'r+');
      try {
        ftruncateSync(fd, this.bytes);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      this.options.note(`action journal: cut a torn last line (${text.length - end} characters, left by a crash mid-write) off ${this.path}.`);
    }
    let bad = 0;
    for (const line of text.slice(0, end).split('\n')) {
      if (line === '') continue;
      this.lines++;
      let r: Record<string, unknown>;
      try {
        r = JSON.parse(line) as Record<string, unknown>;
      } catch {
        bad++;
        continue;
      }
      const requestId = typeof r.requestId === 'string' ? r.requestId : undefined;
      if (!requestId) {
        bad++;
        continue;
      }
      if (r.t === 'begin' || r.t === 'rejected') {
        const request: ActionRequest = {
          requestId, vmId: String(r.vmId), kind: r.kind as ActionKind, params: (r.params ?? {}) as ActionParams,
          actor: (r.actor ?? { name: 'unknown' }) as Actor, reason: String(r.reason ?? ''),
          ...(r.policy && typeof r.policy === 'object' ? { policy: r.policy as PolicyProvenance } : {}),
          ...(r.requestedBy && typeof r.requestedBy === 'object' ? { requestedBy: r.requestedBy as Principal } : {}),
          ...(r.approval && typeof r.approval === 'object' ? { approval: r.approval as ActionApproval } : {}),
        };
        const known = this.entries.get(requestId);
        // A request id is begun once; a repeated line (a compaction racing a write) must not undo its outcome.
        if (known && known.phase !== 'running') continue;
        if (r.t === 'begin') this.remember({ request, phase: 'running', acceptedAt: String(r.at) });
        else this.remember({ request, phase: 'rejected', rejection: r.rejection as StoredRejection });
      } else if (r.t === 'end') {
        const entry = this.entries.get(requestId);
        if (entry) {
          entry.phase = 'done';
          entry.result = r.result as StoredResult;
        }
      } else {
        bad++;
      }
    }
    if (bad > 0) this.options.note(`action journal: skipped ${bad} unreadable line(s) in ${this.path}; the requests they named may be answered as new.`);
  }
}
