// Pulls a capture from an agent's evidence store into the cockpit, file by file, over cordon.v1's evidence streams:
// each byte written, hashed as it arrives (SHA-256 and SHA-1 in parallel, evidence/dual-hash.ts) and acknowledged
// only once synced, so that a cut — the network, the agent, the cockpit itself — resumes from the last byte this
// side holds durably, never earlier, never later. At the end of each file its digests are compared with the ones
// the agent computed when it captured; a file that does not match is kept aside under another name, never used.
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, renameSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { CapturedFile, EvidenceCapture, EvidenceTransferProgress } from '../../protocol/index.ts';
import { DualHashStream } from '../../evidence/dual-hash.ts';
import { EvidenceWriter } from '../../evidence/direct-write.ts';
import { fsyncDir, parseJson, readText, writeFileDurably } from '../journal/data-dir.ts';
import { LogQueryError, type AgentLink, type EvidenceSink } from '../fleet/agent-link.ts';

/** Bytes in flight beyond the last acknowledgement. */
const WINDOW = 64 * 1024 * 1024;
/** Synced and acknowledged at least this often (a sync runs while the next bytes are written). */
const ACK_EVERY = 8 * 1024 * 1024;
/** transfer.json records the acknowledged offset at least this often (each save is a synced write and a rename). */
const SAVE_EVERY = 64 * 1024 * 1024;
/** How often a transfer waiting for its agent looks again. */
const WAIT_STEP_MS = 250;
const STATE_FILE = 'transfer.json';

export class TransferError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'TransferError';
  }
}

/** A pull's progress, as the cockpit pushes it (EvidenceTransferProgress in protocol/schema/cockpit/evidence-defs). */
export type TransferProgress = EvidenceTransferProgress;

export interface PulledFile extends CapturedFile {
  /** The offsets this file resumed from after cuts, in order. */
  resumedFrom: number[];
}

export interface PullResult {
  dir: string;
  files: PulledFile[];
  bytes: number;
  ms: number;
  resumes: number;
}

export interface PullOptions {
  agentId: string;
  capture: EvidenceCapture;
  /** Where the files go (created); holds transfer.json, the state that makes a pull resumable across restarts. */
  dir: string;
  /** The agent's link now (it may be replaced or reconnect meanwhile); undefined when the agent is not configured. */
  link(): AgentLink | undefined;
  onProgress?(p: TransferProgress): void;
  signal?: AbortSignal;
  /** Gives up after waiting this long for the agent to come back (default: never, until aborted). */
  waitLimitMs?: number;
}

interface TransferState {
  agentId: string;
  captureId: string;
  files: Record<string, { acked: number; done: boolean; resumedFrom: number[] }>;
}

/** transfer.json's files, each with the fields a resume reads (a damaged or hand-edited file starts over). */
function isFileStates(files: unknown): files is TransferState['files'] {
  if (files === null || typeof files !== 'object' || Array.isArray(files)) return false;
  return Object.values(files).every((s: unknown) => s !== null && typeof s === 'object' && Number.isSafeInteger((s as { acked?: unknown }).acked) && (s as { acked: number }).acked >= 0
    && typeof (s as { done?: unknown }).done === 'boolean' && Array.isArray((s as { resumedFrom?: unknown }).resumedFrom));
}

