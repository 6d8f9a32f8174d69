// Invalid messages of every type: each is rejected with the expected error code and a sentence that names the
// field, by the decoders the processes run, and a fresh ajv built from the schema files rejects it too.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TEXT_FRAME_BYTES, decodeAgentMessage, decodeClientMessage } from '../../protocol/index.ts';
import { DECODERS, ROOTS, clone, example, exampleText, freshRoot, type Root } from './examples.ts';

interface Case {
  name: string;
  root: Root;
  text: string;
  code: string;
  /** Substrings the error's sentence must contain: the field's path, and what is wrong with it. */
  says: string[];
  ref?: string;
  /** The message type the case is about, for the coverage check. */
  about: string;
  maxBytes?: number;
}

type Json = Record<string, unknown>;
type Op = (m: Json) => void;

const cases: Case[] = [];
const long = (n: number, ch = 'x') => ch.repeat(n);

/** Walks 'event.process.pid' or 'vms.0.state' to the parent object and the last key. */
function at(m: Json, path: string): [Json, string] {
  const keys = path.split('.');
  let node: Json = m;
  for (const k of keys.slice(0, -1)) node = node[k] as Json;
  return [node, keys[keys.length - 1]!];
}
const set = (path: string, value: unknown): Op => (m) => { const [o, k] = at(m, path); o[k] = value; };
const del = (path: string): Op => (m) => { const [o, k] = at(m, path); delete o[k]; };

/** A case built from a valid example by a few edits. */
function bad(root: Root, file: string, name: string, ops: Op[], code: string, says: string[], ref?: string): void {
  const m = clone(example(file));
  const about = `${root}:${String(m.type ?? file)}`;
  for (const op of ops) op(m);
  cases.push({ name, root, text: JSON.stringify(m), code, says, about, ...(ref !== undefined ? { ref } : {}) });
}

/** A case given as raw frame text. */
function raw(root: Root, name: string, text: string, code: string, says: string[],
  opts: { about?: string; maxBytes?: number; ref?: string } = {}): void {
  cases.push({ name, root, text, code, says, about: opts.about ?? `${root}:frame`, ...opts });
}

/** One valid example per entry point, for the cases about the frame rather than a message type. */
const EXAMPLE_OF: Record<Root, string> = {
  agent: 'wire/hello.json',
  client: 'wire/subscribe.json',
  push: 'cockpit/push-events.json',
  snapshot: 'cockpit/snapshot.json',
  shell: 'cockpit/shell-call.json',
};

// --- hello -------------------------------------------------------------------------------------------------------
const H = 'wire/hello.json';
const HREF = 'hello-hv-prod-07-1795428843412';
bad('agent', H, 'hello without agent', [del('agent')], 'bad_message', ['the message lacks the required field "agent"'], HREF);
bad('agent', H, 'hello without agent.host', [del('agent.host')], 'bad_message', [`'/agent'`, '"host"'], HREF);
bad('agent', H, 'hello for another protocol', [set('protocol', 'cordon.v2')], 'bad_message', [`'/protocol'`, '"cordon.v1"'], HREF);
bad('agent', H, 'hello with a space in agent.id', [set('agent.id', 'hv prod 07')], 'bad_message', [`'/agent/id'`, 'pattern'], HREF);
bad('agent', H, 'hello with an upper-case hypervisor kind', [set('hypervisor.kind', 'QEMU')], 'bad_message', [`'/hypervisor/kind'`, 'pattern'], HREF);
bad('agent', H, 'hello with a capability twice', [set('capabilities', ['events', 'events'])], 'bad_message', [`'/capabilities'`, 'duplicate'], HREF);
bad('agent', H, 'hello with an unknown action', [set('actions', ['explode'])], 'bad_message', [`'/actions/0'`, 'must be one of terminate, freeze'], HREF);
bad('agent', H, 'hello with a negative latestSeq', [set('latestSeq', -1)], 'bad_message', [`'/latestSeq'`, '>= 0'], HREF);
bad('agent', H, 'hello with latestSeq 2^53', [set('latestSeq', 2 ** 53)], 'bad_message', [`'/latestSeq'`, '<= 9007199254740991'], HREF);
bad('agent', H, 'hello with a fractional oldestSeq', [set('oldestSeq', 1.5)], 'bad_message', [`'/oldestSeq'`, 'must be integer'], HREF);
bad('agent', H, 'hello with latestSeq as a string', [set('latestSeq', '1845')], 'bad_message', [`'/latestSeq'`, 'must be integer'], HREF);
bad('agent', H, 'hello with a space instead of T in time', [set('time', '2026-11-23 10:14:03Z')], 'bad_message', [`'/time'`, 'pattern'], HREF);
bad('agent', H, 'hello with a time without a zone', [set('time', '2026-11-23T10:14:03')], 'bad_message', [`'/time'`, 'pattern'], HREF);
bad('agent', H, 'hello with a field cordon.v1 lacks', [set('debug', true)], 'bad_message', ['does not define ("debug")'], HREF);
bad('agent', H, 'hello with an over-long host', [set('agent.host', long(256))], 'bad_message', [`'/agent/host'`, 'more than 255 characters'], HREF);
bad('agent', H, 'hello with an empty id', [set('id', '')], 'bad_message', [`'/id'`, 'fewer than 1 characters']);

