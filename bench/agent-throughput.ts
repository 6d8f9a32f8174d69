// How many events per second one agent process emits to one fast subscriber on loopback: it starts the agent CLI
// at rising target rates, reads with a cheap client (seq from the frame's fixed prefix, no JSON parse), and reports
// what the agent produced, what arrived, how far behind the reader ended, latency (event time → arrival), the
// agent's CPU and RSS.
//
//   npx tsx bench/agent-throughput.ts [--seconds 8] [--rates 10000,25000,50000,100000,200000]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' }, rates: { type: 'string', default: '10000,25000,50000,100000,200000' } } });
const seconds = Number(values.seconds);
const rates = values.rates.split(',').map(Number);
const root = join(import.meta.dirname, '..');
// Agents started here die with the bench, however it ends: an orphan at 200,000 events/s would skew the next run.
const agents = new Set<ChildProcess>();
process.on('exit', () => agents.forEach((a) => a.kill('SIGKILL')));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
const PREFIX = '{"type":"event","seq":';
const TIME_KEY = Buffer.from('"time":"');

interface Result { rate: number; produced: number; received: number; behind: number; p50: number; p99: number; cpu: number; rssMiB: number }

async function run(rate: number): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-bench-'));
  const token = 'bench-token-0123456789';
  writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
  const agent = spawn(process.execPath, ['--import', 'tsx', 'agent/cli.ts', '--listen', '127.0.0.1:0', '--token-file', join(dir, 'token'), '--data-dir', join(dir, 'data'), '--rate', String(rate), '--seed', '1', '--agent-id', 'bench'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] });
  agents.add(agent);
  const ready = await new Promise<{ url: string; pid: number }>((resolve) => agent.stdout.once('data', (c: Buffer) => resolve(JSON.parse(c.toString().split('\n')[0]!) as { url: string; pid: number })));
  const ws = new WebSocket(ready.url, ['cordon.v1'], { headers: { Authorization: `Bearer ${token}` } });
  await new Promise((r) => ws.once('open', r));
  let received = 0;
  let lastSeq = 0;
  const latencies: number[] = [];
  let measuring = false;
  ws.on('message', (data: Buffer) => {
    if (data[0] === 0x7b && data[2] === 0x74 && data.toString('latin1', 0, PREFIX.length) === PREFIX) {
      let seq = 0;
      for (let i = PREFIX.length; data[i]! >= 0x30 && data[i]! <= 0x39; i++) seq = seq * 10 + data[i]! - 0x30;
      if (seq !== lastSeq + 1) throw new Error(`seq ${seq} after ${lastSeq}`);
      lastSeq = seq;
      if (!measuring) return;
      received++;
      if (received % 50 === 0) {
        const at = data.indexOf(TIME_KEY) + TIME_KEY.length;
        latencies.push(Date.now() - Date.parse(data.toString('latin1', at, at + 24)));
      }
    }
  });
  ws.send(JSON.stringify({ type: 'subscribe', since: 0 }));
  // Warm up (JIT, the first segment), then measure from the live edge.
  await new Promise((r) => setTimeout(r, 1500));
  const latest0 = await latestSeq(ready.url, token);
  const cpu0 = cpuSeconds(ready.pid);
  const t0 = Date.now();
  measuring = true;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const elapsed = (Date.now() - t0) / 1000;
  const cpu = (cpuSeconds(ready.pid) - cpu0) / elapsed;
  const rssMiB = rss(ready.pid);
  const latest = await latestSeq(ready.url, token);
  ws.terminate();
  agent.kill('SIGKILL');
  agents.delete(agent);
  rmSync(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN;
  return { rate, produced: (latest - latest0) / elapsed, received: received / elapsed, behind: latest - lastSeq, p50: q(0.5), p99: q(0.99), cpu, rssMiB };
}

/** The agent's newest seq, from the hello of a second connection. */
async function latestSeq(url: string, token: string): Promise<number> {
  const probe = new WebSocket(url, ['cordon.v1'], { headers: { Authorization: `Bearer ${token}` } });
  const latest = await new Promise<number>((resolve) => probe.once('message', (d: Buffer) => resolve((JSON.parse(d.toString()) as { latestSeq: number }).latestSeq)));
  probe.terminate();
  return latest;
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (100/s on Linux)
}

function rss(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
}

console.log(`one agent → one subscriber on loopback, ${seconds} s per rate`);
console.log('target/s  produced/s  received/s  behind  p50 ms  p99 ms  agent CPU  agent RSS MiB');
for (const rate of rates) {
  const r = await run(rate);
  console.log(`${String(r.rate).padStart(8)}  ${r.produced.toFixed(0).padStart(10)}  ${r.received.toFixed(0).padStart(10)}  ${String(r.behind).padStart(6)}  ${String(r.p50).padStart(6)}  ${String(r.p99).padStart(6)}  ${(r.cpu * 100).toFixed(0).padStart(8)}%  ${r.rssMiB.toFixed(0).padStart(13)}`);
}
