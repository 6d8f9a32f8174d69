// The agent's command-line flags: what each means, how each is checked, and the AgentOptions they make. Every
// refusal is an AgentError naming the flag and what to write instead.
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULTS, defaultAgentId, type AgentOptions } from './agent.ts';
import { driverNames } from './drivers/index.ts';
import { createQemuDriver } from './drivers/qemu.ts';
import { loadAccessFile } from './access.ts';
import { AgentError, systemCode } from './errors.ts';
import type { LogsOptions } from './logs/agent-logs.ts';

export const USAGE = `Usage: npm run agent -- (--token-file FILE | --access FILE) [options]

Serves cordon.v1 (WebSocket) to Cordon cockpits: threat events and the VM inventory of this host.

  --driver NAME       hypervisor driver: ${driverNames().join(', ')} (default ${DEFAULTS.driver})
  --config FILE       qemu: the VMs, their bridges, the quarantine bridge and the work folder (JSON)
  --listen HOST:PORT  address to listen on, port 0 for any free one (default ${DEFAULTS.host}:${DEFAULTS.port});
                      off loopback the agent always serves TLS (wss://)
  --token-file FILE   file holding the bearer token cockpits must present: one shared principal, a lead
  --access FILE       principals instead (JSON): each a name, a role (viewer, responder, lead) and a token's
                      SHA-256 and/or a client certificate's fingerprint; "twoPerson" (default
                      ["seize","sanitise"]) needs a second principal's approval; "requireClientCert" (mutual TLS)

TLS (wss://), whose certificate cockpits pin by its SHA-256 fingerprint (printed at start and in the ready line):
  --tls               serve TLS on loopback too (off loopback it is always on)
  --tls-dir DIR       where the agent makes and keeps its key and self-signed certificate (default DATA-DIR/tls)
  --tls-cert FILE     a given certificate (PEM) instead, with
  --tls-key FILE      its private key (PEM)
  --data-dir DIR      durable event log (default ./.cordon-data/agent-<id>)
  --agent-id ID       this agent's id in the fleet (default: derived from the host name)
  --vms N             sim: number of micro-VMs (default ${DEFAULTS.vms})
  --rate N            sim: target events per second (default ${DEFAULTS.rate}; tens of thousands for load tests)
  --seed N            sim: scenario seed, for a replayable run (default: random, printed on stderr)
  --retain N          events kept for replay (default ${DEFAULTS.retain})

Logs (kept beside the events, searched by cockpits with logs.query; the agent's own notes always):
  --syslog-listen HOST:PORT  receive syslog (RFC 5424 / RFC 3164) on UDP and TCP at this port (0: any free one)
  --syslog-file PATH         follow a host log file like tail -F (repeatable), e.g. /var/log/syslog
  --syslog-vm HOST=VMID      a syslog sender's host name that means this VM (repeatable)
  --journal                  follow the systemd journal (journalctl -o json --follow)
  --log-retain-mib N         bytes of logs kept (default 512 MiB), oldest dropped first
  --log-retain-days N        days of logs kept (default 30)
  --no-logs                  keep no logs at all

Detectors (their alerts become threat events, numbered and served like any other):
  --suricata-eve FILE        follow Suricata's EVE JSON (repeatable)
  --falco FILE               follow Falco's JSON output (repeatable)

Auto-response policy (enforced on the agent, with or without a cockpit; see protocol/README.md, "Policy"):
  --policy-key FILE          an Ed25519 public key (PEM) whose signed policies are accepted (repeatable)
  --policy FILE              a signed policy to enforce from the start (else the last good one in the data dir)
  --host-group NAME          a host group this agent belongs to, for policy scopes (repeatable)

  --help              this text

When it listens, it prints one JSON line on stdout:
  {"ready":true,"url":"ws://127.0.0.1:PORT","agentId":"...","pid":N}
(with "fingerprint":"AB:CD:…" and a wss:// url when it serves TLS)
(with "syslog":{"host":"...","port":N} when it listens for syslog)
`;