// --- subscribe (cockpit → agent) -----------------------------------------------------------------------------------
const S = 'wire/subscribe.json';
bad('client', S, 'subscribe without since', [del('since')], 'bad_message', ['the message lacks the required field "since"'], 'sub-1');
bad('client', S, 'subscribe since -1', [set('since', -1)], 'bad_message', [`'/since'`, '>= 0'], 'sub-1');
bad('client', S, 'subscribe since 1.5', [set('since', 1.5)], 'bad_message', [`'/since'`, 'must be integer'], 'sub-1');
bad('client', S, 'subscribe since 2^53', [set('since', 2 ** 53)], 'bad_message', [`'/since'`, '<= 9007199254740991'], 'sub-1');
bad('client', S, 'subscribe since as a string', [set('since', '1840')], 'bad_message', [`'/since'`, 'must be integer'], 'sub-1');
bad('client', S, 'subscribe since null', [set('since', null)], 'bad_message', [`'/since'`, 'must be integer'], 'sub-1');
bad('client', S, 'subscribe with a field cordon.v1 lacks', [set('limit', 100)], 'bad_message', ['does not define ("limit")'], 'sub-1');
bad('client', S, 'subscribe with an id of 129 characters', [set('id', long(129))], 'bad_message', [`'/id'`, 'more than 128 characters']);
raw('client', 'subscribe since 2^53+1 (a JSON literal JavaScript cannot hold)', '{"type":"subscribe","since":9007199254740993}', 'bad_message', [`'/since'`, '<= 9007199254740991'], { about: 'client:subscribe' });
raw('agent', 'a subscribe sent by an agent', exampleText(S), 'unknown_type', ['its "type" is not one this peer knows'], { ref: 'sub-1' });

// --- subscribed ----------------------------------------------------------------------------------------------------
const SD = 'wire/subscribed.json';
bad('agent', SD, 'subscribed without latestSeq', [del('latestSeq')], 'bad_message', ['"latestSeq"']);
bad('agent', SD, 'subscribed since -3', [set('since', -3)], 'bad_message', [`'/since'`, '>= 0']);
bad('agent', SD, 'subscribed with an empty ref', [set('ref', '')], 'bad_message', [`'/ref'`, 'fewer than 1 characters']);

