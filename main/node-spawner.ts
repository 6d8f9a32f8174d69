// Starts the agent CLI from source as a plain Node child process (the browser shell, tests and benchmarks;
// the Electron shell uses utilityProcess with the bundled agent instead).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { AgentSpawner } from './lab.ts';

const ROOT = join(import.meta.dirname, '..');

export const nodeAgentSpawner: AgentSpawner = (args) => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'agent', 'cli.ts'), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return {
    stdout: child.stdout,
    kill: () => child.kill('SIGTERM'),
    onExit: (listener) => child.on('exit', (code) => listener(code)),
  };
};
