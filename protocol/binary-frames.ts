// cordon.v1 binary frames: console bytes and evidence chunks behind a 5-byte header naming the stream.
//
//   offset 0, 1 byte   kind: 0x01 console output (agent → cockpit), 0x02 console input (cockpit → agent),
//                      0x03 evidence chunk (agent → cockpit; see evidence.pull); every other value is refused
//   offset 1, 4 bytes  stream id, unsigned 32-bit big-endian (console.open named it; the cockpit picks odd ids)
//   offset 5, n bytes  payload, raw bytes (n ≥ 0)
//
// Pure (Uint8Array and DataView): the agent, main and the tests share it.
export const FRAME_HEADER_BYTES = 5;
export const FRAME_KIND = { consoleOutput: 0x01, consoleInput: 0x02, evidenceChunk: 0x03 } as const;
export type FrameKind = (typeof FRAME_KIND)[keyof typeof FRAME_KIND];
/** Largest binary frame a peer accepts (header included). */
export const MAX_BINARY_FRAME_BYTES = 1024 * 1024;

export interface BinaryFrame {
  kind: FrameKind;
  stream: number;
  payload: Uint8Array;
}

export function encodeFrame(kind: FrameKind, stream: number, payload: Uint8Array): Uint8Array {
  if (!Number.isInteger(stream) || stream < 1 || stream > 0xffffffff) throw new RangeError(`A stream id is 1 to 2^32-1, not ${stream}.`);
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength);
  out[0] = kind;
  new DataView(out.buffer).setUint32(1, stream, false);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** A frame's kind, stream and payload (a view, not a copy), or the sentence saying why it is refused. */
export function decodeFrame(bytes: Uint8Array): { ok: true; frame: BinaryFrame } | { ok: false; code: 'bad_frame' | 'too_large' | 'unsupported'; message: string } {
  if (bytes.byteLength > MAX_BINARY_FRAME_BYTES) return { ok: false, code: 'too_large', message: `A binary frame is at most ${MAX_BINARY_FRAME_BYTES} bytes; this one is ${bytes.byteLength}.` };
  if (bytes.byteLength < FRAME_HEADER_BYTES) return { ok: false, code: 'bad_frame', message: `A binary frame starts with a ${FRAME_HEADER_BYTES}-byte header; this one has ${bytes.byteLength} bytes.` };
  const kind = bytes[0]!;
  if (kind !== FRAME_KIND.consoleOutput && kind !== FRAME_KIND.consoleInput && kind !== FRAME_KIND.evidenceChunk) {
    return { ok: false, code: 'unsupported', message: `Binary frame kind 0x${kind.toString(16).padStart(2, '0')} is not part of cordon.v1.` };
  }
  const stream = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1, false);
  if (stream === 0) return { ok: false, code: 'bad_frame', message: 'Stream id 0 is never used.' };
  return { ok: true, frame: { kind, stream, payload: bytes.subarray(FRAME_HEADER_BYTES) } };
}
