import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACTION_KEYS, actionShortcut, commandForKey } from '../../renderer/src/ui/keymap.ts';

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

test('Shift and a letter act on the VM shown: F freeze, R resume, I isolate, L release, C clone, S seize, T terminate', () => {
  const k = (key: string, target: Parameters<typeof commandForKey>[1] = 'other') => commandForKey({ key, shiftKey: true }, target);
  assert.equal(k('F'), 'act-freeze');
  assert.equal(k('R'), 'act-resume');
  assert.equal(k('I'), 'act-isolate');
  assert.equal(k('L'), 'act-release');
  assert.equal(k('C'), 'act-clone');
  assert.equal(k('S'), 'act-seize');
  assert.equal(k('T'), 'act-terminate');
  assert.equal(k('T', 'button'), 'act-terminate', 'from a button too');
  assert.equal(k('F', 'detail'), 'act-freeze', 'and from the detail pane');
  assert.equal(actionShortcut('freeze'), 'Shift+F');
});

test('action keys never clash with the feed\'s keys, and never act by accident', () => {
  const feedKeys = ['ArrowUp', 'ArrowDown', 'k', 'j', 'PageUp', 'PageDown', 'Home', 'End', 'Enter', '/', ' ', 'Escape'];
  for (const key of Object.values(ACTION_KEYS)) {
    assert.ok(!feedKeys.includes(key) && !feedKeys.includes(key.toLowerCase()), `${key} is not a feed key`);
  }
  assert.equal(new Set(Object.values(ACTION_KEYS)).size, Object.keys(ACTION_KEYS).length, 'one letter per action');
  assert.equal(commandForKey({ key: 'f' }, 'other'), null, 'without Shift, nothing');
  assert.equal(commandForKey({ key: 'F' }, 'other'), null, 'Caps Lock alone, nothing');
  assert.equal(commandForKey({ key: 'T', shiftKey: true }, 'search'), null, 'typing a capital in the search box types');
  assert.equal(commandForKey({ key: 'T', shiftKey: true }, 'control'), null);
  assert.equal(commandForKey({ key: 'T', shiftKey: true, ctrlKey: true }, 'other'), null, 'browser shortcuts stay the browser\'s');
  assert.equal(commandForKey({ key: 'j', shiftKey: false }, 'other'), 'down', 'the feed\'s keys are unchanged');
});

test('an open dialog keeps every key to itself', () => {
  for (const key of ['j', 'Escape', 'Enter', '/', ' ', 'T']) {
    assert.equal(commandForKey({ key, shiftKey: key === 'T' }, 'dialog'), null, key);
  }
});
