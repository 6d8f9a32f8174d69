// Pulls from a real agent process's evidence store over a real WebSocket: a pull stopped half-way (the cockpit closed)
// resumes from the last synced byte when started again — from its transfer.json, as after a restart — and the file
// matches the agent's hashes; a capture whose file changed on the agent after it was captured is refused, and a file
// that arrives different from what the agent captured is kept aside and never used.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FleetHub } from '../../main/fleet/hub.ts';
import { pullCapture, TransferError, type TransferProgress } from '../../main/evidence/transfer.ts';
import type { EvidenceCapture } from '../../protocol/index.ts';
import { plantCapture } from '../helpers/evidence-store.ts';
import { startAgentProcess, tempDir, waitFor, writeToken, type RunningProcess } from '../helpers/processes.ts';

const TOKEN = 'transfer-test-token-0123456789';
const SIZE = 96 * 1024 * 1024 + 12345;

describe('evidence pulls from a real agent process', () => {
  const dir = tempDir('evidence-transfer');
  const store = join(dir.path, 'agent', 'actions');
  const big = randomBytes(SIZE);
  let agent: RunningProcess & { url: string };
  let hub: FleetHub;
  const link = () => hub.linkOf('xfer');
  const listed = async (id: string) => (await link()!.listEvidence()).find((c) => c.captureId === id) as EvidenceCapture;

  before(async () => {
    plantCapture(store, 'cap-resume-0001', { 'memory.elf': big });
    plantCapture(store, 'cap-changed-0001', { 'memory.elf': randomBytes(1024 * 1024) });
    agent = await startAgentProcess({ tokenFile: writeToken(dir.path, TOKEN), dataDir: join(dir.path, 'agent'), agentId: 'xfer', rate: 1, vms: 1, extra: ['--no-logs'] });
    hub = new FleetHub();
    hub.addAgent({ agentId: 'xfer', label: 'xfer', url: agent.url, token: TOKEN });
    await waitFor(() => link()?.snapshotStatus().link === 'connected', 'the link', 15_000);
  });

  after(async () => {
    hub?.close();
    await agent?.kill();
    dir.remove();
  });

  it('a pull stopped half-way resumes from its last synced byte, and the file matches the agent\'s hashes', async () => {
    const c = await listed('cap-resume-0001');
    const into = join(dir.path, 'cockpit', 'cap-resume-0001');
    const stop = new AbortController();
    let heldAtStop = 0;
    await assert.rejects(pullCapture({
      agentId: 'xfer', capture: c, dir: into, link, signal: stop.signal,
      onProgress: (p: TransferProgress) => {
        if (p.state === 'pulling' && p.bytes > SIZE / 3 && !stop.signal.aborted) {
          heldAtStop = p.bytes;
          stop.abort(new Error('the cockpit closes'));
        }
      },
    }), /the cockpit closes/);
    assert.ok(heldAtStop > 0 && heldAtStop < SIZE, `stopped part-way (${heldAtStop} of ${SIZE})`);
    const state = JSON.parse(readFileSync(join(into, 'transfer.json'), 'utf8')) as { files: Record<string, { acked: number; done: boolean }> };
    assert.equal(state.files['memory.elf']!.done, false);
    assert.ok(state.files['memory.elf']!.acked >= heldAtStop, 'what was synced is recorded');

    // Started again, as after a restart: a new call, from the state on disk.
    const moves: TransferProgress[] = [];
    const r = await pullCapture({ agentId: 'xfer', capture: c, dir: into, link, onProgress: (p) => moves.push(p) });
    const file = r.files.find((f) => f.path === 'memory.elf')!;
    assert.ok(file.resumedFrom.length >= 1 && file.resumedFrom[0]! >= heldAtStop, `resumed from ${file.resumedFrom.join(', ')}`);
    const first = moves.find((p) => p.state === 'pulling');
    assert.ok(!first || first.bytes >= heldAtStop, 'the second pull did not start from zero');
    assert.ok(readFileSync(join(into, 'memory.elf')).equals(big), 'byte for byte what the agent holds');
    assert.ok(!existsSync(join(into, 'memory.elf.part')));
    assert.equal(moves.at(-1)?.state, 'done');
  });

  it('a capture changed on the agent after it was captured is refused, and nothing is kept as good', async () => {
    const c = await listed('cap-changed-0001');
    // Someone alters the stored file (same size): the agent's hashes are those taken when it captured.
    const path = join(store, 'cap-changed-0001', 'memory.elf');
    const bytes = readFileSync(path);
    bytes[4096] = bytes[4096]! ^ 0xff;
    writeFileSync(path, bytes);
    const into = join(dir.path, 'cockpit', 'cap-changed-0001');
    await assert.rejects(pullCapture({ agentId: 'xfer', capture: c, dir: into, link }), (err: unknown) => {
      assert.ok(err instanceof TransferError);
      assert.equal(err.code, 'hash_mismatch');
      assert.match(err.message, /kept aside as .*mismatch-\d+ and not used/);
      return true;
    });
    assert.ok(!existsSync(join(into, 'memory.elf')), 'no file under its good name');
    assert.ok(readdirSync(into).some((n) => n.startsWith('memory.elf.mismatch-')));
  });

  it('an unknown capture and a path outside a capture are the agent\'s refusals, in words', async () => {
    await assert.rejects(link()!.pullEvidence({ captureId: 'no-such-capture', path: 'memory.elf', offset: 0 }, { data() {}, sent() {}, lost() {} }), /holds no complete capture no-such-capture/);
    await assert.rejects(link()!.pullEvidence({ captureId: 'cap-resume-0001', path: 'transfer.json', offset: 0 }, { data() {}, sent() {}, lost() {} }), /has no file transfer\.json/);
    await assert.rejects(link()!.pullEvidence({ captureId: 'cap-resume-0001', path: '..', offset: 0 }, { data() {}, sent() {}, lost() {} }), /bad_message|does not follow cordon\.v1|pattern/);
  });
});
