// The cockpit's evidence desk: what a responder does with a seizure after the agent captured it. Lists the captures
// on every connected agent, pulls one into the cockpit (resumable, checked against the agent's hashes), seals it into
// a signed package (the capture, the VM's console recordings, its threat events and its journal slice; manifest,
// CASE/UCO custody record, affidavit), records handovers, verifies, exports to removable media with read-back, and
// asks the agent to sanitise once the package is verified and handed over. Every step is journaled.
//
//   <dataDir>/evidence/incoming/<agentId>/<captureId>/   a pull in progress or done (transfer.json: resumable)
//   <dataDir>/evidence/packages/<packageId>/             sealed packages (evidence/format.ts)
//   <dataDir>/evidence/records/<packageId>.json          what happened to a package outside it: verifications,
//                                                        exports, sanitisation (a package itself never changes but
//                                                        for its custody record)
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type {
  Actor, CockpitPush, EvidenceExportProgress, CockpitEvidenceHandover, CockpitEvidenceSeal, CockpitEvidenceStatus, EvidenceCapture, EvidenceExportOutcome,
  EvidencePackageSummary, EvidenceVerifyOutcome, SanitisationReport,
} from '../../protocol/index.ts';
import { hashFileDual } from '../../evidence/dual-hash.ts';
import { exportFolder, type ExportFile } from '../../evidence/export.ts';
import { EVIDENCE_DIR, PACKAGE_FORMAT, type CustodyEntry, type FileRole, type Handler, type Manifest, type ManifestFile } from '../../evidence/format.ts';
import { appendHandover, fingerprintOf, PackageError, readPackage, sealPackage } from '../../evidence/package.ts';
import { verifyPackage } from '../../evidence/verify.ts';
import { verifyText } from '../../evidence/verify-text.ts';
import { listRecordings } from '../console/recording.ts';
import type { FleetHub } from '../fleet/hub.ts';
import { custodyEntry } from '../journal/entries.ts';
import { parseJson, readText, writeFileDurably } from '../journal/data-dir.ts';
import type { JournalHost } from '../journal/host.ts';
import { pullCapture, TransferError, type TransferProgress } from './transfer.ts';

export class EvidenceError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'EvidenceError';
  }
}

export interface EvidenceDeskOptions {
  dataDir: string;
  hub: FleetHub;
  journal: JournalHost;
  /** The responder's Ed25519 key: signs packages and custody entries. */
  key: KeyObject;
  /** How the key is kept, for the settings view (and a loud warning when it is a plain file). */
  keyProtection: { protection: 'os-keychain' | 'key-file'; warning?: string };
  actor: Actor;
  recordingsDir: string;
  version: string;
  note(line: string): void;
}

interface PackageRecords {
  lastVerify?: EvidenceVerifyOutcome;
  lastExport?: EvidenceExportOutcome;
  sanitisation?: SanitisationReport;
}

export class EvidenceDesk extends EventEmitter<{ push: [CockpitPush] }> {
  private readonly root: string;
  private readonly pulls = new Map<string, { progress: TransferProgress; controller: AbortController; done: Promise<void> }>();

  constructor(private readonly o: EvidenceDeskOptions) {
    super();
    this.root = join(o.dataDir, 'evidence');
    for (const d of ['incoming', 'packages', 'records']) mkdirSync(join(this.root, d), { recursive: true, mode: 0o700 });
  }

  private push(p: { transfer?: TransferProgress; export?: EvidenceExportProgress }): void {
    this.emit('push', { type: 'evidence', ...p });
  }

  get fingerprint(): string {
    return fingerprintOf(this.o.key);
  }

