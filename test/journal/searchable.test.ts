// The fast ASCII word hashing that indexes records gives exactly the words the Unicode word split gives: the index
// and the final check of every query must agree, or a query would miss records.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../../main/journal/canonical.ts';
import { eventEntry } from '../../main/journal/entries.ts';
import type { JournalRecord } from '../../main/journal/record.ts';
import { KEY_WORD, keyHash, parseTextQuery, recordKeys, searchTexts, words } from '../../main/journal/searchable.ts';
import { simFeed } from './fixtures.ts';

/** The reference: the record walk and the Unicode word split. */
function slowWordKeys(rec: JournalRecord): Set<number> {
  return new Set(searchTexts(rec).flatMap((t) => words(t)).map((w) => keyHash(KEY_WORD, w)));
}

/** Every word key the reference finds is indexed, and nothing else is beyond the exact-match keys. */
function sameWords(rec: JournalRecord): void {
  const indexed = new Set(recordKeys(rec).toArray());
  const reference = slowWordKeys(rec);
  for (const k of reference) assert.ok(indexed.has(k), canonicalJson(rec));
  const exact = new Set(recordKeys({ ...rec, body: {} }).toArray());
  for (const k of indexed) assert.ok(reference.has(k) || exact.has(k), canonicalJson(rec));
}

test('realistic threat events: the same words both ways', () => {
  for (const fe of simFeed(3000)) sameWords({ index: 1, time: 2, ...eventEntry(fe) } as JournalRecord);
});

test('edge cases: escapes, skipped members at any depth, number words, non-ASCII, long words', () => {
  const bodies = [
    { s: 'quote " backslash \\ slash / tab\tnew\nline \u0001 ctl' },
    { time: 'not searched', at: 'neither', nested: { time: 'no', keep: 'yes' }, list: [{ requestedAt: 'no' }, 'kept'] },
    { pid: 4242, ppid: -1, localPort: 0, other: 77, fraction: 0.5, pids: [1, 2], port: 443 },
    { text: 'Über Straße ĲSSEL café', key: 'plain' },
    { long: 'x'.repeat(300), words: 'A_b_C d-e' },
    { 'wéird key': 'value', 'esc\\key': 'value2' },
    { lone: 'a\ud800b', emoji: 'smile 😀 ok' },
    { big: 1e21, neg: -0, t: true, f: false, n: null, empty: '', arr: [] },
  ];
  for (const body of bodies) sameWords({ index: 0, time: 0, kind: 'log', severity: 'low', agentId: 'a-1', vmId: 'vm 2', actor: { name: 'Ann', role: 'R' }, body } as JournalRecord);
  sameWords({ index: 9, time: 9, kind: 'event', body: { x: 'y' }, origin: { device: 'dev-1', record: 3, leaf: 'ab'.repeat(32), key: 'SHA256:k' }, via: { device: 'dev-2', record: 4 } });
});

test('any JSON body: the same words both ways', () => {
  fc.assert(fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (body) => {
    sameWords({ index: 5, time: 5, kind: 'custody', body } as JournalRecord);
  }), { numRuns: 1500 });
});

test('a query is read as words and quoted phrases', () => {
  assert.deepEqual(parseTextQuery('curl "203.0.113.66:443" CURL'), { words: ['curl', '203', '0', '113', '66', '443'], phrases: ['203.0.113.66:443'] });
  assert.deepEqual(parseTextQuery('  '), { words: [], phrases: [] });
});
