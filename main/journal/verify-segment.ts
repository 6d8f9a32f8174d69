// Verifies one segment file on its own, so a journal's segments can be checked in parallel: each frame carries its
// chain hash, so segment k needs only the stored last hash of segment k-1 to check its first record, and the
// segment's subtree (or its peaks, at any size inside it) is all the whole tree's roots need from it.
import { readFileSync } from 'node:fs';
import { chainHash, frameLeafHash, scanFrames, type FrameStop } from './frames.ts';
import { MerkleFrontier } from './merkle.ts';
import { indexInBytes } from './record.ts';

export interface SegmentTask {
  path: string;
  first: number;
  /** Chain hash before this segment's first record, hex. */
  prevHash: string;
  /** Sizes (relative to `first`, 1..count) at which the caller needs this segment's peaks. */
  peaksAt: number[];
  /** Indices whose canonical bytes the caller wants back (the records that introduced keys). */
  want: number[];
}

export interface SegmentProblem {
  code: 'record_altered' | 'record_missing' | 'records_swapped' | 'record_misplaced' | 'segment_garbled';
  index: number;
  message: string;
}

export interface SegmentResult {
  path: string;
  first: number;
  count: number;
  /** Chain hash of the last record as stored, hex. */
  lastHash: string;
  /** Peaks (hex) and heights at each size asked, biggest first. */
  peaks: Record<number, { hashes: string[]; heights: number[] }>;
  wanted: Record<number, string>;
  problem?: SegmentProblem;
  /** A last frame cut short (a crash or a live writer), at the end of the file. */
  cut?: { offset: number; bytes: number };
}

/**
 * Checks records in journal order: each one's index, and its chain hash against the one before. Stops at the first
 * problem; a misplaced index is judged with one record of lookahead (an altered record, a deleted one, a swapped
 * pair). Shared by segment and bundle verification.
 */
export class ChainChecker {
  readonly frontier = new MerkleFrontier();
  count = 0;
  problem: SegmentProblem | undefined;
  private prev: Buffer;
  private mismatch: { at: number; found: number } | undefined;

  constructor(readonly first: number, prevHash: Buffer) {
    this.prev = prevHash;
  }

  get lastHash(): Buffer {
    return this.prev;
  }

  /** False once a problem is found (and then for good). `leaf` is the record's RFC 6962 leaf hash. */
  push(bytes: Buffer, stored: Buffer, leaf: () => Buffer): boolean {
    if (this.problem) return false;
    const index = this.first + this.count;
    const said = indexInBytes(bytes);
    if (this.mismatch) {
      const { at, found } = this.mismatch;
      this.problem = said === at + 1
        ? { code: 'record_altered', index: at, message: `Record #${at} does not match its chain hash (its index now reads #${found}): its bytes were altered after it was written.` }
        : said === at && found === at + 1
          ? { code: 'records_swapped', index: at, message: `Records #${at} and #${at + 1} are in each other's place: the journal was reordered.` }
          : found > at && said === found + 1
            ? { code: 'record_missing', index: at, message: `Record #${at} is missing${found > at + 1 ? ` (through #${found - 1})` : ''}: the record in its place is #${found}; records were deleted.` }
            : { code: 'record_misplaced', index: at, message: `The record at position #${at} says it is #${found}: records were moved, duplicated or deleted.` };
      return false;
    }
    if (said !== index) {
      this.mismatch = { at: index, found: said };
      return true;
    }
    if (!chainHash(this.prev, bytes).equals(stored)) {
      this.problem = { code: 'record_altered', index, message: `Record #${index} does not match its chain hash: its bytes were altered after it was written.` };
      return false;
    }
    this.frontier.append(leaf());
    this.count++;
    this.prev = stored;
    return true;
  }

  /** Call after the last record: a misplaced last record has no lookahead. */
  finish(): SegmentProblem | undefined {
    if (this.mismatch && !this.problem) {
      const { at, found } = this.mismatch;
      this.problem = found > at
        ? { code: 'record_missing', index: at, message: `Record #${at} is missing: the record in its place is #${found}; records were deleted.` }
        : { code: 'record_misplaced', index: at, message: `The record at position #${at} says it is #${found}: records were moved, duplicated or deleted.` };
    }
    return this.problem;
  }
}

export function verifySegment(task: SegmentTask): SegmentResult {
  const buf = readFileSync(task.path);
  const peaksAt = new Set(task.peaksAt);
  const want = new Set(task.want);
  const checker = new ChainChecker(task.first, Buffer.from(task.prevHash, 'hex'));
  const result: SegmentResult = { path: task.path, first: task.first, count: 0, lastHash: task.prevHash, peaks: {}, wanted: {} };
  const stop: FrameStop = scanFrames(buf, (f) => {
    const before = checker.count;
    if (!checker.push(f.bytes, f.hash, () => frameLeafHash(buf, f.offset, f.bytes.length))) return false;
    if (checker.count === before) return;
    const f2 = checker.frontier;
    if (peaksAt.has(checker.count)) result.peaks[checker.count] = { hashes: f2.peaks.map((p) => p.toString('hex')), heights: [...f2.heights] };
    const index = task.first + before;
    if (want.has(index)) result.wanted[index] = f.bytes.toString('utf8');
  });
  const problem = checker.finish();
  result.count = checker.count;
  result.lastHash = checker.lastHash.toString('hex');
  if (problem) result.problem = problem;
  else if (stop.kind !== 'end') {
    if (stop.kind === 'cut') result.cut = { offset: stop.offset, bytes: stop.bytes };
    else result.problem = { code: 'segment_garbled', index: task.first + result.count, message: `${stop.bytes} bytes at offset ${stop.offset} of ${task.path} are not a record (after record #${task.first + result.count - 1}).` };
  }
  return result;
}
