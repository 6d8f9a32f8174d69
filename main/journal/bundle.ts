// Offline sync and evidence slices: export a journal (or the slice about one VM or one time range) as one bundle
// file; verify a bundle on its own; import one into another journal, refusing it whole (naming the first bad record)
// unless every record, checkpoint and signature holds, and merging without duplicating what is already here.
//
// An imported record is appended to this journal as a record of its own kind (so queries find it like any other),
// with its own device's time and an `origin`: that device, the record's index there, its leaf hash there and the
// fingerprint of the key that signed it there. Identity is (origin device, index there); the leaf hash tells a
// duplicate from a conflicting record. The other device's checkpoints and keys are kept in peers.json, and a later
// bundle from it must extend what was imported before: a journal that was rewritten is refused.
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, copyFileSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { readBundle, fullRecordLine, slicedRecordLine, BUNDLE_TYPE, type BundleHeader, type BundleItem } from './bundle-format.ts';
import type { StoredCheckpoint } from './checkpoints.ts';
import { fsyncDir, paths } from './data-dir.ts';
import { JournalError, systemCode } from './errors.ts';
import { GENESIS_HASH } from './frames.ts';
import type { Journal } from './journal.ts';
import { keyFingerprint } from './keys.ts';
import { leafHash, rootFromPeaks, verifyInclusion } from './merkle.ts';
import { openNote, parseCheckpointText, parseNote, parseVerifierKey, type NoteVerifier } from './note.ts';
import { Peers } from './peers.ts';
import type { JournalQuery } from './query.ts';
import { decodeRecord, indexInBytes, type JournalRecord } from './record.ts';
import { ChainChecker } from './verify-segment.ts';
import { checkSignatures, keyReport, mismatchMessage, parseGivenKeys, type VerifyProblem, type VerifyReport } from './verify.ts';

export type SliceFilter = Omit<JournalQuery, 'limit' | 'before'>;

export interface BundleSummary {
  file: string;
  scope: 'full' | 'slice';
  records: number;
  checkpoint: { size: number; root: string };
  bytes: number;
  sha256: string;
  /** The bundle as read back from where it was written. */
  readBack?: VerifyReport;
}

/**
 * Writes the whole journal, or the records matching `slice` with their inclusion proofs, to `file` (through a
 * temporary name, synced, then renamed), after signing a checkpoint that covers them; then reads it back and
 * verifies it unless `readBack` is false (removable media lie).
 */
export async function exportBundle(journal: Journal, file: string, options: { slice?: SliceFilter; readBack?: boolean } = {}): Promise<BundleSummary> {
  const cp = await journal.checkpoint();
  const size = cp.size;
  const scope = options.slice ? 'slice' : 'full';
  const indices = options.slice ? [...journal.scan(options.slice)].map((r) => r.record.index).filter((i) => i < size) : undefined;
  const header: BundleHeader = {
    t: BUNDLE_TYPE, v: 1, scope, device: journal.deviceId, origin: journal.origin, createdAt: new Date().toISOString(),
    records: indices ? indices.length : size, keys: journal.keys(), ...(options.slice ? { filter: options.slice } : {}),
  };
  const tmp = `${file}.partial`;
  let fd: number;
  try {
    mkdirSync(dirname(file), { recursive: true });
    fd = openSync(tmp, 'w', 0o600);
  } catch (err) {
    throw new JournalError('disk_write_failed', `Cannot write the bundle to ${file} (${systemCode(err)}).`, { cause: err });
  }
  const sha = createHash('sha256');
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let written = 0;
  const flush = () => {
    const buf = Buffer.concat(pending, pendingBytes);
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off, buf.length - off);
    sha.update(buf);
    written += buf.length;
    pending = [];
    pendingBytes = 0;
  };
  const put = async (b: Buffer) => {
    pending.push(b);
    pendingBytes += b.length;
    if (pendingBytes >= 4 * 1024 * 1024) {
      flush();
      await yieldToLoop();
    }
  };
  try {
    await put(Buffer.from(`${JSON.stringify(header)}\n`));
    const cps = scope === 'full' ? journal.checkpoints().filter((c) => c.size <= size) : [cp];
    for (const c of cps) await put(Buffer.from(`${JSON.stringify({ t: 'checkpoint', size: c.size, time: c.time, note: c.note })}\n`));
    if (indices) {
      for (const i of indices) await put(slicedRecordLine(i, journal.inclusionProof(i, size), journal.readFrame(i).bytes));
    } else {
      for (const f of journal.frames(0, size)) await put(fullRecordLine(f.hash, f.bytes));
    }
    await put(Buffer.from(`${JSON.stringify({ t: 'end', records: header.records })}\n`));
    flush();
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, file);
    fsyncDir(dirname(file));
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // Already closed.
    }
    rmSync(tmp, { force: true });
    throw err instanceof JournalError ? err : new JournalError('disk_write_failed', `Cannot write the bundle to ${file} (${systemCode(err)}).`, { cause: err });
  }
  const summary: BundleSummary = { file, scope, records: header.records, checkpoint: { size, root: cp.root.toString('base64') }, bytes: written, sha256: sha.digest('hex') };
  if (options.readBack !== false) {
    summary.readBack = await verifyBundle(file, { keys: journal.keys().map((k) => k.verifierKey) });
    if (summary.readBack.status !== 'verified') {
      throw new JournalError('disk_write_failed', `The bundle written to ${file} does not verify when read back (${summary.readBack.problems[0]?.message ?? summary.readBack.status}): write it again, or to another medium.`);
    }
  }
  return summary;
}

