// A seizure of a simulated VM: real files, synthetic content. A small ELF core file standing in for the memory dump
// (with the attacker's strings in it, so `strings | grep` finds what a real dump would hold), a raw disk image with a
// partition table, the VM's configuration, its hypervisor log and its recent threat events; each hashed with SHA-256
// and SHA-1 in one pass (agent/evidence/hash.ts), then a manifest that says plainly the VM was simulated.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ActionParams, Actor, CapturedFile, ThreatEvent, Vm } from '../../protocol/index.ts';
import { hashFile, syncFile, writeAndHash } from '../evidence/hash.ts';
import { pause, SIM_TIMINGS, stepMs } from './sim-actions.ts';

/** Sizes of the synthetic images: big enough to stream in chunks, small enough for a test to hash in milliseconds. */
export const SIM_MEMORY_IMAGE_BYTES = 2 * 1024 * 1024;
export const SIM_DISK_IMAGE_BYTES = 1024 * 1024;
const CHUNK = 256 * 1024;
/** ELF program headers start after the ELF header; the memory "PT_LOAD" segment starts on the next page. */
const ELF_HEADER = 64;
const PHDR = 56;
const PAGE = 4096;

export interface SimCaptureInput {
  dir: string;
  vm: Vm;
  agentId: string;
  hypervisorVersion: string;
  requestId: string;
  actor: Actor;
  reason: string;
  params: ActionParams;
  startedAt: string;
  /** The VM's recent events, oldest first. */
  events: readonly ThreatEvent[];
  /** The VM's hypervisor log lines, oldest first. */
  log: readonly string[];
  signal: AbortSignal;
  progress(step: string, message: string, fraction?: number): void;
}