// --- event ---------------------------------------------------------------------------------------------------------
const E = 'wire/event-c2-beacon.json';
bad('agent', E, 'event seq 0', [set('seq', 0)], 'bad_message', [`'/seq'`, '>= 1']);
bad('agent', E, 'event seq -5', [set('seq', -5)], 'bad_message', [`'/seq'`, '>= 1']);
bad('agent', E, 'event seq 1.5', [set('seq', 1.5)], 'bad_message', [`'/seq'`, 'must be integer']);
bad('agent', E, 'event seq 2^53', [set('seq', 2 ** 53)], 'bad_message', [`'/seq'`, '<= 9007199254740991']);
bad('agent', E, 'event seq 2^64', [set('seq', 2 ** 64)], 'bad_message', [`'/seq'`, '<= 9007199254740991']);
bad('agent', E, 'event seq as a string', [set('seq', '1843')], 'bad_message', [`'/seq'`, 'must be integer']);
raw('agent', 'event seq 1e400 (Infinity once parsed)', exampleText(E).replace('"seq": 1843', '"seq": 1e400'), 'bad_message', [`'/seq'`, 'must be integer'], { about: 'agent:event' });
bad('agent', E, 'event without its threat event', [del('event')], 'bad_message', ['the message lacks the required field "event"']);
bad('agent', E, 'threat event as an array', [set('event', [])], 'bad_message', [`'/event'`, 'must be object']);
bad('agent', E, 'threat event without title', [del('event.title')], 'bad_message', [`'/event'`, '"title"']);
bad('agent', E, 'threat event with an empty title', [set('event.title', '')], 'bad_message', [`'/event/title'`, 'fewer than 1 characters']);
bad('agent', E, 'threat event with a title of 513 characters', [set('event.title', long(513))], 'bad_message', [`'/event/title'`, 'more than 512 characters']);
bad('agent', E, 'threat event with a description of 4097 characters', [set('event.description', long(4097))], 'bad_message', [`'/event/description'`, 'more than 4096']);
bad('agent', E, 'threat event with a command line of 8193 characters', [set('event.process.commandLine', long(8193))], 'bad_message', [`'/event/process/commandLine'`, 'more than 8192']);
bad('agent', E, 'threat event severity "urgent"', [set('event.severity', 'urgent')], 'bad_message', [`'/event/severity'`, 'must be one of info, low, medium, high, critical']);
bad('agent', E, 'threat event verdict "evil"', [set('event.verdict', 'evil')], 'bad_message', [`'/event/verdict'`, 'benign, suspicious, malicious']);
bad('agent', E, 'threat event category "rootkit"', [set('event.category', 'rootkit')], 'bad_message', [`'/event/category'`, 'escape']);
bad('agent', E, 'MITRE technique with a 1-digit sub-technique', [set('event.mitre.techniqueId', 'T1071.1')], 'bad_message', [`'/event/mitre/techniqueId'`, 'pattern']);
bad('agent', E, 'MITRE technique in lower case', [set('event.mitre.techniqueId', 't1071')], 'bad_message', [`'/event/mitre/techniqueId'`, 'pattern']);
bad('agent', E, 'MITRE tactic id where a technique id goes', [set('event.mitre.techniqueId', 'TA0011')], 'bad_message', [`'/event/mitre/techniqueId'`, 'pattern']);
bad('agent', E, 'MITRE reference without techniqueId', [del('event.mitre.techniqueId')], 'bad_message', [`'/event/mitre'`, '"techniqueId"']);
bad('agent', E, 'process pid -1', [set('event.process.pid', -1)], 'bad_message', [`'/event/process/pid'`, '>= 0']);
bad('agent', E, 'process pid 2^32', [set('event.process.pid', 2 ** 32)], 'bad_message', [`'/event/process/pid'`, '<= 4294967295']);
bad('agent', E, 'process without name', [del('event.process.name')], 'bad_message', [`'/event/process'`, '"name"']);
bad('agent', E, 'process with a field cordon.v1 lacks', [set('event.process.env', 'LD_PRELOAD=/tmp/x.so')], 'bad_message', [`'/event/process'`, '("env")']);
bad('agent', E, 'connection port 65536', [set('event.connection.remotePort', 65536)], 'bad_message', [`'/event/connection/remotePort'`, '<= 65535']);
bad('agent', E, 'connection direction "sideways"', [set('event.connection.direction', 'sideways')], 'bad_message', [`'/event/connection/direction'`, 'inbound, outbound, listen, internal']);
bad('agent', E, 'connection bytesOut negative', [set('event.connection.bytesOut', -412)], 'bad_message', [`'/event/connection/bytesOut'`, '>= 0']);
bad('agent', E, 'sensor kind "edr"', [set('event.sensor.kind', 'edr')], 'bad_message', [`'/event/sensor/kind'`, 'guest, hypervisor, network, ids, log, policy, sim']);
bad('agent', E, 'threat event without sensor', [del('event.sensor')], 'bad_message', [`'/event'`, '"sensor"']);
bad('agent', E, 'threat event time "yesterday"', [set('event.time', 'yesterday')], 'bad_message', [`'/event/time'`, 'pattern']);
bad('agent', E, 'threat event time with 10 fraction digits', [set('event.time', '2026-11-23T10:13:58.2040000000Z')], 'bad_message', [`'/event/time'`, 'pattern']);
bad('agent', E, 'threat event time as epoch milliseconds', [set('event.time', 1795428838204)], 'bad_message', [`'/event/time'`, 'must be string']);
bad('agent', E, 'threat event with a field cordon.v1 lacks', [set('event.score', 9)], 'bad_message', [`'/event'`, '("score")']);
bad('agent', E, 'threat event agentId starting with a dash', [set('event.agentId', '-hv')], 'bad_message', [`'/event/agentId'`, 'pattern']);
bad('agent', E, 'threat event vmId with a path', [set('event.vmId', '../../etc/passwd')], 'bad_message', [`'/event/vmId'`, 'pattern']);
const F = 'wire/event-file-drop.json';
bad('agent', F, 'file sha256 in upper case', [set('event.file.sha256', long(64, 'A'))], 'bad_message', [`'/event/file/sha256'`, 'pattern']);
bad('agent', F, 'file sha256 of 63 digits', [set('event.file.sha256', long(63, 'a'))], 'bad_message', [`'/event/file/sha256'`, 'pattern']);
bad('agent', F, 'file operation "exfiltrate"', [set('event.file.operation', 'exfiltrate')], 'bad_message', [`'/event/file/operation'`, 'create, write']);
bad('agent', F, 'file without path', [del('event.file.path')], 'bad_message', [`'/event/file'`, '"path"']);
bad('agent', F, 'file size -1', [set('event.file.size', -1)], 'bad_message', [`'/event/file/size'`, '>= 0']);

// --- gap -----------------------------------------------------------------------------------------------------------
const G = 'wire/gap.json';
bad('agent', G, 'gap from 0', [set('from', 0)], 'bad_message', [`'/from'`, '>= 1']);
bad('agent', G, 'gap to 1.5', [set('to', 1.5)], 'bad_message', [`'/to'`, 'must be integer']);
bad('agent', G, 'gap without reason', [del('reason')], 'bad_message', ['"reason"']);
bad('agent', G, 'gap with a reason of 513 characters', [set('reason', long(513))], 'bad_message', [`'/reason'`, 'more than 512']);

