// Fault campaign (issue 8): the medium fills up during an export. The test makes its own small media — a 32 MiB
// tmpfs and a 32 MiB ext4 image on a loop device (root; CI runs as root) — and exports a sealed 48 MiB package to each
// through the real cockpit process, as a responder would. The export stops with a sentence that says the medium is
// full; nothing on the medium is left looking like a finished copy; the cockpit's journal records the failure with
// the same sentence; the source package is untouched; and the same export to a medium with room succeeds and
// verifies on its own.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { INCOMPLETE_MARKER } from '../../evidence/export.ts';
import { verifyPackage } from '../../evidence/verify.ts';
import type { CockpitEvidenceStatus, CockpitSnapshot, EvidenceExportOutcome, EvidencePackageSummary, EvidenceTransferProgress } from '../../protocol/index.ts';
import { digestTree, plantCapture } from '../helpers/evidence-store.ts';
import { record } from './campaign.ts';

const FAULT_VM = { id: 'vm-fault', name: 'fault-vm' };
import { cleanup } from '../agent/helpers.ts';
import { CallError, FaultCockpit } from './fault-cockpit.ts';
import { assertSentence, FAULT_BOUNDED, FaultAgent, until } from './fault-kit.ts';

const MiB = 1024 * 1024;

function run(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.toString().trim() || e.message}. The disk-full case makes its own small medium and needs root (CI runs as root).`);
  }
}

/** A small file system the test owns, mounted at a fresh folder, unmounted and removed after the test. */
function smallMedium(t: TestContext, dir: string, kind: 'tmpfs' | 'ext4', sizeMiB: number): string {
  const at = join(dir, `medium-${kind}`);
  mkdirSync(at);
  if (kind === 'tmpfs') {
    run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0755`, 'tmpfs', at]);
  } else {
    const image = join(dir, 'medium.ext4');
    writeFileSync(image, Buffer.alloc(0));
    run('truncate', ['-s', `${sizeMiB}M`, image]);
    run('mkfs.ext4', ['-q', '-F', '-m', '0', image]);
    run('mount', ['-o', 'loop', image, at]);
  }
  // Through the harness's cleanup stack: unmounted before the temp folder holding it is removed.
  cleanup(t, () => {
    try {
      execFileSync('umount', [at], { stdio: 'ignore' });
    } catch {
      execFileSync('umount', ['-l', at], { stdio: 'ignore' });
    }
    rmSync(at, { recursive: true, force: true });
  });
  return at;
}

function usedBytes(at: string): number {
  const s = statfsSync(at);
  return (s.blocks - s.bfree) * s.bsize;
}

