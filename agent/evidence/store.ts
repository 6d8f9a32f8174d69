// The agent's evidence store: every seizure's capture stays in its own folder (`<dataDir>/actions/<captureId>/`, the
// seize's work folder) until a cockpit pulls it, now or days later. Serves evidence.list, streams a capture's files to
// a cockpit as binary frames of kind 0x03 under a flow-control window the cockpit's acknowledgements move (so a cut
// resumes from the last byte the cockpit synced), and sanitises what the agent holds of a VM once its package has been
// handed over. Captures are read-only here: nothing in this file writes into a capture but its sanitisation.
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type {
  AgentMessage, CapturedFile, EvidenceCapture, EvidenceListMessage, EvidencePullMessage, EvidenceSanitiseMessage,
  SanitisationReport, SanitisedFile, Vm,
} from '../../protocol/index.ts';
import { encodeFrame, FRAME_HEADER_BYTES, FRAME_KIND, MAX_BINARY_FRAME_BYTES } from '../../protocol/binary-frames.ts';
import { clearFiles } from '../../evidence/overwrite.ts';
import { writeFileDurably } from '../../main/journal/data-dir.ts';
import type { FileDigest } from './hash.ts';
import type { ConsoleClient } from '../consoles.ts';
import type { Driver } from '../drivers/driver.ts';
import { systemCode } from '../errors.ts';

/** Bytes in flight beyond the cockpit's last acknowledgement, unless its pull asks for another window. */
export const DEFAULT_WINDOW = 32 * 1024 * 1024;
/** A frame's payload: as big as a frame may be, so that a gigabyte is a thousand frames. */
const CHUNK = MAX_BINARY_FRAME_BYTES - FRAME_HEADER_BYTES;
/** Above this many bytes queued on the socket, a stream waits for it to drain (consoles keep flowing meanwhile). */
const SOCKET_HIGH = 8 * 1024 * 1024;
/** Streams one connection may run at once. */
const MAX_STREAMS = 8;
const SANITISED_FILE = 'sanitised.json';
const CAPTURE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export type EvidenceClient = ConsoleClient;

export interface EvidenceStoreOptions {
  /** The folder of the seizes' work folders (`<dataDir>/actions`). */
  root: string;
  /** Where sanitisation reports of VMs without a capture are kept. */
  reportsDir: string;
  host: string;
  driver: Driver;
  note(line: string): void;
}

interface CaptureManifest {
  format: 'cordon-capture/1';
  captureId: string;
  simulated: boolean;
  agent?: { id?: string; host?: string; hypervisor?: { kind?: string; version?: string } };
  vm: Partial<Vm> & { id: string; name: string };
  request?: { actor?: EvidenceCapture['actor']; reason?: string; caseId?: string };
  startedAt?: string;
  finishedAt: string;
  files: CapturedFile[];
}

interface Stream {
  client: EvidenceClient;
  id: number;
  captureId: string;
  path: string;
  size: number;
  sent: number;
  acked: number;
  window: number;
  cancelled: boolean;
  wake?: () => void;
}

export class EvidenceStore {
  /** The capture manifest's own digest, by capture id: a manifest never changes once written. */
  private readonly manifestDigests = new Map<string, FileDigest>();
  private readonly streams = new Map<EvidenceClient, Map<number, Stream>>();
  /** VMs being sanitised: one sanitisation of a VM at a time. */
  private readonly sanitising = new Set<string>();

  constructor(private readonly options: EvidenceStoreOptions) {}

  /** Every complete capture in the store, newest first (a seize that did not finish has no manifest and is left out). */
  list(vmId?: string): EvidenceCapture[] {
    let names: string[];
    try {
      names = readdirSync(this.options.root);
    } catch (err) {
      if (systemCode(err) === 'ENOENT') return [];
      throw err;
    }
    const out: EvidenceCapture[] = [];
    for (const name of names) {
      if (!CAPTURE_ID.test(name)) continue;
      const c = this.capture(name);
      if (c && (vmId === undefined || c.vmId === vmId)) out.push(c);
    }
    return out.sort((a, b) => (a.finishedAt < b.finishedAt ? 1 : a.finishedAt > b.finishedAt ? -1 : 0));
  }