// --- inventory, vm, vm.removed ---------------------------------------------------------------------------------------
const I = 'wire/inventory.json';
bad('agent', I, 'inventory whose vms is an object', [set('vms', {})], 'bad_message', [`'/vms'`, 'must be array']);
bad('agent', I, 'VM state "paused"', [set('vms.0.state', 'paused')], 'bad_message', [`'/vms/0/state'`, 'running, frozen, isolated, terminated, seizing, seized']);
bad('agent', I, 'VM without state', [del('vms.1.state')], 'bad_message', [`'/vms/1'`, '"state"']);
bad('agent', I, 'VM with an empty name', [set('vms.0.name', '')], 'bad_message', [`'/vms/0/name'`, 'fewer than 1']);
bad('agent', I, 'MAC in upper case', [set('vms.0.networks.0.mac', 'AA:BB:CC:DD:EE:FF')], 'bad_message', [`'/vms/0/networks/0/mac'`, 'pattern']);
bad('agent', I, 'MAC of five octets', [set('vms.0.networks.0.mac', '52:54:00:3a:10')], 'bad_message', [`'/vms/0/networks/0/mac'`, 'pattern']);
bad('agent', I, 'MAC with dashes', [set('vms.0.networks.0.mac', '52-54-00-3a-10-01')], 'bad_message', [`'/vms/0/networks/0/mac'`, 'pattern']);
bad('agent', I, 'network link "unknown"', [set('vms.0.networks.0.link', 'unknown')], 'bad_message', [`'/vms/0/networks/0/link'`, 'up, down']);
bad('agent', I, 'VM with 65 tags', [set('vms.0.tags', Array.from({ length: 65 }, (_, i) => `t${i}`))], 'bad_message', [`'/vms/0/tags'`, 'more than 64 items']);
const V = 'wire/vm.json';
bad('agent', V, 'vm upsert without vm', [del('vm')], 'bad_message', ['the message lacks the required field "vm"']);
bad('agent', V, 'vm with an empty id', [set('vm.id', '')], 'bad_message', [`'/vm/id'`, 'pattern']);
bad('agent', V, 'vm memoryMiB -1', [set('vm.memoryMiB', -1)], 'bad_message', [`'/vm/memoryMiB'`, '>= 0']);
bad('agent', V, 'vm cloneOf with a space', [set('vm.cloneOf', 'mvm docview')], 'bad_message', [`'/vm/cloneOf'`, 'pattern']);
bad('agent', V, 'vm since as a local date', [set('vm.since', '23/11/2026 10:14')], 'bad_message', [`'/vm/since'`, 'pattern']);
const VR = 'wire/vm-removed.json';
bad('agent', VR, 'vm.removed without vmId', [del('vmId')], 'bad_message', ['"vmId"']);
bad('agent', VR, 'vm.removed of a hidden-file-like id', [set('vmId', '.hidden')], 'bad_message', [`'/vmId'`, 'pattern']);
bad('agent', VR, 'vm.removed carrying the VM', [set('vm', { id: 'mvm-batch-14' })], 'bad_message', ['("vm")']);

// --- error, both ways ----------------------------------------------------------------------------------------------
for (const root of ['agent', 'client'] as const) {
  const ER = 'wire/error.json';
  bad(root, ER, 'error with a code in capitals', [set('code', 'Bad-Code')], 'bad_message', [`'/code'`, 'pattern']);
  bad(root, ER, 'error with an empty message', [set('message', '')], 'bad_message', [`'/message'`, 'fewer than 1']);
  bad(root, ER, 'error with a message of 2049 characters', [set('message', long(2049))], 'bad_message', [`'/message'`, 'more than 2048']);
  bad(root, ER, 'error with an empty ref', [set('ref', '')], 'bad_message', [`'/ref'`, 'fewer than 1']);
  bad(root, ER, 'error without message', [del('message')], 'bad_message', ['"message"']);
}