/** What checking a bundle found, with what an import needs beyond the report. */
interface BundleCheck {
  report: VerifyReport;
  header?: BundleHeader;
  /** Roots of the bundle's tree at the sizes asked for (full bundles). */
  rootsAt: Map<number, Buffer>;
  /** Verified checkpoints, by size, with the fingerprint of the key that signed each. */
  signedBy: { size: number; fingerprint: string }[];
  latest?: StoredCheckpoint;
  /** The leaf hash of each record, in bundle order, when asked for (imports reuse them instead of rehashing). */
  leaves?: Buffer;
}

/** Verifies a bundle or slice file on its own: chain, tree, checkpoints, signatures, inclusion proofs. */
export async function verifyBundle(path: string, options: { keys?: string[] } = {}): Promise<VerifyReport> {
  return (await checkBundle(path, options.keys ?? [], [])).report;
}

async function checkBundle(path: string, givenKeys: readonly string[], extraSizes: readonly number[], keepLeaves = false): Promise<BundleCheck> {
  const started = performance.now();
  const problems: VerifyProblem[] = [];
  const warnings: string[] = [];
  const report: VerifyReport = {
    what: 'bundle', path, records: 0, status: 'failed', checkpoints: { total: 0, verified: 0 }, signedRecords: 0, keys: [], problems, warnings, tookMs: 0,
  };
  const out: BundleCheck = { report, rootsAt: new Map(), signedBy: [] };
  const fail = (p: VerifyProblem) => {
    problems.push(p);
  };
  try {
    let header: BundleHeader | undefined;
    let verifiers: NoteVerifier[] = [];
    const cps: StoredCheckpoint[] = [];
    let cpsDone = false;
    let checker: ChainChecker | undefined;
    let sliceRoot: Buffer | undefined;
    let sliceSize = 0;
    let lastIndex = -1;
    let recordLines = 0;
    let ended = false;
    const wantSizes = new Set<number>();
    const keyRecords = new Map<number, string>();
    let sinceYield = 0;
    const finishCheckpoints = () => {
      cpsDone = true;
      report.checkpoints.total = cps.length;
      cps.forEach((cp, i) => {
        if (cp.origin !== header!.origin) fail({ code: 'checkpoint_foreign', message: `Checkpoint ${i + 1} names the journal "${cp.origin}", not the bundle's ("${header!.origin}").` });
        if (i > 0 && cp.size < cps[i - 1]!.size) fail({ code: 'checkpoint_shrinks', message: `Checkpoint ${i + 1} (size ${cp.size}) is smaller than the one before it: a journal never shrinks.` });
      });
      const good = checkSignatures(cps, verifiers, report.keys, problems);
      report.checkpoints.verified = good.length;
      for (const cp of good) {
        const signer = openNote(cp.note, verifiers);
        const v = signer.ok ? signer.verifiedBy[0]! : undefined;
        out.signedBy.push({ size: cp.size, fingerprint: v ? keyFingerprint(v.publicKey) : '' });
      }
      out.signedBy.sort((a, b) => a.size - b.size);
      out.latest = cps[cps.length - 1];
      if (out.latest) {
        report.checkpoints.latestSize = out.latest.size;
        report.checkpoints.latestRoot = out.latest.root.toString('base64');
      }
      for (const cp of cps) wantSizes.add(cp.size);
      for (const s of extraSizes) wantSizes.add(s);
    };
    const keep = (at: number, leaf: Buffer): Buffer => {
      if (keepLeaves && out.leaves && at < header!.records) leaf.copy(out.leaves, at * 32);
      return leaf;
    };
    for (const item of readBundle(path)) {
      if (++sinceYield === 65536) {
        sinceYield = 0;
        await yieldToLoop();
      }
      if (!header) {
        header = item as BundleHeader;
        out.header = header;
        // Bounded by the header's count; a lying count only makes the import refuse at the end line.
        if (keepLeaves) out.leaves = Buffer.alloc(32 * Math.max(0, Math.min(header.records, 1 << 27)));
        report.what = header.scope === 'full' ? 'bundle' : 'slice';
        report.origin = header.origin;
        report.deviceId = header.device;
        if (givenKeys.length > 0) {
          verifiers = parseGivenKeys(givenKeys);
          report.keys = verifiers.map((v) => keyReport(v, 'given'));
        } else {
          for (const k of header.keys) {
            const v = typeof k?.verifierKey === 'string' ? parseVerifierKey(k.verifierKey) : undefined;
            if (!v) {
              fail({ code: 'key_malformed', message: `The bundle's header holds a malformed key.` });
              continue;
            }
            verifiers.push(v);
            report.keys.push(keyReport(v, 'embedded'));
            if (Number.isSafeInteger(k.record)) keyRecords.set(k.record, k.verifierKey);
          }
        }
        continue;
      }
      const it = item as BundleItem;
      if (it.type === 'checkpoint') {
        if (cpsDone) {
          fail({ code: 'bundle_malformed', message: `Line ${it.line}: a checkpoint after the records.` });
          break;
        }
        const cp = checkpointOf(it);
        if (typeof cp === 'string') {
          fail({ code: 'checkpoint_malformed', message: `Line ${it.line}: the checkpoint is malformed (${cp}).` });
          break;
        }
        cps.push(cp);
        continue;
      }
      if (!cpsDone) finishCheckpoints();
      if (it.type === 'end') {
        ended = true;
        if (it.records !== recordLines || it.records !== header.records) fail({ code: 'bundle_malformed', message: `The bundle says it holds ${header.records} records (end line: ${it.records}) but ${recordLines} are in it.` });
        continue;
      }
      if (ended) {
        fail({ code: 'bundle_malformed', message: `Line ${it.line}: records after the end line.` });
        break;
      }
      recordLines++;
      if (it.type === 'record') {
        if (header.scope !== 'full') {
          fail({ code: 'bundle_malformed', message: `Line ${it.line}: a full-journal record line in a slice.` });
          break;
        }
        checker ??= new ChainChecker(0, GENESIS_HASH);
        const index = checker.count;
        if (!checker.push(it.bytes, it.hash, () => keep(recordLines - 1, leafHash(it.bytes)))) break;
        if (checker.count > index) {
          if (wantSizes.has(checker.count)) out.rootsAt.set(checker.count, checker.frontier.root());
          if (index === 0) checkCreated(it.bytes, header, fail);
          const vk = keyRecords.get(index);
          if (vk !== undefined) checkKeyRecord(it.bytes, index, vk, fail);
        }
      } else {
        if (header.scope !== 'slice') {
          fail({ code: 'bundle_malformed', message: `Line ${it.line}: a proved record line in a full bundle.` });
          break;
        }
        if (!sliceRoot) {
          const last = cps[cps.length - 1];
          if (!last || !out.signedBy.some((s) => s.size === last.size)) {
            fail({ code: 'slice_unsigned', message: 'The slice\'s checkpoint is missing or not validly signed: its proofs lead nowhere trusted.' });
            break;
          }
          sliceRoot = last.root;
          sliceSize = last.size;
        }
        if (it.index <= lastIndex) {
          fail({ code: 'record_misplaced', index: it.index, message: `Record #${it.index} comes after #${lastIndex}: a slice lists records in ascending order, once each.` });
          break;
        }
        lastIndex = it.index;
        if (indexInBytes(it.bytes) !== it.index) {
          fail({ code: 'record_altered', index: it.index, message: `Record #${it.index}'s bytes name another index: the record was altered.` });
          break;
        }
        if (!verifyInclusion(it.index, sliceSize, keep(recordLines - 1, leafHash(it.bytes)), it.proof, sliceRoot)) {
          fail({ code: 'record_altered', index: it.index, message: `Record #${it.index} is not proved by the signed checkpoint (size ${sliceSize}): the record or its proof was altered.` });
          break;
        }
        report.records++;
      }
    }
    if (!header) throw new JournalError('bad_bundle', `${path} is not a journal bundle.`);
    if (!cpsDone) finishCheckpoints();
    if (checker) {
      const p = checker.finish();
      if (p && !problems.some((x) => x.index === p.index)) problems.unshift({ code: p.code, message: p.message, index: p.index });
      report.records = checker.count;
    }
    if (!ended && problems.length === 0) fail({ code: 'bundle_cut', message: 'The bundle has no end line: it was cut short (an interrupted copy?).' });
    if (header.scope === 'full') {
      cps.forEach((cp, i) => {
        const root = out.rootsAt.get(cp.size) ?? (cp.size === 0 ? rootFromPeaks([]) : undefined);
        if (cp.size > report.records) {
          if (!problems.some((p) => p.index !== undefined)) fail({ code: 'records_missing', index: report.records, message: `Checkpoint ${i + 1} covers ${cp.size} records but the bundle holds ${report.records}: signed records were removed.` });
        } else if (root && !root.equals(cp.root)) {
          fail({ code: 'checkpoint_mismatch', message: mismatchMessage(cps, i, out.rootsAt) });
        }
      });
      for (const s of out.signedBy) if (s.size <= report.records && out.rootsAt.get(s.size)?.equals(cps.find((c) => c.size === s.size)!.root)) report.signedRecords = Math.max(report.signedRecords, s.size);
    } else if (problems.length === 0) {
      report.signedRecords = report.records;
    }
  } catch (err) {
    if (!(err instanceof JournalError)) throw err;
    problems.push({ code: err.code, message: err.message });
  }
  report.status = problems.length > 0 ? 'failed' : report.signedRecords < report.records ? 'unsigned_tail' : 'verified';
  report.tookMs = performance.now() - started;
  return out;
}

