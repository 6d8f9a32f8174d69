// Offline sync as a responder runs it: `npm run journal -- export` on a field laptop's data directory, `import` on
// a SOC cockpit's, in real processes. A slice holds only its VM; a second import adds nothing; a tampered bundle is
// refused with its first bad record named and exit status 1; a running cockpit's journal is not written behind its back.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Journal, loadOrCreateKeyFile } from '../../main/journal/index.ts';
import { ROOT, tempDir } from '../helpers/processes.ts';
import { syntheticEntry } from './fixtures.ts';

function journalCli(args: string[]): { status: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/journal.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}

test('a field laptop exports a slice and the whole journal; a SOC cockpit imports them once, and refuses a tampered one', async () => {
  const base = tempDir('sync-cli');
  try {
    const field = join(base.path, 'field');
    const soc = join(base.path, 'soc');
    const j = await Journal.open({ dir: join(field, 'journal'), signer: loadOrCreateKeyFile(join(field, 'journal-key.pem')), checkpointMs: 0, note: () => {} });
    j.append(Array.from({ length: 3000 }, (_, i) => syntheticEntry(i, 20)));
    await j.close();

    const slice = join(base.path, 'usb', 'vm-7.bundle');
    const e1 = journalCli(['export', '--data-dir', field, '--out', slice, '--vm', 'vm-7']);
    assert.equal(e1.status, 0, e1.err);
    assert.match(e1.out, /exported \d+ records \(slice\).*read back and verified/);
    const whole = join(base.path, 'usb', 'field.bundle');
    const e2 = journalCli(['export', '--data-dir', field, '--out', whole]);
    assert.equal(e2.status, 0, e2.err);

    const i1 = journalCli(['import', slice, '--data-dir', soc]);
    assert.equal(i1.status, 0, i1.err);
    const sliceAdded = Number(/(\d+) added/.exec(i1.out)?.[1]);
    assert.ok(sliceAdded > 0 && sliceAdded < 3000, i1.out);
    const i2 = journalCli(['import', whole, '--data-dir', soc]);
    assert.equal(i2.status, 0, i2.err);
    assert.match(i2.out, new RegExp(`${sliceAdded} already here`), 'what the slice brought is not added twice');
    const i3 = journalCli(['import', whole, '--data-dir', soc]);
    assert.match(i3.out, / 0 added/, 'a second import adds nothing');

    const lines = readFileSync(whole, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.startsWith('{"h":')) + 1500;
    lines[at] = lines[at]!.replace(/"title":"(.)/, (_m, c: string) => `"title":"${c === 'x' ? 'y' : 'x'}`);
    const tampered = join(base.path, 'usb', 'tampered.bundle');
    writeFileSync(tampered, lines.join('\n'));
    const other = join(base.path, 'other');
    const bad = journalCli(['import', tampered, '--data-dir', other]);
    assert.equal(bad.status, 1, bad.out + bad.err);
    assert.match(bad.err, /refused, nothing was imported: Record #1500/);

    // A running cockpit holds the journal: the command says so and writes nothing.
    const running = await Journal.open({ dir: join(soc, 'journal'), signer: loadOrCreateKeyFile(join(soc, 'journal-key.pem')), checkpointMs: 0, note: () => {} });
    try {
      const locked = journalCli(['import', whole, '--data-dir', soc]);
      assert.equal(locked.status, 2);
      assert.match(locked.err, /journal: .*(in use|locked|another)/i);
    } finally {
      await running.close();
    }
  } finally {
    base.remove();
  }
});
