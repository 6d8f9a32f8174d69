// Threat events to the SOC's collector as RFC 5424 syslog: over UDP (RFC 5426, one message per datagram) or TCP
// (RFC 6587 octet counting, so a message may hold any byte), each message either the event's one-line summary or its
// OCSF Detection Finding as JSON (main/export/ocsf.ts), with the event's identity in STRUCTURED-DATA.
//
// It never blocks the hub: send() only queues (bounded; when full the new message is dropped and counted), and the
// queue drains as the socket takes it. A lost TCP connection is retried with exponential backoff and jitter; what
// was queued meanwhile goes out after the reconnect, in order. Plain syslog has no acknowledgement: a message handed
// to a TCP socket that then breaks may be lost, and is counted as sent (RFC 6587 says the same of every sender).
//
//   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [cordon@32473 agent="…" seq="…" …] MSG
//   PRI = facility × 8 + severity: critical 2 · high 3 (error) · medium 4 (warning) · low 5 (notice) · info 6
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv6, type Socket } from 'node:net';
import type { FeedEvent, ThreatEvent } from '../../protocol/index.ts';
import { Backoff } from '../fleet/backoff.ts';
import { toOcsf, type OcsfOptions } from './ocsf.ts';

export interface SyslogExportOptions {
  host: string;
  port: number;
  transport: 'udp' | 'tcp';
  /** MSG: `summary` (one line, for people and grep) or `ocsf` (the OCSF Detection Finding as JSON). Default summary. */
  format?: 'summary' | 'ocsf';
  /** RFC 5424 facility (default 16, local0). */
  facility?: number;
  /** APP-NAME (default `cordon`). */
  appName?: string;
  /**
   * The private enterprise number in the SD-ID `cordon@N`. Default 32473, the number RFC 5612 reserves for
   * documentation: a SOC with its own PEN sets it.
   */
  enterpriseId?: number;
  /** Messages waiting at most (default 10,000); more are dropped and counted. */
  queueLimit?: number;
  /** Longest message in bytes (default 16 KiB); a longer MSG is cut. */
  maxMessageBytes?: number;
  backoff?: { baseMs: number; maxMs: number };
  ocsf?: OcsfOptions;
  /** Told of connection changes and errors, for the hub's status line. */
  onStatus?(stats: SyslogExportStats): void;
}

export interface SyslogExportStats {
  queued: number;
  sent: number;
  dropped: number;
  /** Connections made again after one was lost (TCP). */
  reconnects: number;
  connected: boolean;
  lastError?: string;
}

const SEVERITY = { critical: 2, high: 3, medium: 4, low: 5, info: 6 } as const;
/** UDP datagrams in flight at most; the rest wait in the queue. */
const UDP_IN_FLIGHT = 256;

export class SyslogExporter {
  private readonly queue: Buffer[] = [];
  private readonly stats: SyslogExportStats = { queued: 0, sent: 0, dropped: 0, reconnects: 0, connected: false };
  private readonly backoff: Backoff;
  private tcp: Socket | undefined;
  private udp: UdpSocket | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private pumpScheduled = false;
  private waitingForDrain = false;
  private inFlight = 0;
  private everConnected = false;
  private closed = false;

  constructor(private readonly o: SyslogExportOptions) {
    this.backoff = new Backoff(o.backoff ?? { baseMs: 500, maxMs: 30_000 });
    if (o.transport === 'udp') {
      this.udp = createSocket(isIPv6(o.host) ? 'udp6' : 'udp4');
      this.udp.on('error', (err) => this.error(err));
      this.udp.unref();
      this.stats.connected = true;
    } else {
      this.connect();
    }
  }

  /** Queues one event; false when the queue is full and it was dropped. Never blocks, never throws. */
  send(fe: Pick<FeedEvent, 'agentId' | 'seq' | 'event'>): boolean {
    if (this.closed) return false;
    if (this.queue.length >= (this.o.queueLimit ?? 10_000)) {
      this.stats.dropped++;
      return false;
    }
    const text = formatSyslog(fe, this.o);
    this.queue.push(this.o.transport === 'tcp' ? Buffer.from(`${Buffer.byteLength(text)} ${text}`) : Buffer.from(text));
    this.stats.queued = this.queue.length;
    this.schedulePump();
    return true;
  }

  snapshot(): SyslogExportStats {
    return { ...this.stats, queued: this.queue.length };
  }

