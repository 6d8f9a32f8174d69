import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandForKey } from '../../renderer/src/ui/keymap.ts';

test('in the feed, arrows and j/k move, Home/End jump, Enter opens, / searches, Space follows, Esc clears', () => {
  const k = (key: string) => commandForKey({ key }, 'other');
  assert.equal(k('ArrowDown'), 'down');
  assert.equal(k('j'), 'down');
  assert.equal(k('ArrowUp'), 'up');
  assert.equal(k('k'), 'up');
  assert.equal(k('Home'), 'newest');
  assert.equal(k('End'), 'oldest');
  assert.equal(k('Enter'), 'open-detail');
  assert.equal(k('/'), 'focus-search');
  assert.equal(k(' '), 'toggle-follow');
  assert.equal(k('Escape'), 'clear-selection');
  assert.equal(k('x'), null);
});

test('typing in the search box types: only Esc, Enter and ↓ leave it', () => {
  assert.equal(commandForKey({ key: 'j' }, 'search'), null);
  assert.equal(commandForKey({ key: ' ' }, 'search'), null);
  assert.equal(commandForKey({ key: '/' }, 'search'), null);
  assert.equal(commandForKey({ key: 'Escape' }, 'search'), 'clear-search');
  assert.equal(commandForKey({ key: 'Enter' }, 'search'), 'leave-search');
});

test('a button keeps Enter and Space, a select keeps its arrows', () => {
  assert.equal(commandForKey({ key: ' ' }, 'button'), null);
  assert.equal(commandForKey({ key: 'Enter' }, 'button'), null);
  assert.equal(commandForKey({ key: 'j' }, 'button'), 'down');
  assert.equal(commandForKey({ key: 'ArrowDown' }, 'control'), null);
  assert.equal(commandForKey({ key: 'Escape' }, 'control'), 'back-to-list');
});

test('browser and system shortcuts are never taken', () => {
  assert.equal(commandForKey({ key: 'k', ctrlKey: true }, 'other'), null);
  assert.equal(commandForKey({ key: 'ArrowDown', altKey: true }, 'other'), null);
  assert.equal(commandForKey({ key: '/', metaKey: true }, 'other'), null);
});
