// SHA-256 and SHA-1 of the same bytes on two threads at once, over one read: the pair costs about one hash's time
// instead of two, which is what a multi-gigabyte memory dump's hashing, export read-back and transfer are bound by.
//
// How: a pair of worker threads share a ring of SharedArrayBuffer slots. For a file read through the page cache,
// one thread reads each slot (readSync) and hashes it with SHA-1 at once, while the other hashes the same slot
// with SHA-256. Slots are 128 KiB and the reader may run up to 64 slots (8 MiB) ahead: a window that lets the two
// threads drift apart absorbs their hiccups (measured on 1 GiB, median of 7: 0.92 s with a 1.5 MiB window, 0.85 s
// with 8 MiB or more; 256 KiB slots gave the same). A thread that did not read the slot copies it into a buffer of
// its own first (on this project's 2-core VM, copy + hash 0.78 s a GiB against 1.22 s hashing in place), which also
// frees the slot sooner. (The reading thread is the busier one; taking the reads in turns to balance them was tried
// and measured slower, 1.05 s against 0.95 s.)
// For a read past the page cache (O_DIRECT, direct-read.ts) the main thread keeps three 4 MiB reads in flight
// through libuv's pool, straight into the ring, and both threads copy and hash; a stream's chunks (a transfer from a
// socket) are copied into the ring by the main thread, likewise.
//
// Hand-offs go through Atomics on a small control array: the workers block in Atomics.wait (they have nothing else
// to do); the main thread waits with Atomics.waitAsync, only when the ring is full, so its event loop never blocks.
// The workers are plain JS evaluated from a string (Node builtins only), so this module bundles into Electron's
// main without a separate worker file. The pairs are created lazily, kept for later hashes and unref'd when idle,
// so they never keep a process alive; hashes beyond the pool's size wait their turn in order.
import { availableParallelism } from 'node:os';
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { FileDigest } from '../agent/evidence/hash.ts';
import { DIRECT_ALIGNMENT, EvidenceReader, type ReadMethod } from './direct-read.ts';
import { EvidenceIoError, abortedError } from './io-errors.ts';

export type { FileDigest };

/** A file's digests and how its bytes were read. */
export interface DualDigest extends FileDigest {
  readMethod: ReadMethod;
  /** Why the bytes were not read past the page cache, when they were not. */
  readNote?: string;
}

/** Bytes per slot: large enough that hand-offs are cheap, small enough that the other thread starts at once. */
export const SLOT_BYTES = 128 * 1024;
/** Slots per span: one O_DIRECT read of 4 MiB (devices want large requests: 1.05 s a GiB here, 1.25 s with 2 MiB). */
const SPAN_SLOTS = 32;
export const SPAN_BYTES = SPAN_SLOTS * SLOT_BYTES;
/** Spans per ring: several direct reads in flight while the threads hash earlier spans. */
const SPANS = 4;
export const SLOTS = SPANS * SPAN_SLOTS;
/** Each span's area is one alignment longer, so an O_DIRECT read lands aligned inside it whatever its phase. */
const AREA_BYTES = SPAN_BYTES + DIRECT_ALIGNMENT;
/** How far (in slots) the page-cache reader may run ahead of the SHA-256 thread: 8 MiB. */
const CACHE_WINDOW = 64;
/** How far (in slots) a stream's copies may run ahead of the slower thread: the whole ring (measured best). */
const STREAM_WINDOW = SLOTS;
/** O_DIRECT reads in flight. */
const DIRECT_READS = 3;
/** Progress from the reader thread, at most every this many bytes. */
const PROGRESS_BYTES = 8 * 1024 * 1024;

// The control array (Int32Array over a SharedArrayBuffer).
const EVENTS = 0; // bumped after every change anyone waits for: a slot published or hashed, the end, an abort
const PRODUCED = 1; // slots published so far
const DONE = 2; // 1 once the last slot is published
const ABORT = 3; // 1 when the job is abandoned
const CONSUMED_SHA256 = 4; // slots hashed by the SHA-256 thread
const CONSUMED_SHA1 = 5; // slots hashed by the SHA-1 thread
const LENGTHS = 8; // LENGTHS + i: bytes in slot i
const OFFSETS = LENGTHS + SLOTS; // OFFSETS + i: where slot i's bytes start in the data buffer
const CONTROL_INTS = OFFSETS + SLOTS;

