// Fault campaign (issue 8): the cockpit — the browser shell's process, the same core as Electron, driven over its own
// API socket like the renderer — killed with SIGKILL mid-action (after action.accepted of a seizure, events
// streaming), mid-pull (a 256 MiB capture file coming over the agent link) and mid-export (copying a sealed package
// to a medium), then started again on the same data dir. Afterwards: the agent's action journal shows the request id
// began once; every event the agent stored is in the cockpit's journal; the pull resumes from its last synced byte
// and matches the agent's hashes; the cut-off export says so on the medium, resumes when asked again, and the copy
// verifies on its own; the source package is untouched.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { verifyPackage } from '../../evidence/verify.ts';
import { INCOMPLETE_MARKER } from '../../evidence/export.ts';
import type { AgentStatus, CockpitEvidenceStatus, CockpitSnapshot, EvidenceExportOutcome, EvidenceExportProgress, EvidencePackageSummary, EvidenceTransferProgress } from '../../protocol/index.ts';
import { digestTree, plantCapture } from '../helpers/evidence-store.ts';
import { record } from './campaign.ts';

const FAULT_VM = { id: 'vm-fault', name: 'fault-vm' };
import { CallError, FaultCockpit } from './fault-cockpit.ts';
import { assertSentence, FAULT_BOUNDED, FaultAgent, Received, tally, until, type SeqTally } from './fault-kit.ts';

const MiB = 1024 * 1024;

async function agentStatus(cockpit: FaultCockpit, agentId: string): Promise<AgentStatus | undefined> {
  return (await cockpit.call<CockpitSnapshot>('snapshot')).agents.find((a) => a.agentId === agentId);
}

/**
 * Stops the agent's stream (a restart that makes no new events), waits for the cockpit to hold everything, and
 * compares the event records in the cockpit's journal with the agent's log, by seq.
 */
async function journalTally(agent: FaultAgent, cockpit: FaultCockpit): Promise<SeqTally> {
  await agent.kill9();
  await agent.start(['--rate', '0']);
  let st: AgentStatus | undefined;
  await until(async () => {
    st = await agentStatus(cockpit, agent.agentId);
    return st?.link === 'connected' && st.agentLatestSeq !== undefined && st.lastSeq >= st.agentLatestSeq;
  }, 'the cockpit to hold every event the agent stored');
  // Events are journaled in batches a moment after they arrive: wait until the count stops moving.
  let seen = -1;
  let events = await cockpit.journal(['event'], agent.agentId);
  while (events.length !== seen) {
    seen = events.length;
    await new Promise((r) => setTimeout(r, 500));
    events = await cockpit.journal(['event'], agent.agentId);
  }
  const received = new Received();
  for (const e of events) received.add((e.record.body as { seq: number }).seq, '');
  const truth = new Map([...agent.eventLog().keys()].map((seq) => [seq, '']));
  return tally(truth, received.bySeq, st!.lastSeq);
}