  /** A message for this store: answered to `client` only. */
  handle(client: EvidenceClient, message: EvidenceListMessage | EvidencePullMessage | { type: 'evidence.ack'; stream: number; offset: number } | { type: 'evidence.cancel'; stream: number } | EvidenceSanitiseMessage): void {
    switch (message.type) {
      case 'evidence.list':
        try {
          client.send({ type: 'evidence.captures', ref: message.id, captures: this.list(message.vmId).slice(0, 1000) });
        } catch (err) {
          this.options.note(`evidence.list failed: ${err instanceof Error ? err.message : String(err)}`);
          client.send(error('internal', 'The agent could not read its evidence store; see its stderr.', message.id));
        }
        return;
      case 'evidence.pull':
        void this.pull(client, message);
        return;
      case 'evidence.ack': {
        const s = this.streams.get(client)?.get(message.stream);
        if (!s) return; // an ack that crossed the stream's end: nothing to do
        if (message.offset > s.sent || message.offset < s.acked) {
          client.send(error('bad_ack', `Stream ${message.stream}: an acknowledgement of offset ${message.offset} is outside what was sent (${s.acked}–${s.sent}).`));
          return;
        }
        s.acked = message.offset;
        s.wake?.();
        return;
      }
      case 'evidence.cancel': {
        const s = this.streams.get(client)?.get(message.stream);
        if (s) {
          s.cancelled = true;
          s.wake?.();
        }
        return;
      }
      case 'evidence.sanitise':
        void this.sanitise(message).then((answer) => { if (client.open) client.send(answer); });
        return;
    }
  }

  /** The connection is gone: its streams stop where they are (the cockpit resumes them on its next connection). */
  detach(client: EvidenceClient): void {
    const mine = this.streams.get(client);
    if (!mine) return;
    for (const s of mine.values()) {
      s.cancelled = true;
      s.wake?.();
    }
    this.streams.delete(client);
  }

