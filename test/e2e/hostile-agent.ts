// A scripted cordon.v1 agent for hostile-fields.test.ts: a real WebSocket server (ws, subprotocol cordon.v1, a bearer
// token compared in constant time, 401 otherwise) that serves several agent ids, one per URL path, and fills every
// string an attacker controls with one hostile payload per agent: markup, script, a javascript: URL, CSS, bidi and
// zero-width characters, terminal escapes, a string as long as the schema allows. Every frame it sends is checked
// with decodeAgentMessage first (a frame the cockpit would refuse would prove nothing); every frame it receives with
// decodeClientMessage.
//
// Each placement (one payload in one field) starts with a marker of its own, `[agent.field]`, so the test can find it
// in the page and say which one is missing.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodeAgentMessage, decodeClientMessage, MAX_TEXT_FRAME_BYTES, PROTOCOL, type SignedPolicy, type ThreatEvent, type Vm } from '../../protocol/index.ts';
import { checkPolicy } from '../../protocol/policy.ts';

export interface Payload {
  name: string;
  body: string;
  /** Padded up to the field's maxLength. */
  long?: boolean;
}

/** One per agent: agent i carries PAYLOADS[i] in every field. */
export const PAYLOADS: readonly Payload[] = [
  { name: 'img onerror', body: '<img src=x onerror="window.__xss=1">' },
  { name: 'script element', body: '<script>window.__xss=2</script>' },
  { name: 'attribute breakout + svg onload', body: '"><svg onload="window.__xss=3"><b x="' },
  { name: 'javascript: URL', body: 'javascript:window.__xss=4//<a href="javascript:window.__xss=4">' },
  { name: 'CSS injection', body: '</style><style>*{display:none!important}</style>' },
  { name: 'textarea breakout + iframe', body: '</textarea><iframe srcdoc="<script>parent.__xss=6</script>">' },
  { name: 'bidi override and zero-width', body: 'invoice\u202Efdp.exe \u200Bad\u200Dmin\u2066x\u2069\uFEFF\u{E0041}' },
  { name: 'terminal escapes', body: '\u001b]52;c;cHduZWQ=\u0007\u001b]0;pwned\u0007\u001b[31mred\u001b[0m\r\n' },
  { name: 'very long', body: '<img src=x onerror="window.__xss=9">', long: true },
];

export interface Placement {
  agent: number;
  payload: string;
  field: string;
  /** The exact string sent. */
  text: string;
  /** Whether a view draws this field (false: sent, and only checked not to become markup). */
  drawn: boolean;
}

/** Where each payload went. */
export class Placements {
  readonly all: Placement[] = [];
  private fieldIndex = new Map<string, number>();

  /**
   * The string for `field` of agent `agent`: its marker, then the payload, cut to the field's maxLength (the long
   * payload padded up to it). `noControls`: the field's schema forbids C0 controls (a principal's name), so they are
   * taken out of the payload there (its bidi and zero-width characters stay).
   */
  put(agent: number, field: string, max: number, o: { drawn?: boolean; noControls?: boolean } = {}): string {
    const payload = PAYLOADS[agent]!;
    let f = this.fieldIndex.get(field);
    if (f === undefined) this.fieldIndex.set(field, (f = this.fieldIndex.size));
    let text = `[${agent}.${f}]${payload.body}`;
    // eslint-disable-next-line no-control-regex -- taking the C0 controls out is the point
    if (o.noControls) text = text.replace(/[\u0000-\u001f\u007f]/g, '');
    if (payload.long) text = (text + ' ' + 'L'.repeat(max)).slice(0, max);
    else text = cut(text, max);
    this.all.push({ agent, payload: payload.name, field, text, drawn: o.drawn ?? true });
    return text;
  }
}

function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = text.charCodeAt(max - 1) >= 0xd800 && text.charCodeAt(max - 1) <= 0xdbff ? max - 1 : max;
  return text.slice(0, end);
}

export interface HostileAgents {
  url(agent: number): string;
  agentId(agent: number): string;
  vmId(agent: number): string;
  placements: Placements;
  /** Frames that did not pass the schema (sent or received), and other surprises: the test expects none. */
  problems: string[];
  /** Requests served, by type. */
  served: Map<string, number>;
  close(): Promise<void>;
}

const HEX = (s: string) => createHash('sha256').update(s).digest('hex');