/** Where slot `n`'s bytes start by default (reads past the cache may land up to 4 KiB later, for alignment). */
function slotStart(n: number): number {
  const slot = n % SLOTS;
  return Math.floor(slot / SPAN_SLOTS) * AREA_BYTES + (slot % SPAN_SLOTS) * SLOT_BYTES;
}

/** The workers' source: plain CommonJS with Node builtins only (evaluated, not loaded from a file). */
const WORKER_SOURCE = `'use strict';
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { readSync } = require('node:fs');
const EVENTS = ${EVENTS}, PRODUCED = ${PRODUCED}, DONE = ${DONE}, ABORT = ${ABORT}, CONSUMED_SHA256 = ${CONSUMED_SHA256};
const LENGTHS = ${LENGTHS}, OFFSETS = ${OFFSETS}, SLOTS = ${SLOTS}, SLOT_BYTES = ${SLOT_BYTES}, PROGRESS_BYTES = ${PROGRESS_BYTES};
const slotStart = ${slotStartSource()};
let ctl, data;
function signal() { Atomics.add(ctl, EVENTS, 1); Atomics.notify(ctl, EVENTS); }

// Hashes every slot someone else publishes, in order, until the end or an abort. Each slot is first copied into
// this thread's own buffer: a copy pulls the bytes from memory or the other core far faster than hashing from
// there does (measured: copy + hash 0.78 s a GiB, hashing in place 1.22 s), and frees the slot sooner.
const own = new Uint8Array(SLOT_BYTES);
function consume(job) {
  const hash = createHash(job.algorithm);
  let n = 0;
  for (;;) {
    const seen = Atomics.load(ctl, EVENTS);
    if (Atomics.load(ctl, ABORT) === 1) return { aborted: true };
    if (Atomics.load(ctl, PRODUCED) > n) {
      const slot = n % SLOTS;
      const start = Atomics.load(ctl, OFFSETS + slot);
      const length = Atomics.load(ctl, LENGTHS + slot);
      own.set(data.subarray(start, start + length));
      n++;
      Atomics.store(ctl, job.consumed, n);
      signal();
      hash.update(own.subarray(0, length));
      continue;
    }
    if (Atomics.load(ctl, DONE) === 1 && Atomics.load(ctl, PRODUCED) === n) return { digest: hash.digest('hex') };
    Atomics.wait(ctl, EVENTS, seen);
  }
}

// Reads the file into each slot, publishes it for the other thread and hashes it here at once.
function readAndHash(job) {
  const hash = createHash(job.algorithm);
  const { fd, window } = job.read;
  let n = 0, size = 0, reported = 0;
  for (;;) {
    for (;;) {
      const seen = Atomics.load(ctl, EVENTS);
      if (Atomics.load(ctl, ABORT) === 1) return { aborted: true };
      if (n - Atomics.load(ctl, CONSUMED_SHA256) < window) break;
      Atomics.wait(ctl, EVENTS, seen);
    }
    const slot = n % SLOTS;
    const start = slotStart(n);
    let got = 0;
    while (got < SLOT_BYTES) {
      const r = readSync(fd, data, start + got, SLOT_BYTES - got, size + got);
      if (r === 0) break;
      got += r;
    }
    if (got > 0) {
      Atomics.store(ctl, LENGTHS + slot, got);
      Atomics.store(ctl, OFFSETS + slot, start);
      Atomics.store(ctl, PRODUCED, n + 1);
      signal();
      hash.update(data.subarray(start, start + got));
      n++;
      size += got;
      Atomics.store(ctl, job.consumed, n);
      if (size - reported >= PROGRESS_BYTES) { reported = size; parentPort.postMessage({ job: job.id, progress: size }); }
    }
    if (got < SLOT_BYTES) {
      Atomics.store(ctl, DONE, 1);
      signal();
      return { digest: hash.digest('hex'), size };
    }
  }
}

parentPort.on('message', (job) => {
  if (job.type === 'ring') { ctl = new Int32Array(job.control); data = new Uint8Array(job.data); return; }
  let reply;
  try {
    reply = job.read ? readAndHash(job) : consume(job);
  } catch (err) {
    // The other thread must not wait for slots that will never come.
    Atomics.store(ctl, ABORT, 1);
    signal();
    reply = { error: String((err && err.message) || err), code: err && err.code };
  }
  parentPort.postMessage({ job: job.id, ...reply });
});
`;