  /** Waits up to `timeoutMs` for the queue to drain, then closes; what is left is counted as dropped. */
  async close(timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.queue.length > 0 || this.inFlight > 0) && this.stats.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.stats.dropped += this.queue.length;
    this.queue.length = 0;
    if (this.tcp) await new Promise<void>((r) => { this.tcp!.end(() => r()); setTimeout(r, 200).unref(); });
    this.tcp?.destroy();
    this.udp?.close();
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.closed) return;
    if (this.udp) {
      while (this.queue.length > 0 && this.inFlight < UDP_IN_FLIGHT) {
        const msg = this.queue.shift()!;
        this.inFlight++;
        this.udp.send(msg, this.o.port, this.o.host, (err) => {
          this.inFlight--;
          if (err) this.error(err);
          else this.stats.sent++;
          if (this.queue.length > 0) this.schedulePump();
        });
      }
      return;
    }
    const s = this.tcp;
    if (!s || !this.stats.connected || this.waitingForDrain) return;
    s.cork();
    while (this.queue.length > 0) {
      const msg = this.queue.shift()!;
      this.stats.sent++;
      if (!s.write(msg)) {
        this.waitingForDrain = true;
        s.once('drain', () => {
          this.waitingForDrain = false;
          this.pump();
        });
        break;
      }
    }
    s.uncork();
  }

  private connect(): void {
    if (this.closed) return;
    const s = connect({ host: this.o.host, port: this.o.port });
    this.tcp = s;
    s.setNoDelay(true);
    s.on('connect', () => {
      if (this.everConnected) this.stats.reconnects++;
      this.everConnected = true;
      this.stats.connected = true;
      delete this.stats.lastError;
      this.backoff.reset();
      this.o.onStatus?.(this.snapshot());
      this.pump();
    });
    s.on('error', (err) => this.error(err));
    // A collector does not talk back; anything it sends is read and ignored so the socket never stalls.
    s.on('data', () => {});
    s.on('close', () => {
      if (this.tcp !== s) return;
      this.tcp = undefined;
      this.waitingForDrain = false;
      const was = this.stats.connected;
      this.stats.connected = false;
      if (was) this.o.onStatus?.(this.snapshot());
      if (this.closed) return;
      this.retryTimer = setTimeout(() => this.connect(), this.backoff.next());
      this.retryTimer.unref();
    });
  }

  private error(err: Error & { code?: string }): void {
    this.stats.lastError = `${this.o.transport}://${this.o.host}:${this.o.port}: ${err.code ?? err.message}`;
    this.o.onStatus?.(this.snapshot());
  }
}

/** One RFC 5424 message (without framing) for an event. */
export function formatSyslog(fe: Pick<FeedEvent, 'agentId' | 'seq' | 'event'>, o: Omit<SyslogExportOptions, 'host' | 'port' | 'transport'> = {}): string {
  const e = fe.event;
  const pri = (o.facility ?? 16) * 8 + SEVERITY[e.severity];
  const format = o.format ?? 'summary';
  const sd = structuredData(`cordon@${o.enterpriseId ?? 32473}`, {
    agent: fe.agentId,
    seq: String(fe.seq),
    event: e.id,
    vm: e.vmId,
    ...(e.vmName ? { vmName: e.vmName } : {}),
    severity: e.severity,
    verdict: e.verdict,
    category: e.category,
    sensor: e.sensor.id,
    ...(e.mitre ? { technique: e.mitre.techniqueId } : {}),
  });
  const header = `<${pri}>1 ${timestamp(e.time)} ${headerField(fe.agentId, 255)} ${headerField(o.appName ?? 'cordon', 48)} - ${format === 'ocsf' ? 'ocsf-2004' : 'threat-event'} ${sd}`;
  const msg = format === 'ocsf' ? JSON.stringify(toOcsf(fe, o.ocsf)) : summary(e);
  const max = o.maxMessageBytes ?? 16 * 1024;
  const room = max - Buffer.byteLength(header) - 1;
  return `${header} ${room >= Buffer.byteLength(msg) ? msg : cutBytes(msg, Math.max(0, room))}`;
}

/** `high malicious network on doc-viewer-07: Shell … beacons to 203.0.113.66:8443 (T1071.001)`: one line, no control characters. */
export function summary(e: ThreatEvent): string {
  const text = `${e.severity} ${e.verdict} ${e.category} on ${e.vmName ?? e.vmId}: ${e.title}${e.mitre ? ` (${e.mitre.techniqueId})` : ''}`;
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ');
}

/** RFC 5424 §6.3: [SD-ID *(SP PARAM-NAME="PARAM-VALUE")], values escaped per §6.3.3. */
export function structuredData(id: string, params: Record<string, string>): string {
  const parts = Object.entries(params).map(([k, v]) => `${sdName(k)}="${escapeSdValue(v)}"`);
  return `[${sdName(id)}${parts.length ? ` ${parts.join(' ')}` : ''}]`;
}

/** §6.3.3: inside PARAM-VALUE, '"', '\' and ']' MUST be escaped with a backslash. */
export function escapeSdValue(value: string): string {
  return value.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

/** SD-NAME: 1–32 printable US-ASCII characters except '=', SP, ']' and '"'. */
function sdName(name: string): string {
  const clean = name.replace(/[^\x21-\x7e]|[= \]"]/g, '_').slice(0, 32);
  return clean || '_';
}

/** HOSTNAME and APP-NAME: printable US-ASCII, no space, within their length; NILVALUE when empty. */
function headerField(value: string, max: number): string {
  const clean = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return clean || '-';
}

/** RFC 5424 TIMESTAMP: RFC 3339 with at most six fraction digits. */
function timestamp(time: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!m) return new Date(Date.parse(time) || Date.now()).toISOString();
  return `${m[1]}${m[2] ? m[2].slice(0, 7) : ''}${m[3]}`;
}

function cutBytes(text: string, bytes: number): string {
  const buf = Buffer.from(text);
  if (buf.length <= bytes) return text;
  // Cut at a character boundary: back off continuation bytes (10xxxxxx).
  let end = bytes;
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8');
}
