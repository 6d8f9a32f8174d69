// Feeds main-thread tasks over 50 ms into the probe (Chromium's Long Tasks API), for the streaming benchmark.
import { noteLongTask, type CordonProbe } from '../store/probe.ts';

export function observeLongTasks(probe: CordonProbe): void {
  if (typeof PerformanceObserver === 'undefined' || !PerformanceObserver.supportedEntryTypes?.includes('longtask')) return;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) noteLongTask(probe, entry.duration);
  });
  observer.observe({ type: 'longtask', buffered: true });
}
