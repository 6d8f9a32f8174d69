// A bare Chrome DevTools Protocol client over --remote-debugging-pipe, for the streaming benchmark. Playwright
// enables the Network domain on every page and worker it attaches to, and Chromium then copies each WebSocket
// frame into a DevTools event: at 50,000 events/s that is tens of MB/s through the browser process, the DevTools
// pipe and the bench process, a cost no responder's browser or Electron window pays. This client enables only
// what the bench asks for.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './lib.ts';

type Listener = (params: Record<string, unknown>, sessionId: string | undefined) => void;

export class Cdp {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void; method: string }>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private buffered = '';

  private constructor(private readonly child: ChildProcess, private readonly out: Writable, input: Readable, private readonly profileDir: string) {
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => {
      this.buffered += chunk;
      let end: number;
      while ((end = this.buffered.indexOf('\0')) >= 0) {
        const text = this.buffered.slice(0, end);
        this.buffered = this.buffered.slice(end + 1);
        this.receive(JSON.parse(text) as { id?: number; method?: string; params?: Record<string, unknown>; result?: unknown; error?: { message: string }; sessionId?: string });
      }
    });
  }

  /** The browser process (its renderers and helpers are its descendants). */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Debian's Chromium, headless, driven over a pipe (fds 3 and 4). */
  static launch(extraArgs: string[] = []): Cdp {
    const profileDir = mkdtempSync(join(tmpdir(), 'cordon-bench-chromium-'));
    // As playwright launches it, for the scheduling that matters here: a headless page is never throttled as a
    // background one, and a busy renderer is not told off for flooding IPC.
    const scheduling = ['--disable-background-timer-throttling', '--disable-backgrounding-occluded-windows', '--disable-renderer-backgrounding',
      '--disable-ipc-flooding-protection', '--disable-hang-monitor', '--disable-extensions', '--disable-dev-shm-usage', '--disable-breakpad',
      '--no-default-browser-check', '--password-store=basic', '--force-color-profile=srgb'];
    const child = spawn(CHROMIUM_PATH, ['--headless', ...CHROMIUM_ARGS, ...scheduling, `--user-data-dir=${profileDir}`, '--remote-debugging-pipe', ...extraArgs, 'about:blank'], {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
    });
    const out = child.stdio[3] as Writable;
    const input = child.stdio[4] as Readable;
    return new Cdp(child, out, input, profileDir);
  }

  send<T = Record<string, unknown>>(method: string, params: object = {}, sessionId?: string): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject, method });
      this.out.write(JSON.stringify(sessionId === undefined ? { id, method, params } : { id, method, params, sessionId }) + '\0');
    });
  }

  on(method: string, listener: Listener): () => void {
    let set = this.listeners.get(method);
    if (set === undefined) this.listeners.set(method, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Asks the browser to quit (so that it reaps its own children), and kills it if it has not within 5 s. */
  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.send('Browser.close').catch(() => undefined);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
      this.child.kill('SIGKILL');
    }
    rmSync(this.profileDir, { recursive: true, force: true });
  }

  private receive(msg: { id?: number; method?: string; params?: Record<string, unknown>; result?: unknown; error?: { message: string }; sessionId?: string }): void {
    if (msg.id !== undefined) {
      const w = this.waiting.get(msg.id);
      if (w === undefined) return;
      this.waiting.delete(msg.id);
      if (msg.error !== undefined) w.reject(new Error(`${w.method}: ${msg.error.message}`));
      else w.resolve(msg.result);
      return;
    }
    if (msg.method !== undefined) for (const l of this.listeners.get(msg.method) ?? []) l(msg.params ?? {}, msg.sessionId);
  }
}

/** One page in that browser, with its dedicated workers attached as they start. */
export class CdpPage {
  readonly workers: string[] = [];

  private constructor(readonly cdp: Cdp, readonly session: string) {}

  static async open(cdp: Cdp, viewport: { width: number; height: number }): Promise<CdpPage> {
    const { targetId } = await cdp.send<{ targetId: string }>('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await cdp.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
    const page = new CdpPage(cdp, sessionId);
    cdp.on('Target.attachedToTarget', (p, parent) => {
      const info = p.targetInfo as { type: string };
      if (parent === sessionId && info.type === 'worker') page.workers.push(p.sessionId as string);
    });
    await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: true }, sessionId);
    await cdp.send('Emulation.setDeviceMetricsOverride', { ...viewport, deviceScaleFactor: 1, mobile: false }, sessionId);
    await cdp.send('Page.enable', {}, sessionId);
    return page;
  }

  async goto(url: string): Promise<void> {
    const loaded = new Promise<void>((resolve) => {
      const off = this.cdp.on('Page.loadEventFired', (_p, s) => {
        if (s === this.session) {
          off();
          resolve();
        }
      });
    });
    await this.cdp.send('Page.navigate', { url }, this.session);
    await loaded;
  }

  /** Evaluates an expression in the page and returns its value (JSON-serialisable). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.cdp.send<{ result: { value?: T }; exceptionDetails?: { text: string } }>('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, this.session);
    if (r.exceptionDetails !== undefined) throw new Error(`page: ${r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  async waitFor(expression: string, timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!(await this.evaluate<boolean>(expression).catch(() => false))) {
      if (Date.now() > until) throw new Error(`Timed out after ${timeoutMs} ms waiting for: ${expression}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Sends a command to the page itself. */
  send<T = Record<string, unknown>>(method: string, params: object = {}): Promise<T> {
    return this.cdp.send<T>(method, params, this.session);
  }

  /** Sends a command to every worker of the page; their answers, in order. */
  toWorkers<T = Record<string, unknown>>(method: string, params: object = {}): Promise<T[]> {
    return Promise.all(this.workers.map((s) => this.cdp.send<T>(method, params, s)));
  }
}