// --- actions (cockpit → agent, and the agent's answers) ----------------------------------------------------------------
const A = 'wire/action-isolate.json';
const AREF = 'act-01KB8Z4A';
bad('client', A, 'action with a request id of 7 characters', [set('requestId', 'req-123')], 'bad_message', [`'/requestId'`, 'pattern'], AREF);
bad('client', A, 'action with a space in its request id', [set('requestId', 'req 01KB8Z4A7Q2M')], 'bad_message', [`'/requestId'`, 'pattern'], AREF);
bad('client', A, 'action of an unknown kind', [set('kind', 'reboot')], 'bad_message', [`'/kind'`, 'must be one of terminate, freeze'], AREF);
bad('client', A, 'action without actor', [del('actor')], 'bad_message', ['the message lacks the required field "actor"'], AREF);
bad('client', A, 'action whose actor has no name', [del('actor.name')], 'bad_message', [`'/actor'`, '"name"'], AREF);
bad('client', A, 'action without params', [del('params')], 'bad_message', ['"params"'], AREF);
bad('client', A, 'action with a param cordon.v1 lacks', [set('params.force', true)], 'bad_message', [`'/params'`, '("force")'], AREF);
bad('client', A, 'isolate in mode "airgap"', [set('params.mode', 'airgap')], 'bad_message', [`'/params/mode'`, 'cut, honeypot'], AREF);
bad('client', A, 'action on a VM id with a path', [set('vmId', '../etc')], 'bad_message', [`'/vmId'`, 'pattern'], AREF);
bad('client', A, 'action with a reason of 2049 characters', [set('reason', long(2049))], 'bad_message', [`'/reason'`, 'more than 2048'], AREF);
const AS = 'wire/action-seize.json';
bad('client', AS, 'seize without a reason', [set('reason', '')], 'bad_message', [`'/reason'`, 'fewer than 1 characters']);
bad('client', AS, 'terminate without a reason', [set('kind', 'terminate'), set('params', {}), set('reason', '')], 'bad_message', [`'/reason'`, 'fewer than 1 characters']);
const AA = 'wire/action-accepted.json';
bad('agent', AA, 'accepted without at', [del('at')], 'bad_message', ['"at"']);
bad('agent', AA, 'accepted with replayed "yes"', [set('replayed', 'yes')], 'bad_message', [`'/replayed'`, 'must be boolean']);
const AR = 'wire/action-rejected.json';
bad('agent', AR, 'rejected with a code cordon.v1 lacks', [set('code', 'denied')], 'bad_message', [`'/code'`, 'unknown_vm, wrong_state, unsupported, bad_params, busy, request_conflict, forbidden, refused, expired']);
bad('agent', AR, 'rejected without a message', [del('message')], 'bad_message', ['"message"']);
bad('agent', AR, 'rejected with state "paused"', [set('state', 'paused')], 'bad_message', [`'/state'`, 'running, frozen']);
const AP = 'wire/action-progress.json';
bad('agent', AP, 'progress with a fraction of 1.5', [set('fraction', 1.5)], 'bad_message', [`'/fraction'`, '<= 1']);
bad('agent', AP, 'progress with a step in capitals', [set('step', 'Memory')], 'bad_message', [`'/step'`, 'pattern']);
bad('agent', AP, 'progress with a message of 1025 characters', [set('message', long(1025))], 'bad_message', [`'/message'`, 'more than 1024']);
const ARS = 'wire/action-result-seize.json';
bad('agent', ARS, 'result without finishedAt', [del('finishedAt')], 'bad_message', ['"finishedAt"']);
bad('agent', ARS, 'failed result without an error', [set('ok', false)], 'bad_message', ['"error"']);
bad('agent', ARS, 'captured file with an upper-case SHA-256', [set('details.files.0.sha256', long(64, 'A'))], 'bad_message', [`'/details/files/0/sha256'`, 'pattern']);
bad('agent', ARS, 'captured file with a SHA-1 of 39 digits', [set('details.files.0.sha1', long(39, 'a'))], 'bad_message', [`'/details/files/0/sha1'`, 'pattern']);
bad('agent', ARS, 'captured file of size -1', [set('details.files.0.size', -1)], 'bad_message', [`'/details/files/0/size'`, '>= 0']);
bad('agent', ARS, 'captured file of role "swap"', [set('details.files.0.role', 'swap')], 'bad_message', [`'/details/files/0/role'`, 'memory, disk']);
bad('agent', ARS, 'details with a field cordon.v1 lacks', [set('details.signature', 'x')], 'bad_message', [`'/details'`, '("signature")']);
const ARI = 'wire/action-result-isolate.json';
bad('agent', ARI, 'isolation check without detail', [del('details.isolation.checks.0.detail')], 'bad_message', [`'/details/isolation/checks/0'`, '"detail"']);
bad('agent', ARI, 'isolation proof with ok "yes"', [set('details.isolation.ok', 'yes')], 'bad_message', [`'/details/isolation/ok'`, 'must be boolean']);
bad('agent', 'wire/action-result-failed.json', 'error code in capitals', [set('error.code', 'AGENT_RESTARTED')], 'bad_message', [`'/error/code'`, 'pattern']);
bad('agent', V, 'vm isolated in mode "airgap"', [set('vm.isolation', { mode: 'airgap', since: '2026-11-23T10:14:32.004Z' })], 'bad_message', [`'/vm/isolation/mode'`, 'cut, honeypot']);
bad('agent', V, 'vm busy with 65 characters', [set('vm.busy', long(65))], 'bad_message', [`'/vm/busy'`, 'more than 64']);
raw('agent', 'an action sent by an agent', exampleText(A), 'unknown_type', ['its "type" is not one this peer knows'], { ref: AREF, about: 'agent:action' });
raw('client', 'an action result sent by a cockpit', exampleText(ARS), 'unknown_type', ['its "type" is not one this peer knows'], { about: 'client:action.result' });
const PAC = 'cockpit/push-action.json';
bad('push', PAC, 'action push in phase "pending"', [set('action.phase', 'pending')], 'bad_message', [`'/action/phase'`, 'sending, accepted']);
bad('push', PAC, 'action push without its record', [del('action')], 'bad_message', ['"action"']);

