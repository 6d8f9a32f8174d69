// The browser shell's transport pieces that a page and a worker share: a real WebSocket behind the link's small
// socket interface, and the session check over plain HTTP (see ShellLinkOptions.checkSession).
import type { SocketFactory } from './shell-link.ts';

/** A real WebSocket behind the link's small socket interface. */
export const browserSocket: SocketFactory = (url, handlers) => {
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

/** Asks the shell, without a body, whether it still knows this page's session: 401 means it does not. `pageUrl` is
 *  the page's own address (a worker's relative './' would name the worker's folder). */
export function sessionCheck(pageUrl: string): () => Promise<'ok' | 'refused' | 'unknown'> {
  return async () => {
    try {
      const res = await fetch(new URL('./', pageUrl), { method: 'HEAD', cache: 'no-store', credentials: 'same-origin', redirect: 'manual' });
      return res.status === 401 ? 'refused' : 'ok';
    } catch {
      return 'unknown'; // the shell is down: keep retrying
    }
  };
}

/** The shell's API socket for a page at `pageUrl`: `/api` on the same origin. */
export function shellSocketUrl(pageUrl: string): string {
  const page = new URL(pageUrl);
  return `${page.protocol === 'https:' ? 'wss:' : 'ws:'}//${page.host}/api`;
}