test('cockpit killed (SIGKILL) mid-action (seize) while events stream: the seizure ran once, its result reaches the restarted journal; no event is missing or recorded twice', FAULT_BOUNDED, async (t) => {
  const agent = await FaultAgent.create(t, ['--vms', '3', '--rate', '300', '--no-logs']);
  await agent.start();
  const cockpit = new FaultCockpit(t, join(agent.dir, 'cockpit'), { agentId: agent.agentId, url: agent.url, tokenFile: agent.tokenFile });
  await cockpit.start();
  const vms = await until(async () => (await cockpit.call<CockpitSnapshot>('snapshot')).inventories.find((i) => i.agentId === agent.agentId && i.vms.length >= 3)?.vms, 'the inventory');
  await until(async () => ((await agentStatus(cockpit, agent.agentId))?.lastSeq ?? 0) > 300, 'events flowing into the cockpit');

  let killing: Promise<void> | undefined;
  cockpit.onPush = (p) => {
    if (p.type === 'action' && p.action.kind === 'seize' && p.action.phase === 'accepted' && !killing) killing = cockpit.kill9();
  };
  const { requestId } = await cockpit.call<{ requestId: string }>('act', { agentId: agent.agentId, vmId: vms[0]!.id, kind: 'seize', params: { caseId: 'FAULT-2' }, reason: 'fault campaign: kill the cockpit mid-seizure' });
  await until(() => killing !== undefined, 'action.accepted of the seizure');
  await killing;
  cockpit.onPush = undefined;
  // The seizure goes on on the agent without a cockpit: wait for its outcome in the agent's journal.
  await until(() => agent.actionBegins().get(requestId) === 1 && readFileSync(join(agent.dataDir, 'action-journal.jsonl'), 'utf8').includes(`"t":"end","requestId":"${requestId}"`), 'the seizure to finish on the agent');

  await cockpit.start();
  await until(async () => (await agentStatus(cockpit, agent.agentId))?.link === 'connected', 'the restarted cockpit to connect');
  // The ask was on disk before it was sent: the restarted cockpit's journal holds it, and the restarted hub asks the
  // agent again under the same request id, so the result (stored by the agent) reaches the journal too.
  const stepsOf = async () => (await cockpit.journal(['action'], agent.agentId))
    .filter((r) => (r.record.body as { requestId?: string }).requestId === requestId)
    .map((r) => (r.record.body as { step: string }).step);
  await until(async () => (await stepsOf()).includes('result'), 'the seizure\'s result in the restarted cockpit\'s journal');
  const steps = await stepsOf();
  assert.ok(steps.includes('asked'), 'the ask is in the journal');
  const r = await journalTally(agent, cockpit);
  await cockpit.stop();
  await agent.stop();

  const begins = agent.actionBegins();
  assert.equal(begins.get(requestId), 1, 'the seizure began once on the agent');
  assert.equal(begins.size, 1, 'nothing else ran');
  assert.ok(r.expected > 300, `events streamed (${r.expected})`);
  assert.equal(r.lost, 0, `every event the agent stored is in the cockpit's journal: ${r.examples.join('; ')}`);
  assert.equal(r.invented, 0);
  assert.equal(r.doubled, 0, 'the restarted cockpit resumed after the newest event its journal holds: none recorded twice');
  assert.equal(cockpit.crashes + agent.crashes, 0, 'no process ended on its own');
  const hasResult = steps.includes('result');
  record({
    campaign: 'fault', kind: 'cockpit killed (SIGKILL) mid-action', injected: cockpit.kills,
    eventsLost: r.lost, eventsDoubled: r.doubled, actionsDuplicated: (begins.get(requestId) ?? 0) - 1, crashes: cockpit.crashes + agent.crashes,
    outcome: `Killed after action.accepted of a seizure and restarted: the seizure began once on the agent and finished there; the restarted cockpit's journal holds the ask` +
      `${hasResult ? ' and the result, asked again under the same request id by the restarted hub' : ' but not the result'}; ` +
      `all ${r.expected} stored events are in the journal${r.doubled ? `, ${r.doubled} of them twice` : ' once each'}.`,
  });
});