/** Pulls every file of `capture` into `dir`, resuming where an earlier pull of the same capture left it. */
export async function pullCapture(o: PullOptions): Promise<PullResult> {
  const started = performance.now();
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const statePath = join(o.dir, STATE_FILE);
  const loaded = parseJson(readText(statePath)) as TransferState | undefined;
  const state: TransferState = loaded && loaded.captureId === o.capture.captureId && isFileStates(loaded.files) ? loaded : { agentId: o.agentId, captureId: o.capture.captureId, files: {} };
  const save = () => writeFileDurably(statePath, `${JSON.stringify(state)}\n`);
  const totalBytes = o.capture.files.reduce((n, f) => n + f.size, 0);
  const meter = new Meter();
  let resumes = 0;
  let doneBytes = 0;
  const progress = (p: Partial<TransferProgress> & { state: TransferProgress['state']; message: string }, heldNow = 0) => {
    const bytes = doneBytes + heldNow;
    const rate = p.state === 'pulling' ? meter.rate(bytes) : 0;
    o.onProgress?.({
      agentId: o.agentId, captureId: o.capture.captureId, fileIndex: 0, fileCount: o.capture.files.length, bytes, totalBytes,
      bytesPerSec: rate, ...(rate > 0 ? { etaSeconds: (totalBytes - bytes) / rate } : {}), resumes, ...p,
    });
  };

  const files: PulledFile[] = [];
  for (const [index, file] of o.capture.files.entries()) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(file.path)) throw new TransferError('bad_path', `The agent lists a capture file named "${file.path.slice(0, 80)}", which is not a plain file name; the pull stops.`);
    const final = join(o.dir, file.path);
    const part = `${final}.part`;
    // Own entries only: a file the agent names "constructor" or "toString" must not get Object's members as its state.
    const s = Object.hasOwn(state.files, file.path) ? state.files[file.path]! : (state.files[file.path] = { acked: 0, done: false, resumedFrom: [] });
    if (s.done && existsSync(final) && statSync(final).size === file.size) {
      doneBytes += file.size;
      files.push({ ...file, resumedFrom: s.resumedFrom });
      continue;
    }
    s.done = false;
    for (;;) {
      o.signal?.throwIfAborted();
      const outcome = await pullOnce(o, file, part, s, save, (held, message) => progress({ state: 'pulling', file: file.path, fileIndex: index, message }, held),
        (message) => progress({ state: 'waiting', file: file.path, fileIndex: index, message }, s.acked));
      if (outcome.kind === 'lost') {
        resumes++;
        progress({ state: 'waiting', file: file.path, fileIndex: index, message: `The stream of ${file.path} was cut at byte ${s.acked} (${outcome.reason}); resuming from there once the agent is back.` }, s.acked);
        continue;
      }
      // The whole file is here and synced: it must be what the agent captured.
      progress({ state: 'verifying', file: file.path, fileIndex: index, message: `Checking ${file.path} against the agent's hashes` }, file.size);
      const d = outcome.digest;
      if (d.size !== file.size || d.sha256 !== file.sha256 || d.sha1 !== file.sha1) {
        const aside = `${final}.mismatch-${Date.now()}`;
        renameSync(part, aside);
        delete state.files[file.path];
        save();
        throw new TransferError('hash_mismatch', `${file.path} arrived as ${d.size} bytes with SHA-256 ${d.sha256}, but the agent captured ${file.size} bytes with SHA-256 ${file.sha256}: it is kept aside as ${aside} and not used. Pull the capture again.`);
      }
      renameSync(part, final);
      fsyncDir(o.dir);
      s.done = true;
      s.acked = file.size;
      save();
      doneBytes += file.size;
      files.push({ ...file, resumedFrom: s.resumedFrom });
      break;
    }
  }
  progress({ state: 'done', message: `Pulled ${files.length} files (${totalBytes} bytes)${resumes ? ` after ${resumes} cut(s), each resumed from its last synced byte` : ''}; every file matches the agent's SHA-256 and SHA-1.` });
  return { dir: o.dir, files, bytes: totalBytes, ms: performance.now() - started, resumes };
}

type Outcome = { kind: 'lost'; reason: string } | { kind: 'done'; digest: { size: number; sha256: string; sha1: string } };