export async function startHostileAgents(token: string): Promise<HostileAgents> {
  const placements = new Placements();
  const problems: string[] = [];
  const served = new Map<string, number>();
  const agentId = (i: number) => `hostile-${i}`;
  const vmId = (i: number) => `vm-${i}`;
  const now = () => new Date().toISOString();
  const soon = (ms: number) => new Date(Date.now() + ms).toISOString();

  // Everything an agent says, made once per agent, so that each placement is counted once however often it is sent.
  const scripts = PAYLOADS.map((_, i) => {
    const p = (field: string, max: number, o?: { drawn?: boolean; noControls?: boolean }) => placements.put(i, field, max, o);
    const vm: Vm = {
      id: vmId(i), name: p('vm.name', 256), state: 'isolated',
      networks: [{ name: p('vm.networks.name', 128), ip: p('vm.networks.ip', 64), bridge: p('vm.networks.bridge', 64), link: 'up' }],
      tags: [p('vm.tags', 64, { drawn: false })],
      memoryMiB: 256, vcpus: 1, image: p('vm.image', 256), busy: p('vm.busy', 64),
      isolation: { mode: 'honeypot', since: now(), proof: { checkedAt: now(), ok: true, checks: [{ name: p('vm.isolation.proof.name', 128), ok: true, detail: p('vm.isolation.proof.detail', 1024) }] } },
      since: now(),
    };
    const hello = {
      type: 'hello', protocol: PROTOCOL,
      agent: { id: agentId(i), host: p('hello.agent.host', 255), version: '0.1.0' },
      hypervisor: { kind: 'qemu', version: p('hello.hypervisor.version', 64) },
      capabilities: ['events', 'inventory', 'actions', 'logs', 'policy', 'inspect', 'evidence'],
      actions: ['terminate', 'freeze', 'resume', 'clone', 'isolate', 'release', 'seize'],
      latestSeq: 1, oldestSeq: 1,
      policy: { id: `hostile-policy-${i}`, version: 3, signer: HEX(`signer-${i}`) },
      access: { principal: { name: p('hello.access.principal.name', 128, { noControls: true }), role: 'responder' }, twoPerson: ['seize', 'sanitise'], distinct: true },
      time: now(),
    };
    const event: ThreatEvent = {
      id: p('event.id', 128), time: now(), agentId: agentId(i), vmId: vmId(i), vmName: p('event.vmName', 256),
      severity: 'high', verdict: 'suspicious', category: 'network',
      title: p('event.title', 512), description: p('event.description', 4096),
      process: { pid: 4000 + i, ppid: 1, name: p('event.process.name', 256), commandLine: p('event.process.commandLine', 8192), executable: p('event.process.executable', 4096), user: p('event.process.user', 128), parentName: p('event.process.parentName', 256) },
      connection: { protocol: 'tcp', direction: 'outbound', localAddress: p('event.connection.localAddress', 64), localPort: 49152, remoteAddress: p('event.connection.remoteAddress', 256), remotePort: 4444, state: p('event.connection.state', 32) },
      file: { path: p('event.file.path', 4096), operation: 'create', sha256: HEX(`file-${i}`), size: 1234 },
      mitre: { techniqueId: 'T1071.001', technique: p('event.mitre.technique', 128), tactic: p('event.mitre.tactic', 64) },
      sensor: { id: p('event.sensor.id', 128), kind: 'guest' },
      scenario: p('event.scenario', 128),
    };
    const policy: SignedPolicy = {
      policy: {
        id: `hostile-policy-${i}`, version: 3, issuedAt: now(), description: p('policy.description', 2048, { drawn: false }),
        rules: [
          { id: 'alert-suspicious', match: { verdicts: ['suspicious'], sensors: [p('policy.rules.match.sensors', 128)] }, response: 'alert' },
          { id: 'terminate-malicious', match: { verdicts: ['malicious'] }, response: 'terminate' },
        ],
        deltas: [{ id: 'lab-hold', scope: { vmTags: [p('policy.deltas.scope.vmTags', 64)] }, rules: [{ id: 'hold-lab', match: { verdicts: ['malicious'] }, response: 'forensic-hold', exception: 'ex-1' }] }],
        exceptions: [{
          id: 'ex-1', justification: { kind: 'test-system', text: p('policy.exceptions.justification', 2048) }, approver: p('policy.exceptions.approver', 128),
          scope: { vmTags: [p('policy.exceptions.scope.vmTags', 64)] }, expiresAt: soon(7 * 24 * 3600_000),
        }],
      },
      signature: { algorithm: 'ed25519', keyId: HEX(`signer-${i}`), value: `${'A'.repeat(86)}==` },
    };
    const actor = () => ({ name: p('action.actor.name', 128), role: p('action.actor.role', 64), cockpit: p('action.actor.cockpit', 128) });
    const req = (k: string) => `req-${i}-${k}-0123456789`;
    const t0 = now();
    // Another cockpit's actions (the agent tells every cockpit), and one its policy took on its own.
    const actions: object[] = [
      { type: 'action.accepted', requestId: req('isolate'), vmId: vmId(i), kind: 'isolate', at: t0, actor: actor(), reason: p('action.reason', 2048), params: { mode: 'honeypot' } },
      { type: 'action.progress', requestId: req('isolate'), step: 'isolate', message: p('action.progress.message', 1024), fraction: 0.5, at: t0 },
      { type: 'action.result', requestId: req('isolate'), vmId: vmId(i), kind: 'isolate', ok: true, state: 'isolated', startedAt: t0, finishedAt: now(),
        details: { mode: 'honeypot', isolation: { checkedAt: now(), ok: false, checks: [{ name: p('action.result.isolation.name', 128), ok: false, detail: p('action.result.isolation.detail', 1024) }] } } },
      { type: 'action.accepted', requestId: req('seize'), vmId: vmId(i), kind: 'seize', at: t0, actor: { name: 'second-actor' }, reason: 'seize', params: { caseId: 'CASE-1' } },
      { type: 'action.result', requestId: req('seize'), vmId: vmId(i), kind: 'seize', ok: true, state: 'isolated', startedAt: t0, finishedAt: now(),
        details: { captureId: p('action.result.captureId', 128), files: [{ path: p('action.result.files.path', 1024), role: 'memory', size: 4096, sha256: HEX(`mem-${i}`), sha1: HEX(`mem-${i}`).slice(0, 40), capturedAt: now() }] } },
      { type: 'action.accepted', requestId: req('terminate'), vmId: vmId(i), kind: 'terminate', at: t0, actor: { name: 'third-actor' }, reason: 'terminate' },
      { type: 'action.result', requestId: req('terminate'), vmId: vmId(i), kind: 'terminate', ok: false, startedAt: t0, finishedAt: now(),
        error: { code: 'qmp_failed', message: p('action.result.error.message', 2048) } },
      { type: 'action.accepted', requestId: req('auto'), vmId: vmId(i), kind: 'freeze', at: t0, actor: { name: 'policy', role: 'automatic' }, reason: 'policy',
        policy: { policyId: `hostile-policy-${i}`, version: 3, ruleId: 'hold-lab', layer: p('action.policy.layer', 64), response: 'forensic-hold', eventId: p('action.policy.eventId', 128), exception: 'ex-1' } },
      { type: 'action.result', requestId: req('auto'), vmId: vmId(i), kind: 'freeze', ok: true, state: 'isolated', startedAt: t0, finishedAt: now() },
    ];
    const approval = {
      type: 'approval.pending',
      approval: {
        approvalId: `apv-hostile-${i}-0001`, operation: 'seize', vmId: vmId(i), requestId: req('asked'),
        requestedBy: { name: p('approval.requestedBy.name', 128, { noControls: true }), role: 'lead' },
        actor: { name: p('approval.actor.name', 128, { drawn: false }) }, reason: p('approval.reason', 2048), requestedAt: now(), expiresAt: soon(30 * 60_000),
      },
    };
    const logs = [{
      seq: 10 + i, time: now(), source: 'serial', vmId: vmId(i), agentId: agentId(i), severity: 4, app: 'getty',
      host: p('logs.record.host', 255, { drawn: false }), origin: p('logs.record.origin', 512, { drawn: false }), message: p('logs.record.message', 8192),
    }];
    const inspection = {
      vmId: vmId(i), at: now(), source: 'guest-shell',
      processes: [
        { pid: 1, ppid: 0, user: 'root', command: '/sbin/init', name: 'init', state: 'S', rssKiB: 1024 },
        { pid: 4000 + i, ppid: 1, user: p('inspect.process.user', 128), command: p('inspect.process.command', 8192), name: p('inspect.process.name', 256), state: 'S', rssKiB: 900 },
      ],
      sockets: [
        { protocol: 'tcp', localAddress: p('inspect.socket.listen.localAddress', 64), localPort: 4444, state: 'LISTEN', pid: 4000 + i, program: p('inspect.socket.listen.program', 256) },
        { protocol: 'tcp', localAddress: '10.0.0.5', localPort: 49152, remoteAddress: p('inspect.socket.remoteAddress', 64), remotePort: 4444, state: p('inspect.socket.state', 32), pid: 4000 + i, program: 'sh' },
      ],
      services: [{ name: p('inspect.service.name', 256), state: p('inspect.service.state', 32), pid: 4000 + i }],
      resources: { processCount: 2, cpuPercent: 3, memTotalKiB: 245600, memAvailableKiB: 200000, load1: 0.1, uptimeS: 100 },
      warnings: [p('inspect.warning', 512)],
    };
    const capture = {
      captureId: `cap-hostile-${i}`, vmId: vmId(i), vmName: p('evidence.capture.vmName', 255), simulated: false, startedAt: t0, finishedAt: now(),
      actor: { name: p('evidence.capture.actor.name', 128), role: 'responder' }, reason: p('evidence.capture.reason', 2048),
      caseId: p('evidence.capture.caseId', 128, { drawn: false }), host: p('evidence.capture.host', 255, { drawn: false }), hypervisor: { kind: 'qemu', version: '7.2' },
      files: [{ path: p('evidence.capture.files.path', 1024, { drawn: false }), role: 'memory', size: 4096, sha256: HEX(`mem-${i}`), sha1: HEX(`mem-${i}`).slice(0, 40), capturedAt: now() }],
      bytes: 4096,
    };
    return { hello, vm, event, policy, actions, approval, logs, inspection, capture };
  });

  // Each scripted agent's policy must be one the cockpit takes as valid (or the view would show errors instead).
  for (const [i, s] of scripts.entries()) {
    const errors = checkPolicy(s.policy.policy, Date.now()).errors;
    if (errors.length > 0) problems.push(`policy of agent ${i}: ${errors.join(' ')}`);
  }

  const digest = (s: string) => createHash('sha256').update(s).digest();
  const expected = digest(`Bearer ${token}`);
  const wss = new WebSocketServer({
    host: '127.0.0.1', port: 0, maxPayload: MAX_TEXT_FRAME_BYTES, perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
    verifyClient: ({ req }, done) => {
      const ok = timingSafeEqual(digest(req.headers.authorization ?? ''), expected) && /^\/a\d+$/.test(req.url ?? '');
      if (ok) done(true);
      else done(false, 401, 'Unauthorized');
    },
  });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const port = (wss.address() as AddressInfo).port;

  const send = (ws: WebSocket, message: object) => {
    const text = JSON.stringify(message);
    const checked = decodeAgentMessage(text);
    if (!checked.ok) {
      problems.push(`sent a frame the schema refuses (${(message as { type?: string }).type}): ${checked.error.message}`);
      return;
    }
    ws.send(text);
  };

  wss.on('connection', (ws, req) => {
    const i = Number((req.url ?? '').slice(2));
    const s = scripts[i];
    if (ws.protocol !== PROTOCOL || s === undefined) {
      ws.close(1008, 'unknown agent');
      return;
    }
    send(ws, { ...s.hello, time: now() });
    send(ws, { type: 'inventory', vms: [s.vm] });
    send(ws, { type: 'policy.current', policy: s.policy });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        problems.push(`agent ${i}: a binary frame from the cockpit`);
        return;
      }
      const decoded = decodeClientMessage(String(data));
      if (!decoded.ok) {
        problems.push(`agent ${i}: a cockpit frame the schema refuses: ${decoded.error.message}`);
        return;
      }
      const m = decoded.value;
      served.set(m.type, (served.get(m.type) ?? 0) + 1);
      switch (m.type) {
        case 'subscribe':
          send(ws, { type: 'subscribed', ...(m.id !== undefined ? { ref: m.id } : {}), since: m.since, latestSeq: 1 });
          if (m.since < 1) send(ws, { type: 'event', seq: 1, event: s.event });
          for (const a of s.actions) send(ws, a);
          send(ws, { ...s.approval, approval: { ...s.approval.approval, expiresAt: soon(30 * 60_000) } });
          return;
        case 'logs.query':
          send(ws, { type: 'logs.result', ref: m.id, records: s.logs, truncated: false, scanned: s.logs.length });
          return;
        case 'inspect':
          send(ws, { type: 'inspect.result', ref: m.id, inspection: { ...s.inspection, vmId: m.vmId, at: now() } });
          return;
        case 'evidence.list':
          send(ws, { type: 'evidence.captures', ref: m.id, captures: [s.capture] });
          return;
        default:
          // Nothing else is asked of it in this test; a request it does not serve gets a plain error.
          if ('id' in m && typeof m.id === 'string') send(ws, { type: 'error', code: 'unsupported', message: `This scripted agent does not serve ${m.type}.`, ref: m.id });
      }
    });
  });

  return {
    url: (i) => `ws://127.0.0.1:${port}/a${i}`,
    agentId,
    vmId,
    placements,
    problems,
    served,
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
