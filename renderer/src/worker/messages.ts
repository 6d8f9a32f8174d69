// What the page and the ingest worker say to each other (postMessage, structured clone). Not a process
// boundary: the worker validates what it takes from the cockpit (the shell's frames, or the Electron bridge's
// pushes and results relayed by the page) exactly as a same-thread link would.
import type { CockpitMethod } from '../../../protocol/cockpit-api.ts';
import type { ConsoleFeed } from '../store/console-feed.ts';
import type { EngineCommand, EngineFrame } from '../store/frame.ts';

export type ToWorker =
  /** Start the engine on the browser shell's socket (the page's address names it) or on the relayed bridge. */
  | { type: 'start'; transport: 'shell'; pageUrl: string }
  | { type: 'start'; transport: 'bridge' }
  | { type: 'stop' }
  | { type: 'command'; command: EngineCommand }
  /** A cockpit call the UI makes (e.g. act): the worker's link makes it and checks the result. */
  | { type: 'call'; id: number; method: CockpitMethod; params: unknown }
  /** The page's open request for its next frame. */
  | { type: 'frame' }
  /** Electron: a push as window.cordon delivered it, unchecked. */
  | { type: 'bridge.push'; push: unknown }
  /** Electron: the answer to a bridge.call, unchecked. */
  | { type: 'bridge.result'; id: number; ok: true; result: unknown }
  | { type: 'bridge.result'; id: number; ok: false; message: string };

export type FromWorker =
  | { type: 'frame'; frame: EngineFrame }
  | { type: 'call.result'; id: number; ok: true; result: unknown }
  | { type: 'call.result'; id: number; ok: false; code: string; message: string }
  /** Console output (its bytes moved, not copied) or a closing, as it came: the console panes' own path. */
  | { type: 'console'; feed: ConsoleFeed }
  /** Electron: the worker asks the page to make this call on window.cordon. */
  | { type: 'bridge.call'; id: number; method: CockpitMethod; params: unknown };
