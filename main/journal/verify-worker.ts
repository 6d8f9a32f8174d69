// A worker thread that verifies segments for verify.ts: CPU-bound hashing, one segment per message.
import { parentPort } from 'node:worker_threads';
import { verifySegment, type SegmentTask } from './verify-segment.ts';

parentPort?.on('message', (task: SegmentTask) => {
  try {
    parentPort!.postMessage({ ok: true, result: verifySegment(task) });
  } catch (err) {
    parentPort!.postMessage({ ok: false, message: err instanceof Error ? err.message : String(err) });
  }
});
