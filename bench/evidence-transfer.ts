// The agent → cockpit transfer part of `npm run bench:evidence`: a capture holding one big file is put in a real
// agent process's evidence store (a hard link to the bench's file, so nothing is copied first), and the cockpit's
// own pull (main/evidence/transfer.ts: binary 0x03 frames over the real WebSocket on loopback, written, synced every
// 8 MiB, acknowledged, hashed with SHA-256 and SHA-1 as it arrives, checked against the agent's hashes at the end)
// brings it into a folder. Prints MB/s.
import { linkSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FleetHub } from '../main/fleet/hub.ts';
import { pullCapture } from '../main/evidence/transfer.ts';
import { startAgentProcess, writeToken } from '../test/helpers/processes.ts';
import type { EvidenceCapture } from '../protocol/index.ts';
import type { FileDigest } from '../agent/evidence/hash.ts';

export interface TransferFigures {
  bytes: number;
  ms: number;
  mbPerSec: number;
}

/** Pulls `file` (whose digest is known) from a real agent process into a temp folder on the same disk. */
export async function benchTransfer(file: string, digest: FileDigest, work = mkdtempSync(join(tmpdir(), 'cordon-bench-xfer-'))): Promise<TransferFigures> {
  const captureId = 'bench-capture-0001';
  const dataDir = join(work, 'agent');
  const store = join(dataDir, 'actions', captureId);
  mkdirSync(store, { recursive: true, mode: 0o700 });
  try {
    linkSync(file, join(store, 'memory.elf'));
  } catch {
    throw new Error(`${file} and ${work} must be on the same file system (a hard link, not a copy).`);
  }
  const finishedAt = new Date().toISOString();
  const captured = { path: 'memory.elf', role: 'memory' as const, size: digest.size, sha256: digest.sha256, sha1: digest.sha1, capturedAt: finishedAt };
  writeFileSync(join(store, 'manifest.json'), `${JSON.stringify({
    format: 'cordon-capture/1', captureId, simulated: true, agent: { id: 'bench', hypervisor: { kind: 'sim' } },
    vm: { id: 'bench-vm', name: 'bench-vm' }, startedAt: finishedAt, finishedAt, files: [captured],
  })}\n`);
  const agent = await startAgentProcess({ tokenFile: writeToken(work, 'bench-token-0123456789'), dataDir, agentId: 'bench', rate: 1, vms: 1, extra: ['--no-logs'] });
  const hub = new FleetHub();
  try {
    hub.addAgent({ agentId: 'bench', label: 'bench', url: agent.url, token: 'bench-token-0123456789' });
    const link = hub.linkOf('bench')!;
    for (let i = 0; i < 200 && link.snapshotStatus().link !== 'connected'; i++) await new Promise((r) => setTimeout(r, 25));
    const capture = (await link.listEvidence()).find((c) => c.captureId === captureId) as EvidenceCapture;
    const into = join(work, 'cockpit');
    const r = await pullCapture({ agentId: 'bench', capture, dir: into, link: () => hub.linkOf('bench') });
    if (statSync(join(into, 'memory.elf')).size !== digest.size) throw new Error('the pulled file has the wrong size');
    // The capture was only listed, so the manifest.json the agent hashes at listing time came along too.
    return { bytes: r.bytes, ms: r.ms, mbPerSec: r.bytes / 1e6 / (r.ms / 1000) };
  } finally {
    hub.close();
    await agent.kill();
    rmSync(work, { recursive: true, force: true });
  }
}

/** bench/evidence.ts's section for the transfer: the same file, pulled `runs` times, the median against ≥ 300 MB/s. */
export const transferring = {
  name: 'agent → cockpit transfer on loopback (cordon.v1 evidence stream: written, synced every 8 MiB, acknowledged, hashed as it arrives)',
  async run(ctx: { dir: string; file: string; size: number; digest: FileDigest; runs: number }) {
    const seconds: number[] = [];
    for (let r = 0; r < ctx.runs; r++) {
      const f = await benchTransfer(ctx.file, ctx.digest, mkdtempSync(join(ctx.dir, 'xfer-')));
      seconds.push(f.ms / 1000);
      process.stderr.write(`  transfer: ${(f.ms / 1000).toFixed(2)} s (${f.mbPerSec.toFixed(0)} MB/s)\n`);
    }
    const sorted = [...seconds].sort((a, b) => a - b);
    const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
    const mbPerSec = ctx.size / 1e6 / median;
    return {
      rows: [{ what: 'pull of one capture file from a real agent process into the cockpit', seconds, bytes: ctx.size, note: 'includes the capture listing and the final hash check' }],
      checks: [{ what: 'transfer agent → cockpit (loopback)', measured: `${mbPerSec.toFixed(0)} MB/s`, target: '≥ 300 MB/s', ok: mbPerSec >= 300 }],
    };
  },
};
