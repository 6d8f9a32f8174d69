// A page's memory as the console tests bound it: the JS heap with the array buffers' backing store (xterm keeps its
// lines in typed arrays), after a forced garbage collection.
import type { CDPSession } from 'playwright-core';

export async function heapUsed(cdp: CDPSession): Promise<number> {
  await cdp.send('HeapProfiler.collectGarbage');
  const h = await cdp.send('Runtime.getHeapUsage');
  return h.usedSize + h.embedderHeapUsedSize + h.backingStorageSize;
}
