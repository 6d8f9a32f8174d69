// The cockpit's settings: which agents to connect to and how the built-in lab runs. Kept in electron-store in
// Electron and in its plain-Node base, conf, in the browser shell; tokens are secrets and live elsewhere.
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import type { AgentEndpoint } from './fleet/agent-link.ts';

export interface ConfiguredAgent {
  agentId: string;
  label: string;
  url: string;
  /** A file holding the bearer token (the browser shell's only way; Electron may keep it in safeStorage). */
  tokenFile?: string;
  /** The SHA-256 fingerprint of the agent's TLS certificate, pinned when the responder trusted it (wss://). */
  fingerprint?: string;
  /** A client certificate and key (PEM files) for agents that ask for mutual TLS. */
  clientCertFile?: string;
  clientKeyFile?: string;
}

export interface CockpitSettings {
  /** Who acts from this cockpit: recorded with every action (the journal and the custody record name them). */
  responder: { name: string; role?: string };
  agents: ConfiguredAgent[];
  lab: { vms: number; rate: number };
  windowSize: number;
  /** Threat events sent on to the SOC's collector as RFC 5424 syslog (a line, or the OCSF Detection Finding). */
  syslogExport?: SyslogExportSettings;
}

export interface SyslogExportSettings {
  host: string;
  port: number;
  transport: 'udp' | 'tcp';
  format: 'summary' | 'ocsf';
  /** Only events of this severity or worse (default: all). */
  minSeverity?: 'info' | 'low' | 'medium' | 'high' | 'critical';
}

export const DEFAULT_SETTINGS: CockpitSettings = {
  responder: { name: defaultResponderName() },
  agents: [],
  lab: { vms: 12, rate: 8 },
  windowSize: 20_000,
};

/** JSON Schema of the stored settings: conf/electron-store validate every write with it. */
export const SETTINGS_SCHEMA = {
  responder: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: { name: { type: 'string', minLength: 1, maxLength: 128 }, role: { type: 'string', maxLength: 64 } },
  },
  agents: {
    type: 'array',
    maxItems: 2000,
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['agentId', 'label', 'url'],
      properties: {
        agentId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' },
        label: { type: 'string', maxLength: 256 },
        url: { type: 'string', pattern: '^wss?://', maxLength: 2048 },
        tokenFile: { type: 'string', maxLength: 4096 },
        fingerprint: { type: 'string', pattern: '^([0-9A-F]{2}:){31}[0-9A-F]{2}$' },
        clientCertFile: { type: 'string', maxLength: 4096 },
        clientKeyFile: { type: 'string', maxLength: 4096 },
      },
    },
  },
  lab: {
    type: 'object',
    additionalProperties: false,
    properties: { vms: { type: 'integer', minimum: 1, maximum: 500 }, rate: { type: 'number', minimum: 0, maximum: 100000 } },
  },
  windowSize: { type: 'integer', minimum: 1000, maximum: 100000 },
  syslogExport: {
    type: 'object',
    additionalProperties: false,
    required: ['host', 'port', 'transport', 'format'],
    properties: {
      host: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9.:\\[\\]-]+$' },
      port: { type: 'integer', minimum: 1, maximum: 65535 },
      transport: { enum: ['udp', 'tcp'] },
      format: { enum: ['summary', 'ocsf'] },
      minSeverity: { enum: ['info', 'low', 'medium', 'high', 'critical'] },
    },
  },
  /** The desktop shell's journal signing key: its seed sealed by the OS keychain (safeStorage), base64. */
  journalKeySealed: { type: 'string', maxLength: 1024 },
} as const;

/** The part of conf's (and so electron-store's) API the cockpit uses. */
export interface KeyValueStore {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
}

