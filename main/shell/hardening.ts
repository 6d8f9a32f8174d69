// What the Electron shell lets a page do, as plain functions with no Electron at run time: which URLs are the app,
// which requests the window may make, where it may navigate, which links go to the responder's own browser
// (shell.openExternal: https only, to a short list of reference sites), which permissions a page gets (none but
// writing the clipboard from the cockpit itself), and who may call the cockpit over IPC. electron-main.ts wires
// these into Electron; test/shell/hardening.test.ts drives them with the events Electron would send.
// See docs/electron-security.md for how each answers an item of Electron's security checklist.

/** The renderer is served from this private, standard, secure scheme (never file://). */
export const APP_SCHEME = 'app';
export const APP_HOST = 'cordon';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

/** Hosts whose https pages the cockpit may hand to the system browser: reference sites for what the cockpit shows
 *  (ATT&CK techniques on threat events, CVE records, DISA's STIG library). Exact names: no subdomain, no port. */
export const EXTERNAL_LINK_HOSTS: readonly string[] = ['attack.mitre.org', 'nvd.nist.gov', 'www.cve.org', 'public.cyber.mil'];
export const MAX_EXTERNAL_LINK_LENGTH = 2048;

function parse(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/** Whether url is one of the cockpit's own pages or files: app://cordon/… as the URL parser reads it (a string
 *  prefix test would let app://cordon.evil/ or app://cordon@evil/ through). */
export function isAppUrl(url: string): boolean {
  const u = parse(url);
  return u !== undefined && u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST && u.username === '' && u.password === '';
}

/** What the window's session may fetch: the app's own files, blobs it made itself (the policy export's download),
 *  and the devtools' internals when they are open. Nothing from a network, ever. */
export function isAllowedRequest(url: string): boolean {
  if (isAppUrl(url)) return true;
  if (url.startsWith('blob:')) return isAppUrl(url.slice('blob:'.length));
  return parse(url)?.protocol === 'devtools:';
}

export type ExternalLinkVerdict = { ok: true; href: string } | { ok: false; why: string };

/** Whether a link may go to shell.openExternal, and as what: the parser's own serialisation, so the browser opens
 *  exactly what was checked. https only, to an allowlisted host on the default port, with no credentials and no
 *  character outside printable ASCII (a hidden or look-alike character never reaches the OS). */
export function externalLinkVerdict(url: unknown, hosts: readonly string[] = EXTERNAL_LINK_HOSTS): ExternalLinkVerdict {
  if (typeof url !== 'string') return { ok: false, why: 'The link is not text.' };
  if (url.length > MAX_EXTERNAL_LINK_LENGTH) return { ok: false, why: `The link is longer than ${MAX_EXTERNAL_LINK_LENGTH} characters.` };
  if (/[^\x21-\x7e]/.test(url)) return { ok: false, why: 'The link carries a blank, control or non-ASCII character.' };
  const u = parse(url);
  if (u === undefined) return { ok: false, why: 'The link is not a URL.' };
  if (u.protocol !== 'https:') return { ok: false, why: `Only https links open in the browser; this one is ${u.protocol.slice(0, 32)}` };
  if (u.username !== '' || u.password !== '') return { ok: false, why: 'The link carries a user name or password.' };
  if (u.port !== '') return { ok: false, why: 'The link names a port.' };
  if (!hosts.includes(u.hostname)) return { ok: false, why: `${u.hostname} is not a site the cockpit opens.` };
  return { ok: true, href: u.href };
}

/** The permissions a page gets. Everything is refused (camera, microphone, notifications, geolocation, HID, serial,
 *  USB, MIDI, display capture, opening external protocols, clipboard reading…), except writing the clipboard from
 *  the cockpit's own top-level page: its "Copy address" and copy buttons, which Chromium allows only on a click. */
export function permissionGranted(request: { permission: string; url: string | undefined; isMainFrame: boolean }): boolean {
  return request.permission === 'clipboard-sanitized-write' && request.isMainFrame && request.url !== undefined && isAppUrl(request.url);
}

/** Whether an IPC call may be answered: it must come from the cockpit's own window, from its top-level frame, on an
 *  app:// page (not an iframe, not a page it was somehow navigated to). */
export function isTrustedSender(sender: { fromCockpitWindow: boolean; frameUrl: string | undefined; isMainFrame: boolean }): boolean {
  return sender.fromCockpitWindow && sender.isMainFrame && sender.frameUrl !== undefined && isAppUrl(sender.frameUrl);
}

/** The part of an Electron event these handlers use. */
export interface Preventable {
  preventDefault(): void;
}

export interface ContentsGuard {
  /** will-navigate (top-level frame): the app's pages only; an allowlisted https link opens in the system browser. */
  willNavigate(event: Preventable & { url: string }): void;
  /** will-frame-navigate: no frame navigates off the app (top-level frames are left to willNavigate). */
  willFrameNavigate(event: Preventable & { url: string; isMainFrame: boolean }): void;
  /** will-redirect: the app's files never redirect, so no redirect is followed. */
  willRedirect(event: Preventable): void;
  /** will-attach-webview: no <webview>, whatever its options. */
  willAttachWebview(event: Preventable): void;
  /** select-bluetooth-device: Electron picks the first device unless told otherwise; pick none. */
  selectBluetoothDevice(event: Preventable, callback: (deviceId: string) => void): void;
  /** setWindowOpenHandler: no new window, ever; an allowlisted https link opens in the system browser instead. */
  windowOpen(details: { url: string }): { action: 'deny' };
}

/** The handlers for every webContents the app creates; openExternal receives only a link externalLinkVerdict let
 *  through, in its checked form. refused hears what was stopped, for the log. */
export function contentsGuard(openExternal: (href: string) => void, refused: (what: string) => void = () => {}): ContentsGuard {
  const offerExternally = (url: string, how: string): void => {
    const verdict = externalLinkVerdict(url);
    if (verdict.ok) openExternal(verdict.href);
    else refused(`${how} ${url.slice(0, 200)}: ${verdict.why}`);
  };
  return {
    willNavigate(event) {
      if (isAppUrl(event.url)) return;
      event.preventDefault();
      offerExternally(event.url, 'navigation to');
    },
    willFrameNavigate(event) {
      if (event.isMainFrame || isAppUrl(event.url)) return;
      event.preventDefault();
      refused(`a frame's navigation to ${event.url.slice(0, 200)}`);
    },
    willRedirect(event) {
      event.preventDefault();
    },
    willAttachWebview(event) {
      event.preventDefault();
      refused('a <webview>');
    },
    selectBluetoothDevice(event, callback) {
      event.preventDefault();
      callback('');
    },
    windowOpen(details) {
      offerExternally(details.url, 'a new window for');
      return { action: 'deny' };
    },
  };
}
