// A real QEMU micro-VM seized end to end, through the cockpit's own parts: the agent captures it (memory as an ELF
// core, its qcow2 disk copied raw), the cockpit pulls the capture over a real WebSocket — cut in the middle and
// resumed from the last synced byte — seals a signed package, records a handover, exports it to a "removable"
// folder with read-back, and the standalone cordon-verify passes on the copy; then each tampering of the copy fails
// with its own message; the affidavit's text shows the hashes; and once the VM is terminated, the agent's
// sanitisation leaves no original byte in the files it names.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { startAgent, type RunningAgent } from '../../agent/agent.ts';
import { parseQemuConfig } from '../../agent/drivers/qemu-config.ts';
import { QemuDriver } from '../../agent/drivers/qemu.ts';
import { labAppend, labImage } from '../../agent/qemu/lab-guest.ts';
import { startCockpit, type Cockpit } from '../../main/cockpit.ts';
import { DEFAULT_SETTINGS } from '../../main/settings.ts';
import type { ActionRecord, CockpitEvidenceStatus, CockpitPush, EvidencePackageSummary, EvidenceExportOutcome, SanitisationReport } from '../../protocol/index.ts';
import { parseCustody } from '../../evidence/custody.ts';
import type { Manifest } from '../../evidence/format.ts';
import { waitFor } from '../helpers/processes.ts';
import { Cleanup, ensureLabImage } from './helpers.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const TOKEN = 'evidence-qemu-token-0123456789';
const AGENT_ID = 'qemu-evidence';
const VM_ID = 'docview-07';
const MEMORY_MIB = 256;
const DISK_MARKER = 'CORDON-EVIDENCE-DISK-MARKER-7f3a';

const cleanup = new Cleanup();
let dir: string;
let agent: RunningAgent;
let driver: QemuDriver;
let cockpit: Cockpit;
const pushes: CockpitPush[] = [];
const call = <T>(method: string, params: unknown) => cockpit.service.call(method, params) as Promise<T>;

async function verifyCli(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, [join(ROOT, 'bin', 'cordon-verify.js'), ...args], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: `${e.stdout}${e.stderr}` };
  }
}

async function act(kind: 'seize' | 'terminate', reason: string, params: Record<string, unknown> = {}): Promise<ActionRecord> {
  const { requestId } = await call<{ requestId: string }>('act', { agentId: AGENT_ID, vmId: VM_ID, kind, params, reason });
  return waitFor(() => {
    const rec = cockpit.hub.snapshot().actions?.find((a) => a.requestId === requestId);
    return rec && (rec.phase === 'done' || rec.phase === 'failed' || rec.phase === 'rejected') ? rec : undefined;
  }, `the ${kind} to end`, 120_000);
}

before(async () => {
  ensureLabImage();
  dir = mkdtempSync('/tmp/cqev-');
  cleanup.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const image = labImage();
  const workDir = join(dir, 'q');
  driver = new QemuDriver(parseQemuConfig({
    workDir,
    vms: [{
      id: VM_ID, name: VM_ID, memoryMiB: MEMORY_MIB, vcpus: 1, accel: 'tcg', kernel: image.kernel, initramfs: image.initramfs,
      append: labAppend({ hostname: VM_ID }), disk: { path: join(workDir, `${VM_ID}.qcow2`), format: 'qcow2', sizeMiB: 32 },
      image: 'busybox lab guest', tags: ['lab'],
    }],
  }), AGENT_ID);
  cleanup.add('destroy the driver\'s VMs', () => driver.destroy());
  agent = await startAgent({ token: TOKEN, driver, dataDir: join(dir, 'agent'), agentId: AGENT_ID, logs: false, note: () => {} });
  cleanup.add('close the agent', () => agent.close());
  cockpit = await startCockpit({
    settings: { ...DEFAULT_SETTINGS, agents: [{ agentId: AGENT_ID, label: 'hv-lyon-03', url: agent.url }], responder: { name: 'A. Moreau', role: 'incident responder' } },
    secrets: { tokenFor: () => TOKEN }, dataDir: join(dir, 'cockpit'), journal: { checkpointMs: 500 }, log: () => {},
    spawnAgent: () => { throw new Error('no lab in this test'); },
  });
  cleanup.add('close the cockpit', () => cockpit.close());
  cockpit.service.onPush((p) => { if (p.type === 'evidence') pushes.push(p); });
  await waitFor(() => cockpit.hub.snapshot().inventories.find((i) => i.agentId === AGENT_ID)?.vms.find((v) => v.id === VM_ID && v.state === 'running'), 'the VM running', 60_000);
});
after(() => cleanup.run());

