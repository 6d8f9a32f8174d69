// The cockpit's journal, seen from the hub's thread: the Journal itself runs in a worker thread (journal-worker.ts)
// so that encoding, hashing and syncing every event never delay the agents' frames or the views' pushes.
//
//   append(entries)       fire and forget, in order; one structured clone per batch
//   appendDurable(entry)  resolves once the record is fdatasync'ed: an action is sent only after that
//   query / status / verify
//
// If the journal fails (a full disk, a dead thread), it says so once with 'failed' and every later call throws:
// the hub then refuses new actions rather than run one nobody could account for.
import type { KeyObject } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { JournalError } from './errors.ts';
import type { HostReply, HostRequest, JournalStatus } from './host-messages.ts';
import { keyFingerprint, rawPublicKey } from './keys.ts';
import type { JournalQuery, QueryPage } from './query.ts';
import type { JournalEntry } from './record.ts';
import type { VerifyReport } from './verify.ts';
import type { BundleSummary, SliceFilter } from './bundle.ts';

export interface JournalHostOptions {
  /** The journal's folder. */
  dir: string;
  /** The responder's Ed25519 private key. */
  key: KeyObject;
  checkpointMs?: number;
  /** The worker's script when this code is bundled (the Electron build); found next to this file otherwise. */
  workerPath?: string;
  note?: (line: string) => void;
}

/** The journal's state as the views show it. */
export interface JournalHealth extends JournalStatus {
  /** Records handed to the journal's thread and not yet written. */
  inFlight: number;
  /** Set once the journal failed: nothing more is being written. */
  failure?: { code: string; message: string };
  /** The last verification run in this session, if any. */
  verification?: { status: VerifyReport['status']; records: number; signedRecords: number; problems: VerifyReport['problems']; at: number; tookMs: number };
}

type Pending = { resolve(value: unknown): void; reject(error: Error): void };

export class JournalHost extends EventEmitter<{ failed: [failure: { code: string; message: string }] }> {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private posted = 0;
  private written = 0;
  private failure: { code: string; message: string } | undefined;
  private verification: JournalHealth['verification'];
  private verifying: Promise<VerifyReport> | undefined;
  private closing: Promise<void> | undefined;

  private constructor(private readonly worker: Worker, private readonly note: (line: string) => void) {
    super();
    worker.on('message', (m: HostReply) => this.onReply(m));
    worker.on('error', (err) => this.fail('journal_unusable', `The journal's thread stopped: ${err.message}`));
    worker.on('exit', (code) => {
      if (!this.closing) this.fail('journal_unusable', `The journal's thread exited (code ${code}).`);
      for (const p of this.pending.values()) p.reject(new JournalError('journal_closed', 'The journal is closed.'));
      this.pending.clear();
    });
  }

  /** Starts the journal's thread and opens the journal in `dir` (created if absent). */
  static async open(options: JournalHostOptions): Promise<JournalHost> {
    const host = new JournalHost(startWorker(options.workerPath), options.note ?? ((line) => console.error(line)));
    try {
      await host.request({
        type: 'open', id: 0, dir: options.dir, key: options.key, fingerprint: keyFingerprint(rawPublicKey(options.key)),
        ...(options.checkpointMs !== undefined ? { checkpointMs: options.checkpointMs } : {}),
      });
    } catch (err) {
      host.closing = Promise.resolve();
      await host.worker.terminate();
      throw err;
    }
    return host;
  }

  get failed(): { code: string; message: string } | undefined {
    return this.failure;
  }

  /** Appends in order, without waiting. Throws if the journal has failed. */
  append(entries: JournalEntry[]): void {
    this.usable();
    if (entries.length === 0) return;
    this.posted += entries.length;
    this.post({ type: 'append', entries });
  }

  /** Appends one record and resolves once it is on disk (fdatasync). */
  async appendDurable(entry: JournalEntry): Promise<{ index: number; hash: string }> {
    this.usable();
    this.posted += 1;
    const at = (await this.request({ type: 'appendDurable', id: 0, entry })) as { index: number; hash: string };
    this.written += 1;
    return at;
  }

  /** Writes the journal, or the slice the filter names, as one bundle file under a fresh signed checkpoint. */
  exportBundle(file: string, slice?: SliceFilter): Promise<BundleSummary> {
    this.usable();
    return this.request({ type: 'exportBundle', id: 0, file, ...(slice ? { slice } : {}) }) as Promise<BundleSummary>;
  }

  query(query: JournalQuery): Promise<QueryPage> {
    this.usable();
    return this.request({ type: 'query', id: 0, query }) as Promise<QueryPage>;
  }

  async status(): Promise<JournalHealth> {
    const base = this.failure ? undefined : ((await this.request({ type: 'status', id: 0 }).catch(() => undefined)) as JournalStatus | undefined);
    return {
      ...(base ?? { dir: '', size: 0, durableSize: 0, keyFingerprint: '', recovered: [] }),
      inFlight: Math.max(0, this.posted - this.written),
      ...(this.failure ? { failure: this.failure } : {}),
      ...(this.verification ? { verification: this.verification } : {}),
    };
  }

  /** Verifies the whole journal (chain, tree, checkpoints, signatures); one run at a time. */
  verify(): Promise<VerifyReport> {
    this.usable();
    this.verifying ??= (this.request({ type: 'verify', id: 0 }) as Promise<VerifyReport>)
      .then((r) => {
        this.verification = { status: r.status, records: r.records, signedRecords: r.signedRecords, problems: r.problems.slice(0, 20), at: Date.now(), tookMs: r.tookMs };
        return r;
      })
      .finally(() => { this.verifying = undefined; });
    return this.verifying;
  }

  /** Writes what is pending, signs a last checkpoint and stops the thread. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        if (!this.failure) await this.request({ type: 'close', id: 0 });
      } finally {
        await this.worker.terminate();
      }
    })();
    return this.closing;
  }

  private usable(): void {
    if (this.failure) throw new JournalError('journal_unusable', `The journal is not recording: ${this.failure.message}`);
    if (this.closing) throw new JournalError('journal_closed', 'The journal is closed.');
  }

  private request(msg: Exclude<HostRequest, { type: 'append' }>): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.post({ ...msg, id } as HostRequest);
    });
  }

  private post(msg: HostRequest): void {
    this.worker.postMessage(msg);
  }

  private onReply(m: HostReply): void {
    switch (m.type) {
      case 'reply': {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m.value);
        else p.reject(new JournalError(m.error.code as never, m.error.message));
        return;
      }
      case 'appended':
        this.written += m.count;
        return;
      case 'error':
        this.fail(m.code, m.message);
        return;
      case 'note':
        this.note(m.line);
        return;
    }
  }

  private fail(code: string, message: string): void {
    if (this.failure) return;
    this.failure = { code, message };
    this.note(`cordon: the journal stopped recording: ${message}`);
    this.emit('failed', this.failure);
  }
}

function startWorker(workerPath: string | undefined): Worker {
  // In the Electron build (CommonJS by esbuild) import.meta is empty: the worker is bundled beside main.cjs.
  const path = workerPath ?? (typeof import.meta.url === 'string' ? undefined : join(__dirname, 'journal-worker.cjs'));
  if (path) return new Worker(path);
  const target = new URL('./journal-worker.ts', import.meta.url);
  // Under tsx (tests, the browser shell) a worker does not inherit the TypeScript loader: register it first.
  const api = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(target.href)}); })`, { eval: true });
}
