// Picks the link for where the renderer runs: the Electron preload's `window.cordon` when it is there,
// otherwise the browser shell's WebSocket on the page's own origin (`/api`; the shell's cookie authenticates).
// This is the same-thread link, for the fallback where the ingest worker cannot start (worker-cockpit.ts).
import type { CockpitApi } from '../../../protocol/cockpit-api.ts';
import { createBridgeLink } from './bridge-link.ts';
import { browserSocket, sessionCheck, shellSocketUrl } from './browser-socket.ts';
import type { CockpitLink } from './link.ts';
import { createShellLink } from './shell-link.ts';

export function openCockpitLink(): CockpitLink {
  const bridge: CockpitApi | undefined = window.cordon;
  if (bridge !== undefined && bridge.platform === 'electron') return createBridgeLink(bridge);
  return createShellLink({ url: shellSocketUrl(location.href), connect: browserSocket, checkSession: sessionCheck(location.href) });
}
