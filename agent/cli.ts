// The agent program: flags to a running agent, one JSON ready line on stdout for whoever launched it (the
// cockpit's lab launcher, tests, benchmarks), everything else on stderr, and a clean shutdown on SIGINT/SIGTERM.
// In-process users import startAgent from agent/agent.ts instead; this file runs as soon as it is loaded.
//
//   npm run agent -- --driver sim --listen 127.0.0.1:0 --token-file token.txt
//   → stdout: {"ready":true,"url":"ws://127.0.0.1:40123","agentId":"myhost","pid":4242}
import { resolve } from 'node:path';
import { startAgent } from './agent.ts';
import { AgentError } from './errors.ts';
import { parseCommandLine, USAGE, type ReadyLine } from './flags.ts';

function fail(err: unknown): never {
  const line = err instanceof AgentError ? `${err.message} [${err.code}]` : `unexpected failure: ${err instanceof Error ? err.stack ?? err.message : String(err)}`;
  process.stderr.write(`cordon-agent: ${line}\n`);
  process.exit(err instanceof AgentError ? 2 : 1);
}

async function main(argv: string[]): Promise<void> {
  // A launcher that stops reading stdout must not crash the agent.
  process.stdout.on('error', () => {});
  let parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (err) {
    fail(err);
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return;
  }
  let agent;
  try {
    agent = await startAgent(parsed.options);
  } catch (err) {
    fail(err);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write(`cordon-agent: ${signal} again; exiting without a clean close.\n`);
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`cordon-agent: ${signal}: closing connections and flushing the event log.\n`);
    agent.close().then(
      () => process.exit(0),
      (err: unknown) => fail(err),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  const ready: ReadyLine = { ready: true, url: agent.url, agentId: agent.agentId, pid: process.pid };
  if (agent.syslog) ready.syslog = agent.syslog;
  if (agent.fingerprint) ready.fingerprint = agent.fingerprint;
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  process.stderr.write(`cordon-agent: ${agent.agentId} serving ${agent.url} (driver ${typeof parsed.options.driver === 'object' ? parsed.options.driver.kind : parsed.options.driver}, event log ${resolve(agent.dataDir)})\n`);
}

void main(process.argv.slice(2));