/** The ready line's shape; parents parse it, so its keys do not change. */
export interface ReadyLine {
  ready: true;
  url: string;
  agentId: string;
  pid: number;
  /** Where the syslog listener listens (UDP and TCP), with --syslog-listen. */
  syslog?: { host: string; port: number };
  /** The TLS certificate's SHA-256 fingerprint, when it serves wss://. */
  fingerprint?: string;
}

/** Turns argv into agent options, or an AgentError saying which flag is wrong and how to fix it. */
export function parseCommandLine(argv: string[]): { help: true } | { help: false; options: AgentOptions } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        driver: { type: 'string' },
        config: { type: 'string' },
        listen: { type: 'string' },
        'token-file': { type: 'string' },
        access: { type: 'string' },
        tls: { type: 'boolean' },
        'tls-dir': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'data-dir': { type: 'string' },
        'agent-id': { type: 'string' },
        vms: { type: 'string' },
        rate: { type: 'string' },
        seed: { type: 'string' },
        retain: { type: 'string' },
        'syslog-listen': { type: 'string' },
        'syslog-file': { type: 'string', multiple: true },
        'syslog-vm': { type: 'string', multiple: true },
        journal: { type: 'boolean' },
        'log-retain-mib': { type: 'string' },
        'log-retain-days': { type: 'string' },
        'no-logs': { type: 'boolean' },
        'suricata-eve': { type: 'string', multiple: true },
        falco: { type: 'string', multiple: true },
        'policy-key': { type: 'string', multiple: true },
        policy: { type: 'string' },
        'host-group': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new AgentError('bad_flag', `${(err as Error).message.split('\n')[0]} (see --help).`);
  }
  if (values.help) return { help: true };

  const { host, port } = parseListen(values.listen ?? `${DEFAULTS.host}:${DEFAULTS.port}`);
  if (values.access !== undefined && values['token-file'] !== undefined) {
    throw new AgentError('bad_flag', '--access and --token-file contradict each other: list the shared token\'s SHA-256 as a principal in the access file, or drop --access.');
  }
  const options: AgentOptions = {
    ...(values.access !== undefined ? { access: loadAccessFile(resolve(values.access)) } : { token: readToken(values['token-file']) }),
    driver: values.driver ?? DEFAULTS.driver,
    host,
    port,
    agentId: values['agent-id'] ?? defaultAgentId(),
  };
  if (values['data-dir'] !== undefined) options.dataDir = values['data-dir'];
  if (values.vms !== undefined) options.vms = integer('--vms', values.vms, 1, 100_000);
  if (values.rate !== undefined) options.rate = number('--rate', values.rate, 0, 1_000_000);
  if (values.seed !== undefined) options.seed = integer('--seed', values.seed, 0, 2 ** 32 - 1);
  if (values.retain !== undefined) options.retain = integer('--retain', values.retain, 1, Number.MAX_SAFE_INTEGER);
  options.logs = logOptions(values);
  if (values['tls-cert'] !== undefined || values['tls-key'] !== undefined) {
    if (values['tls-cert'] === undefined || values['tls-key'] === undefined) throw new AgentError('bad_flag', '--tls-cert and --tls-key go together: give both files (PEM), or neither to let the agent make its own.');
    if (values['tls-dir'] !== undefined) throw new AgentError('bad_flag', '--tls-dir is where the agent keeps the identity it makes; with --tls-cert and --tls-key it makes none: drop one.');
    options.tls = { certFile: resolve(values['tls-cert']), keyFile: resolve(values['tls-key']) };
  } else if (values['tls-dir'] !== undefined) {
    options.tls = { dir: resolve(values['tls-dir']) };
  } else if (values.tls) {
    options.tls = true;
  }
  if (values['policy-key']?.length) options.policyKeys = values['policy-key'].map((f) => resolve(f));
  if (values.policy !== undefined) {
    if (!options.policyKeys) throw new AgentError('bad_flag', '--policy needs --policy-key FILE: the agent enforces only a policy signed by a key it trusts.');
    options.policyFile = resolve(values.policy);
  }
  if (values['host-group']?.length) {
    const bad = values['host-group'].find((g) => !/^[^\s]{1,64}$/.test(g));
    if (bad !== undefined) throw new AgentError('bad_flag', `--host-group ${bad.slice(0, 80)} is not a group name: 1 to 64 characters, no spaces.`);
    options.hostGroups = values['host-group'];
  }
  if (options.driver === 'qemu') {
    // The config file is the qemu driver's own setting: checked here, so a bad one is refused before anything runs.
    options.driver = createQemuDriver({ agentId: options.agentId!, ...(values.config !== undefined ? { configFile: values.config } : {}) });
  } else if (values.config !== undefined) {
    throw new AgentError('bad_flag', `--config is read by the qemu driver only; drop it, or use --driver qemu.`);
  }
  return { help: false, options };
}

