// Bad-input campaign (issue 8): a journal bundle brought from a field laptop (main/journal/bundle-format.ts readBundle,
// bundle.ts importBundle). Whatever the file holds — a damaged line, a forged header, random bytes, invalid UTF-8,
// deep JSON, __proto__ members, an oversized line — the import refuses it whole with a JournalError (a code and a
// bounded sentence that does not repeat the hostile text), never throws anything else, and the journal it was
// imported into keeps every record it held; the genuine bundle still imports afterwards.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { exportBundle, importBundle } from '../../main/journal/bundle.ts';
import { JournalError } from '../../main/journal/errors.ts';
import { Journal } from '../../main/journal/journal.ts';
import { tempDir } from '../helpers/processes.ts';
import { newKey, simEntries } from '../journal/fixtures.ts';
import { record } from './campaign.ts';
import { anyString, assertClearError, assertNoLongEcho, assertPrototypesClean, damaged, deepJson, hostileValue, INVALID_UTF8, invalidUtf8In, mutatedJson, params, pollutingVariants, Tally } from './kit.ts';

const TARGET = 'journal bundle import';
const CODES = new Set(['bad_bundle', 'bundle_refused']);

describe('bad input: journal bundle import', () => {
  const base = tempDir('campaign-bundle');
  let field: Journal;
  let soc: Journal;
  let bundle: Buffer;
  let lines: string[];
  let held = 0;
  let file = 0;
  /** Records in the genuine bundle, and whether they were imported already (by a variant that still verified). */
  let n = 0;
  let imported = false;

  before(async () => {
    field = await Journal.open({ dir: join(base.path, 'field'), signer: newKey(), checkpointMs: 0 });
    soc = await Journal.open({ dir: join(base.path, 'soc'), signer: newKey(), checkpointMs: 0 });
    field.append(simEntries(40));
    await field.checkpoint();
    const path = join(base.path, 'field.bundle');
    await exportBundle(field, path);
    bundle = readFileSync(path);
    lines = bundle.toString('utf8').split('\n').filter((l) => l.length > 0);
    n = (JSON.parse(lines[0]!) as { records: number }).records;
    soc.append(simEntries(5));
    await soc.checkpoint();
    held = soc.size;
  });

  after(async () => {
    // Nothing held was lost, and the genuine bundle still imports.
    assert.equal(soc.size, held, 'the journal holds what it held before the campaign');
    const path = join(base.path, 'genuine.bundle');
    writeFileSync(path, bundle);
    const r = await importBundle(soc, path);
    assert.equal(r.added + r.alreadyHere, n);
    assert.equal(r.added, imported ? 0 : n, 'each record of the bundle is here exactly once');
    assertPrototypesClean();
    await field.close();
    await soc.close();
    base.remove();
  });

  /** Imports `bytes`; checks the refusal's contract; returns whether it was refused. */
  async function judge(bytes: Buffer | string, hostile: readonly string[] = []): Promise<boolean> {
    const path = join(base.path, `try-${file++}.bundle`);
    writeFileSync(path, bytes);
    const before = soc.size;
    try {
      await importBundle(soc, path);
    } catch (err) {
      assert.ok(err instanceof JournalError, `a JournalError, not ${(err as Error)?.stack ?? String(err)}`);
      assert.ok(CODES.has(err.code), `a known code: ${err.code}`);
      assertClearError(err.message, 2048);
      for (const h of hostile) assertNoLongEcho(err.message.replace(path, ''), h);
      assert.equal(soc.size, before, 'a refused bundle adds nothing');
      return true;
    }
    // Accepted: only the genuine records can have been added (a bundle that still verifies), and the import's own record.
    // A variant that still verifies (an unsigned header field changed) adds the bundle's records once, ever.
    assert.ok(soc.size - before <= (imported ? 1 : n + 1), `an accepted bundle adds its records once, and the record of the import (${soc.size - before} added)`);
    imported = true;
    held = soc.size;
    return false;
  }

  const cases: { kind: string; arb: () => fc.Arbitrary<{ bytes: Buffer | string; hostile: string[] }>; runs: number; outcome: string }[] = [
    { kind: 'random strings as the whole file', arb: () => anyString.map((s) => ({ bytes: s, hostile: [s] })), runs: 150, outcome: 'Refused as "bad_bundle": line 1 is not a bundle header.' },
    { kind: 'a header line with fields removed, retyped or added', arb: () => mutatedJson([JSON.parse(lines[0]!) as unknown]).map((h) => ({ bytes: [h, ...lines.slice(1)].join('\n'), hostile: [] })), runs: 200,
      outcome: 'Refused whole (header not a bundle header, or keys, checkpoints or counts that do not verify).' },
    { kind: 'one line replaced by a mutated copy (checkpoint, record or end line)', arb: () => fc.record({ at: fc.nat(), text: fc.constant(0) }).chain(({ at }) => {
      const i = 1 + (at % (lines.length - 1));
      const parsed = JSON.parse(lines[i]!) as unknown;
      return mutatedJson([parsed]).map((t) => ({ bytes: [...lines.slice(0, i), t, ...lines.slice(i + 1)].join('\n'), hostile: [] }));
    }), runs: 120, outcome: 'Refused whole, naming the first bad line or record; nothing added.' },
    { kind: 'one line cut short or with a character spliced in', arb: () => fc.record({ at: fc.nat() }).chain(({ at }) => {
      const i = at % lines.length;
      return damaged([lines[i]!]).map((t) => ({ bytes: [...lines.slice(0, i), t, ...lines.slice(i + 1)].join('\n'), hostile: [] }));
    }), runs: 120, outcome: 'Refused whole: the hash chain or the signature no longer holds, or the line is not JSON.' },
    { kind: 'lines of random JSON values inserted', arb: () => fc.record({ at: fc.nat(), v: fc.jsonValue({ maxDepth: 3 }) }).map(({ at, v }) => {
      const i = 1 + (at % lines.length);
      return { bytes: [...lines.slice(0, i), JSON.stringify(v), ...lines.slice(i)].join('\n'), hostile: [] };
    }), runs: 150, outcome: 'Refused as "bad_bundle" naming the line, or "bundle_refused".' },
    { kind: 'invalid UTF-8 bytes', arb: () => invalidUtf8In(bundle).map((b) => ({ bytes: b, hostile: [] })), runs: 150, outcome: 'Refused whole; no record with replacement characters was ever added.' },
  ];
  for (const c of cases) {
    test(c.kind, async () => {
      const t = new Tally();
      await fc.assert(fc.asyncProperty(c.arb(), async ({ bytes, hostile }) => {
        const refused = await judge(bytes, hostile);
        if (Buffer.from(bytes).equals(bundle) === false) assert.ok(refused || soc.size <= held, 'an altered bundle adds nothing');
        t.count(refused);
      }), params(c.runs));
      assertPrototypesClean();
      record({ campaign: 'bad-input', target: TARGET, kind: c.kind, tried: t.tried, refused: t.refused, crashes: 0, outcome: c.outcome });
    });
  }

  test('header fields with hostile values (huge counts, keys that are not keys, __proto__)', async () => {
    const t = new Tally();
    const header = JSON.parse(lines[0]!) as Record<string, unknown>;
    const variants: string[] = [...pollutingVariants(header)];
    for (const k of ['records', 'keys', 'device', 'origin', 'scope', 'filter', 'createdAt']) {
      for (const v of [2 ** 53 - 1, -1, 1e308, 'x'.repeat(100_000), [], {}, [{ toString: 1 }], [{ name: 'x', verifierKey: '__proto__', fingerprint: 'constructor', record: -1 }], null, '\x1b]0;pwned\x07']) {
        variants.push(JSON.stringify({ ...header, [k]: v }));
      }
    }
    await fc.assert(fc.asyncProperty(fc.constantFrom('records', 'keys', 'device', 'origin', 'filter'), hostileValue, async (k, v) => {
      t.count(await judge([JSON.stringify({ ...header, [k]: v }), ...lines.slice(1)].join('\n')));
    }), params(100));
    for (const h of variants) {
      t.count(await judge([h, ...lines.slice(1)].join('\n'), ['x'.repeat(100_000)]));
      assertPrototypesClean();
    }
    record({ campaign: 'bad-input', target: TARGET, kind: 'hostile header values and __proto__/constructor/prototype keys', tried: t.tried, refused: t.refused, crashes: 0,
      outcome: 'Each refused with a code and a sentence; a record count of 2^53-1 allocates nothing; Object.prototype unchanged.' });
  });

  test('deeply nested JSON (100,000 levels) and oversized lines (16 MiB)', async () => {
    const t = new Tally();
    const deep = [deepJson(100_000, 'array'), deepJson(100_000, 'object')];
    const big = 'A'.repeat(16 * 1024 * 1024);
    const files: string[] = [
      ...deep,
      ...deep.map((d) => [lines[0], d, ...lines.slice(1)].join('\n')),
      ...deep.map((d) => [lines[0], `{"h":"${'0'.repeat(64)}","r":${d}}`, ...lines.slice(1)].join('\n')),
      ...deep.map((d) => [lines[0], `{"i":0,"p":${d},"r":{}}`, ...lines.slice(1)].join('\n')),
      ...deep.map((d) => [JSON.stringify({ ...(JSON.parse(lines[0]!) as object), filter: 0 }).replace('"filter":0', `"filter":${d}`), ...lines.slice(1)].join('\n')),
      big, [lines[0], big, ...lines.slice(1)].join('\n'), [lines[0], `{"t":"checkpoint","size":1,"time":1,"note":"${big}"}`, ...lines.slice(1)].join('\n'),
      '\n'.repeat(1_000_000), INVALID_UTF8.map((b) => b.toString('latin1')).join('\n'),
    ];
    for (const f of files) t.count(await judge(f, [big]));
    record({ campaign: 'bad-input', target: TARGET, kind: 'deeply nested JSON (100,000 levels) and oversized lines (16 MiB)', tried: t.tried, refused: t.refused, crashes: 0,
      outcome: 'Refused with a sentence naming the line, never a stack overflow; the 16 MiB value is not repeated.' });
  });
});
