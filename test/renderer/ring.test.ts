import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NumberRing, Ring } from '../../renderer/src/store/ring.ts';

test('a ring keeps the newest N items and numbers them for its whole life', () => {
  const ring = new Ring<string>(3);
  for (const x of ['a', 'b', 'c', 'd', 'e']) ring.push(x);
  assert.equal(ring.length, 3);
  assert.equal(ring.start, 2);
  assert.equal(ring.end, 5);
  assert.deepEqual([ring.at(2), ring.at(3), ring.at(4)], ['c', 'd', 'e']);
  assert.equal(ring.at(1), undefined, 'an evicted item is gone');
  assert.equal(ring.at(5), undefined, 'nothing past the end');
});

test('a cleared ring holds nothing and numbers on from where it was', () => {
  const ring = new Ring<number>(4);
  ring.push(1);
  ring.push(2);
  ring.clear();
  assert.equal(ring.length, 0);
  assert.equal(ring.push(3), 2);
  assert.equal(ring.at(2), 3);
});

test('a ring can start numbering anywhere (a resized window keeps its numbers)', () => {
  const ring = new Ring<string>(2, 1000);
  assert.equal(ring.push('x'), 1000);
  assert.equal(ring.at(1000), 'x');
});

test('pushing a million items into a small ring takes no per-item copying', () => {
  const ring = new Ring<number>(1000);
  const t = performance.now();
  for (let i = 0; i < 1_000_000; i++) ring.push(i);
  const ms = performance.now() - t;
  assert.equal(ring.at(999_999), 999_999);
  assert.equal(ring.at(999_000), 999_000);
  assert.equal(ring.at(998_999), undefined);
  assert.ok(ms < 500, `1M pushes took ${ms.toFixed(0)} ms`);
});

test('a number ring finds a value by binary search and drops from the front', () => {
  const r = new NumberRing(5);
  for (const v of [3, 8, 9, 20, 41, 55]) r.push(v);
  assert.equal(r.start, 1);
  assert.equal(r.at(r.start), 8);
  assert.equal(r.search(20), 3);
  assert.equal(r.search(3), -1, 'evicted');
  assert.equal(r.search(21), -1);
  r.shift();
  assert.equal(r.at(r.start), 9);
  assert.ok(Number.isNaN(r.at(0)));
});

test('a ring refuses a nonsensical capacity', () => {
  assert.throws(() => new Ring(0), RangeError);
  assert.throws(() => new Ring(1.5), RangeError);
  assert.throws(() => new NumberRing(-1), RangeError);
});