  async status(): Promise<CockpitEvidenceStatus> {
    const packages = this.packages();
    const byCapture = new Map(packages.map((p) => [`${p.agentId}\0${p.captureId}`, p.packageId]));
    const captures: CockpitEvidenceStatus['captures'] = [];
    const unreachable: CockpitEvidenceStatus['unreachable'] = [];
    await Promise.all(this.o.hub.agentStatuses().map(async (a) => {
      const link = this.o.hub.linkOf(a.agentId);
      if (!link || a.link !== 'connected') {
        unreachable.push({ agentId: a.agentId, message: `${a.label ?? a.agentId} is ${a.link}: its evidence store cannot be listed now.` });
        return;
      }
      try {
        for (const capture of await link.listEvidence()) {
          const packageId = byCapture.get(`${a.agentId}\0${capture.captureId}`);
          captures.push({ agentId: a.agentId, capture, pulled: this.pulledState(a.agentId, capture), ...(packageId ? { packageId } : {}) });
        }
      } catch (err) {
        unreachable.push({ agentId: a.agentId, message: (err as Error).message.slice(0, 2000) });
      }
    }));
    return {
      identity: {
        fingerprint: this.fingerprint, publicKeyPem: String(createPublicKey(this.o.key).export({ type: 'spki', format: 'pem' })),
        protection: this.o.keyProtection.protection, ...(this.o.keyProtection.warning ? { warning: this.o.keyProtection.warning } : {}),
      },
      captures: captures.sort((x, y) => (x.capture.finishedAt < y.capture.finishedAt ? 1 : -1)),
      packages,
      transfers: [...this.pulls.values()].map((p) => p.progress),
      unreachable,
    };
  }

  private incomingDir(agentId: string, captureId: string): string {
    return join(this.root, 'incoming', agentId, captureId);
  }

  private pulledState(agentId: string, capture: EvidenceCapture): 'no' | 'partial' | 'yes' {
    const dir = this.incomingDir(agentId, capture.captureId);
    if (!existsSync(dir)) return 'no';
    const state = parseJson(readText(join(dir, 'transfer.json'))) as { files?: Record<string, { done: boolean }> } | undefined;
    const files = state?.files;
    return files && typeof files === 'object' && capture.files.every((f) => Object.hasOwn(files, f.path) && files[f.path]?.done === true) ? 'yes' : 'partial';
  }

  /** Starts (or joins) the pull of a capture; resolves when it is under way. Progress goes out as pushes. */
  async pull(agentId: string, captureId: string): Promise<void> {
    const key = `${agentId}\0${captureId}`;
    if (this.pulls.get(key)?.progress.state !== undefined && !['done', 'failed'].includes(this.pulls.get(key)!.progress.state)) return;
    const capture = await this.capture(agentId, captureId);
    if (capture.sanitised) throw new EvidenceError('sanitised', `Capture ${captureId} was sanitised on its agent on ${capture.sanitised.finishedAt}; there is nothing left to pull.`);
    const controller = new AbortController();
    const entry = {
      controller,
      progress: { agentId, captureId, state: 'pulling', fileIndex: 0, fileCount: capture.files.length, bytes: 0, totalBytes: capture.bytes, bytesPerSec: 0, resumes: 0, message: `Pulling ${capture.vmName}'s capture` } as TransferProgress,
      done: Promise.resolve(),
    };
    this.pulls.set(key, entry);
    this.o.journal.append([custodyEntry(this.o.actor, { agentId, vmId: capture.vmId, ...(capture.caseId ? { caseId: capture.caseId } : {}), step: 'pull-started', details: { captureId, files: capture.files.length, bytes: capture.bytes } })]);
    let lastPush = 0;
    entry.done = pullCapture({
      agentId, capture, dir: this.incomingDir(agentId, captureId), link: () => this.o.hub.linkOf(agentId), signal: controller.signal,
      onProgress: (p) => {
        entry.progress = p;
        const t = performance.now();
        if (p.state === 'pulling' && t - lastPush < 200) return;
        lastPush = t;
        this.push({ transfer: p });
      },
    }).then((r) => {
      this.o.journal.append([custodyEntry(this.o.actor, { agentId, vmId: capture.vmId, step: 'pulled', details: { captureId, files: r.files.length, bytes: r.bytes, ms: Math.round(r.ms), resumes: r.resumes, sha256: Object.fromEntries(r.files.map((f) => [f.path, f.sha256])) } })]);
    }, (err: Error) => {
      const code = err instanceof TransferError ? err.code : 'pull_failed';
      entry.progress = { ...entry.progress, state: 'failed', message: err.message.slice(0, 2000), error: { code, message: err.message.slice(0, 2000) } } as TransferProgress;
      this.push({ transfer: entry.progress });
      this.o.journal.append([custodyEntry(this.o.actor, { agentId, vmId: capture.vmId, step: 'pull-failed', details: { captureId, code, message: err.message.slice(0, 2000) } })]);
      this.o.note(`evidence: the pull of ${captureId} from ${agentId} failed: ${err.message}`);
    });
  }

