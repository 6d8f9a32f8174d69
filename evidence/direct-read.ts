// Reads a file past this machine's page cache (Linux O_DIRECT), so that an export's read-back or a clearing's check
// sees what the medium holds rather than the copy the kernel still keeps in memory; where that cannot be done it
// reads normally and says so, because a check that silently read memory would be a false assurance.
//
// O_DIRECT wants the buffer's address, the file offset and the length aligned to the device's logical block size
// (512 or 4096). Offsets and lengths are ours to choose (multiples of 4096); Node gives no buffer address, so the
// read lands at an offset inside a slightly larger area found by probing: reads at area offsets 0, 16, 32 … 4080
// until one is not refused with EINVAL. The phase found is remembered per ArrayBuffer. A probe that lands on a
// hole or past the end of the file succeeds whatever the alignment, so a later EINVAL probes again.
//
// "Past the page cache" is past this kernel's cache only: a USB stick's controller, a RAID card or the host under a
// virtual disk may still answer from a cache of its own.
import { constants, promises as fsp, type Stats } from 'node:fs';
import { EvidenceIoError, abortedError, errno } from './io-errors.ts';

export type ReadMethod = 'direct' | 'page-cache';

/** How a file was read: `note` says why when it was not read past the page cache. */
export interface ReadMethodReport {
  method: ReadMethod;
  note?: string;
}

/** File offsets, lengths and buffer addresses are kept aligned to this (the largest logical block size in use). */
export const DIRECT_ALIGNMENT = 4096;
/** Probing steps: ArrayBuffers are at least 16-byte aligned. */
const PROBE_STEP = 16;

/** The buffer-relative phase (byte offset mod 4096) at which O_DIRECT reads into that buffer were accepted. */
const phases = new WeakMap<ArrayBufferLike, number>();

/** True when this platform offers O_DIRECT to Node (Linux). */
export const DIRECT_SUPPORTED = typeof constants.O_DIRECT === 'number' && constants.O_DIRECT !== 0;

/** One open evidence file, read at chosen positions into caller-owned areas. */
export class EvidenceReader {
  private constructor(
    readonly path: string,
    private handle: fsp.FileHandle,
    private direct: boolean,
    private why: string | undefined,
    /** The file's size when it was opened. */
    readonly size: number,
    readonly stats: Stats,
  ) {}

  /**
   * Opens `path` for reading; with `direct`, past the page cache when the file system allows it (else normally,
   * with the reason in `report().note`). Throws `not_found`, `not_regular_file` or `read_failed`.
   */
  static async open(path: string, options: { direct?: boolean } = {}): Promise<EvidenceReader> {
    let handle: fsp.FileHandle | undefined;
    let direct = false;
    let why: string | undefined;
    try {
      if (!options.direct) {
        why = 'Read through the page cache: a direct read was not asked for.';
      } else if (!DIRECT_SUPPORTED) {
        why = `Read through the page cache: this system (${process.platform}) has no O_DIRECT that Node can use, so the bytes may have come from memory rather than the medium.`;
      } else {
        try {
          handle = await fsp.open(path, constants.O_RDONLY | constants.O_DIRECT);
          direct = true;
        } catch (err) {
          if (errno(err) !== 'EINVAL') throw err;
          why = `Read through the page cache: the file system holding ${path} refused O_DIRECT (as ramfs, older tmpfs and some FUSE or network file systems do), so the bytes may have come from memory rather than the medium.`;
        }
      }
      handle ??= await fsp.open(path, constants.O_RDONLY);
      const stats = await handle.stat();
      if (!stats.isFile()) {
        await handle.close();
        throw new EvidenceIoError('not_regular_file', `${path} is not a regular file; only files are read as evidence.`);
      }
      return new EvidenceReader(path, handle, direct, why, stats.size, stats);
    } catch (err) {
      if (err instanceof EvidenceIoError) throw err;
      await handle?.close().catch(() => undefined);
      throw openError(path, err);
    }
  }

  /** The open descriptor, for a reader on another thread (descriptors are the process's). Valid until close(). */
  get fd(): number {
    return this.handle.fd;
  }

  /** How the bytes read so far were read. */
  report(): ReadMethodReport {
    return this.direct ? { method: 'direct' } : { method: 'page-cache', note: this.why! };
  }

