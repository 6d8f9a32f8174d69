// A console session's recording, in asciicast v2 (the asciinema format): a JSON header line, then one JSON array per
// event — [seconds since the start, "o", output] for what the guest printed, "i" for what the responder typed, "r"
// ("COLSxROWS") for a resize. Written as it happens (a crash keeps everything up to the last write), hashed as it is
// written, and described by a sidecar `<id>.json` (who opened it, when, for which VM; its SHA-256 once closed), so the
// journal and the evidence package can name it by hash.
//
// Output is decoded as UTF-8 with a streaming decoder (a character split across two reads is kept whole); bytes that
// are not UTF-8 become U+FFFD in the recording, as any asciicast player would show them.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Actor } from '../../protocol/index.ts';

export interface RecordingMeta {
  recordingId: string;
  agentId: string;
  vmId: string;
  vmName?: string;
  actor: Actor;
  startedAt: string;
  endedAt?: string;
  bytes: number;
  sha256?: string;
  readOnly: boolean;
}

const ID = /^[A-Za-z0-9._:-]{8,128}$/;

export class AsciicastRecorder {
  private readonly fd: number;
  private readonly hash: Hash = createHash('sha256');
  private readonly decoder = new TextDecoder('utf-8');
  private readonly started = performance.now();
  private bytes = 0;
  private closed = false;
  readonly meta: RecordingMeta;

  constructor(private readonly dir: string, meta: Omit<RecordingMeta, 'bytes'>, size: { cols: number; rows: number }) {
    if (!ID.test(meta.recordingId)) throw new Error(`Not a recording id: ${meta.recordingId.slice(0, 64)}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.meta = { ...meta, bytes: 0 };
    this.fd = openSync(this.castPath, 'wx', 0o600);
    const header = {
      version: 2, width: size.cols, height: size.rows, timestamp: Math.floor(Date.parse(meta.startedAt) / 1000),
      title: `${meta.vmName ?? meta.vmId} on ${meta.agentId}, opened by ${meta.actor.name}`.slice(0, 512),
      env: { TERM: 'xterm-256color' },
    };
    this.write(`${JSON.stringify(header)}\n`);
    this.saveMeta();
  }

  get castPath(): string {
    return join(this.dir, `${this.meta.recordingId}.cast`);
  }

  output(bytes: Uint8Array): void {
    const text = this.decoder.decode(bytes, { stream: true });
    if (text !== '') this.event('o', text);
  }

  input(text: string): void {
    this.event('i', text);
  }

  resize(cols: number, rows: number): void {
    this.event('r', `${cols}x${rows}`);
  }

  /** Flushes the decoder, syncs the file, and records its hash and size: what the journal names. */
  close(): RecordingMeta {
    if (this.closed) return this.meta;
    const rest = this.decoder.decode();
    if (rest !== '') this.event('o', rest);
    this.closed = true;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.meta.endedAt = new Date().toISOString();
    this.meta.bytes = this.bytes;
    this.meta.sha256 = this.hash.digest('hex');
    this.saveMeta();
    return this.meta;
  }

  private event(code: 'o' | 'i' | 'r', data: string): void {
    if (this.closed) return;
    const t = Math.round(performance.now() - this.started) / 1000;
    this.write(`${JSON.stringify([t, code, data])}\n`);
  }

  private write(line: string): void {
    const buf = Buffer.from(line, 'utf8');
    writeSync(this.fd, buf);
    this.hash.update(buf);
    this.bytes += buf.byteLength;
  }

  private saveMeta(): void {
    const path = join(this.dir, `${this.meta.recordingId}.json`);
    const fd = openSync(`${path}.tmp`, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(this.meta)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(`${path}.tmp`, path);
  }
}

/** The recordings in a folder, newest first; those of one agent or VM when given. */
export function listRecordings(dir: string, filter: { agentId?: string; vmId?: string } = {}): RecordingMeta[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: RecordingMeta[] = [];
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    try {
      const meta = JSON.parse(readFileSync(join(dir, name), 'utf8')) as RecordingMeta;
      if (typeof meta.recordingId !== 'string' || !ID.test(meta.recordingId)) continue;
      if (filter.agentId !== undefined && meta.agentId !== filter.agentId) continue;
      if (filter.vmId !== undefined && meta.vmId !== filter.vmId) continue;
      out.push(meta);
    } catch {
      // A sidecar half-written by a crash: its recording is still on disk, named by its id.
    }
  }
  return out.sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0));
}

/** One recording's text; the id is checked, so it cannot name a path outside the folder. */
export function readRecording(dir: string, recordingId: string): string {
  if (!ID.test(recordingId)) throw new Error('Not a recording id.');
  return readFileSync(join(dir, `${recordingId}.cast`), 'utf8');
}
