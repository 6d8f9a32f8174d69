// The inspection line's handshake, over a real Unix socket with a stand-in for the guest's cordon-inspectd that runs
// each line with this host's /bin/sh, as the helper does: bytes sent before the helper holds its tty are lost (a UART
// nobody opened drops them), so the agent pings until the line answers and only then sends the script, once.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { inspectOverLine } from '../../agent/inspect/inspect-line.ts';

const dir = mkdtempSync(join(tmpdir(), 'cordon-inspect-line-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Guest {
  path: string;
  /** Every line the guest received, dropped or run. */
  lines: string[];
  /** The lines it ran. */
  ran: string[];
  close(): Promise<void>;
}

/**
 * A guest line: drops what arrives for the first `deafMs` (the helper not started yet), then runs each line with sh and
 * writes its output as a tty with onlcr would (CR LF). `silent`: never answers anything.
 */
async function guest(name: string, o: { deafMs?: number; silent?: boolean; hangUp?: boolean } = {}): Promise<Guest> {
  const path = join(dir, `${name}.sock`);
  const lines: string[] = [];
  const ran: string[] = [];
  const opened = Date.now();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    if (o.hangUp) {
      socket.destroy();
      return;
    }
    let pending = '';
    let queue = Promise.resolve();
    socket.on('data', (data) => {
      pending += data.toString('utf8');
      for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
        const line = pending.slice(0, i);
        pending = pending.slice(i + 1);
        lines.push(line);
        if (o.silent || Date.now() - opened < (o.deafMs ?? 0)) continue;
        ran.push(line);
        queue = queue.then(() => new Promise<void>((resolve) => {
          execFile('/bin/sh', ['-c', line], { maxBuffer: 16 * 1024 * 1024 }, (_err, stdout, stderr) => {
            if (!socket.destroyed) socket.write((stdout + stderr).replace(/\n/g, '\r\n'));
            resolve();
          });
        }));
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path, lines, ran,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

describe('the inspection line', () => {
  it('pings until the helper holds the line, then sends the script once and reads its whole answer', async () => {
    const g = await guest('late', { deafMs: 1200 });
    try {
      const inspection = await inspectOverLine(g.path, 'vm-1', 'late-vm', 15_000);
      assert.equal(inspection.warnings, undefined, `a whole answer: ${JSON.stringify(inspection.warnings)}`);
      assert.ok(inspection.processes.some((p) => p.pid === process.pid), 'this test\'s own process, read off ps by the script');
      assert.ok(inspection.resources.processCount > 0);
      const scripts = g.ran.filter((l) => l.includes('@@cordon-inspect') && l.includes(' end"'));
      assert.equal(scripts.length, 1, 'the script went once, after the line answered');
      const dropped = g.lines.length - g.ran.length;
      assert.ok(dropped >= 2, `pings sent while the helper was not there were lost and repeated (${dropped} dropped)`);
      assert.ok(g.lines.indexOf(scripts[0]!) > g.lines.findIndex((l) => g.ran.includes(l)), 'the script follows an answered ping');
    } finally {
      await g.close();
    }
  });

  it('a line that never answers is an error that says so, and the script is never sent into it', async () => {
    const g = await guest('silent', { silent: true });
    try {
      await assert.rejects(inspectOverLine(g.path, 'vm-1', 'mute-vm', 1500), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'inspect_unavailable');
        assert.match(err.message, /mute-vm did not answer on its inspection line within 1\.5 s/);
        return true;
      });
      assert.ok(g.lines.length >= 2, 'pinged more than once');
      assert.ok(g.lines.every((l) => !l.includes(' end"')), 'no script sent to a line nobody serves');
    } finally {
      await g.close();
    }
  });

  it('a line closed before the helper answered, and a missing socket, are errors in a sentence', async () => {
    const g = await guest('hangup', { hangUp: true });
    try {
      await assert.rejects(inspectOverLine(g.path, 'vm-1', 'gone-vm', 5000), /The inspection line of gone-vm closed before its helper answered/);
    } finally {
      await g.close();
    }
    await assert.rejects(inspectOverLine(join(dir, 'none.sock'), 'vm-1', 'old-vm', 5000), /Cannot open the inspection line of old-vm \(ENOENT\)/);
  });
});
