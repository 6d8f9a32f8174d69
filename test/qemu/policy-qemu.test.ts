// The auto-response policy (issue 7, STIG SV-95141r1) on real QEMU micro-VMs, triggered for real: a Suricata EVE
// `alert` line appended to the file the agent follows (--suricata-eve), naming the VM's address. The policy is signed
// here with a key made here. Three things are checked from outside the agent (the QEMU process, QMP, the kernel's
// view of the tap, the files on disk) and over a real WebSocket:
//   a) the agent process (the CLI, qemu driver) terminates a VM on a malicious event with no cockpit connected;
//      a cockpit that connects afterwards sees the VM terminated and the policy's record replayed;
//   b) a forensic hold under a valid exception runs freeze → isolate (honeypot) → seize, in that order;
//   c) a suspicious event that no rule takes leaves the VM running (on the VM of b, before its hold).
// One VM at a time; the host network is the test's own (a production and a honeypot site), removed at the end.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAgent, type RunningAgent } from '../../agent/agent.ts';
import { parseQemuConfig } from '../../agent/drivers/qemu-config.ts';
import { QemuDriver } from '../../agent/drivers/qemu.ts';
import { policyRequestId } from '../../agent/policy/enforcer.ts';
import { signPolicy } from '../../agent/policy/signing.ts';
import { LAB_BOOTED, labAppend, labImage } from '../../agent/qemu/lab-guest.ts';
import { createGatewaySite, deleteLink, linkInfo, type GatewaySite } from '../../agent/qemu/net.ts';
import { waitForLog } from '../../agent/qemu/serial.ts';
import type { ActionAcceptedMessage, ActionResultMessage, AgentMessage, EventMessage, Policy } from '../../protocol/index.ts';
import { ActionCockpit } from '../agent/action-cockpit.ts';
import { cleanup as afterTest, spawnAgent, TestCockpit, TOKEN, tokenFile } from '../agent/helpers.ts';
import { Cleanup, ensureLabImage, eventually, pidExists, tag } from './helpers.ts';

const ROOT_ONLY = process.getuid?.() === 0 ? false : 'needs root: it creates bridges, taps and network namespaces';
const GATEWAY = '10.77.0.1';
const GATEWAY_MAC = '02:c0:de:77:00:01';
const MEMORY_MIB = 128;
const ATTACKER = '203.0.113.66';

const x = tag();
const cleanup = new Cleanup();
let prod: GatewaySite;
let honeypot: GatewaySite;
let signer: { privateKey: KeyObject; file: string };
let keyDir: string;

before(async () => {
  if (ROOT_ONLY) return;
  ensureLabImage();
  keyDir = mkdtempSync('/tmp/cqp-key-');
  cleanup.add(`remove ${keyDir}`, () => rmSync(keyDir, { recursive: true, force: true }));
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  signer = { privateKey, file: join(keyDir, 'soc.pub.pem') };
  writeFileSync(signer.file, publicKey.export({ type: 'spki', format: 'pem' }));
  prod = await createGatewaySite({ bridge: `pq${x}-pbr`, netns: `pq${x}-prod`, veth: `pq${x}-pv`, vethPeer: `pq${x}-pg`, gatewayCidr: `${GATEWAY}/24`, gatewayMac: GATEWAY_MAC });
  cleanup.add('remove the production site', () => prod.remove());
  honeypot = await createGatewaySite({ bridge: `pq${x}-qbr`, netns: `pq${x}-hpot`, veth: `pq${x}-hv`, vethPeer: `pq${x}-hg`, gatewayCidr: `${GATEWAY}/24`, gatewayMac: GATEWAY_MAC });
  cleanup.add('remove the honeypot site', () => honeypot.remove());
});
after(() => cleanup.run());

