// Errors of the evidence byte-handling modules (dual hashing, direct reads, export, clearing) as values: a stable
// code for programs and a sentence a responder can act on, like the journal's errors.

export type EvidenceIoCode =
  | 'aborted'
  | 'not_found'
  | 'not_regular_file'
  | 'read_failed'
  | 'write_failed'
  | 'hasher_failed'
  | 'stream_closed'
  | 'unsafe_path'
  | 'duplicate_path'
  | 'target_exists'
  | 'target_busy'
  | 'target_parent_missing'
  | 'source_changed'
  | 'readback_mismatch';

export class EvidenceIoError extends Error {
  constructor(
    /** Machine-readable, e.g. `target_exists`, `readback_mismatch`. */
    readonly code: EvidenceIoCode,
    /** What went wrong and what to do about it, in one or two sentences. */
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EvidenceIoError';
  }
}

/** What a write error's code means for the medium written to, in words a responder can act on. */
export function mediumHint(code: string | undefined): string {
  return code === 'ENOSPC' ? 'the medium is full' : code === 'EROFS' ? 'the medium is read-only' : code === 'EIO' ? 'the medium may be failing or was removed' : 'check the medium';
}

/** The `code` of a Node system error (ENOENT, ENOSPC...), or undefined. */
export function errno(err: unknown): string | undefined {
  return err && typeof err === 'object' && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** Throws `aborted` when `signal` is aborted, naming what was stopped. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw abortedError(what, signal.reason);
}

export function abortedError(what: string, reason?: unknown): EvidenceIoError {
  return new EvidenceIoError('aborted', `${what} was stopped before it finished; nothing it produced so far can be relied on.`, { cause: reason });
}
