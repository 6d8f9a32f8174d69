// What this journal holds from other devices' journals, so an import never duplicates a record: per device, runs
// of (their index → our index), the checkpoints of theirs we verified (a later bundle must extend them: a device
// whose journal was rewritten is refused), and the keys that signed them.
//
// peers.json is rewritten before an import appends anything (marking it pending, with our journal's size then) and
// after it; an import that a crash interrupted left records after that mark, which catchUp() reads back before the
// next import. Without a pending import nothing is read.
import { readFileSync } from 'node:fs';
import { paths, parseJson, writeFileDurably } from './data-dir.ts';
import { JournalError, systemCode } from './errors.ts';
import type { Journal } from './journal.ts';

export interface PeerCheckpoint {
  size: number;
  /** Base64 root hash. */
  root: string;
  note: string;
}

export interface PeerDevice {
  origin: string;
  /** Verifier keys ("name+id+base64") that signed what was imported. */
  keys: string[];
  checkpoints: PeerCheckpoint[];
  /** [their first index, count, our first index], sorted by their index. */
  runs: [number, number, number][];
}

interface PeerFile {
  devices: Record<string, PeerDevice>;
  /** Our journal's size when this file was last complete. */
  watermark: number;
  /** Our journal's size when an import began that has not finished (a crash): its records follow this index. */
  pending?: number;
}

const ORIGIN_AFTER_INDEX = Buffer.from(',"origin":{');
const INDEX_MARK = Buffer.from(',"index":');

export class Peers {
  private constructor(private readonly file: PeerFile) {}

  static load(dir: string): Peers {
    let text: string | undefined;
    try {
      text = readFileSync(paths(dir).peers, 'utf8');
    } catch (err) {
      if (systemCode(err) !== 'ENOENT') throw new JournalError('journal_unusable', `Cannot read ${paths(dir).peers} (${systemCode(err)}).`, { cause: err });
    }
    const v = text === undefined ? undefined : (parseJson(text) as PeerFile | undefined);
    if (text !== undefined && (!v || typeof v.devices !== 'object' || !Number.isSafeInteger(v.watermark))) {
      throw new JournalError('journal_unusable', `${paths(dir).peers} is damaged: delete it and re-import the bundles (records already here are recognised by the journal's own records).`);
    }
    const file = v ?? { devices: {}, watermark: 0 };
    // Device ids come from bundles (another machine's word): kept in an object without a prototype, so an id such as
    // "__proto__" or "constructor" is a device like any other, never Object.prototype or Object.
    file.devices = Object.assign(Object.create(null) as Record<string, PeerDevice>, file.devices);
    return new Peers(file);
  }

  device(id: string): PeerDevice | undefined {
    return Object.hasOwn(this.file.devices, id) ? this.file.devices[id] : undefined;
  }

  ensure(id: string, origin: string): PeerDevice {
    return (this.file.devices[id] ??= { origin, keys: [], checkpoints: [], runs: [] });
  }

  /** Our index of their record, or -1. */
  localIndex(device: string, record: number): number {
    const runs = this.file.devices[device]?.runs;
    if (!runs) return -1;
    let lo = 0;
    let hi = runs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [start, count, local] = runs[mid]!;
      if (record < start) hi = mid - 1;
      else if (record >= start + count) lo = mid + 1;
      else return local + (record - start);
    }
    return -1;
  }

  add(device: string, origin: string, record: number, local: number): void {
    const runs = this.ensure(device, origin).runs;
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === record && last[2] + last[1] === local) {
      last[1]++;
      return;
    }
    let at = runs.length;
    while (at > 0 && runs[at - 1]![0] > record) at--;
    runs.splice(at, 0, [record, 1, local]);
  }

  /** Reads back the records an interrupted import appended, if there was one. */
  catchUp(journal: Journal): void {
    const from = this.file.pending;
    if (from === undefined) return;
    for (const { index, bytes } of journal.frames(Math.min(from, journal.size), journal.size)) {
      const at = bytes.lastIndexOf(INDEX_MARK);
      if (at < 0 || bytes.indexOf(ORIGIN_AFTER_INDEX, at) < 0) continue;
      const origin = journal.get(index).record.origin;
      if (origin && this.localIndex(origin.device, origin.record) < 0) this.add(origin.device, '', origin.record, index);
    }
    delete this.file.pending;
  }

  /** Saves the state; `pending` marks an import about to append from our index `pending` on. */
  save(dir: string, watermark: number, pending?: number): void {
    this.file.watermark = watermark;
    if (pending === undefined) delete this.file.pending;
    else this.file.pending = pending;
    writeFileDurably(paths(dir).peers, `${JSON.stringify(this.file)}\n`);
  }
}
