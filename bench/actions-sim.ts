// Latency of each action on the sim driver, end to end: an agent process (the CLI) over a real WebSocket, from the
// moment the cockpit sends `action` to the moment its `action.result` arrives — the request id fsynced before the
// run and the outcome after, the sim's modelled hypervisor time, the wire both ways. One action at a time (each
// kind's latency alone), then many freezes at once across VMs (how the agent holds up under a burst). Prints p50 and
// p99 per kind and one JSON line for scripts.
//
//   npx tsx bench/actions-sim.ts [--runs 100] [--seizes 30] [--burst 100] [--rate 50]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ActionKind, ActionParams, Vm } from '../protocol/index.ts';
import { ActionCockpit, type ActionAnswer } from '../test/agent/action-cockpit.ts';
import { startAgentProcess, tempDir, writeToken } from '../test/helpers/processes.ts';
import { percentile } from './lib.ts';

const { values } = parseArgs({ options: {
  runs: { type: 'string', default: '100' }, seizes: { type: 'string', default: '30' },
  burst: { type: 'string', default: '100' }, rate: { type: 'string', default: '50' },
} });
const runs = Number(values.runs);
const seizes = Number(values.seizes);
const burst = Number(values.burst);
const POOL = 20;
const TOKEN = 'bench-actions-token-0123456789';

const dir = tempDir('bench-actions');
const agent = await startAgentProcess({
  tokenFile: writeToken(dir.path, TOKEN), dataDir: join(dir.path, 'data'), agentId: 'bench-actions',
  rate: Number(values.rate), vms: POOL + runs + burst, seed: 3,
});
const stop = async () => {
  await agent.kill('SIGTERM');
  dir.remove();
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => { void stop().finally(() => process.exit(130)); });

const samples = new Map<string, number[]>();
const record = (name: string, ms: number) => samples.set(name, [...(samples.get(name) ?? []), ms]);

try {
  const c = await ActionCockpit.open(agent.url, TOKEN);
  c.send({ type: 'subscribe', since: 0 });
  const vms: Vm[] = (await c.inventory()).filter((v) => v.state === 'running' && !v.tags?.includes('ephemeral'));
  const spare = (await c.inventory()).filter((v) => v.state === 'running' && v.tags?.includes('ephemeral'));
  const pool = vms.slice(0, POOL);
  const rest = [...vms.slice(POOL), ...spare];
  const act = async (vm: Vm, kind: ActionKind, params: ActionParams = {}, name: string = kind): Promise<ActionAnswer> => {
    const a = await c.act(vm.id, kind, { params, reason: `bench ${kind}`, actor: { name: 'bench' }, timeoutMs: 30_000 });
    if (!a.result?.ok) throw new Error(`${kind} of ${vm.name} did not succeed: ${JSON.stringify(a.first)} ${JSON.stringify(a.result?.error)}`);
    record(name, a.ms);
    return a;
  };

  // Warm-up: the first action of a kind pays for module loading and JIT; it is not what a responder waits for.
  await act(pool[0]!, 'freeze', {}, 'warm-up');
  await act(pool[0]!, 'resume', {}, 'warm-up');

  for (let i = 0; i < runs; i++) {
    const vm = pool[i % POOL]!;
    await act(vm, 'freeze');
    await act(vm, 'resume');
    const mode = i % 2 === 0 ? 'cut' : 'honeypot';
    await act(vm, 'isolate', { mode }, `isolate (${mode})`);
    await act(vm, 'release');
    await act(vm, 'clone');
  }
  for (let i = 0; i < seizes; i++) {
    const vm = pool[i % POOL]!;
    await act(vm, 'seize', { caseId: 'BENCH-1' });
    await act(vm, 'resume', {}, 'resume (after seize)');
  }
  const victims = rest.splice(0, runs);
  for (const vm of victims) await act(vm, 'terminate');

  // A burst: one freeze on each of `burst` VMs, all sent at once.
  const targets = rest.splice(0, burst);
  const started = performance.now();
  await Promise.all(targets.map((vm) => act(vm, 'freeze', {}, `freeze, ${targets.length} VMs at once`)));
  const burstMs = performance.now() - started;
  if (c.invalid.length > 0) throw new Error(`invalid frames from the agent: ${c.invalid[0]}`);
  c.close();

  const rows = [...samples.entries()].filter(([name]) => name !== 'warm-up').map(([name, xs]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return { name, n: xs.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1]! };
  });
  console.log(`\nsim actions over a real socket, request → result (agent ${agent.url}, ${POOL + runs + burst} VMs, background ${values.rate} events/s)\n`);
  console.log(`${'action'.padEnd(28)} ${'n'.padStart(5)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)}`);
  for (const r of rows) console.log(`${r.name.padEnd(28)} ${String(r.n).padStart(5)} ${r.p50.toFixed(1).padStart(8)} ${r.p99.toFixed(1).padStart(8)} ${r.max.toFixed(1).padStart(8)}`);
  console.log(`\nburst: ${targets.length} freezes on ${targets.length} VMs in ${burstMs.toFixed(0)} ms (${(targets.length / (burstMs / 1000)).toFixed(0)} actions/s)`);
  console.log(JSON.stringify({ bench: 'actions-sim', rows: rows.map((r) => ({ ...r, p50: +r.p50.toFixed(2), p99: +r.p99.toFixed(2), max: +r.max.toFixed(2) })), burst: { n: targets.length, ms: +burstMs.toFixed(1) } }));
} finally {
  await stop();
}
