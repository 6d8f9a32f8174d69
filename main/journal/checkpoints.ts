// The journal's signed checkpoints on disk: one JSON line each, {size, time, note}, where note is the C2SP signed
// note and time (when it was signed, on this clock) is informational, outside the signature. Appended after the
// records they cover are synced, so a checkpoint never covers a record a power cut could take away.
import { closeSync, fdatasync, fstatSync, ftruncateSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { JournalError, systemCode } from './errors.ts';
import { parseCheckpointText, parseNote } from './note.ts';

const fdatasyncAsync = promisify(fdatasync);

export interface StoredCheckpoint {
  size: number;
  time: number;
  note: string;
  origin: string;
  root: Buffer;
}

export interface CheckpointFile {
  checkpoints: StoredCheckpoint[];
  /** A line cut short by a crash at the end of the file. */
  cut?: { offset: number; bytes: number };
}

/** Parses one stored line; a string says what is wrong with it. */
export function parseCheckpointLine(line: string): StoredCheckpoint | string {
  let v: { size?: unknown; time?: unknown; note?: unknown };
  try {
    v = JSON.parse(line) as typeof v;
  } catch {
    return 'it is not JSON';
  }
  if (typeof v.note !== 'string' || !Number.isSafeInteger(v.size) || typeof v.time !== 'number') return 'it is not {size, time, note}';
  const note = parseNote(v.note);
  if ('error' in note) return `its note is malformed: ${note.error}`;
  const body = parseCheckpointText(note.text);
  if ('error' in body) return `its checkpoint text is malformed: ${body.error}`;
  if (body.size !== v.size) return `it says size ${String(v.size)} but its signed text says ${body.size}`;
  return { size: body.size, time: v.time, note: v.note, origin: body.origin, root: body.root };
}

/** Reads every checkpoint; a torn last line is reported, a bad line elsewhere is an error naming it. */
export function readCheckpointFile(path: string): CheckpointFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (systemCode(err) === 'ENOENT') return { checkpoints: [] };
    throw new JournalError('journal_unusable', `Cannot read ${path} (${systemCode(err)}).`, { cause: err });
  }
  const out: CheckpointFile = { checkpoints: [] };
  let at = 0;
  let lineNo = 0;
  while (at < text.length) {
    const nl = text.indexOf('\n', at);
    lineNo++;
    if (nl < 0) {
      out.cut = { offset: Buffer.byteLength(text.slice(0, at)), bytes: Buffer.byteLength(text.slice(at)) };
      break;
    }
    const parsed = parseCheckpointLine(text.slice(at, nl));
    if (typeof parsed === 'string') {
      throw new JournalError('journal_damaged', `Checkpoint line ${lineNo} of ${path} is damaged (${parsed}): the checkpoints were altered; run cordon-verify journal on this folder.`);
    }
    out.checkpoints.push(parsed);
    at = nl + 1;
  }
  return out;
}

/** Appends checkpoints, each synced before the call resolves. */
export class CheckpointLog {
  private readonly fd: number;

  constructor(path: string, cutAt?: number) {
    try {
      this.fd = openSync(path, 'a+', 0o600);
      if (cutAt !== undefined) ftruncateSync(this.fd, cutAt);
    } catch (err) {
      throw new JournalError('journal_unusable', `Cannot open ${path} (${systemCode(err)}).`, { cause: err });
    }
  }

  async append(cp: { size: number; time: number; note: string }): Promise<void> {
    const line = `${JSON.stringify({ size: cp.size, time: cp.time, note: cp.note })}\n`;
    const before = fstatSync(this.fd).size;
    try {
      writeSync(this.fd, line);
      await fdatasyncAsync(this.fd);
    } catch (err) {
      try {
        ftruncateSync(this.fd, before);
      } catch {
        // The line stays torn; the next open cuts it and says so.
      }
      throw new JournalError('disk_write_failed', `Cannot write a checkpoint (${systemCode(err)}): free disk space; the records are kept and the next checkpoint will cover them.`, { cause: err });
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Saves bytes a recovery is about to cut, next to where they were: nothing a crash left is destroyed unseen. */
export function keepCutBytes(path: string, bytes: Buffer): string {
  const aside = `${path}.cut-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  writeFileSync(aside, bytes, { mode: 0o600 });
  return aside;
}
