// The ingest worker: the cockpit engine (store/engine.ts) off the main thread. In the browser shell it owns the
// WebSocket, so every frame is received, parsed, validated, deduplicated and indexed here; in Electron the page
// relays window.cordon's pushes and call results, and they are validated here. The page gets only what it draws,
// once per animation frame, when it asks.
import type { CockpitApi, CockpitCalls, CockpitMethod } from '../../../protocol/cockpit-api.ts';
import type { CockpitPush } from '../../../protocol/index.ts';
import { createBridgeLink } from '../platform/bridge-link.ts';
import { browserSocket, sessionCheck, shellSocketUrl } from '../platform/browser-socket.ts';
import { CockpitCallError, type CockpitLink } from '../platform/link.ts';
import { createShellLink } from '../platform/shell-link.ts';
import { CockpitEngine } from '../store/engine.ts';
import type { FromWorker, ToWorker } from './messages.ts';

/** The little of DedicatedWorkerGlobalScope used here (the renderer is type-checked with the DOM library). */
interface WorkerScope {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;
const post = (message: FromWorker, transfer?: Transferable[]) => scope.postMessage(message, transfer);
const relay = relayedBridge(post);
let engine: CockpitEngine | null = null;
let link: CockpitLink | null = null;
let offConsole: (() => void) | null = null;

scope.onmessage = (event) => {
  const msg = event.data;
  switch (msg.type) {
    case 'start':
      if (engine !== null) return;
      link = msg.transport === 'shell'
        ? createShellLink({ url: shellSocketUrl(msg.pageUrl), connect: browserSocket, checkSession: sessionCheck(msg.pageUrl) })
        : createBridgeLink(relay.api);
      engine = new CockpitEngine({ link });
      offConsole = engine.onConsole((feed) => post({ type: 'console', feed }, feed.type === 'output' ? [feed.bytes.buffer as ArrayBuffer] : undefined));
      engine.start();
      return;
    case 'stop':
      offConsole?.();
      offConsole = null;
      engine?.stop();
      link?.close();
      engine = link = null;
      return;
    case 'command':
      engine?.command(msg.command);
      return;
    case 'call': {
      const { id } = msg;
      const pending = engine === null
        ? Promise.reject(new CockpitCallError('not_connected', 'The cockpit engine has not started.'))
        : engine.call(msg.method, msg.params as never);
      pending.then(
        (result) => post({ type: 'call.result', id, ok: true, result }),
        (err: unknown) => post({ type: 'call.result', id, ok: false, code: err instanceof CockpitCallError ? err.code : 'failed', message: (err as Error)?.message ?? String(err) }),
      );
      return;
    }
    case 'frame':
      engine?.requestFrame((frame) => {
        // The latency samples' buffer moves to the page rather than being copied.
        post({ type: 'frame', frame }, frame.probe !== undefined ? [frame.probe.latency.samples.buffer] : undefined);
      });
      return;
    case 'bridge.push':
      relay.push(msg.push);
      return;
    case 'bridge.result':
      relay.settle(msg);
      return;
  }
};

/** window.cordon as seen from the worker: calls go to the page, which makes them and sends back the answers. */
function relayedBridge(send: (message: FromWorker) => void) {
  const listeners = new Set<(push: CockpitPush) => void>();
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextId = 1;
  const api: CockpitApi = {
    platform: 'electron',
    call<M extends CockpitMethod>(method: M, params: CockpitCalls[M]['params']): Promise<CockpitCalls[M]['result']> {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        send({ type: 'bridge.call', id, method, params });
      });
    },
    onPush(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
  return {
    api,
    // Unchecked here: createBridgeLink checks every push and result against the contract.
    push(value: unknown): void {
      for (const l of [...listeners]) l(value as CockpitPush);
    },
    settle(msg: Extract<ToWorker, { type: 'bridge.result' }>): void {
      const p = pending.get(msg.id);
      if (p === undefined) return;
      pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(msg.message));
    },
  };
}