/** The qemu driver's config (as the JSON file --config reads) for one lab VM on the production bridge. */
function oneVmConfig(workDir: string, vm: { id: string; name: string; ip: string; mac: string; tap: string }) {
  const image = labImage();
  return {
    workDir,
    quarantineBridge: honeypot.bridge,
    probes: [{ bridge: prod.bridge, netns: prod.netns }, { bridge: honeypot.bridge, netns: honeypot.netns }],
    vms: [{
      id: vm.id, name: vm.name, memoryMiB: MEMORY_MIB, vcpus: 1, accel: 'tcg', kernel: image.kernel, initramfs: image.initramfs,
      append: labAppend({ ip: `${vm.ip}/24`, gateway: GATEWAY, hostname: vm.name, beaconSeconds: 1 }),
      disk: { path: join(workDir, `${vm.id}.qcow2`), format: 'qcow2', sizeMiB: 32 },
      nic: { mac: vm.mac, ip: vm.ip, tap: vm.tap, bridge: prod.bridge },
      image: 'busybox lab guest',
      tags: ['lab'],
    }],
  };
}

let flow = 1;
/** One Suricata EVE `alert` line (priority 1 → malicious, 2 → suspicious), from the attacker to `dest`. */
function eveAlert(dest: string, o: { priority: number; sid: number; signature: string; category: string; technique?: string }): string {
  return `${JSON.stringify({
    timestamp: new Date().toISOString().replace('Z', '+0000'),
    flow_id: 1_000_000 + flow++,
    event_type: 'alert',
    src_ip: ATTACKER, src_port: 40_000 + flow, dest_ip: dest, dest_port: 8080, proto: 'TCP', app_proto: 'http',
    alert: {
      action: 'allowed', gid: 1, signature_id: o.sid, rev: 2, signature: o.signature, category: o.category, severity: o.priority,
      ...(o.technique ? { metadata: { mitre_technique_id: [o.technique] } } : {}),
    },
  })}\n`;
}

