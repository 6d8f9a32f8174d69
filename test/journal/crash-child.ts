// A cockpit stand-in for the crash test: appends batches of events as fast as it can, with a durable action record
// after each batch, and prints each durable record's index and hash once appendDurable has resolved. The test kills
// it with SIGKILL at a random moment.
import { Journal } from '../../main/journal/journal.ts';
import { loadOrCreateKeyFile } from '../../main/journal/keys.ts';
import { syntheticEntry } from './fixtures.ts';

const [dir, keyFile, batchText] = process.argv.slice(2);
const batch = Number(batchText ?? 2000);
const journal = await Journal.open({ dir: dir!, signer: loadOrCreateKeyFile(keyFile!), syncMs: 20, checkpointMs: 100, note: () => {} });
process.stdout.write(`${JSON.stringify({ ready: true, size: journal.size, recovered: journal.recovered })}\n`);
let n = journal.size;
for (;;) {
  const entries = Array.from({ length: batch }, (_, i) => {
    const e = syntheticEntry(n + i);
    // Bigger bodies make the batch's single write long enough that a kill can land inside it.
    (e.body as Record<string, unknown>).padding = 'x'.repeat(2000);
    return e;
  });
  journal.append(entries);
  n += batch;
  const r = await journal.appendDurable({ kind: 'action', agentId: 'host-a', vmId: 'vm-1', actor: { name: 'alice' }, body: { step: 'asked', n } });
  n++;
  process.stdout.write(`${JSON.stringify({ durable: r.index, hash: r.hash })}\n`);
}
