// The shell's decisions (main/shell/hardening.ts), driven with the events Electron would send: which URLs are the
// app, what the window may fetch and where it may go, which links reach the system browser, which permissions a
// page gets, and whose IPC calls are answered.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  APP_ORIGIN, contentsGuard, EXTERNAL_LINK_HOSTS, externalLinkVerdict, isAllowedRequest, isAppUrl, isTrustedSender, permissionGranted,
} from '../../main/shell/hardening.ts';

/** An Electron-like event that records whether it was prevented. */
function event<T extends object>(fields: T): T & { preventDefault(): void; prevented: boolean } {
  const e = { ...fields, prevented: false, preventDefault() { e.prevented = true; } };
  return e;
}

function guardWithLog() {
  const opened: string[] = [];
  const refused: string[] = [];
  return { opened, refused, guard: contentsGuard((href) => opened.push(href), (what) => refused.push(what)) };
}

describe('the app origin', () => {
  it('is app://cordon as the URL parser reads it, not as a string prefix', () => {
    assert.equal(APP_ORIGIN, 'app://cordon');
    for (const ok of ['app://cordon/index.html', 'app://cordon/assets/index-abc.js', 'app://cordon', 'APP://cordon/x']) assert.ok(isAppUrl(ok), ok);
    for (const bad of [
      'app://cordon.evil/index.html', 'app://cordon@evil/index.html', 'app://evil/app://cordon/', 'app://user:pw@cordon/',
      'file:///app://cordon/', 'https://cordon/index.html', 'javascript:app://cordon/', 'app:cordon/index.html', '', 'not a url',
    ]) assert.ok(!isAppUrl(bad), bad);
  });

  it('is all the window may fetch, besides its own blobs and the devtools', () => {
    for (const ok of ['app://cordon/index.html', 'blob:app://cordon/5a1c3f3e-0000-4000-8000-000000000000', 'devtools://devtools/bundled/inspector.html']) {
      assert.ok(isAllowedRequest(ok), ok);
    }
    for (const bad of [
      'https://attack.mitre.org/', 'http://127.0.0.1:7443/', 'ws://127.0.0.1:7443/', 'wss://agent.example/', 'file:///etc/passwd',
      'blob:https://evil.example/1', 'blob:app://cordon.evil/1', 'data:text/html,<script>1</script>', 'app://evil/index.html', 'chrome://gpu',
    ]) assert.ok(!isAllowedRequest(bad), bad);
  });
});

describe('links to the system browser (shell.openExternal)', () => {
  it('takes https links to the allowlisted reference sites, in the parser\'s serialised form', () => {
    assert.deepEqual(externalLinkVerdict('https://attack.mitre.org/techniques/T1059/004/'), { ok: true, href: 'https://attack.mitre.org/techniques/T1059/004/' });
    assert.deepEqual(externalLinkVerdict('https://NVD.nist.gov/vuln/detail/CVE-2024-3094'), { ok: true, href: 'https://nvd.nist.gov/vuln/detail/CVE-2024-3094' });
    assert.deepEqual(externalLinkVerdict('https://www.cve.org/CVERecord?id=CVE-2024-3094#x'), { ok: true, href: 'https://www.cve.org/CVERecord?id=CVE-2024-3094#x' });
    assert.deepEqual(externalLinkVerdict('https://public.cyber.mil/stigs/'), { ok: true, href: 'https://public.cyber.mil/stigs/' });
    // Dot segments resolve before the check, so what opens is what was checked.
    assert.deepEqual(externalLinkVerdict('https://attack.mitre.org/a/../b'), { ok: true, href: 'https://attack.mitre.org/b' });
    assert.deepEqual(externalLinkVerdict('HTTPS:attack.mitre.org:443'), { ok: true, href: 'https://attack.mitre.org/' });
    for (const host of EXTERNAL_LINK_HOSTS) assert.equal(host, host.toLowerCase());
  });

  it('refuses every other scheme: the OS would hand them to whatever program claims them', () => {
    for (const url of [
      'http://attack.mitre.org/', 'file:///etc/passwd', 'file://attack.mitre.org/share/x.exe', 'smb://attack.mitre.org/share', 'javascript:alert(1)',
      'data:text/html,x', 'mailto:soc@attack.mitre.org', 'ms-msdt:/id PCWDiagnostic', 'search-ms:query=x', 'app://cordon/index.html',
      'ftp://attack.mitre.org/', 'vbscript:x', 'blob:https://attack.mitre.org/1', 'wss://attack.mitre.org/',
    ]) {
      const v = externalLinkVerdict(url);
      assert.equal(v.ok, false, url);
    }
    const v = externalLinkVerdict('http://attack.mitre.org/');
    assert.ok(!v.ok && /Only https/.test(v.why));
  });

  it('refuses hosts off the list and look-alikes of the ones on it', () => {
    for (const url of [
      'https://evil.example/', 'https://attack.mitre.org.evil.example/', 'https://evil.example/attack.mitre.org', 'https://mitre.org/',
      'https://www.attack.mitre.org/', 'https://attack.mitre.org./', 'https://attack.mitre.org@evil.example/', 'https://xn--attck-mitre-7hb.org/',
      'https://127.0.0.1/', 'https://[::1]/', 'https://localhost/',
    ]) assert.equal(externalLinkVerdict(url).ok, false, url);
  });

  it('refuses credentials, ports, hidden characters, non-text and overlong links', () => {
    const refusals: Array<[unknown, RegExp]> = [
      ['https://user:pw@attack.mitre.org/', /user name or password/],
      ['https://user@attack.mitre.org/', /user name or password/],
      ['https://attack.mitre.org:8443/', /port/],
      ['https://attack.mitre.org/ x', /blank, control or non-ASCII/],
      ['https://attack.mitre.org/\u202Egpj.exe', /blank, control or non-ASCII/],
      ['https://attack.mitre.org/\u200B', /blank, control or non-ASCII/],
      ['https://attаck.mitre.org/', /blank, control or non-ASCII/], // Cyrillic а
      ['https://attack.mitre.org/\n', /blank, control or non-ASCII/],
      ['\thttps://attack.mitre.org/', /blank, control or non-ASCII/],
      [`https://attack.mitre.org/${'a'.repeat(2100)}`, /longer than 2048/],
      [undefined, /not text/],
      [42, /not text/],
      ['attack.mitre.org/techniques', /not a URL/],
    ];
    for (const [url, why] of refusals) {
      const v = externalLinkVerdict(url);
      assert.equal(v.ok, false, String(url));
      if (!v.ok) assert.match(v.why, why, String(url));
    }
  });
});

