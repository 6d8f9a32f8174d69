// The cockpit's journal: an append-only, hash-chained, Merkle-tree store of every event, action, console session,
// setting, policy and custody record, signed in checkpoints by the responder's key, queried by the segment indexes.
//
// Durability, as the forensic use needs it:
// - append() writes the batch with one write() before it returns: in the page cache it survives `kill -9` of the
//   cockpit. An fdatasync follows within `syncMs` (power loss is what that narrows).
// - appendDurable() resolves only after fdatasync: an action record is on the disk before the action is sent.
// - A checkpoint only ever covers synced records, so no signed record can be lost to a crash.
// - A crash can leave the last frame cut short. Reopening cuts it, keeps the cut bytes in a file beside the
//   segment, says so (the `recovered` notices, the `note` callback) and writes it into the journal itself, in the
//   "opened" record, which the next checkpoint signs. Never silently.
import { randomUUID, type KeyObject } from 'node:crypto';
import { closeSync, fdatasync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CheckpointLog, keepCutBytes, readCheckpointFile, type StoredCheckpoint } from './checkpoints.ts';
import { fsyncDir, lock, paths, readKeys, readManifest, SEGMENT_FILE, segmentName, writeFileDurably, FORMAT, type EmbeddedKey, type Manifest } from './data-dir.ts';
import { JournalError, systemCode } from './errors.ts';
import { chainHash, frameLeafHash, GENESIS_HASH, scanFrames, FRAME_OVERHEAD } from './frames.ts';
import { keySigner, describeKey } from './keys.ts';
import { consistencyProof, inclusionProof, leafHash, nodeHash, rootFromPeaks, verifyInclusion } from './merkle.ts';
import { checkpointText, signNote, type NoteSigner } from './note.ts';
import { runQuery, scanMatches, type JournalQuery, type QueryPage, type QuerySegment } from './query.ts';
import { decodeRecord, encodeRecordText, kindCode, recordFromEntry, severityCode, type JournalEntry, type JournalRecord, type StoredRecord } from './record.ts';
import { KeyList, recordKeys } from './searchable.ts';
import { ActiveIndex, ColumnCache, FileHandles, SealedSegment, SEGMENT_BITS, SEGMENT_RECORDS, STORED_MIN_HEIGHT } from './segment-index.ts';

const fdatasyncAsync = promisify(fdatasync);

export interface JournalOptions {
  /** The journal's folder (created if absent). */
  dir: string;
  /** The responder's Ed25519 key: a private KeyObject (signing as the journal's origin) or a signer. */
  signer: KeyObject | NoteSigner;
  /** A checkpoint is signed this often when records were added; 0: only by checkpoint() and close(). */
  checkpointMs?: number;
  /** Batched appends are fdatasync'ed this often. */
  syncMs?: number;
  /** Where notices go (a cut tail, a failed timer checkpoint); stderr unless given. */
  note?: (line: string) => void;
  now?: () => number;
  /** The device id of a journal created now; a random UUID unless given. */
  deviceId?: string;
}

export const DEFAULT_CHECKPOINT_MS = 5000;
export const DEFAULT_SYNC_MS = 200;
/** Size of the reused encoding buffer kept between batches (a bigger batch grows it for its own duration). */
const SCRATCH_KEEP = 16 * 1024 * 1024;

/** What a reopen found and repaired: the bytes a crash left unfinished, and where they were kept. */
export interface RecoveryNotice {
  code: 'torn_tail_cut' | 'checkpoint_line_cut';
  message: string;
  file: string;
  offset: number;
  bytes: number;
  /** The last record index kept intact before the cut (-1 when none). */
  afterIndex: number;
  keptAt: string;
}

export interface AppendResult {
  first: number;
  count: number;
  /** Chain hash of the last record appended, hex. */
  lastHash: string;
}

interface Encoded {
  rec: JournalRecord;
  /** Canonical JSON. */
  text: string;
}

export class Journal {
  readonly dir: string;
  readonly deviceId: string;
  readonly origin: string;
  readonly signer: NoteSigner;
  /** What reopening this journal had to repair; empty after a clean close. */
  readonly recovered: RecoveryNotice[] = [];