// --- logs.query (cockpit → agent) and logs.result -----------------------------------------------------------------------
const LQ = 'wire/logs-query.json';
const LQREF = 'logs-01KB8Z5C';
bad('client', LQ, 'logs.query without an id (nothing to answer to)', [del('id')], 'bad_message', ['the message lacks the required field "id"']);
bad('client', LQ, 'logs.query with a source cordon.v1 lacks', [set('sources', ['kernel'])], 'bad_message', [`'/sources/0'`, 'hypervisor, serial, syslog, journal, agent'], LQREF);
bad('client', LQ, 'logs.query with a source twice', [set('sources', ['serial', 'serial'])], 'bad_message', [`'/sources'`, 'duplicate'], LQREF);
bad('client', LQ, 'logs.query with an empty source list', [set('sources', [])], 'bad_message', [`'/sources'`, 'fewer than 1'], LQREF);
bad('client', LQ, 'logs.query with a limit of 1001', [set('limit', 1001)], 'bad_message', [`'/limit'`, '<= 1000'], LQREF);
bad('client', LQ, 'logs.query with a limit of 0', [set('limit', 0)], 'bad_message', [`'/limit'`, '>= 1'], LQREF);
bad('client', LQ, 'logs.query from "an hour ago"', [set('from', 'an hour ago')], 'bad_message', [`'/from'`, 'pattern'], LQREF);
bad('client', LQ, 'logs.query with a text of 257 characters', [set('text', long(257))], 'bad_message', [`'/text'`, 'more than 256'], LQREF);
bad('client', LQ, 'logs.query with an empty text', [set('text', '')], 'bad_message', [`'/text'`, 'fewer than 1'], LQREF);
bad('client', LQ, 'logs.query with severityAtMost 8', [set('severityAtMost', 8)], 'bad_message', [`'/severityAtMost'`, '<= 7'], LQREF);
bad('client', LQ, 'logs.query with a cursor holding a space', [set('before', '90 371')], 'bad_message', [`'/before'`, 'pattern'], LQREF);
bad('client', LQ, 'logs.query on a VM id with a path', [set('vmId', '../etc')], 'bad_message', [`'/vmId'`, 'pattern'], LQREF);
bad('client', LQ, 'logs.query with a field cordon.v1 lacks', [set('follow', true)], 'bad_message', ['does not define ("follow")'], LQREF);
raw('agent', 'a logs.query sent by an agent', exampleText(LQ), 'unknown_type', ['its "type" is not one this peer knows'], { ref: LQREF, about: 'agent:logs.query' });
const LR = 'wire/logs-result.json';
bad('agent', LR, 'logs.result without ref', [del('ref')], 'bad_message', ['the message lacks the required field "ref"']);
bad('agent', LR, 'logs.result without truncated', [del('truncated')], 'bad_message', ['"truncated"']);
bad('agent', LR, 'log record with seq 0', [set('records.0.seq', 0)], 'bad_message', [`'/records/0/seq'`, '>= 1']);
bad('agent', LR, 'log record of source "kernel"', [set('records.0.source', 'kernel')], 'bad_message', [`'/records/0/source'`, 'hypervisor, serial']);
bad('agent', LR, 'log record without its message', [del('records.1.message')], 'bad_message', [`'/records/1'`, '"message"']);
bad('agent', LR, 'log record with a message of 8193 characters', [set('records.1.message', long(8193))], 'bad_message', [`'/records/1/message'`, 'more than 8192']);
bad('agent', LR, 'log record with severity 8', [set('records.0.severity', 8)], 'bad_message', [`'/records/0/severity'`, '<= 7']);
bad('agent', LR, 'log record with facility 24', [set('records.0.facility', 24)], 'bad_message', [`'/records/0/facility'`, '<= 23']);
bad('agent', LR, 'log record with an app of 49 characters', [set('records.0.app', long(49))], 'bad_message', [`'/records/0/app'`, 'more than 48']);
bad('agent', LR, 'log record with a msgid of 33 characters', [set('records.0.msgid', long(33))], 'bad_message', [`'/records/0/msgid'`, 'more than 32']);
bad('agent', LR, 'log record with a time without a zone', [set('records.2.time', '2026-11-23T10:14:00.913')], 'bad_message', [`'/records/2/time'`, 'pattern']);
bad('agent', LR, 'log record with a field cordon.v1 lacks', [set('records.0.raw', '<34>1 ...')], 'bad_message', [`'/records/0'`, '("raw")']);
bad('agent', LR, 'logs.result with a cursor of 65 characters', [set('next', long(65))], 'bad_message', [`'/next'`, 'pattern']);
raw('client', 'a logs.result sent by a cockpit', exampleText(LR), 'unknown_type', ['its "type" is not one this peer knows'], { about: 'client:logs.result' });

