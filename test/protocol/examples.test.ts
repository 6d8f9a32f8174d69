// Every example in protocol/examples/ is valid cordon.v1, by the decoders the processes run and by a fresh ajv
// built from the schema files; every message type has an example; the README names them all and its example
// session follows the sequence rules it documents.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  checkCockpitPush,
  checkCockpitSnapshot,
  checkThreatEvent,
  decodeAgentMessage,
  decodeClientMessage,
  type AgentMessage,
  type Decoded,
} from '../../protocol/index.ts';
import { SCHEMA_DIR } from '../../protocol/schema-loader.ts';
import {
  DECODERS,
  EXAMPLES,
  PROTOCOL_DIR,
  ROOT_SCHEMAS,
  example,
  exampleFiles,
  exampleText,
  freshRoot,
  freshValidator,
  type Root,
} from './examples.ts';

const README = readFileSync(join(PROTOCOL_DIR, 'README.md'), 'utf8');

describe('protocol examples', () => {
  for (const spec of EXAMPLES) {
    test(`${spec.file} is valid by its schema and by every decoder that receives it`, () => {
      const text = exampleText(spec.file);
      const value = JSON.parse(text) as unknown;
      const specific = freshValidator(spec.schema);
      assert.ok(specific(value), `fresh ajv, ${spec.schema}: ${JSON.stringify(specific.errors)}`);
      for (const root of spec.roots) {
        const fresh = freshRoot(root);
        assert.ok(fresh(value), `fresh ajv, ${ROOT_SCHEMAS[root]}: ${JSON.stringify(fresh.errors)}`);
        const decoded = DECODERS[root](text);
        assert.ok(decoded.ok, `decoder for ${root}: ${decoded.ok ? '' : decoded.error.message}`);
        assert.deepEqual(decoded.value, value);
      }
    });
  }

  test('every file in protocol/examples/ is listed, so none escapes these checks', () => {
    assert.deepEqual(exampleFiles(), EXAMPLES.map((e) => e.file).sort());
  });

  test('the threat events, pushes and snapshot also pass the checkers used on structured-clone values', () => {
    for (const spec of EXAMPLES) {
      const value = example(spec.file);
      if (value.type === 'event') {
        const r = checkThreatEvent(value.event);
        assert.ok(r.ok, `${spec.file}: ${r.ok ? '' : r.error.message}`);
      }
      if (spec.roots.includes('push')) assert.ok(checkCockpitPush(value).ok, spec.file);
      if (spec.roots.includes('snapshot')) assert.ok(checkCockpitSnapshot(value).ok, spec.file);
    }
    const reply = example<{ result: unknown }>('cockpit/shell-reply.json');
    assert.ok(checkCockpitSnapshot(reply.result).ok, 'the snapshot call returns a snapshot');
  });

  test('every message type of every union has at least one example', () => {
    for (const [root, schemaFile] of Object.entries(ROOT_SCHEMAS) as [Root, string][]) {
      const schema = JSON.parse(readFileSync(join(SCHEMA_DIR, schemaFile), 'utf8')) as { oneOf?: object[] };
      if (!schema.oneOf) continue;
      const types = schema.oneOf.map((member) => typeConst(member, schemaFile)).sort();
      const covered = new Set(EXAMPLES.filter((e) => e.roots.includes(root)).map((e) => String(example(e.file).type)));
      for (const t of types) assert.ok(covered.has(t), `${schemaFile}: no example of type "${t}"`);
    }
  });

  test('the examples tell one story: ids, seqs and VMs agree with each other', () => {
    const hello = example<{ agent: { id: string }; latestSeq: number; oldestSeq: number }>('wire/hello.json');
    const inventory = example<{ vms: { id: string }[] }>('wire/inventory.json');
    const vmIds = new Set(inventory.vms.map((v) => v.id));
    const events = EXAMPLES.filter((e) => e.file.startsWith('wire/event-'))
      .map((e) => example<{ seq: number; event: { agentId: string; vmId: string } }>(e.file));
    for (const e of events) {
      assert.equal(e.event.agentId, hello.agent.id);
      assert.ok(vmIds.has(e.event.vmId), `${e.event.vmId} is in the inventory`);
    }
    const subscribe = example<{ id: string; since: number }>('wire/subscribe.json');
    const subscribed = example<{ ref: string; since: number; latestSeq: number }>('wire/subscribed.json');
    const gap = example<{ from: number; to: number }>('wire/gap.json');
    assert.equal(subscribed.ref, subscribe.id);
    assert.equal(subscribed.since, subscribe.since);
    assert.equal(subscribed.latestSeq, hello.latestSeq);
    assert.deepEqual([gap.from, gap.to], [subscribe.since + 1, hello.oldestSeq - 1]);
    assert.ok(vmIds.has(example<{ vmId: string }>('wire/vm-removed.json').vmId));

    // The actions name VMs of the inventory; each answer names an action's request id and VM.
    const actions = EXAMPLES.filter((e) => /^wire\/action-[a-z]+\.json$/.test(e.file) && e.roots.includes('client'))
      .map((e) => example<{ requestId: string; vmId: string; kind: string }>(e.file));
    for (const a of actions) assert.ok(vmIds.has(a.vmId), `${a.vmId} is in the inventory`);
    const byId = new Map(actions.map((a) => [a.requestId, a]));
    for (const file of ['wire/action-accepted.json', 'wire/action-progress.json', 'wire/action-result-isolate.json', 'wire/action-result-clone.json', 'wire/action-result-seize.json']) {
      const m = example<{ requestId: string; vmId?: string; kind?: string }>(file);
      const asked = byId.get(m.requestId);
      assert.ok(asked, `${file} answers an example action`);
      if (m.vmId !== undefined) assert.deepEqual([m.vmId, m.kind], [asked.vmId, asked.kind], file);
    }
    const clone = example<{ details: { cloneVmId: string } }>('wire/action-result-clone.json');
    assert.ok(!vmIds.has(clone.details.cloneVmId), 'a clone is a new VM');
    assert.ok(vmIds.has(example<{ vmId: string }>('wire/action-rejected.json').vmId));

    // The log query asks about a VM of the inventory; its answer and the error about a bad one name query ids.
    const query = example<{ id: string; vmId: string; from: string; to: string; limit: number; sources: string[] }>('wire/logs-query.json');
    const result = example<{ ref: string; records: { seq: number; time: string; vmId?: string; agentId: string; source: string }[]; next?: string }>('wire/logs-result.json');
    assert.ok(vmIds.has(query.vmId));
    assert.equal(result.ref, query.id);
    assert.ok(result.records.length <= query.limit);
    for (const r of result.records) {
      assert.equal(r.agentId, hello.agent.id);
      assert.equal(r.vmId, query.vmId);
      assert.ok(query.sources.includes(r.source));
      assert.ok(Date.parse(r.time) >= Date.parse(query.from) && Date.parse(r.time) <= Date.parse(query.to), `${r.time} is in the range asked`);
    }
    const seqs = result.records.map((r) => r.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a), 'newest first');
    assert.equal(result.next, String(seqs[seqs.length - 1]), 'the next page starts below the last record');
    assert.match(example<{ ref: string }>('wire/error-bad-query.json').ref, /^logs-/);
  });
});

