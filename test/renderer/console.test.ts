// The console's pure parts in plain Node: console pushes decoded beside the feed, flow control (watermarks, batched
// acks, a bounded queue), typed input in order, the hostile-terminal rules (titles, OSC 52, links, palette), and
// asciicast v2 recordings read and played.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBridgeLink } from '../../renderer/src/platform/bridge-link.ts';
import { consoleFeedOf, decodeBase64, type ConsoleFeed } from '../../renderer/src/store/console-feed.ts';
import { CockpitEngine } from '../../renderer/src/store/engine.ts';
import { castOutput, CastPlayer, parseCast, parseResize, type ReplaySink } from '../../renderer/src/ui/console/asciicast.ts';
import { ConsoleFlow, type FlowSink } from '../../renderer/src/ui/console/flow.ts';
import { clipboardAttempt, clipboardSentence, linkVerdict, onlyAsksColours, titleText } from '../../renderer/src/ui/console/guard.ts';
import { ConsoleInput, cutAt } from '../../renderer/src/ui/console/input.ts';
import { FakeApi, FakeTimers, settle, snapshot } from './fixtures.ts';

const bytes = (n: number, fill = 0x61) => new Uint8Array(n).fill(fill);

// ── pushes ─────────────────────────────────────────────────────────────────────────────────────────────────

test('a console push becomes the guest\'s bytes, UTF-8 split across pushes included', () => {
  const euro = Buffer.from('€', 'utf8'); // e2 82 ac
  const a = consoleFeedOf({ type: 'console', sessionId: 'sess-0001', data: Buffer.from([0x41, euro[0]!]).toString('base64') });
  const b = consoleFeedOf({ type: 'console', sessionId: 'sess-0001', data: Buffer.from([euro[1]!, euro[2]!]).toString('base64') });
  assert.equal(a.type, 'output');
  assert.deepEqual([...(a as { bytes: Uint8Array }).bytes], [0x41, 0xe2]);
  assert.deepEqual([...(b as { bytes: Uint8Array }).bytes], [0x82, 0xac]);
  assert.deepEqual([...decodeBase64('')], []);
  assert.deepEqual(consoleFeedOf({ type: 'console.closed', sessionId: 'sess-0001', reason: 'the VM stopped' }), { type: 'closed', sessionId: 'sess-0001', reason: 'the VM stopped' });
});

test('console pushes reach onConsole listeners in order, and never the event feed', async () => {
  const api = new FakeApi();
  api.answer = async () => snapshot({});
  const clock = new FakeTimers();
  const engine = new CockpitEngine({ link: createBridgeLink(api, clock.timers.now), timers: clock.timers });
  const seen: ConsoleFeed[] = [];
  engine.onConsole((f) => seen.push(f));
  engine.start();
  await settle();
  const invalidBefore = engine.probe.invalid;
  api.push({ type: 'console', sessionId: 'sess-0001', data: Buffer.from('hello ').toString('base64') });
  api.push({ type: 'console', sessionId: 'sess-0001', data: Buffer.from('world').toString('base64') });
  api.push({ type: 'console.closed', sessionId: 'sess-0001', reason: 'closed by the responder' });
  api.push({ type: 'console', sessionId: 'sess-0001', data: 'not base64!' }); // refused by the schema, counted as invalid
  assert.deepEqual(seen.map((f) => (f.type === 'output' ? Buffer.from(f.bytes).toString() : `closed: ${f.reason}`)), ['hello ', 'world', 'closed: closed by the responder']);
  assert.equal(engine.model.stats(clock.timers.now()).total, 0, 'no event came of them');
  assert.equal(engine.probe.invalid, invalidBefore + 1);
  engine.stop();
});

// ── flow control ───────────────────────────────────────────────────────────────────────────────────────────

