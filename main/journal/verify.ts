// Verifies a journal folder on its own, without the app and without trusting its indexes: every record against its
// chain hash, the RFC 6962 tree against every signed checkpoint, every checkpoint's signature against the given
// keys (or the keys the journal embeds, whose fingerprints the report prints for a human to compare).
//
// Segments are checked in worker threads (each frame carries its chain hash, so segments are independent): the
// hashing, three SHA-256 a record, is what bounds the rate on one core.
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { readCheckpointFile, type StoredCheckpoint } from './checkpoints.ts';
import { paths, readKeys, readManifest, SEGMENT_FILE, segmentName } from './data-dir.ts';
import { JournalError } from './errors.ts';
import { GENESIS_HASH } from './frames.ts';
import { keyFingerprint } from './keys.ts';
import { MerkleFrontier, rootFromPeaks } from './merkle.ts';
import { hex8, openNote, parseVerifierKey, verifierKeyString, type NoteVerifier } from './note.ts';
import { SEGMENT_BITS, SEGMENT_RECORDS } from './segment-index.ts';
import { verifySegment, type SegmentResult, type SegmentTask } from './verify-segment.ts';

export interface VerifyProblem {
  code: string;
  message: string;
  /** The first record concerned, when there is one. */
  index?: number;
}

export interface KeyReport {
  name: string;
  id: string;
  fingerprint: string;
  /** "name+id+base64", what `cordon-verify --key` takes. */
  verifierKey: string;
  /** given: passed by the person verifying; embedded: taken from the journal or bundle itself. */
  source: 'given' | 'embedded';
  /** Checkpoints this key's signature verified. */
  signed: number;
}

export interface VerifyReport {
  what: 'journal' | 'bundle' | 'slice';
  path: string;
  origin?: string;
  deviceId?: string;
  records: number;
  /** verified: everything holds; unsigned_tail: intact, but the newest records are not yet under a signature. */
  status: 'verified' | 'unsigned_tail' | 'failed';
  checkpoints: { total: number; verified: number; latestSize?: number; latestRoot?: string };
  /** Records covered by a verified checkpoint. */
  signedRecords: number;
  keys: KeyReport[];
  problems: VerifyProblem[];
  warnings: string[];
  tookMs: number;
}

export interface VerifyOptions {
  /** Trusted verifier keys ("name+id+base64"); without them, the keys the journal embeds are used and reported. */
  keys?: string[];
  /** Worker threads; 0 verifies in this thread. Default: the cores available, at most 4. */
  workers?: number;
}

/** Verifier keys from the person verifying; throws `bad_key` naming a malformed one. */
export function parseGivenKeys(keys: readonly string[]): NoteVerifier[] {
  return keys.map((k) => {
    const v = parseVerifierKey(k);
    if (!v) throw new JournalError('bad_key', `"${k.slice(0, 60)}" is not a verifier key (name+8 hex digits+base64 of 0x01 and the Ed25519 key).`);
    return v;
  });
}

export function keyReport(v: NoteVerifier, source: KeyReport['source']): KeyReport {
  return { name: v.name, id: hex8(v.id), fingerprint: keyFingerprint(v.publicKey), verifierKey: verifierKeyString(v.name, v.publicKey), source, signed: 0 };
}

/** Checks each checkpoint's signature; fills the key report; returns the ones that verified. */
export function checkSignatures(cps: readonly StoredCheckpoint[], verifiers: readonly NoteVerifier[], keys: KeyReport[], problems: VerifyProblem[]): StoredCheckpoint[] {
  const good: StoredCheckpoint[] = [];
  cps.forEach((cp, i) => {
    const opened = openNote(cp.note, verifiers);
    if (opened.ok) {
      good.push(cp);
      for (const v of opened.verifiedBy) {
        const k = keys.find((x) => x.name === v.name && x.id === hex8(v.id));
        if (k) k.signed++;
      }
    } else {
      problems.push({ code: opened.code === 'bad_signature' ? 'checkpoint_forged' : 'checkpoint_unsigned', message: `Checkpoint ${i + 1} (size ${cp.size}): ${opened.message}` });
    }
  });
  return good;
}

