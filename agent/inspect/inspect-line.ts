// The inspection line of a QEMU VM: its third UART (the guest's ttyS2) on a socket of the agent's. The agent first asks
// whether the line is served (a short ping, repeated: bytes sent while no guest process holds ttyS2 open are dropped by
// the UART, which happens just after boot and whenever cordon-inspectd restarts), then sends the inspection script as
// one line; the lab guest's cordon-inspectd runs it with /bin/sh and answers on the same line; the answer ends with the
// script's end marker. One inspection at a time per VM (the chardev takes one client).
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

/** How often the ping is repeated until the guest's helper answers it. */
const PING_EVERY_MS = 500;
/**
 * The ping: its output is `<MARK> ready`, on a line of its own, which its echo (`echo "<MARK>" "ready"`, from a tty
 * that still echoes) is not.
 */
const PING = `echo "${MARK}" "ready"`;

export function inspectOverLine(socketPath: string, vmId: string, vmName: string, timeoutMs = INSPECT_TIMEOUT_MS): Promise<VmInspection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path: socketPath });
    let chunks: Buffer[] = [];
    let bytes = 0;
    let done = false;
    /** Whether the helper answered a ping, so the script was sent (its deadline starts then). */
    let served = false;
    let pinger: NodeJS.Timeout | undefined;
    const finish = (err?: AgentError) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(pinger);
      socket.destroy();
      if (err) reject(err);
      else resolve(parseInspection(Buffer.concat(chunks).toString('utf8'), vmId, new Date().toISOString()));
    };
    const expire = () => finish(!served
      ? new AgentError('inspect_unavailable', `${vmName} did not answer on its inspection line within ${timeoutMs / 1000} s: its guest runs no Cordon inspection helper on ttyS2, or is too busy.`)
      : bytes === 0
        ? new AgentError('inspect_unavailable', `${vmName}'s inspection helper took the script but gave no answer within ${timeoutMs / 1000} s: the guest is too busy.`)
        : undefined);
    let timer = setTimeout(expire, timeoutMs);
    let connected = false;
    const closed = () => new AgentError('inspect_unavailable', `The inspection line of ${vmName} closed before its helper answered: the VM stopped, or QEMU dropped the line.`);
    socket.once('error', (err: NodeJS.ErrnoException) => finish(connected
      ? (served ? undefined : closed())
      : new AgentError('inspect_unavailable', `Cannot open the inspection line of ${vmName} (${err.code ?? err.message}): another inspection holds it, or the VM has none (started before this agent version).`)));
    socket.once('connect', () => {
      connected = true;
      socket.write(`${PING}\n`);
      pinger = setInterval(() => socket.write(`${PING}\n`), PING_EVERY_MS);
    });
    const ready = new RegExp(`(^|\\n)${MARK} ready\\r?\\n`);
    // The end marker on a line of its own: the script's echo (a tty that still echoes, before the helper set it up)
    // holds the marker too, inside quotes, and must not end the answer.
    const end = new RegExp(`(^|\\n)${MARK} end\\r?\\n`);
    socket.on('data', (data: Buffer) => {
      if (!served) {
        // Until a ping is answered, what arrives is echoes and pings' answers: kept only to find that answer.
        chunks.push(data);
        const seen = Buffer.concat(chunks).subarray(-4096);
        chunks = [seen];
        if (!ready.test(seen.toString('latin1'))) return;
        served = true;
        clearInterval(pinger);
        chunks = [];
        // Pings still queued in the guest answer before the script does: their lines are sections the parser ignores.
        socket.write(`${INSPECT_SCRIPT}\n`);
        clearTimeout(timer);
        timer = setTimeout(expire, timeoutMs);
        return;
      }
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
    socket.once('close', () => finish(served ? undefined : closed()));
  });
}
