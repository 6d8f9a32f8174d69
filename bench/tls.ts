// `npm run bench:tls`: what TLS costs the event stream on loopback. An agent's event log is filled once; then the
// same agent process is started on it plain (ws://) and with TLS (wss://, its own certificate, pinned), alternately,
// and a cockpit replays the whole log: through the cockpit's real link (AgentLink: every event decoded and checked
// against the schema, exactly-once bookkeeping) and through a bare WebSocket client that only counts frames (the
// transport alone). Prints events/s per run, the medians, and TLS's cost against plain.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { AgentLink } from '../main/fleet/agent-link.ts';
import { startNodeProcess, tempDir, writeToken, type RunningProcess } from '../test/helpers/processes.ts';
import { percentile } from './lib.ts';

const { values } = parseArgs({ options: {
  fill: { type: 'string', default: '12' },
  rate: { type: 'string', default: '25000' },
  runs: { type: 'string', default: '3' },
} });
const log = (s: string) => console.error(`bench:tls: ${s}`);
const dir = tempDir('bench-tls');
const TOKEN = 'bench-token-0123456789abcdef';
const token = writeToken(dir.path, TOKEN);
const dataDir = join(dir.path, 'agent');
const base = ['--driver', 'sim', '--listen', '127.0.0.1:0', '--token-file', token, '--data-dir', dataDir, '--agent-id', 'bench-tls', '--seed', '9', '--vms', '50', '--no-logs'];

async function start(tls: boolean, rate: string): Promise<RunningProcess> {
  return startNodeProcess('agent/cli.ts', [...base, '--rate', rate, ...(tls ? ['--tls-dir', join(dir.path, 'tls')] : [])]);
}

/** Replays the log through the cockpit's link; resolves with events/s. */
async function viaLink(agent: RunningProcess, latest: number): Promise<number> {
  const link = new AgentLink({ agentId: 'bench-tls', label: 'bench', url: String(agent.ready.url), token: TOKEN, ...(agent.ready.fingerprint ? { fingerprint: String(agent.ready.fingerprint) } : {}) }, { backfill: Number.MAX_SAFE_INTEGER });
  let count = 0;
  let first = 0;
  const done = new Promise<number>((resolve, reject) => {
    link.on('event', (seq) => {
      if (count++ === 0) first = performance.now();
      if (seq >= latest) resolve((count - 1) / ((performance.now() - first) / 1000));
    });
    link.on('status', () => { const s = link.snapshotStatus(); if (s.link === 'untrusted' || s.link === 'failed' || s.link === 'unauthorized') reject(new Error(s.lastError)); });
  });
  link.start();
  try {
    return await done;
  } finally {
    link.stop();
  }
}

/** Replays the log through a bare client that counts frames; resolves with events/s. */
function viaSocket(agent: RunningProcess, latest: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(String(agent.ready.url), ['cordon.v1'], { headers: { Authorization: `Bearer ${TOKEN}` }, rejectUnauthorized: false, perMessageDeflate: false });
    let events = 0;
    let first = 0;
    ws.on('message', (data: Buffer) => {
      if (data[2] !== 0x74 || data[9] !== 0x65) return; // {"type":"event" …
      if (events++ === 0) first = performance.now();
      if (events >= latest) {
        resolve((events - 1) / ((performance.now() - first) / 1000));
        ws.terminate();
      }
    });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', since: 0 })));
    ws.on('error', reject);
  });
}

try {
  log(`filling the event log for ${values.fill} s at ${values.rate} events/s…`);
  const filler = await start(false, values.rate);
  await new Promise((r) => setTimeout(r, Number(values.fill) * 1000));
  await filler.kill();
  const runs: Record<'plain' | 'tls', { link: number[]; socket: number[] }> = { plain: { link: [], socket: [] }, tls: { link: [], socket: [] } };
  let latest = 0;
  for (let i = 0; i < Number(values.runs); i++) {
    for (const mode of (i % 2 === 0 ? ['plain', 'tls'] : ['tls', 'plain']) as ('plain' | 'tls')[]) {
      const agent = await start(mode === 'tls', '0');
      try {
        if (latest === 0) {
          // The log's newest seq, from the agent's hello.
          latest = await new Promise<number>((resolve, reject) => {
            const ws = new WebSocket(String(agent.ready.url), ['cordon.v1'], { headers: { Authorization: `Bearer ${TOKEN}` }, rejectUnauthorized: false });
            ws.once('message', (d: Buffer) => { resolve((JSON.parse(d.toString()) as { latestSeq: number }).latestSeq); ws.terminate(); });
            ws.on('error', reject);
          });
          log(`the log holds ${latest} events`);
        }
        const socket = await viaSocket(agent, latest);
        const link = await viaLink(agent, latest);
        runs[mode].socket.push(socket);
        runs[mode].link.push(link);
        log(`run ${i + 1} ${mode}: bare socket ${Math.round(socket)} events/s, cockpit link ${Math.round(link)} events/s`);
      } finally {
        await agent.kill();
      }
    }
  }
  const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
  const row = (what: 'link' | 'socket') => {
    const plain = median(runs.plain[what]);
    const tls = median(runs.tls[what]);
    return { plain: Math.round(plain), tls: Math.round(tls), costPercent: Math.round((1 - tls / plain) * 1000) / 10 };
  };
  const result = { events: latest, runs: Number(values.runs), cockpitLink: row('link'), bareSocket: row('socket') };
  console.log(JSON.stringify(result, null, 2));
  log(`TLS costs ${result.cockpitLink.costPercent}% of the cockpit link's throughput (${result.cockpitLink.plain} → ${result.cockpitLink.tls} events/s) and ${result.bareSocket.costPercent}% of a bare socket's (${result.bareSocket.plain} → ${result.bareSocket.tls} events/s); target ≤ 15%.`);
} finally {
  dir.remove();
}
