// The evidence desk through the cockpit API on the built-in lab (a real sim agent process, the hub's real WebSocket,
// the journal on its thread): a simulated VM seized, its capture listed and pulled, sealed into a package that says
// it was simulated, handed over, verified, exported with read-back; refusals in plain words (sealing before the pull,
// sanitising before the handover, an export to a folder that does not exist, a bad package id); the sanitisation of
// the agent's copies; and every step in the journal.
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ActionRecord, CockpitEvidenceStatus, EvidenceExportOutcome, EvidencePackageSummary, EvidenceVerifyOutcome, SanitisationReport } from '../../protocol/index.ts';
import { startCockpit, type Cockpit } from '../../main/cockpit.ts';
import { CockpitCallError } from '../../main/cockpit-service.ts';
import { DEFAULT_SETTINGS, tokenFileSource } from '../../main/settings.ts';
import { nodeAgentSpawner } from '../../main/node-spawner.ts';
import { verifyPackage } from '../../evidence/verify.ts';
import type { Manifest } from '../../evidence/format.ts';
import { tempDir, waitFor } from '../helpers/processes.ts';

describe('the evidence desk on the built-in lab', () => {
  const dir = tempDir('evidence-desk');
  let cockpit: Cockpit;
  const call = <T>(method: string, params: unknown) => cockpit.service.call(method, params) as Promise<T>;
  let agentId: string;
  let vmId: string;
  let captureId: string;
  let pkg: EvidencePackageSummary;

  const act = async (kind: string, reason: string, params: Record<string, unknown> = {}): Promise<ActionRecord> => {
    const { requestId } = await call<{ requestId: string }>('act', { agentId, vmId, kind, params, reason });
    return waitFor(() => {
      const rec = cockpit.hub.snapshot().actions?.find((a) => a.requestId === requestId);
      return rec && ['done', 'failed', 'rejected'].includes(rec.phase) ? rec : undefined;
    }, `the ${kind} to end`, 30_000);
  };
  const refusal = async (method: string, params: unknown): Promise<CockpitCallError> => {
    try {
      await call(method, params);
    } catch (err) {
      assert.ok(err instanceof CockpitCallError, String(err));
      return err;
    }
    assert.fail(`${method} was not refused`);
  };

  before(async () => {
    cockpit = await startCockpit({
      settings: { ...DEFAULT_SETTINGS, agents: [], lab: { vms: 4, rate: 5 }, responder: { name: 'Dana Scully', role: 'responder' } },
      secrets: tokenFileSource, spawnAgent: nodeAgentSpawner, dataDir: dir.path, journal: { checkpointMs: 500 }, log: () => {},
    });
    const inv = await waitFor(() => cockpit.hub.snapshot().inventories[0]?.vms.find((v) => v.state === 'running') ? cockpit.hub.snapshot().inventories[0] : undefined, 'the lab\'s inventory', 20_000);
    agentId = inv.agentId;
    vmId = inv.vms.find((v) => v.state === 'running')!.id;
  });

  after(async () => {
    await cockpit?.close();
    dir.remove();
  });

  it('shows the responder\'s key, and how it is kept, in its settings part', async () => {
    const s = await call<CockpitEvidenceStatus>('evidence.status', {});
    assert.match(s.identity.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal(s.identity.fingerprint, cockpit.evidence.fingerprint);
    assert.equal(s.identity.protection, 'key-file');
    assert.match(s.identity.warning ?? '', /plain file .* not sealed by an OS keychain/);
  });

  it('lists a seizure\'s capture on the agent, pulls it, and refuses to seal before the pull', async () => {
    const seized = await act('seize', 'Suspicious macro; seize for the case', { caseId: 'CASE-LAB-1' });
    assert.equal(seized.phase, 'done');
    captureId = seized.requestId;
    let s = await call<CockpitEvidenceStatus>('evidence.status', {});
    const c = s.captures.find((x) => x.capture.captureId === captureId)!;
    assert.equal(c.pulled, 'no');
    assert.equal(c.capture.simulated, true);
    assert.equal(c.capture.caseId, 'CASE-LAB-1');
    assert.equal(c.capture.actor?.name, 'Dana Scully');
    const early = await refusal('evidence.seal', { agentId, captureId, caseNumber: 'CASE-LAB-1', agency: 'Lab', responder: { name: 'Dana Scully', role: 'responder' }, place: 'Lab', storageLocation: '' });
    assert.equal(early.code, 'not_pulled');

    await call('evidence.pull', { agentId, captureId });
    const done = await cockpit.evidence.pulled(agentId, captureId);
    assert.equal(done?.state, 'done', done?.message);
    s = await call<CockpitEvidenceStatus>('evidence.status', {});
    assert.equal(s.captures.find((x) => x.capture.captureId === captureId)?.pulled, 'yes');
  });

  it('seals a package that says the VM was simulated, hands it over, and verifies it', async () => {
    pkg = await call<EvidencePackageSummary>('evidence.seal', {
      agentId, captureId, caseNumber: 'CASE-LAB-1', agency: 'Training unit', responder: { name: 'Dana Scully', role: 'responder' }, place: 'Lab bench 3', storageLocation: '',
    });
    assert.equal(pkg.simulated, true);
    const manifest = JSON.parse(readFileSync(join(pkg.dir, 'manifest.json'), 'utf8')) as Manifest;
    assert.equal(manifest.item.simulated, true);
    assert.ok(manifest.item.vm.macs.length > 0, 'the VM\'s MACs are in the item identity');
    assert.ok(manifest.files.some((f) => f.path === 'evidence/memory.elf' && f.source === 'agent'));
    assert.ok(manifest.files.some((f) => f.path === 'evidence/journal-slice.cordon-bundle' && f.source === 'cockpit'));
    const twice = await refusal('evidence.seal', { agentId, captureId, caseNumber: 'CASE-LAB-1', agency: 'Training unit', responder: { name: 'Dana Scully', role: 'responder' }, place: 'Lab', storageLocation: '' });
    assert.equal(twice.code, 'already_sealed');

    const notYet = await refusal('evidence.sanitise', { packageId: pkg.packageId, reason: 'too early' });
    assert.equal(notYet.code, 'not_handed_over');

    pkg = await call<EvidencePackageSummary>('evidence.handover', {
      packageId: pkg.packageId, from: { name: 'Dana Scully', role: 'responder' }, to: { name: 'Fox Mulder', role: 'case officer', agency: 'FBI' },
      location: 'Lab bench 3', storageLocation: 'Locker 7', reason: 'Analysis',
    });
    assert.equal(pkg.custody.length, 2);
    const v = await call<EvidenceVerifyOutcome>('evidence.verify', { packageId: pkg.packageId });
    assert.equal(v.ok, true, JSON.stringify(v.findings));
    assert.deepEqual(v.signers, [cockpit.evidence.fingerprint]);
    const independent = await verifyPackage(pkg.dir, { trustedKeys: [cockpit.evidence.fingerprint] });
    assert.equal(independent.ok, true);
  });

  it('exports to a folder with read-back and VERIFY.txt; a folder that does not exist is refused', async () => {
    const missing = await refusal('evidence.export', { packageId: pkg.packageId, destination: join(dir.path, 'no-such-usb') });
    assert.equal(missing.code, 'bad_destination');
    const usb = join(dir.path, 'usb');
    mkdirSync(usb);
    const out = await call<EvidenceExportOutcome>('evidence.export', { packageId: pkg.packageId, destination: usb });
    assert.equal(out.ok, true);
    assert.ok(existsSync(join(usb, pkg.packageId, 'VERIFY.txt')));
    assert.match(readFileSync(join(usb, pkg.packageId, 'VERIFY.txt'), 'utf8'), /THIS VM WAS SIMULATED/);
    const again = await refusal('evidence.export', { packageId: pkg.packageId, destination: usb });
    assert.match(again.message, /exists/);
    const copy = await verifyPackage(join(usb, pkg.packageId), { trustedKeys: [cockpit.evidence.fingerprint] });
    assert.equal(copy.ok, true, JSON.stringify(copy.findings));
  });

  it('sanitises the agent\'s copies only once the VM is terminated, and journals every step', async () => {
    const running = await refusal('evidence.sanitise', { packageId: pkg.packageId, reason: 'clearing' });
    assert.equal(running.code, 'not_terminated');
    assert.equal((await act('terminate', 'Handed over; clearing')).phase, 'done');
    const report = await call<SanitisationReport>('evidence.sanitise', { packageId: pkg.packageId, reason: 'Handed over; clearing the lab host' });
    assert.equal(report.ok, true, JSON.stringify(report, null, 2));
    assert.ok(report.files.some((f) => f.path.endsWith('memory.elf') && f.verified && f.removed));
    assert.ok(report.limits.some((l) => /simulated/.test(l)));
    const s = await call<CockpitEvidenceStatus>('evidence.status', {});
    assert.ok(s.captures.find((x) => x.capture.captureId === captureId)?.capture.sanitised, 'the agent lists the capture as sanitised');
    assert.ok(s.packages.find((p) => p.packageId === pkg.packageId)?.sanitisation?.ok);

    const bad = await refusal('evidence.verify', { packageId: '../etc' });
    assert.equal(bad.code, 'bad_params');
    const steps = (await cockpit.journal.query({ kind: 'custody', limit: 100 })).records.map((r) => (r.record.body as { step: string }).step);
    for (const step of ['pull-started', 'pulled', 'sealed', 'handover', 'verified', 'exported', 'sanitise-asked', 'sanitised']) assert.ok(steps.includes(step), `journaled: ${step} (${steps.join(', ')})`);
  });
});
