// Console output on its way from the cockpit link to the console panes (ui/console/), beside the event feed and
// never through it: the engine hands each console push, already checked by the link, to its own listeners, and the
// base64 becomes the guest's bytes here (in the ingest worker, so a flood of output is decoded off the main thread).
import type { CockpitPush, ConsoleClosedPush, ConsolePush } from '../../../protocol/index.ts';

export type ConsoleFeed =
  /** What the guest wrote, as raw bytes: xterm reassembles UTF-8 split across chunks. */
  | { type: 'output'; sessionId: string; bytes: Uint8Array }
  /** The session ended (no more output follows); the pane keeps its scrollback and says why. */
  | { type: 'closed'; sessionId: string; reason: string };

export function isConsolePush(push: CockpitPush): push is ConsolePush | ConsoleClosedPush {
  return push.type === 'console' || push.type === 'console.closed';
}

export function consoleFeedOf(push: ConsolePush | ConsoleClosedPush): ConsoleFeed {
  if (push.type === 'console.closed') return { type: 'closed', sessionId: push.sessionId, reason: push.reason };
  return { type: 'output', sessionId: push.sessionId, bytes: decodeBase64(push.data) };
}

const nativeFromBase64 = (Uint8Array as unknown as { fromBase64?: (text: string) => Uint8Array }).fromBase64;

/** The bytes of a base64 string (the push schema has already checked its alphabet and padding). */
export function decodeBase64(text: string): Uint8Array {
  if (nativeFromBase64 !== undefined) return nativeFromBase64.call(Uint8Array, text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