/** slotStart as plain JS for the workers (the same arithmetic, with the constants inlined). */
function slotStartSource(): string {
  return `(n) => { const slot = n % ${SLOTS}; return Math.floor(slot / ${SPAN_SLOTS}) * ${AREA_BYTES} + (slot % ${SPAN_SLOTS}) * ${SLOT_BYTES}; }`;
}

type WorkerReply = { job: number; digest?: string; size?: number; aborted?: boolean; error?: string; code?: string; progress?: number };

interface JobStart {
  /** The SHA-1 thread reads this descriptor itself (page-cache reads), staying `window` slots ahead at most. */
  read?: { fd: number; window: number };
  onProgress?: (bytes: number) => void;
}

/** Two hashing threads and their ring; runs one job at a time. */
class HashPair {
  readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_INTS * 4));
  readonly data = new Uint8Array(new SharedArrayBuffer(SPANS * AREA_BYTES));
  /** [SHA-256, SHA-1 (and reader)]. */
  private readonly workers: [Worker, Worker];
  private pending = new Map<number, { replies: WorkerReply[]; resolve: () => void; onProgress?: (bytes: number) => void }>();
  private refs = 0;
  broken: Error | undefined;
  private nextJob = 1;

  constructor(private readonly onBroken: (pair: HashPair) => void) {
    this.workers = [this.spawn(), this.spawn()];
    for (const w of this.workers) w.postMessage({ type: 'ring', control: this.control.buffer, data: this.data.buffer });
  }

  private spawn(): Worker {
    const w = new Worker(WORKER_SOURCE, { eval: true, name: 'cordon-dual-hash' });
    w.on('message', (reply: WorkerReply) => this.deliver(reply));
    w.on('error', (err) => this.fail(err));
    w.on('exit', (code) => this.fail(new Error(`A hashing thread exited (code ${code}).`)));
    // After the listeners: adding a 'message' listener refs the worker again.
    w.unref();
    return w;
  }

  private deliver(reply: WorkerReply): void {
    const p = this.pending.get(reply.job);
    if (!p) return;
    if (reply.progress !== undefined) {
      p.onProgress?.(reply.progress);
      return;
    }
    p.replies.push(reply);
    if (p.replies.length === 2) {
      this.pending.delete(reply.job);
      p.resolve();
    }
  }

  private fail(err: Error): void {
    if (this.broken) return;
    this.broken = err;
    for (const w of this.workers) void w.terminate();
    // Wake a main-thread waitAsync on the ring, and settle what the workers will never answer.
    Atomics.store(this.control, ABORT, 1);
    Atomics.notify(this.control, EVENTS);
    for (const [job, p] of this.pending) {
      this.pending.delete(job);
      p.replies.push({ job, error: err.message }, { job, error: err.message });
      p.resolve();
    }
    this.onBroken(this);
  }

  /** Keeps the process alive while a caller awaits the workers (the workers themselves are unref'd). */
  hold(): void {
    if (this.refs++ === 0) for (const w of this.workers) w.ref();
  }

  letGo(): void {
    if (--this.refs === 0) for (const w of this.workers) w.unref();
  }

  /** Resets the ring and starts both workers on a new job; resolves with both replies. */
  start(options: JobStart = {}): Promise<WorkerReply[]> {
    const id = this.nextJob++;
    this.control.fill(0);
    return new Promise<WorkerReply[]>((resolve) => {
      const entry = { replies: [] as WorkerReply[], resolve: () => resolve(entry.replies), onProgress: options.onProgress };
      if (this.broken) {
        const error = this.broken.message;
        resolve([{ job: id, error }, { job: id, error }]);
        return;
      }
      this.pending.set(id, entry);
      this.workers[0].postMessage({ type: 'job', id, algorithm: 'sha256', consumed: CONSUMED_SHA256 });
      this.workers[1].postMessage({ type: 'job', id, algorithm: 'sha1', consumed: CONSUMED_SHA1, read: options.read });
    });
  }

  /** Publishes slot `n` holding `length` bytes from `offset` of the data buffer. */
  publish(n: number, offset: number, length: number): void {
    const slot = n % SLOTS;
    Atomics.store(this.control, LENGTHS + slot, length);
    Atomics.store(this.control, OFFSETS + slot, offset);
    Atomics.store(this.control, PRODUCED, n + 1);
    this.signal();
  }

  finish(): void {
    Atomics.store(this.control, DONE, 1);
    this.signal();
  }

  abort(): void {
    Atomics.store(this.control, ABORT, 1);
    this.signal();
  }

  private signal(): void {
    Atomics.add(this.control, EVENTS, 1);
    Atomics.notify(this.control, EVENTS);
  }

  /** True when slot `n` may be (re)filled: both threads are past its previous use. */
  free(n: number, window = SLOTS): boolean {
    return n - Math.min(Atomics.load(this.control, CONSUMED_SHA256), Atomics.load(this.control, CONSUMED_SHA1)) < window;
  }

  /** Waits, without blocking the event loop, until slot `n` may be filled. */
  async waitFree(n: number, window = SLOTS): Promise<void> {
    for (;;) {
      if (this.broken) throw hasherFailed(this.broken);
      // Abandoned: the threads stop hashing, so the slot would never come free.
      if (Atomics.load(this.control, ABORT) === 1) throw abortedError('Hashing');
      const seen = Atomics.load(this.control, EVENTS);
      if (this.free(n, window)) return;
      // The timeout is only a safety net: every change, and a worker's death, notifies.
      const wait = waitAsync(this.control, EVENTS, seen, 1000);
      if (wait.async) await wait.value;
    }
  }

  dispose(): void {
    this.broken ??= new Error('The hashing pool was closed.');
    for (const w of this.workers) void w.terminate();
  }
}

