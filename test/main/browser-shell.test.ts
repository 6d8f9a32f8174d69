// The browser shell over real sockets: the token guards everything, the cookie is HttpOnly, files are served
// with a strict CSP and never from outside the renderer folder, and the API socket checks Origin and session.
import { strict as assert } from 'node:assert';
import { request } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { decodeShellMessage, type ShellMessage } from '../../protocol/index.ts';
import { CockpitService } from '../../main/cockpit-service.ts';
import { FleetHub } from '../../main/fleet/hub.ts';
import { resolveStatic, startBrowserShell, type BrowserShell } from '../../main/browser-shell/server.ts';
import { tempDir } from '../helpers/processes.ts';

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the browser shell', () => {
  const dir = tempDir('shell');
  const hub = new FleetHub();
  let shell: BrowserShell;
  let cookie = '';

  before(async () => {
    const rendererDir = join(dir.path, 'renderer');
    mkdirSync(join(rendererDir, 'assets'), { recursive: true });
    writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>Cordon</title>');
    writeFileSync(join(rendererDir, 'assets', 'app.js'), 'console.log(1)');
    writeFileSync(join(dir.path, 'secret.txt'), 'outside the renderer');
    shell = await startBrowserShell({ service: new CockpitService(hub), rendererDir, token: 'run-token' });
  });
  after(async () => {
    await shell.close();
    hub.close();
    dir.remove();
  });

  it('listens on 127.0.0.1 only', () => {
    assert.match(shell.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('answers 401 without the token, and with a wrong one', async () => {
    assert.equal((await get(shell.url)).status, 401);
    assert.equal((await get(shell.url + 'assets/app.js')).status, 401);
    assert.equal((await get(shell.url + '?token=wrong')).status, 401);
  });

  it('trades the token for an HttpOnly, SameSite=Strict cookie and drops it from the address', async () => {
    const res = await get(shell.loginUrl);
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, '/');
    const setCookie = String(res.headers['set-cookie']);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    cookie = setCookie.split(';')[0]!;
  });

  it('serves the renderer with a strict CSP to a session', async () => {
    const res = await get(shell.url, { cookie });
    assert.equal(res.status, 200);
    assert.match(res.body, /<title>Cordon<\/title>/);
    const csp = String(res.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-(inline|eval)/);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
  });

  it('refuses another Host (DNS rebinding)', async () => {
    const res = await get(shell.url, { cookie, host: `evil.example:${shell.port}` });
    assert.equal(res.status, 421);
  });

  it('never serves a file outside the renderer folder', async () => {
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/.%00/index.html', '/%c0%ae%c0%ae/secret.txt']) {
      const res = await get(shell.url.slice(0, -1) + p, { cookie });
      assert.ok(res.status === 404 || res.status === 400, `${p} gave ${res.status}`);
      assert.doesNotMatch(res.body, /outside the renderer/);
    }
    assert.equal(resolveStatic('/srv/r', '/../../etc/passwd'), '/srv/r/etc/passwd');
    assert.equal(resolveStatic('/srv/r', '/.git/config'), undefined);
  });

  function openApi(headers: Record<string, string>): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(shell.url.replace('http', 'ws') + 'api', { headers });
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  it('refuses the API socket without a session or from another origin', async () => {
    await assert.rejects(openApi({ origin: shell.url.slice(0, -1) }), /HTTP 401/);
    await assert.rejects(openApi({ cookie, origin: 'http://evil.example' }), /HTTP 401/);
  });

  it('answers calls, and a bad call with an error sentence, on the same socket', async () => {
    const ws = await openApi({ cookie, origin: shell.url.slice(0, -1) });
    const replies: ShellMessage[] = [];
    ws.on('message', (d) => {
      const m = decodeShellMessage(d.toString());
      assert.ok(m.ok, 'every frame from the shell is a valid ShellMessage');
      if (m.value.type === 'reply') replies.push(m.value);
    });
    ws.send('{not json');
    ws.send(JSON.stringify({ type: 'call', id: 2, method: 'launchMissiles', params: {} }));
    ws.send(JSON.stringify({ type: 'call', id: 3, method: 'snapshot', params: { x: 1 } }));
    ws.send(JSON.stringify({ type: 'call', id: 4, method: 'snapshot', params: {} }));
    const deadline = Date.now() + 5000;
    while (replies.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    ws.close();
    const byId = new Map(replies.map((r) => [r.type === 'reply' ? r.id : -1, r]));
    const bad = byId.get(0);
    assert.ok(bad?.type === 'reply' && !bad.ok && bad.error?.code === 'bad_json');
    const unknown = byId.get(2);
    assert.ok(unknown?.type === 'reply' && !unknown.ok && unknown.error?.code === 'unknown_method');
    const badParams = byId.get(3);
    assert.ok(badParams?.type === 'reply' && !badParams.ok && badParams.error?.code === 'bad_params');
    const snap = byId.get(4);
    assert.ok(snap?.type === 'reply' && snap.ok);
    assert.deepEqual((snap.result as { agents: unknown[] }).agents, []);
  });
});