function checkpointOf(it: Extract<BundleItem, { type: 'checkpoint' }>): StoredCheckpoint | string {
  const note = parseNote(it.note);
  if ('error' in note) return note.error;
  const body = parseCheckpointText(note.text);
  if ('error' in body) return body.error;
  if (body.size !== it.size) return `it says size ${it.size} but its signed text says ${body.size}`;
  return { size: body.size, time: it.time, note: it.note, origin: body.origin, root: body.root };
}

function checkCreated(bytes: Buffer, header: BundleHeader, fail: (p: VerifyProblem) => void): void {
  const r = safeDecode(bytes);
  const body = r?.body as { step?: string; deviceId?: string } | undefined;
  if (!r || r.kind !== 'journal' || body?.step !== 'created' || body.deviceId !== header.device) {
    fail({ code: 'bundle_foreign', index: 0, message: `Record #0 does not create the journal of device ${header.device} that the header names: the header was altered.` });
  }
}

function checkKeyRecord(bytes: Buffer, index: number, verifierKey: string, fail: (p: VerifyProblem) => void): void {
  const body = safeDecode(bytes)?.body as { step?: string; verifierKey?: string } | undefined;
  if (body?.step !== 'key' || body.verifierKey !== verifierKey) {
    fail({ code: 'key_unrecorded', index, message: `Record #${index} does not introduce the key the bundle's header says it does: the header was altered.` });
  }
}