// --- cockpit pushes, snapshot, browser shell --------------------------------------------------------------------------
const PE = 'cockpit/push-events.json';
bad('push', PE, 'events push with seq 0', [set('events.0.seq', 0)], 'bad_message', [`'/events/0/seq'`, '>= 1']);
bad('push', PE, 'events push with an event without sensor', [del('events.1.event.sensor')], 'bad_message', [`'/events/1/event'`, '"sensor"']);
bad('push', PE, 'events push with receivedAt -1', [set('events.0.receivedAt', -1)], 'bad_message', [`'/events/0/receivedAt'`, '>= 0']);
bad('push', PE, 'events push whose events is an object', [set('events', {})], 'bad_message', [`'/events'`, 'must be array']);
const PA = 'cockpit/push-agents.json';
bad('push', PA, 'agents push with link "up"', [set('agents.0.link', 'up')], 'bad_message', [`'/agents/0/link'`, 'connecting, connected']);
bad('push', PA, 'agents push with a gap from 0', [set('agents.1.gaps.0.from', 0)], 'bad_message', [`'/agents/1/gaps/0/from'`, '>= 1']);
bad('push', PA, 'agents push with 1.5 events received', [set('agents.0.eventsReceived', 1.5)], 'bad_message', [`'/agents/0/eventsReceived'`, 'must be integer']);
const PV = 'cockpit/push-vms.json';
bad('push', PV, 'vms push without removed', [del('removed')], 'bad_message', ['"removed"']);
bad('push', PV, 'vms push with full "yes"', [set('full', 'yes')], 'bad_message', [`'/full'`, 'must be boolean']);
bad('push', PV, 'push of an unknown kind', [set('type', 'alerts')], 'unknown_type', ['its "type" is not one this peer knows']);
const SN = 'cockpit/snapshot.json';
bad('snapshot', SN, 'snapshot with windowSize 0', [set('windowSize', 0)], 'bad_message', [`'/windowSize'`, '>= 1']);
bad('snapshot', SN, 'snapshot without inventories', [del('inventories')], 'bad_message', ['"inventories"']);
bad('snapshot', SN, 'snapshot with an event of severity "urgent"', [set('events.0.event.severity', 'urgent')], 'bad_message', [`'/events/0/event/severity'`, 'info, low']);
bad('snapshot', SN, 'snapshot with a field cordon.v1 lacks', [set('theme', 'dark')], 'bad_message', ['("theme")']);
const SC = 'cockpit/shell-call.json';
bad('shell', SC, 'call of method "__proto__"', [set('method', '__proto__')], 'bad_message', [`'/method'`, 'pattern']);
bad('shell', SC, 'call of a method with two dots', [set('method', 'journal..query')], 'bad_message', [`'/method'`, 'pattern']);
bad('shell', SC, 'call of a method with a slash', [set('method', 'journal/query')], 'bad_message', [`'/method'`, 'pattern']);
bad('shell', SC, 'call of a method ending in a dot', [set('method', 'journal.')], 'bad_message', [`'/method'`, 'pattern']);
bad('shell', SC, 'call id -1', [set('id', -1)], 'bad_message', [`'/id'`, '>= 0']);
bad('shell', SC, 'call with params as an array', [set('params', [])], 'bad_message', [`'/params'`, 'must be object']);
bad('shell', SC, 'call without params', [del('params')], 'bad_message', ['"params"']);
const SR = 'cockpit/shell-reply-error.json';
bad('shell', SR, 'reply with ok "yes"', [set('ok', 'yes')], 'bad_message', [`'/ok'`, 'must be boolean']);
bad('shell', SR, 'reply with an error code in capitals', [set('error.code', 'UNSUPPORTED')], 'bad_message', [`'/error/code'`, 'pattern']);
bad('shell', SR, 'reply with a stack trace', [set('trace', 'at main.ts:1')], 'bad_message', ['("trace")']);
const SP = 'cockpit/shell-push.json';
bad('shell', SP, 'push of an unknown kind inside a shell push', [set('push.type', 'alerts')], 'bad_message', [`'/push/type' is not one this peer knows`]);
bad('shell', SP, 'push whose VM has no state', [del('push.vms.0.state')], 'bad_message', [`'/push/vms/0'`, '"state"']);