describe('a real QEMU VM seized end to end', { timeout: 600_000 }, () => {
  let pkg: EvidencePackageSummary;
  let exported: EvidenceExportOutcome;
  let fingerprint: string;
  let captureId: string;
  const exportRoot = () => join(dir, 'usb');

  test('seize, pull with a forced cut and resume, seal, hand over, export with read-back; cordon-verify passes', async () => {
    // What the intruder left on the VM's disk, written by the guest itself through its console (block 100 of
    // /dev/vda): the seized disk image must hold it, and the sanitisation must leave nothing of it.
    const session = await call<{ sessionId: string }>('console.open', { agentId: AGENT_ID, vmId: VM_ID, cols: 120, rows: 40 });
    const console = [] as Buffer[];
    const off = cockpit.service.onPush((p) => { if (p.type === 'console' && p.sessionId === session.sessionId) console.push(Buffer.from(p.data, 'base64')); });
    // Typed only once the guest's shell prompts: what is typed while it boots is lost.
    await waitFor(async () => {
      await call('console.input', { sessionId: session.sessionId, data: '\r' });
      await new Promise((r) => setTimeout(r, 300));
      return /docview-07:\/# $/m.test(Buffer.concat(console).toString('latin1').replaceAll('\u001b[6n', ''));
    }, 'the guest\'s shell prompt', 60_000, 200);
    await call('console.input', { sessionId: session.sessionId, data: `printf '${DISK_MARKER}' | dd of=/dev/vda bs=512 seek=100 conv=fsync 2>&1 | grep -q '^0+1 records out' && echo WROTE-$((6*7))\r` });
    await waitFor(() => Buffer.concat(console).toString('latin1').includes('WROTE-42'), 'the guest to write its disk', 30_000);
    off();
    const consoleText = Buffer.concat(console).toString('latin1');
    await call('console.close', { sessionId: session.sessionId });

    const seized = await act('seize', 'Macro dropper beaconing to 203.0.113.50; seize for the police', { caseId: 'CASE-2026-0412' });
    assert.equal(seized.phase, 'done', JSON.stringify(seized));
    captureId = seized.requestId;

    const status = await call<CockpitEvidenceStatus>('evidence.status', {});
    fingerprint = status.identity.fingerprint;
    const listed = status.captures.find((c) => c.capture.captureId === captureId)!;
    assert.ok(listed, 'the agent lists the capture');
    assert.equal(listed.pulled, 'no');
    const memory = listed.capture.files.find((f) => f.path === 'memory.elf')!;
    assert.ok(memory.size > MEMORY_MIB * 1024 * 1024 * 0.9, `memory.elf holds the guest's RAM (${memory.size} bytes)`);
    assert.ok(listed.capture.files.some((f) => f.path === 'disk.raw'));

    // The cut: once a third of the capture is here, the cockpit's link to the agent drops (the socket really
    // closes), and comes back 300 ms later.
    const link = cockpit.hub.linkOf(AGENT_ID)!;
    let cutAt = -1;
    const third = listed.capture.bytes / 3;
    const watch = cockpit.service.onPush((p) => {
      if (p.type !== 'evidence' || !p.transfer || cutAt >= 0 || p.transfer.state !== 'pulling' || p.transfer.bytes < third) return;
      cutAt = p.transfer.bytes;
      link.stop();
      setTimeout(() => link.start(), 300);
    });
    await call('evidence.pull', { agentId: AGENT_ID, captureId });
    const done = await cockpit.evidence.pulled(AGENT_ID, captureId);
    watch();
    assert.equal(done?.state, 'done', done?.message);
    assert.ok(cutAt > 0, 'the link was cut during the pull');
    assert.ok(done!.resumes >= 1, `the pull resumed after the cut (${done!.resumes})`);
    assert.match(done!.message, /resumed from its last synced byte/);
    const progress = pushes.filter((p) => p.type === 'evidence' && p.transfer?.state === 'pulling').map((p) => (p as { transfer: { bytesPerSec: number; etaSeconds?: number } }).transfer);
    assert.ok(progress.some((p) => p.bytesPerSec > 0 && p.etaSeconds !== undefined), 'progress carried a throughput and a time left');
    // The pull is journaled with every file's SHA-256, as the agent captured it.
    const journal = await cockpit.journal.query({ kind: 'custody', vmId: VM_ID, limit: 100 });
    const pulled = journal.records.find((r) => (r.record.body as { step?: string }).step === 'pulled');
    assert.equal((pulled?.record.body as { details: { sha256: Record<string, string> } }).details.sha256['memory.elf'], memory.sha256);

    pkg = await call<EvidencePackageSummary>('evidence.seal', {
      agentId: AGENT_ID, captureId, caseNumber: 'CASE-2026-0412', agency: 'Police nationale, OCLCTIC', exhibit: 'PN-7',
      responder: { name: 'A. Moreau', role: 'incident responder', agency: 'CERT-Lyon' }, place: 'Server room B, Lyon', storageLocation: '',
    });
    assert.equal(pkg.custody.length, 1);
    assert.equal(pkg.custody[0]!.kind, 'seizure');
    const manifest = JSON.parse(readFileSync(join(pkg.dir, 'manifest.json'), 'utf8')) as Manifest;
    assert.equal(manifest.files.find((f) => f.path === 'evidence/memory.elf')?.sha256, memory.sha256, 'the package holds the bytes the agent captured');
    assert.ok(manifest.files.some((f) => f.path === 'evidence/journal-slice.cordon-bundle'));
    assert.ok(manifest.files.some((f) => f.path === 'evidence/events.jsonl'));
    assert.ok(manifest.files.some((f) => f.path === 'evidence/capture-manifest.json'));
    assert.ok(readFileSync(join(pkg.dir, 'evidence', 'disk.raw')).includes(DISK_MARKER), `the seized disk holds what the guest wrote; console: ${JSON.stringify(consoleText.slice(-1500))}`);

    pkg = await call<EvidencePackageSummary>('evidence.handover', {
      packageId: pkg.packageId, from: { name: 'A. Moreau', role: 'incident responder' }, to: { name: 'Lt. B. Girard', role: 'judicial police officer', agency: 'Police nationale' },
      location: 'Server room B, Lyon', storageLocation: 'Sealed evidence bag 2026-0412-7, Commissariat Lyon 3e', reason: 'Handed to the police for the investigation',
    });
    assert.deepEqual(pkg.custody.map((e) => e.kind), ['seizure', 'transfer']);

    mkdirSync(exportRoot());
    exported = await call<EvidenceExportOutcome>('evidence.export', { packageId: pkg.packageId, destination: exportRoot() });
    assert.equal(exported.ok, true);
    assert.match(exported.readBack, /past the page cache|page cache/);
    const copy = join(exportRoot(), pkg.packageId);
    assert.ok(existsSync(join(copy, 'VERIFY.txt')));
    assert.match(readFileSync(join(copy, 'VERIFY.txt'), 'utf8'), new RegExp(`npx cordon-verify ${pkg.packageId} --key ${fingerprint.replace(/[+/]/g, '\\$&')}`));

    const verified = await verifyCli([copy, '--key', fingerprint]);
    assert.equal(verified.code, 0, verified.out);
    assert.match(verified.out, /RESULT: VERIFIED/);
    // The journal slice inside verifies on its own, too.
    const slice = await verifyCli(['journal', join(copy, 'evidence', 'journal-slice.cordon-bundle')]);
    assert.equal(slice.code, 0, slice.out);
  });

  test('the affidavit\'s text shows every file\'s hashes, the custody entries and the signer', async () => {
    const { stdout } = await run('pdftotext', ['-layout', join(pkg.dir, 'affidavit.pdf'), '-'], { maxBuffer: 16 * 1024 * 1024 });
    const manifest = JSON.parse(readFileSync(join(pkg.dir, 'manifest.json'), 'utf8')) as Manifest;
    for (const f of manifest.files) {
      assert.ok(stdout.includes(f.sha256), `${f.path}'s SHA-256 is printed`);
      assert.ok(stdout.includes(f.sha1), `${f.path}'s SHA-1 is printed`);
    }
    assert.ok(stdout.includes(fingerprint));
    assert.match(stdout, /Lt\. B\. Girard/);
    assert.match(stdout, /CASE-2026-0412/);
  });

  test('each tampering of the exported copy fails cordon-verify with its own message', async () => {
    const fresh = () => {
      const d = mkdtempSync(join(dir, 'tamper-'));
      cpSync(join(exportRoot(), pkg.packageId), d, { recursive: true });
      return d;
    };
    const expectFail = async (d: string, pattern: RegExp, what: string) => {
      const r = await verifyCli([d, '--key', fingerprint]);
      assert.equal(r.code, 1, `${what}: ${r.out}`);
      assert.match(r.out, pattern, what);
      rmSync(d, { recursive: true, force: true });
    };
    let d = fresh();
    const mem = join(d, 'evidence', 'memory.elf');
    const fd = readFileSync(mem);
    fd[fd.length >> 1] = fd[fd.length >> 1]! ^ 0x80;
    writeFileSync(mem, fd);
    await expectFail(d, /evidence\/memory\.elf was altered: its SHA-256 is/, 'a flipped byte');

    d = fresh();
    rmSync(join(d, 'evidence', 'disk.raw'));
    await expectFail(d, /evidence\/disk\.raw is listed in the manifest .* but missing/, 'a missing file');

    d = fresh();
    writeFileSync(join(d, 'evidence', 'rootkit.ko'), 'planted');
    await expectFail(d, /evidence\/rootkit\.ko is not in the manifest: it was added/, 'an added file');

    d = fresh();
    let doc = parseCustody(readFileSync(join(d, 'custody.jsonld')));
    doc['@graph'].find((n) => n['cordon:sequence'] === 2)!['cordon:to'] = { '@type': 'uco-identity:Person', 'uco-core:name': 'Someone Else', 'cordon:role': 'officer' };
    writeFileSync(join(d, 'custody.jsonld'), `${JSON.stringify(doc, null, 2)}\n`);
    await expectFail(d, /Custody entry 2's signature does not verify: the entry was altered/, 'an altered custody entry');

    d = fresh();
    doc = parseCustody(readFileSync(join(d, 'custody.jsonld')));
    const g = doc['@graph'];
    const a = g.findIndex((n) => n['cordon:sequence'] === 1);
    const b = g.findIndex((n) => n['cordon:sequence'] === 2);
    [g[a], g[b]] = [g[b]!, g[a]!];
    writeFileSync(join(d, 'custody.jsonld'), `${JSON.stringify(doc, null, 2)}\n`);
    await expectFail(d, /stands at position 1: the entries were reordered/, 'reordered custody entries');

    d = fresh();
    const intruder = generateKeyPairSync('ed25519').privateKey;
    writeFileSync(join(d, 'signer.pem'), String(createPublicKey(intruder).export({ type: 'spki', format: 'pem' })));
    for (const name of ['manifest.json', 'custody.jsonld', 'affidavit.pdf']) writeFileSync(join(d, `${name}.sig`), sign(null, readFileSync(join(d, name)), intruder));
    await expectFail(d, /signed part of this package, and it is not a key you said to trust/, 'a signature by an unexpected key');
  });

  test('sanitisation, once verified, handed over and terminated, leaves no original byte in the files it names', async () => {
    // Refused while the VM runs on (seized: frozen, not terminated).
    await assert.rejects(call('evidence.sanitise', { packageId: pkg.packageId, reason: 'too early' }), /terminate it first/);
    const terminated = await act('terminate', 'Evidence handed over; clearing the host');
    assert.equal(terminated.phase, 'done');

    // Second names for every file the agent holds of the VM, made before: the sanitiser overwrites in place, so they
    // must read back as zeros too (and the report must say other names existed).
    const held = [join(dir, 'q', `${VM_ID}.qcow2`), ...readdirSync(join(dir, 'agent', 'actions', captureId)).filter((n) => n !== 'manifest.json').map((n) => join(dir, 'agent', 'actions', captureId, n))];
    const originals = new Map<string, Buffer>();
    for (const p of held) {
      originals.set(p, readFileSync(p));
      linkSync(p, `${p}.witness`);
    }
    const report = await call<SanitisationReport>('evidence.sanitise', { packageId: pkg.packageId, reason: 'Package verified and handed to the police; clearing the host' });
    assert.equal(report.ok, true, JSON.stringify(report, null, 2));
    const named = new Set(report.files.map((f) => f.path));
    for (const p of held) assert.ok(named.has(p), `the report names ${p}`);
    for (const f of report.files) {
      assert.equal(f.verified, true, f.path);
      assert.equal(f.removed, true, f.path);
      assert.ok(!existsSync(f.path), `${f.path} is gone`);
    }
    for (const [p, before] of originals) {
      const after = readFileSync(`${p}.witness`);
      assert.equal(after.length, before.length, `${p} kept its size`);
      // Every byte zero: no byte of the original content is left in it (and it had some: not all zeros before).
      assert.ok(after.equals(Buffer.alloc(after.length)), `${p} reads back as zeros`);
      if (p.endsWith('disk.raw') || p.endsWith('.qcow2')) {
        assert.ok(before.includes(DISK_MARKER), `${p} held the guest's marker before`);
        assert.ok(!after.includes(DISK_MARKER));
      }
      const f = report.files.find((x) => x.path === p)!;
      assert.equal(f.links, 2, `${p}: the report counts its second name`);
    }
    assert.ok(report.limits.some((l) => /Backups, snapshots/.test(l)), 'it says what it cannot reach');
    assert.ok(statSync(join(dir, 'agent', 'actions', captureId, 'manifest.json')).size > 0, 'the capture\'s manifest (hashes, not content) stays');
    // The package keeps verifying: the cockpit's copy is untouched.
    const again = await verifyCli([pkg.dir, '--key', fingerprint]);
    assert.equal(again.code, 0, again.out);
    const journal = await cockpit.journal.query({ kind: 'custody', vmId: VM_ID, limit: 100 });
    assert.ok(journal.records.some((r) => (r.record.body as { step?: string }).step === 'sanitised'));
  });
});
