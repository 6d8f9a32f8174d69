// Errors of the QEMU layer as values: a stable code, a sentence an operator can act on, and what QEMU said.
import { AgentError } from '../errors.ts';

export type QemuErrorCode =
  /** QEMU answered a command with an error; `qmpClass` and the message carry QEMU's own words. */
  | 'qmp_command_failed'
  /** No answer within the command's deadline. */
  | 'qmp_timeout'
  /** The QMP connection closed (QEMU exited, crashed or was killed) while something waited on it. */
  | 'qemu_gone'
  /** The QMP socket could not be reached. */
  | 'qmp_connect_failed'
  /** The peer on the socket does not speak QMP as expected. */
  | 'qmp_protocol'
  /** QEMU could not be started, or exited before it was ready. */
  | 'qemu_start_failed'
  /** A VM to adopt is not (or no longer) the QEMU its run folder describes. */
  | 'qemu_adopt_failed'
  /** A configuration value (name, path, MAC, size) is refused before anything runs. */
  | 'invalid_config'
  /** QEMU accepted an action but its effect was not confirmed (state, process, file). */
  | 'not_confirmed'
  /** A long operation (dump, disk copy, migration) reported failure. */
  | 'operation_failed'
  /** An `ip` command failed. */
  | 'host_network_failed'
  /** The serial console socket cannot be opened (VM gone, or another client holds it: one at a time). */
  | 'console_unavailable'
  /** The guest did not print what was waited for on its serial console in time (frozen, busy, no shell). */
  | 'guest_timeout'
  /** A tool the layer runs is not installed. */
  | 'tool_missing';

export class QemuError extends AgentError {
  declare readonly code: QemuErrorCode;
  /** QMP's error class (`GenericError`, `DeviceNotFound`, ...) when QEMU refused a command. */
  readonly qmpClass: string | undefined;
  /** The QMP command or host command that failed, when there is one. */
  readonly command: string | undefined;

  constructor(code: QemuErrorCode, message: string, options: { cause?: unknown; qmpClass?: string; command?: string } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'QemuError';
    this.qmpClass = options.qmpClass;
    this.command = options.command;
  }
}

export function isQemuError(err: unknown, code?: QemuErrorCode): err is QemuError {
  return err instanceof QemuError && (code === undefined || err.code === code);
}
