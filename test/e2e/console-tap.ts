// A page script for the console tests and bench/console.ts: it sees each console output chunk on its way from the
// ingest worker to the page's consoles (it wraps the handler the page sets as the worker's onmessage, and runs just
// before it), and times a keystroke's echo: from the keydown event (its own time stamp: queueing in a busy page
// counts) to the first animation frame at which the terminal has parsed the echoed byte (the consoles' flow counter
// `drawn`, from xterm's write callback; xterm paints in that frame). The echo is found by its byte in the output
// after the keystroke, so the char typed must be one the guest does not print otherwise (a flood of `yes` lines made
// of other characters). Plain JavaScript in a string: a function compiled by tsx would carry its helpers with it.

/** What the script puts on `window.__consoleTap`. */
export interface ConsoleTap {
  /** Output bytes seen per session id. */
  total: Record<string, number>;
  /** Starts timing the echo of `char` on the session (tab `key`), typed next. */
  arm(sessionId: string, key: string, char: string): void;
  /** The armed echo's latency in ms (keydown → drawn), or null if it did not come within `timeoutMs`. */
  result(timeoutMs: number): Promise<number | null>;
  /** Long tasks (PerformanceObserver) since reset(): how many, the longest. */
  longTasks: { count: number; maxMs: number };
  resetLongTasks(): void;
}

export const CONSOLE_TAP = String.raw`(() => {
  const tap = { total: Object.create(null), watch: null, longTasks: { count: 0, maxMs: 0 } };
  window.__consoleTap = tap;
  const stats = (key) => window.__cordonConsoles && window.__cordonConsoles.flowStats(key);
  const see = (msg) => {
    if (!msg || msg.type !== 'console' || !msg.feed || msg.feed.type !== 'output') return;
    const id = msg.feed.sessionId;
    const bytes = msg.feed.bytes;
    tap.total[id] = (tap.total[id] || 0) + bytes.length;
    const w = tap.watch;
    if (w === null || w.sessionId !== id || w.t0 === null || w.target !== null) return;
    const at = bytes.indexOf(w.code);
    if (at < 0) return;
    // Runs before the page's own handler: the flow has not counted this chunk yet.
    const s = stats(w.key);
    if (s) w.target = s.received - s.dropped + at + 1;
  };
  const d = Object.getOwnPropertyDescriptor(Worker.prototype, 'onmessage');
  Object.defineProperty(Worker.prototype, 'onmessage', {
    configurable: true,
    enumerable: d.enumerable,
    get: d.get,
    set(fn) {
      d.set.call(this, typeof fn !== 'function' ? fn : function (ev) {
        try { see(ev.data); } catch (e) { /* the page's own handler still runs */ }
        return fn.call(this, ev);
      });
    },
  });
  addEventListener('keydown', (ev) => {
    const w = tap.watch;
    if (w === null || w.t0 !== null || ev.key !== w.char) return;
    const now = performance.now();
    // The event's own time stamp is when the input arrived; fall back to now if it is not on this clock.
    w.t0 = ev.timeStamp > 0 && ev.timeStamp <= now && now - ev.timeStamp < 10000 ? ev.timeStamp : now;
  }, true);
  tap.arm = (sessionId, key, char) => {
    tap.watch = { sessionId, key, char, code: char.charCodeAt(0), t0: null, target: null, latency: null };
  };
  tap.result = (timeoutMs) => new Promise((resolve) => {
    const w = tap.watch;
    const end = performance.now() + timeoutMs;
    const frame = () => {
      if (w.target !== null) {
        const s = stats(w.key);
        if (s && s.drawn >= w.target) {
          w.latency = performance.now() - w.t0;
          resolve(w.latency);
          return;
        }
      }
      if (performance.now() > end) { resolve(null); return; }
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });
  tap.resetLongTasks = () => { tap.longTasks = { count: 0, maxMs: 0 }; };
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) { tap.longTasks.count++; tap.longTasks.maxMs = Math.max(tap.longTasks.maxMs, e.duration); }
    }).observe({ type: 'longtask' });
  } catch (e) { /* no long-task timing here */ }
})();`;