  /** Waits for a pull started by pull() (tests, the seal step). */
  async pulled(agentId: string, captureId: string): Promise<TransferProgress | undefined> {
    const p = this.pulls.get(`${agentId}\0${captureId}`);
    await p?.done;
    return p?.progress;
  }

  private async capture(agentId: string, captureId: string): Promise<EvidenceCapture> {
    const link = this.o.hub.linkOf(agentId);
    if (!link) throw new EvidenceError('unknown_agent', `There is no agent "${agentId}" in this cockpit.`);
    const capture = (await link.listEvidence()).find((c) => c.captureId === captureId);
    if (!capture) throw new EvidenceError('unknown_capture', `Agent ${agentId} holds no capture ${captureId}.`);
    return capture;
  }

  /** Seals a pulled capture into a signed package. */
  async seal(req: CockpitEvidenceSeal): Promise<EvidencePackageSummary> {
    const existing = this.packages().find((p) => p.agentId === req.agentId && p.captureId === req.captureId);
    if (existing) throw new EvidenceError('already_sealed', `Capture ${req.captureId} is sealed already, as package ${existing.packageId}.`);
    const capture = await this.capture(req.agentId, req.captureId);
    if (this.pulledState(req.agentId, capture) !== 'yes') throw new EvidenceError('not_pulled', `Capture ${req.captureId} is not (completely) in this cockpit yet: pull it first.`);
    const now = new Date();
    const packageId = safeName(`${req.caseNumber}-${capture.vmName || capture.vmId}-${createHash('sha256').update(`${req.agentId}\0${req.captureId}`).digest('hex').slice(0, 8)}`);
    const dir = join(this.root, 'packages', packageId);
    const building = `${dir}.building`;
    rmSync(building, { recursive: true, force: true });
    mkdirSync(join(building, EVIDENCE_DIR), { recursive: true, mode: 0o700 });
    const files: ManifestFile[] = [];
    const incoming = this.incomingDir(req.agentId, req.captureId);

    // The capture, as pulled and checked: moved in (renamed), its digests those the pull checked.
    for (const f of capture.files) {
      const name = f.path === 'manifest.json' ? 'capture-manifest.json' : f.path;
      copyFileSync(join(incoming, f.path), join(building, EVIDENCE_DIR, name));
      files.push({
        path: `${EVIDENCE_DIR}/${name}`, role: f.path === 'manifest.json' ? 'capture-manifest' : (f.role ?? 'other') as FileRole, size: f.size, sha256: f.sha256, sha1: f.sha1,
        capturedAt: f.capturedAt ?? capture.finishedAt, source: 'agent', description: describe(f.path, f.role),
      });
    }
    const add = async (path: string, role: FileRole, description: string, capturedAt: string) => {
      const d = await hashFileDual(join(building, ...path.split('/')));
      files.push({ path, role, size: d.size, sha256: d.sha256, sha1: d.sha1, capturedAt, source: 'cockpit', description });
    };
    // The VM's console sessions, recorded here from their first byte.
    const recordings = listRecordings(this.o.recordingsDir, { agentId: req.agentId, vmId: capture.vmId });
    if (recordings.length > 0) mkdirSync(join(building, EVIDENCE_DIR, 'consoles'), { mode: 0o700 });
    for (const r of recordings) {
      for (const ext of ['cast', 'json']) {
        const from = join(this.o.recordingsDir, `${r.recordingId}.${ext}`);
        if (!existsSync(from)) continue;
        copyFileSync(from, join(building, EVIDENCE_DIR, 'consoles', `${r.recordingId}.${ext}`));
        await add(`${EVIDENCE_DIR}/consoles/${r.recordingId}.${ext}`, 'console', ext === 'cast'
          ? `Console session of ${r.actor.name} on ${capture.vmName}, ${r.startedAt}${r.endedAt ? ` to ${r.endedAt}` : ''} (asciicast v2)`
          : `The session's record: who, when, its recording's SHA-256`, r.endedAt ?? r.startedAt);
      }
    }
    // The VM's threat events as this cockpit received them, when the capture has none of its own.
    if (!capture.files.some((f) => f.role === 'events')) {
      const lines = await this.eventLines(req.agentId, capture.vmId);
      writeFileDurably(join(building, EVIDENCE_DIR, 'events.jsonl'), lines.join(''));
      await add(`${EVIDENCE_DIR}/events.jsonl`, 'events', `The ${lines.length} threat events of ${capture.vmName} this cockpit received, oldest first (JSON lines)`, now.toISOString());
    }
    // Every journal record about the VM, as a self-verifying slice (cordon-verify journal FILE).
    await this.o.journal.exportBundle(join(building, EVIDENCE_DIR, 'journal-slice.cordon-bundle'), { agentId: req.agentId, vmId: capture.vmId });
    await add(`${EVIDENCE_DIR}/journal-slice.cordon-bundle`, 'journal', `This cockpit's journal records about ${capture.vmName}, with inclusion proofs under a signed checkpoint (verify: cordon-verify journal)`, new Date().toISOString());

    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const seizedBy: Handler = { name: capture.actor?.name ?? this.o.actor.name, role: capture.actor?.role ?? 'responder' };
    const vm = capture.vm;
    const manifest: Manifest = {
      format: PACKAGE_FORMAT, packageId, createdAt: localTime(now), tool: { name: 'Cordon', version: this.o.version },
      case: { caseNumber: req.caseNumber, agency: req.agency, ...(req.exhibit ? { exhibit: req.exhibit } : {}) },
      item: {
        host: capture.host ?? req.agentId, agentId: req.agentId, hypervisor: capture.hypervisor,
        vm: {
          id: capture.vmId, name: capture.vmName, ...(vm?.image ? { image: vm.image } : {}),
          macs: [...new Set((vm?.networks ?? []).map((n) => n.mac).filter((m): m is string => !!m))],
          ips: [...new Set((vm?.networks ?? []).map((n) => n.ip).filter((m): m is string => !!m))],
        },
        captureId: req.captureId, simulated: capture.simulated,
      },
      capture: { startedAt: capture.startedAt ?? capture.finishedAt, finishedAt: capture.finishedAt, seizedBy, reason: capture.reason ?? '' },
      hashes: { evidentiary: 'SHA-256', crossCheck: 'SHA-1' },
      files,
    };
    const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    const responder: Handler = { name: req.responder.name, role: req.responder.role, ...(req.responder.agency ? { agency: req.responder.agency } : {}) };
    await sealPackage(building, manifest, {
      at: localTime(new Date(capture.finishedAt)), timeZone, to: seizedBy.name === responder.name ? responder : seizedBy,
      location: req.place, storageLocation: req.storageLocation || `Cordon cockpit on ${hostname()}: ${dir}`,
      reason: capture.reason || `Seizure of ${capture.vmName} for case ${req.caseNumber}`,
    }, this.o.key, { responder, place: req.place, madeAt: localTime(now), timeZone });
    renameSync(building, dir);
    await this.o.journal.appendDurable(custodyEntry(this.o.actor, {
      agentId: req.agentId, vmId: capture.vmId, caseId: req.caseNumber, step: 'sealed',
      details: { packageId, captureId: req.captureId, files: files.length, manifestSha256: sha256File(join(dir, 'manifest.json')), signer: this.fingerprint },
    }));
    // The pulled copy is now inside the package; the incoming folder goes.
    rmSync(incoming, { recursive: true, force: true });
    return this.summary(packageId);
  }