test('cockpit killed (SIGKILL) mid-pull and mid-export: the pull resumes from its last synced byte; the export says it is incomplete, then resumes and verifies', FAULT_BOUNDED, async (t) => {
  const agent = await FaultAgent.create(t, ['--vms', '2', '--rate', '5', '--no-logs']);
  const captureId = 'cap-fault-0001';
  const memory = randomBytes(256 * MiB);
  plantCapture(join(agent.dataDir, 'actions'), captureId, { 'memory.elf': memory }, FAULT_VM);
  await agent.start();
  const cockpit = new FaultCockpit(t, join(agent.dir, 'cockpit'), { agentId: agent.agentId, url: agent.url, tokenFile: agent.tokenFile });
  await cockpit.start();
  await until(async () => (await agentStatus(cockpit, agent.agentId))?.link === 'connected', 'the cockpit to connect');

  // --- mid-pull: past the first saved state (transfer.json is written every 64 MiB acknowledged) ---
  let killing: Promise<void> | undefined;
  let heldAtKill = 0;
  cockpit.onPush = (p) => {
    if (p.type === 'evidence' && p.transfer?.state === 'pulling' && p.transfer.bytes > 72 * MiB && !killing) {
      heldAtKill = p.transfer.bytes;
      killing = cockpit.kill9();
    }
  };
  await cockpit.call('evidence.pull', { agentId: agent.agentId, captureId });
  await until(() => killing !== undefined, 'the pull to pass 72 MiB');
  await killing;
  cockpit.onPush = undefined;
  assert.ok(heldAtKill < memory.length, `killed part-way (${heldAtKill} of ${memory.length} bytes)`);
  const incoming = join(cockpit.dataDir, 'evidence', 'incoming', agent.agentId, captureId);
  assert.ok(existsSync(join(incoming, 'memory.elf.part')) && !existsSync(join(incoming, 'memory.elf')), 'the part file is there, nothing under the good name');

  await cockpit.start();
  await until(async () => (await agentStatus(cockpit, agent.agentId))?.link === 'connected', 'the restarted cockpit to connect');
  const status = await cockpit.call<CockpitEvidenceStatus>('evidence.status');
  assert.equal(status.captures.find((c) => c.capture.captureId === captureId)?.pulled, 'partial', 'the cockpit says the pull is partial');
  await cockpit.call('evidence.pull', { agentId: agent.agentId, captureId });
  const transfers = () => cockpit.pushes.flatMap((p) => (p.type === 'evidence' && p.transfer?.captureId === captureId ? [p.transfer] : []));
  const end = await until(() => transfers().find((p): p is EvidenceTransferProgress => p.state === 'done' || p.state === 'failed'), 'the resumed pull to end', 120_000);
  assert.equal(end.state, 'done', end.message);
  const state = JSON.parse(readFileSync(join(incoming, 'transfer.json'), 'utf8')) as { files: Record<string, { done: boolean; resumedFrom: number[] }> };
  const resumedFrom = state.files['memory.elf']!.resumedFrom;
  assert.ok(resumedFrom.length === 1 && resumedFrom[0]! >= 64 * MiB, `the pull resumed from its last synced byte, not from zero (${resumedFrom.join(', ')})`);
  assert.ok(readFileSync(join(incoming, 'memory.elf')).equals(memory), 'byte for byte what the agent holds');
  const afterPull = await journalTally(agent, cockpit);
  assert.equal(afterPull.lost, 0, `every event the agent stored is in the cockpit's journal: ${afterPull.examples.join('; ')}`);

  // --- mid-export ---
  const sealed = await cockpit.call<EvidencePackageSummary>('evidence.seal', {
    agentId: agent.agentId, captureId, caseNumber: 'FAULT-3', agency: 'Fault Campaign', responder: { name: 'Fault Campaign', role: 'responder' },
    place: 'the test bench', storageLocation: 'the cockpit under test',
  });
  const sourceBefore = digestTree(sealed.dir);
  const medium = join(agent.dir, 'medium');
  mkdirSync(medium);
  const target = join(medium, sealed.packageId);
  let exportKill: Promise<void> | undefined;
  cockpit.onPush = (p) => {
    if (p.type === 'evidence' && p.export?.phase === 'copy' && p.export.doneBytes > 0 && !exportKill) exportKill = cockpit.kill9();
  };
  const first = cockpit.call('evidence.export', { packageId: sealed.packageId, destination: medium }).then((v) => v, (e: Error) => e);
  await until(() => exportKill !== undefined, 'the export to start copying');
  await exportKill;
  cockpit.onPush = undefined;
  assert.ok((await first) instanceof CallError, 'the first export never answered: its cockpit died');
  const marker = join(target, INCOMPLETE_MARKER);
  assert.ok(existsSync(marker), 'the cut-off export says on the medium that it is incomplete');
  assertSentence(readFileSync(marker, 'utf8').split('\n')[0], 'the mark on the medium');
  assert.match(readFileSync(marker, 'utf8'), /do not use it as evidence.*Export the package again to this same folder to resume/s);
  assert.ok(!existsSync(join(target, 'VERIFY.txt')), 'not every file was written yet');

  await cockpit.start();
  const outcome = await cockpit.call<EvidenceExportOutcome>('evidence.export', { packageId: sealed.packageId, destination: medium });
  assert.equal(outcome.ok, true);
  assert.equal(outcome.target, target);
  const done = cockpit.pushes.flatMap((p) => (p.type === 'evidence' && p.export?.phase === 'done' ? [p.export] : [])) as EvidenceExportProgress[];
  const kept = /resumed an export that had been cut off: (\d+) file\(s\) already on the medium read back whole and matching/.exec(done.at(-1)?.message ?? '');
  assert.ok(kept, `the outcome says the export was resumed: ${done.at(-1)?.message}`);
  assert.ok(!existsSync(marker), 'the mark is gone once every file matched');
  // The copy on the medium stands on its own: the standalone checks, with the responder's key pinned.
  const fingerprint = (await cockpit.call<CockpitEvidenceStatus>('evidence.status')).identity.fingerprint;
  const verified = await verifyPackage(target, { trustedKeys: [fingerprint] });
  assert.equal(verified.ok, true, JSON.stringify(verified.findings.slice(0, 3)));
  assert.equal(digestTree(sealed.dir), sourceBefore, 'the source package is untouched');
  // A complete export is never overwritten: asked once more, it is refused in a sentence.
  await assert.rejects(cockpit.call('evidence.export', { packageId: sealed.packageId, destination: medium }), (err: unknown) => {
    assert.ok(err instanceof CallError && err.code === 'target_exists', String(err));
    assertSentence(err.message, 'the refusal to overwrite');
    return true;
  });
  const r = await journalTally(agent, cockpit);
  await cockpit.stop();
  await agent.stop();
  assert.equal(r.lost, 0, `every event the agent stored is in the cockpit's journal: ${r.examples.join('; ')}`);
  assert.equal(r.doubled, 0, 'each restart resumed after the newest event the journal holds: none recorded twice');
  assert.equal(cockpit.crashes + agent.crashes, 0, 'no process ended on its own');
  const crashes = cockpit.crashes + agent.crashes;
  const events = (x: SeqTally, doubled: number) => `; the journal holds all ${x.expected} events the agent stored${doubled ? ` (${doubled} more copies after this restart)` : ', once each'}`;
  record({
    campaign: 'fault', kind: 'cockpit killed (SIGKILL) mid-pull', injected: 1, eventsLost: afterPull.lost, eventsDoubled: afterPull.doubled, actionsDuplicated: 0, crashes,
    outcome: `Killed at ${Math.round(heldAtKill / MiB)} of 256 MiB; after the restart the capture showed as partially pulled, and pulling it again resumed from byte ${resumedFrom[0]} (its last saved, synced offset) and ended matching the agent's SHA-256 and SHA-1${events(afterPull, afterPull.doubled)}.`,
  });
  record({
    campaign: 'fault', kind: 'cockpit killed (SIGKILL) mid-export', injected: 1, eventsLost: r.lost, eventsDoubled: r.doubled - afterPull.doubled, actionsDuplicated: 0, crashes,
    outcome: `Killed while copying a sealed package to the medium: the folder there held ${INCOMPLETE_MARKER} saying in a sentence not to use it and how to resume; exporting again resumed it (${kept[1]} file(s) already there kept after reading back whole and matching, the rest copied), the copy verified on its own with the responder's key, and the source package was untouched${events(r, r.doubled - afterPull.doubled)}.`,
  });
});
