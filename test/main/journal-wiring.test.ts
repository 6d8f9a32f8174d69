// The cockpit's journal, wired: the journal's own thread (JournalHost), the hub recording every event and every
// action step through it, the journal calls the views make, and the Electron build's bundled worker. Real parts:
// a real sim agent process for the lab, real files, real worker threads.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ActionRecord, CockpitLogsPage, CockpitPush, FeedEvent, JournalHealth, JournalPage } from '../../protocol/index.ts';
import { recordSettings, startCockpit, type Cockpit } from '../../main/cockpit.ts';
import { CockpitCallError } from '../../main/cockpit-service.ts';
import { JournalHost } from '../../main/journal/host.ts';
import { eventEntry, JournalError, loadOrCreateSealedKey, verifyJournal, type Sealer } from '../../main/journal/index.ts';
import { DEFAULT_SETTINGS, tokenFileSource } from '../../main/settings.ts';
import { nodeAgentSpawner } from '../../main/node-spawner.ts';
import { ROOT, tempDir, waitFor } from '../helpers/processes.ts';
import { threatEvent } from '../helpers/events.ts';

const key = () => generateKeyPairSync('ed25519').privateKey;
const feedEvent = (agentId: string, seq: number, overrides: Parameters<typeof threatEvent>[2] = {}): FeedEvent => ({ agentId, seq, event: threatEvent(agentId, seq, overrides), receivedAt: Date.now() });