function safeDecode(bytes: Buffer): JournalRecord | undefined {
  try {
    return decodeRecord(bytes);
  } catch {
    return undefined;
  }
}

export interface ImportReport {
  device: string;
  origin: string;
  scope: 'full' | 'slice';
  /** Records in the bundle. */
  records: number;
  /** Records appended to this journal. */
  added: number;
  /** Records this journal already held (its own, or imported before). */
  alreadyHere: number;
  /** Fingerprints of the keys whose signatures the bundle's records carry. */
  keys: string[];
  checkpoint?: { size: number; root: string };
  /** The `journal` record (step "imported") that records this import here. */
  record: number;
  tookMs: number;
}

/**
 * Imports a bundle or slice file: verifies everything first (a bundle with one bad record is refused whole, with
 * a `bundle_refused` error naming it), then appends what this journal does not hold yet, with its provenance.
 * `trustedKeys` (verifier keys) restricts whose signatures are accepted; without it, any validly signed bundle is
 * accepted and the signing key's fingerprint is kept on each record.
 */
export async function importBundle(journal: Journal, file: string, options: { trustedKeys?: string[] } = {}): Promise<ImportReport> {
  const started = performance.now();
  // Work on a private copy: what was verified is exactly what is merged, whatever happens to the original.
  const staging = join(paths(journal.dir).imports, `${randomUUID()}.bundle`);
  try {
    mkdirSync(dirname(staging), { recursive: true });
    copyFileSync(file, staging);
  } catch (err) {
    throw new JournalError('bad_bundle', `Cannot read the bundle ${file} (${systemCode(err)}).`, { cause: err });
  }
  try {
    const peers = Peers.load(journal.dir);
    peers.catchUp(journal);
    const reader = readBundle(staging);
    const headerOnly = reader.next().value as BundleHeader | undefined;
    // Only the header was wanted: return() runs the generator's finally, which closes the file.
    reader.return(undefined);
    const known = headerOnly ? peers.device(headerOnly.device) : undefined;
    const extraSizes = known ? known.checkpoints.map((c) => c.size) : [];
    const check = await checkBundle(staging, options.trustedKeys ?? [], extraSizes, true);
    const { report, header } = check;
    if (!header || report.status !== 'verified') {
      const first = report.problems[0];
      const why = first?.message ?? `${report.records - report.signedRecords} record(s) are not covered by a signed checkpoint`;
      throw new JournalError('bundle_refused', `The bundle ${file} was refused, nothing was imported: ${why}`);
    }
    const self = header.device === journal.deviceId;
    const dev = self ? undefined : peers.ensure(header.device, header.origin);
    if (dev && !dev.origin) dev.origin = header.origin;
    // A later bundle must extend what was imported from the same device before.
    let provenUpTo = 0;
    if (dev && header.scope === 'full') {
      for (const c of dev.checkpoints) {
        const root = check.rootsAt.get(c.size);
        if (!root) continue;
        if (root.toString('base64') !== c.root) {
          throw new JournalError('bundle_refused', `The bundle ${file} was refused, nothing was imported: device ${header.device}'s journal no longer matches the checkpoint of size ${c.size} imported before; it was rewritten.`);
        }
        provenUpTo = Math.max(provenUpTo, c.size);
      }
    }

    const leafOf = (at: number) => check.leaves!.subarray(at * 32, at * 32 + 32).toString('hex');
    // Plan (no writes yet): which records are new, and does everything already here agree with the bundle?
    const add = new Uint8Array(header.records);
    let position = 0;
    let alreadyHere = 0;
    const seenInner = new Set<string>();
    for (const item of readBundle(staging)) {
      const it = item as BundleItem | BundleHeader;
      if (!('type' in it) || (it.type !== 'record' && it.type !== 'proved')) continue;
      const index = it.type === 'record' ? position : it.index;
      const at = position++;
      const id = identityOf(it.bytes, header.device, index);
      const leafHex = id.inner ? id.leaf : leafOf(at);
      if (id.device === journal.deviceId) {
        if (!(id.record < journal.size && journal.leafHash(id.record).toString('hex') === leafHex)) {
          throw new JournalError('bundle_refused', `The bundle ${file} was refused, nothing was imported: record #${index} claims to be record #${id.record} of this journal but differs from it.`);
        }
        alreadyHere++;
        continue;
      }
      const local = peers.localIndex(id.device, id.record);
      if (local >= 0) {
        if (id.inner || index >= provenUpTo) {
          const mine = journal.get(local).record.origin;
          if (!mine || mine.leaf !== leafHex) {
            throw new JournalError('bundle_refused', `The bundle ${file} was refused, nothing was imported: record #${index} differs from record #${id.record} of device ${id.device} imported before (here #${local}); that journal was forked or altered.`);
          }
        }
        alreadyHere++;
        continue;
      }
      if (id.inner) {
        const key = `${id.device}/${id.record}`;
        if (seenInner.has(key)) {
          alreadyHere++;
          continue;
        }
        seenInner.add(key);
      }
      add[at] = 1;
    }

    // Merge. Mark the import pending first: if it is interrupted, the next one finds what it appended.
    peers.save(journal.dir, journal.size, journal.size);
    // The key of the first verified checkpoint covering a record signed it; records come in ascending index.
    let signer = 0;
    const keyAt = (index: number) => {
      while (signer < check.signedBy.length && check.signedBy[signer]!.size <= index) signer++;
      return check.signedBy[signer]?.fingerprint ?? '';
    };
    let added = 0;
    let batch: Omit<JournalRecord, 'index'>[] = [];
    let batchIds: { device: string; origin: string; record: number }[] = [];
    const flush = () => {
      if (batch.length === 0) return;
      const { first } = journal.appendForeign(batch);
      batchIds.forEach((b, k) => peers.add(b.device, b.origin, b.record, first + k));
      added += batch.length;
      batch = [];
      batchIds = [];
    };
    position = 0;
    for (const item of readBundle(staging)) {
      const it = item as BundleItem | BundleHeader;
      if (!('type' in it) || (it.type !== 'record' && it.type !== 'proved')) continue;
      const index = it.type === 'record' ? position : it.index;
      const at = position++;
      if (!add[at]) continue;
      const rec = decodeRecord(it.bytes);
      const { index: _theirs, origin: inner, via: _via, ...rest } = rec;
      const foreign: Omit<JournalRecord, 'index'> = inner
        ? { ...rest, origin: inner, via: { device: header.device, record: index } }
        : { ...rest, origin: { device: header.device, key: keyAt(index), leaf: leafOf(at), record: index } };
      batch.push(foreign);
      batchIds.push({ device: foreign.origin!.device, origin: inner ? '' : header.origin, record: foreign.origin!.record });
      if (batch.length >= 10_000) {
        flush();
        await yieldToLoop();
      }
    }
    flush();

    const latest = check.latest;
    const keys = [...new Set(check.signedBy.map((s) => s.fingerprint))];
    const imported = await journal.appendDurable({
      kind: 'journal', severity: 'info',
      body: {
        step: 'imported', from: { device: header.device, origin: header.origin }, scope: header.scope, records: header.records, added, alreadyHere, keys,
        ...(latest ? { checkpoint: { size: latest.size, root: latest.root.toString('base64') } } : {}),
        ...(header.filter ? { filter: header.filter as Record<string, unknown> } : {}),
      },
    });
    if (dev && latest) {
      if (!dev.checkpoints.some((c) => c.size === latest.size)) dev.checkpoints.push({ size: latest.size, root: latest.root.toString('base64'), note: latest.note });
      for (const k of header.keys) if (k.verifierKey && !dev.keys.includes(k.verifierKey)) dev.keys.push(k.verifierKey);
    }
    peers.save(journal.dir, journal.size);
    await journal.checkpoint();
    return {
      device: header.device, origin: header.origin, scope: header.scope, records: header.records, added, alreadyHere, keys,
      ...(latest ? { checkpoint: { size: latest.size, root: latest.root.toString('base64') } } : {}),
      record: imported.index, tookMs: performance.now() - started,
    };
  } finally {
    rmSync(staging, { force: true });
  }
}

const INDEX_MARK = Buffer.from(',"index":');
const ORIGIN_MARK = Buffer.from(',"origin":{');

/** Who first wrote a record: its inner origin if it was imported into the bundle's journal, else that journal. */
function identityOf(bytes: Buffer, device: string, index: number): { device: string; record: number; leaf: string; inner: boolean } {
  const at = bytes.lastIndexOf(INDEX_MARK);
  // Members after "index" are top-level only, so an "origin" found after it is the record's own.
  if (at >= 0 && bytes.indexOf(ORIGIN_MARK, at) >= 0) {
    const o = decodeRecord(bytes).origin;
    if (o) return { device: o.device, record: o.record, leaf: o.leaf, inner: true };
  }
  return { device, record: index, leaf: '', inner: false };
}

/** Size of a file, for reports. */
export function fileBytes(path: string): number {
  return statSync(path).size;
}
