// Assembles the cockpit's core from its settings: the fleet hub, the agents (or the built-in lab when none are
// configured), and the service the shells expose. The same for Electron and the browser shell.
import { CockpitService } from './cockpit-service.ts';
import { FleetHub, type FleetHubOptions } from './fleet/hub.ts';
import { startLab, type AgentSpawner, type Lab } from './lab.ts';
import { cockpitDeviceName, endpointsFrom, type CockpitSettings, type SecretSource } from './settings.ts';

export interface CockpitOptions {
  settings: CockpitSettings;
  secrets: SecretSource;
  spawnAgent: AgentSpawner;
  dataDir: string;
  hub?: Partial<FleetHubOptions>;
  /** Start the lab even when agents are configured (e.g. `npm run serve -- --lab`). */
  forceLab?: boolean;
  /** The lab agent's extra arguments and name (`npm run lab -- --driver qemu`); see LabOptions. */
  labAgent?: { args?: string[]; label?: string };
  log?: (line: string) => void;
}

export interface Cockpit {
  hub: FleetHub;
  service: CockpitService;
  lab: Lab | undefined;
  close(): void;
}

export async function startCockpit(opts: CockpitOptions): Promise<Cockpit> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const hub = new FleetHub({ windowSize: opts.settings.windowSize, ...opts.hub });
  const { endpoints, problems } = endpointsFrom(opts.settings, opts.secrets);
  for (const p of problems) log(`cordon: ${p}`);
  let lab: Lab | undefined;
  if (endpoints.length === 0 || opts.forceLab) {
    log(opts.labAgent?.label ? `cordon: starting the lab agent (${opts.labAgent.label}) on 127.0.0.1.` : 'cordon: no agents configured; starting the built-in lab (a simulated host on 127.0.0.1).');
    lab = await startLab({
      spawn: opts.spawnAgent, dataDir: opts.dataDir, ...opts.settings.lab,
      ...(opts.labAgent?.args ? { agentArgs: opts.labAgent.args } : {}), ...(opts.labAgent?.label ? { label: opts.labAgent.label } : {}),
    });
    hub.addAgent(lab.endpoint);
  }
  for (const e of endpoints) hub.addAgent(e);
  return {
    hub,
    service: new CockpitService(hub, { ...opts.settings.responder, cockpit: cockpitDeviceName() }),
    lab,
    close() {
      hub.close();
      lab?.stop();
    },
  };
}
