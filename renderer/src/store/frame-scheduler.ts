// When the store commits: once per animation frame in the page (platform/frames.ts), by hand in the tests. The
// engine's frames arrive whenever they are ready; the store applies what arrived on the next one, so no React
// render ever happens per push, let alone per event.

/** Something that runs a callback soon, once (an animation frame in the page, by hand in the tests). */
export interface FrameScheduler {
  /** Returns a function that cancels the request. */
  request(run: () => void): () => void;
}
