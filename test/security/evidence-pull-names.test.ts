// Bad-input campaign (issue 8): the names an agent gives its capture files, as the cockpit's pull takes them
// (main/evidence/transfer.ts). An agent is trusted with evidence, not with the cockpit's disk: a name that climbs out
// (`../x`), is absolute, holds a NUL or a slash is refused with a sentence before anything is written; a name that is
// a plain file name but also the name of a member of Object.prototype (`constructor`, `toString`, `hasOwnProperty`)
// is pulled like any other and pollutes nothing. Against a real agent process over a real WebSocket.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FleetHub } from '../../main/fleet/hub.ts';
import { pullCapture, TransferError } from '../../main/evidence/transfer.ts';
import type { EvidenceCapture } from '../../protocol/index.ts';
import { startAgentProcess, tempDir, waitFor, writeToken, type RunningProcess } from '../helpers/processes.ts';
import { plantCapture } from '../helpers/evidence-store.ts';
import { record } from './campaign.ts';
import { assertClearError, assertNoLongEcho, assertPrototypesClean } from './kit.ts';

const TOKEN = 'campaign-pull-names-0123456789';
const MEMBER_NAMES = ['constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];

describe('bad input: capture file names in an evidence pull', () => {
  const dir = tempDir('campaign-pull');
  const store = join(dir.path, 'agent', 'actions');
  const files = Object.fromEntries(MEMBER_NAMES.map((n) => [n, randomBytes(4096 + n.length)]));
  let agent: RunningProcess & { url: string };
  let hub: FleetHub;
  const link = () => hub.linkOf('names');

  before(async () => {
    plantCapture(store, 'cap-members-0001', files);
    agent = await startAgentProcess({ tokenFile: writeToken(dir.path, TOKEN), dataDir: join(dir.path, 'agent'), agentId: 'names', rate: 1, vms: 1, extra: ['--no-logs'] });
    hub = new FleetHub();
    hub.addAgent({ agentId: 'names', label: 'names', url: agent.url, token: TOKEN });
    await waitFor(() => link()?.snapshotStatus().link === 'connected', 'the link', 15_000);
  });

  after(async () => {
    hub?.close();
    await agent?.kill();
    dir.remove();
  });

  it('files named constructor, toString, hasOwnProperty… are pulled like any other and pollute nothing', async () => {
    const c = (await link()!.listEvidence()).find((x) => x.captureId === 'cap-members-0001')!;
    assert.deepEqual(c.files.map((f) => f.path).filter((p) => p !== 'manifest.json').sort(), [...MEMBER_NAMES].sort());
    const into = join(dir.path, 'cockpit', 'cap-members-0001');
    const r = await pullCapture({ agentId: 'names', capture: c, dir: into, link });
    for (const n of MEMBER_NAMES) {
      assert.ok(readFileSync(join(into, n)).equals(files[n]!), `${n} arrived byte for byte`);
      assert.deepEqual(r.files.find((f) => f.path === n)?.resumedFrom, [], `${n} has its own transfer state`);
    }
    const state = JSON.parse(readFileSync(join(into, 'transfer.json'), 'utf8')) as { files: Record<string, { done: boolean }> };
    for (const n of MEMBER_NAMES) assert.equal(Object.hasOwn(state.files, n) && state.files[n]!.done, true, `${n} is recorded done in transfer.json`);
    assertPrototypesClean();
    for (const f of [Object, Object.prototype.toString, Object.prototype.hasOwnProperty, Object.prototype.valueOf, Object.prototype.isPrototypeOf]) {
      for (const k of ['acked', 'done', 'resumedFrom']) assert.equal(Object.hasOwn(f, k), false, `${f.name}.${k} was not set`);
    }
    // Pulled again (a restart): everything is already here, from the state on disk.
    const again = await pullCapture({ agentId: 'names', capture: c, dir: into, link });
    assert.equal(again.files.length, c.files.length);
    record({ campaign: 'bad-input', target: 'evidence pull: capture file names from the agent (cockpit side)', kind: 'file names that are members of Object.prototype', tried: MEMBER_NAMES.length,
      refused: 0, crashes: 0, outcome: 'Pulled byte for byte, each with its own transfer state; no built-in function gained a property.' });
  });

  it('names that climb out, are absolute or hold odd characters are refused before anything is written', async () => {
    const good = (await link()!.listEvidence()).find((x) => x.captureId === 'cap-members-0001')!;
    const hostile = ['../escape.bin', '../../../../tmp/escape.bin', '/etc/cron.d/escape', 'a/b', 'a\\..\\b', 'x\0y', '..', '.', '', ' ', '.hidden', '-rf', '__proto__',
      `${'A'.repeat(200)}`, '\x1b]0;pwned\x07', '<img src=x onerror=alert(1)>', 'transfer.json/../x'];
    let refused = 0;
    for (const name of hostile) {
      // A capture as a lying agent would list it (the agent's own store checks nothing the cockpit relies on).
      const c: EvidenceCapture = { ...good, captureId: 'cap-hostile-0001', files: [{ ...good.files[0]!, path: name }] };
      const into = join(dir.path, 'cockpit-hostile', String(refused));
      await assert.rejects(pullCapture({ agentId: 'names', capture: c, dir: into, link }), (err: unknown) => {
        assert.ok(err instanceof TransferError, String(err));
        assert.equal(err.code, 'bad_path');
        assertClearError(err.message, 400);
        assertNoLongEcho(err.message, name);
        return true;
      }, JSON.stringify(name));
      assert.deepEqual(existsSync(into) ? readdirSync(into).filter((f) => f !== 'transfer.json') : [], [], 'nothing was written');
      refused++;
    }
    assert.equal(existsSync(join(dir.path, 'escape.bin')) || existsSync('/tmp/escape.bin'), false);
    record({ campaign: 'bad-input', target: 'evidence pull: capture file names from the agent (cockpit side)', kind: 'path traversal, absolute paths, NUL, slashes and escapes in file names',
      tried: hostile.length, refused, crashes: 0, outcome: 'Each refused with "bad_path" and a sentence quoting at most 80 characters, before any byte was written.' });
  });
});
