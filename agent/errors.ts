// Errors of the agent as values: a stable code for programs and a sentence a responder can act on.

export class AgentError extends Error {
  constructor(
    /** Machine-readable, e.g. `token_missing`, `data_dir_locked`, `listen_failed`. */
    readonly code: string,
    /** What went wrong and what to do about it, in one or two sentences. */
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AgentError';
  }
}

/** The `code` of a Node system error (ENOENT, EACCES, EADDRINUSE...), or the error's name. */
export function systemCode(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.name : 'unknown';
}
