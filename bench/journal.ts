// bench:journal — the journal's figures: append rate with durable action records mixed in, bulk append, export
// and import of a 1-million-record bundle (and a re-import that must add nothing), verification rate, filtered
// queries over 10 million records (p50/p99), reopen time and disk bytes per record.
//
//   npm run bench:journal [-- --records 10000000] [--field 1000000] [--dir DIR] [--keep]
//
// With --keep the journals stay in DIR; a later run with the same --dir reuses them and measures only what reads
// them (reopen, queries, verification, disk), e.g. again when the machine is quieter.
//
// Events are realistic: the sim's background noise and scripted attacks over 10 hosts × 40 VMs. Rates are given per
// wall-clock second and per CPU second of this process: on a shared machine the second is the one that compares.
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FeedEvent } from '../protocol/index.ts';
import { exportBundle, importBundle, verifyBundle } from '../main/journal/bundle.ts';
import { actionEntry, eventEntry } from '../main/journal/entries.ts';
import { Journal } from '../main/journal/journal.ts';
import type { JournalQuery } from '../main/journal/query.ts';
import type { JournalEntry } from '../main/journal/record.ts';
import { journalBytes, verifyJournal } from '../main/journal/verify.ts';
import { newKey, simFeed, T0 } from '../test/journal/fixtures.ts';
import { percentile } from './lib.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const num = (name: string, d: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const TOTAL = num('records', 10_000_000);
const FIELD = num('field', 1_000_000);
const base = args.includes('--dir') ? args[args.indexOf('--dir') + 1]! : mkdtempSync(join(tmpdir(), 'cordon-bench-journal-'));
const results: Record<string, string | number> = {};
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

/** Wall and CPU time of a phase. */
async function timed<T>(what: string, run: () => Promise<T> | T): Promise<{ value: T; wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await run();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  process.stderr.write(`  ${what}: ${wall.toFixed(1)} s wall, ${cpu.toFixed(1)} s CPU\n`);
  return { value, wall, cpu };
}

/** FeedEvents from a pool of realistic ones, renumbered: making them must not cost more than journaling them. */
function feed(agents = 10): () => FeedEvent {
  const pool = [...simFeed(50_000, agents)];
  const seqs = new Map<string, number>();
  let i = 0;
  return () => {
    const p = pool[i % pool.length]!;
    const seq = (seqs.get(p.agentId) ?? 0) + 1;
    seqs.set(p.agentId, seq);
    const t = T0 + i++;
    return { agentId: p.agentId, seq, receivedAt: t, event: { ...p.event, id: `${p.agentId}-e${seq}`, time: new Date(t).toISOString() } };
  };
}

async function main(): Promise<void> {
  const reuse = existsSync(join(base, 'soc', 'journal.json')) && existsSync(join(base, 'field.bundle'));
  process.stderr.write(reuse
    ? `bench:journal reusing the journals in ${base}\n`
    : `bench:journal in ${base} (${fmt(TOTAL)} records, a ${fmt(FIELD)}-record field journal)\n`);
  if (!reuse) await build();
  await measureReads();
  report();
}