/** The log and detector flags as LogsOptions, or false with --no-logs. */
function logOptions(values: Record<string, string | boolean | string[] | undefined>): LogsOptions | false {
  const logFlags = ['syslog-listen', 'syslog-file', 'syslog-vm', 'journal', 'log-retain-mib', 'log-retain-days', 'suricata-eve', 'falco'];
  if (values['no-logs']) {
    const clash = logFlags.find((f) => values[f] !== undefined);
    if (clash) throw new AgentError('bad_flag', `--no-logs and --${clash} contradict each other: drop one.`);
    return false;
  }
  const o: LogsOptions = {};
  const listen = values['syslog-listen'];
  if (typeof listen === 'string') o.syslogListen = parseListen(listen, '--syslog-listen');
  const list = (k: string) => (Array.isArray(values[k]) ? values[k] : []);
  if (list('syslog-file').length) o.syslogFiles = list('syslog-file').map((f) => resolve(f));
  if (list('suricata-eve').length) o.suricataEve = list('suricata-eve').map((f) => resolve(f));
  if (list('falco').length) o.falco = list('falco').map((f) => resolve(f));
  if (list('syslog-vm').length) {
    o.syslogVms = {};
    for (const pair of list('syslog-vm')) {
      const m = /^([^=\s]{1,255})=([A-Za-z0-9][A-Za-z0-9._:-]{0,127})$/.exec(pair);
      if (!m) throw new AgentError('bad_flag', `--syslog-vm ${pair} is not HOST=VMID: e.g. --syslog-vm fw-edge-01=mvm-fw-01.`);
      o.syslogVms[m[1]!] = m[2]!;
    }
  }
  if (values.journal) o.journal = true;
  if (typeof values['log-retain-mib'] === 'string') o.maxBytes = integer('--log-retain-mib', values['log-retain-mib'], 1, 16 * 1024 * 1024) * 1024 * 1024;
  if (typeof values['log-retain-days'] === 'string') o.maxAgeDays = integer('--log-retain-days', values['log-retain-days'], 1, 36_500);
  return o;
}

function parseListen(value: string, flag = '--listen'): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new AgentError('bad_flag', `${flag} ${value} is not HOST:PORT: use e.g. 127.0.0.1:7300, [::1]:7300, or port 0 for any free one.`);
  }
  return { host: (m[1] ?? m[2])!, port };
}

function readToken(file: string | undefined): string {
  if (file === undefined) {
    throw new AgentError('token_missing', '--token-file (or --access) is required: put the bearer token cockpits must present in a file readable only by the agent\'s user, and name it here.');
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AgentError('token_unreadable', `Cannot read the token file ${file} (${systemCode(err)}): check the path and its permissions.`, { cause: err });
  }
  const token = text.trim();
  if (!token) throw new AgentError('token_empty', `The token file ${file} is empty: write the bearer token into it (one line).`);
  if (/[\r\n]/.test(token)) throw new AgentError('token_invalid', `The token file ${file} holds more than one line: keep only the bearer token.`);
  try {
    if (process.platform !== 'win32' && (statSync(file).mode & 0o077) !== 0) {
      process.stderr.write(`cordon-agent: warning: the token file ${file} is readable by other users; chmod 600 it.\n`);
    }
  } catch {
    // It was just read; a failing stat changes nothing.
  }
  return token;
}

function integer(flag: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new AgentError('bad_flag', `${flag} ${value} is not a whole number from ${min} to ${max}.`);
  }
  return n;
}

function number(flag: string, value: string, min: number, max: number): number {
  const n = /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) throw new AgentError('bad_flag', `${flag} ${value} is not a number from ${min} to ${max}.`);
  return n;
}