type WaitAsync = (array: Int32Array, index: number, value: number, timeout?: number) => { async: boolean; value: Promise<string> | string };
// ES2024's Atomics.waitAsync (in V8 and Node 20, not yet in this project's ES2023 lib).
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

function hasherFailed(cause: unknown): EvidenceIoError {
  return new EvidenceIoError('hasher_failed', 'A hashing thread failed, so these digests were not computed; hash again (a new pair of threads is started).', { cause });
}

/** The pool: up to `size` pairs, handed out in request order. */
class PairPool {
  private idle: HashPair[] = [];
  private all = new Set<HashPair>();
  private waiting: Array<{ resolve: (p: HashPair) => void; reject: (e: unknown) => void; signal?: AbortSignal; onAbort?: () => void }> = [];

  constructor(readonly size: number) {}

  async acquire(signal?: AbortSignal, what = 'Hashing'): Promise<HashPair> {
    if (signal?.aborted) throw abortedError(what, signal.reason);
    const ready = this.idle.pop();
    if (ready) return ready;
    if (this.all.size < this.size) {
      const pair = new HashPair((p) => this.drop(p));
      this.all.add(pair);
      return pair;
    }
    return new Promise<HashPair>((resolve, reject) => {
      const waiter: (typeof this.waiting)[number] = { resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          this.waiting = this.waiting.filter((w) => w !== waiter);
          reject(abortedError(what, signal.reason));
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiting.push(waiter);
    });
  }

  release(pair: HashPair): void {
    if (pair.broken) {
      this.drop(pair);
      return;
    }
    const next = this.waiting.shift();
    if (next) {
      if (next.onAbort) next.signal?.removeEventListener('abort', next.onAbort);
      next.resolve(pair);
    } else {
      this.idle.push(pair);
    }
  }

  private drop(pair: HashPair): void {
    this.all.delete(pair);
    this.idle = this.idle.filter((p) => p !== pair);
    // A waiter takes the place the broken pair left.
    const next = this.waiting.shift();
    if (next) {
      if (next.onAbort) next.signal?.removeEventListener('abort', next.onAbort);
      const fresh = new HashPair((p) => this.drop(p));
      this.all.add(fresh);
      next.resolve(fresh);
    }
  }

  close(): void {
    for (const p of this.all) p.dispose();
    this.all.clear();
    this.idle = [];
  }
}

/**
 * Two pairs at least, so that a long transfer's stream does not hold up every other hash; more on machines with the
 * cores to run them. Hashes beyond that wait their turn.
 */
let pool: PairPool | undefined;
const getPool = () => (pool ??= new PairPool(Math.min(4, Math.max(2, Math.floor(availableParallelism() / 2)))));

/** Ends the pool's threads (tests, or a process that wants them gone now; they never keep a process alive). */
export function closeDualHashPool(): void {
  pool?.close();
  pool = undefined;
}

/** The two digests from the threads' replies, or the error one of them met. */
function digestOf(replies: WorkerReply[], path: string | undefined, signal: AbortSignal | undefined): { sha256: string; sha1: string; size?: number } {
  const what = path ? `Hashing ${path}` : 'Hashing a stream';
  const failed = replies.find((r) => r.error !== undefined);
  if (failed) {
    if (path && failed.code && /^E[A-Z]+$/.test(failed.code)) {
      throw new EvidenceIoError('read_failed', `Reading ${path} failed (${failed.code}): the medium may be failing or was removed.`, { cause: new Error(failed.error) });
    }
    throw hasherFailed(new Error(failed.error));
  }
  if (replies.some((r) => r.aborted)) throw abortedError(what, signal?.reason);
  const [a, b] = replies;
  // Replies come in whatever order the threads finish: SHA-256 is 64 hex digits, SHA-1 is 40.
  const sha256 = [a, b].find((r) => r?.digest?.length === 64);
  const sha1 = [a, b].find((r) => r?.digest?.length === 40);
  if (!sha256?.digest || !sha1?.digest) throw hasherFailed(new Error(`${what}: the hashing threads did not both answer.`));
  return { sha256: sha256.digest, sha1: sha1.digest, ...(sha1.size !== undefined ? { size: sha1.size } : {}) };
}

export interface DualHashOptions {
  signal?: AbortSignal;
  /** Called with the bytes read so far, every few MiB and at the end. */
  onBytes?: (bytes: number) => void;
  /** Read past the page cache (O_DIRECT), for read-back checks; falls back, and says so, where refused. */
  direct?: boolean;
}

/**
 * Reads `path` once and returns its size, SHA-256 and SHA-1 (lower-case hex), hashed in parallel on two threads,
 * and how it was read. Throws `not_found`, `not_regular_file`, `read_failed`, `aborted` or `hasher_failed`.
 */
export async function hashFileDual(path: string, options: DualHashOptions = {}): Promise<DualDigest> {
  const { signal } = options;
  const what = `Hashing ${path}`;
  if (signal?.aborted) throw abortedError(what, signal.reason);
  const reader = await EvidenceReader.open(path, { direct: options.direct ?? false });
  let pair: HashPair;
  try {
    pair = await getPool().acquire(signal, what);
  } catch (err) {
    await reader.close();
    throw err;
  }
  pair.hold();
  const onAbort = () => pair.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    let size: number;
    let digests: { sha256: string; sha1: string; size?: number };
    if (reader.report().method === 'page-cache') {
      const replies = await pair.start({ read: { fd: reader.fd, window: CACHE_WINDOW }, onProgress: options.onBytes });
      digests = digestOf(replies, path, signal);
      size = digests.size ?? 0;
    } else {
      const replies = pair.start();
      let failure: unknown;
      size = 0;
      try {
        size = await readDirect(pair, reader, options, what);
        pair.finish();
      } catch (err) {
        failure = err;
        pair.abort();
      }
      const answered = await replies;
      if (failure) throw failure;
      digests = digestOf(answered, path, signal);
    }
    options.onBytes?.(size);
    const how = reader.report();
    return { size, sha256: digests.sha256, sha1: digests.sha1, readMethod: how.method, ...(how.note ? { readNote: how.note } : {}) };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    pair.letGo();
    getPool().release(pair);
    await reader.close();
  }
}

