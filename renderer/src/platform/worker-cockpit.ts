// Opens the cockpit for the page with its ingest engine in a Web Worker (worker/ingest.worker.ts): the event
// stream never touches the main thread, which gets only what it draws. The worker is a file of our own origin
// (CSP worker-src 'self'). In Electron, window.cordon lives on the main thread: its pushes and call results are
// relayed to the worker, which validates them. Where no worker can start, the engine runs on the main thread.
import type { CockpitApi } from '../../../protocol/cockpit-api.ts';
import { createCockpit, createCockpitView, type Cockpit, type EngineChannel } from '../store/cockpit.ts';
import type { FrameScheduler } from '../store/frame-scheduler.ts';
import { CockpitEngine } from '../store/engine.ts';
import type { EngineCommand, EngineFrame } from '../store/frame.ts';
import type { CordonProbe } from '../store/probe.ts';
import type { FromWorker, ToWorker } from '../worker/messages.ts';
import { openCockpitLink } from './index.ts';
import type { ConsoleFeed } from '../store/console-feed.ts';
import { CockpitCallError, Listeners } from './link.ts';

export function openCockpit(scheduler: FrameScheduler, probe: CordonProbe): Cockpit {
  const bridge: CockpitApi | undefined = window.cordon;
  const electron = bridge !== undefined && bridge.platform === 'electron';
  let worker: Worker;
  try {
    worker = new Worker(new URL('../worker/ingest.worker.ts', import.meta.url), { name: 'cordon-ingest' });
  } catch (err) {
    console.warn(`Cordon: the ingest worker could not start (${(err as Error)?.message ?? String(err)}); events are taken in on the main thread.`);
    return createCockpit({ link: openCockpitLink(), scheduler, probe });
  }
  return createCockpitView({ channel: workerChannel(worker, electron ? bridge : undefined), scheduler, probe, platform: electron ? 'electron' : 'browser' });
}

function workerChannel(worker: Worker, bridge: CockpitApi | undefined): EngineChannel {
  const send = (message: ToWorker) => worker.postMessage(message);
  let reply: ((frame: EngineFrame) => void) | null = null;
  const calls = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextCall = 1;
  let answered = false;
  let offPush: (() => void) | null = null;
  // Kept to replay on the same-thread engine if the worker fails before it ever answered.
  const lasting = new Map<EngineCommand['type'], EngineCommand>();
  let fallback: CockpitEngine | null = null;
  const consoles = new Listeners<ConsoleFeed>();

  worker.onmessage = (event: MessageEvent<FromWorker>) => {
    const msg = event.data;
    switch (msg.type) {
      case 'frame': {
        answered = true;
        const r = reply;
        reply = null;
        r?.(msg.frame);
        return;
      }
      case 'console':
        consoles.emit(msg.feed);
        return;
      case 'call.result': {
        const c = calls.get(msg.id);
        calls.delete(msg.id);
        if (msg.ok) c?.resolve(msg.result);
        else c?.reject(new CockpitCallError(msg.code, msg.message));
        return;
      }
      case 'bridge.call':
        bridge?.call(msg.method, msg.params as never).then(
          (result) => send({ type: 'bridge.result', id: msg.id, ok: true, result }),
          (err: unknown) => send({ type: 'bridge.result', id: msg.id, ok: false, message: (err as Error)?.message ?? String(err) }),
        );
        return;
    }
  };
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    console.error(`Cordon: the ingest worker failed: ${event.message}`);
    if (answered || fallback !== null) return;
    // It never got going (a blocked or missing script): take the events in on the main thread instead.
    worker.terminate();
    offPush?.();
    offPush = null;
    for (const c of calls.values()) c.reject(new CockpitCallError('link_lost', 'The ingest worker failed before it answered; try again.'));
    calls.clear();
    fallback = new CockpitEngine({ link: openCockpitLink() });
    fallback.onConsole((feed) => consoles.emit(feed));
    for (const c of lasting.values()) fallback.command(c);
    fallback.start();
    const r = reply;
    reply = null;
    if (r !== null) fallback.requestFrame(r);
  };

  return {
    start() {
      if (fallback !== null) return fallback.start();
      if (bridge !== undefined) {
        send({ type: 'start', transport: 'bridge' });
        offPush = bridge.onPush((push) => send({ type: 'bridge.push', push }));
      } else {
        send({ type: 'start', transport: 'shell', pageUrl: location.href });
      }
    },
    stop() {
      if (fallback !== null) return fallback.stop();
      offPush?.();
      offPush = null;
      send({ type: 'stop' });
    },
    command(c) {
      if (c.type === 'setFilter' || c.type === 'setRange') lasting.set(c.type, c);
      if (fallback !== null) return fallback.command(c);
      send({ type: 'command', command: c });
    },
    requestFrame(r) {
      if (fallback !== null) return fallback.requestFrame(r);
      reply = r;
      send({ type: 'frame' });
    },
    call(method, params) {
      if (fallback !== null) return fallback.call(method, params);
      const id = nextCall++;
      return new Promise((resolve, reject) => {
        calls.set(id, { resolve: resolve as (value: unknown) => void, reject });
        send({ type: 'call', id, method, params });
      });
    },
    onConsole: (listener) => consoles.add(listener),
  };
}
