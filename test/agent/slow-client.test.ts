// A cockpit that stops reading must not make the agent's memory grow with what it has not read: the agent keeps
// only a cursor per connection, stops at a high-water mark, and later catches the reader up from its event log.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { EventMessage } from '../../protocol/index.ts';
import { agentArgs, BOUNDED, firstBreak, sleep, spawnAgent, tempDir, TestCockpit } from './helpers.ts';
import { record } from '../security/campaign.ts';

/** Resident set size of a process in MiB, from /proc (Linux). */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const linux = process.platform === 'linux';

/** What a queue per connection would have to hold, in MiB, for `events` unread events of ~550 bytes. */
const queuedMiB = (events: number) => (events * 550) / (1024 * 1024);
/** How much the agent's RSS may grow while a reader sleeps, once its heap has reached its working size. */
// The agent's own swings (GC, the event log's buffers) reach 51 MiB on a loaded CI machine; what is held back for an
// unbounded queue is the whole unread backlog, over 2 × this in the time watched. Node 22 and later size V8's young
// generation from the heap limit (semi-spaces of up to 64 MiB here, 16 MiB on Node 20): in the first seconds of a
// burst the agent's RSS climbs about 130 MiB to its working size and then stays flat, however much goes unread (seen
// over 20 s and 665 MiB unread). So the baseline is taken after a settling time, and the watch comes after it.
const BOUND_MIB = 80;

test('a paused reader at 60,000 events/s leaves the agent\'s RSS bounded, then catches up from the log', { ...BOUNDED, skip: !linux && 'reads /proc' }, async (t) => {
  const dir = tempDir(t);
  const agent = await spawnAgent(t, agentArgs(dir, ['--rate', '60000']));
  const pid = agent.ready.pid;
  const slow = await TestCockpit.open(t, agent.ready.url, { validate: false });
  slow.send({ type: 'subscribe', since: 0 });
  await slow.events(1000);
  // Stop reading: the socket stays open, the kernel buffers fill, and the agent must stop at its high-water mark.
  slow.ws.pause();
  const pausedAt = await latestSeq(t, agent.ready.url);
  // The baseline is the agent already running flat out with the reader asleep, its heap grown to its working size,
  // so GC's swings are in both figures.
  let baseline = 0;
  for (let i = 0; i < 20; i++) {
    await sleep(200);
    if (i >= 10) baseline = Math.max(baseline, rssMiB(pid));
  }
  const watchedFrom = await latestSeq(t, agent.ready.url);
  let peak = baseline;
  for (let i = 0; i < 40; i++) {
    await sleep(200);
    peak = Math.max(peak, rssMiB(pid));
  }
  const latest = await latestSeq(t, agent.ready.url);
  const unread = latest - pausedAt;
  const unreadWatched = latest - watchedFrom;
  assert.ok(queuedMiB(unreadWatched) > 2 * BOUND_MIB, `the agent kept producing while the reader slept and RSS was watched (${unreadWatched} events, ~${queuedMiB(unreadWatched).toFixed(0)} MiB)`);
  assert.ok(peak - baseline < BOUND_MIB, `RSS grew from ${baseline.toFixed(0)} to ${peak.toFixed(0)} MiB while ~${queuedMiB(unreadWatched).toFixed(0)} MiB went unread`);
  t.diagnostic(`RSS ${baseline.toFixed(0)} → ${peak.toFixed(0)} MiB while ${unreadWatched} events (~${queuedMiB(unreadWatched).toFixed(0)} MiB) went unread, ${unread} in all`);

  // Reading again, the client gets everything it missed, in order, from the log.
  slow.ws.resume();
  const t0 = Date.now();
  const target = pausedAt + unread;
  await slow.next((m) => m.type === 'event' && m.seq >= target, 30_000, `event ${target}`);
  t.diagnostic(`caught up in ${Date.now() - t0} ms`);
  const seqs = slow.received.filter((m): m is EventMessage => m.type === 'event').map((e) => e.seq);
  assert.equal(seqs[0], 1);
  assert.equal(firstBreak(seqs), -1, 'caught up with no seq missing or doubled');
  assert.equal(slow.received.filter((m) => m.type === 'gap').length, 0);
  record({ campaign: 'bad-input', target: 'agent: slow client (a reader that stops reading)', kind: 'paused reader while 60,000 events/s are produced', tried: 1, refused: 0, crashes: 0,
    outcome: `RSS grew ${(peak - baseline).toFixed(0)} MiB (bound ${BOUND_MIB}) while ${unreadWatched} events went unread in the time watched (${unread} in all); the reader then caught up from the log with no seq missing or doubled.` });
});

async function latestSeq(t: Parameters<typeof TestCockpit.open>[0], url: string): Promise<number> {
  const probe = await TestCockpit.open(t, url);
  const hello = await probe.nextOfType('hello');
  probe.close();
  return hello.latestSeq;
}