describe('protocol/README.md', () => {
  test('names every example file, and every example it names exists', () => {
    const named = new Set([...README.matchAll(/examples\/((?:wire|cockpit)\/[a-z0-9-]+\.json)/g)].map((m) => m[1]));
    for (const spec of EXAMPLES) assert.ok(named.has(spec.file), `README does not mention examples/${spec.file}`);
    for (const file of named) assert.ok(EXAMPLES.some((e) => e.file === file), `README names missing examples/${file}`);
  });

  test('documents every error code the decoders produce and the size limit they enforce', () => {
    for (const code of ['bad_json', 'bad_message', 'unknown_type', 'too_large', 'rate_limited', 'unsupported', 'internal']) {
      assert.ok(README.includes('`' + code + '`'), `README documents ${code}`);
    }
    assert.ok(README.includes('16,777,216'), 'README states MAX_TEXT_FRAME_BYTES');
  });

  test('its example session is valid cordon.v1 and follows the sequence rules it documents', () => {
    const lines = transcript();
    assert.ok(lines.length >= 10, 'the example session has at least ten frames');
    const agentFrames: AgentMessage[] = [];
    const cockpitFrames = lines.filter((l) => l.from === 'C').map((l) => decodeClientMessage(l.text));
    let subscribedSince: number | undefined;
    let latestAtSubscribe = 0;
    let last = 0;
    const covered = new Set<number>();
    for (const { from, text } of lines) {
      if (from === 'C') continue;
      const r = decodeAgentMessage(text);
      assert.ok(r.ok, `${text.slice(0, 80)}: ${r.ok ? '' : r.error.message}`);
      const m = r.value;
      agentFrames.push(m);
      if (m.type === 'subscribed') {
        subscribedSince = m.since;
        latestAtSubscribe = m.latestSeq;
        last = m.since;
      }
      if (m.type === 'event' || m.type === 'gap') {
        assert.ok(subscribedSince !== undefined, 'no event or gap before subscribed');
        const [lo, hi] = m.type === 'event' ? [m.seq, m.seq] : [m.from, m.to];
        assert.ok(lo <= hi, 'a gap runs from low to high');
        assert.equal(lo, last + 1, `seq ${lo} follows ${last}: nothing skipped, nothing repeated`);
        for (let s = lo; s <= hi; s++) covered.add(s);
        last = hi;
      }
    }
    assert.equal(agentFrames[0]?.type, 'hello', 'hello comes first');
    assert.equal(agentFrames[1]?.type, 'inventory', 'inventory follows hello');
    assert.ok(subscribedSince !== undefined, 'the agent answers subscribe');
    for (let s = subscribedSince + 1; s <= latestAtSubscribe; s++) assert.ok(covered.has(s), `seq ${s} is replayed or in a gap`);
    assert.ok(last > latestAtSubscribe, 'live events follow the replay');

    const [subscribe, ...rest] = cockpitFrames;
    assert.ok(subscribe?.ok && subscribe.value.type === 'subscribe');
    const reserved = rest.pop()!;
    assert.ok(!reserved.ok, 'the last cockpit frame is of a reserved type');
    assert.equal(reserved.error.code, 'unknown_type');
    const answer = agentFrames.find((m) => m.type === 'error');
    assert.deepEqual(answer, reserved.error, 'the agent answers with exactly the decoder\'s error');

    // A console.open is answered console.opened, with its ref and stream.
    const consoles = rest.filter((r) => r.ok && r.value.type === 'console.open');
    assert.ok(consoles.length > 0, 'the session opens a console');
    for (const c of consoles) {
      const open = c.ok && c.value.type === 'console.open' ? c.value : undefined;
      const opened = agentFrames.find((m) => m.type === 'console.opened' && m.ref === open?.id);
      assert.ok(opened && opened.type === 'console.opened' && opened.stream === open?.stream && opened.vmId === open.vmId, 'console.opened answers it');
    }
    // Every action is answered, with its request id: accepted then a result, a replayed result, or a refusal.
    const actions = rest.filter((r) => !(r.ok && r.value.type === 'console.open')).map((r) => {
      assert.ok(r.ok && r.value.type === 'action', 'the other cockpit frames are valid actions');
      return r.value;
    });
    assert.ok(actions.length >= 2, 'the session shows actions');
    const about = (id: string) => agentFrames.filter((m) => 'requestId' in m && m.requestId === id);
    for (const id of new Set(actions.map((a) => a.requestId))) {
      const frames = about(id);
      const sent = actions.filter((a) => a.requestId === id).length;
      const firsts = frames.filter((m) => m.type === 'action.accepted' || m.type === 'action.rejected' || (m.type === 'action.result' && m.replayed));
      assert.equal(firsts.length, sent, `${id}: one answer per time it was sent`);
      const accepted = frames.findIndex((m) => m.type === 'action.accepted');
      const result = frames.findIndex((m) => m.type === 'action.result' && !m.replayed);
      if (accepted >= 0) assert.ok(result > accepted, `${id}: a result follows its acceptance`);
      assert.ok(frames.filter((m) => m.type === 'action.result' && !m.replayed).length <= 1, `${id}: it ran at most once`);
    }
  });

  test('the sentences it quotes in the error table are what the decoders say', () => {
    const quoted = (code: string) => new RegExp('^\\| `' + code + '` \\|.*\\| `([^`]+)` \\|$', 'm').exec(README)?.[1];
    const cases: [string, Decoded<unknown>][] = [
      ['bad_json', decodeClientMessage('{"type":"subscribe","since":')],
      ['bad_message', decodeClientMessage('{"type":"subscribe","since":"1846"}')],
      ['unknown_type', decodeClientMessage('{"type":"logs.subscribe"}')],
      ['too_large', decodeAgentMessage(' '.repeat(17301504))],
    ];
    for (const [code, r] of cases) {
      assert.ok(!r.ok);
      assert.equal(r.error.code, code);
      // The parser's own words (in parentheses) belong to the JavaScript engine and may change with it.
      const expected = code === 'bad_json' ? quoted(code)?.replace(/\(.*\)\.$/, '') : quoted(code);
      assert.ok(expected, `README quotes a ${code} sentence`);
      assert.equal(code === 'bad_json' ? r.error.message.replace(/\(.*\)\.$/, '') : r.error.message, expected);
    }
  });

  test('the error examples carry the sentences the decoders produce', () => {
    const bad = decodeClientMessage('{"type":"subscribe","id":"sub-2","since":"1846"}');
    assert.ok(!bad.ok);
    assert.deepEqual(bad.error, example('wire/error.json'));
    const big = decodeAgentMessage(' '.repeat(17301504));
    assert.ok(!big.ok);
    assert.deepEqual(big.error, example('wire/error-too-large.json'));
  });
});

function typeConst(member: object, schemaFile: string): string {
  const m = member as { $ref?: string; properties?: { type?: { const?: string } } };
  if (m.$ref) {
    const target = JSON.parse(readFileSync(join(SCHEMA_DIR, schemaFile, '..', m.$ref), 'utf8')) as typeof m;
    return typeConst(target, schemaFile);
  }
  const t = m.properties?.type?.const;
  assert.equal(typeof t, 'string', `${schemaFile}: a union member without a const "type"`);
  return t!;
}

/** The frames of the README's example session: `A: {...}` agent → cockpit, `C: {...}` cockpit → agent. */
function transcript(): { from: 'A' | 'C'; text: string }[] {
  const start = README.indexOf('## Example session');
  assert.ok(start >= 0, 'README has an "Example session" section');
  const block = /```text\n([\s\S]*?)```/.exec(README.slice(start));
  assert.ok(block, 'the example session is a ```text block');
  return block[1]!.split('\n').filter((l) => /^[AC]: /.test(l)).map((l) => ({ from: l[0] as 'A' | 'C', text: l.slice(3) }));
}