/** Writes the capture into `dir` and returns its files (manifest last), each with size and both hashes. */
export async function writeSimCapture(input: SimCaptureInput): Promise<CapturedFile[]> {
  const { dir, vm, signal, progress } = input;
  const files: { path: string; role: NonNullable<CapturedFile['role']>; capturedAt: string }[] = [];
  const strings = attackerStrings(input.events);
  const slow = async function* (chunks: Iterable<Buffer>, step: string, what: string, from: number, to: number, total: number) {
    let done = 0;
    for (const chunk of chunks) {
      await pause(stepMs(SIM_TIMINGS.captureChunk), signal);
      yield chunk;
      done += chunk.length;
      progress(step, `${what}: ${Math.round(done / 1024)} of ${Math.round(total / 1024)} KiB`, from + ((to - from) * done) / total);
    }
  };

  progress('memory', `Capturing the memory of ${vm.name} (simulated dump-guest-memory, ELF)`, 0.05);
  await writeAndHash(join(dir, 'memory.elf'), slow(memoryImage(SIM_MEMORY_IMAGE_BYTES, strings), 'memory', 'Memory', 0.05, 0.45, SIM_MEMORY_IMAGE_BYTES), { signal });
  files.push({ path: 'memory.elf', role: 'memory', capturedAt: new Date().toISOString() });

  progress('disk', `Copying the disk of ${vm.name} while it is frozen (simulated)`, 0.45);
  await writeAndHash(join(dir, 'disk.raw'), slow(diskImage(SIM_DISK_IMAGE_BYTES, strings), 'disk', 'Disk', 0.45, 0.7, SIM_DISK_IMAGE_BYTES), { signal });
  files.push({ path: 'disk.raw', role: 'disk', capturedAt: new Date().toISOString() });

  progress('config', `Saving the configuration of ${vm.name}`, 0.72);
  await pause(stepMs(SIM_TIMINGS.small), signal);
  const config = {
    note: 'A simulated VM: this configuration describes the sim driver\'s model of it, not a real QEMU process.',
    vm,
    hypervisor: { kind: 'sim', version: input.hypervisorVersion, agentId: input.agentId },
    machine: { type: 'microvm (simulated)', memoryMiB: vm.memoryMiB, vcpus: vm.vcpus, image: vm.image },
  };
  await writeText(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`, signal);
  files.push({ path: 'config.json', role: 'config', capturedAt: new Date().toISOString() });

  progress('logs', `Saving the hypervisor log of ${vm.name}`, 0.75);
  await pause(stepMs(SIM_TIMINGS.small), signal);
  await writeText(join(dir, 'hypervisor.log'), input.log.map((l) => `${l}\n`).join(''), signal);
  files.push({ path: 'hypervisor.log', role: 'log', capturedAt: new Date().toISOString() });

  progress('events', `Saving the ${input.events.length} most recent threat events of ${vm.name}`, 0.78);
  await writeText(join(dir, 'events.jsonl'), input.events.map((e) => `${JSON.stringify(e)}\n`).join(''), signal);
  files.push({ path: 'events.jsonl', role: 'events', capturedAt: new Date().toISOString() });

  // Hashed from disk, each file read once for both digests: what is hashed is what was written, not what was meant.
  const hashed: CapturedFile[] = [];
  for (const [i, f] of files.entries()) {
    progress('hash', `Hashing ${f.path} (SHA-256 and SHA-1, one pass)`, 0.8 + (0.15 * i) / files.length);
    const digest = await hashFile(join(dir, f.path), { signal });
    hashed.push({ path: f.path, role: f.role, size: digest.size, sha256: digest.sha256, sha1: digest.sha1, capturedAt: f.capturedAt });
  }

  progress('manifest', 'Writing the manifest', 0.97);
  const manifest = {
    format: 'cordon-capture/1',
    captureId: input.requestId,
    simulated: true,
    statement: 'Captured from a simulated VM by Cordon\'s sim driver: the memory and disk images are synthetic, made for training and tests. Nothing here came from a real machine.',
    agent: { id: input.agentId, hypervisor: { kind: 'sim', version: input.hypervisorVersion } },
    vm: { id: vm.id, name: vm.name, image: vm.image, memoryMiB: vm.memoryMiB, vcpus: vm.vcpus, cloneOf: vm.cloneOf, isolation: vm.isolation, networks: vm.networks },
    request: { requestId: input.requestId, actor: input.actor, reason: input.reason, caseId: input.params.caseId },
    startedAt: input.startedAt,
    finishedAt: new Date().toISOString(),
    hashes: 'SHA-256 is the evidentiary hash; SHA-1 is a cross-check for older custody forms. Each file was read once, both digests fed from the same bytes.',
    files: hashed,
  };
  await writeText(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, signal);
  const m = await hashFile(join(dir, 'manifest.json'), { signal });
  syncFile(dir);
  progress('manifest', `Captured ${hashed.length + 1} files`, 1);
  return [...hashed, { path: 'manifest.json', role: 'other', size: m.size, sha256: m.sha256, sha1: m.sha1, capturedAt: manifest.finishedAt }];
}

async function writeText(path: string, text: string, signal: AbortSignal): Promise<void> {
  await writeAndHash(path, [Buffer.from(text, 'utf8')], { signal });
}

/** What an attacker left in the VM's memory: process names, command lines, files and addresses from its events. */
function attackerStrings(events: readonly ThreatEvent[]): Buffer[] {
  const seen = new Set<string>();
  for (const e of events) {
    if (e.scenario === 'background') continue;
    for (const s of [e.process?.name, e.process?.commandLine, e.file?.path, e.connection?.remoteAddress]) {
      if (s) seen.add(s);
    }
  }
  if (seen.size === 0) seen.add('cordon-sim: no attacker activity was recorded in this VM');
  return [...seen].slice(0, 256).map((s) => Buffer.from(`\0${s}\0`, 'utf8'));
}

/** Mostly zero pages, some noise, and the strings sprinkled through: roughly what a small guest's RAM looks like. */
function fillChunk(size: number, strings: readonly Buffer[], seed: number): Buffer {
  const chunk = Buffer.alloc(size);
  for (let off = 0; off < size; off += PAGE) {
    if ((off / PAGE + seed) % 3 === 0) randomBytes(Math.min(PAGE, size - off)).copy(chunk, off);
  }
  for (let i = 0; i < strings.length; i++) {
    const s = strings[(i + seed) % strings.length]!;
    const at = ((i * 7919 + seed * 104729) % Math.max(1, size - s.length)) | 0;
    s.copy(chunk, at);
  }
  return chunk;
}

/** A 64-bit little-endian ELF core file with one PT_LOAD segment, as `dump-guest-memory` (paging off) writes. */
function* memoryImage(total: number, strings: readonly Buffer[]): Generator<Buffer> {
  const head = fillChunk(Math.min(CHUNK, total), strings, 0);
  head.fill(0, 0, PAGE);
  head.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0); // \x7fELF, 64-bit, little-endian, version 1, System V
  head.writeUInt16LE(4, 16); // e_type ET_CORE
  head.writeUInt16LE(0x3e, 18); // e_machine x86-64
  head.writeUInt32LE(1, 20); // e_version
  head.writeBigUInt64LE(BigInt(ELF_HEADER), 32); // e_phoff
  head.writeUInt16LE(ELF_HEADER, 52); // e_ehsize
  head.writeUInt16LE(PHDR, 54); // e_phentsize
  head.writeUInt16LE(1, 56); // e_phnum
  const ph = ELF_HEADER;
  head.writeUInt32LE(1, ph); // p_type PT_LOAD
  head.writeUInt32LE(7, ph + 4); // p_flags RWX
  head.writeBigUInt64LE(BigInt(PAGE), ph + 8); // p_offset
  head.writeBigUInt64LE(BigInt(total - PAGE), ph + 32); // p_filesz
  head.writeBigUInt64LE(BigInt(total - PAGE), ph + 40); // p_memsz
  head.writeBigUInt64LE(BigInt(PAGE), ph + 48); // p_align
  yield head;
  for (let off = head.length, n = 1; off < total; off += CHUNK, n++) yield fillChunk(Math.min(CHUNK, total - off), strings, n);
}

/** A raw disk with an MBR (one Linux partition), as a copy of the VM's disk would start. */
function* diskImage(total: number, strings: readonly Buffer[]): Generator<Buffer> {
  const head = fillChunk(Math.min(CHUNK, total), strings, 11);
  head.fill(0, 0, 512);
  const entry = 446;
  const first = total >= 4 * 1024 * 1024 ? 2048 : 1;
  head[entry + 4] = 0x83; // partition type: Linux
  head.writeUInt32LE(first, entry + 8); // first sector
  head.writeUInt32LE(Math.max(0, Math.floor(total / 512) - first), entry + 12); // sectors
  head[510] = 0x55;
  head[511] = 0xaa;
  yield head;
  for (let off = head.length, n = 12; off < total; off += CHUNK, n++) yield fillChunk(Math.min(CHUNK, total - off), strings, n);
}
