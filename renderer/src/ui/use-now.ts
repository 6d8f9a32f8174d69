// The current time for a countdown, refreshed only while one is shown: a component that needs no clock never ticks.
import { useEffect, useState } from 'react';

/** The current time (ms since the epoch), refreshed every `everyMs` while that is not null. */
export function useNow(everyMs: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (everyMs === null) return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}