/** The main thread's side of a read past the cache: large reads in flight straight into the ring, published in order. */
async function readDirect(pair: HashPair, reader: EvidenceReader, options: DualHashOptions, what: string): Promise<number> {
  const { signal } = options;
  const inFlight: Array<{ first: number; read: Promise<{ offset: number; bytes: number }> }> = [];
  const settle = () => Promise.allSettled(inFlight.map((r) => r.read));
  let next = 0;
  let published = 0;
  let size = 0;
  for (;;) {
    if (signal?.aborted) {
      await settle();
      throw abortedError(what, signal.reason);
    }
    while (inFlight.length < DIRECT_READS && pair.free(next + SPAN_SLOTS - 1)) {
      const start = slotStart(next);
      inFlight.push({ first: next, read: reader.read(pair.data.subarray(start, start + AREA_BYTES), SPAN_BYTES, next * SLOT_BYTES) });
      next += SPAN_SLOTS;
    }
    const head = inFlight.shift();
    if (!head) {
      await pair.waitFree(next + SPAN_SLOTS - 1);
      continue;
    }
    let got: { offset: number; bytes: number };
    try {
      got = await head.read;
    } catch (err) {
      await settle();
      throw err;
    }
    const start = slotStart(head.first) + got.offset;
    for (let at = 0; at < got.bytes; at += SLOT_BYTES) {
      pair.publish(published++, start + at, Math.min(SLOT_BYTES, got.bytes - at));
    }
    size += got.bytes;
    if (got.bytes < SPAN_BYTES) {
      // The end of the file: reads issued past it return nothing.
      await settle();
      return size;
    }
    options.onBytes?.(size);
  }
}