/** One stream of one file from its last acknowledged offset: to its end, or to a cut. */
async function pullOnce(o: PullOptions, file: CapturedFile, part: string, s: TransferState['files'][string], save: () => void,
  moved: (held: number, message: string) => void, waiting: (message: string) => void): Promise<Outcome> {
  // What is held beyond the last acknowledgement was never promised: cut it off, and hash what stays from disk.
  const fd = openSync(part, existsSync(part) ? 'r+' : 'w+', 0o600);
  try {
    if (statSync(part).size < s.acked) s.acked = 0; // the part file lost bytes it had synced (restored backup?): start over
    ftruncateSync(fd, s.acked);
  } finally {
    closeSync(fd);
  }
  const hash = new DualHashStream();
  if (s.acked > 0) {
    s.resumedFrom.push(s.acked);
    await feedPrefix(hash, part, s.acked);
  }

  const link = await waitForLink(o, waiting);
  // Past the page cache where the disk allows (evidence/direct-write.ts): the kernel time a page-cache write and its
  // writeback cost is what the hashing threads need.
  const out = await EvidenceWriter.open(part, s.acked, { direct: true });
  /** Bytes received (queued in order), bytes synced (and acknowledged); out.written is what reached the file. */
  let received = s.acked;
  let synced = s.acked;
  let savedAt = s.acked;
  let syncing = false;
  /** Chunks received and not yet staged, in order; one writer takes them all at once, hashing meanwhile. */
  let queue: Buffer[] = [];
  let writing: Promise<void> | undefined;
  let failure: Error | undefined;
  let digested = false;
  let stream = 0;
  let finish!: (outcome: { kind: 'sent'; bytes: number } | { kind: 'lost'; reason: string }) => void;
  const ended = new Promise<{ kind: 'sent'; bytes: number } | { kind: 'lost'; reason: string }>((resolve) => (finish = resolve));

  const syncAndAck = () => {
    const upTo = out.written;
    if (syncing || upTo - synced < ACK_EVERY) return;
    syncing = true;
    void out.datasync().then(() => {
      synced = upTo;
      s.acked = upTo;
      // The state on disk may lag what is acknowledged (a restart then asks for some bytes again, never skips any).
      if (upTo - savedAt >= SAVE_EVERY) {
        savedAt = upTo;
        save();
      }
      if (stream) link.evidenceAck(stream, upTo);
      moved(upTo, `Pulling ${file.path}: ${mib(upTo)} of ${mib(file.size)} MiB`);
    }, (err: Error) => { failure ??= err; }).finally(() => { syncing = false; });
  };
  const write = async () => {
    while (queue.length > 0 && !failure) {
      const batch = queue;
      queue = [];
      // Staging the bytes for the disk and handing them to the hashing threads run at once.
      await Promise.all([
        (async () => { for (const b of batch) await out.write(b); })(),
        (async () => { for (const b of batch) await hash.update(b); })(),
      ]);
      syncAndAck();
    }
  };
  const sink: EvidenceSink = {
    data(bytes) {
      received += bytes.byteLength;
      if (received > file.size) failure ??= new TransferError('too_long', `The agent sent more than the ${file.size} bytes of ${file.path}.`);
      queue.push(bytes);
      writing ??= write().catch((err: Error) => { failure ??= err; }).finally(() => { writing = undefined; });
    },
    sent: (bytes) => finish({ kind: 'sent', bytes }),
    lost: (reason) => finish({ kind: 'lost', reason }),
  };
  /** Resolves once every chunk received so far is written and hashed. */
  const drained = async () => {
    while (writing) await writing;
  };
  try {
    try {
      const pulled = await link.pullEvidence({ captureId: o.capture.captureId, path: file.path, offset: s.acked, window: WINDOW }, sink);
      stream = pulled.stream;
      const a = pulled.sending;
      if (a.size !== file.size || a.sha256 !== file.sha256 || a.sha1 !== file.sha1) {
        link.evidenceCancel(stream);
        throw new TransferError('capture_changed', `The agent now describes ${file.path} as ${a.size} bytes with SHA-256 ${a.sha256}, not the ${file.size} bytes with SHA-256 ${file.sha256} it listed: the pull stops.`);
      }
    } catch (err) {
      if (err instanceof LogQueryError && ['unavailable', 'link_lost', 'timed_out'].includes(err.code)) return { kind: 'lost', reason: err.message };
      if (err instanceof LogQueryError) throw new TransferError(err.code, err.message);
      throw err;
    }
    const onAbort = () => {
      link.evidenceCancel(stream);
      finish({ kind: 'lost', reason: 'cancelled' });
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const end = await ended;
    o.signal?.removeEventListener('abort', onAbort);
    await drained();
    while (syncing) await new Promise((r) => setTimeout(r, 5));
    if (failure) {
      link.evidenceCancel(stream);
      throw failure instanceof TransferError ? failure : new TransferError('write_failed', `Writing ${file.path} here failed: ${failure.message}`);
    }
    // Everything received is written and synced before anything else: after a cut the next pull (now, or after a
    // restart) starts there.
    try {
      await out.flush();
      await out.datasync();
    } catch (err) {
      link.evidenceCancel(stream);
      throw new TransferError('write_failed', `Writing ${file.path} here failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    s.acked = out.written;
    save();
    if (end.kind === 'lost') {
      o.signal?.throwIfAborted();
      return end;
    }
    if (end.bytes !== file.size || out.written !== file.size) throw new TransferError('short', `The agent ended ${file.path} at byte ${end.bytes}; ${out.written} arrived, ${file.size} were captured.`);
    const digest = await hash.digest();
    digested = true;
    return { kind: 'done', digest };
  } finally {
    // A stream cut short gives its hashing threads back; the next one hashes the file again from disk.
    if (!digested) hash.abort();
    await out.close();
  }
}

async function waitForLink(o: PullOptions, waiting: (message: string) => void): Promise<AgentLink> {
  const since = performance.now();
  let said = false;
  for (;;) {
    o.signal?.throwIfAborted();
    const link = o.link();
    if (link && link.snapshotStatus().link === 'connected') return link;
    if (!said) {
      waiting(`Waiting for agent ${o.agentId} to be connected again; the pull resumes by itself.`);
      said = true;
    }
    if (o.waitLimitMs !== undefined && performance.now() - since > o.waitLimitMs) {
      throw new TransferError('agent_unreachable', `Agent ${o.agentId} has not been reachable for ${Math.round(o.waitLimitMs / 1000)} s; the pull stopped where it was and resumes from there when started again.`);
    }
    await new Promise((r) => setTimeout(r, WAIT_STEP_MS));
  }
}

/** Hashes the first `bytes` of `path` into `hash`: the part of a file an earlier stream left here. */
async function feedPrefix(hash: DualHashStream, path: string, bytes: number): Promise<void> {
  const fh: FileHandle = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (let at = 0; at < bytes;) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, bytes - at), at);
      if (bytesRead === 0) throw new TransferError('short', `${path} is shorter than the ${bytes} bytes acknowledged.`);
      await hash.update(Buffer.from(buf.subarray(0, bytesRead)));
      at += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

/** Bytes per second over the last few seconds. */
class Meter {
  private readonly samples: Array<{ t: number; bytes: number }> = [];
  rate(bytes: number): number {
    const t = performance.now();
    this.samples.push({ t, bytes });
    while (this.samples.length > 2 && t - this.samples[0]!.t > 3000) this.samples.shift();
    const first = this.samples[0]!;
    const dt = (t - first.t) / 1000;
    return dt > 0.05 ? Math.max(0, (bytes - first.bytes) / dt) : 0;
  }
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

