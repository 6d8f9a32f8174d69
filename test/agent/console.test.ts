// A responder's console on a simulated VM, end to end over a real WebSocket: console.open → console.opened, keystrokes
// in binary frames, the shell's answers consistent with the VM's threat events (attacker-chosen names printed byte for
// byte), the window size, read-only consoles, malformed frames, flow control that never lets the agent buffer more
// than one high-water mark, two cockpits on one VM, and console.closed. The agent runs in-process (startAgent) so that
// its console counters (consoleStats) can be checked, not only what the cockpit saw.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { EventMessage, HelloMessage, InventoryMessage } from '../../protocol/index.ts';
import { encodeFrame, FRAME_KIND } from '../../protocol/binary-frames.ts';
import { startAgent, type RunningAgent } from '../../agent/agent.ts';
import { MAX_OUTPUT_CHUNK } from '../../agent/consoles.ts';
import { HOSTILE_PROCESS_NAME, TERMINAL_ESCAPES } from '../../agent/drivers/sim-stories.ts';
import { SHELL_STALL_BYTES } from '../../agent/drivers/sim-shell.ts';
import { HIGH_WATER_MARK } from '../../agent/session.ts';
import { ConsoleCockpit, sleep } from './console-cockpit.ts';
import { cleanup, tempDir, TOKEN } from './helpers.ts';