/**
 * SHA-256 and SHA-1 of bytes arriving in pieces (an evidence transfer from a socket), hashed on the pool's threads
 * so the event loop only copies. `update()` returns a promise when the ring is full (or the threads are still being
 * handed out): await it before the next update, for back-pressure; the chunk may be reused once it settles.
 */
export class DualHashStream {
  private pair: HashPair | undefined;
  private replies: Promise<WorkerReply[]> | undefined;
  private acquiring: Promise<void> | undefined;
  private pending: Promise<void> | undefined;
  /** Slots published so far, and the fill of the next one. */
  private published = 0;
  private fill = 0;
  private size = 0;
  private closed: 'digest' | 'aborted' | undefined;
  private failure: unknown;

  constructor(private readonly options: { signal?: AbortSignal } = {}) {
    if (options.signal?.aborted) this.abort(options.signal.reason);
    else options.signal?.addEventListener('abort', () => this.abort(options.signal?.reason), { once: true });
  }

  /** Bytes given so far. */
  get bytes(): number {
    return this.size;
  }

  update(chunk: Uint8Array): void | Promise<void> {
    this.checkOpen();
    if (chunk.byteLength === 0) return;
    this.size += chunk.byteLength;
    if (this.pending || !this.pair) return this.chain(chunk);
    const rest = this.copy(chunk);
    if (rest === undefined) return;
    return this.chain(rest);
  }

