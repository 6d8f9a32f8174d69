// The Electron shell read as code, without the Electron binary: every window's webPreferences are the hardened
// ones, written out where a reviewer reads them; each guard of main/shell/hardening.ts is wired to its event for
// every webContents and every session; every IPC handler checks its sender first; the preload exposes one object
// and no Electron API; the renderer's <meta> CSP is the shells' header policy; and nothing in the shell turns a
// protection off. The TypeScript parser reads the files, so formatting does not fool the checks.
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { CONTENT_SECURITY_POLICY } from '../../main/browser-shell/server.ts';
import { ROOT } from '../helpers/processes.ts';

const SHELL_FILES = [
  ...readdirSync(join(ROOT, 'main/shell')).filter((f) => f.endsWith('.ts')).map((f) => `main/shell/${f}`),
  ...readdirSync(join(ROOT, 'preload')).filter((f) => f.endsWith('.ts')).map((f) => `preload/${f}`),
];

function source(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

function nodes(root: ts.Node): ts.Node[] {
  const all: ts.Node[] = [];
  const visit = (n: ts.Node): void => {
    all.push(n);
    n.forEachChild(visit);
  };
  visit(root);
  return all;
}

/** `a.b.c(...)` → 'a.b.c'; `f(...)` → 'f'. */
function callee(call: ts.CallExpression | ts.NewExpression): string {
  return call.expression.getText().replace(/\s+/g, '');
}

function calls(file: ts.SourceFile, name: string | RegExp): ts.CallExpression[] {
  return nodes(file).filter((n): n is ts.CallExpression => ts.isCallExpression(n))
    .filter((c) => (typeof name === 'string' ? callee(c) === name : name.test(callee(c))));
}

function stringArg(call: ts.CallExpression, i: number): string | undefined {
  const a = call.arguments[i];
  return a !== undefined && ts.isStringLiteralLike(a) ? a.text : undefined;
}

function properties(obj: ts.ObjectLiteralExpression): Map<string, string> {
  const map = new Map<string, string>();
  for (const p of obj.properties) {
    assert.ok(ts.isPropertyAssignment(p), `only plain "key: value" entries, so every setting is in sight: ${p.getText()}`);
    map.set(p.name.getText(), p.initializer.getText());
  }
  return map;
}

const main = source('main/shell/electron-main.ts');
const preload = source('preload/preload.ts');

describe('the Electron shell, read as code', () => {
  it('creates every window with the hardened webPreferences, written out in full', () => {
    const windows = SHELL_FILES.flatMap((f) => nodes(source(f)))
      .filter((n): n is ts.NewExpression => ts.isNewExpression(n) && /^(BrowserWindow|BrowserView|WebContentsView)$/.test(n.expression.getText()));
    assert.equal(windows.length, 1, 'one window; a new one must be added here, with its reasons');
    const [options] = windows[0]!.arguments ?? [];
    assert.ok(options && ts.isObjectLiteralExpression(options), 'the options are a literal');
    const entry = options.properties.find((p): p is ts.PropertyAssignment => ts.isPropertyAssignment(p) && p.name.getText() === 'webPreferences');
    assert.ok(entry && ts.isObjectLiteralExpression(entry.initializer), 'webPreferences is written out, not built elsewhere');
    assert.deepEqual(Object.fromEntries(properties(entry.initializer)), {
      preload: "join(__dirname, 'preload.cjs')",
      contextIsolation: 'true',
      sandbox: 'true',
      nodeIntegration: 'false',
      nodeIntegrationInWorker: 'false',
      nodeIntegrationInSubFrames: 'false',
      webSecurity: 'true',
      allowRunningInsecureContent: 'false',
      experimentalFeatures: 'false',
      webviewTag: 'false',
      navigateOnDragDrop: 'false',
      spellcheck: 'false',
      safeDialogs: 'true',
      devTools: '!app.isPackaged',
    });
  });

  it('loads only its own app:// scheme, sandboxes every renderer and serves its files with the CSP header', () => {
    const loads = calls(main, /\.(loadURL|loadFile)$/);
    assert.deepEqual(loads.map((c) => `${callee(c)}(${c.arguments.map((a) => a.getText()).join(', ')})`), ['win.loadURL(`${APP_ORIGIN}/index.html`)']);
    const privileged = calls(main, 'protocol.registerSchemesAsPrivileged');
    assert.equal(privileged.length, 1);
    assert.match(privileged[0]!.arguments[0]!.getText(), /scheme: APP_SCHEME, privileges: \{ standard: true, secure: true \}/);
    assert.equal(calls(main, 'app.enableSandbox').length, 1);
    assert.ok(calls(main, 'app.enableSandbox')[0]!.parent.parent === main, 'app.enableSandbox() runs at load, before the app is ready');
    const handled = calls(main, 'protocol.handle');
    assert.equal(handled.length, 1);
    assert.match(handled[0]!.getText(), /'Content-Security-Policy': CONTENT_SECURITY_POLICY/);
  });

  it('wires every guard to its event on every webContents', () => {
    const created = calls(main, 'app.on').filter((c) => stringArg(c, 0) === 'web-contents-created');
    assert.equal(created.length, 1);
    const body = created[0]!;
    const wired = calls(main, 'contents.on').filter((c) => c.pos >= body.pos && c.end <= body.end)
      .map((c) => `${stringArg(c, 0)} → ${c.arguments[1]!.getText().replace(/^.*=>\s*/, '')}`);
    assert.deepEqual(wired, [
      'will-navigate → guard.willNavigate(e)',
      'will-frame-navigate → guard.willFrameNavigate(e)',
      'will-redirect → guard.willRedirect(e)',
      'will-attach-webview → guard.willAttachWebview(e)',
      'select-bluetooth-device → guard.selectBluetoothDevice(e, callback)',
    ]);
    const windowOpen = calls(main, 'contents.setWindowOpenHandler');
    assert.equal(windowOpen.length, 1);
    assert.match(windowOpen[0]!.arguments[0]!.getText(), /=> guard\.windowOpen\(details\)$/);
  });

  it('hardens the default session and every session made later, for every permission, device and request', () => {
    const hardened = calls(main, 'hardenSession').map((c) => c.arguments[0]!.getText());
    assert.deepEqual(hardened, ['session.defaultSession']);
    assert.ok(calls(main, 'app.on').some((c) => stringArg(c, 0) === 'session-created' && c.arguments[1]!.getText() === 'hardenSession'));
    const fn = nodes(main).find((n): n is ts.FunctionDeclaration => ts.isFunctionDeclaration(n) && n.name?.text === 'hardenSession');
    assert.ok(fn);
    const set = calls(main, /^ses\./).filter((c) => c.pos >= fn.pos && c.end <= fn.end).map(callee);
    assert.deepEqual(set, [
      'ses.setPermissionRequestHandler', 'ses.setPermissionCheckHandler', 'ses.setDevicePermissionHandler',
      'ses.setDisplayMediaRequestHandler', 'ses.webRequest.onBeforeRequest',
    ]);
    const text = fn.getText();
    assert.match(text, /setDevicePermissionHandler\(\(\) => false\)/);
    assert.match(text, /setDisplayMediaRequestHandler\(\(_request, callback\) => callback\(\{\}\)\)/);
    assert.match(text, /callback\(\{ cancel: !isAllowedRequest\(details\.url\) \}\)/);
    assert.equal(text.match(/permissionGranted\(/g)?.length, 2, 'both permission handlers ask hardening.permissionGranted');
  });

  it('answers IPC only after checking the sender, and opens links only through the allowlist', () => {
    const handlers = calls(main, /^ipcMain\.(handle|handleOnce|on|once)$/);
    assert.ok(handlers.length > 0);
    for (const h of handlers) {
      const fn = h.arguments[1];
      assert.ok(fn && (ts.isArrowFunction(fn) || ts.isFunctionExpression(fn)) && ts.isBlock(fn.body), `${callee(h)} has a function body`);
      const first = fn.body.statements[0];
      assert.equal(first?.getText(), 'checkSender(event);', `${callee(h)}(${stringArg(h, 0) ?? h.arguments[0]!.getText()}) checks its sender first`);
    }
    const opens = SHELL_FILES.flatMap((f) => calls(source(f), /\bshell\.openExternal$|^openExternal$/).map((c) => `${f}: ${c.getText()}`));
    assert.deepEqual(opens, ['main/shell/electron-main.ts: shell.openExternal(href)', 'main/shell/hardening.ts: openExternal(verdict.href)']);
    const openers = nodes(main).filter((n) => ts.isIdentifier(n) && n.text === 'openExternally' && !ts.isFunctionDeclaration(n.parent));
    assert.deepEqual(openers.map((n) => n.parent.getText()), ['contentsGuard(openExternally, (what) => console.error(`cordon: refused ${what}`))'],
      'openExternally is handed only to contentsGuard, which passes it links externalLinkVerdict let through');
  });

  it('turns no protection off anywhere in the shell', () => {
    const forbidden: Array<[RegExp, string]> = [
      [/nodeIntegration(InWorker|InSubFrames)?\s*:\s*true/, 'Node in a renderer'],
      [/contextIsolation\s*:\s*false/, 'no context isolation'],
      [/sandbox\s*:\s*false/, 'an unsandboxed renderer'],
      [/webSecurity\s*:\s*false/, 'web security off'],
      [/allowRunningInsecureContent\s*:\s*true/, 'insecure content'],
      [/experimentalFeatures\s*:\s*true/, 'experimental features'],
      [/enableBlinkFeatures/, 'extra Blink features'],
      [/webviewTag\s*:\s*true|allowpopups/i, 'a <webview>'],
      [/\bfile:\/\//, 'a file:// page'],
      [/\bloadFile\s*\(/, 'a file:// page'],
      [/appendSwitch|appendArgument/, 'a Chromium switch'],
      [/ELECTRON_DISABLE_SECURITY_WARNINGS|ELECTRON_RUN_AS_NODE/, 'an Electron switch by environment'],
      [/setCertificateVerifyProc|['"]certificate-error['"]/, 'certificate errors overridden'],
      [/@electron\/remote|enableRemoteModule/, 'the remote module'],
      [/\bexecuteJavaScript\s*\(|\binsertCSS\s*\(/, 'code pushed into a page'],
      [/action:\s*['"]allow['"]/, 'a window allowed to open'],
      [/callback\(\s*true\s*\)/, 'a permission granted outright'],
    ];
    for (const file of SHELL_FILES) {
      const code = readFileSync(join(ROOT, file), 'utf8').replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
      for (const [pattern, what] of forbidden) assert.doesNotMatch(code, pattern, `${file}: ${what}`);
    }
  });

  it('exposes one typed object from the preload, and no Electron API', () => {
    const exposed = calls(preload, /^contextBridge\./);
    assert.deepEqual(exposed.map((c) => `${callee(c)}(${c.arguments.map((a) => a.getText()).join(', ')})`), ["contextBridge.exposeInMainWorld('cordon', api)"]);
    const ipc = nodes(preload).filter((n) => ts.isIdentifier(n) && n.text === 'ipcRenderer' && !ts.isImportSpecifier(n.parent));
    const uses = ipc.map((n) => (ts.isPropertyAccessExpression(n.parent) && ts.isCallExpression(n.parent.parent)
      ? `${n.parent.name.text}(${n.parent.parent.arguments[0]!.getText()})`
      : `bare: ${n.parent.getText()}`));
    assert.deepEqual(uses.sort(), ['invoke(IPC.call)', 'on(IPC.push)', 'removeListener(IPC.push)'], 'ipcRenderer is called on the two cordon: channels, never handed out');
    const handler = nodes(preload).find((n): n is ts.VariableDeclaration => ts.isVariableDeclaration(n) && n.name.getText() === 'handler');
    assert.match(handler?.initializer?.getText() ?? '', /\(_event: IpcRendererEvent, push: CockpitPush\): void => listener\(push\)$/,
      'the page gets the push, never the IPC event (its sender would reach ipcRenderer)');
  });

  it('puts the shells\' CSP in the renderer page too, but frame-ancestors, which a <meta> cannot carry', () => {
    const html = readFileSync(join(ROOT, 'renderer/index.html'), 'utf8');
    const metas = [...html.matchAll(/<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"\s*\/?>/gi)].map((m) => m[1]);
    assert.equal(metas.length, 1);
    const header = CONTENT_SECURITY_POLICY.split(/;\s*/).filter((d) => !d.startsWith('frame-ancestors'));
    assert.deepEqual(metas[0]!.split(/;\s*/), header);
    assert.ok(html.indexOf('http-equiv="Content-Security-Policy"') < html.indexOf('<script'), 'the policy comes before any script');
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /https?:\/\//, 'nothing from a network');
  });

  it('pins the Electron that is type-checked here to the one package.json ships', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    const pinned = pkg.devDependencies.electron;
    assert.match(pinned ?? '', /^\d+\.\d+\.\d+$/, 'an exact version, so what is audited is what ships');
    const installed = (JSON.parse(readFileSync(join(ROOT, 'node_modules/electron/package.json'), 'utf8')) as { version: string }).version;
    assert.equal(installed, pinned);
  });
});
