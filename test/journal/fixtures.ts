// Test and bench fixtures for the journal: keys, published test vectors, and generated records — synthetic ones
// whose fields a brute-force check can recompute from their number, and realistic threat events from the sim.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { FeedEvent, Severity, ThreatEvent } from '../../protocol/index.ts';
import { backgroundFor } from '../../agent/drivers/sim-background.ts';
import { Rng, SimFleet } from '../../agent/drivers/sim-fleet.ts';
import { STORIES } from '../../agent/drivers/sim-stories.ts';
import { eventEntry } from '../../main/journal/entries.ts';
import type { JournalEntry, JournalKind } from '../../main/journal/record.ts';

export function newKey(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

/** golang.org/x/mod/sumdb/note's example key and note (note_test.go), the signed-note reference vector. */
export const GO_NOTE = {
  verifierKey: 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW',
  /** base64(0x01 || 32-byte Ed25519 seed), from "PRIVATE+KEY+PeterNeumann+c74f20a3+…". */
  seed: Buffer.from('AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz', 'base64').subarray(1),
  text: "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n",
  signature: '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n',
};

/** RFC 6962 test tree (certificate-transparency / transparency-dev/merkle testonly): leaves, roots of sizes 1–8. */
export const RFC6962 = {
  leaves: ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'],
  roots: [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
    '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
    'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
    '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
  ],
  inclusion: [
    { index: 0, size: 8, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
    { index: 5, size: 8, proof: ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
    { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
    { index: 1, size: 5, proof: ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'] },
    { index: 0, size: 1, proof: [] },
  ],
  consistency: [
    { from: 1, to: 1, proof: [] },
    { from: 1, to: 8, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
    { from: 6, to: 8, proof: ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
    { from: 2, to: 5, proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'] },
    { from: 6, to: 7, proof: ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
  ],
};

// ---- synthetic records: every field a function of the record's number ----

export const T0 = Date.UTC(2026, 10, 1);
export const AGENTS = ['host-a', 'host-b', 'host-c', 'host-d'];
export const PROCESSES = ['curl', 'sh', 'sshd', 'nginx', 'python3', 'nc', 'cron', 'postgres'];
export const SEVERITY_LIST: Severity[] = ['info', 'low', 'medium', 'high', 'critical'];
export const ACTORS = ['alice', 'bogdan', 'chen'];

export interface Synthetic {
  n: number;
  time: number;
  kind: JournalKind;
  agentId: string;
  vmId: string;
  severity: Severity;
  actor?: string;
  process: string;
  /** Present on one record in 5,000: a word a query can look for. */
  marker?: string;
}

/** A cheap deterministic hash of n, so fields spread without a shared RNG state. */
function mix(n: number, salt: number): number {
  let h = Math.imul(n ^ salt, 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

export function synthetic(n: number, vms = 2000): Synthetic {
  const m = mix(n, 0x51);
  const kind: JournalKind = m % 100 === 0 ? 'action' : m % 100 === 1 ? 'log' : m % 997 === 2 ? 'custody' : 'event';
  // Mostly increasing time, with one record in 1,000 backdated an hour (a clock step, a late import).
  const time = T0 + n * 10 - (mix(n, 0x77) % 1000 === 0 ? 3_600_000 : 0);
  const s: Synthetic = {
    n, time, kind, agentId: AGENTS[m % AGENTS.length]!, vmId: `vm-${mix(n, 0x13) % vms}`,
    severity: SEVERITY_LIST[mix(n, 0x29) % 5]!, process: PROCESSES[mix(n, 0x31) % PROCESSES.length]!,
  };
  if (kind === 'action' || kind === 'custody') s.actor = ACTORS[mix(n, 0x41) % ACTORS.length];
  if (mix(n, 0x99) % 5000 === 0) s.marker = `zebra${mix(n, 0x5) % 3}`;
  return s;
}

export function syntheticEntry(n: number, vms = 2000): JournalEntry {
  const s = synthetic(n, vms);
  return {
    kind: s.kind, time: s.time, agentId: s.agentId, vmId: s.vmId, severity: s.severity,
    ...(s.actor ? { actor: { name: s.actor, role: 'responder' } } : {}),
    body: {
      n, title: `${s.process} on ${s.vmId}${s.marker ? ` ${s.marker}` : ''}`,
      process: { name: s.process, pid: 1000 + (n % 50_000), commandLine: `/usr/bin/${s.process} --flag ${n % 97}` },
    },
  };
}

// ---- realistic threat events, from the sim's background noise and scripted attacks ----

/** A stream of FeedEvents as the hub would see them from `agents` sim hosts with `vmsPerAgent` VMs each. */
export function* simFeed(count: number, agents = 10, vmsPerAgent = 40, seed = 7): Generator<FeedEvent> {
  const rng = new Rng(seed);
  const hosts = Array.from({ length: agents }, (_, a) => {
    const agentId = `sim-${a}`;
    const fleet = new SimFleet(vmsPerAgent, seed + a, new Date(T0).toISOString());
    const drafts = fleet.vms.flatMap((vm) => backgroundFor(vm, rng, agentId));
    const stories = STORIES.flatMap((s) => s.build({ agentId, rng, fleet }).map((st) => st.draft));
    return { agentId, drafts, stories, seq: 0 };
  });
  for (let i = 0; i < count; i++) {
    const h = hosts[i % agents]!;
    const draft = i % 500 === 0 ? h.stories[(i / 500) % h.stories.length]! : h.drafts[rng.int(0, h.drafts.length - 1)]!;
    const time = T0 + i;
    const event: ThreatEvent = { ...draft, id: `${h.agentId}-e${++h.seq}`, time: new Date(time).toISOString() };
    yield { agentId: h.agentId, seq: h.seq, event, receivedAt: time + 3 };
  }
}

export function simEntries(count: number): JournalEntry[] {
  return Array.from(simFeed(count), eventEntry);
}