test('the medium fills up during an export (32 MiB tmpfs, 32 MiB ext4 on a loop device): a sentence says so, nothing is claimed, a retry with room succeeds', FAULT_BOUNDED, async (t) => {
  const agent = await FaultAgent.create(t, ['--vms', '2', '--rate', '0', '--no-logs']);
  const captureId = 'cap-fault-full';
  // Two files, so that the first fits and the second does not: the medium fills in the middle of the export.
  plantCapture(join(agent.dataDir, 'actions'), captureId, { 'disk.raw': randomBytes(20 * MiB), 'memory.elf': randomBytes(28 * MiB) }, FAULT_VM);
  await agent.start();
  const cockpit = new FaultCockpit(t, join(agent.dir, 'cockpit'), { agentId: agent.agentId, url: agent.url, tokenFile: agent.tokenFile });
  await cockpit.start();
  await until(async () => (await cockpit.call<CockpitSnapshot>('snapshot')).agents[0]?.link === 'connected', 'the cockpit to connect');
  await cockpit.call('evidence.pull', { agentId: agent.agentId, captureId });
  const pulled = await until(() => cockpit.pushes.flatMap((p) => (p.type === 'evidence' && p.transfer?.state && ['done', 'failed'].includes(p.transfer.state) ? [p.transfer] : [])).at(0) as EvidenceTransferProgress | undefined, 'the pull');
  assert.equal(pulled.state, 'done', pulled.message);
  const sealed = await cockpit.call<EvidencePackageSummary>('evidence.seal', {
    agentId: agent.agentId, captureId, caseNumber: 'FAULT-4', agency: 'Fault Campaign', responder: { name: 'Fault Campaign', role: 'responder' },
    place: 'the test bench', storageLocation: 'the cockpit under test',
  });
  assert.ok(sealed.bytes > 48 * MiB, `the package (${sealed.bytes} bytes) is bigger than either medium`);
  const sourceBefore = digestTree(sealed.dir);

  const outcomes: string[] = [];
  let injected = 0;
  for (const kind of ['tmpfs', 'ext4'] as const) {
    const medium = smallMedium(t, agent.dir, kind, 32);
    const usedBefore = usedBytes(medium);
    const pushesBefore = cockpit.pushes.length;
    injected++;
    const err = await cockpit.call('evidence.export', { packageId: sealed.packageId, destination: medium }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof CallError, `the export to a full ${kind} failed (${String(err)})`);
    assert.equal(err.code, 'write_failed', err.message);
    assertSentence(err.message, `the ${kind} export's error`);
    assert.match(err.message, /the medium is full/, `the sentence names the cause: ${err.message}`);
    assert.match(err.message, new RegExp(medium.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')), 'the sentence names where it was writing');
    assert.match(err.message, /source is untouched/);
    assert.match(err.message, /export again to a medium with at least \d+ MiB free/, 'the sentence says what to do');
    const failed = cockpit.pushes.slice(pushesBefore).flatMap((p) => (p.type === 'evidence' && p.export?.phase === 'failed' ? [p.export] : []));
    assert.equal(failed.length, 1, 'the view is told once');
    assert.equal(failed[0]!.message, err.message, 'in the same sentence');
    assert.ok(!cockpit.pushes.slice(pushesBefore).some((p) => p.type === 'evidence' && p.export?.phase === 'done'), 'nothing claimed done');
    // Nothing on the medium looks like a finished copy: the incomplete copy was removed (or, if not, still says so).
    const target = join(medium, sealed.packageId);
    assert.ok(!existsSync(target) || existsSync(join(target, INCOMPLETE_MARKER)), 'no unmarked partial copy on the medium');
    assert.ok(!existsSync(target), 'the incomplete copy was removed, freeing the medium');
    assert.ok(usedBytes(medium) <= usedBefore + 64 * 1024, `the medium is as empty as before (${usedBytes(medium)} vs ${usedBefore} bytes used)`);
    const summary = (await cockpit.call<CockpitEvidenceStatus>('evidence.status')).packages.find((p) => p.packageId === sealed.packageId);
    assert.equal(summary?.lastExport, undefined, 'no export is recorded as done');
    outcomes.push(`${kind}: "${err.message}"`);
  }
  const custody = (await cockpit.journal(['custody'])).map((r) => r.record.body as { step: string; details?: { message?: string } });
  const journaled = custody.filter((b) => b.step === 'export-failed');
  assert.equal(journaled.length, injected, 'each failure is in the journal');
  assert.ok(journaled.every((b) => /the medium is full/.test(b.details?.message ?? '')));
  assert.equal(digestTree(sealed.dir), sourceBefore, 'the source package is untouched');

  // The same export to a medium with room.
  const roomy = join(agent.dir, 'roomy');
  mkdirSync(roomy);
  const ok = await cockpit.call<EvidenceExportOutcome>('evidence.export', { packageId: sealed.packageId, destination: roomy });
  assert.equal(ok.ok, true);
  const fingerprint = (await cockpit.call<CockpitEvidenceStatus>('evidence.status')).identity.fingerprint;
  const verified = await verifyPackage(ok.target, { trustedKeys: [fingerprint] });
  assert.equal(verified.ok, true, JSON.stringify(verified.findings.slice(0, 3)));
  assert.ok(!existsSync(join(ok.target, INCOMPLETE_MARKER)));
  assert.equal(digestTree(sealed.dir), sourceBefore, 'the source package is still untouched');
  await cockpit.stop();
  await agent.stop();
  const crashes = cockpit.crashes + agent.crashes;
  assert.equal(crashes, 0, 'no process ended on its own');
  record({
    campaign: 'fault', kind: 'disk full during export', injected, eventsLost: 0, eventsDoubled: 0, actionsDuplicated: 0, crashes,
    outcome: `A ${Math.round(sealed.bytes / MiB)} MiB package exported to a 32 MiB tmpfs and to a 32 MiB ext4 image: each stopped with write_failed in a sentence (${outcomes.join('; ')}), ` +
      'told to the view once and journaled, the incomplete copy removed and nothing recorded as exported; the source untouched; the same export to a medium with room succeeded and verified on its own.',
  });
});
