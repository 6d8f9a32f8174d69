// Reconnect delays: exponential with full jitter, so a fleet of cockpits does not stampede a restarted agent.
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  constructor(private readonly opts: BackoffOptions) {}

  /** The next delay: uniform in [base/2, min(max, base·2^n)] (jittered, never zero, never above max). */
  next(): number {
    const ceiling = Math.min(this.opts.maxMs, this.opts.baseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    const floor = Math.min(ceiling, this.opts.baseMs / 2);
    return Math.round(floor + (ceiling - floor) * (this.opts.random ?? Math.random)());
  }

  reset(): void {
    this.attempt = 0;
  }
}