  private manifest(captureId: string): CaptureManifest | undefined {
    let text: string;
    try {
      text = readFileSync(join(this.options.root, captureId, 'manifest.json'), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const m = JSON.parse(text) as CaptureManifest;
      if (m.format !== 'cordon-capture/1' || !Array.isArray(m.files) || typeof m.vm?.id !== 'string') return undefined;
      return m;
    } catch {
      this.options.note(`capture ${captureId}: its manifest.json is not JSON; it is not offered.`);
      return undefined;
    }
  }

  private capture(captureId: string): EvidenceCapture | undefined {
    const m = this.manifest(captureId);
    if (!m) return undefined;
    const dir = join(this.options.root, captureId);
    let digest = this.manifestDigests.get(captureId);
    if (!digest) {
      digest = hashSync(join(dir, 'manifest.json'));
      this.manifestDigests.set(captureId, digest);
    }
    const files: CapturedFile[] = [...m.files, { path: 'manifest.json', role: 'other', size: digest.size, sha256: digest.sha256, sha1: digest.sha1, capturedAt: m.finishedAt }];
    const c: EvidenceCapture = {
      captureId, vmId: m.vm.id, vmName: m.vm.name, simulated: m.simulated === true, finishedAt: m.finishedAt,
      hypervisor: { kind: m.agent?.hypervisor?.kind ?? 'unknown', ...(m.agent?.hypervisor?.version ? { version: m.agent.hypervisor.version } : {}) },
      host: m.agent?.host ?? this.options.host,
      files, bytes: files.reduce((n, f) => n + f.size, 0),
    };
    if (m.startedAt) c.startedAt = m.startedAt;
    if (m.request?.actor) c.actor = m.request.actor;
    if (m.request?.reason) c.reason = m.request.reason;
    if (m.request?.caseId) c.caseId = m.request.caseId;
    const vm = captureVm(m.vm);
    if (vm) c.vm = vm;
    const sanitised = readJson<SanitisationReport>(join(dir, SANITISED_FILE));
    if (sanitised) c.sanitised = sanitised;
    return c;
  }

  private async pull(client: EvidenceClient, m: EvidencePullMessage): Promise<void> {
    const mine = this.streams.get(client) ?? new Map<number, Stream>();
    if (mine.has(m.stream)) {
      client.send(error('stream_in_use', `Stream ${m.stream} is already sending on this connection; pick another id.`, m.id));
      return;
    }
    if (mine.size >= MAX_STREAMS) {
      client.send(error('too_many_streams', `At most ${MAX_STREAMS} evidence streams run at once on one connection; wait for one to end.`, m.id));
      return;
    }
    const capture = this.capture(m.captureId);
    if (!capture) {
      client.send(error('unknown_capture', `This agent holds no complete capture ${m.captureId}.`, m.id));
      return;
    }
    // The path is looked up among the capture's own files, never joined as given.
    const file = capture.files.find((f) => f.path === m.path);
    if (!file) {
      client.send(error('unknown_file', `Capture ${m.captureId} has no file ${m.path}.`, m.id));
      return;
    }
    if (capture.sanitised) {
      client.send(error('sanitised', `Capture ${m.captureId} was sanitised on ${capture.sanitised.finishedAt}: its files are gone.`, m.id));
      return;
    }
    if (m.offset > file.size) {
      client.send(error('bad_offset', `${m.path} is ${file.size} bytes; offset ${m.offset} is past its end.`, m.id));
      return;
    }
    let fh: FileHandle;
    try {
      fh = await open(join(this.options.root, m.captureId, file.path), 'r');
      const st = await fh.stat();
      if (st.size !== file.size) {
        await fh.close();
        client.send(error('capture_changed', `${m.path} of capture ${m.captureId} is ${st.size} bytes on the agent's disk, but it was ${file.size} when captured: the store was altered; it is not sent.`, m.id));
        return;
      }
    } catch (err) {
      client.send(error('unreadable', `${m.path} of capture ${m.captureId} cannot be read on the agent (${systemCode(err) ?? 'error'}).`, m.id));
      return;
    }
    const s: Stream = { client, id: m.stream, captureId: m.captureId, path: file.path, size: file.size, sent: m.offset, acked: m.offset, window: m.window ?? DEFAULT_WINDOW, cancelled: false };
    mine.set(m.stream, s);
    this.streams.set(client, mine);
    client.send({ type: 'evidence.sending', ref: m.id, stream: m.stream, captureId: m.captureId, path: file.path, offset: m.offset, size: file.size, sha256: file.sha256, sha1: file.sha1 });
    try {
      await this.send(s, fh);
      if (!s.cancelled && client.open) client.send({ type: 'evidence.sent', stream: s.id, bytes: s.sent });
    } catch (err) {
      if (client.open) client.send(error('unreadable', `Sending ${s.path} of capture ${s.captureId} stopped at byte ${s.sent}: ${err instanceof Error ? err.message : String(err)}`, m.id));
    } finally {
      await fh.close().catch(() => {});
      if (this.streams.get(client)?.get(s.id) === s) this.streams.get(client)!.delete(s.id);
    }
  }

  /** Reads and sends frames in order while the window and the socket allow; waits on acks and drains otherwise. */
  private async send(s: Stream, fh: FileHandle): Promise<void> {
    while (!s.cancelled && s.client.open && s.sent < s.size) {
      if (s.sent - s.acked >= s.window) {
        await new Promise<void>((resolve) => (s.wake = resolve));
        s.wake = undefined;
        continue;
      }
      if (s.client.bufferedAmount > SOCKET_HIGH) {
        await new Promise<void>((resolve) => {
          s.wake = resolve;
          s.client.onceDrained(resolve);
        });
        s.wake = undefined;
        continue;
      }
      const n = Math.min(CHUNK, s.size - s.sent, s.acked + s.window - s.sent);
      const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + n);
      const { bytesRead } = await fh.read(frame, FRAME_HEADER_BYTES, n, s.sent);
      if (bytesRead !== n) throw new Error(`the file ended at byte ${s.sent + bytesRead}, before its captured size ${s.size}`);
      frame.set(encodeFrame(FRAME_KIND.evidenceChunk, s.id, new Uint8Array(0)), 0);
      if (s.cancelled || !s.client.open) return;
      s.client.sendFrame(frame);
      s.sent += n;
    }
  }