describe('the journal on its own thread', () => {
  it('appends in order, makes an ask durable, answers queries, verifies, and reopens with everything', async () => {
    const dir = tempDir('jhost');
    try {
      const k = key();
      const host = await JournalHost.open({ dir: dir.path, key: k, checkpointMs: 0, note: () => {} });
      const events = Array.from({ length: 2500 }, (_, i) => feedEvent('hv-1', i + 1, { vmId: `vm-${i % 5}` }));
      for (let i = 0; i < events.length; i += 500) host.append(events.slice(i, i + 500).map(eventEntry));
      const at = await host.appendDurable({ kind: 'action', agentId: 'hv-1', vmId: 'vm-1', actor: { name: 'dana' }, body: { step: 'asked', requestId: 'req-00000001' } });
      // Records are written in the order they were handed over: the ask comes after the 2,500 events (and the
      // journal's own opening records).
      assert.ok(at.index >= 2500, `the ask is record ${at.index}`);
      const page = await host.query({ vmId: 'vm-1', kind: 'event', limit: 1000 });
      assert.equal(page.records.length, 500, 'every event about vm-1');
      assert.ok(page.records.every((r) => r.record.vmId === 'vm-1' && r.record.kind === 'event'));
      const status = await host.status();
      assert.equal(status.size, at.index + 1);
      assert.equal(status.inFlight, 0);
      assert.match(status.keyFingerprint, /^SHA256:/);
      const report = await host.verify();
      assert.equal(report.status, 'verified', JSON.stringify(report.problems));
      assert.equal((await host.status()).verification?.status, 'verified');
      await host.close();
      assert.throws(() => host.append([]), (e: unknown) => e instanceof JournalError && e.code === 'journal_closed');
      const again = await JournalHost.open({ dir: dir.path, key: k, checkpointMs: 0, note: () => {} });
      assert.ok((await again.status()).size > at.index, 'reopened with every record');
      await again.close();
      assert.equal((await verifyJournal(dir.path, { workers: 0 })).status, 'verified');
    } finally {
      dir.remove();
    }
  });

  it('refuses a second writer on the same folder with the journal\'s own sentence', async () => {
    const dir = tempDir('jhost-lock');
    try {
      const first = await JournalHost.open({ dir: dir.path, key: key(), checkpointMs: 0, note: () => {} });
      await assert.rejects(JournalHost.open({ dir: dir.path, key: key(), checkpointMs: 0, note: () => {} }), (e: unknown) => e instanceof JournalError && e.code === 'journal_locked' && e.message.length > 20);
      await first.close();
    } finally {
      dir.remove();
    }
  });

  it('runs from the Electron build\'s bundled worker (CommonJS, no TypeScript loader)', async () => {
    execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/build-shell.ts')], { cwd: ROOT, stdio: 'ignore' });
    const workerPath = join(ROOT, 'dist/electron/journal-worker.cjs');
    assert.ok(existsSync(workerPath) && statSync(workerPath).size > 1000);
    const dir = tempDir('jhost-bundled');
    try {
      const host = await JournalHost.open({ dir: dir.path, key: key(), checkpointMs: 0, workerPath, note: () => {} });
      host.append([eventEntry(feedEvent('hv-1', 1))]);
      await host.appendDurable({ kind: 'settings', actor: { name: 'dana' }, body: { key: 'lab.rate', to: 10 } });
      assert.equal((await host.verify()).status, 'verified');
      await host.close();
    } finally {
      dir.remove();
    }
  });

  it('keeps the responder\'s key sealed by the keychain, and never as plain settings; seals it anew when the keychain asks', async () => {
    const dir = tempDir('jkey');
    try {
      const stored = new Map<string, string>();
      // A stand-in for safeStorage's asynchronous API (unit level): sealing must be reversible and must not leave the
      // seed readable. Its first byte is the keychain's key version; a seal made under an older version still opens,
      // and says it wants sealing again, as decryptStringAsync's shouldReEncrypt does after a key rotation.
      let version = 1;
      const xor = (b: Buffer, k: number): Buffer => Buffer.from([...b].map((x) => x ^ k));
      const sealer: Sealer = {
        available: () => Promise.resolve(true),
        seal: (t) => Promise.resolve(Buffer.concat([Buffer.from([version]), xor(Buffer.from(t), 0x5a + version)])),
        unseal: (b) => Promise.resolve({ plain: xor(b.subarray(1), 0x5a + b[0]!).toString(), reseal: b[0] !== version }),
      };
      const warnings: string[] = [];
      const o = { sealer, read: () => stored.get('k'), write: (s: string) => void stored.set('k', s), fallbackPath: join(dir.path, 'journal-key.pem'), warn: (l: string) => warnings.push(l) };
      const a = await loadOrCreateSealedKey(o);
      const first = stored.get('k')!;
      const b = await loadOrCreateSealedKey(o);
      assert.deepEqual(a.export({ format: 'jwk' }), b.export({ format: 'jwk' }), 'the same key comes back');
      assert.equal(stored.get('k'), first, 'an up-to-date seal is left as it is');
      const seedHex = Buffer.from(String(a.export({ format: 'jwk' }).d), 'base64url').toString('hex');
      assert.ok(!Buffer.from(first, 'base64').toString().includes(seedHex), 'the stored value is not the seed');
      version = 2;
      const rotated = await loadOrCreateSealedKey(o);
      assert.deepEqual(rotated.export({ format: 'jwk' }), a.export({ format: 'jwk' }), 'the same key after the keychain rotated');
      assert.notEqual(stored.get('k'), first, 'sealed anew under the new version');
      assert.equal(Buffer.from(stored.get('k')!, 'base64')[0], 2);
      assert.equal(existsSync(o.fallbackPath), false);
      // A keychain that cannot open the seal: a sentence, not a new key in its place.
      await assert.rejects(loadOrCreateSealedKey({ ...o, sealer: { ...sealer, unseal: () => Promise.reject(new Error('locked')) } }), /could not unseal the journal's signing key/);
      assert.equal(Buffer.from(stored.get('k')!, 'base64')[0], 2, 'the seal is kept');
      // No keychain: a 0600 file, said loudly.
      const noChain = await loadOrCreateSealedKey({ ...o, sealer: { ...sealer, available: () => Promise.resolve(false) } });
      assert.ok(noChain);
      assert.equal(statSync(o.fallbackPath).mode & 0o777, 0o600);
      assert.match(warnings.join('\n'), /no OS keychain/);
    } finally {
      dir.remove();
    }
  });
});

describe('the cockpit journals what it receives and what it does', () => {
  const dir = tempDir('jwired');
  let cockpit: Cockpit;
  const pushes: CockpitPush[] = [];

  before(async () => {
    cockpit = await startCockpit({
      settings: { ...DEFAULT_SETTINGS, agents: [], lab: { vms: 4, rate: 200 }, responder: { name: 'Dana Scully', role: 'responder' } },
      secrets: tokenFileSource, spawnAgent: nodeAgentSpawner, dataDir: dir.path, journal: { checkpointMs: 500 }, log: () => {},
    });
    cockpit.service.onPush((p) => pushes.push(p));
  });

  after(async () => {
    await cockpit?.close();
    dir.remove();
  });

  const call = <T>(method: string, params: unknown) => cockpit.service.call(method, params) as Promise<T>;

  it('journals every event the hub passes on, with its agent, VM, severity and seq', async () => {
    await waitFor(() => cockpit.hub.snapshot().events.length >= 50, 'events from the lab', 30_000);
    const shown = cockpit.hub.snapshot().events.slice(0, 20);
    for (const fe of shown) {
      const page = await waitForPage(() => call<JournalPage>('journal.query', { kind: ['event'], agentId: [fe.agentId], vmId: [fe.event.vmId], limit: 1000 }),
        (p) => p.records.some((r) => (r.record.body as { seq?: number }).seq === fe.seq));
      const rec = page.records.find((r) => (r.record.body as { seq?: number }).seq === fe.seq)!;
      assert.equal(rec.record.severity, fe.event.severity);
      assert.deepEqual((rec.record.body as { event: unknown }).event, fe.event, 'the event as received');
    }
  });

  it('journals an action\'s ask before it is sent, then each step, with the actor and the reason', async () => {
    const vm = cockpit.hub.snapshot().inventories[0]!.vms.find((v) => v.state === 'running')!;
    const agentId = cockpit.hub.snapshot().inventories[0]!.agentId;
    const { requestId } = await call<{ requestId: string }>('act', { agentId, vmId: vm.id, kind: 'freeze', params: {}, reason: 'beacon to 203.0.113.7' });
    await waitFor(() => pushes.some((p) => p.type === 'action' && p.action.requestId === requestId && p.action.phase === 'done'), 'the freeze done', 15_000);
    const page = await waitForPage(() => call<JournalPage>('journal.query', { kind: ['action'], vmId: [vm.id], text: requestId, limit: 100 }),
      (p) => p.records.some((r) => (r.record.body as { step?: string }).step === 'result'));
    const steps = [...page.records].reverse().map((r) => ({ index: r.record.index, step: (r.record.body as { step: string }).step, action: (r.record.body as { action: ActionRecord }).action, actor: r.record.actor }));
    assert.equal(steps[0]!.step, 'asked', `the first step journaled is the ask: ${steps.map((s) => s.step).join(', ')}`);
    assert.ok(steps.some((s) => s.step === 'accepted'));
    assert.equal(steps.at(-1)!.step, 'result');
    assert.ok(steps.every((s, i) => i === 0 || s.index > steps[i - 1]!.index), 'in the order they happened');
    assert.equal(steps[0]!.actor?.name, 'Dana Scully');
    assert.equal(steps[0]!.action.reason, 'beacon to 203.0.113.7');
    assert.equal(steps.at(-1)!.action.state, 'frozen');
    assert.equal(steps.at(-1)!.action.ok, true);
  });

  it('opens a seizure\'s chain of custody: the files and their hashes, by whom, for which case', async () => {
    const inv = cockpit.hub.snapshot().inventories[0]!;
    const vm = inv.vms.find((v) => v.state === 'running')!;
    const { requestId } = await call<{ requestId: string }>('act', { agentId: inv.agentId, vmId: vm.id, kind: 'seize', params: { caseId: 'CASE-2026-0042' }, reason: 'escape attempt; keep the memory' });
    await waitFor(() => pushes.some((p) => p.type === 'action' && p.action.requestId === requestId && p.action.phase === 'done'), 'the seizure done', 30_000);
    const page = await waitForPage(() => call<JournalPage>('journal.query', { kind: ['custody'], vmId: [vm.id], limit: 10 }), (p) => p.records.length > 0);
    assert.equal(page.records.length, 1);
    const c = page.records[0]!.record;
    const body = c.body as { step: string; caseId: string; details: { requestId: string; files: { path: string; sha256: string; sha1: string }[] } };
    assert.equal(body.step, 'seized');
    assert.equal(body.caseId, 'CASE-2026-0042');
    assert.equal(body.details.requestId, requestId);
    assert.ok(body.details.files.length > 0 && body.details.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256) && /^[0-9a-f]{40}$/.test(f.sha1)), 'every file with its SHA-256 and SHA-1');
    assert.equal(c.actor?.name, 'Dana Scully');
  });

  it('records the settings in effect, once, and again when they change', async () => {
    const settings = await waitForPage(() => call<JournalPage>('journal.query', { kind: ['settings'], limit: 10 }), (p) => p.records.length > 0);
    assert.equal(settings.records.length, 1);
    const body = settings.records[0]!.record.body as { key: string; to: { responder: { name: string }; lab: { vms: number } } };
    assert.equal(body.key, 'effective');
    assert.equal(body.to.responder.name, 'Dana Scully');
    assert.equal(body.to.lab.vms, 4);
    const base = { ...DEFAULT_SETTINGS, agents: [], lab: { vms: 4, rate: 200 }, responder: { name: 'Dana Scully', role: 'responder' } };
    assert.equal(await recordSettings(cockpit.journal, base, { name: 'Dana Scully' }), false, 'the same settings are not recorded twice');
    assert.equal(await recordSettings(cockpit.journal, { ...base, windowSize: 50_000 }, { name: 'Dana Scully' }), true);
    const after = await call<JournalPage>('journal.query', { kind: ['settings'], limit: 10 });
    const change = after.records[0]!.record.body as { from: { windowSize: number }; to: { windowSize: number } };
    assert.equal(change.from.windowSize, DEFAULT_SETTINGS.windowSize);
    assert.equal(change.to.windowSize, 50_000);
  });

  it('pulls one VM\'s logs from its agent, and names a wrong query', async () => {
    const inv = cockpit.hub.snapshot().inventories[0]!;
    const vm = inv.vms[0]!;
    const page = await waitForPage(() => call<CockpitLogsPage>('logs.query', { agentId: inv.agentId, vmId: vm.id, limit: 50 }), (p) => p.records.length > 0);
    assert.equal(page.agentId, inv.agentId);
    assert.ok(page.records.length > 0, 'the lab VM has log lines (boot, console, hypervisor)');
    assert.ok(page.records.every((r) => r.vmId === vm.id), 'only that VM\'s');
    await assert.rejects(call('logs.query', { agentId: 'nowhere' }), (e: unknown) => e instanceof CockpitCallError && e.code === 'unknown_agent');
    await assert.rejects(call('logs.query', { agentId: inv.agentId, from: '2026-11-23T06:00:00.000Z', to: '2026-11-23T05:00:00.000Z' }), (e: unknown) => e instanceof CockpitCallError && e.code === 'bad_query' && e.message.length > 10);
    await assert.rejects(call('logs.query', { agentId: inv.agentId, limit: 0 }), (e: unknown) => e instanceof CockpitCallError && e.code === 'bad_params');
  });

  it('answers status and verification, and refuses a malformed query with a sentence', async () => {
    const status = await call<JournalHealth>('journal.status', {});
    assert.ok(status.size > 50);
    assert.match(status.keyFingerprint, /^SHA256:/);
    const verified = await call<JournalHealth>('journal.verify', {});
    assert.equal(verified.verification?.status === 'verified' || verified.verification?.status === 'unsigned_tail', true, JSON.stringify(verified.verification));
    assert.deepEqual(verified.verification?.problems, []);
    await assert.rejects(call('journal.query', { kind: ['everything'] }), (e: unknown) => e instanceof CockpitCallError && e.code === 'bad_params' && /journal query/.test(e.message));
    await assert.rejects(call('journal.query', { limit: 5000 }), (e: unknown) => e instanceof CockpitCallError && e.code === 'bad_params');
    await assert.rejects(call('journal.status', { x: 1 }), (e: unknown) => e instanceof CockpitCallError && e.code === 'bad_params');
  });

  it('signs a last checkpoint on close, and the journal verifies whole on disk', async () => {
    await cockpit.close();
    const report = await verifyJournal(join(dir.path, 'journal'), { workers: 0 });
    assert.equal(report.status, 'verified', JSON.stringify(report.problems));
    assert.ok(report.signedRecords === report.records, 'every record under a signature');
  });
});

async function waitForPage<P>(ask: () => Promise<P>, ok: (p: P) => boolean, timeoutMs = 10_000): Promise<P> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const p = await ask();
    if (ok(p) || Date.now() > until) return p;
    await new Promise((r) => setTimeout(r, 100));
  }
}