export function readSettings(store: KeyValueStore): CockpitSettings {
  return {
    responder: (store.get('responder') as CockpitSettings['responder'] | undefined) ?? DEFAULT_SETTINGS.responder,
    agents: (store.get('agents') as ConfiguredAgent[] | undefined) ?? DEFAULT_SETTINGS.agents,
    lab: { ...DEFAULT_SETTINGS.lab, ...(store.get('lab') as Partial<CockpitSettings['lab']> | undefined) },
    windowSize: (store.get('windowSize') as number | undefined) ?? DEFAULT_SETTINGS.windowSize,
    ...(store.get('syslogExport') ? { syslogExport: store.get('syslogExport') as SyslogExportSettings } : {}),
  };
}

/** Keeps (or, with undefined, removes) the certificate pin of a configured agent in the settings store. */
export function savePin(store: KeyValueStore, agentId: string, fingerprint: string | undefined): void {
  const agents = ((store.get('agents') as ConfiguredAgent[] | undefined) ?? []).map((a) => {
    if (a.agentId !== agentId) return a;
    const { fingerprint: _old, ...rest } = a;
    return fingerprint ? { ...rest, fingerprint } : rest;
  });
  store.set('agents', agents);
}

/** `udp://host:port` or `tcp://host:port` (IPv6 in brackets), as the command line takes a collector. */
export function parseCollector(url: string, format: 'summary' | 'ocsf' = 'summary'): SyslogExportSettings {
  const m = /^(udp|tcp):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(url.trim());
  const port = m ? Number(m[3]) : 0;
  if (!m || port < 1 || port > 65535) throw new Error(`"${url.slice(0, 200)}" is not a collector: write udp://HOST:PORT or tcp://HOST:PORT (e.g. udp://10.0.0.5:514).`);
  return { transport: m[1] as 'udp' | 'tcp', host: m[2]!.replace(/^\[|\]$/g, ''), port, format };
}

/** Where a token comes from: a secret store (Electron's safeStorage) or the agent's token file. */
export interface SecretSource {
  tokenFor(agent: ConfiguredAgent): string | undefined;
}

export const tokenFileSource: SecretSource = {
  tokenFor(agent) {
    if (!agent.tokenFile) return undefined;
    return readFileSync(agent.tokenFile, 'utf8').trim() || undefined;
  },
};

/** Resolves configured agents to endpoints; an agent without a token is reported, not silently skipped. */
export function endpointsFrom(settings: CockpitSettings, secrets: SecretSource): { endpoints: AgentEndpoint[]; problems: string[] } {
  const endpoints: AgentEndpoint[] = [];
  const problems: string[] = [];
  for (const agent of settings.agents) {
    let token: string | undefined;
    try {
      token = secrets.tokenFor(agent);
    } catch (err) {
      problems.push(`Agent "${agent.label}": its token file cannot be read (${(err as Error).message}).`);
      continue;
    }
    if (!token) {
      problems.push(`Agent "${agent.label}" has no token; add one in settings.`);
      continue;
    }
    let clientCert: AgentEndpoint['clientCert'];
    if (agent.clientCertFile || agent.clientKeyFile) {
      try {
        clientCert = { cert: readFileSync(agent.clientCertFile ?? '', 'utf8'), key: readFileSync(agent.clientKeyFile ?? '', 'utf8') };
      } catch (err) {
        problems.push(`Agent "${agent.label}": its client certificate or key cannot be read (${(err as Error).message}); give both files.`);
        continue;
      }
    }
    endpoints.push({
      agentId: agent.agentId, label: agent.label, url: agent.url, token,
      ...(agent.fingerprint ? { fingerprint: agent.fingerprint } : {}), ...(clientCert ? { clientCert } : {}),
    });
  }
  return { endpoints, problems };
}

function defaultResponderName(): string {
  try {
    return userInfo().username.slice(0, 128) || 'responder';
  } catch {
    return 'responder';
  }
}

/** This device's name, recorded with each action next to the responder's. */
export function cockpitDeviceName(): string {
  return hostname().slice(0, 128) || 'cockpit';
}