export async function verifyJournal(dir: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = performance.now();
  const problems: VerifyProblem[] = [];
  const warnings: string[] = [];
  const manifest = readManifest(dir);
  if (!manifest) throw new JournalError('journal_unusable', `${dir} is not a Cordon journal (it has no journal.json).`);
  const report: VerifyReport = {
    what: 'journal', path: dir, origin: manifest.origin, deviceId: manifest.deviceId, records: 0, status: 'failed',
    checkpoints: { total: 0, verified: 0 }, signedRecords: 0, keys: [], problems, warnings, tookMs: 0,
  };

  // Keys: the ones given, or the ones the journal says it used.
  const embedded = readKeys(dir);
  let verifiers: NoteVerifier[];
  if (options.keys && options.keys.length > 0) {
    verifiers = parseGivenKeys(options.keys);
    report.keys = verifiers.map((v) => keyReport(v, 'given'));
  } else {
    verifiers = [];
    for (const k of embedded) {
      const v = parseVerifierKey(k.verifierKey);
      if (!v) {
        problems.push({ code: 'key_malformed', message: `keys.json holds a malformed key "${k.verifierKey.slice(0, 60)}".` });
        continue;
      }
      verifiers.push(v);
      report.keys.push(keyReport(v, 'embedded'));
    }
  }

  // Checkpoints.
  let cpFile: ReturnType<typeof readCheckpointFile>;
  try {
    cpFile = readCheckpointFile(paths(dir).checkpoints);
  } catch (err) {
    problems.push({ code: 'checkpoints_damaged', message: err instanceof Error ? err.message : String(err) });
    cpFile = { checkpoints: [] };
  }
  if (cpFile.cut) warnings.push(`The last checkpoint line is cut short (${cpFile.cut.bytes} bytes): a crash while signing; the journal repairs it when it is next opened.`);
  const cps = cpFile.checkpoints;
  report.checkpoints.total = cps.length;
  cps.forEach((cp, i) => {
    if (cp.origin !== manifest.origin) problems.push({ code: 'checkpoint_foreign', message: `Checkpoint ${i + 1} names the journal "${cp.origin}", not this one ("${manifest.origin}").` });
    if (i > 0 && cp.size < cps[i - 1]!.size) problems.push({ code: 'checkpoint_shrinks', message: `Checkpoint ${i + 1} (size ${cp.size}) is smaller than the one before it (size ${cps[i - 1]!.size}): a journal never shrinks.` });
  });
  const signed = checkSignatures(cps, verifiers, report.keys, problems);
  report.checkpoints.verified = signed.length;

  // Segments.
  const segDir = paths(dir).segments;
  const firsts = existsSync(segDir)
    ? [...new Set(readdirSync(segDir).map((n) => SEGMENT_FILE.exec(n)).filter((m) => m && m[2] === 'rec').map((m) => Number(m![1])))].sort((a, b) => a - b)
    : [];
  for (let k = 0; k < firsts.length; k++) {
    if (firsts[k] !== k * SEGMENT_RECORDS) {
      problems.push({ code: 'record_missing', index: k * SEGMENT_RECORDS, message: `Segment ${segmentName(k * SEGMENT_RECORDS)} is missing: records #${k * SEGMENT_RECORDS} onward were deleted.` });
      firsts.length = k;
      break;
    }
  }
  const sizes = [...new Set(cps.map((c) => c.size))];
  const tasks: SegmentTask[] = firsts.map((first, k) => {
    const path = join(segDir, `${segmentName(first)}.rec`);
    // Each segment starts from the hash stored at the end of the one before (its last 32 bytes).
    const prevHash = k === 0 ? GENESIS_HASH.toString('hex') : lastStoredHash(join(segDir, `${segmentName(firsts[k - 1]!)}.rec`));
    return {
      path, first, prevHash,
      // Always the full segment's root too: the tree above the segments is built from them.
      peaksAt: [...sizes.filter((s) => s > first && s <= first + SEGMENT_RECORDS).map((s) => s - first), SEGMENT_RECORDS],
      want: embedded.map((e) => e.record).filter((r) => r >= first && r < first + SEGMENT_RECORDS),
    };
  });
  const results = await runTasks(tasks, options.workers);

  // Combine: the chain across segments, the count, the tree at each checkpoint.
  const upper = new MerkleFrontier();
  const rootAt = new Map<number, Buffer>();
  if (sizes.includes(0)) rootAt.set(0, rootFromPeaks([]));
  let total = 0;
  let broken: VerifyProblem | undefined;
  for (let k = 0; k < results.length; k++) {
    const r = results[k]!;
    if (r.problem) {
      broken = { code: r.problem.code, message: r.problem.message, index: r.problem.index };
      total += r.count;
      break;
    }
    for (const [local, p] of Object.entries(r.peaks)) {
      rootAt.set(r.first + Number(local), rootFromPeaks([...upper.peaks, ...p.hashes.map((h) => Buffer.from(h, 'hex'))]));
    }
    total += r.count;
    const isLast = k === results.length - 1;
    if (r.cut) {
      if (!isLast) {
        broken = { code: 'segment_garbled', index: r.first + r.count, message: `Segment ${r.path} ends in the middle of record #${r.first + r.count}, and more segments follow: the journal was truncated or altered.` };
        break;
      }
      warnings.push(`The last record is cut short (${r.cut.bytes} bytes after record #${r.first + r.count - 1}): the journal is being written, or it crashed and was not reopened since.`);
    }
    if (r.count === SEGMENT_RECORDS) {
      const hashes = r.peaks[SEGMENT_RECORDS]?.hashes ?? [];
      if (hashes.length === 1) upper.appendSubtree(Buffer.from(hashes[0]!, 'hex'), SEGMENT_BITS);
    } else if (!isLast) {
      broken = { code: 'record_missing', index: r.first + r.count, message: `Segment ${r.path} holds ${r.count} records, not ${SEGMENT_RECORDS}: record #${r.first + r.count} onward were deleted from it.` };
      break;
    }
  }
  if (broken) problems.unshift(broken);
  report.records = total;

  // Every checkpoint must match the records; the biggest verified one says how much is signed.
  cps.forEach((cp, i) => {
    const root = rootAt.get(cp.size);
    if (cp.size > total) {
      if (!broken) problems.push({ code: 'records_missing', index: total, message: `Checkpoint ${i + 1} covers ${cp.size} records but only ${total} are here: signed records were removed.` });
    } else if (root && !root.equals(cp.root)) {
      problems.push({ code: 'checkpoint_mismatch', message: mismatchMessage(cps, i, rootAt) });
    }
  });
  for (const cp of signed) if (cp.size <= total && rootAt.get(cp.size)?.equals(cp.root)) report.signedRecords = Math.max(report.signedRecords, cp.size);
  const latest = cps[cps.length - 1];
  if (latest) {
    report.checkpoints.latestSize = latest.size;
    report.checkpoints.latestRoot = latest.root.toString('base64');
  }

  // The embedded keys must each be introduced by a record in the chain.
  const wanted: Record<number, string> = Object.assign({}, ...results.map((r) => r.wanted));
  for (const k of embedded) {
    const text = wanted[k.record];
    if (text === undefined) {
      if (!broken) problems.push({ code: 'key_unrecorded', index: k.record, message: `keys.json says record #${k.record} introduced key ${k.fingerprint}, but the journal has no such record.` });
      continue;
    }
    const body = (JSON.parse(text) as { kind?: string; body?: { step?: string; verifierKey?: string } });
    if (body.kind !== 'journal' || body.body?.step !== 'key' || body.body.verifierKey !== k.verifierKey) {
      problems.push({ code: 'key_unrecorded', index: k.record, message: `Record #${k.record} does not introduce key ${k.fingerprint} as keys.json says: keys.json was altered.` });
    }
  }
  if (cps.length === 0 && total > 0) problems.push({ code: 'no_checkpoint', message: 'The journal has records but no signed checkpoint: nothing in it is signed.' });
  if (lockHolder(dir)) warnings.push(`The journal is open in a running cockpit (pid ${lockHolder(dir)}): records written since its last checkpoint are not yet signed.`);

  report.status = problems.length > 0 ? 'failed' : report.signedRecords < total ? 'unsigned_tail' : 'verified';
  report.tookMs = performance.now() - started;
  return report;
}

