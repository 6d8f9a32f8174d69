// The Electron shell, kept thin: one hardened window, the renderer served from a private app:// scheme with a
// strict CSP, IPC calls checked for their sender and handed to the plain-Node core (main/cockpit.ts), settings
// in electron-store, tokens in safeStorage, the lab agent in a utilityProcess. What a page may do (navigate, open
// windows or links, ask permissions, call over IPC) is decided in ./hardening.ts; docs/electron-security.md maps
// each of Electron's security checklist items to where it is met and the test that checks it.
import { app, BrowserWindow, dialog, ipcMain, protocol, safeStorage, session, shell, utilityProcess, type IpcMainInvokeEvent, type Session } from 'electron';
import Store from 'electron-store';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { IPC } from '../../protocol/cockpit-api.ts';
import { CONTENT_SECURITY_POLICY, resolveStatic } from '../browser-shell/server.ts';
import { startCockpit, type Cockpit } from '../cockpit.ts';
import { CockpitCallError } from '../cockpit-service.ts';
import { loadOrCreateSealedKey } from '../journal/index.ts';
import type { AgentSpawner } from '../lab.ts';
import { readSettings, savePin, SETTINGS_SCHEMA, tokenFileSource, type SecretSource } from '../settings.ts';
import { APP_HOST, APP_ORIGIN, APP_SCHEME, contentsGuard, isAllowedRequest, isTrustedSender, permissionGranted } from './hardening.ts';

const RENDERER_DIR = join(__dirname, '..', 'renderer');
const AGENT_BUNDLE = join(__dirname, '..', 'agent', 'agent.cjs');
const JOURNAL_WORKER = join(__dirname, 'journal-worker.cjs');
const MIME: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png' };

protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true } }]);
// Every renderer is sandboxed, even one created by code that forgot to ask.
app.enableSandbox();

if (!app.requestSingleInstanceLock()) app.quit();

let win: BrowserWindow | undefined;
let cockpit: Cockpit | undefined;

/**
 * Tokens kept by safeStorage (the OS keychain), opened once at start-up with its asynchronous API. A token the
 * keychain wants sealed anew (its key was rotated) is written back sealed anew; one it cannot open is reported for
 * its agent when the fleet starts, never skipped silently.
 */
async function safeStorageSecrets(store: Store<Record<string, unknown>>): Promise<SecretSource> {
  const sealed = (store.get('secrets') as Record<string, string> | undefined) ?? {};
  const opened = new Map<string, string | Error>();
  const resealed: Record<string, string> = {};
  const ids = Object.keys(sealed).filter((id) => typeof sealed[id] === 'string' && sealed[id] !== '');
  const available = ids.length > 0 && await safeStorage.isAsyncEncryptionAvailable();
  for (const id of ids) {
    if (!available) {
      opened.set(id, new Error('the OS keychain is not available to decrypt it'));
      continue;
    }
    try {
      const { result, shouldReEncrypt } = await safeStorage.decryptStringAsync(Buffer.from(sealed[id]!, 'base64'));
      opened.set(id, result);
      if (shouldReEncrypt) resealed[id] = (await safeStorage.encryptStringAsync(result)).toString('base64');
    } catch (err) {
      opened.set(id, new Error(`the OS keychain could not decrypt it (${(err as Error).message})`));
    }
  }
  if (Object.keys(resealed).length > 0) store.set('secrets', { ...sealed, ...resealed });
  return {
    tokenFor(agent) {
      const token = opened.get(agent.agentId);
      if (token instanceof Error) throw token;
      return token ?? tokenFileSource.tokenFor(agent);
    },
  };
}

/** The lab agent runs in a utilityProcess: a real child process that works with the run-as-node fuse off. */
const utilityAgentSpawner: AgentSpawner = (args) => {
  const child = utilityProcess.fork(AGENT_BUNDLE, args, { stdio: ['ignore', 'pipe', 'inherit'], serviceName: 'Cordon lab agent' });
  return { stdout: child.stdout, kill: () => void child.kill(), onExit: (listener) => child.on('exit', (code) => listener(code)) };
};

function checkSender(event: IpcMainInvokeEvent): void {
  const frame = event.senderFrame;
  const trusted = isTrustedSender({ fromCockpitWindow: win !== undefined && event.sender === win.webContents, frameUrl: frame?.url, isMainFrame: frame !== null && frame.parent === null });
  if (!trusted) throw new CockpitCallError('forbidden', 'This call did not come from the cockpit window.');
}

/** Opens a link in the responder's browser; contentsGuard passes only allowlisted https links, in checked form. */
function openExternally(href: string): void {
  shell.openExternal(href).catch((err: unknown) => console.error(`cordon: the browser did not open ${href}: ${(err as Error).message}`));
}

/** Every session the app makes denies every permission and device (but the cockpit's clipboard writes) and fetches
 *  nothing but the app's own files. (Bluetooth pairing needs no handler: without one Electron cancels it, and no
 *  device is ever chosen, see contentsGuard.selectBluetoothDevice.) */
function hardenSession(ses: Session): void {
  ses.setPermissionRequestHandler((_wc, permission, callback, details) =>
    callback(permissionGranted({ permission, url: details.requestingUrl, isMainFrame: details.isMainFrame })));
  ses.setPermissionCheckHandler((_wc, permission, requestingOrigin, details) =>
    permissionGranted({ permission, url: details.requestingUrl ?? requestingOrigin, isMainFrame: details.isMainFrame }));
  ses.setDevicePermissionHandler(() => false);
  ses.setDisplayMediaRequestHandler((_request, callback) => callback({}));
  ses.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !isAllowedRequest(details.url) }));
}