  /**
   * NIST SP 800-88 "clear" of what this agent holds of a VM: its disk image and saved state (from the driver) and
   * every file of its captures but their manifests; each overwritten in place with zeros, read back, then removed.
   * The report says what was done file by file and what cannot be guaranteed, and is kept beside each capture.
   */
  async sanitise(m: EvidenceSanitiseMessage, who?: Pick<SanitisationReport, 'requestedBy' | 'approval'>): Promise<AgentMessage> {
    const vm = this.options.driver.getVm(m.vmId);
    if (vm && vm.state !== 'terminated') {
      return error('not_terminated', `${vm.name} is ${vm.state}: terminate it first, so that nothing writes to its disk while it is overwritten.`, m.id);
    }
    const captures = this.list(m.vmId);
    if (!vm && captures.length === 0) return error('unknown_vm', `This agent knows no VM ${m.vmId} and holds no capture of it.`, m.id);
    if (m.captureId !== undefined && !captures.some((c) => c.captureId === m.captureId)) {
      return error('unknown_capture', `This agent holds no capture ${m.captureId} of ${m.vmId}.`, m.id);
    }
    if (this.sanitising.has(m.vmId)) return error('busy', `${m.vmId} is being sanitised already.`, m.id);
    this.sanitising.add(m.vmId);
    const startedAt = new Date().toISOString();
    try {
      const targets: Array<{ path: string; what: string }> = [...(this.options.driver.vmFiles?.(m.vmId) ?? [])];
      for (const c of captures) {
        if (c.sanitised) continue;
        for (const f of c.files) {
          if (f.path === 'manifest.json') continue;
          targets.push({ path: join(this.options.root, c.captureId, f.path), what: `${describeRole(f.role)} in capture ${c.captureId}` });
        }
      }
      const cleared = await clearFiles(targets.map((t) => t.path));
      const files: SanitisedFile[] = cleared.files.map((f, i) => {
        const out: SanitisedFile = {
          path: f.path, what: targets[i]!.what, found: f.found, bytes: f.bytes, verified: f.verified,
          ...(f.readBack ? { readBack: f.readBack } : {}), ...(f.readBackNote ? { readBackNote: f.readBackNote.slice(0, 512) } : {}),
          ...(f.links !== undefined ? { links: f.links } : {}), ...(f.sparse !== undefined ? { sparse: f.sparse } : {}),
          ...(f.fileSystem ? { fileSystem: f.fileSystem.slice(0, 64) } : {}), ...(f.rotational ? { rotational: f.rotational } : {}),
          ...(f.error ? { error: f.error.slice(0, 1024) } : {}), limits: f.limits.slice(0, 32).map((l) => l.slice(0, 512)),
          removed: false,
        };
        // Removed only once its zeros were read back: an unverified file stays, for the responder to look at.
        if (f.found && f.verified) {
          try {
            rmSync(f.path);
            out.removed = true;
          } catch (err) {
            out.error = `overwritten and verified, but not removed (${systemCode(err) ?? 'error'})`;
          }
        }
        return out;
      });
      const limits = [
        'Backups, snapshots, replicas and copies of this VM outside this agent\'s reach (other hosts, backup servers, storage-array snapshots, a cockpit\'s pulled copy) are not touched.',
        ...new Set(files.flatMap((f) => f.limits ?? [])),
      ].slice(0, 64);
      if (files.length === 0) limits.unshift('The agent knew of no file holding this VM\'s data: nothing was overwritten.');
      if (vm === undefined || captures.some((c) => c.simulated)) {
        if (captures.some((c) => c.simulated)) limits.unshift('The VM was simulated: its captures held synthetic content; its "disk" existed only in the agent\'s memory.');
      }
      const report: SanitisationReport = {
        vmId: m.vmId, ...(m.captureId !== undefined ? { captureId: m.captureId } : {}), startedAt, finishedAt: new Date().toISOString(),
        actor: m.actor, reason: m.reason, ...(who?.requestedBy ? { requestedBy: who.requestedBy } : {}), ...(who?.approval ? { approval: who.approval } : {}),
        method: 'NIST SP 800-88 Clear, best effort: each file overwritten in place once with zeros through the file system, synced, read back (past the page cache where the file system allows) and checked to be all zeros, then removed. Capture manifests (hashes, not content) are kept.',
        files, limits, ok: files.every((f) => f.found && f.verified && f.removed === true),
      };
      for (const c of captures) {
        if (!c.sanitised) writeFileDurably(join(this.options.root, c.captureId, SANITISED_FILE), `${JSON.stringify(report, null, 2)}\n`);
      }
      // A VM never seized has no capture folder to keep its report in: it goes to the reports folder, made on first use.
      if (captures.length === 0) {
        mkdirSync(this.options.reportsDir, { recursive: true });
        writeFileDurably(join(this.options.reportsDir, `${m.vmId}-${startedAt.replace(/[:.]/g, '-')}.json`), `${JSON.stringify(report, null, 2)}\n`);
      }
      this.options.note(`sanitised ${m.vmId}: ${files.filter((f) => f.verified).length} of ${files.length} file(s) overwritten and verified${report.ok ? '' : ' (NOT all: see the report)'}.`);
      return { type: 'evidence.sanitised', ref: m.id, report };
    } catch (err) {
      this.options.note(`sanitisation of ${m.vmId} failed: ${err instanceof Error ? err.message : String(err)}`);
      return error('internal', `The sanitisation of ${m.vmId} stopped: ${err instanceof Error ? err.message.slice(0, 300) : String(err)}. Some files may be overwritten already; ask again to finish.`, m.id);
    } finally {
      this.sanitising.delete(m.vmId);
    }
  }
}

