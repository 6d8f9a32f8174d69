// The set-up every end-to-end test of the real cockpit shares: the renderer built, `npm run serve`'s shell on the
// built-in sim lab in a temp data dir, Debian's Chromium on its login address, and the page's console errors and
// dialogs collected (a test ends by checking there were none).
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import { buildRenderer, launchChromium } from '../../bench/lib.ts';
import { startNodeProcess, tempDir, type RunningProcess } from '../helpers/processes.ts';

export interface LabPage {
  serve: RunningProcess;
  browser: Browser;
  page: Page;
  dir: string;
  errors: string[];
  dialogs: string[];
  close(): Promise<void>;
}

export async function openLabPage(name: string, o: { vms?: number; rate?: number; context?: BrowserContextOptions } = {}): Promise<LabPage> {
  const dir = tempDir(name);
  buildRenderer();
  const serve = await startNodeProcess('main/browser-shell/cli.ts', ['--json', '--data-dir', dir.path, '--lab-rate', String(o.rate ?? 40), '--lab-vms', String(o.vms ?? 8), '--responder', 'Dana Scully']);
  const browser = await launchChromium();
  const page = await (await browser.newContext({ viewport: { width: 1600, height: 1000 }, ...o.context })).newPage();
  const errors: string[] = [];
  const dialogs: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
  await page.goto(String(serve.ready.loginUrl));
  return {
    serve, browser, page, dir: dir.path, errors, dialogs,
    async close() {
      await browser.close();
      await serve.kill();
      dir.remove();
    },
  };
}
