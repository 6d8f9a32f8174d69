// What the page's window may carry: the Electron preload's API, and the measurement probe (store/probe.ts).
import type { CockpitApi } from '../../protocol/cockpit-api.ts';
import type { CordonProbe } from './store/probe.ts';

declare global {
  interface Window {
    cordon?: CockpitApi;
    __cordonProbe?: CordonProbe;
  }
}
