// Consoles through main, with real parts: the built-in lab (a real sim agent process and its simulated shells), the
// hub's real WebSocket link, the journal on its own thread. A console opens on a lab VM, answers `ps` with that VM's
// processes, floods with `yes` and is paused while the view draws nothing (bounded), resumes as the view acknowledges,
// is recorded as asciicast and journaled with the recording's hash; a frozen VM's console is read-only.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CockpitConsoleRecordings, CockpitPush, ConsoleSession, JournalPage } from '../../protocol/index.ts';
import { startCockpit, type Cockpit } from '../../main/cockpit.ts';
import { CockpitCallError } from '../../main/cockpit-service.ts';
import { HIGH_WATER } from '../../main/console/console-hub.ts';
import { DEFAULT_SETTINGS, tokenFileSource } from '../../main/settings.ts';
import { nodeAgentSpawner } from '../../main/node-spawner.ts';
import { tempDir, waitFor } from '../helpers/processes.ts';

describe('consoles through main on the built-in lab', () => {
  const dir = tempDir('console-relay');
  let cockpit: Cockpit;
  const output = new Map<string, Buffer[]>();
  const closed = new Map<string, string>();
  const call = <T>(method: string, params: unknown) => cockpit.service.call(method, params) as Promise<T>;
  const text = (sessionId: string) => Buffer.concat(output.get(sessionId) ?? []).toString('utf8');
  const bytes = (sessionId: string) => (output.get(sessionId) ?? []).reduce((n, b) => n + b.byteLength, 0);

  before(async () => {
    cockpit = await startCockpit({
      settings: { ...DEFAULT_SETTINGS, agents: [], lab: { vms: 4, rate: 5 }, responder: { name: 'Dana Scully', role: 'responder' } },
      secrets: tokenFileSource, spawnAgent: nodeAgentSpawner, dataDir: dir.path, journal: { checkpointMs: 500 }, log: () => {},
    });
    cockpit.service.onPush((p: CockpitPush) => {
      if (p.type === 'console') output.set(p.sessionId, [...(output.get(p.sessionId) ?? []), Buffer.from(p.data, 'base64')]);
      if (p.type === 'console.closed') closed.set(p.sessionId, p.reason);
    });
    await waitFor(() => cockpit.hub.snapshot().inventories[0]?.vms.length, 'the lab\'s inventory', 20_000);
  });

  after(async () => {
    await cockpit?.close();
    dir.remove();
  });

  const runningVm = () => {
    const inv = cockpit.hub.snapshot().inventories[0]!;
    return { agentId: inv.agentId, vm: inv.vms.find((v) => v.state === 'running')! };
  };

  it('opens, answers ps with the VM\'s processes, floods under flow control, records and journals it', async () => {
    const { agentId, vm } = runningVm();
    const session = await call<ConsoleSession>('console.open', { agentId, vmId: vm.id, cols: 120, rows: 40 });
    assert.equal(session.readOnly, false);
    assert.equal(session.kind, 'sim-shell');
    const id = session.sessionId;
    await call('console.input', { sessionId: id, data: 'ps\r' });
    await waitFor(() => /PID/.test(text(id)) && /\r\n.*\$ $|# $/m.test(text(id).slice(text(id).lastIndexOf('ps'))), 'ps answered', 10_000);
    assert.match(text(id), /PID/);

    // A flood the view does not draw: main pauses the agent; what it holds stays bounded.
    const before = bytes(id);
    await call('console.input', { sessionId: id, data: 'yes\r' });
    await waitFor(() => cockpit.consoles.flowOf(id)?.paused, 'the agent paused', 10_000);
    await new Promise((r) => setTimeout(r, 500));
    const held = cockpit.consoles.flowOf(id)!;
    assert.ok(held.unacked <= HIGH_WATER + 4 * 1024 * 1024 + 64 * 1024, `pushed and not drawn: ${held.unacked} bytes, bounded by main's mark and the agent's socket buffer`);
    const stalled = bytes(id);
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(bytes(id) - stalled <= 4 * 1024 * 1024 + 64 * 1024, 'while paused, at most what was already in flight arrives');
    // The view draws everything: the agent resumes, and the flood goes on.
    await call('console.ack', { sessionId: id, bytes: bytes(id) });
    await waitFor(() => cockpit.consoles.flowOf(id)?.paused === false, 'resumed', 5_000);
    const resumedAt = bytes(id);
    await waitFor(() => bytes(id) > resumedAt + 64 * 1024, 'the flood resumed', 10_000);
    await call('console.input', { sessionId: id, data: '\x03' });
    assert.ok(bytes(id) > before, 'the flood reached the view');
    assert.match(text(id).slice(before, before + 2000), /^(?:.*\r?\n)?(y\r\n)+/, 'unbroken lines of y');

    await call('console.close', { sessionId: id });
    await waitFor(() => closed.get(id), 'console.closed pushed', 5_000);
    assert.equal(closed.get(id), 'Closed by the responder.');

    const recordings = await call<CockpitConsoleRecordings>('console.recordings', { vmId: vm.id });
    const rec = recordings.recordings.find((r) => r.recordingId === session.recordingId)!;
    assert.equal(rec.actor.name, 'Dana Scully');
    const file = join(dir.path, 'recordings', `${session.recordingId}.cast`);
    assert.equal(rec.sha256, createHash('sha256').update(readFileSync(file)).digest('hex'));
    const cast = (await call<{ cast: string }>('console.recording', { recordingId: session.recordingId })).cast;
    const events = cast.trimEnd().split('\n').slice(1).map((l) => JSON.parse(l) as [number, string, string]);
    assert.ok(events.some(([, code, data]) => code === 'i' && data === 'ps\r'), 'what the responder typed');
    assert.ok(events.some(([, code, data]) => code === 'o' && data.includes('PID')), 'what the guest printed');

    const journal = await waitFor(async () => {
      const page = await call<JournalPage>('journal.query', { kind: ['console'], vmId: [vm.id], limit: 10 });
      return page.records.length >= 2 ? page : undefined;
    }, 'console opened and closed journaled', 10_000);
    const steps = journal.records.map((r) => r.record.body as { step: string; sessionId: string; recording?: { sha256: string } });
    assert.deepEqual(steps.map((s) => s.step).sort(), ['closed', 'opened']);
    assert.equal(steps.find((s) => s.step === 'closed')?.recording?.sha256, rec.sha256, 'the journal names the recording by its hash');
    assert.equal(journal.records[0]!.record.actor?.name, 'Dana Scully');
  });

  it('opens a frozen VM read-only, with the reason, and refuses its input', async () => {
    const { agentId, vm } = runningVm();
    const { requestId } = await call<{ requestId: string }>('act', { agentId, vmId: vm.id, kind: 'freeze', params: {}, reason: 'keep it as it is' });
    await waitFor(() => cockpit.hub.actionRecords().find((a) => a.requestId === requestId && a.phase === 'done'), 'frozen', 15_000);
    const session = await call<ConsoleSession>('console.open', { agentId, vmId: vm.id, cols: 80, rows: 24 });
    assert.equal(session.readOnly, true);
    assert.match(session.reason ?? '', /frozen/);
    await assert.rejects(call('console.input', { sessionId: session.sessionId, data: 'rm -rf /\r' }), (e: unknown) => e instanceof CockpitCallError && e.code === 'read_only');
    await call('console.close', { sessionId: session.sessionId });
    await assert.rejects(call('console.input', { sessionId: session.sessionId, data: 'x' }), (e: unknown) => e instanceof CockpitCallError && e.code === 'unknown_session');
  });

  it('closes the consoles a view opened when that view goes, and only those', async () => {
    const { agentId, vm } = runningVm();
    const pageA = {};
    const pageB = {};
    const a = await cockpit.service.call('console.open', { agentId, vmId: vm.id, cols: 80, rows: 24 }, pageA) as ConsoleSession;
    const b = await cockpit.service.call('console.open', { agentId, vmId: vm.id, cols: 80, rows: 24 }, pageB) as ConsoleSession;
    cockpit.service.clientGone(pageA);
    await waitFor(() => closed.get(a.sessionId), 'page A\'s console closed', 5_000);
    assert.match(closed.get(a.sessionId)!, /went away/);
    assert.equal(closed.has(b.sessionId), false, 'page B\'s console stays open');
    assert.ok(cockpit.consoles.flowOf(b.sessionId), 'and is still held');
    await call('console.close', { sessionId: b.sessionId });
  });

  it('names a console that cannot be opened', async () => {
    await assert.rejects(call('console.open', { agentId: 'nowhere', vmId: 'vm-1', cols: 80, rows: 24 }), (e: unknown) => e instanceof CockpitCallError && e.code === 'unknown_agent');
    const { agentId } = runningVm();
    await assert.rejects(call('console.open', { agentId, vmId: 'no-such-vm', cols: 80, rows: 24 }), (e: unknown) => e instanceof CockpitCallError && e.code === 'unknown_vm' && e.message.length > 10);
    await assert.rejects(call('console.open', { agentId, vmId: 'x', cols: 1, rows: 24 }), (e: unknown) => e instanceof CockpitCallError && e.code === 'bad_params');
  });
});
