// A QEMU VM's console for the qemu driver: the serial chardev's socket (agent/qemu/serial.ts SerialStream) with the
// tail of its logfile as the backlog, and the window-size line (agent/qemu/winsize.ts) where the VM has one.
//
// The chardev takes one client and makes a second one wait unanswered, so the attachment first asks QMP whether a
// client holds it (and refuses, saying so), then connects and waits until QEMU shows it connected before reading the
// log's tail: output from then on comes on the socket, so the seam between backlog and live output can repeat the
// few bytes the guest printed in those milliseconds, but never loses any.
import { AgentError } from '../errors.ts';
import type { QemuMachine } from '../qemu/machine.ts';
import { readLogTail, SerialStream } from '../qemu/serial.ts';
import { WindowSizeLine } from '../qemu/winsize.ts';
import type { ConsoleHandlers, ConsoleSource } from './driver.ts';

/** What a console shows first of what the guest printed before (the agent keeps at most this much too). */
const BACKLOG_BYTES = 8192;
/** How long a client that just disconnected may still show as connected. */
const RELEASE_MS = 1_000;
/** How long QEMU may take to accept the attachment. */
const ACCEPT_MS = 3_000;
/** A window size the guest has not confirmed in this long: its guest has no helper; said once per attachment. */
const ACK_MS = 5_000;

/** Attaches to a running VM's serial console. */
export async function attachSerialConsole(machine: QemuMachine, name: string, handlers: ConsoleHandlers, note: (line: string) => void): Promise<ConsoleSource> {
  // A client that just left (the agent's own last attachment, closed a moment ago) takes QEMU a moment to notice.
  const freeBy = performance.now() + RELEASE_MS;
  let held = await machine.serialConnected();
  while (held && performance.now() < freeBy) {
    await new Promise((r) => setTimeout(r, 20));
    held = await machine.serialConnected();
  }
  if (held) {
    throw new AgentError('console_busy', `Another client holds the serial console of ${name} (QEMU's chardev takes one at a time): close it (an operator's socat or minicom on ${machine.serialSocketPath}) and open the console again.`);
  }
  const stream = await SerialStream.connect(machine.serialSocketPath);
  try {
    const deadline = performance.now() + ACCEPT_MS;
    while (!(await machine.serialConnected())) {
      if (performance.now() > deadline) throw new AgentError('console_busy', `QEMU did not take Cordon's connection to the serial console of ${name} within ${ACCEPT_MS / 1000} s: another client may have taken it first. Try again.`);
      await new Promise((r) => setTimeout(r, 10));
    }
  } catch (err) {
    stream.close();
    throw err instanceof AgentError ? err : new AgentError('console_unavailable', `The serial console of ${name} could not be attached: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const backlog = readLogTail(machine.serialLogPath, BACKLOG_BYTES);

  let control: WindowSizeLine | undefined;
  const controlPath = machine.controlSocketPath;
  if (controlPath) {
    try {
      control = await WindowSizeLine.connect(controlPath);
    } catch (err) {
      note(`${name}: no console control line (${err instanceof Error ? err.message : String(err)}); its console keeps the size its guest thinks it has.`);
    }
  }
  let waitingAck: NodeJS.Timeout | undefined;
  let ackSaid = false;
  control?.acknowledged((rows, cols) => {
    clearTimeout(waitingAck);
    waitingAck = undefined;
    handlers.resized?.(rows, cols);
  });
  let open = true;
  const close = () => {
    open = false;
    clearTimeout(waitingAck);
    control?.close();
    stream.close();
  };
  stream.start((chunk) => { if (open) handlers.data(chunk); }, (why) => {
    if (!open) return;
    close();
    handlers.end(`The serial console of ${name} closed (${why}): its QEMU exited, or dropped the connection.`);
  });

  return {
    kind: 'serial',
    backlog,
    write: (bytes) => open && stream.write(bytes),
    resize: (cols, rows) => {
      if (!open) return;
      if (!control?.set(rows, cols)) {
        if (!ackSaid) note(`${name} has no console control line: its guest is not told its console is now ${cols}x${rows}.`);
        ackSaid = true;
        return;
      }
      if (waitingAck === undefined && !ackSaid) {
        waitingAck = setTimeout(() => {
          waitingAck = undefined;
          ackSaid = true;
          note(`${name} did not confirm its console's window size within ${ACK_MS / 1000} s: its guest runs no Cordon window-size helper on ttyS1 (or is frozen), so programs there keep their own idea of the terminal's size.`);
        }, ACK_MS);
        waitingAck.unref();
      }
    },
    pause: () => stream.pause(),
    resume: () => { if (open) stream.resume(); },
    get held() { return open ? stream.held : 0; },
    close,
  };
}

/** A terminated VM's console: what its log last showed, read-only, with nothing live behind it. */
export function deadConsole(serialLog: string | undefined): ConsoleSource {
  return {
    kind: 'serial',
    backlog: serialLog ? readLogTail(serialLog, BACKLOG_BYTES) : Buffer.alloc(0),
    write: () => false,
    resize: () => {},
    pause: () => {},
    resume: () => {},
    held: 0,
    close: () => {},
  };
}
