// The journal's folder: where each file lives, the manifest naming the device, the lock that keeps a second
// cockpit from writing the same journal, the embedded public keys, and durable small-file writes.
//
//   journal.json        {format, deviceId, origin, createdAt}
//   journal.lock        the pid of the process writing it
//   segments/seg-<first index, 16 digits>.rec   frames (frames.ts); .idx once full (segment-index.ts)
//   checkpoints.jsonl   one signed checkpoint per line (checkpoints.ts)
//   keys.json           the public keys that signed checkpoints here, each with the record that introduced it
//   peers.json          what was imported from which device (bundle.ts)
//   imports/            private copies of bundles while they are imported
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JournalError, systemCode } from './errors.ts';

export const FORMAT = 'cordon.journal.v1';
export const SEGMENT_DIR = 'segments';

export interface Manifest {
  format: typeof FORMAT;
  deviceId: string;
  origin: string;
  createdAt: string;
}

export interface EmbeddedKey {
  name: string;
  verifierKey: string;
  fingerprint: string;
  /** Index of the `journal` record (step "key") that put this key in the chain. */
  record: number;
}

export const paths = (dir: string) => ({
  manifest: join(dir, 'journal.json'),
  lock: join(dir, 'journal.lock'),
  segments: join(dir, SEGMENT_DIR),
  checkpoints: join(dir, 'checkpoints.jsonl'),
  keys: join(dir, 'keys.json'),
  peers: join(dir, 'peers.json'),
  /** Private copies of bundles being imported; whatever is there at open was left by a crash. */
  imports: join(dir, 'imports'),
});

export function segmentName(first: number): string {
  return `seg-${String(first).padStart(16, '0')}`;
}

export const SEGMENT_FILE = /^seg-(\d{16})\.(rec|idx)$/;

/** The manifest, or undefined when the folder has none yet. */
export function readManifest(dir: string): Manifest | undefined {
  let text: string;
  try {
    text = readFileSync(paths(dir).manifest, 'utf8');
  } catch (err) {
    if (systemCode(err) === 'ENOENT') return undefined;
    throw new JournalError('journal_unusable', `Cannot read ${paths(dir).manifest} (${systemCode(err)}).`, { cause: err });
  }
  const m = parseJson(text) as Partial<Manifest> | undefined;
  if (!m || m.format !== FORMAT || typeof m.deviceId !== 'string' || typeof m.origin !== 'string') {
    throw new JournalError('journal_unusable', `${paths(dir).manifest} is not a ${FORMAT} manifest: this folder holds something else.`);
  }
  return m as Manifest;
}

export function readKeys(dir: string): EmbeddedKey[] {
  try {
    const v = parseJson(readFileSync(paths(dir).keys, 'utf8')) as { keys?: EmbeddedKey[] } | undefined;
    return Array.isArray(v?.keys) ? v.keys : [];
  } catch (err) {
    if (systemCode(err) === 'ENOENT') return [];
    throw new JournalError('journal_unusable', `Cannot read ${paths(dir).keys} (${systemCode(err)}).`, { cause: err });
  }
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Replaces a small file so that a crash leaves the old or the new one, never half of one. */
export function writeFileDurably(path: string, text: string | Uint8Array): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeFileSync(fd, text); // loops until every byte is written
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(join(path, '..'));
}

/** A new file's name is only durable once its folder is synced. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the data itself was synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Takes the folder's lock, or says which live process holds it. A lock left by a dead process is taken over. */
export function lock(dir: string): () => void {
  const path = paths(dir).lock;
  mkdirSync(dir, { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () => {
        try {
          unlinkSync(path);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (err) {
      if (systemCode(err) !== 'EEXIST') throw new JournalError('journal_unusable', `Cannot lock ${dir} (${systemCode(err)}): choose a data folder this user can write.`, { cause: err });
      const pid = Number.parseInt(readText(path), 10);
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new JournalError('journal_locked', `The journal in ${dir} is open in another process (pid ${pid}); close that cockpit or use another data folder.`);
      }
      try {
        unlinkSync(path);
      } catch {
        // Raced with another opener; the next attempt decides.
      }
    }
  }
  throw new JournalError('journal_locked', `Cannot take the lock on ${dir}: another process keeps taking it.`);
}

/** A small file's text, or '' when it cannot be read (absent: nothing recorded yet). */
export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return systemCode(err) === 'EPERM';
  }
}