  private readonly files = new FileHandles();
  private readonly columns = new ColumnCache();
  private readonly sealed: SealedSegment[] = [];
  private readonly sealedQuery: QuerySegment[] = [];
  private active!: ActiveIndex;
  private activeFd = -1;
  private activePath = '';
  private count = 0;
  private durable = 0;
  private syncing: Promise<void> | undefined;
  private checkpointChain: Promise<unknown> = Promise.resolve();
  private cpLog: CheckpointLog | undefined;
  private latest: StoredCheckpoint | undefined;
  private embeddedKeys: EmbeddedKey[] = [];
  private readonly upperNodes = new Map<string, Buffer>();
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  private unlock: () => void = () => {};
  private readonly note: (line: string) => void;
  private readonly now: () => number;
  private readonly keyScratch = new KeyList();
  /** Where batches are encoded before their one write. */
  private scratch = Buffer.allocUnsafeSlow(SCRATCH_KEEP);
  /** The last error a background sync or checkpoint met, for the status view. */
  lastError: JournalError | undefined;

  private constructor(manifest: Manifest, dir: string, signer: NoteSigner, private readonly options: JournalOptions) {
    this.dir = dir;
    this.deviceId = manifest.deviceId;
    this.origin = manifest.origin;
    this.signer = signer;
    this.note = options.note ?? ((line) => process.stderr.write(`${line}\n`));
    this.now = options.now ?? Date.now;
  }

  /** Opens the journal in `options.dir`, creating it if the folder is new; repairs and reports a cut tail. */
  static async open(options: JournalOptions): Promise<Journal> {
    const dir = options.dir;
    try {
      mkdirSync(paths(dir).segments, { recursive: true });
    } catch (err) {
      throw new JournalError('journal_unusable', `Cannot create the journal folder ${dir} (${systemCode(err)}): choose another data folder.`, { cause: err });
    }
    const unlock = lock(dir);
    try {
      rmSync(paths(dir).imports, { recursive: true, force: true });
      let manifest = readManifest(dir);
      const created = !manifest;
      if (!manifest) {
        if (readdirSync(paths(dir).segments).length > 0) {
          throw new JournalError('journal_damaged', `${dir} holds journal segments but no journal.json: restore the manifest from a backup before opening it.`);
        }
        const deviceId = options.deviceId ?? randomUUID();
        manifest = { format: FORMAT, deviceId, origin: `cordon.journal/${deviceId}`, createdAt: new Date().toISOString() };
        writeFileDurably(paths(dir).manifest, `${JSON.stringify(manifest, null, 2)}\n`);
      }
      const signer = 'sign' in options.signer ? options.signer : keySigner(options.signer, manifest.origin);
      const j = new Journal(manifest, dir, signer, options);
      j.unlock = unlock;
      try {
        j.load();
        await j.start(created);
      } catch (err) {
        await j.release();
        throw err;
      }
      return j;
    } catch (err) {
      unlock();
      throw err;
    }
  }

  /** Records in the journal. */
  get size(): number {
    return this.count;
  }

  /** Records known to be on the disk (fdatasync'ed). */
  get durableSize(): number {
    return this.durable;
  }

  get latestCheckpoint(): StoredCheckpoint | undefined {
    return this.latest;
  }

  /** The public keys that signed checkpoints here. */
  keys(): EmbeddedKey[] {
    return [...this.embeddedKeys];
  }

  // ---- writing ----

  /**
   * Appends a batch (threat events, log lines) with one write; synced within `syncMs`. Throws `invalid_record`
   * before writing anything if one entry is malformed, `disk_write_failed` if the disk refuses (nothing of the
   * failing segment's part of the batch stays).
   */
  append(entries: readonly JournalEntry[]): AppendResult {
    this.assertOpen();
    const now = this.now();
    const list: Encoded[] = new Array<Encoded>(entries.length);
    for (let i = 0; i < entries.length; i++) {
      const rec = recordFromEntry(entries[i]!, this.count + i, now);
      list[i] = { rec, text: encodeRecordText(rec) };
    }
    return this.write(list);
  }

  /** Appends one record and resolves once it is on the disk: call before an action is sent. */
  async appendDurable(entry: JournalEntry): Promise<{ index: number; hash: string }> {
    const r = this.append([entry]);
    await this.sync();
    return { index: r.first, hash: r.lastHash };
  }