/** Phases 1-4: write the field journal, export it, write the SOC journal, import the field bundle into it. */
async function build(): Promise<void> {
  const next = feed();

  // 1. The field laptop: events in hub-sized batches (1,000), and with every batch a durable action record, as the
  // hub will write them: the action waits for its fdatasync before it is sent; the event stream does not wait.
  const field = await Journal.open({ dir: join(base, 'field'), signer: newKey(), checkpointMs: 5000, note: () => {} });
  const durableMs: number[] = [];
  const BATCH = 1000;
  /** Time spent inside the journal's calls, without making the events (the agent's and the hub's work). */
  let inAppend = 0;
  const appended = await timed('append (field, with durable actions)', async () => {
    let n = 0;
    const inFlight: Promise<void>[] = [];
    while (n < FIELD) {
      const batch: JournalEntry[] = [];
      for (let i = 0; i < BATCH - 1; i++) batch.push(eventEntry(next()));
      const a0 = performance.now();
      field.append(batch);
      const t = performance.now();
      inAppend += t - a0;
      inFlight.push(field.appendDurable(actionEntry('asked', {
        requestId: `req-${n}`, agentId: 'sim-1', vmId: batch[0]!.vmId!, kind: 'isolate', params: { mode: 'cut' },
        actor: { name: 'alice', role: 'responder', cockpit: 'field-1' }, reason: 'beaconing', requestedAt: new Date().toISOString(), phase: 'sending',
      })).then(() => {
        durableMs.push(performance.now() - t);
      }));
      inAppend += performance.now() - t;
      n += BATCH;
      // Let fdatasync completions run between batches, as the event loop does between the hub's frames.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await Promise.all(inFlight);
    return n;
  });
  durableMs.sort((a, b) => a - b);
  results['append with durable actions, journal calls only (records/s)'] = fmt(appended.value / (inAppend / 1000));
  results['append with durable actions (records/s wall)'] = fmt(appended.value / appended.wall);
  results['append with durable actions (records/s per CPU s)'] = fmt(appended.value / appended.cpu);
  results['appendDurable latency p50 / p99 (ms)'] = `${percentile(durableMs, 50).toFixed(1)} / ${percentile(durableMs, 99).toFixed(1)}`;
  await field.checkpoint();

  // 2. Export it as a bundle (read back and verified, as for removable media).
  const bundleFile = join(base, 'field.bundle');
  const exported = await timed('export bundle', () => exportBundle(field, bundleFile, { readBack: false }));
  results['export 1M bundle (records/s wall)'] = fmt(exported.value.records / exported.wall);
  results['bundle bytes per record'] = fmt(exported.value.bytes / exported.value.records);
  const bundleCheck = await timed('verify bundle', () => verifyBundle(bundleFile));
  if (bundleCheck.value.status !== 'verified') throw new Error(`The bundle does not verify: ${JSON.stringify(bundleCheck.value.problems[0])}`);
  results['verify bundle, one thread (records/s wall)'] = fmt(bundleCheck.value.records / bundleCheck.wall);
  await field.close();

  // 3. The SOC journal: bulk events to TOTAL minus what the import will bring.
  const soc = await Journal.open({ dir: join(base, 'soc'), signer: newKey(), checkpointMs: 5000, note: () => {} });
  const bulkTarget = Math.max(0, TOTAL - exported.value.records);
  let inBulk = 0;
  const bulk = await timed('append (SOC, bulk)', () => {
    for (let n = 0; n < bulkTarget; n += 10_000) {
      const batch: JournalEntry[] = [];
      for (let i = 0; i < Math.min(10_000, bulkTarget - n); i++) batch.push(eventEntry(next()));
      const a0 = performance.now();
      soc.append(batch);
      inBulk += performance.now() - a0;
    }
    return bulkTarget;
  });
  results['bulk append, journal calls only (records/s)'] = fmt(bulk.value / (inBulk / 1000));
  results['bulk append (records/s wall)'] = fmt(bulk.value / bulk.wall);
  results['bulk append (records/s per CPU s)'] = fmt(bulk.value / bulk.cpu);

  // 4. Import the field bundle into it, then again (must add nothing).
  const imported = await timed('import 1M bundle', () => importBundle(soc, bundleFile));
  results['import + merge 1M bundle (s wall / CPU s)'] = `${imported.wall.toFixed(1)} / ${imported.cpu.toFixed(1)}`;
  results['import + merge (records/s wall)'] = fmt(imported.value.added / imported.wall);
  const again = await timed('re-import (all duplicates)', () => importBundle(soc, bundleFile));
  if (again.value.added !== 0) throw new Error(`A second import added ${again.value.added} records.`);
  results['re-import of the same bundle, 0 added (s wall)'] = again.wall.toFixed(1);
  await soc.close();
}

const perShape: string[] = [];

/** Phases 5-8: reopen, query, verify, measure the disk. */
async function measureReads(): Promise<void> {

  // 5. Reopen (full segments from their index files, the last one rebuilt).
  const reopened = await timed('reopen', () => Journal.open({ dir: join(base, 'soc'), signer: newKey(), checkpointMs: 0, note: () => {} }));
  const j = reopened.value;
  results['reopen a 10M journal (ms)'] = fmt(reopened.wall * 1000);
  results['records in the SOC journal'] = fmt(j.size);

  // 6. Queries.
  const sample = Array.from({ length: 40 }, (_, k) => j.get(Math.floor((k + 0.5) * (j.size / 40))).record);
  const vms = [...new Set(sample.map((r) => r.vmId).filter((v): v is string => !!v))];
  const agents = [...new Set(sample.map((r) => r.agentId).filter((v): v is string => !!v))];
  const lastTime = j.get(j.size - 10).record.time;
  const hour = 3_600_000;
  const shapes: [string, (k: number) => JournalQuery][] = [
    ['one VM', (k) => ({ vmId: vms[k % vms.length]! })],
    ['one VM + word', (k) => ({ vmId: vms[k % vms.length]!, text: ['sshd', 'cron', 'dns', 'apt'][k % 4]! })],
    ['agent + severity ≥ high + 1 h', (k) => ({ agentId: agents[k % agents.length]!, minSeverity: 'high', from: lastTime - (k + 1) * hour, to: lastTime - k * hour })],
    ['actions by an actor', () => ({ kind: 'action', actor: 'alice' })],
    ['rare word (whole journal)', (k) => ({ text: ['dconf', 'soffice', 'ssh-keyscan', 'escape'][k % 4]! })],
    ['phrase', () => ({ text: '"203.0.113.66"' })],
    ['common word + 10 min', (k) => ({ text: 'cron', from: lastTime - (k + 1) * 600_000, to: lastTime - k * 600_000 })],
    ['VM + critical', (k) => ({ vmId: vms[k % vms.length]!, severity: 'critical' })],
    ['nothing matches', (k) => ({ vmId: `vm-none-${k}`, text: 'curl' })],
  ];
  // Wall time, and this process's CPU time: on a shared machine a query descheduled for 100 ms says nothing of it.
  const all: number[] = [];
  const allCpu: number[] = [];
  for (const [name, make] of shapes) {
    const times: number[] = [];
    for (let k = 0; k < 24; k++) {
      const q = make(k);
      const c0 = process.cpuUsage();
      const t = performance.now();
      const page = j.query({ ...q, limit: 100 });
      if (page.next && k % 3 === 0) j.query({ ...q, limit: 100, before: page.next });
      times.push(performance.now() - t);
      const c = process.cpuUsage(c0);
      allCpu.push((c.user + c.system) / 1000);
    }
    times.sort((a, b) => a - b);
    all.push(...times);
    perShape.push(`${name}: p50 ${percentile(times, 50).toFixed(1)} ms, p99 ${percentile(times, 99).toFixed(1)} ms`);
  }
  all.sort((a, b) => a - b);
  allCpu.sort((a, b) => a - b);
  results[`filtered query over ${fmt(j.size)} records, p50 / p99 (ms)`] = `${percentile(all, 50).toFixed(1)} / ${percentile(all, 99).toFixed(1)}`;
  results['the same queries, CPU time, p50 / p99 (ms)'] = `${percentile(allCpu, 50).toFixed(1)} / ${percentile(allCpu, 99).toFixed(1)}`;
  await j.close();

  // 7. Verification of the whole SOC journal.
  const verified = await timed('verify SOC journal', () => verifyJournal(join(base, 'soc')));
  if (verified.value.status !== 'verified') throw new Error(`The journal does not verify: ${JSON.stringify(verified.value.problems[0])}`);
  results['verify journal (records/s wall, worker threads)'] = fmt(verified.value.records / verified.wall);
  results['verify journal (records/s per CPU s, all threads)'] = fmt(verified.value.records / verified.cpu);

  // 8. Disk.
  const socDir = join(base, 'soc');
  const total = journalBytes(socDir);
  let rec = 0;
  let idx = 0;
  for (const name of readdirSync(join(socDir, 'segments'))) {
    const size = statSync(join(socDir, 'segments', name)).size;
    if (name.endsWith('.rec')) rec += size;
    else if (name.endsWith('.idx')) idx += size;
  }
  results['disk bytes per record (records + chain / index / total)'] = `${fmt(rec / verified.value.records)} / ${fmt(idx / verified.value.records)} / ${fmt(total / verified.value.records)}`;
}

function report(): void {
  process.stdout.write('\nbench:journal\n');
  for (const [k, v] of Object.entries(results)) process.stdout.write(`  ${k.padEnd(62)} ${v}\n`);
  process.stdout.write('  queries by shape (each 24 runs, some with a second page):\n');
  for (const s of perShape) process.stdout.write(`    ${s}\n`);
  process.stdout.write(`${JSON.stringify({ bench: 'journal', ...results })}\n`);
}

try {
  await main();
} finally {
  if (!flag('keep')) rmSync(base, { recursive: true, force: true });
}
