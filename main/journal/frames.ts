// The on-disk frame of one record in a segment file, and the scan that finds where a crash cut the last one.
//
// Frame: u32 little-endian length of the canonical bytes | the canonical bytes | the 32-byte chain hash, where
// chain hash = SHA-256(previous record's chain hash || canonical bytes), and the first record's previous hash is 32
// zero bytes. Keeping the hash in the frame lets a reader check each record where it stands, and lets recovery
// tell a record cut short by a crash (always the last one, its frame running past the end of the file) from a
// record altered in place (a complete frame whose hash does not match).
import { hash } from 'node:crypto';
import { HASH_BYTES } from './merkle.ts';
import { MAX_RECORD_BYTES } from './record.ts';

export const FRAME_OVERHEAD = 4 + HASH_BYTES;
export const GENESIS_HASH = Buffer.alloc(HASH_BYTES);

let chainInput = Buffer.alloc(64 * 1024);

/** SHA-256(prev || bytes), without allocating for the usual record size. */
export function chainHash(prev: Uint8Array, bytes: Uint8Array): Buffer {
  const need = HASH_BYTES + bytes.length;
  if (chainInput.length < need) chainInput = Buffer.alloc(Math.max(need, chainInput.length * 2));
  chainInput.set(prev, 0);
  chainInput.set(bytes, HASH_BYTES);
  return hash('sha256', chainInput.subarray(0, need), 'buffer');
}

/**
 * RFC 6962 leaf hash, SHA-256(0x00 || bytes), of the frame at `offset` without copying: the byte before the canonical
 * bytes is the high byte of the little-endian length, which is 0 for every record (they are under 16 MiB).
 */
export function frameLeafHash(buf: Buffer, offset: number, length: number): Buffer {
  return hash('sha256', buf.subarray(offset + 3, offset + 4 + length), 'buffer');
}

/** Writes one frame at `at` in `out`; returns the offset after it. */
export function writeFrame(out: Buffer, at: number, bytes: Uint8Array, chain: Uint8Array): number {
  out.writeUInt32LE(bytes.length, at);
  out.set(bytes, at + 4);
  out.set(chain, at + 4 + bytes.length);
  return at + FRAME_OVERHEAD + bytes.length;
}

export interface Frame {
  /** Offset of the frame in the buffer scanned. */
  offset: number;
  bytes: Buffer;
  hash: Buffer;
}

export type FrameStop =
  | { kind: 'end' }
  /** The last frame runs past the end: a write cut short (a crash), or a partial copy. */
  | { kind: 'cut'; offset: number; bytes: number }
  /** A frame whose length cannot be: the bytes here are not a record. */
  | { kind: 'garbled'; offset: number; bytes: number };

/** Walks the frames of a segment's bytes; `onFrame` returning false stops the walk there. */
export function scanFrames(buf: Buffer, onFrame: (f: Frame) => boolean | void): FrameStop {
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < 4) return { kind: 'cut', offset: at, bytes: buf.length - at };
    const len = buf.readUInt32LE(at);
    if (len === 0 || len > MAX_RECORD_BYTES) return { kind: 'garbled', offset: at, bytes: buf.length - at };
    const end = at + FRAME_OVERHEAD + len;
    if (end > buf.length) return { kind: 'cut', offset: at, bytes: buf.length - at };
    const frame = { offset: at, bytes: buf.subarray(at + 4, at + 4 + len), hash: buf.subarray(at + 4 + len, end) };
    if (onFrame(frame) === false) return { kind: 'end' };
    at = end;
  }
  return { kind: 'end' };
}