  /**
   * Appends records that come from another device's journal, keeping their time, origin and via. For bundle
   * imports; the caller has verified them.
   */
  appendForeign(records: readonly Omit<JournalRecord, 'index'>[]): AppendResult {
    this.assertOpen();
    const list: Encoded[] = records.map((r, i) => {
      const base = recordFromEntry(r, this.count + i, 0);
      // Members in canonical order (origin after kind, via after time), so encoding checks rather than copies.
      const rec = {} as JournalRecord;
      if (base.actor) rec.actor = base.actor;
      if (base.agentId) rec.agentId = base.agentId;
      rec.body = base.body;
      rec.index = base.index;
      rec.kind = base.kind;
      if (r.origin) rec.origin = r.origin;
      if (base.severity) rec.severity = base.severity;
      rec.time = base.time;
      if (r.via) rec.via = r.via;
      if (base.vmId) rec.vmId = base.vmId;
      return { rec, text: encodeRecordText(rec) };
    });
    return this.write(list);
  }

  /** Resolves when every record appended before the call is on the disk. */
  async sync(): Promise<void> {
    const target = this.count;
    while (this.durable < target) {
      if (!this.syncing) {
        const upto = this.count;
        this.syncing = fdatasyncAsync(this.activeFd).then(
          () => {
            this.durable = Math.max(this.durable, upto);
          },
          (err: unknown) => {
            throw new JournalError('disk_write_failed', `The journal could not be synced to disk (${systemCode(err)}): records since #${this.durable} may not survive a power cut.`, { cause: err });
          },
        ).finally(() => {
          this.syncing = undefined;
        });
      }
      await this.syncing;
    }
  }

  private write(list: Encoded[]): AppendResult {
    const first = this.count;
    let lastHash = this.active.lastHash;
    let i = 0;
    while (i < list.length) {
      const take = Math.min(SEGMENT_RECORDS - this.active.count, list.length - i);
      lastHash = this.writeChunk(list, i, take);
      i += take;
      if (this.active.full) this.roll();
    }
    return { first, count: list.length, lastHash: lastHash.toString('hex') };
  }

