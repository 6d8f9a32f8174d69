import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cellText, clip, controlName, hasInvisible, visible, visibleParts } from '../../renderer/src/text/visible.ts';
import { actorSummary, connectionSummary, endpoint, utcClock } from '../../renderer/src/text/format.ts';
import { threat } from './fixtures.ts';

test('markup in a process name stays text: visible() leaves it as is (React renders it as text)', () => {
  assert.equal(visible('<img src=x onerror=alert(1)>'), '<img src=x onerror=alert(1)>');
});

test('terminal escapes and line breaks in a command line are shown, not emitted', () => {
  assert.equal(visible('ls\x1b[2J\x1b[31m'), 'ls␛[2J␛[31m');
  assert.equal(visible('echo ok\nrm -rf /'), 'echo ok␊rm -rf /');
  assert.equal(visible('a\tb\r\x00\x7f'), 'a␉b␍␀␡');
});

test('bidi overrides, zero-width characters and Unicode tags are shown by code point', () => {
  assert.equal(visible('invoice\u202Egpj.exe'), 'invoice⟨U+202E⟩gpj.exe');
  assert.equal(visible('pay\u200Bpal.com'), 'pay⟨U+200B⟩pal.com');
  assert.equal(visible('x\u{E0041}'), 'x⟨U+E0041⟩');
  assert.equal(visible('line\u2028sep'), 'line⟨U+2028⟩sep');
  assert.equal(visible('c1\u0085'), 'c1⟨U+0085⟩');
});

test('a lone surrogate is shown, a real astral character is kept', () => {
  assert.equal(visible('bad\uD800'), 'bad⟨U+D800⟩');
  assert.equal(visible('ok 😀'), 'ok 😀');
  assert.equal(hasInvisible('ok 😀'), false);
  assert.equal(hasInvisible('a\x1bb'), true);
});

test('for drawing, the text splits into plain runs and labelled characters whose text is still the picture', () => {
  assert.deepEqual(visibleParts('plain'), ['plain']);
  assert.deepEqual(visibleParts('a\x1b[0m\nb\u202E'), [
    'a', { picture: '␛', name: 'ESC' }, '[0m', { picture: '␊', name: 'LF' }, 'b', { picture: '⟨U+202E⟩', name: 'U+202E' },
  ]);
  assert.equal(controlName('\x7f'), 'DEL');
  assert.equal(controlName('\x00'), 'NUL');
  const joined = visibleParts('x\x07y').map((p) => (typeof p === 'string' ? p : p.picture)).join('');
  assert.equal(joined, visible('x\x07y'), 'the parts read exactly as visible() does');
});

test('clip cuts long values with an ellipsis and never splits a surrogate pair', () => {
  assert.equal(clip('abcdef', 4), 'abcd…');
  assert.equal(clip('abc', 4), 'abc');
  assert.equal(clip('ab😀cd', 3), 'ab…');
  assert.equal(cellText('x'.repeat(9000)).length, 241);
  assert.equal(cellText(undefined), '');
});

test('times are shown in UTC to the millisecond, whatever the offset they came with', () => {
  assert.equal(utcClock('2026-11-23T10:15:00.123Z'), '10:15:00.123');
  assert.equal(utcClock('2026-11-23T10:15:00.123456789Z'), '10:15:00.123');
  assert.equal(utcClock('2026-11-23T12:15:00+02:00'), '10:15:00.000');
  assert.equal(utcClock('not a time'), 'not a time');
});

test('endpoints bracket IPv6, and the summary names the process and where it connects', () => {
  assert.equal(endpoint('2001:db8::1', 443), '[2001:db8::1]:443');
  assert.equal(endpoint('203.0.113.9', 4444), '203.0.113.9:4444');
  assert.equal(connectionSummary({ protocol: 'tcp', direction: 'listen', localAddress: '0.0.0.0', localPort: 4444 }), 'listen 0.0.0.0:4444/tcp');
  assert.equal(
    actorSummary(threat({ process: { pid: 77, name: 'sh' }, connection: { protocol: 'tcp', direction: 'outbound', remoteAddress: '198.51.100.7', remotePort: 8443 } })),
    'sh [77] → 198.51.100.7:8443/tcp',
  );
  const fileOnly = threat({ file: { path: '/etc/shadow' } });
  delete fileOnly.process;
  assert.equal(actorSummary(fileOnly), '/etc/shadow');
});
