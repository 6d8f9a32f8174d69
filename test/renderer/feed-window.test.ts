import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FeedWindow } from '../../renderer/src/store/feed-window.ts';
import { compileFilter, NO_FILTER } from '../../renderer/src/store/filter.ts';
import { events, feedEvent } from './fixtures.ts';

const seqs = (w: FeedWindow) => {
  const v = w.view();
  return Array.from({ length: v.length }, (_, i) => v.at(i)!.seq);
};

test('the window shows the newest events first and keeps only the newest N', () => {
  const w = new FeedWindow(3);
  for (const e of events('hv-01', 1, 5)) w.append(e);
  w.trim();
  assert.deepEqual(seqs(w), [5, 4, 3]);
  assert.equal(w.length, 3);
});

test('a filter indexes the matching events, and new ones are matched as they arrive', () => {
  const w = new FeedWindow(10);
  for (let s = 1; s <= 6; s++) w.append(feedEvent(s, { severity: s % 2 === 0 ? 'critical' : 'info' }));
  w.setPredicate(compileFilter({ ...NO_FILTER, minSeverity: 'critical' }));
  assert.deepEqual(seqs(w), [6, 4, 2]);
  w.append(feedEvent(7, { severity: 'critical' }));
  w.append(feedEvent(8, { severity: 'info' }));
  w.trim();
  assert.deepEqual(seqs(w), [7, 6, 4, 2]);
});

test('filtered events that leave the window leave the filtered list too', () => {
  const w = new FeedWindow(4);
  w.setPredicate(compileFilter({ ...NO_FILTER, verdict: 'malicious' }));
  w.append(feedEvent(1, { verdict: 'malicious' }));
  w.append(feedEvent(2, { verdict: 'benign' }));
  w.append(feedEvent(3, { verdict: 'malicious' }));
  assert.deepEqual(seqs(w), [3, 1]);
  for (let s = 4; s <= 6; s++) w.append(feedEvent(s, { verdict: 'benign' }));
  w.trim();
  assert.deepEqual(seqs(w), [3], 'seq 1 was evicted from the window of 4');
  for (let s = 7; s <= 20; s++) w.append(feedEvent(s, { verdict: s === 19 ? 'malicious' : 'benign' }));
  w.trim();
  assert.deepEqual(seqs(w), [19]);
});

test('paused, the list stays exactly as it was while events keep arriving, and they are counted', () => {
  const w = new FeedWindow(5);
  for (const e of events('hv-01', 1, 5)) w.append(e);
  w.pause();
  const before = seqs(w);
  for (const e of events('hv-01', 6, 12)) w.append(e);
  w.trim();
  assert.deepEqual(seqs(w), before, 'even after every paused event left the window');
  assert.equal(w.newWhilePaused, 12);
  w.resume();
  assert.deepEqual(seqs(w), [17, 16, 15, 14, 13]);
  assert.equal(w.newWhilePaused, 0);
});

test('paused with a filter, only matching arrivals are counted, and a new filter re-freezes the list', () => {
  const w = new FeedWindow(50);
  w.setPredicate(compileFilter({ ...NO_FILTER, text: 'nc' }));
  w.append(feedEvent(1, { title: 'nc listening' }));
  w.pause();
  w.append(feedEvent(2, { title: 'nc again' }));
  w.append(feedEvent(3, { title: 'cron' }));
  assert.equal(w.newWhilePaused, 1);
  assert.deepEqual(seqs(w), [1]);
  w.setPredicate(compileFilter({ ...NO_FILTER, text: 'cron' }));
  assert.ok(w.paused);
  assert.deepEqual(seqs(w), [3]);
  assert.equal(w.newWhilePaused, 0);
});

test('a pause as of an older list freezes that list, and counts what came after it as new', () => {
  const w = new FeedWindow(10);
  for (const e of events('hv-01', 1, 4)) w.append(e);
  const seen = w.view();
  for (const e of events('hv-01', 5, 2)) w.append(e);
  w.pause(seen.end);
  assert.deepEqual(seqs(w), [4, 3, 2, 1]);
  assert.equal(w.newWhilePaused, 2);
  assert.equal(w.view().end, seen.end);
  w.resume();
  w.setPredicate((e) => e.seq % 2 === 0);
  const seenFiltered = w.view();
  w.append(feedEvent(7));
  w.append(feedEvent(8));
  w.pause(seenFiltered.end);
  assert.deepEqual(seqs(w), [6, 4, 2]);
  assert.equal(w.newWhilePaused, 1, 'only seq 8 passes the filter');
});

test('a view finds an event by its absolute number, live, filtered and frozen alike', () => {
  const w = new FeedWindow(8);
  const abs = events('hv-01', 1, 6).map((e) => w.append(e));
  assert.equal(w.view().indexOfAbs(abs[5]!), 0);
  assert.equal(w.view().indexOfAbs(abs[0]!), 5);
  w.setPredicate((e) => e.seq % 2 === 1);
  assert.equal(w.view().indexOfAbs(abs[4]!), 0, 'seq 5 is the newest odd one');
  assert.equal(w.view().indexOfAbs(abs[1]!), -1, 'seq 2 is filtered out');
  w.pause();
  const v = w.view();
  assert.equal(v.indexOfAbs(abs[0]!), 2);
  assert.equal(v.absAt(2), abs[0]);
  assert.equal(v.absAt(3), -1);
});

test('a view handed out before more events arrived keeps its own bounds', () => {
  const w = new FeedWindow(100);
  for (const e of events('hv-01', 1, 3)) w.append(e);
  const v = w.view();
  for (const e of events('hv-01', 4, 3)) w.append(e);
  assert.equal(v.length, 3);
  assert.equal(v.at(0)!.seq, 3);
});

test('resizing keeps the newest events and their numbers', () => {
  const w = new FeedWindow(10);
  const abs = events('hv-01', 1, 10).map((e) => w.append(e));
  w.resize(4);
  assert.deepEqual(seqs(w), [10, 9, 8, 7]);
  assert.equal(w.get(abs[9]!)!.seq, 10);
  assert.equal(w.get(abs[0]!), undefined);
});

test('a full window of 100,000 takes a million events with a filter on, without slowing to O(N) per event', () => {
  const w = new FeedWindow(100_000);
  w.setPredicate(compileFilter({ ...NO_FILTER, minSeverity: 'high' }));
  const pool = [feedEvent(1, { severity: 'critical' }), feedEvent(2, { severity: 'low' }), feedEvent(3, { severity: 'high' })];
  const t = performance.now();
  for (let i = 0; i < 1_000_000; i++) {
    w.append(pool[i % 3]!);
    if (i % 1000 === 999) w.trim();
  }
  w.trim();
  const ms = performance.now() - t;
  assert.equal(w.length, 100_000);
  const v = w.view();
  assert.ok(Math.abs(v.length - 66_667) <= 1, `about two thirds match, got ${v.length}`);
  assert.ok(ms < 1500, `1M appends took ${ms.toFixed(0)} ms`);
});