  private writeChunk(list: Encoded[], from: number, n: number): Buffer {
    const a = this.active;
    // Each record's text is encoded straight into one reused buffer, and hashed where it lies.
    let buf = this.scratch;
    const chains: Buffer[] = new Array<Buffer>(n);
    const leaves: Buffer[] = new Array<Buffer>(n);
    const ends: number[] = new Array<number>(n);
    let prev = a.lastHash;
    let at = 0;
    for (let k = 0; k < n; k++) {
      const { text } = list[from + k]!;
      const room = FRAME_OVERHEAD + 3 * text.length;
      if (buf.length - at < room) {
        const bigger = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, at + room));
        buf.copy(bigger, 0, 0, at);
        buf = this.scratch = bigger;
      }
      const len = buf.write(text, at + 4, 'utf8');
      buf.writeUInt32LE(len, at);
      const chain = chainHash(prev, buf.subarray(at + 4, at + 4 + len));
      chain.copy(buf, at + 4 + len);
      chains[k] = chain;
      leaves[k] = frameLeafHash(buf, at, len);
      at += FRAME_OVERHEAD + len;
      ends[k] = at;
      prev = chain;
    }
    const total = at;
    const start = a.recBytes;
    try {
      for (let off = 0; off < total;) off += writeSync(this.activeFd, buf, off, total - off, start + off);
    } catch (err) {
      try {
        ftruncateSync(this.activeFd, start);
      } catch {
        // If even that fails the next open finds a cut frame and says so.
      }
      throw new JournalError('disk_write_failed', `The journal could not write ${n} record(s) (${systemCode(err)}): free disk space; nothing of this batch was kept.`, { cause: err });
    }
    if (buf.length > SCRATCH_KEEP) this.scratch = Buffer.allocUnsafeSlow(SCRATCH_KEEP);
    let off = start;
    const keys = this.keyScratch;
    for (let k = 0; k < n; k++) {
      const { rec } = list[from + k]!;
      const end = start + ends[k]!;
      keys.length = 0;
      a.add(rec.time, off, end, kindCode(rec.kind), severityCode(rec.severity), recordKeys(rec, keys), leaves[k]!, chains[k]!);
      off = end;
    }
    this.count += n;
    return prev;
  }

  /** Seals the full active segment (sync, index) and starts the next. */
  private roll(): void {
    const a = this.active;
    fsyncSync(this.activeFd);
    const name = segmentName(a.first);
    const idxPath = join(paths(this.dir).segments, `${name}.idx`);
    a.seal(idxPath);
    fsyncDir(paths(this.dir).segments);
    this.addSealed(SealedSegment.load(idxPath, this.activePath, this.files, this.columns));
    this.durable = Math.max(this.durable, a.first + a.count);
    const oldFd = this.activeFd;
    // A background fdatasync may still use the old descriptor: close it after that.
    if (this.syncing) void this.syncing.catch(() => undefined).finally(() => closeSync(oldFd));
    else closeSync(oldFd);
    this.startSegment(a.first + SEGMENT_RECORDS, a.lastHash);
  }

  private startSegment(first: number, prevHash: Buffer, existing?: ActiveIndex): void {
    this.activePath = join(paths(this.dir).segments, `${segmentName(first)}.rec`);
    try {
      this.activeFd = openSync(this.activePath, existing ? 'r+' : 'wx+', 0o600);
    } catch (err) {
      throw new JournalError('journal_unusable', `Cannot open the journal segment ${this.activePath} (${systemCode(err)}).`, { cause: err });
    }
    if (!existing) fsyncDir(paths(this.dir).segments);
    this.active = existing ?? new ActiveIndex(first, prevHash);
  }

  private addSealed(s: SealedSegment): void {
    this.sealed.push(s);
    const files = this.files;
    this.sealedQuery.push({
      summary: s.summary,
      lookup: (k) => s.lookup(k),
      times: () => s.times(),
      read: (pos) => {
        const offs = s.offsets();
        return splitFrame(files.read(s.recPath, offs[pos]!, offs[pos + 1]! - offs[pos]!));
      },
    });
  }

  // ---- checkpoints ----

  /** Signs a checkpoint over every synced record (none if nothing changed since the last) and stores it. */
  checkpoint(): Promise<StoredCheckpoint> {
    const run = async (): Promise<StoredCheckpoint> => {
      await this.sync();
      const size = this.durable;
      if (this.latest && this.latest.size === size) return this.latest;
      const root = this.rootAt(size);
      let note: string;
      try {
        note = await signNote(checkpointText(this.origin, size, root), this.signer);
      } catch (err) {
        throw new JournalError('sign_failed', `The checkpoint could not be signed (${err instanceof Error ? err.message : String(err)}): check the responder's key.`, { cause: err });
      }
      const cp: StoredCheckpoint = { size, time: this.now(), note, origin: this.origin, root };
      await this.cpLog!.append(cp);
      this.latest = cp;
      return cp;
    };
    const p = this.checkpointChain.then(run, run);
    this.checkpointChain = p.catch(() => undefined);
    return p;
  }

  /** Every checkpoint stored, oldest first. */
  checkpoints(): StoredCheckpoint[] {
    return readCheckpointFile(paths(this.dir).checkpoints).checkpoints;
  }

  // ---- reading and proving ----

  get(index: number): StoredRecord {
    const { bytes, hash } = this.readFrame(index);
    return { record: decodeRecord(bytes), hash: hash.toString('hex') };
  }

  /** The canonical bytes and chain hash of a record. */
  readFrame(index: number): { bytes: Buffer; hash: Buffer } {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.count) {
      throw new JournalError('out_of_range', `There is no record #${index}: the journal holds ${this.count}.`);
    }
    const seg = Math.floor(index / SEGMENT_RECORDS);
    if (seg < this.sealed.length) return this.sealedQuery[seg]!.read(index - seg * SEGMENT_RECORDS);
    const pos = index - this.active.first;
    const at = this.active.offsets[pos]!;
    return splitFrame(this.files.read(this.activePath, at, this.active.offsets[pos + 1]! - at));
  }

  /** Canonical bytes and chain hashes of records [from, to), a segment file at a time (exports, bundles). */
  *frames(from: number, to: number): Generator<{ index: number; bytes: Buffer; hash: Buffer }> {
    if (!(from >= 0 && from <= to && to <= this.count)) throw new JournalError('out_of_range', `No records [${from}, ${to}): the journal holds ${this.count}.`);
    for (let seg = Math.floor(from / SEGMENT_RECORDS); seg * SEGMENT_RECORDS < to; seg++) {
      const first = seg * SEGMENT_RECORDS;
      const sealed = seg < this.sealed.length ? this.sealed[seg] : undefined;
      const offsets = sealed ? sealed.offsets() : this.active.offsets;
      const lo = Math.max(from, first) - first;
      const hi = Math.min(to, first + SEGMENT_RECORDS) - first;
      const start = offsets[lo]!;
      const buf = this.files.read(sealed ? sealed.recPath : this.activePath, start, offsets[hi]! - start);
      for (let pos = lo; pos < hi; pos++) {
        const f = splitFrame(buf.subarray(offsets[pos]! - start, offsets[pos + 1]! - start));
        yield { index: first + pos, bytes: f.bytes, hash: f.hash };
      }
    }
  }

  query(q: JournalQuery): QueryPage {
    this.assertOpen();
    return runQuery(this.querySegments(), q);
  }

  /** Every record matching the filters, in index order (exports). */
  scan(filter: Omit<JournalQuery, 'limit' | 'before'>): Generator<{ record: JournalRecord; bytes: Buffer; hash: Buffer }> {
    this.assertOpen();
    return scanMatches(this.querySegments(), filter);
  }

  private querySegments(): QuerySegment[] {
    const a = this.active;
    const activeQuery: QuerySegment = {
      summary: a.summary(),
      lookup: (k) => a.lookup(k),
      times: () => a.times,
      read: (pos) => splitFrame(this.files.read(this.activePath, a.offsets[pos]!, a.offsets[pos + 1]! - a.offsets[pos]!)),
    };
    return [...this.sealedQuery, activeQuery];
  }

  /** RFC 6962 root of the first `size` records. */
  rootAt(size: number): Buffer {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.count) throw new JournalError('out_of_range', `No tree of size ${size}: the journal holds ${this.count}.`);
    const peaks: Buffer[] = [];
    let start = 0;
    for (let h = Math.floor(Math.log2(Math.max(size, 1))); h >= 0; h--) {
      const w = 2 ** h;
      if (size - start >= w) {
        peaks.push(this.node(h, start / w));
        start += w;
      }
    }
    return rootFromPeaks(peaks);
  }

  leafHash(index: number): Buffer {
    return leafHash(this.readFrame(index).bytes);
  }

  /** RFC 6962 audit path of record `index` in the tree of `size` (the latest checkpoint's unless given). */
  inclusionProof(index: number, size = this.latest?.size ?? this.count): Buffer[] {
    if (!(index >= 0 && index < size && size <= this.count)) throw new JournalError('out_of_range', `Record #${index} is not in a tree of size ${size} (the journal holds ${this.count}).`);
    return inclusionProof(index, size, (h, i) => this.node(h, i));
  }

  /** RFC 6962 proof that the tree of size `from` is a prefix of the tree of size `to`. */
  consistencyProof(from: number, to: number): Buffer[] {
    if (!(from > 0 && from <= to && to <= this.count)) throw new JournalError('out_of_range', `No consistency proof from size ${from} to ${to} (the journal holds ${this.count}).`);
    return consistencyProof(from, to, (h, i) => this.node(h, i));
  }

  /** The perfect subtree of height h starting at leaf i·2^h, from what is stored or rehashed. */
  private node(h: number, i: number): Buffer {
    const start = i * 2 ** h;
    if (h > SEGMENT_BITS) {
      const key = `${h}/${i}`;
      let n = this.upperNodes.get(key);
      if (!n) {
        n = nodeHash(this.node(h - 1, 2 * i), this.node(h - 1, 2 * i + 1));
        this.upperNodes.set(key, n);
      }
      return n;
    }
    const seg = Math.floor(start / SEGMENT_RECORDS);
    const local = (start - seg * SEGMENT_RECORDS) / 2 ** h;
    if (seg >= this.sealed.length) return this.active.node(h, local);
    const s = this.sealed[seg]!;
    if (h === SEGMENT_BITS) return s.summary.root!;
    if (h >= STORED_MIN_HEIGHT) return s.node(h, local);
    if (h === 0) return leafHash(this.readFrame(start).bytes);
    return nodeHash(this.node(h - 1, 2 * i), this.node(h - 1, 2 * i + 1));
  }

  /** Checks a record's proof against a root here: a self-test for exports. */
  proves(index: number, size: number, proof: readonly Buffer[]): boolean {
    return verifyInclusion(index, size, this.leafHash(index), proof, this.rootAt(size));
  }

  // ---- lifecycle ----

  /** Appends the "closed" record, syncs, signs a last checkpoint and releases the folder. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    try {
      this.append([{ kind: 'journal', body: { step: 'closed' } }]);
      await this.checkpoint();
    } finally {
      await this.release();
    }
  }

  /** Closes every file and releases the folder, whatever state the journal is in. */
  private async release(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    try {
      await this.syncing?.catch(() => undefined);
      await this.checkpointChain.catch(() => undefined);
      if (this.activeFd >= 0) closeSync(this.activeFd);
      this.activeFd = -1;
      this.cpLog?.close();
      this.files.closeAll();
    } finally {
      this.unlock();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new JournalError('journal_closed', 'The journal is closed; the cockpit is shutting down.');
  }

  /** Reads segments and checkpoints, repairs a cut tail, and checks what a crash could have broken. */
  private load(): void {
    const segDir = paths(this.dir).segments;
    const bySeg = new Map<number, { rec: boolean; idx: boolean }>();
    for (const name of readdirSync(segDir)) {
      const m = SEGMENT_FILE.exec(name);
      if (!m) continue;
      const first = Number(m[1]);
      const e = bySeg.get(first) ?? { rec: false, idx: false };
      e[m[2] as 'rec' | 'idx'] = true;
      bySeg.set(first, e);
    }
    const firsts = [...bySeg.keys()].sort((a, b) => a - b);
    firsts.forEach((first, k) => {
      if (first !== k * SEGMENT_RECORDS || !bySeg.get(first)!.rec) {
        throw new JournalError('journal_damaged', `Journal segment ${k} (${segmentName(k * SEGMENT_RECORDS)}.rec) is missing from ${segDir}: records were deleted; run cordon-verify journal on this folder.`);
      }
    });
    let prevHash: Buffer = GENESIS_HASH;
    for (let k = 0; k < firsts.length; k++) {
      const first = firsts[k]!;
      const name = segmentName(first);
      const recPath = join(segDir, `${name}.rec`);
      const idxPath = join(segDir, `${name}.idx`);
      const isLast = k === firsts.length - 1;
      if (bySeg.get(first)!.idx) {
        const s = this.loadSealed(idxPath, recPath, prevHash);
        this.addSealed(s);
        prevHash = s.summary.lastHash;
        this.count = first + SEGMENT_RECORDS;
        if (isLast) this.startSegment(this.count, prevHash);
        continue;
      }
      const active = this.scanSegment(recPath, first, prevHash, isLast);
      if (!isLast && !active.full) {
        throw new JournalError('journal_damaged', `Journal segment ${name} holds ${active.count} records where ${SEGMENT_RECORDS} were written: records were deleted; run cordon-verify journal on this folder.`);
      }
      this.count = first + active.count;
      prevHash = active.lastHash;
      if (active.full) {
        // A crash between a full segment's last write and its index: finish the seal now.
        active.seal(idxPath);
        this.addSealed(SealedSegment.load(idxPath, recPath, this.files, this.columns));
        if (isLast) this.startSegment(this.count, prevHash);
      } else {
        this.activePath = recPath;
        this.startSegment(first, prevHash, active);
      }
    }
    if (firsts.length === 0) this.startSegment(0, GENESIS_HASH);
    this.durable = this.count;

    const cpPath = paths(this.dir).checkpoints;
    const cps = readCheckpointFile(cpPath);
    if (cps.cut) {
      const keptAt = keepCutBytes(cpPath, readFileSync(cpPath).subarray(cps.cut.offset));
      this.recovered.push({
        code: 'checkpoint_line_cut', file: cpPath, offset: cps.cut.offset, bytes: cps.cut.bytes, afterIndex: this.count - 1, keptAt,
        message: `The last checkpoint line was cut short by a crash (${cps.cut.bytes} bytes at offset ${cps.cut.offset}); it was removed and kept in ${keptAt}. A new checkpoint is signed now.`,
      });
    }
    this.cpLog = new CheckpointLog(cpPath, cps.cut?.offset);
    for (const cp of cps.checkpoints) {
      if (cp.origin !== this.origin) throw new JournalError('journal_damaged', `A checkpoint in ${cpPath} names the journal "${cp.origin}", not this one ("${this.origin}").`);
    }
    this.latest = cps.checkpoints[cps.checkpoints.length - 1];
    if (this.latest) {
      if (this.latest.size > this.count) {
        throw new JournalError('journal_damaged', `The last signed checkpoint covers ${this.latest.size} records but only ${this.count} are here: signed records were removed; run cordon-verify journal on this folder.`);
      }
      if (!this.rootAt(this.latest.size).equals(this.latest.root)) {
        throw new JournalError('journal_damaged', `The records no longer match the last signed checkpoint (size ${this.latest.size}): the journal was altered; run cordon-verify journal on this folder.`);
      }
    }
    this.embeddedKeys = readKeys(this.dir);
    for (const n of this.recovered) this.note(`journal: ${n.message}`);
  }

  private loadSealed(idxPath: string, recPath: string, prevHash: Buffer): SealedSegment {
    let s: SealedSegment;
    try {
      s = SealedSegment.load(idxPath, recPath, this.files, this.columns);
    } catch (err) {
      throw new JournalError('journal_damaged', `The index ${idxPath} is unreadable (${err instanceof Error ? err.message : String(err)}): delete it to have it rebuilt from its segment.`, { cause: err });
    }
    let size: number;
    try {
      size = fstatSync(this.files.fd(recPath)).size;
    } catch (err) {
      throw new JournalError('journal_damaged', `Cannot read ${recPath} (${systemCode(err)}).`, { cause: err });
    }
    if (size !== s.summary.recBytes) {
      throw new JournalError('journal_damaged', `${recPath} is ${size} bytes but was sealed at ${s.summary.recBytes}: a full segment was altered; run cordon-verify journal on this folder.`);
    }
    // The first record must chain from the previous segment's last: catches a segment swapped in whole.
    const head = this.files.read(recPath, 0, 4);
    const first = splitFrame(this.files.read(recPath, 0, FRAME_OVERHEAD + head.readUInt32LE(0)));
    if (!chainHash(prevHash, first.bytes).equals(first.hash)) {
      throw new JournalError('journal_damaged', `Record #${s.summary.first} does not chain from the record before it: segments were swapped or altered; run cordon-verify journal on this folder.`);
    }
    return s;
  }

  /** Reads a segment being written (or left unsealed by a crash) into an index, checking every record's hash. */
  private scanSegment(recPath: string, first: number, prevHash: Buffer, isLast: boolean): ActiveIndex {
    const buf = readFileSync(recPath);
    const a = new ActiveIndex(first, prevHash);
    const keys = new KeyList();
    let prev = prevHash;
    let bad: { offset: number; why: string } | undefined;
    const stop = scanFrames(buf, (f) => {
      const index = first + a.count;
      if (a.full) {
        bad = { offset: f.offset, why: `more than ${SEGMENT_RECORDS} records` };
        return false;
      }
      if (!chainHash(prev, f.bytes).equals(f.hash)) {
        bad = { offset: f.offset, why: `record #${index} does not match its hash` };
        return false;
      }
      let rec: JournalRecord;
      try {
        rec = decodeRecord(f.bytes);
      } catch (err) {
        bad = { offset: f.offset, why: `record #${index} cannot be read (${err instanceof Error ? err.message : String(err)})` };
        return false;
      }
      if (rec.index !== index) {
        bad = { offset: f.offset, why: `the record at position #${index} says it is #${rec.index}` };
        return false;
      }
      const end = f.offset + FRAME_OVERHEAD + f.bytes.length;
      keys.length = 0;
      a.add(rec.time, f.offset, end, kindCode(rec.kind), severityCode(rec.severity), recordKeys(rec, keys), frameLeafHash(buf, f.offset, f.bytes.length), Buffer.from(f.hash));
      prev = a.lastHash;
    });
    let cutAt: number | undefined;
    let reason = '';
    if (bad) {
      // Only the very last frame of the last segment may be a crash's leftover; anything earlier is an alteration.
      const frameLen = buf.length - bad.offset >= 4 ? FRAME_OVERHEAD + buf.readUInt32LE(bad.offset) : 0;
      if (!isLast || bad.offset + frameLen !== buf.length) {
        throw new JournalError('journal_damaged', `${recPath}: ${bad.why}, and records follow it: the journal was altered; run cordon-verify journal on this folder.`);
      }
      cutAt = bad.offset;
      reason = `its last record was damaged (${bad.why})`;
    } else if (stop.kind !== 'end') {
      const rest = buf.subarray(stop.offset);
      if (!isLast || (stop.kind === 'garbled' && rest.some((b) => b !== 0))) {
        throw new JournalError('journal_damaged', `${recPath} holds ${stop.bytes} bytes at offset ${stop.offset} that are not a record: the journal was altered; run cordon-verify journal on this folder.`);
      }
      cutAt = stop.offset;
      reason = stop.kind === 'cut' ? 'a crash cut its last record short' : 'a crash left zeroed bytes after its last record';
    }
    if (cutAt !== undefined) {
      const bytes = buf.length - cutAt;
      const keptAt = keepCutBytes(recPath, buf.subarray(cutAt));
      const fd = openSync(recPath, 'r+');
      try {
        ftruncateSync(fd, cutAt);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      const afterIndex = first + a.count - 1;
      this.recovered.push({
        code: 'torn_tail_cut', file: recPath, offset: cutAt, bytes, afterIndex, keptAt,
        message: `The journal was not closed cleanly: ${reason}. ${bytes} unfinished bytes after record #${afterIndex} were cut (kept in ${keptAt}); every record up to #${afterIndex} is intact.`,
      });
    }
    return a;
  }

  /** After load: records the opening (and any repair) in the journal, registers the key, signs a checkpoint. */
  private async start(created: boolean): Promise<void> {
    const body: Record<string, unknown> = created
      ? { step: 'created', format: FORMAT, deviceId: this.deviceId, origin: this.origin }
      : { step: 'opened' };
    if (this.recovered.length > 0) body.recovered = this.recovered.map(({ code, message, offset, bytes, afterIndex, keptAt }) => ({ code, message, offset, bytes, afterIndex, keptAt }));
    this.append([{ kind: 'journal', severity: this.recovered.length > 0 ? 'medium' : 'info', body }]);
    const key = describeKey(this.signer.name, this.signer.publicKey);
    if (!this.embeddedKeys.some((k) => k.verifierKey === key.verifierKey)) {
      const { first } = this.append([{ kind: 'journal', body: { step: 'key', ...key, publicKey: this.signer.publicKey.toString('base64') } }]);
      await this.sync();
      this.embeddedKeys.push({ ...key, record: first });
      writeFileDurably(paths(this.dir).keys, `${JSON.stringify({ keys: this.embeddedKeys }, null, 2)}\n`);
    }
    await this.checkpoint();
    const syncMs = this.options.syncMs ?? DEFAULT_SYNC_MS;
    const cpMs = this.options.checkpointMs ?? DEFAULT_CHECKPOINT_MS;
    const background = (what: string, p: Promise<unknown>) => p.catch((err: unknown) => {
      this.lastError = err instanceof JournalError ? err : new JournalError('disk_write_failed', String(err));
      this.note(`journal: ${what} failed: ${this.lastError.message}`);
    });
    this.timers.push(setInterval(() => {
      if (this.durable < this.count && !this.closed) void background('sync', this.sync());
    }, syncMs));
    if (cpMs > 0) {
      this.timers.push(setInterval(() => {
        if (this.count > (this.latest?.size ?? 0) && !this.closed) void background('checkpoint', this.checkpoint());
      }, cpMs));
    }
    for (const t of this.timers) t.unref();
  }
}

function splitFrame(raw: Buffer): { bytes: Buffer; hash: Buffer } {
  return { bytes: raw.subarray(4, raw.length - 32), hash: raw.subarray(raw.length - 32) };
}