  async handover(req: CockpitEvidenceHandover): Promise<EvidencePackageSummary> {
    const dir = this.packageDir(req.packageId);
    const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    const at = localTime(new Date());
    try {
      await appendHandover(dir, { at, timeZone, from: req.from, to: req.to, location: req.location, storageLocation: req.storageLocation, reason: req.reason }, this.o.key,
        { responder: { name: this.o.actor.name, role: this.o.actor.role ?? 'responder' }, place: req.location, madeAt: at, timeZone });
    } catch (err) {
      if (err instanceof PackageError) throw new EvidenceError(err.code, err.message);
      throw err;
    }
    const s = this.summary(req.packageId);
    await this.o.journal.appendDurable(custodyEntry(this.o.actor, {
      agentId: s.agentId, vmId: s.vmId, caseId: s.caseNumber, step: 'handover',
      details: { packageId: req.packageId, from: { ...req.from }, to: { ...req.to }, location: req.location, storageLocation: req.storageLocation, reason: req.reason, at, timeZone, sequence: s.custody.length },
    }));
    return s;
  }

  async verify(packageId: string): Promise<EvidenceVerifyOutcome> {
    const dir = this.packageDir(packageId);
    const r = await verifyPackage(dir, { trustedKeys: this.trustedSigners(packageId) });
    const outcome: EvidenceVerifyOutcome = {
      ok: r.ok, unpinned: r.unpinned, files: r.files.length, bytes: r.bytes, ms: Math.round(r.ms), at: new Date().toISOString(),
      signers: r.signers.slice(0, 100),
      findings: r.findings.slice(0, 1000).map((f) => ({ code: f.code, message: f.message.slice(0, 4096), ...(f.path ? { path: f.path.slice(0, 1024) } : {}), ...(f.sequence !== undefined ? { sequence: f.sequence } : {}) })),
    };
    this.saveRecords(packageId, { ...this.records(packageId), lastVerify: outcome });
    const s = this.summary(packageId);
    this.o.journal.append([custodyEntry(this.o.actor, { agentId: s.agentId, vmId: s.vmId, caseId: s.caseNumber, step: r.ok ? 'verified' : 'verify-failed', details: { packageId, files: r.files.length, bytes: r.bytes, findings: r.findings.slice(0, 20).map((f) => f.message) } })]);
    return outcome;
  }

