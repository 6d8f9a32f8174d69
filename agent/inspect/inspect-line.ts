// The inspection line of a QEMU VM: its third UART (the guest's ttyS2) on a socket of the agent's. The agent sends the
// inspection script as one line; the lab guest's cordon-inspectd runs it with /bin/sh and answers on the same line;
// the answer ends with the script's end marker. One inspection at a time per VM (the chardev takes one client).
//
// What comes back is the guest's, hence attacker-controlled: bounded in size and time, parsed by parseInspection
// (guest-shell.ts), which trusts nothing in it. A guest without the helper never answers: the agent says so after the
// deadline instead of waiting.
import { connect } from 'node:net';
import type { VmInspection } from '../../protocol/index.ts';
import { AgentError } from '../errors.ts';
import { INSPECT_SCRIPT, MARK, parseInspection } from './guest-shell.ts';

/** The script samples CPU for a second; a TCG guest is slow: generous. */
export const INSPECT_TIMEOUT_MS = 15_000;
/** Largest answer read; the rest is cut (the parser then says the answer ended early). */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

export function inspectOverLine(socketPath: string, vmId: string, vmName: string, timeoutMs = INSPECT_TIMEOUT_MS): Promise<VmInspection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path: socketPath });
    const chunks: Buffer[] = [];
    let bytes = 0;
    let done = false;
    const finish = (err?: AgentError) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(parseInspection(Buffer.concat(chunks).toString('utf8'), vmId, new Date().toISOString()));
    };
    const timer = setTimeout(() => finish(bytes === 0
      ? new AgentError('inspect_unavailable', `${vmName} did not answer on its inspection line within ${timeoutMs / 1000} s: its guest runs no Cordon inspection helper on ttyS2, or is too busy.`)
      : undefined), timeoutMs);
    socket.once('error', (err: NodeJS.ErrnoException) => finish(new AgentError('inspect_unavailable', `Cannot open the inspection line of ${vmName} (${err.code ?? err.message}): another inspection holds it, or the VM has none (started before this agent version).`)));
    socket.once('connect', () => socket.write(`${INSPECT_SCRIPT}\n`));
    // The end marker on a line of its own: the script's echo (a tty that still echoes, before the helper set it up)
    // holds the marker too, inside quotes, and must not end the answer.
    const end = new RegExp(`(^|\\n)${MARK} end\\r?\\n`);
    socket.on('data', (data: Buffer) => {
      if (bytes + data.byteLength > MAX_ANSWER_BYTES) {
        chunks.push(data.subarray(0, MAX_ANSWER_BYTES - bytes));
        bytes = MAX_ANSWER_BYTES;
        finish();
        return;
      }
      chunks.push(data);
      bytes += data.byteLength;
      // The end marker, at the start of a line (the script's last echo): the answer is whole.
      const tail = Buffer.concat(chunks.slice(-2)).subarray(-(MARK.length + 16)).toString('latin1');
      if (end.test(tail)) finish();
    });
    socket.once('close', () => finish());
  });
}
