// `npm run serve`: the cockpit without Electron. Runs the same core, serves the renderer on 127.0.0.1 and prints
// the one address (with this run's token) to open in a browser.
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Conf from 'conf';
import { startCockpit } from '../cockpit.ts';
import { nodeAgentSpawner } from '../node-spawner.ts';
import { DEFAULT_SETTINGS, parseCollector, readSettings, savePin, SETTINGS_SCHEMA, tokenFileSource, type CockpitSettings } from '../settings.ts';
import { startBrowserShell } from './server.ts';

const HELP = `Usage: npm run serve -- [options]

Runs the Cordon cockpit in your browser. With no agents configured it starts the built-in lab.

Options:
  --port N          port on 127.0.0.1 (default: a free one)
  --data-dir DIR    where settings and the lab's data live (default: ~/.config/cordon)
  --lab             start the built-in lab even when agents are configured
  --lab-rate N      events per second from the lab (default ${DEFAULT_SETTINGS.lab.rate})
  --lab-vms N       VMs in the lab (default ${DEFAULT_SETTINGS.lab.vms})
  --window N        events kept in memory for the views (default ${DEFAULT_SETTINGS.windowSize})
  --responder NAME  who acts from this cockpit, recorded with every action (default: your user name)
  --syslog-export URL    send threat events on to a SOC collector as RFC 5424 syslog: udp://HOST:PORT or
                         tcp://HOST:PORT (octet-counted)
  --syslog-format F      summary (one line, the default) or ocsf (the OCSF Detection Finding as JSON)
  --json            print the ready line as JSON (for scripts and tests)
  -h, --help        this text`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      lab: { type: 'boolean' },
      'lab-rate': { type: 'string' },
      'lab-vms': { type: 'string' },
      window: { type: 'string' },
      responder: { type: 'string' },
      'syslog-export': { type: 'string' },
      'syslog-format': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const dataDir = resolve(values['data-dir'] ?? process.env.CORDON_DATA_DIR ?? join(homedir(), '.config', 'cordon'));
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const store = new Conf<Record<string, unknown>>({ cwd: dataDir, configName: 'settings', schema: SETTINGS_SCHEMA as never, projectName: 'cordon' });
  const stored = readSettings(store);
  const settings: CockpitSettings = {
    ...stored,
    lab: {
      vms: numberFlag(values['lab-vms'], '--lab-vms') ?? stored.lab.vms,
      rate: numberFlag(values['lab-rate'], '--lab-rate') ?? stored.lab.rate,
    },
    windowSize: numberFlag(values.window, '--window') ?? stored.windowSize,
    responder: values.responder ? { name: values.responder.slice(0, 128) } : stored.responder,
  };
  const format = values['syslog-format'] ?? stored.syslogExport?.format ?? 'summary';
  if (format !== 'summary' && format !== 'ocsf') throw new Error(`--syslog-format takes summary or ocsf, not "${format.slice(0, 40)}".`);
  if (values['syslog-export']) settings.syslogExport = parseCollector(values['syslog-export'], format);
  else if (settings.syslogExport) settings.syslogExport = { ...settings.syslogExport, format };
  const rendererDir = resolve(import.meta.dirname, '..', '..', 'dist', 'renderer');
  if (!existsSync(join(rendererDir, 'index.html'))) {
    throw new Error('The renderer is not built: run `npm run build:renderer` first (npm run serve does it for you).');
  }
  const cockpit = await startCockpit({
    settings,
    secrets: tokenFileSource,
    spawnAgent: nodeAgentSpawner,
    dataDir,
    forceLab: values.lab ?? false,
    savePin: (agentId, fingerprint) => savePin(store, agentId, fingerprint),
  });
  const shell = await startBrowserShell({ service: cockpit.service, rendererDir, port: numberFlag(values.port, '--port') ?? 0 });
  if (values.json) {
    console.log(JSON.stringify({ ready: true, url: shell.url, loginUrl: shell.loginUrl, pid: process.pid }));
  } else {
    console.log(`\nCordon is running in the browser shell.\nOpen this address (it carries this run's token; keep it to yourself):\n\n  ${shell.loginUrl}\n\nCtrl+C stops it.`);
  }
  let closing = false;
  const stop = (): void => {
    if (closing) return;
    closing = true;
    // The journal writes its last records and signs a checkpoint before the process goes.
    void Promise.allSettled([cockpit.close(), shell.close()]).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

function numberFlag(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} takes a non-negative number, not "${v}".`);
  return n;
}

main().catch((err: unknown) => {
  console.error(`cordon: ${(err as Error).message}`);
  process.exit(1);
});
