// Log queries as a cockpit makes them: a logs.query over the test cockpit's real WebSocket, its answer (or error)
// found by ref, and a poll until the records a test expects have arrived (sources write asynchronously).
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';
import type { ErrorMessage, LogRecord, LogsQueryMessage, LogsResultMessage } from '../../../protocol/index.ts';
import type { TestCockpit } from '../helpers.ts';

let counter = 0;

export async function queryLogs(c: TestCockpit, query: Omit<LogsQueryMessage, 'type' | 'id'>, timeoutMs = 5000): Promise<LogsResultMessage | ErrorMessage> {
  const id = `q-${process.pid}-${++counter}`;
  c.send({ type: 'logs.query', id, ...query });
  return c.next<LogsResultMessage | ErrorMessage>((m) => (m.type === 'logs.result' || m.type === 'error') && 'ref' in m && m.ref === id, timeoutMs, `the answer to ${id}`);
}

/** Queries until `done` holds for the records (or the deadline passes, then the last records are returned for the assert). */
export async function waitForLogs(c: TestCockpit, query: Omit<LogsQueryMessage, 'type' | 'id'>, done: (records: LogRecord[]) => boolean, timeoutMs = 10_000): Promise<LogRecord[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await queryLogs(c, query);
    if (r.type === 'error') throw new Error(`the agent answered ${r.code}: ${r.message}`);
    if (done(r.records) || Date.now() > deadline) return r.records;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** util-linux `logger`, which the tests drive as a real syslog client; installs bsdutils when it is missing (root). */
export function ensureLogger(): void {
  if (spawnSync('logger', ['--version']).status === 0) return;
  if (process.getuid?.() === 0) spawnSync('apt-get', ['install', '-y', '-qq', 'bsdutils'], { stdio: 'ignore', timeout: 120_000 });
  if (spawnSync('logger', ['--version']).status !== 0) throw new Error('logger (util-linux, Debian package bsdutils) is not installed and could not be installed.');
}

export function logger(args: string[]): void {
  const r = spawnSync('logger', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`logger ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

/**
 * A stand-in for a test's context whose clean-ups run when `dispose` is called: for the agent and temp folders a
 * whole describe block shares (set up in `before`, removed in `after`).
 */
export function suiteScope(): { t: TestContext; dispose(): Promise<void> } {
  const steps: Array<() => unknown> = [];
  const t = { after: (fn: () => unknown) => steps.push(fn) } as unknown as TestContext;
  return { t, dispose: async () => { for (const s of steps.reverse()) await s(); } };
}
