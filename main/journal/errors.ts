// Errors of the journal as values: a stable code for programs and a sentence a responder can act on.

export type JournalErrorCode =
  | 'invalid_record'
  | 'journal_closed'
  | 'journal_locked'
  | 'journal_unusable'
  | 'journal_damaged'
  | 'disk_write_failed'
  | 'sign_failed'
  | 'bad_key'
  | 'bad_query'
  | 'bad_bundle'
  | 'bundle_refused'
  | 'out_of_range';

export class JournalError extends Error {
  constructor(
    /** Machine-readable, e.g. `journal_locked`, `bundle_refused`. */
    readonly code: JournalErrorCode,
    /** What went wrong and what to do about it, in one or two sentences. */
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'JournalError';
  }
}

/** The `code` of a Node system error (ENOENT, ENOSPC...), or the error's name. */
export function systemCode(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.name : 'unknown';
}