function harden(): void {
  hardenSession(session.defaultSession);
  app.on('session-created', hardenSession);
  app.on('web-contents-created', (_e, contents) => {
    const guard = contentsGuard(openExternally, (what) => console.error(`cordon: refused ${what}`));
    contents.on('will-navigate', (e) => guard.willNavigate(e));
    contents.on('will-frame-navigate', (e) => guard.willFrameNavigate(e));
    contents.on('will-redirect', (e) => guard.willRedirect(e));
    contents.on('will-attach-webview', (e) => guard.willAttachWebview(e));
    contents.on('select-bluetooth-device', (e, _devices, callback) => guard.selectBluetoothDevice(e, callback));
    contents.setWindowOpenHandler((details) => guard.windowOpen(details));
  });
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    const file = url.host === APP_HOST ? resolveStatic(RENDERER_DIR, url.pathname) : undefined;
    if (!file) return new Response('Not found', { status: 404 });
    try {
      const body = await readFile(file);
      return new Response(body, {
        headers: { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream', 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'X-Content-Type-Options': 'nosniff' },
      });
    } catch {
      return new Response('Not found', { status: 404 });
    }
  });
}

async function createWindow(): Promise<void> {
  win = new BrowserWindow({
    width: 1600,
    height: 1000,
    backgroundColor: '#0b0f14',
    title: 'Cordon',
    show: false,
    // Written out here, not built elsewhere, so that reviewers and electronegativity read the settings in force;
    // test/shell/electron-static.test.ts holds every BrowserWindow in the shell to exactly these.
    webPreferences: {
      preload: join(__dirname, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
      safeDialogs: true,
      // A packaged cockpit has no devtools: a local user cannot drive the cockpit's API from a console.
      devTools: !app.isPackaged,
    },
  });
  win.once('ready-to-show', () => win?.show());
  win.on('closed', () => { win = undefined; });
  await win.loadURL(`${APP_ORIGIN}/index.html`);
}

async function start(): Promise<void> {
  harden();
  const store = new Store<Record<string, unknown>>({ name: 'settings', schema: SETTINGS_SCHEMA as never });
  if (process.platform === 'linux' && safeStorage.getSelectedStorageBackend() === 'basic_text') {
    console.error('cordon: WARNING: no OS keychain is available; agent tokens will not be stored by the cockpit. Use token files (mode 0600) instead.');
  }
  // safeStorage's asynchronous API (its synchronous one is deprecated in Electron 45 and gone in 46). Only Linux has
  // a plain-text backend to refuse, and only Linux has getSelectedStorageBackend.
  const keychain = (process.platform !== 'linux' || safeStorage.getSelectedStorageBackend() !== 'basic_text') && await safeStorage.isAsyncEncryptionAvailable();
  cockpit = await startCockpit({
    settings: readSettings(store),
    secrets: await safeStorageSecrets(store),
    spawnAgent: utilityAgentSpawner,
    dataDir: app.getPath('userData'),
    savePin: (agentId, fingerprint) => savePin(store, agentId, fingerprint),
    journal: {
      workerPath: JOURNAL_WORKER,
      keyProtection: keychain
        ? { protection: 'os-keychain' }
        : { protection: 'key-file', warning: 'No OS keychain is available: the responder\'s signing key is a plain file (mode 0600) in the app\'s data folder. Anyone who can read this account\'s files can sign packages as you.' },
      // The responder's signing key, sealed by the OS keychain in the settings store.
      key: () => loadOrCreateSealedKey({
        sealer: {
          available: () => Promise.resolve(keychain),
          seal: (t) => safeStorage.encryptStringAsync(t),
          unseal: async (b) => {
            const { result, shouldReEncrypt } = await safeStorage.decryptStringAsync(b);
            return { plain: result, reseal: shouldReEncrypt };
          },
        },
        read: () => store.get('journalKeySealed') as string | undefined,
        write: (sealed) => store.set('journalKeySealed', sealed),
        fallbackPath: join(app.getPath('userData'), 'journal-key.pem'),
        warn: (line) => console.error(line),
      }),
    },
  });
  const service = cockpit.service;
  const watched = new WeakSet<object>();
  ipcMain.handle(IPC.call, async (event, method: unknown, params: unknown) => {
    checkSender(event);
    // The page is the client: its consoles close when it reloads or goes.
    const page = event.sender;
    if (!watched.has(page)) {
      watched.add(page);
      page.on('did-start-navigation', (details) => { if (details.isMainFrame && !details.isSameDocument) service.clientGone(page); });
      page.once('destroyed', () => service.clientGone(page));
    }
    try {
      // The one call the shell answers itself: a native folder dialog for exports to removable media.
      if (method === 'evidence.chooseFolder') {
        const chosen = await dialog.showOpenDialog(win!, { title: 'Export the package to…', properties: ['openDirectory', 'createDirectory'] });
        return { ok: true, result: chosen.canceled || !chosen.filePaths[0] ? {} : { path: chosen.filePaths[0] } };
      }
      return { ok: true, result: await service.call(method, params, page) };
    } catch (err) {
      return { ok: false, error: err instanceof CockpitCallError ? err.toMessage() : { type: 'error', code: 'internal', message: 'The cockpit failed to answer this call.' } };
    }
  });
  service.onPush((push) => win?.webContents.send(IPC.push, push));
  await createWindow();
}

app.whenReady().then(start).catch((err: unknown) => {
  console.error(`cordon: ${(err as Error).message}`);
  app.exit(1);
});
app.on('window-all-closed', () => app.quit());
// The journal writes its last records and signs a checkpoint before the app goes: quit waits for it once.
let quitting = false;
app.on('before-quit', (event) => {
  if (quitting || !cockpit) return;
  quitting = true;
  event.preventDefault();
  void cockpit.close().finally(() => app.exit(0));
});
