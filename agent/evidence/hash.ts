// Hashes of captured evidence: SHA-256 (the evidentiary hash) and SHA-1 (asked for by older custody forms), both
// fed from the same bytes in one streaming pass (for a file on disk, on two threads: evidence/dual-hash.ts), so a
// multi-gigabyte memory dump is read once and never held in memory. Shared by every driver's seize (sim writes synthetic files, qemu hashes QEMU's dumps and disk copies).
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, fsyncSync, openSync, closeSync } from 'node:fs';
import { once } from 'node:events';
import { hashFileDual } from '../../evidence/dual-hash.ts';

export interface FileDigest {
  /** Bytes hashed. */
  size: number;
  /** Lower-case hex. */
  sha256: string;
  /** Lower-case hex. */
  sha1: string;
}

/** Both digests over one stream of chunks: update() with each chunk once, digest() at the end. */
export class EvidenceHash {
  private readonly s256: Hash = createHash('sha256');
  private readonly s1: Hash = createHash('sha1');
  private size = 0;

  update(chunk: Uint8Array): void {
    this.s256.update(chunk);
    this.s1.update(chunk);
    this.size += chunk.byteLength;
  }

  digest(): FileDigest {
    return { size: this.size, sha256: this.s256.digest('hex'), sha1: this.s1.digest('hex') };
  }
}

export interface HashOptions {
  signal?: AbortSignal;
  /** Called with the running byte count, after each chunk (for progress). */
  onBytes?: (bytes: number) => void;
  /** Read size; 1 MiB by default. */
  chunkBytes?: number;
}

/**
 * Reads `path` once, start to end, and returns its size, SHA-256 and SHA-1: the two digests computed in parallel on
 * two threads over the one read (evidence/dual-hash.ts), so a memory image costs one hash's time.
 */
export async function hashFile(path: string, options: HashOptions = {}): Promise<FileDigest> {
  const d = await hashFileDual(path, { ...(options.signal ? { signal: options.signal } : {}), ...(options.onBytes ? { onBytes: options.onBytes } : {}) });
  return { size: d.size, sha256: d.sha256, sha1: d.sha1 };
}

/**
 * Copies `source` to `target` (which must not exist) reading the source once: each chunk is hashed and written, so
 * the digest is of exactly the bytes the copy holds. The copy is fsynced before this resolves. For a disk image
 * copied while the VM is frozen.
 */
export async function copyAndHash(source: string, target: string, options: HashOptions = {}): Promise<FileDigest> {
  const hash = new EvidenceHash();
  const input = createReadStream(source, { highWaterMark: options.chunkBytes ?? 1024 * 1024, signal: options.signal });
  const output = createWriteStream(target, { flags: 'wx', mode: 0o600 });
  let bytes = 0;
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.byteLength;
      if (!output.write(chunk)) await once(output, 'drain');
      options.onBytes?.(bytes);
    }
    output.end();
    await once(output, 'finish');
  } finally {
    output.destroy();
  }
  syncFile(target);
  return hash.digest();
}

/** Writes `chunks` to a new file `target`, hashing the same bytes as they go; fsynced before it resolves. */
export async function writeAndHash(target: string, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options: HashOptions = {}): Promise<FileDigest> {
  const hash = new EvidenceHash();
  const output = createWriteStream(target, { flags: 'wx', mode: 0o600 });
  let bytes = 0;
  try {
    for await (const chunk of chunks) {
      options.signal?.throwIfAborted();
      hash.update(chunk);
      bytes += chunk.byteLength;
      if (!output.write(chunk)) await once(output, 'drain');
      options.onBytes?.(bytes);
    }
    output.end();
    await once(output, 'finish');
  } finally {
    output.destroy();
  }
  syncFile(target);
  return hash.digest();
}

/** fsync of a file or a folder: evidence that a power cut could lose is not evidence yet. */
export function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
