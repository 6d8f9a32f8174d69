// Picks the link for where the renderer runs: the Electron preload's `window.cordon` when it is there,
// otherwise the browser shell's WebSocket on the page's own origin (`/api`; the shell's cookie authenticates).
import type { CockpitApi } from '../../../protocol/cockpit-api.ts';
import { createBridgeLink } from './bridge-link.ts';
import type { CockpitLink } from './link.ts';
import { createShellLink, type SocketFactory } from './shell-link.ts';

export function openCockpitLink(): CockpitLink {
  const bridge: CockpitApi | undefined = window.cordon;
  if (bridge !== undefined && bridge.platform === 'electron') return createBridgeLink(bridge);
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return createShellLink({ url: `${scheme}//${location.host}/api`, connect: browserSocket, checkSession });
}

/** Same origin, no body: 401 means the shell no longer accepts this page's session cookie. */
async function checkSession(): Promise<'ok' | 'refused' | 'unknown'> {
  try {
    const res = await fetch('./', { method: 'HEAD', cache: 'no-store', credentials: 'same-origin', redirect: 'manual' });
    return res.status === 401 ? 'refused' : 'ok';
  } catch {
    return 'unknown'; // the shell is down: keep retrying
  }
}

/** A real WebSocket behind the link's small socket interface. */
const browserSocket: SocketFactory = (url, handlers) => {
  const ws = new WebSocket(url);
  ws.onopen = () => handlers.open();
  ws.onmessage = (ev: MessageEvent) => handlers.message(ev.data);
  ws.onclose = (ev: CloseEvent) => handlers.close(ev.code, ev.reason);
  // An error is always followed by a close, which carries the code; nothing to do here.
  ws.onerror = () => undefined;
  return {
    send: (text) => ws.send(text),
    close: (code, reason) => ws.close(code, reason),
  };
};