class FakeTerminal implements FlowSink {
  readonly writes: Uint8Array[] = [];
  readonly pending: (() => void)[] = [];
  readonly acks: number[] = [];
  write(chunk: Uint8Array, drawn: () => void): void {
    this.writes.push(chunk);
    this.pending.push(drawn);
  }
  ack(n: number): void {
    this.acks.push(n);
  }
  /** The parser catches up with `n` writes. */
  draw(n = Infinity): void {
    for (let i = 0; i < n && this.pending.length > 0; i++) this.pending.shift()!();
  }
  get unparsed(): number {
    return this.writes.slice(this.writes.length - this.pending.length).reduce((s, w) => s + w.length, 0);
  }
}

test('xterm is never handed more than the high watermark of unparsed output; the rest waits its turn', () => {
  const clock = new FakeTimers();
  const term = new FakeTerminal();
  const flow = new ConsoleFlow(term, clock.timers, { highWater: 100, ackEvery: 1000, maxQueued: 10_000 });
  for (let i = 0; i < 10; i++) flow.receive(bytes(40, 0x30 + i));
  assert.equal(term.writes.length, 3, '40 + 40 + 40: the third crosses the watermark, the fourth waits');
  assert.equal(flow.stats().queued, 280);
  let rounds = 0;
  while (term.pending.length > 0) {
    assert.ok(term.unparsed <= 100 + 40, `at most the watermark and one chunk: ${term.unparsed}`);
    term.draw(1);
    rounds++;
  }
  assert.equal(rounds, 10);
  assert.deepEqual(term.writes.map((w) => w[0]), [0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39], 'in order');
  assert.ok(flow.idle());
});

test('drawn bytes are acknowledged in batches, and a trickle after a short delay', () => {
  const clock = new FakeTimers();
  const term = new FakeTerminal();
  const flow = new ConsoleFlow(term, clock.timers, { highWater: 1 << 20, ackEvery: 100, ackDelayMs: 40 });
  for (let i = 0; i < 5; i++) flow.receive(bytes(30));
  term.draw();
  assert.deepEqual(term.acks, [120], 'one ack once 100 or more were drawn');
  clock.advance(39);
  assert.deepEqual(term.acks, [120]);
  clock.advance(1);
  assert.deepEqual(term.acks, [120, 30], 'the rest after the delay');
  flow.receive(bytes(7));
  term.draw();
  clock.advance(40);
  assert.deepEqual(term.acks, [120, 30, 7]);
  assert.equal(flow.stats().acked, 157);
  assert.equal(flow.stats().drawn, 157);
  flow.receive(bytes(9)); // nothing acknowledged before it is drawn
  clock.advance(1000);
  assert.deepEqual(term.acks, [120, 30, 7]);
});

test('a main that ignores its window cannot grow the queue: the excess is dropped, counted and acknowledged', () => {
  const clock = new FakeTimers();
  const term = new FakeTerminal();
  const flow = new ConsoleFlow(term, clock.timers, { highWater: 100, maxQueued: 1000, ackEvery: 1 });
  for (let i = 0; i < 100; i++) flow.receive(bytes(100)); // 10,000 bytes, none drawn yet
  const s = flow.stats();
  assert.ok(s.queued <= 1000, `queued ${s.queued}`);
  assert.ok(s.peakHeld <= 1000 + 100, `held at most ${s.peakHeld}`);
  assert.equal(s.dropped, 10_000 - 1000 - 100);
  assert.equal(term.acks.reduce((a, b) => a + b, 0), s.dropped, 'dropped bytes are acknowledged at once');
  term.draw();
  while (term.pending.length > 0) term.draw();
  assert.equal(flow.stats().acked, 10_000, 'in the end main hears of every byte');
});

test('after the session closed, output still drains into the terminal but nothing is acknowledged', () => {
  const clock = new FakeTimers();
  const term = new FakeTerminal();
  const flow = new ConsoleFlow(term, clock.timers, { highWater: 10, ackEvery: 1 });
  flow.receive(bytes(20));
  flow.receive(bytes(20));
  flow.stopAcks();
  term.draw();
  term.draw();
  clock.advance(1000);
  assert.equal(term.writes.length, 2);
  assert.deepEqual(term.acks, []);
  flow.dispose();
  flow.receive(bytes(5));
  assert.equal(term.writes.length, 2, 'a disposed flow writes nothing');
});