/** The action journal's lines (begin / end / rejected), in file order. */
function journalLines(dataDir: string): Array<{ t: string; requestId: string; kind?: string; actor?: { name: string; role?: string }; result?: ActionResultMessage }> {
  const path = join(dataDir, 'action-journal.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ReturnType<typeof journalLines>[number]);
}

/** Kills a QEMU that a killed agent left behind (its pidfile in the run folder, only if it serves that folder). */
function killLeftoverQemu(workDir: string): void {
  const run = join(workDir, 'run');
  if (!existsSync(run)) return;
  for (const id of readdirSync(run)) {
    const pidFile = join(run, id, 'qemu.pid');
    if (!existsSync(pidFile)) continue;
    const pid = Number.parseInt(readFileSync(pidFile, 'utf8'), 10);
    try {
      if (Number.isInteger(pid) && pid > 1 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(run, id))) process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

describe('the auto-response policy on real QEMU micro-VMs', { skip: ROOT_ONLY, timeout: 420_000 }, () => {
  test('a) the agent process terminates a QEMU VM on a malicious Suricata alert with no cockpit; one connecting later sees it all', { timeout: 180_000 }, async (t) => {
    const dir = mkdtempSync('/tmp/cqp-a-');
    const workDir = join(dir, 'qemu');
    const dataDir = join(dir, 'data');
    const vm = { id: 'web-07', name: 'web-07', ip: '10.77.0.27', mac: '52:54:00:c0:de:27', tap: `pq${x}-t7` };
    // The helpers' clean-up runs last in, first out: this runs after spawnAgent's kill of the agent.
    afterTest(t, async () => {
      killLeftoverQemu(workDir);
      await deleteLink(vm.tap, { ifMissing: 'ignore' }).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    });
    const configFile = join(dir, 'qemu.json');
    writeFileSync(configFile, JSON.stringify(oneVmConfig(workDir, vm)));
    const policy: Policy = {
      id: 'soc-stig', version: 3, issuedAt: new Date().toISOString(),
      description: 'STIG SV-95141r1: terminate a micro-VM with malicious activity.',
      rules: [{ id: 'terminate-malicious-ids', match: { verdicts: ['malicious'], sensors: ['ids'] }, response: 'terminate' }],
    };
    const policyFile = join(dir, 'policy.json');
    writeFileSync(policyFile, JSON.stringify(signPolicy(policy, signer.privateKey)));
    const eve = join(dir, 'eve.json');
    writeFileSync(eve, ''); // followed from its end: only alerts written after the start count

    const agent = await spawnAgent(t, [
      '--driver', 'qemu', '--config', configFile, '--listen', '127.0.0.1:0', '--token-file', tokenFile(dir), '--data-dir', dataDir,
      '--agent-id', 'qemu-policy-agent', '--suricata-eve', eve, '--policy-key', signer.file, '--policy', policyFile,
    ], 60_000);
    const runDir = join(workDir, 'run', vm.id);
    await waitForLog(join(runDir, 'serial.log'), LAB_BOOTED, 90_000);
    const pid = Number.parseInt(readFileSync(join(runDir, 'qemu.pid'), 'utf8'), 10);
    assert.ok(pidExists(pid), `QEMU pid ${pid} runs the booted guest`);
    assert.match(agent.stderr(), /policy soc-stig v3 in force/);

    // No cockpit anywhere: the alert goes into Suricata's EVE file, and the agent alone must act.
    appendFileSync(eve, eveAlert(vm.ip, { priority: 1, sid: 2_024_217, signature: 'ET EXPLOIT Apache Struts OGNL injection (CVE-2017-5638)', category: 'Attempted Administrator Privilege Gain', technique: 'T1190' }));
    assert.ok(await eventually(async () => !pidExists(pid), 30_000, 50), `QEMU pid ${pid} is gone within 30 s; stderr:\n${agent.stderr().slice(-3000)}`);
    assert.ok(await eventually(async () => /action policy-[0-9a-f]{32}-terminate \(terminate of web-07, by policy at policy\): done in \d+ ms; web-07 is terminated/.test(agent.stderr()), 10_000, 50),
      `the agent says the terminate is done; stderr:\n${agent.stderr().slice(-3000)}`);
    assert.equal(existsSync(join(runDir, 'qmp.sock')), false, 'no QMP socket left');
    const saved = JSON.parse(readFileSync(join(workDir, 'driver-state.json'), 'utf8')) as { vms: Record<string, { vm: { state: string } }> };
    assert.equal(saved.vms[vm.id]?.vm.state, 'terminated', 'the driver recorded the VM terminated (a restart will not boot it again)');
    const journal = journalLines(dataDir);
    const begin = journal.find((l) => l.t === 'begin' && l.kind === 'terminate');
    assert.deepEqual(begin?.actor, { name: 'policy', role: 'automatic' }, 'the journal holds an automatic terminate');
    const end = journal.find((l) => l.t === 'end' && l.requestId === begin!.requestId);
    assert.equal(end?.result?.ok, true);
    assert.equal(end?.result?.state, 'terminated');

    // Now a cockpit connects: the VM terminated, and the record of what the policy did, replayed from seq 1.
    const cockpit = await TestCockpit.open(t, agent.ready.url);
    const hello = await cockpit.nextOfType('hello');
    assert.equal(hello.hypervisor.kind, 'qemu');
    assert.equal(hello.policy?.id, 'soc-stig');
    assert.equal(hello.policy?.version, 3);
    const inventory = await cockpit.nextOfType('inventory');
    assert.equal(inventory.vms.find((v) => v.id === vm.id)?.state, 'terminated', 'the inventory shows the VM terminated');
    cockpit.send({ type: 'subscribe', id: 'sub-1', since: 0 });
    const record = await cockpit.next<EventMessage>((m) => m.type === 'event' && m.event.sensor.kind === 'policy', 10_000, 'the policy record');
    const trigger = cockpit.received.find((m): m is EventMessage => m.type === 'event' && m.event.sensor.id === 'suricata' && m.event.vmId === vm.id);
    assert.ok(trigger, 'the Suricata alert is in the stream');
    assert.equal(trigger.event.verdict, 'malicious');
    assert.ok(trigger.seq < record.seq, 'the trigger is numbered before the record');
    assert.equal(record.event.vmId, vm.id);
    assert.equal(record.event.category, 'policy');
    assert.equal(record.event.title, 'Policy terminate of web-07: rule terminate-malicious-ids of soc-stig v3');
    const requestId = policyRequestId(trigger.event.id, 'terminate');
    assert.equal(begin!.requestId, requestId, 'the request id is derived from the triggering event');
    const description = record.event.description ?? '';
    assert.match(description, /\bPolicy soc-stig v3, rule terminate-malicious-ids\b/, 'the record names the policy, its version and the rule');
    assert.ok(description.includes(`event ${trigger.event.id} `), 'the record names the triggering event');
    assert.ok(description.includes(`terminate ${requestId}: done, the VM is terminated`), description);

    // Asking for that request id again (as a cockpit checking the outcome): the first result, never a second run.
    cockpit.send({ type: 'action', requestId, vmId: vm.id, kind: 'terminate', params: {}, actor: { name: 'alice' }, reason: 'what did the policy do?' });
    const replay = await cockpit.nextOfType('action.result');
    assert.equal(replay.requestId, requestId);
    assert.equal(replay.replayed, true);
    assert.equal(replay.ok, true);
    assert.equal(replay.state, 'terminated');
    assert.deepEqual(cockpit.invalid, [], 'every message follows cordon.v1');
  });

  describe('b, c) one VM held by an in-process agent', () => {
    const local = new Cleanup();
    const vm = { id: 'web-08', name: 'web-08', ip: '10.77.0.28', mac: '52:54:00:c0:de:28', tap: `pq${x}-t8` };
    const notes: string[] = [];
    let dir: string;
    let eve: string;
    let driver: QemuDriver;
    let agent: RunningAgent;
    let c: ActionCockpit;

    before(async () => {
      dir = mkdtempSync('/tmp/cqp-b-');
      local.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
      eve = join(dir, 'eve.json');
      writeFileSync(eve, '');
      driver = new QemuDriver(parseQemuConfig(oneVmConfig(join(dir, 'qemu'), vm)), 'qemu-hold-agent');
      local.add('destroy the driver\'s VM and tap', () => driver.destroy());
      agent = await startAgent({
        token: TOKEN, driver, dataDir: join(dir, 'data'), agentId: 'qemu-hold-agent', note: (l) => notes.push(l),
        logs: { suricataEve: [eve] }, policyKeys: [signer.file],
      });
      local.add('close the agent', () => agent.close());
      c = await ActionCockpit.open(agent.url, TOKEN);
      local.add('close the cockpit', () => c.close());
      await c.inventory();
      // The hold policy comes from a cockpit this time (policy.set), signed by the key the agent trusts.
      const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
      const policy: Policy = {
        id: 'lab-hold', version: 1, issuedAt: new Date().toISOString(),
        rules: [{ id: 'hold-malicious-lab', match: { verdicts: ['malicious'], sensors: ['suricata'] }, response: 'forensic-hold', exception: 'lab-forensics' }],
        exceptions: [{
          id: 'lab-forensics', justification: { kind: 'test-system', text: 'Cordon lab VM: its memory and disk are kept for the forensics course.' },
          approver: 'ciso@example.org', scope: { vmTags: ['lab'] }, expiresAt,
        }],
      };
      c.send({ type: 'policy.set', id: 'set-hold', policy: signPolicy(policy, signer.privateKey) });
      const { message } = await c.waitFor((m) => (m.type === 'policy.accepted' || m.type === 'error') && m.ref === 'set-hold', 5_000, 'the answer to policy.set');
      assert.equal(message.type, 'policy.accepted', JSON.stringify(message));
      await waitForLog(driver.machineFor(vm.id)!.serialLogPath, LAB_BOOTED, 90_000);
      c.send({ type: 'subscribe', since: 0 });
    });
    after(() => local.run());

    const suricataEvent = (verdict: string, from: number, timeoutMs = 10_000) => c.waitFor<EventMessage>(
      (m) => m.type === 'event' && m.event.sensor.id === 'suricata' && m.event.vmId === vm.id && m.event.verdict === verdict, timeoutMs, `a ${verdict} Suricata event`, from);

    test('c) a suspicious alert that no rule takes leaves the VM running', async () => {
      const machine = driver.machineFor(vm.id)!;
      const from = c.mark;
      appendFileSync(eve, eveAlert(vm.ip, { priority: 2, sid: 2_013_028, signature: 'ET POLICY curl User-Agent Outbound', category: 'Potentially Bad Traffic' }));
      const { message: suspicious } = await suricataEvent('suspicious', from);
      assert.equal(suspicious.event.severity, 'medium');
      // A later alert, read by the follower's next poll: by the time it is numbered, the policy has long evaluated the
      // suspicious one (evaluation is synchronous, right after the log wrote it; an action holds the VM at once).
      const marker = c.mark;
      appendFileSync(eve, eveAlert(vm.ip, { priority: 3, sid: 2_100_498, signature: 'GPL ATTACK_RESPONSE id check returned root', category: 'Not Suspicious Traffic' }));
      await suricataEvent('benign', marker);
      const second = await ActionCockpit.open(agent.url, TOKEN);
      try {
        const seen = (await second.inventory()).find((v) => v.id === vm.id);
        assert.equal(seen?.state, 'running', 'a fresh inventory shows the VM running');
        assert.equal(seen?.busy, undefined, 'and no action under way on it');
      } finally {
        second.close();
      }
      assert.deepEqual(await machine.status(), { status: 'running', running: true }, 'QMP: running');
      assert.ok(pidExists(machine.pid));
      assert.equal(c.received.slice(from).filter((m) => m.type === 'action.accepted' || m.type === 'action.rejected').length, 0, 'no action was taken');
      assert.equal(notes.filter((l) => l.includes(suspicious.event.id)).length, 0, 'the agent noted nothing about it (no alert, no action)');
      assert.equal(journalLines(join(dir, 'data')).length, 0, 'the action journal is empty');
    });

    test('b) a malicious alert under a valid forensic exception: freeze, isolate to the honeypot, seize — in that order', { timeout: 240_000 }, async () => {
      const machine = driver.machineFor(vm.id)!;
      assert.equal(driver.getVm(vm.id)?.state, 'running');
      assert.equal((await linkInfo(vm.tap)).master, prod.bridge, 'the tap is on the production bridge before');
      const from = c.mark;
      appendFileSync(eve, eveAlert(vm.ip, { priority: 1, sid: 2_027_865, signature: 'ET TROJAN Possible Metasploit Payload Common Construct Bind_API (from server)', category: 'A Network Trojan was detected', technique: 'T1059' }));
      const { message: trigger } = await suricataEvent('malicious', from);
      const { message: record } = await c.waitFor<EventMessage>((m) => m.type === 'event' && m.event.sensor.kind === 'policy' && m.event.vmId === vm.id, 180_000, 'the policy record of the hold', from);
      assert.ok(trigger.seq < record.seq);

      // The three steps, as every cockpit saw them: each accepted and finished before the next is accepted.
      const ids = { freeze: policyRequestId(trigger.event.id, 'freeze'), isolate: policyRequestId(trigger.event.id, 'isolate'), seize: policyRequestId(trigger.event.id, 'seize') };
      const at = (type: AgentMessage['type'], requestId: string) => c.received.findIndex((m, i) => i >= from && m.type === type && 'requestId' in m && m.requestId === requestId);
      const order = [at('action.accepted', ids.freeze), at('action.result', ids.freeze), at('action.accepted', ids.isolate), at('action.result', ids.isolate), at('action.accepted', ids.seize), at('action.result', ids.seize)];
      assert.ok(order.every((i) => i >= 0), `every step was accepted and has a result: ${JSON.stringify(order)}`);
      assert.deepEqual([...order].sort((a, b) => a - b), order, 'freeze, then isolate, then seize; one at a time');
      assert.equal(c.received.slice(from).filter((m) => m.type === 'action.accepted').length, 3, 'three actions, no more');
      for (const id of Object.values(ids)) {
        const accepted = c.received[at('action.accepted', id)] as ActionAcceptedMessage;
        assert.deepEqual(accepted.actor, { name: 'policy', role: 'automatic' });
        assert.match(accepted.reason ?? '', /Policy lab-hold v1, rule hold-malicious-lab\b.*forensic hold under exception lab-forensics \(test-system, approved by ciso@example\.org/);
      }
      const result = (id: string) => c.received[at('action.result', id)] as ActionResultMessage;
      const frozen = result(ids.freeze);
      assert.equal(frozen.ok, true, JSON.stringify(frozen));
      assert.equal(frozen.state, 'frozen');
      const isolated = result(ids.isolate);
      assert.equal(isolated.ok, true, JSON.stringify(isolated));
      assert.equal(isolated.state, 'frozen', 'isolated while frozen: still frozen, now with an isolation');
      assert.equal(isolated.details?.mode, 'honeypot');
      // Only the kernel's view is asserted of the proof: the VM is frozen first, so no probe can reach the guest on
      // either side, and the driver's proof (which wants a "before" echo and a honeypot echo) says it does not hold.
      const membership = isolated.details?.isolation?.checks.find((k) => k.name.startsWith('bridge-membership'));
      assert.equal(membership?.ok, true, JSON.stringify(membership));
      const seized = result(ids.seize);
      assert.equal(seized.ok, true, JSON.stringify(seized));
      assert.equal(seized.state, 'seized');

      // The same order in the durable journal.
      const journal = journalLines(join(dir, 'data')).map((l) => `${l.t} ${l.requestId}`);
      assert.deepEqual(journal, [`begin ${ids.freeze}`, `end ${ids.freeze}`, `begin ${ids.isolate}`, `end ${ids.isolate}`, `begin ${ids.seize}`, `end ${ids.seize}`]);

      // Each step's effect, seen from outside the agent.
      assert.ok(pidExists(machine.pid), 'held, not terminated: the QEMU process is still there');
      assert.deepEqual(await machine.status(), { status: 'paused', running: false }, 'QMP: paused (frozen, and frozen it stays)');
      assert.equal((await linkInfo(vm.tap)).master, honeypot.bridge, 'ip -j link: the tap is a port of the quarantine bridge');
      const now = c.vm(vm.id);
      assert.equal(now?.state, 'seized');
      assert.equal(now?.isolation?.mode, 'honeypot');
      assert.equal(now?.networks?.[0]?.bridge, honeypot.bridge);
      const folder = join(dir, 'data', 'actions', ids.seize);
      const files = seized.details?.files ?? [];
      assert.deepEqual(files.map((f) => f.role), ['memory', 'disk', 'config', 'log', 'log', 'log', 'other'], JSON.stringify(files.map((f) => f.path)));
      for (const f of files) {
        assert.ok(existsSync(join(folder, f.path)), `${f.path} is in ${folder}`);
        assert.equal(statSync(join(folder, f.path)).size, f.size, `${f.path}: size`);
      }
      assert.ok(files.find((f) => f.role === 'memory')!.size >= MEMORY_MIB * 1024 * 1024, 'the whole RAM was dumped');
      const manifest = readFileSync(join(folder, 'manifest.json'));
      assert.equal(createHash('sha256').update(manifest).digest('hex'), files.at(-1)!.sha256, 'manifest.json: SHA-256');
      assert.equal(JSON.parse(manifest.toString()).request.caseId, `policy-${trigger.event.id}`.slice(0, 128));

      // The record of the hold, in the event log: the policy, version, rule, exception and the three outcomes.
      assert.equal(record.event.title, 'Policy forensic hold of web-08: rule hold-malicious-lab of lab-hold v1');
      const description = record.event.description ?? '';
      assert.ok(description.includes(`event ${trigger.event.id} `), description);
      assert.ok(description.includes('forensic hold under exception lab-forensics'), description);
      for (const [kind, id] of Object.entries(ids)) assert.ok(description.includes(`${kind} ${id}: done`), `${kind}: ${description}`);
      assert.equal(record.event.mitre?.techniqueId, 'T1059');
      assert.deepEqual(c.invalid, [], 'every message follows cordon.v1');
      rmSync(join(folder, 'memory.elf'));
    });
  });
});