describe('the handlers of every webContents', () => {
  it('let the window move between the app\'s own pages and nowhere else', () => {
    const { guard, opened, refused } = guardWithLog();
    const inApp = event({ url: 'app://cordon/index.html' });
    guard.willNavigate(inApp);
    assert.equal(inApp.prevented, false);
    for (const url of ['https://evil.example/', 'file:///etc/passwd', 'app://cordon.evil/', 'http://127.0.0.1:7443/', 'javascript:alert(1)']) {
      const e = event({ url });
      guard.willNavigate(e);
      assert.equal(e.prevented, true, url);
    }
    assert.deepEqual(opened, []);
    assert.equal(refused.length, 5);
    assert.match(refused[0]!, /navigation to https:\/\/evil\.example\/: evil\.example is not a site the cockpit opens/);
  });

  it('send a clicked allowlisted https link to the system browser instead of navigating to it', () => {
    const { guard, opened } = guardWithLog();
    const e = event({ url: 'https://attack.mitre.org/techniques/T1021/004/' });
    guard.willNavigate(e);
    assert.equal(e.prevented, true, 'the cockpit window never shows a web page');
    assert.deepEqual(opened, ['https://attack.mitre.org/techniques/T1021/004/']);
  });

  it('open no window, ever: an allowlisted https link goes to the system browser, anything else nowhere', () => {
    const { guard, opened, refused } = guardWithLog();
    assert.deepEqual(guard.windowOpen({ url: 'https://nvd.nist.gov/vuln/detail/CVE-2024-3094' }), { action: 'deny' });
    assert.deepEqual(opened, ['https://nvd.nist.gov/vuln/detail/CVE-2024-3094']);
    for (const url of ['https://evil.example/', 'about:blank', '', 'app://cordon/index.html', 'file:///bin/sh', 'http://nvd.nist.gov/']) {
      assert.deepEqual(guard.windowOpen({ url }), { action: 'deny' }, url);
    }
    assert.deepEqual(opened, ['https://nvd.nist.gov/vuln/detail/CVE-2024-3094']);
    assert.equal(refused.length, 6);
  });

  it('keep frames on the app and leave the top-level frame to will-navigate (one decision, one browser tab)', () => {
    const { guard, opened } = guardWithLog();
    const sub = event({ url: 'https://attack.mitre.org/', isMainFrame: false });
    guard.willFrameNavigate(sub);
    assert.equal(sub.prevented, true);
    const subApp = event({ url: 'app://cordon/index.html', isMainFrame: false });
    guard.willFrameNavigate(subApp);
    assert.equal(subApp.prevented, false);
    const top = event({ url: 'https://attack.mitre.org/', isMainFrame: true });
    guard.willFrameNavigate(top);
    assert.equal(top.prevented, false, 'will-navigate decides the top-level frame');
    assert.deepEqual(opened, [], 'a frame never opens the browser');
  });

  it('follow no redirect, attach no <webview> and pick no Bluetooth device', () => {
    const { guard } = guardWithLog();
    const redirect = event({});
    guard.willRedirect(redirect);
    assert.equal(redirect.prevented, true);
    const webview = event({});
    guard.willAttachWebview(webview);
    assert.equal(webview.prevented, true);
    const bt = event({});
    const picked: string[] = [];
    guard.selectBluetoothDevice(bt, (id) => picked.push(id));
    assert.equal(bt.prevented, true, 'without preventDefault Electron picks the first device');
    assert.deepEqual(picked, ['']);
  });
});