// ── input ──────────────────────────────────────────────────────────────────────────────────────────────────

test('keystrokes go one call at a time, in order; those typed meanwhile are joined; a long paste is cut', async () => {
  const sent: string[] = [];
  const answers: (() => void)[] = [];
  const input = new ConsoleInput((d) => { sent.push(d); return new Promise<void>((r) => answers.push(r)); }, () => {}, 8);
  input.type('l');
  input.type('s');
  input.type(' -');
  input.type('la\r');
  assert.deepEqual(sent, ['l']);
  answers.shift()!();
  await settle();
  assert.deepEqual(sent, ['l', 's -la\r']);
  input.type('0123456789abcdefXYZ');
  answers.shift()!();
  await settle();
  answers.shift()!();
  await settle();
  answers.shift()!();
  await settle();
  assert.deepEqual(sent.slice(2), ['01234567', '89abcdef', 'XYZ']);
  assert.equal(cutAt('ab\u{1F600}', 3), 2, 'never inside a surrogate pair');
  const failures: unknown[] = [];
  const refused = new ConsoleInput(() => Promise.reject(new Error('read-only')), (e) => failures.push(e));
  refused.type('x');
  refused.type('y');
  await settle();
  await settle();
  assert.equal(failures.length, 2, 'a refusal is reported and the next input still goes');
});

// ── hostile sequences ──────────────────────────────────────────────────────────────────────────────────────

test('a title is clipped and its control characters made visible; markup stays text', () => {
  assert.equal(titleText('<img src=x onerror=alert(1)>'), '<img src=x onerror=alert(1)>');
  assert.equal(titleText('a\x1b[31mb\x07'), 'a␛[31mb␇');
  assert.equal(titleText('x'.repeat(100), 10), `${'x'.repeat(10)}…`);
  assert.equal(titleText('evil\u202Egpj.exe'), 'evil⟨U+202E⟩gpj.exe');
});

test('OSC 52: a write and a read are described for the refusal notice', () => {
  const w = clipboardAttempt(`c;${Buffer.from('rm -rf / #').toString('base64')}`);
  assert.deepEqual(w, { kind: 'write', targets: 'c', bytes: 10 });
  assert.match(clipboardSentence(w), /tried to write 10 bytes to your clipboard \(OSC 52\): refused/);
  assert.deepEqual(clipboardAttempt('pc;?'), { kind: 'read', targets: 'pc', bytes: 0 });
  assert.match(clipboardSentence(clipboardAttempt('c;?')), /read your clipboard/);
});

test('links: https only, no credentials, no hidden characters; the host reads as punycode', () => {
  assert.deepEqual(linkVerdict('https://example.org/a?b=c'), { ok: true, href: 'https://example.org/a?b=c', host: 'example.org' });
  for (const bad of ['http://example.org/', 'javascript:alert(1)', 'file:///etc/passwd', 'data:text/html,<script>alert(1)</script>', 'vbscript:x', 'not a url',
    'https://user:pw@example.org/', 'https://exa\tmple.org/', 'https://example.org/\u202Egpj', `https://example.org/${'a'.repeat(3000)}`, 'https://ex ample.org']) {
    const v = linkVerdict(bad);
    assert.equal(v.ok, false, bad);
  }
  const idn = linkVerdict('https://аpple.com/'); // Cyrillic а
  assert.ok(idn.ok && idn.host.startsWith('xn--'), 'a look-alike host is shown as what it is');
});

test('palette changes are refused, colour queries answered', () => {
  assert.equal(onlyAsksColours(11, '?'), true);
  assert.equal(onlyAsksColours(10, '?;?'), true);
  assert.equal(onlyAsksColours(4, '1;?;2;?'), true);
  assert.equal(onlyAsksColours(11, 'rgb:00/00/00'), false);
  assert.equal(onlyAsksColours(4, '1;?;2;#000000'), false);
});

