import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameCoalescer } from '../../renderer/src/store/coalescer.ts';
import { ManualScheduler } from './fixtures.ts';

test('everything pushed between two frames is applied once, in order, on the next frame', () => {
  const frames = new ManualScheduler();
  const applied: number[][] = [];
  const c = new FrameCoalescer<number>(frames, (items) => applied.push(items));
  for (let i = 0; i < 60; i++) c.push(i);
  assert.equal(frames.requested, 1, 'one frame asked for, not one per push');
  assert.equal(applied.length, 0);
  frames.run();
  assert.deepEqual(applied, [Array.from({ length: 60 }, (_, i) => i)]);
  c.push(60);
  frames.run();
  assert.deepEqual(applied[1], [60]);
});

test('a wake with nothing queued still gets one frame; flush runs it now and cancels the request', () => {
  const frames = new ManualScheduler();
  let runs = 0;
  const c = new FrameCoalescer<number>(frames, () => { runs += 1; });
  c.wake();
  c.wake();
  assert.equal(frames.requested, 1);
  c.flush();
  assert.equal(runs, 1);
  assert.equal(frames.requested, 0);
  c.dispose();
  c.push(1);
  frames.run();
  assert.equal(runs, 1, 'nothing after dispose');
});