/** Which records a checkpoint mismatch points at: between the biggest earlier checkpoint that still matches and it. */
export function mismatchMessage(cps: readonly StoredCheckpoint[], i: number, rootAt: ReadonlyMap<number, Buffer>): string {
  const cp = cps[i]!;
  let from = 0;
  for (const c of cps) if (c.size < cp.size && c.size > from && rootAt.get(c.size)?.equals(c.root)) from = c.size;
  const where = from > 0 ? `records #${from}…#${cp.size - 1} (the checkpoint of size ${from} still matches)` : `records before #${cp.size}`;
  return `The records do not match checkpoint ${i + 1} (size ${cp.size}): ${where} were altered, removed or inserted after it was signed.`;
}

/** The chain hash stored at the end of a segment file: its last 32 bytes. */
function lastStoredHash(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(32);
    if (size >= 32) readSync(fd, buf, 0, 32, size - 32);
    return buf.toString('hex');
  } finally {
    closeSync(fd);
  }
}

function lockHolder(dir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(paths(dir).lock, 'utf8'), 10);
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** Runs segment checks on worker threads, or here when there is one segment or workers cannot start. */
async function runTasks(tasks: SegmentTask[], workers?: number): Promise<SegmentResult[]> {
  const n = Math.min(workers ?? Math.min(availableParallelism(), 4), tasks.length);
  if (n <= 1) return tasks.map(verifySegment);
  try {
    return await runOnWorkers(tasks, n);
  } catch {
    return tasks.map(verifySegment);
  }
}

