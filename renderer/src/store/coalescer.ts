// Coalesces whatever arrives between two frames into one application: pushes from the hub (about 60 batches a
// second at 50,000 events/s), snapshots and the responder's own actions all wait for the next animation frame,
// which applies them in order and commits the store once. No React render ever happens per event.

/** Something that runs a callback soon, once (an animation frame in the page, by hand in the tests). */
export interface FrameScheduler {
  /** Returns a function that cancels the request. */
  request(run: () => void): () => void;
}

export class FrameCoalescer<T> {
  private queue: T[] = [];
  private cancel: (() => void) | null = null;
  private disposed = false;

  constructor(
    private readonly scheduler: FrameScheduler,
    /** Called once per frame with everything queued since the last one (possibly nothing, after `wake`). */
    private readonly onFrame: (items: T[]) => void,
  ) {}

  /** Queues an item for the next frame. */
  push(item: T): void {
    this.queue.push(item);
    this.wake();
  }

  /** Asks for a frame even with nothing queued (e.g. the responder changed a filter). */
  wake(): void {
    if (this.cancel !== null || this.disposed) return;
    this.cancel = this.scheduler.request(() => this.flush());
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Runs the frame now. */
  flush(): void {
    if (this.cancel !== null) {
      const cancel = this.cancel;
      this.cancel = null;
      cancel();
    }
    if (this.disposed) return;
    const items = this.queue;
    this.queue = [];
    this.onFrame(items);
  }

  dispose(): void {
    this.disposed = true;
    this.cancel?.();
    this.cancel = null;
    this.queue = [];
  }
}
