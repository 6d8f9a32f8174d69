// A link over a CockpitApi object handed to the page: the Electron preload's `window.cordon`, or one a unit test
// injects. Whatever crosses the bridge is checked against the contract where it enters the renderer, pushes and
// call results alike (validation where a message enters a process).
import type { CockpitApi, CockpitCalls, CockpitMethod } from '../../../protocol/cockpit-api.ts';
import { checkCockpitPush, type CockpitPush, type ErrorMessage } from '../../../protocol/index.ts';
import { checkResult, CockpitCallError, Listeners, type CockpitLink, type LinkState } from './link.ts';

export function createBridgeLink(bridge: CockpitApi, now: () => number = Date.now): CockpitLink {
  const invalid = new Listeners<ErrorMessage>();
  const stateListeners = new Listeners<LinkState>();
  let state: LinkState = {
    phase: 'connected',
    platform: bridge.platform,
    attempt: 0,
    retryAt: null,
    lastError: null,
    since: now(),
  };
  const unsubscribers = new Set<() => void>();

  const api: CockpitApi = {
    platform: bridge.platform,
    async call<M extends CockpitMethod>(method: M, params: CockpitCalls[M]['params']): Promise<CockpitCalls[M]['result']> {
      let result: unknown;
      try {
        result = await bridge.call(method, params);
      } catch (err) {
        throw new CockpitCallError('failed', `The cockpit could not answer "${method}": ${(err as Error)?.message ?? String(err)}`);
      }
      const checked = checkResult(method, result);
      if (!checked.ok) {
        invalid.emit(checked.error);
        throw new CockpitCallError(checked.error.code, checked.error.message);
      }
      return checked.value;
    },
    onPush(listener: (push: CockpitPush) => void): () => void {
      const off = bridge.onPush((push: unknown) => {
        const checked = checkCockpitPush(push);
        if (checked.ok) listener(checked.value);
        else invalid.emit(checked.error);
      });
      unsubscribers.add(off);
      return () => {
        unsubscribers.delete(off);
        off();
      };
    },
  };

  return {
    api,
    state: () => state,
    onState: (l) => stateListeners.add(l),
    onInvalid: (l) => invalid.add(l),
    close() {
      for (const off of unsubscribers) off();
      unsubscribers.clear();
      state = { ...state, phase: 'closed', since: null };
      stateListeners.emit(state);
    },
  };
}