function startWorker(): Worker {
  // In the Electron build (CommonJS by esbuild) import.meta is empty: the worker is bundled beside main.cjs.
  if (typeof import.meta.url !== 'string') return new Worker(join(__dirname, 'verify-worker.cjs'));
  const target = new URL('./verify-worker.ts', import.meta.url);
  // Under tsx (tests, the CLI launcher) a worker does not inherit the TypeScript loader: register it first.
  if (target.pathname.endsWith('.ts')) {
    const api = import.meta.resolve('tsx/esm/api');
    return new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(target.href)}); })`, { eval: true });
  }
  return new Worker(target);
}

function runOnWorkers(tasks: SegmentTask[], n: number): Promise<SegmentResult[]> {
  return new Promise((resolve, reject) => {
    const results = new Array<SegmentResult>(tasks.length);
    let next = 0;
    let done = 0;
    const pool: Worker[] = [];
    const finish = (err?: Error) => {
      for (const w of pool) void w.terminate();
      if (err) reject(err);
      else resolve(results);
    };
    for (let w = 0; w < n; w++) {
      const worker = startWorker();
      pool.push(worker);
      let current = -1;
      const feed = () => {
        if (next >= tasks.length) return;
        current = next++;
        worker.postMessage(tasks[current]);
      };
      worker.on('message', (m: { ok: true; result: SegmentResult } | { ok: false; message: string }) => {
        if (!m.ok) return finish(new Error(m.message));
        results[current] = m.result;
        if (++done === tasks.length) return finish();
        feed();
      });
      worker.on('error', (err) => finish(err));
      feed();
    }
  });
}

/** Size on disk of a journal folder, for the status view and the bench. */
export function journalBytes(dir: string): number {
  let total = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else total += statSync(join(d, e.name)).size;
    }
  };
  walk(dir);
  return total;
}