  /**
   * Reads up to `length` bytes (a multiple of 4096) at `position` (a multiple of 4096) into `area`, which must be at
   * least `length + 4096` bytes: the bytes land at the returned `offset`, aligned for O_DIRECT. Fewer bytes than
   * `length` means the end of the file.
   */
  async read(area: Uint8Array, length: number, position: number): Promise<{ offset: number; bytes: number }> {
    if (length % DIRECT_ALIGNMENT !== 0 || position % DIRECT_ALIGNMENT !== 0 || area.byteLength < length + DIRECT_ALIGNMENT) {
      throw new RangeError('EvidenceReader.read: length and position must be multiples of 4096 and the area 4096 bytes longer than length.');
    }
    let offset = this.direct ? startFor(area) : 0;
    let filled = 0;
    while (filled < length) {
      // After a short read the next one must start aligned again: re-read the partial block.
      const at = this.direct ? filled - (filled % DIRECT_ALIGNMENT) : filled;
      let n: number;
      try {
        n = (await this.handle.read(area, offset + at, length - at, position + at)).bytesRead;
      } catch (err) {
        if (!this.direct || errno(err) !== 'EINVAL') throw readError(this.path, position + at, err);
        // Refused: this buffer's phase is unknown or was wrong (an earlier probe may have landed on a hole). Probe
        // again with the whole read, so that bytes already read never have to move.
        const found = await this.probe(area, length, position, offset);
        filled = 0;
        if (found === undefined) {
          await this.fallBack(position);
          offset = 0;
          continue;
        }
        offset = found.offset;
        n = found.bytes;
        if (n === 0) break;
        filled = n;
        continue;
      }
      if (n === 0) break;
      if (at + n <= filled) break;
      filled = at + n;
    }
    return { offset, bytes: filled };
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }

  /** Tries every 16-byte phase; remembers the first the kernel accepts. */
  private async probe(area: Uint8Array, length: number, position: number, refused: number): Promise<{ offset: number; bytes: number } | undefined> {
    // Candidates 16-byte aligned within the buffer (its base is), whatever the area's own offset.
    for (let candidate = (PROBE_STEP - (area.byteOffset % PROBE_STEP)) % PROBE_STEP; candidate < DIRECT_ALIGNMENT; candidate += PROBE_STEP) {
      if (candidate === refused) continue;
      try {
        const { bytesRead } = await this.handle.read(area, candidate, length, position);
        phases.set(area.buffer, (area.byteOffset + candidate) % DIRECT_ALIGNMENT);
        return { offset: candidate, bytes: bytesRead };
      } catch (err) {
        if (errno(err) !== 'EINVAL') throw readError(this.path, position, err);
      }
    }
    return undefined;
  }

  /** Every alignment was refused: reopen without O_DIRECT and say from which byte on. */
  private async fallBack(position: number): Promise<void> {
    const old = this.handle;
    try {
      this.handle = await fsp.open(this.path, constants.O_RDONLY);
    } catch (err) {
      throw openError(this.path, err);
    }
    await old.close().catch(() => undefined);
    this.direct = false;
    this.why = `Read through the page cache from byte ${position} on: the kernel refused O_DIRECT reads of ${this.path} at every buffer alignment, so those bytes may have come from memory rather than the medium.`;
  }
}

/** Where O_DIRECT reads into `area` start: the remembered phase of its buffer, or 0 until probed. */
function startFor(area: Uint8Array): number {
  const phase = phases.get(area.buffer);
  if (phase === undefined) return 0;
  return (((phase - area.byteOffset) % DIRECT_ALIGNMENT) + DIRECT_ALIGNMENT) % DIRECT_ALIGNMENT;
}

function openError(path: string, err: unknown): EvidenceIoError {
  const code = errno(err);
  if (code === 'ENOENT') return new EvidenceIoError('not_found', `${path} does not exist.`, { cause: err });
  if (code === 'EISDIR') return new EvidenceIoError('not_regular_file', `${path} is a folder, not a file.`, { cause: err });
  return new EvidenceIoError('read_failed', `${path} could not be opened for reading (${code ?? String(err)}).`, { cause: err });
}

function readError(path: string, position: number, err: unknown): EvidenceIoError {
  return new EvidenceIoError('read_failed', `Reading ${path} failed at byte ${position} (${errno(err) ?? String(err)}): the medium may be failing or was removed.`, { cause: err });
}

export interface ReadThroughOptions {
  direct?: boolean;
  signal?: AbortSignal;
  /** Bytes per read, a multiple of 4096; 4 MiB by default. */
  chunkBytes?: number;
}

/**
 * Reads all of `path` once, start to end, handing each chunk to `onChunk` (the view is reused: copy what you keep),
 * and says how it was read.
 */
export async function readThrough(path: string, options: ReadThroughOptions, onChunk: (chunk: Uint8Array, position: number) => void | Promise<void>): Promise<ReadMethodReport & { size: number }> {
  const chunk = options.chunkBytes ?? 4 * 1024 * 1024;
  if (chunk <= 0 || chunk % DIRECT_ALIGNMENT !== 0) throw new RangeError('readThrough: chunkBytes must be a positive multiple of 4096.');
  if (options.signal?.aborted) throw abortedError(`Reading ${path}`, options.signal.reason);
  const reader = await EvidenceReader.open(path, { direct: options.direct ?? false });
  const area = new Uint8Array(chunk + DIRECT_ALIGNMENT);
  let position = 0;
  try {
    for (;;) {
      if (options.signal?.aborted) throw abortedError(`Reading ${path}`, options.signal.reason);
      const { offset, bytes } = await reader.read(area, chunk, position);
      if (bytes > 0) await onChunk(area.subarray(offset, offset + bytes), position);
      position += bytes;
      if (bytes < chunk) break;
    }
    return { ...reader.report(), size: position };
  } finally {
    await reader.close();
  }
}