// --- the envelope, for every entry point -------------------------------------------------------------------------------
const RESERVED = ['logs.subscribe', 'logs.unsubscribe', 'evidence.get', 'evidence.chunk'];
for (const root of ROOTS) {
  if (root !== 'snapshot') {
    raw(root, 'no type', '{"since":0}', 'bad_message', ['the message lacks the required field "type"'], { about: `${root}:envelope` });
    raw(root, 'type is a number', '{"type":42}', 'bad_message', [`'/type'`, 'must be string'], { about: `${root}:envelope` });
    raw(root, 'type is null', '{"type":null}', 'bad_message', [`'/type'`, 'must be string'], { about: `${root}:envelope` });
    raw(root, 'type of 65 characters', JSON.stringify({ type: long(65) }), 'bad_message', [`'/type'`, 'more than 64 characters'], { about: `${root}:envelope` });
    raw(root, 'type in another case', '{"type":"Hello"}', 'unknown_type', ['its "type" is not one this peer knows'], { about: `${root}:envelope` });
    raw(root, 'type "__proto__"', '{"type":"__proto__"}', 'unknown_type', ['its "type" is not one this peer knows'], { about: `${root}:envelope` });
    raw(root, 'type "constructor"', '{"type":"constructor"}', 'unknown_type', ['its "type" is not one this peer knows'], { about: `${root}:envelope` });
  }
  if (root === 'agent' || root === 'client') {
    for (const type of RESERVED) {
      raw(root, `reserved type "${type}"`, JSON.stringify({ type, id: 'req-7f3a' }), 'unknown_type', ['its "type" is not one this peer knows'], { about: `${root}:reserved`, ref: 'req-7f3a' });
    }
  }
  for (const text of ['', 'hello', '{"type":"hello"', "{'type':'subscribe','since':0}", 'NaN', '{"type":"subscribe","since":01}', '\ud800', '{"type":"subscribe","since":0}\n{"type":"subscribe","since":0}']) {
    raw(root, `not JSON: ${JSON.stringify(text).slice(0, 40)}`, text, 'bad_json', ['is not valid JSON (']);
  }
  for (const text of ['[]', '[{"type":"subscribe","since":0}]', '42', '-0', 'null', '"subscribe"', 'true']) {
    raw(root, `JSON but not an object: ${text}`, text, 'bad_message', ['does not follow cordon.v1: the message must be object']);
  }
  raw(root, 'a frame one byte over the limit passed in', exampleText(EXAMPLE_OF[root]), 'too_large', ['bytes is over the limit of'],
    { maxBytes: Buffer.byteLength(exampleText(EXAMPLE_OF[root])) - 1 });
}

describe('invalid messages', () => {
  for (const c of cases) {
    test(`${c.root}: ${c.name} → ${c.code}`, () => {
      const r = DECODERS[c.root](c.text, c.maxBytes);
      assert.equal(r.ok, false, 'rejected');
      if (r.ok) return;
      assert.equal(r.error.type, 'error');
      assert.equal(r.error.code, c.code, r.error.message);
      assert.match(r.error.message, /^An? [a-z-]+ [a-z]+.* .+\.$/, 'one sentence');
      for (const s of c.says) assert.ok(r.error.message.includes(s), `"${r.error.message}" says ${s}`);
      assert.equal(r.error.ref, c.ref, 'ref names the message it answers, when that had an id');
      if (c.code === 'bad_message' || c.code === 'unknown_type') {
        assert.equal(freshRoot(c.root)(JSON.parse(c.text)), false, 'a fresh ajv from the schema files rejects it too');
      }
    });
  }

  test('every message type has invalid cases', () => {
    const about = new Set(cases.map((c) => c.about));
    const expected = ['agent:hello', 'agent:inventory', 'agent:subscribed', 'agent:event', 'agent:gap', 'agent:vm',
      'agent:vm.removed', 'agent:error', 'agent:action.accepted', 'agent:action.rejected', 'agent:action.progress',
      'agent:action.result', 'agent:logs.result', 'client:subscribe', 'client:error', 'client:action', 'client:logs.query', 'push:events', 'push:agents', 'push:vms', 'push:action',
      'snapshot:cockpit/snapshot.json', 'shell:call', 'shell:reply', 'shell:push'];
    for (const a of expected) assert.ok(about.has(a), `invalid cases for ${a}`);
  });
});

describe('size limits', () => {
  test('a frame over 16 MiB is too_large without being parsed; one exactly at the limit is decoded', () => {
    const body = '{"type":"subscribe","since":0}';
    const atLimit = body + ' '.repeat(MAX_TEXT_FRAME_BYTES - body.length);
    assert.equal(Buffer.byteLength(atLimit), MAX_TEXT_FRAME_BYTES);
    assert.ok(decodeClientMessage(atLimit).ok);
    const over = decodeClientMessage(atLimit + ' ');
    assert.ok(!over.ok);
    assert.equal(over.error.code, 'too_large');
    assert.equal(over.error.message, `A cockpit message of ${MAX_TEXT_FRAME_BYTES + 1} bytes is over the limit of ${MAX_TEXT_FRAME_BYTES} bytes.`);
  });

  test('the limit counts UTF-8 bytes, not characters', () => {
    const text = JSON.stringify({ type: 'gap', from: 1, to: 2, reason: 'é'.repeat(400) });
    assert.ok(text.length < 1000 && Buffer.byteLength(text) > 800);
    const r = decodeAgentMessage(text, 800);
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'too_large');
    assert.ok(decodeAgentMessage(text, Buffer.byteLength(text)).ok);
  });

  test('a value that is not a string (a Buffer, undefined) is a bad_message, not a crash', () => {
    for (const v of [Buffer.from('{"type":"subscribe","since":0}'), undefined, null, 42, {}]) {
      const r = decodeClientMessage(v as unknown as string);
      assert.ok(!r.ok);
      assert.equal(r.error.code, 'bad_message');
      assert.equal(r.error.message, 'A cockpit message must be a JSON text frame.');
    }
  });
});