  /**
   * The keys a package may be signed by, as this cockpit sees it: its own responder key, and the keys that signed
   * the package's earlier custody entries when this cockpit sealed it (recorded in the journal at each step).
   */
  private trustedSigners(packageId: string): string[] {
    const fromRecords = this.records(packageId).lastVerify?.ok ? this.records(packageId).lastVerify!.signers : [];
    return [...new Set([this.fingerprint, ...fromRecords])];
  }

  async export(packageId: string, destination: string): Promise<EvidenceExportOutcome> {
    const dir = this.packageDir(packageId);
    const { manifest } = readPackage(dir);
    if (!destination || !existsSync(destination) || !statSync(destination).isDirectory()) {
      throw new EvidenceError('bad_destination', `${destination || '(none)'} is not a folder on this machine: mount the removable medium and choose a folder on it.`);
    }
    const files: ExportFile[] = manifest.files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256, sha1: f.sha1 }));
    for (const name of readdirSync(dir)) {
      if (name === EVIDENCE_DIR || name === 'VERIFY.txt') continue;
      const d = await hashFileDual(join(dir, name));
      files.push({ path: name, ...d });
    }
    const target = join(destination, packageId);
    const text = Buffer.from(verifyText(manifest, { signer: this.fingerprint, packageFolder: packageId }), 'utf8');
    const allBytes = files.reduce((n, f) => n + f.size, 0);
    let last = 0;
    try {
      const report = await exportFolder(dir, target, files, [{ path: 'VERIFY.txt', content: text }], {
        onProgress: (p) => {
          const t = performance.now();
          if (t - last < 200 && p.bytes < p.totalBytes) return;
          last = t;
          this.push({ export: { packageId, phase: p.phase, path: p.path, doneBytes: p.doneBytes, allBytes: p.allBytes } });
        },
      });
      const methods = new Set(report.files.map((f) => f.readBack));
      const outcome: EvidenceExportOutcome = {
        target, files: report.files.length, bytes: report.bytes, copyMs: Math.round(report.copyMs), verifyMs: Math.round(report.verifyMs), ok: report.ok, at: new Date().toISOString(),
        readBack: methods.has('page-cache')
          ? `Read back through the page cache for ${report.files.filter((f) => f.readBack === 'page-cache').length} file(s): ${report.files.find((f) => f.readBack === 'page-cache')?.readBackNote ?? 'the file system refused direct reads'}`.slice(0, 1024)
          : 'Every file read back past the page cache (O_DIRECT) and matched its SHA-256 and SHA-1.',
      };
      const resumed = report.resumed ? ` It resumed an export that had been cut off: ${report.resumed.kept} file(s) already on the medium read back whole and matching, and were kept.` : '';
      this.push({ export: { packageId, phase: 'done', path: target, doneBytes: allBytes, allBytes, message: `Exported to ${target} and read back: every file matches.${resumed}` } });
      this.saveRecords(packageId, { ...this.records(packageId), lastExport: outcome });
      const s = this.summary(packageId);
      await this.o.journal.appendDurable(custodyEntry(this.o.actor, { agentId: s.agentId, vmId: s.vmId, caseId: s.caseNumber, step: 'exported', details: { packageId, target, files: report.files.length, bytes: report.bytes, readBack: outcome.readBack, ...(report.resumed ? { resumed: { ...report.resumed } } : {}) } }));
      return outcome;
    } catch (err) {
      const message = (err as Error).message;
      this.push({ export: { packageId, phase: 'failed', path: target, doneBytes: 0, allBytes, message: message.slice(0, 2000) } });
      const s = this.summary(packageId);
      this.o.journal.append([custodyEntry(this.o.actor, { agentId: s.agentId, vmId: s.vmId, caseId: s.caseNumber, step: 'export-failed', details: { packageId, target, message: message.slice(0, 2000) } })]);
      throw new EvidenceError((err as { code?: string }).code ?? 'export_failed', message);
    }
  }

  async sanitise(packageId: string, reason: string): Promise<SanitisationReport> {
    const s = this.summary(packageId);
    const verified = await this.verify(packageId);
    if (!verified.ok) throw new EvidenceError('not_verified', `Package ${packageId} does not verify now (${verified.findings[0]?.message ?? 'signer not pinned'}): nothing is sanitised while the only good copy might be on the agent.`);
    if (!s.custody.some((e) => e.kind === 'transfer')) throw new EvidenceError('not_handed_over', `Package ${packageId} has not been handed over to anyone yet: record the handover first, then sanitise.`);
    const link = this.o.hub.linkOf(s.agentId);
    if (!link) throw new EvidenceError('unknown_agent', `Agent ${s.agentId} is not in this cockpit any more.`);
    await this.o.journal.appendDurable(custodyEntry(this.o.actor, { agentId: s.agentId, vmId: s.vmId, caseId: s.caseNumber, step: 'sanitise-asked', details: { packageId, reason } }));
    const report = await link.sanitise({ vmId: s.vmId, captureId: s.captureId, actor: this.o.actor, reason });
    this.saveRecords(packageId, { ...this.records(packageId), sanitisation: report });
    await this.o.journal.appendDurable(custodyEntry(this.o.actor, {
      agentId: s.agentId, vmId: s.vmId, caseId: s.caseNumber, step: report.ok ? 'sanitised' : 'sanitised-partly',
      details: { packageId, files: report.files.map((f) => ({ path: f.path, what: f.what, bytes: f.bytes, verified: f.verified, removed: f.removed ?? false })), limits: report.limits },
    }));
    return report;
  }

  packages(): EvidencePackageSummary[] {
    let names: string[];
    try {
      names = readdirSync(join(this.root, 'packages'));
    } catch {
      return [];
    }
    const out: EvidencePackageSummary[] = [];
    for (const name of names) {
      if (name.endsWith('.building')) continue;
      try {
        out.push(this.summary(name));
      } catch (err) {
        this.o.note(`evidence: package folder ${name} cannot be read: ${(err as Error).message}`);
      }
    }
    return out.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
  }

  packageDir(packageId: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(packageId)) throw new EvidenceError('bad_package', 'Not a package id.');
    const dir = join(this.root, 'packages', packageId);
    if (!existsSync(join(dir, 'manifest.json'))) throw new EvidenceError('unknown_package', `There is no package ${packageId} in this cockpit.`);
    return dir;
  }

  summary(packageId: string): EvidencePackageSummary {
    const dir = this.packageDir(packageId);
    const { manifest, entries } = readPackage(dir);
    const rec = this.records(packageId);
    return {
      packageId, dir, agentId: manifest.item.agentId, captureId: manifest.item.captureId, vmId: manifest.item.vm.id, vmName: manifest.item.vm.name,
      caseNumber: manifest.case.caseNumber, agency: manifest.case.agency, ...(manifest.case.exhibit ? { exhibit: manifest.case.exhibit } : {}),
      createdAt: manifest.createdAt, files: manifest.files.length, bytes: manifest.files.reduce((n, f) => n + f.size, 0), simulated: manifest.item.simulated,
      custody: entries.map(step),
      ...(rec.lastVerify ? { lastVerify: rec.lastVerify } : {}), ...(rec.lastExport ? { lastExport: rec.lastExport } : {}), ...(rec.sanitisation ? { sanitisation: rec.sanitisation } : {}),
    };
  }

  private records(packageId: string): PackageRecords {
    return (parseJson(readText(join(this.root, 'records', `${packageId}.json`))) as PackageRecords | undefined) ?? {};
  }

  private saveRecords(packageId: string, r: PackageRecords): void {
    writeFileDurably(join(this.root, 'records', `${packageId}.json`), `${JSON.stringify(r, null, 2)}\n`);
  }

  private async eventLines(agentId: string, vmId: string): Promise<string[]> {
    const lines: string[] = [];
    let before: unknown;
    for (let page = 0; page < 1000; page++) {
      const q = await this.o.journal.query({ kind: 'event', agentId, vmId, limit: 1000, ...(before ? { before: before as never } : {}) });
      for (const r of q.records) lines.push(`${JSON.stringify(r.record.body)}\n`);
      if (!q.next) break;
      before = q.next;
    }
    return lines.reverse();
  }

  /** Stops pulls under way (the cockpit is closing); each resumes from its last synced byte when asked again. */
  close(): void {
    for (const p of this.pulls.values()) p.controller.abort(new EvidenceError('closing', 'The cockpit is closing.'));
  }
}

function step(e: CustodyEntry) {
  return {
    sequence: e.sequence, kind: e.kind, at: e.at, timeZone: e.timeZone, ...(e.from ? { from: e.from } : {}), to: e.to,
    location: e.location, storageLocation: e.storageLocation, reason: e.reason, signerFingerprint: e.signerFingerprint,
  };
}

function describe(path: string, role: string | undefined): string {
  switch (role) {
    case 'memory': return 'Guest memory as an ELF core (QMP dump-guest-memory, paging off); Volatility 3 and MemProcFS read it';
    case 'disk': return 'The VM\'s disk, copied raw while its vCPUs were stopped';
    case 'config': return 'The VM\'s configuration: how its hypervisor ran it';
    case 'events': return 'The VM\'s threat events as the agent held them (JSON lines)';
    case 'log': return `Hypervisor log: ${path}`;
    default: return path === 'manifest.json' ? 'The agent\'s own capture manifest: sizes, hashes, method, timings' : path;
  }
}

/** ISO 8601 with the local offset (2026-11-23T12:16:13+01:00): what a handler's clock said. */
export function localTime(d: Date): string {
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[^A-Za-z0-9]+/, '').slice(0, 120) || 'package';
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