function describeRole(role: CapturedFile['role']): string {
  switch (role) {
    case 'memory': return 'the memory image';
    case 'disk': return 'the disk image copy';
    case 'config': return 'the configuration';
    case 'log': return 'a log';
    case 'events': return 'the threat events';
    default: return 'a file';
  }
}

/** The VM part of a capture's manifest, as a Vm when it has what a Vm needs (older captures may not). */
function captureVm(v: CaptureManifest['vm']): Vm | undefined {
  if (typeof v.id !== 'string' || typeof v.name !== 'string') return undefined;
  const vm: Vm = { id: v.id, name: v.name, state: 'seized' };
  if (typeof v.image === 'string') vm.image = v.image;
  if (typeof v.memoryMiB === 'number') vm.memoryMiB = v.memoryMiB;
  if (typeof v.vcpus === 'number') vm.vcpus = v.vcpus;
  if (Array.isArray(v.networks)) vm.networks = v.networks;
  if (typeof v.cloneOf === 'string') vm.cloneOf = v.cloneOf;
  return vm;
}

function readJson<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** A small file's digest, synchronously (a capture's manifest: a few KiB). */
function hashSync(path: string): FileDigest {
  const bytes = readFileSync(path);
  return { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), sha1: createHash('sha1').update(bytes).digest('hex') };
}

function error(code: string, message: string, ref?: string): AgentMessage {
  return { type: 'error', code, message: message.slice(0, 2048), ...(ref !== undefined ? { ref } : {}) };
}