/** Every permission the pinned Electron's typings name, for a request or a check (Electron's global namespace). */
type Permission =
  | Parameters<NonNullable<Parameters<Electron.Session['setPermissionRequestHandler']>[0]>>[1]
  | Parameters<NonNullable<Parameters<Electron.Session['setPermissionCheckHandler']>[0]>>[1];

describe('permissions', () => {
  const ALL = [
    'ar', 'automatic-fullscreen', 'background-fetch', 'background-sync', 'captured-surface-control', 'clipboard-read',
    'clipboard-sanitized-write', 'deprecated-sync-clipboard-read', 'display-capture', 'fileSystem', 'fullscreen', 'geolocation',
    'geolocation-approximate', 'hand-tracking', 'hid', 'idle-detection', 'keyboardLock', 'local-fonts', 'local-network',
    'local-network-access', 'loopback-network', 'media', 'mediaKeySystem', 'midi', 'midiSysex', 'nfc', 'notifications', 'openExternal',
    'payment-handler', 'periodic-background-sync', 'persistent-storage', 'pointerLock', 'screen-wake-lock', 'sensors', 'serial',
    'smart-card', 'speaker-selection', 'storage-access', 'system-wake-lock', 'top-level-storage-access', 'usb', 'vr',
    'web-app-installation', 'web-printing', 'window-management', 'unknown',
  ] as const satisfies readonly Permission[];
  // A permission a newer Electron adds fails `npm run typecheck` here until it is listed, and so tested below.
  const listsEvery: [Exclude<Permission, (typeof ALL)[number]>] extends [never] ? true : Exclude<Permission, (typeof ALL)[number]> = true;
  assert.ok(listsEvery);

  it('are all refused, but a clipboard write from the cockpit\'s own top-level page', () => {
    const granted = ALL.filter((permission) => permissionGranted({ permission, url: 'app://cordon/index.html', isMainFrame: true }));
    assert.deepEqual(granted, ['clipboard-sanitized-write']);
    assert.ok(permissionGranted({ permission: 'clipboard-sanitized-write', url: 'app://cordon', isMainFrame: true }), 'the check handler gives an origin');
  });

  it('give a page that is not the cockpit\'s, or a frame inside it, nothing at all', () => {
    for (const url of ['https://evil.example/', 'app://cordon.evil/', 'file:///index.html', undefined]) {
      assert.deepEqual(ALL.filter((permission) => permissionGranted({ permission, url, isMainFrame: true })), [], String(url));
    }
    assert.deepEqual(ALL.filter((permission) => permissionGranted({ permission, url: 'app://cordon/index.html', isMainFrame: false })), []);
  });
});

describe('IPC senders', () => {
  it('are answered only from the cockpit window\'s top-level app:// page', () => {
    assert.ok(isTrustedSender({ fromCockpitWindow: true, frameUrl: 'app://cordon/index.html', isMainFrame: true }));
    assert.ok(!isTrustedSender({ fromCockpitWindow: false, frameUrl: 'app://cordon/index.html', isMainFrame: true }), 'another window');
    assert.ok(!isTrustedSender({ fromCockpitWindow: true, frameUrl: 'app://cordon/index.html', isMainFrame: false }), 'an iframe');
    assert.ok(!isTrustedSender({ fromCockpitWindow: true, frameUrl: 'https://evil.example/', isMainFrame: true }), 'navigated away');
    assert.ok(!isTrustedSender({ fromCockpitWindow: true, frameUrl: 'app://cordon.evil/index.html', isMainFrame: true }), 'a look-alike origin');
    assert.ok(!isTrustedSender({ fromCockpitWindow: true, frameUrl: undefined, isMainFrame: true }), 'a frame already gone');
  });
});