const LONG = { timeout: 90_000 } as const;
// Debian's bash (root@web-01:~# ) or Alpine's ash (api-01:~# ).
const PROMPT = /(root@)?[a-z0-9-]+:[^#\r\n]*# $/;

async function labAgent(t: TestContext, options: { rate?: number; vms?: number } = {}): Promise<{ agent: RunningAgent; notes: string[] }> {
  const dir = tempDir(t, 'cordon-console-');
  const notes: string[] = [];
  const agent = await startAgent({ token: TOKEN, dataDir: join(dir, 'data'), agentId: 'console-test', rate: options.rate ?? 0, vms: options.vms ?? 4, seed: 11, logs: false, note: (l) => notes.push(l) });
  cleanup(t, () => agent.close());
  return { agent, notes };
}

async function connect(t: TestContext, agent: RunningAgent): Promise<{ cockpit: ConsoleCockpit; hello: HelloMessage; vms: InventoryMessage['vms'] }> {
  const cockpit = await ConsoleCockpit.open(t, agent.url);
  const hello = await cockpit.next<HelloMessage>((m) => m.type === 'hello');
  const vms = (await cockpit.next<InventoryMessage>((m) => m.type === 'inventory')).vms;
  return { cockpit, hello, vms };
}

/** Types a command line and resolves with what it printed, up to the next prompt. */
async function run(c: ConsoleCockpit, stream: number, line: string): Promise<string> {
  const from = c.count(stream);
  c.type(stream, `${line}\r`);
  const text = await c.waitFor(stream, new RegExp(`${escape(line)}\\r\\n[\\s\\S]*${PROMPT.source}`), { from });
  return text.slice(text.indexOf('\r\n') + 2).replace(PROMPT, '');
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function act(c: ConsoleCockpit, vmId: string, kind: 'freeze' | 'resume' | 'terminate', n: number): Promise<void> {
  const requestId = `req-console-test-${kind}-${n}`;
  c.send({ type: 'action', requestId, vmId, kind, params: {}, actor: { name: 'Test Responder' }, reason: `console test: ${kind}` });
  const result = await c.next((m) => m.type === 'action.result' && m.requestId === requestId, 10_000, `the result of ${kind}`);
  assert.ok(result.type === 'action.result' && result.ok, `${kind} succeeded`);
}

test('ps, netstat, ls and cat on a VM show what its threat events named, attacker-chosen bytes as they are', LONG, async (t) => {
  const { agent, notes } = await labAgent(t, { rate: 400 });
  const { cockpit: c, hello } = await connect(t, agent);
  assert.ok(hello.capabilities.includes('console'), 'hello announces the console');
  c.send({ type: 'subscribe', since: 0 });
  // The bind-shell story comes first in every run: its listener event names the VM, the pid and the port.
  const listen = await c.next<EventMessage>((m) => m.type === 'event' && m.event.connection?.direction === 'listen' && m.event.process?.name === HOSTILE_PROCESS_NAME, 30_000, 'the bind-shell listener event');
  const vmId = listen.event.vmId;
  const pid = listen.event.process!.pid;
  // And the lateral-movement story's sudo line with terminal escapes in it, for the byte-for-byte check.
  const sudo = await c.next<EventMessage>((m) => m.type === 'event' && (m.event.process?.commandLine ?? '').includes(TERMINAL_ESCAPES), 60_000, 'the sudo event with escapes');

  const opened = await c.openConsole(1, vmId, { cols: 120, rows: 40, actor: { name: 'Dana Scully', role: 'responder', cockpit: 'soc-desk-3' } });
  assert.equal(opened.vmId, vmId);
  assert.equal(opened.readOnly, false);
  assert.equal(opened.kind, 'sim-shell');
  assert.equal(opened.stream, 1);
  // The backlog: the console as it stood before anyone attached (its login and prompt).
  await c.waitFor(1, PROMPT);
  assert.match(c.text(1), /login: root/);

  const ps = await run(c, 1, 'ps');
  assert.match(ps, /UID +PID +PPID/);
  assert.ok(ps.includes(`/tmp/${HOSTILE_PROCESS_NAME} -l -p 4444 -e /bin/sh`), `ps shows the listener's command line as the event has it:\n${ps}`);
  assert.match(ps, new RegExp(`www-data +${pid} `), 'with its pid and user');
  assert.match(ps, /nginx: master process|node \/srv\/api/, 'and the daemons of the VM\'s role');
  const netstat = await run(c, 1, 'netstat -tlnp');
  assert.match(netstat, new RegExp(`tcp +0 +0 0\\.0\\.0\\.0:4444 +0\\.0\\.0\\.0:\\* +LISTEN +${pid}/<img src=x on\\r\\n`), `netstat shows the listener (its pid/program cut at 19 bytes as net-tools does):\n${netstat}`);
  assert.ok((await run(c, 1, 'ls /tmp')).includes(`${HOSTILE_PROCESS_NAME}\r\n`), 'ls shows the dropped file by its markup-like name');
  assert.ok((await run(c, 1, `cat "/tmp/${HOSTILE_PROCESS_NAME}"`)).startsWith('\x7fELF'), 'cat of the dropped program prints an ELF header');
  assert.ok((await run(c, 1, 'ls /nonexistent')).includes("ls: cannot access '/nonexistent': No such file or directory"));
  const name = (await run(c, 1, 'hostname')).trim();
  assert.equal((await run(c, 1, 'cat /etc/hostname')).trim(), name);
  assert.match(await run(c, 1, 'uname -a'), new RegExp(`^Linux ${name} \\S+ .* x86_64 (GNU/)?Linux\\r\\n$`));
  assert.equal(await run(c, 1, 'id'), 'uid=0(root) gid=0(root) groups=0(root)\r\n');
  assert.equal(await run(c, 1, 'echo hello   world'), 'hello world\r\n');
  assert.match(await run(c, 1, 'frobnicate'), /frobnicate: command not found/);
  assert.match(await run(c, 1, 'ps | grep 4444'), new RegExp(`^www-data +${pid} `), 'a pipeline into grep keeps only the matching lines');

  // The sudo line's escapes reach the cockpit as the guest would print them: ESC ] 0 ; ... BEL, ESC [ 2 J, unaltered.
  c.type(1, 'exit\r');
  await c.waitFor(1, /logout\r\n[\s\S]*# $/);
  const other = await c.openConsole(3, sudo.event.vmId);
  assert.equal(other.readOnly, false);
  const from = c.count(3);
  await c.waitFor(3, PROMPT);
  c.type(3, 'ps\r');
  await c.waitFor(3, /ps -ef\r\n[\s\S]*# $/, { from });
  const raw = c.bytes(3).subarray(from);
  assert.ok(raw.includes(Buffer.from(sudo.event.process!.commandLine!, 'utf8')), 'the command line with its escape sequences, byte for byte');

  assert.deepEqual(c.invalid, []);
  assert.deepEqual(c.strayFrames, []);
  const openNote = notes.find((n) => n.startsWith('console:') && n.includes('opened stream 1'));
  assert.ok(openNote && openNote.includes('Dana Scully, responder, soc-desk-3') && openNote.includes(vmId), `the open is a note on stderr: ${openNote}`);
});

test('the window size reaches the shell: stty size after console.resize; a viewer\'s size does not', LONG, async (t) => {
  const { agent } = await labAgent(t);
  const { cockpit: c, vms } = await connect(t, agent);
  const vm = vms[0]!;
  await c.openConsole(1, vm.id, { cols: 100, rows: 30 });
  await c.waitFor(1, PROMPT);
  assert.equal(await run(c, 1, 'stty size'), '30 100\r\n');
  c.send({ type: 'console.resize', stream: 1, cols: 132, rows: 43 });
  assert.equal(await run(c, 1, 'stty size'), '43 132\r\n');
  // A read-only viewer on the same VM resizes its own window, not the responder's guest.
  const viewer = await c.openConsole(3, vm.id, { cols: 60, rows: 20, readOnly: true });
  assert.equal(viewer.readOnly, true);
  c.send({ type: 'console.resize', stream: 3, cols: 70, rows: 22 });
  assert.equal(await run(c, 1, 'stty size'), '43 132\r\n');
  const stats = agent.consoleStats().vms.find((v) => v.vmId === vm.id)!;
  assert.deepEqual(stats.size, { cols: 132, rows: 43 });
  assert.equal(stats.resizes, 2);
});

test('a frozen VM\'s console opens read-only with the reason, and input on it is refused with a clear error', LONG, async (t) => {
  const { agent } = await labAgent(t);
  const { cockpit: c, vms } = await connect(t, agent);
  const [vm, other] = [vms[1]!, vms[2]!];
  await act(c, vm.id, 'freeze', 1);
  const opened = await c.openConsole(1, vm.id);
  assert.equal(opened.readOnly, true);
  assert.match(opened.reason ?? '', /frozen/);
  c.type(1, 'ps\r');
  const refused = await c.nextError();
  assert.equal(refused.code, 'read_only');
  assert.match(refused.message, /stream 1 takes no input: .*frozen/);
  const before = agent.consoleStats().vms.find((v) => v.vmId === vm.id)!;
  assert.equal(before.bytesToGuest, 0, 'nothing reached the guest');

  // Read-only as asked, on a running VM: the same refusal, with its own reason.
  const viewer = await c.openConsole(3, other.id, { readOnly: true });
  assert.equal(viewer.readOnly, true);
  assert.match(viewer.reason ?? '', /read-only, as asked/);
  c.type(3, 'id\r');
  assert.equal((await c.nextError()).code, 'read_only');
  // Once resumed, a writable stream on the VM takes input again.
  await act(c, vm.id, 'resume', 2);
  const writable = await c.openConsole(5, vm.id);
  assert.equal(writable.readOnly, false);
  assert.equal(await run(c, 5, 'echo thawed'), 'thawed\r\n');
  // A terminated VM's stream ends, and a new one is a read-only view of what its console last showed.
  await act(c, vm.id, 'terminate', 3);
  const closed = await c.seen((m) => m.type === 'console.closed' && m.stream === 5, 10_000, 'console.closed of stream 5');
  assert.ok(closed.type === 'console.closed' && /terminated/.test(closed.reason));
  const after = await c.openConsole(7, vm.id);
  assert.equal(after.readOnly, true);
  assert.match(after.reason ?? '', /terminated/);
  await c.waitFor(7, 'thawed');
  assert.deepEqual(c.strayFrames, []);
});

test('malformed binary frames and bad console messages each get an error; the connection and its stream go on', LONG, async (t) => {
  const { agent } = await labAgent(t);
  const { cockpit: c, vms } = await connect(t, agent);
  const vm = vms[0]!;
  await c.openConsole(1, vm.id);
  await c.waitFor(1, PROMPT);
  const cases: { frame: Uint8Array; code: string; says: RegExp }[] = [
    { frame: encodeFrame(FRAME_KIND.consoleInput, 99, Buffer.from('id\r')), code: 'unknown_stream', says: /No console stream 99 is open/ },
    { frame: Uint8Array.of(0x02, 0x00, 0x00), code: 'bad_frame', says: /5-byte header/ },
    { frame: Uint8Array.of(0x07, 0, 0, 0, 1, 0x41), code: 'unsupported', says: /kind 0x07/ },
    { frame: encodeFrame(FRAME_KIND.consoleOutput, 1, Buffer.from('x')), code: 'bad_frame', says: /only an agent sends/ },
    { frame: Uint8Array.of(0x02, 0, 0, 0, 0, 0x41), code: 'bad_frame', says: /Stream id 0/ },
  ];
  for (const k of cases) {
    c.sendBinary(k.frame);
    const e = await c.nextError();
    assert.equal(e.code, k.code, `${Buffer.from(k.frame).toString('hex')} → ${e.code}: ${e.message}`);
    assert.match(e.message, k.says);
  }
  const refusals: { message: Record<string, unknown>; code: string }[] = [
    { message: { type: 'console.open', id: 'even', stream: 2, vmId: vm.id, cols: 80, rows: 24 }, code: 'bad_stream' },
    { message: { type: 'console.open', id: 'again', stream: 1, vmId: vm.id, cols: 80, rows: 24 }, code: 'stream_in_use' },
    { message: { type: 'console.open', id: 'nowhere', stream: 5, vmId: 'vm-nowhere', cols: 80, rows: 24 }, code: 'unknown_vm' },
    { message: { type: 'console.resize', stream: 7, cols: 80, rows: 24 }, code: 'unknown_stream' },
    { message: { type: 'console.pause', stream: 7 }, code: 'unknown_stream' },
    { message: { type: 'console.close', stream: 7 }, code: 'unknown_stream' },
  ];
  for (const r of refusals) {
    c.send(r.message);
    const e = await c.nextError();
    assert.equal(e.code, r.code, `${JSON.stringify(r.message)} → ${e.code}: ${e.message}`);
    if ('id' in r.message) assert.equal(e.ref, r.message.id);
  }
  // Still the same connection, the same stream: keystrokes go on reaching the shell.
  assert.equal(await run(c, 1, 'echo still here'), 'still here\r\n');
  assert.equal(c.closed, false);
  assert.deepEqual(c.invalid, []);
});

test('yes floods; a pause stops it within what was in flight; resume goes on; Ctrl-C stops it', LONG, async (t) => {
  const { agent } = await labAgent(t);
  const { cockpit: c, vms } = await connect(t, agent);
  const vm = vms[0]!;
  await c.openConsole(1, vm.id);
  await c.waitFor(1, PROMPT);
  const start = c.count(1);
  c.type(1, 'yes\r');
  await c.until(() => c.count(1) > start + 1_000_000, 20_000, () => 'a megabyte of yes');
  const atPause = c.count(1);
  c.send({ type: 'console.pause', stream: 1 });
  // The probe's answer comes after everything the agent sent before it handled the pause (one connection, in order).
  const atProbe = (await c.probe()).get(1) ?? 0;
  assert.ok(atProbe - atPause <= HIGH_WATER_MARK + MAX_OUTPUT_CHUNK, `in flight after the pause: ${atProbe - atPause} bytes, at most one high-water mark`);
  const heldBefore = agent.consoleStats().vms.find((v) => v.vmId === vm.id)!;
  for (let i = 0; i < 10; i++) {
    await sleep(50);
    const s = agent.consoleStats().vms.find((v) => v.vmId === vm.id)!;
    assert.equal(s.paused, true);
    assert.equal(s.bytesFromGuest, heldBefore.bytesFromGuest, 'the agent takes nothing from the shell while paused');
    assert.ok(s.held <= SHELL_STALL_BYTES, `the shell holds ${s.held} bytes, bounded`);
    assert.equal(s.deliveredWhilePaused, 0);
  }
  assert.equal(c.count(1), atProbe, 'no output at all after the pause was handled');
  t.diagnostic(`paused: ${atProbe - atPause} bytes in flight after the pause; the shell held at most ${agent.consoleStats().vms.find((v) => v.vmId === vm.id)!.maxHeld} bytes`);

  c.send({ type: 'console.resume', stream: 1 });
  await c.until(() => c.count(1) > atProbe + 100_000, 20_000, () => 'yes again after resume');
  // Ctrl-C: the flood stops, the prompt comes back, and the shell answers.
  c.type(1, '\x03');
  await c.waitFor(1, /\^C\r\n[\s\S]*# $/, { from: atProbe });
  assert.equal(await run(c, 1, 'echo after the flood'), 'after the flood\r\n');
  // Nothing was dropped or reordered: the flood is whole lines of y from its first byte to the ^C.
  const flood = c.text(1, start);
  const body = flood.slice(flood.indexOf('yes\r\n') + 5, flood.indexOf('^C'));
  assert.ok(body.length > 1_000_000);
  assert.match(body, /^(y\r\n)*y?\r?$/, 'the flood arrived as unbroken y lines');
  const stats = agent.consoleStats().vms.find((v) => v.vmId === vm.id)!;
  assert.equal(stats.deliveredWhilePaused, 0);
  assert.ok(stats.pauses >= 1);
});

test('a cockpit that stops reading pauses the VM\'s console at the high-water mark; the agent holds no more', LONG, async (t) => {
  const { agent } = await labAgent(t);
  const { cockpit: c, vms } = await connect(t, agent);
  const vm = vms[0]!;
  await c.openConsole(1, vm.id);
  await c.waitFor(1, PROMPT);
  c.type(1, 'yes\r');
  await c.until(() => c.count(1) > 100_000, 20_000, () => 'yes output');
  // The cockpit's process stops reading its socket: the kernel's buffers fill, then the agent's.
  const socket = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  socket.pause();
  const deadline = Date.now() + 60_000;
  let s = agent.consoleStats().vms.find((v) => v.vmId === vm.id)!;
  while (!s.paused && Date.now() < deadline) {
    await sleep(50);
    s = agent.consoleStats().vms.find((v) => v.vmId === vm.id)!;
  }
  assert.equal(s.paused, true, 'the console paused for the connection above its high-water mark');
  const taken = s.bytesFromGuest;
  for (let i = 0; i < 10; i++) {
    await sleep(50);
    const now = agent.consoleStats();
    const v = now.vms.find((x) => x.vmId === vm.id)!;
    assert.equal(v.paused, true);
    assert.equal(v.bytesFromGuest, taken, 'nothing more is taken from the guest');
    assert.ok(now.maxBuffered <= HIGH_WATER_MARK + MAX_OUTPUT_CHUNK, `the connection never held more than a high-water mark and one chunk (${now.maxBuffered})`);
  }
  t.diagnostic(`stopped reading: the console paused with at most ${agent.consoleStats().maxBuffered} bytes queued on the connection (high-water mark ${HIGH_WATER_MARK})`);
  socket.resume();
  await c.until(() => !agent.consoleStats().vms.find((x) => x.vmId === vm.id)!.paused && agent.consoleStats().vms.find((x) => x.vmId === vm.id)!.bytesFromGuest > taken, 30_000, () => 'the console resumed once the socket drained');
  c.type(1, '\x03');
  await c.waitFor(1, /\^C\r\n[\s\S]*# $/);
  assert.equal(agent.consoleStats().vms.find((x) => x.vmId === vm.id)!.deliveredWhilePaused, 0);
});

test('two cockpits on one VM both see its output and either\'s input; a later stream gets the backlog', LONG, async (t) => {
  const { agent } = await labAgent(t);
  const { cockpit: one, vms } = await connect(t, agent);
  const { cockpit: two } = await connect(t, agent);
  const vm = vms[2]!;
  await one.openConsole(1, vm.id);
  await one.waitFor(1, PROMPT);
  assert.equal(await run(one, 1, 'echo typed-before-two'), 'typed-before-two\r\n');
  await two.openConsole(1, vm.id); // the same stream id on another connection is another stream
  await two.waitFor(1, 'typed-before-two', { timeoutMs: 5_000 });
  const twoFrom = two.count(1);
  assert.equal(await run(one, 1, 'echo from-one'), 'from-one\r\n');
  await two.waitFor(1, /echo from-one\r\nfrom-one\r\n/, { from: twoFrom });
  const oneFrom = one.count(1);
  assert.equal(await run(two, 1, 'hostname'), `${vm.name}\r\n`);
  await one.waitFor(1, new RegExp(`hostname\\r\\n${vm.name}\\r\\n`), { from: oneFrom });
  assert.equal(agent.consoleStats().vms.find((v) => v.vmId === vm.id)!.streams, 2, 'one attachment, two streams');
});

test('close → closed: no frame follows, the id is free again, the attachment goes with the last stream', LONG, async (t) => {
  const { agent, notes } = await labAgent(t);
  const { cockpit: c, vms } = await connect(t, agent);
  const vm = vms[3]!;
  await c.openConsole(1, vm.id);
  await c.waitFor(1, PROMPT);
  c.type(1, 'yes\r');
  await c.until(() => c.count(1) > 100_000, 20_000, () => 'yes output');
  c.send({ type: 'console.close', stream: 1 });
  const closed = await c.next((m) => m.type === 'console.closed' && m.stream === 1, 10_000, 'console.closed');
  assert.ok(closed.type === 'console.closed' && closed.reason === 'Closed by the cockpit.');
  const atClose = c.count(1);
  await c.probe();
  assert.equal(c.count(1), atClose);
  assert.deepEqual(c.strayFrames, [], 'no output frame after console.closed');
  assert.equal(agent.consoleStats().vms.find((v) => v.vmId === vm.id), undefined, 'the VM\'s attachment was let go');
  assert.ok(notes.some((n) => n.startsWith('console: stream 1 of cockpit') && n.includes('Closed by the cockpit')), 'the close is a note on stderr');
  // The same id opens again; the shell is the one left behind (yes still running, so Ctrl-C stops it).
  await c.openConsole(1, vm.id);
  const from = c.count(1);
  c.type(1, '\x03');
  await c.waitFor(1, /\^C\r\n[\s\S]*# $/, { from });
  assert.equal(await run(c, 1, 'echo reopened'), 'reopened\r\n');
  // A connection that goes away takes its streams with it.
  c.close();
  await c.until(() => c.closed, 5_000, () => 'the close');
  const deadline = Date.now() + 5_000;
  while (agent.consoleStats().streams > 0 && Date.now() < deadline) await sleep(20);
  assert.equal(agent.consoleStats().streams, 0);
});
