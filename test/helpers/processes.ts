// Test helpers that start real processes (the agent CLI, the browser shell) and free ports, and clean up after.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = join(import.meta.dirname, '..', '..');

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `cordon-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function writeToken(dir: string, token: string): string {
  const file = join(dir, `token-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return file;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface RunningProcess {
  child: ChildProcess;
  ready: Record<string, unknown>;
  stderr(): string;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Spawns `node --import tsx SCRIPT ARGS` and waits for its JSON ready line on stdout. */
export async function startNodeProcess(script: string, args: string[], timeoutMs = 30_000): Promise<RunningProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, script), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-20_000); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} was not ready within ${timeoutMs} ms. stderr:\n${err}`)), timeoutMs);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}) before it was ready. stderr:\n${err}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const msg = JSON.parse(line) as Record<string, unknown>;
        if (msg.ready === true) {
          clearTimeout(timer);
          resolve(msg);
        }
      } catch {
        // not the ready line
      }
    });
  });
  return {
    child,
    ready,
    stderr: () => err,
    exited,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface AgentProcessOptions {
  tokenFile: string;
  dataDir: string;
  agentId?: string;
  port?: number;
  rate?: number;
  vms?: number;
  seed?: number;
  extra?: string[];
}

export async function startAgentProcess(o: AgentProcessOptions): Promise<RunningProcess & { url: string }> {
  const args = ['--driver', 'sim', '--listen', `127.0.0.1:${o.port ?? 0}`, '--token-file', o.tokenFile, '--data-dir', o.dataDir,
    '--agent-id', o.agentId ?? 'test-agent', '--rate', String(o.rate ?? 50), '--vms', String(o.vms ?? 4), '--seed', String(o.seed ?? 7), ...(o.extra ?? [])];
  const p = await startNodeProcess('agent/cli.ts', args);
  return { ...p, url: String(p.ready.url) };
}

/** Polls until check() is (or resolves to) something truthy, or fails with the message after timeoutMs. */
export async function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, message: string, timeoutMs = 15_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`Timed out: ${message}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
