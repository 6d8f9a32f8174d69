// A followed file, like tail -F: new lines as they come, through rotation (rename and a new file: the old one read
// to its end first) and truncation (copytruncate), a file that appears late; and an agent's --syslog-file following
// a host log the same way, every line found by logs.query, none twice after the agent restarts.
import assert from 'node:assert/strict';
import { appendFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileFollower } from '../../../agent/logs/file-follower.ts';
import { agentArgs, BOUNDED, sleep, spawnAgent, tempDir, TestCockpit } from '../helpers.ts';
import { waitForLogs } from './helpers.ts';

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
}

test('a followed file: rotation, truncation, a late file, a long line, CRLF, and the last lines before stop', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'app.log');
  const got: string[] = [];
  const notes: string[] = [];
  const f = new FileFollower({ path, startAt: 'start', pollMs: 20, maxLineBytes: 100, onLines: (l) => got.push(...l), note: (n) => notes.push(n) }).start();
  t.after(() => f.stop());
  await sleep(60);
  assert.ok(notes.some((n) => /cannot open .*ENOENT/.test(n)), 'a missing file is waited for, and said once');
  writeFileSync(path, 'one\r\ntwo\n');
  await until(() => got.length === 2);
  assert.deepEqual(got, ['one', 'two']);

  // Rotation: lines written to the old file after the rename are still read, then the new file from its start.
  renameSync(path, `${path}.1`);
  appendFileSync(`${path}.1`, 'three (late, in the rotated file)\n');
  writeFileSync(path, 'four (new file)\n');
  await until(() => got.length === 4);
  assert.deepEqual(got.slice(2), ['three (late, in the rotated file)', 'four (new file)']);

  // copytruncate: the file shrinks; reading starts over.
  truncateSync(path, 0);
  await sleep(80);
  appendFileSync(path, 'five\n');
  await until(() => got.length === 5);
  assert.equal(got[4], 'five');
  assert.ok(notes.some((n) => /truncated/.test(n)));

  appendFileSync(path, `${'x'.repeat(250)}\n`);
  await until(() => got.length === 8);
  assert.deepEqual(got.slice(5).map((l) => l.length), [100, 100, 50], 'a long line in bounded pieces');

  appendFileSync(path, 'six, right before stop\n');
  f.stop();
  assert.equal(got[got.length - 1], 'six, right before stop', 'stop reads what is left');
});

test('--syslog-file: host log lines are found by logs.query, across rotation, and none twice after a restart', BOUNDED, async (t) => {
  const dir = tempDir(t);
  const log = join(dir, 'syslog');
  writeFileSync(log, 'Nov 23 10:00:00 hv-lab-01 old[1]: history from before the agent started\n');
  const data = join(dir, 'data');
  const args = agentArgs(dir, ['--rate', '0', '--syslog-file', log], data);
  let agent = await spawnAgent(t, args);
  let c = await TestCockpit.open(t, agent.ready.url);
  await sleep(500);
  appendFileSync(log, 'Nov 23 10:14:03 hv-lab-01 sshd[2211]: Accepted publickey for deploy from 10.20.3.5 port 51122 ssh2\n');
  appendFileSync(log, '2026-11-23T10:14:04.120000+00:00 hv-lab-01 kernel: br-prod: port 2(tap-web01) entered blocking state\n');
  renameSync(log, `${log}.1`);
  writeFileSync(log, 'Nov 23 10:14:05 hv-lab-01 CRON[3301]: (root) CMD (run-parts /etc/cron.hourly)\n');
  let rs = await waitForLogs(c, { sources: ['syslog'] }, (x) => x.length >= 3);
  assert.deepEqual(rs.map((r) => r.app).sort(), ['CRON', 'kernel', 'sshd']);
  assert.ok(!rs.some((r) => r.app === 'old'), 'it begins at the end of a host log: no history re-imported');
  const sshd = rs.find((r) => r.app === 'sshd')!;
  assert.deepEqual([sshd.host, sshd.procid, sshd.origin], ['hv-lab-01', '2211', log]);
  assert.match(sshd.time, /-11-23T10:14:03\.000Z$/);
  assert.equal(rs.find((r) => r.app === 'kernel')!.time, '2026-11-23T10:14:04.120Z');

  agent.child.kill('SIGTERM');
  await agent.exited;
  appendFileSync(log, 'Nov 23 10:14:09 hv-lab-01 su[3400]: written while the agent was down\n');
  agent = await spawnAgent(t, args);
  c = await TestCockpit.open(t, agent.ready.url);
  rs = await waitForLogs(c, { sources: ['syslog'] }, (x) => x.length >= 4);
  assert.equal(rs.length, 4, 'the line written while it was down, and no line twice');
  assert.equal(rs[0]!.app, 'su');
});