// ── recordings ─────────────────────────────────────────────────────────────────────────────────────────────

const CAST = [
  JSON.stringify({ version: 2, width: 100, height: 30, timestamp: 1_790_000_000, title: 'web-1 console', idle_time_limit: 2 }),
  JSON.stringify([0.1, 'o', 'hello ']),
  JSON.stringify([0.5, 'o', 'world\r\n']),
  'not json',
  JSON.stringify([10.5, 'o', '$ ']), // 10 s idle, played as 2
  JSON.stringify([10.6, 'r', '120x40']),
  JSON.stringify([10.7, 'i', 'ls\r']),
  JSON.stringify([10.8, 'm', 'marker']),
  JSON.stringify([10.9, 'o', 'ls\r\n']),
  '',
].join('\n');

test('an asciicast v2 recording is read: header, events, idle gaps capped, a bad line skipped', () => {
  const r = parseCast(CAST);
  assert.ok(r.ok);
  const c = r.cast;
  assert.equal(c.width, 100);
  assert.equal(c.height, 30);
  assert.equal(c.title, 'web-1 console');
  assert.equal(c.skipped, 1);
  assert.deepEqual(c.events.map((e) => e.code), ['o', 'o', 'o', 'r', 'i', 'm', 'o']);
  assert.ok(Math.abs(c.events[2]!.at - 2.5) < 1e-9, `the 10 s pause plays as 2 s: ${c.events[2]!.at}`);
  assert.ok(Math.abs(c.duration - 2.9) < 1e-9);
  assert.equal(castOutput(c), 'hello world\r\n$ ls\r\n');
  assert.deepEqual(parseResize('120x40'), [120, 40]);
  assert.equal(parseResize('120x40;rm'), null);
  for (const bad of ['', '{"version":1,"width":80,"height":24}', '{"version":2,"width":0,"height":24}', '[1,"o","x"]', 'garbage']) {
    assert.equal(parseCast(bad).ok, false, bad);
  }
});

class FakeReplayTerminal implements ReplaySink {
  out = '';
  sizes: [number, number][] = [];
  busy = false;
  output(data: string): void { this.out += data; }
  resize(cols: number, rows: number): void { this.sizes.push([cols, rows]); }
  ready(): boolean { return !this.busy; }
}

test('a recording plays in time, faster at a higher speed, pauses, and jumps to the end', () => {
  const r = parseCast(CAST);
  assert.ok(r.ok);
  const clock = new FakeTimers();
  const term = new FakeReplayTerminal();
  const player = new CastPlayer(r.cast, term, clock.timers);
  player.play();
  assert.equal(term.out, '');
  clock.advance(100);
  assert.equal(term.out, 'hello ');
  clock.advance(400);
  assert.equal(term.out, 'hello world\r\n');
  player.pause();
  clock.advance(10_000);
  assert.equal(term.out, 'hello world\r\n', 'paused');
  player.setSpeed(4);
  player.play();
  clock.advance(499); // 2.0 s of cast: 0.5 + 4 × 0.499 < 2.5
  assert.equal(term.out, 'hello world\r\n');
  clock.advance(2);
  assert.equal(term.out, 'hello world\r\n$ ');
  term.busy = true; // the terminal has too much unparsed: nothing more until it catches up
  player.jumpToEnd();
  clock.advance(100);
  assert.equal(term.out, 'hello world\r\n$ ');
  term.busy = false;
  clock.advance(16);
  assert.equal(term.out, 'hello world\r\nls\r\n'.replace('ls', '$ ls'), 'all of it');
  assert.deepEqual(term.sizes, [[120, 40]]);
  assert.equal(player.state().phase, 'ended');
  assert.ok(Math.abs(player.state().position - 2.9) < 1e-9);
});
