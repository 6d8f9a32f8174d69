// The preload: exposes the one typed cockpit API to the sandboxed renderer through contextBridge, and nothing
// else. Only the two cordon: channels are used; method names are checked here and again in main.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { IPC, isCockpitMethod, type CockpitApi } from '../protocol/cockpit-api.ts';
import type { CockpitPush, ErrorMessage } from '../protocol/generated/types.ts';

type Reply = { ok: true; result: unknown } | { ok: false; error: ErrorMessage };

const api: CockpitApi = {
  platform: 'electron',
  async call(method, params) {
    if (!isCockpitMethod(method)) throw new Error(`The cockpit has no call named "${String(method)}".`);
    const reply = (await ipcRenderer.invoke(IPC.call, method, params)) as Reply;
    if (!reply.ok) throw new Error(reply.error.message);
    return reply.result as never;
  },
  onPush(listener) {
    const handler = (_event: IpcRendererEvent, push: CockpitPush): void => listener(push);
    ipcRenderer.on(IPC.push, handler);
    return () => void ipcRenderer.removeListener(IPC.push, handler);
  },
};

contextBridge.exposeInMainWorld('cordon', api);
