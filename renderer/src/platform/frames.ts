// The page's frame scheduler: the next animation frame, or 100 ms at the latest. A hidden window gets no
// animation frames; without the fallback the pushes would pile up unapplied while nobody looks.
import type { FrameScheduler } from '../store/frame-scheduler.ts';

export function animationFrameScheduler(fallbackMs = 100): FrameScheduler {
  return {
    request(run) {
      let done = false;
      const fire = () => {
        if (done) return;
        done = true;
        cancelAnimationFrame(frame);
        clearTimeout(timer);
        run();
      };
      const frame = requestAnimationFrame(fire);
      const timer = setTimeout(fire, fallbackMs);
      return () => {
        done = true;
        cancelAnimationFrame(frame);
        clearTimeout(timer);
      };
    },
  };
}
