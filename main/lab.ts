// The built-in lab: with no agents configured, the cockpit starts a sim agent in a child process on loopback
// with a fresh random token, so a new user sees live events within seconds and nothing listens beyond this host.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { AgentEndpoint } from './fleet/agent-link.ts';

/** A started child that runs the agent CLI with the given arguments (Node's spawn, or Electron's utilityProcess). */
export interface AgentChild {
  stdout: NodeJS.ReadableStream | null;
  kill(): void;
  onExit(listener: (code: number | null) => void): void;
}
export type AgentSpawner = (args: string[]) => AgentChild;

export interface LabOptions {
  spawn: AgentSpawner;
  dataDir: string;
  vms?: number;
  rate?: number;
  seed?: number;
  readyTimeoutMs?: number;
  /** Appended to the agent's arguments, so they win over the defaults: e.g. `--driver qemu --config FILE`. */
  agentArgs?: string[];
  /** How the cockpit names the lab agent (default: Built-in lab (simulated)). */
  label?: string;
  /** The responder's public key (PEM): the lab trusts the policies this cockpit signs. */
  policyKeyPem?: string;
}

export interface Lab {
  endpoint: AgentEndpoint;
  stop(): void;
}

export const LAB_AGENT_ID = 'lab';

export async function startLab(opts: LabOptions): Promise<Lab> {
  const dir = join(opts.dataDir, 'lab');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, token + '\n', { mode: 0o600 });
  const policyKeyFile = join(dir, 'policy-signer.pub.pem');
  if (opts.policyKeyPem) writeFileSync(policyKeyFile, opts.policyKeyPem, { mode: 0o600 });
  const args = [
    '--driver', 'sim', '--listen', '127.0.0.1:0', '--token-file', tokenFile, '--agent-id', LAB_AGENT_ID,
    '--data-dir', join(dir, 'agent'), '--vms', String(opts.vms ?? 12), '--rate', String(opts.rate ?? 8),
    ...(opts.seed !== undefined ? ['--seed', String(opts.seed)] : []),
    ...(opts.policyKeyPem ? ['--policy-key', policyKeyFile] : []),
    ...(opts.agentArgs ?? []),
  ];
  const child = opts.spawn(args);
  let exited = false;
  child.onExit(() => { exited = true; });
  const url = await readReadyLine(child, opts.readyTimeoutMs ?? 20_000).catch((err: unknown) => {
    child.kill();
    throw err;
  });
  return {
    endpoint: { agentId: LAB_AGENT_ID, label: opts.label ?? 'Built-in lab (simulated)', url, token },
    stop() {
      if (!exited) child.kill();
      rmSync(tokenFile, { force: true });
    },
  };
}

/** The agent prints one JSON line `{"ready":true,"url":...}` when it listens. */
function readReadyLine(child: AgentChild, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!child.stdout) return reject(new Error('The lab agent has no stdout to report on.'));
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`The lab agent did not start within ${timeoutMs / 1000} s.`)), timeoutMs);
    child.onExit((code) => {
      clearTimeout(timer);
      reject(new Error(`The lab agent exited (code ${code}) before it was ready; its messages are above.`));
    });
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { ready?: boolean; url?: unknown };
        if (msg.ready === true && typeof msg.url === 'string') {
          clearTimeout(timer);
          resolve(msg.url);
        }
      } catch {
        // Not the ready line; the agent logs to stderr, so this is unexpected but harmless.
      }
    });
  });
}