  /** Publishes what is left, waits for both threads, and returns the digests; the stream cannot be used again. */
  async digest(): Promise<FileDigest> {
    this.checkOpen();
    this.closed = 'digest';
    const size = this.size;
    if (size === 0) {
      // Nothing was ever written: no thread is needed.
      return { size, sha256: createHash('sha256').digest('hex'), sha1: createHash('sha1').digest('hex') };
    }
    try {
      await this.pending;
      if (this.failure) throw this.failure;
    } catch (err) {
      this.pair?.abort();
      if (this.replies) await this.replies;
      this.releasePair();
      throw err;
    }
    const pair = this.pair!;
    pair.hold();
    try {
      if (this.fill > 0) {
        await pair.waitFree(this.published, STREAM_WINDOW);
        pair.publish(this.published, slotStart(this.published), this.fill);
        this.published++;
      }
      pair.finish();
      const { sha256, sha1 } = digestOf(await this.replies!, undefined, this.options.signal);
      return { size, sha256, sha1 };
    } finally {
      pair.letGo();
      this.releasePair();
    }
  }

  /** Abandons the stream: its threads go back to the pool; update() and digest() then throw `aborted`. */
  abort(reason?: unknown): void {
    if (this.closed) return;
    this.closed = 'aborted';
    this.failure = abortedError('Hashing a stream', reason);
    if (this.pair) {
      this.pair.abort();
      // Back to the pool only once the threads and any update waiting on the ring have let go of it.
      void Promise.allSettled([this.replies, this.pending]).then(() => this.releasePair());
    }
  }

  private checkOpen(): void {
    if (this.closed === 'aborted') throw this.failure;
    if (this.closed) throw new EvidenceIoError('stream_closed', 'This hash stream was already digested; start a new DualHashStream for new bytes.');
  }

  private releasePair(): void {
    const pair = this.pair;
    if (!pair) return;
    this.pair = undefined;
    getPool().release(pair);
  }

  /** Runs after whatever is pending; the caller awaits it for back-pressure. */
  private chain(chunk: Uint8Array): Promise<void> {
    const run = async () => {
      if (this.failure) throw this.failure;
      if (!this.pair) await this.acquire();
      let rest: Uint8Array | undefined = chunk;
      while (rest && !this.failure) {
        const pair = this.pair!;
        if (!pair.free(this.published, STREAM_WINDOW)) {
          pair.hold();
          try {
            await pair.waitFree(this.published, STREAM_WINDOW);
          } finally {
            pair.letGo();
          }
        }
        rest = this.copy(rest);
      }
      if (this.failure) throw this.failure;
    };
    const next = (this.pending ?? Promise.resolve()).then(run);
    const settled: Promise<void> = next.then(
      () => {
        if (this.pending === settled) this.pending = undefined;
      },
      (err: unknown) => {
        this.failure ??= err;
        if (this.pending === settled) this.pending = undefined;
      },
    );
    this.pending = settled;
    // An update whose promise was dropped must not crash the process: its failure is kept for digest() to throw.
    next.catch(() => undefined);
    return next;
  }

  private async acquire(): Promise<void> {
    this.acquiring ??= (async () => {
      const pair = await getPool().acquire(this.options.signal, 'Hashing a stream');
      if (this.closed === 'aborted') {
        getPool().release(pair);
        throw this.failure;
      }
      this.pair = pair;
      this.replies = pair.start();
    })();
    await this.acquiring;
  }

  /** Copies as much of `chunk` as the ring takes now; returns the rest, or undefined when all of it fitted. */
  private copy(chunk: Uint8Array): Uint8Array | undefined {
    const pair = this.pair!;
    let at = 0;
    while (at < chunk.byteLength) {
      if (!pair.free(this.published, STREAM_WINDOW)) return chunk.subarray(at);
      const take = Math.min(SLOT_BYTES - this.fill, chunk.byteLength - at);
      pair.data.set(chunk.subarray(at, at + take), slotStart(this.published) + this.fill);
      this.fill += take;
      at += take;
      if (this.fill === SLOT_BYTES) {
        pair.publish(this.published, slotStart(this.published), SLOT_BYTES);
        this.published++;
        this.fill = 0;
      }
    }
    return undefined;
  }
}
