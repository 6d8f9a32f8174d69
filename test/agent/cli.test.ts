// The agent's command line refuses to start without a usable token or on a non-loopback address, in one clear
// line, and prints exactly one JSON ready line on stdout when it listens.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentArgs, BOUNDED, runAgentCli, spawnAgent, tempDir, tokenFile } from './helpers.ts';

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${stderr}`);
  return lines[0]!;
}

test('no --token-file, a missing file, an empty file: refused in one line, exit code 2, nothing on stdout', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const empty = join(dir, 'empty');
  writeFileSync(empty, ' \n', { mode: 0o600 });
  const cases: [string[], RegExp][] = [
    [['--listen', '127.0.0.1:0'], /--token-file \(or --access\) is required.*\[token_missing\]/],
    [['--listen', '127.0.0.1:0', '--token-file', join(dir, 'nope')], /Cannot read the token file .*ENOENT.*\[token_unreadable\]/],
    [['--listen', '127.0.0.1:0', '--token-file', empty], /is empty.*\[token_empty\]/],
  ];
  for (const [args, expected] of cases) {
    const r = await runAgentCli([...args, '--data-dir', join(dir, 'data')]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(oneLine(r.stderr), expected);
  }
});

test('TLS flags that contradict each other are refused in one line', BOUNDED, async (t) => {
  const dir = tempDir(t);
  for (const [args, expected] of [
    [['--tls-cert', join(dir, 'c.pem')], /--tls-cert and --tls-key go together.*\[bad_flag\]/],
    [['--tls-cert', join(dir, 'c.pem'), '--tls-key', join(dir, 'k.pem'), '--tls-dir', dir], /--tls-dir.*drop one.*\[bad_flag\]/],
    [['--tls-cert', join(dir, 'c.pem'), '--tls-key', join(dir, 'k.pem')], /Cannot read the TLS certificate .*ENOENT.*\[tls_unreadable\]/],
    [['--access', join(dir, 'access.json')], /--access and --token-file contradict.*\[bad_flag\]/],
  ] as [string[], RegExp][]) {
    const r = await runAgentCli(['--listen', '127.0.0.1:0', '--token-file', tokenFile(dir), '--data-dir', join(dir, 'data'), ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.match(oneLine(r.stderr), expected);
  }
});

test('bad flags are refused with the flag named', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const base = ['--token-file', tokenFile(dir), '--data-dir', join(dir, 'data')];
  for (const [args, expected] of [
    [['--rate', 'fast'], /--rate fast/],
    [['--vms', '0'], /--vms 0/],
    [['--listen', 'localhost'], /--listen localhost is not HOST:PORT/],
    [['--driver', 'vmware'], /no driver "vmware".*sim/],
    [['--agent-id', 'bad id!'], /agent id/],
    [['--frobnicate'], /frobnicate/],
  ] as [string[], RegExp][]) {
    const r = await runAgentCli([...base, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(oneLine(r.stderr), expected);
  }
});

test('--help prints the flags and the ready-line format', BOUNDED, async () => {
  const r = await runAgentCli(['--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--driver', '--listen', '--token-file', '--data-dir', '--agent-id', '--vms', '--rate', '--seed', '--retain']) assert.ok(r.stdout.includes(flag), flag);
  assert.match(r.stdout, /\{"ready":true,"url":"ws:\/\/127\.0\.0\.1:PORT","agentId":"\.\.\.","pid":N\}/);
});

test('the ready line is one JSON object on stdout; SIGTERM closes cleanly; a second agent on the same data dir is refused', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const agent = await spawnAgent(t, agentArgs(dir));
  assert.deepEqual(Object.keys(agent.ready), ['ready', 'url', 'agentId', 'pid']);
  assert.equal(agent.ready.ready, true);
  assert.match(agent.ready.url, /^ws:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(agent.ready.agentId, 'test-agent');
  assert.equal(agent.ready.pid, agent.child.pid);

  const second = await runAgentCli(agentArgs(dir));
  assert.equal(second.code, 2);
  assert.match(oneLine(second.stderr), /Another agent \(pid \d+\) uses the event log.*\[data_dir_locked\]/);

  agent.child.kill('SIGTERM');
  const { code } = await agent.exited;
  assert.equal(code, 0);
  assert.match(agent.stderr(), /SIGTERM/);
});
